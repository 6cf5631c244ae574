/*
 * fork-client.c: lesson 02, the client. A fork server talks to each client
 * exactly as lesson 01's server did, so this is lesson 01's client,
 * unchanged: the tutorial's forking server, too, runs with its first
 * client program.
 *
 * usage: fork-client HOST PORT
 */
/* ANCHOR: main */
#define USAGE "fork-client HOST PORT"
#include "tcp-client.c"
/* ANCHOR_END: main */
