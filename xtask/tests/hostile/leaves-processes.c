/* Hostile fixture, lesson 02: a fork server whose children each leave 40
 * sleeping processes behind (for the first 5 connections only, so the
 * storm stays bounded on any machine), otherwise correct. After its
 * clients are done, nothing but zombies should remain. */
#include "fork-server.h"

static void before_serving(int connection, int connections_so_far) {
    (void)connection;
    if (connections_so_far >= 5) return;
    for (int i = 0; i < 40; i++) {
        if (fork() == 0) {
            /* Without the connection: the client is served as usual, and
             * only the processes left behind are wrong. */
            for (int fd = 3; fd < 64; fd++) close(fd);
            execlp("sleep", "sleep", "3599", (char *)NULL);
            _exit(127);
        }
    }
}
