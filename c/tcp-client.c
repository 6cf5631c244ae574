/*
 * tcp-client.c: lesson 01, the client. Look the server's host up,
 * connect(), send one line typed by the user, print the server's reply.
 *
 * usage: tcp-client HOST PORT
 *
 * Lessons 02 and 03 use this very client (fork-client.c and
 * reaping-client.c include this file with another USAGE): in the
 * tutorial too, the forking server is paired with the first client.
 */
#include "lesson.h"
#include <netdb.h>
#include <netinet/in.h>

#ifndef USAGE
#define USAGE "tcp-client HOST PORT"
#endif

int main(int argc, char *argv[])
{
    int sockfd = -1, portno, rc, failure = 0;
    ssize_t n;
    size_t len = 0, received = 0;
    char *line = NULL, service[16], buffer[256];
    struct addrinfo hints, *res, *ai;
    const char *names[] = { "host", "port" }, *arg[2];

    parse_args(argc, argv, USAGE, 2, names, arg, NULL);
    portno = parse_port(arg[1], USAGE);
    /* ANCHOR: sigpipe */
    /* A server that has read its 255 bytes may close with the rest of our
     * line unread; writing to it then raises SIGPIPE, whose default action
     * kills us before we can print its reply. Ignored, write() fails with
     * EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    /* ANCHOR_END: sigpipe */

    /* ANCHOR: resolve */
    /* gethostbyname() in the tutorial, which knows IPv4 only and is
     * obsolete; getaddrinfo() today. It may answer with several addresses
     * (localhost is ::1 and 127.0.0.1), each a ready-made sockaddr with
     * the port already in network byte order: no bzero, bcopy or htons.
     * AF_UNSPEC: IPv4 or IPv6, whatever the host has. */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", portno);
    rc = getaddrinfo(arg[0], service, &hints, &res);
    if (rc != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "ERROR, no such host: %.300s", arg[0]);
        fail(msg, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    }
    /* ANCHOR_END: resolve */

    /* ANCHOR: connect */
    /* socket() and connect() for each address in turn, until one answers:
     * our servers listen on IPv4 only, and ::1 may come first. The socket
     * is made per address, since its domain must match the address's. */
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        sockfd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (sockfd < 0)
            error("ERROR opening socket");
        if (connect(sockfd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        failure = errno;
        close(sockfd);
        sockfd = -1;
    }
    freeaddrinfo(res);
    if (sockfd < 0) {
        errno = failure;
        error("ERROR connecting"); /* the last address's reason */
    }
    /* ANCHOR_END: connect */

    /* ANCHOR: message */
    /* The prompt has no newline, so it is written out at once: printf()
     * would keep it in stdio's buffer while we wait for the user. Then one
     * line from stdin, its newline included. The tutorial's fgets() into a
     * 256-byte buffer would cut a long line; getline() grows its buffer to
     * the whole line and says how long it is (a line may hold a NUL). */
    write_all(1, "Please enter the message: ", 26);
    n = getline(&line, &len, stdin);
    if (n < 0 && ferror(stdin))
        error("ERROR reading from stdin");
    /* ANCHOR_END: message */

    /* ANCHOR: write */
    /* write(): send the line, all of it (write() may take less than asked
     * and say so). At end of input there is no line: send nothing, and
     * shut our sending side down, so that the server's read() returns 0
     * instead of waiting for ever. If the server has closed with our line
     * unread (EPIPE, ECONNRESET), its reply may still be on its way. */
    if (n <= 0) {
        if (shutdown(sockfd, SHUT_WR) < 0)
            error("ERROR writing to socket");
    }
    for (size_t sent = 0; n > 0 && sent < (size_t) n;) {
        ssize_t w = write(sockfd, line + sent, (size_t) n - sent);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            break;
        if (w < 0)
            error("ERROR writing to socket");
        sent += (size_t) w;
    }
    free(line);
    /* ANCHOR_END: write */

    /* ANCHOR: read */
    /* read(): the reply. A stream has no message boundaries: the 18 bytes
     * may come in more than one piece, so read until the server closes
     * (read() returns 0), or 255 bytes. A reset after some reply is the
     * server closing with our input unread: keep what came. */
    while (received < 255) {
        n = read(sockfd, buffer + received, 255 - received);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && received > 0 && errno == ECONNRESET)
            break;
        if (n < 0)
            error("ERROR reading from socket");
        received += (size_t) n;
    }
    if (received == 0)
        fail("ERROR reading from socket", "no reply (the server closed the connection)");
    print_line("", buffer, received);
    close(sockfd);
    return 0;
    /* ANCHOR_END: read */
}
