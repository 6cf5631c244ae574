/* Hostile fixture, any lesson's server: kills its parent (the checks'
 * own process) with SIGKILL, then becomes the real server (real/NAME
 * beside it). The grader must still give a verdict for every check. */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    kill(getppid(), SIGKILL);
    char real[4096];
    char *copy = strdup(argv[0]);
    char *name = strdup(argv[0]);
    snprintf(real, sizeof real, "%s/real/%s", dirname(copy), basename(name));
    execv(real, argv);
    perror(real);
    return 1;
}
