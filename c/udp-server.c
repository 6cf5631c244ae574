/*
 * udp-server.c: lesson 04, the server. Datagrams instead of a stream: a
 * SOCK_DGRAM socket, no listen(), no accept(), no connection at all.
 * recvfrom() hands over one whole datagram and its sender's address;
 * sendto() answers that address. It runs until stopped.
 *
 * usage: udp-server PORT
 */
#include "lesson.h"
#include <netinet/in.h>

/* The most of a datagram we keep, as the tutorial's buffer. */
#define DATAGRAM_LIMIT 1024

int main(int argc, char *argv[])
{
    int sock, portno;
    ssize_t n;
    socklen_t fromlen;
    struct sockaddr_in server, from;
    char buf[DATAGRAM_LIMIT], note[128];
    const char *usage = "udp-server PORT", *names[] = { "port" }, *arg[1];

    parse_args(argc, argv, usage, 1, names, arg, NULL);
    portno = parse_port(arg[0], usage);
    /* It runs until stopped: Ctrl-C and kill must end it (lesson.h). */
    restore_stop_signals();

    /* ANCHOR: socket */
    /* 1. socket(): the Internet domain again, but SOCK_DGRAM; protocol 0
     *    is UDP for a datagram socket. */
    sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0)
        error("ERROR opening socket");
    /* ANCHOR_END: socket */

    /* ANCHOR: bind */
    /* 2. bind(): every local address and our port, as for TCP. No
     *    SO_REUSEADDR: UDP has no TIME_WAIT, and on a UDP socket it would
     *    let a second server share the port instead of failing. No
     *    listen(), no accept(): datagrams sent to the port now wait in the
     *    socket's receive buffer. */
    bzero(&server, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_ANY);
    server.sin_port = htons(portno);
    if (bind(sock, (struct sockaddr *) &server, sizeof(server)) < 0)
        error("ERROR on binding");
    /* ANCHOR_END: bind */

    while (1) {
        /* ANCHOR: recvfrom */
        /* 3. recvfrom(): sleep until a datagram comes, then take ALL of it
         *    and only it: one call, one datagram, never part of one, never
         *    two. It also fills `from` with the sender's address, which
         *    read() cannot: fromlen goes in as the room we have and comes
         *    back as the size used, so it is set again every time. A longer
         *    datagram than the buffer is cut, its end discarded; MSG_TRUNC
         *    (Linux) makes recvfrom() return its real length anyway. */
        fromlen = sizeof(from);
        n = recvfrom(sock, buf, DATAGRAM_LIMIT, MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error("ERROR reading from socket");
        }
        /* ANCHOR_END: recvfrom */

        /* ANCHOR: print */
        /* 4. One line per datagram, an empty one too. n may exceed the
         *    buffer (that is what MSG_TRUNC is for): only the first
         *    DATAGRAM_LIMIT bytes are there to show. */
        if (n > DATAGRAM_LIMIT) {
            snprintf(note, sizeof(note),
                     " [truncated: the datagram had %zd bytes, only the first %d are shown]",
                     n, DATAGRAM_LIMIT);
            print_line_note("Received a datagram: ", buf, DATAGRAM_LIMIT, note);
        } else {
            print_line("Received a datagram: ", buf, (size_t) n);
        }
        /* ANCHOR_END: print */

        /* ANCHOR: sendto */
        /* 5. sendto(): answer the address recvfrom() gave us, 17 bytes with
         *    the newline. One call sends the whole datagram or fails; there
         *    is no short write. A client we cannot answer is no reason to
         *    stop serving the others: say so and go on. */
        n = sendto(sock, "Got your message\n", 17, 0, (struct sockaddr *) &from, fromlen);
        if (n < 0)
            report("ERROR writing to socket");
        /* ANCHOR_END: sendto */
    }
}
