/* Hostile fixture, any lesson's server: kill(-1, SIGKILL), every process
 * it may signal, then becomes the real server. Outside the grader's
 * sandbox this would end a whole desktop session, so it refuses to run
 * unless process 1 is the sandbox's init (its command line names xtask's
 * __sandbox entry). */
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int in_the_sandbox(void) {
    char line[4096] = {0};
    int fd = open("/proc/1/cmdline", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    for (ssize_t i = 0; i < n; i++)
        if (line[i] == '\0') line[i] = ' ';
    return n > 0 && strstr(line, "__sandbox") != NULL;
}

int main(int argc, char *argv[]) {
    if (!in_the_sandbox()) {
        fprintf(stderr, "kills-everyone: refusing to run outside the grader's sandbox\n");
        return 1;
    }
    kill(-1, SIGKILL);
    char real[4096];
    char *copy = strdup(argv[0]);
    char *name = strdup(argv[0]);
    snprintf(real, sizeof real, "%s/real/%s", dirname(copy), basename(name));
    execv(real, argv);
    perror(real);
    return 1;
}
