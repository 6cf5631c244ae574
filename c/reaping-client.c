/*
 * reaping-client.c: lesson 03, the client. Reaping changes only what the
 * server does after a child has ended, nothing on the wire: this is
 * lesson 01's client, unchanged.
 *
 * usage: reaping-client HOST PORT
 */
/* ANCHOR: main */
#define USAGE "reaping-client HOST PORT"
#include "tcp-client.c"
/* ANCHOR_END: main */
