/* Hostile fixture, any lesson's server: puts itself in the background as
 * daemons do (fork, setsid, fork again) and the original process exits 0
 * at once; the grandchild becomes the real server (real/NAME beside it).
 * The contract's servers stay in the foreground until stopped. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    if (fork() != 0) return 0;
    setsid();
    if (fork() != 0) _exit(0);
    char real[4096];
    char *copy = strdup(argv[0]);
    char *name = strdup(argv[0]);
    snprintf(real, sizeof real, "%s/real/%s", dirname(copy), basename(name));
    execv(real, argv);
    perror(real);
    return 1;
}
