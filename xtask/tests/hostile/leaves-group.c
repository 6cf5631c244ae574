/* Hostile fixture, lesson 02: a fork server whose children leave its
 * process group (setpgid) and, after serving, linger for a minute instead
 * of exiting; otherwise correct. Killing the server's group does not reach
 * them. */
#include "fork-server.h"

static void before_serving(int connection, int connections_so_far) {
    (void)connections_so_far;
    setpgid(0, 0);
    /* The serving happens in a child of ours; we let go of the connection
     * (so the client is served as usual) and linger. */
    if (fork() == 0) return;
    close(connection);
    sleep(3599);
    _exit(0);
}
