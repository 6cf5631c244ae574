/* Hostile fixture, lesson 02: a fork server that ignores SIGINT and
 * SIGTERM (the contract says both stop it within 1 s), otherwise correct.
 * The checks that stop the server see it live on. */
#define IGNORE_STOP_SIGNALS
#include "fork-server.h"

static void before_serving(int connection, int connections_so_far) {
    (void)connection;
    (void)connections_so_far;
}
