/*
 * tcp-server.c: lesson 01, the server. The tutorial's first program, one
 * system call after another: socket(), bind(), listen(), accept() ONE
 * connection, read() one message, print it, write() the answer, exit.
 *
 * usage: tcp-server PORT    (0 lets the kernel choose the port)
 */
#include "lesson.h"
#include <netinet/in.h>

/* The tutorial's backlog, which the contract keeps for this lesson. */
#define BACKLOG 5

int main(int argc, char *argv[])
{
    int sockfd, newsockfd, portno, yes = 1;
    socklen_t clilen;
    ssize_t n;
    char buffer[256];
    struct sockaddr_in serv_addr, cli_addr;
    const char *usage = "tcp-server PORT", *names[] = { "port" }, *arg[1];

    /* ANCHOR: args */
    parse_args(argc, argv, usage, 1, names, arg, NULL);
    portno = parse_port(arg[0], usage);
    /* ANCHOR_END: args */
    /* Not in the tutorial: Ctrl-C and kill must end us, even if whoever
     * started us left SIGINT or SIGTERM ignored or blocked (lesson.h). */
    restore_stop_signals();
    /* ANCHOR: sigpipe */
    /* A client gone before our answer would make write() raise SIGPIPE,
     * whose default action kills us without a word. Ignored, write()
     * fails with EPIPE instead, and error() can say so. */
    signal(SIGPIPE, SIG_IGN);
    /* ANCHOR_END: sigpipe */

    /* ANCHOR: socket */
    /* 1. socket(): an endpoint in the Internet domain (AF_INET) of stream
     *    type (SOCK_STREAM). Protocol 0 lets the kernel pick: TCP. What we
     *    get back is a small integer, an index into our descriptor table. */
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0)
        error("ERROR opening socket");
    /* ANCHOR_END: socket */

    /* ANCHOR: reuse */
    /* Not in the tutorial: without SO_REUSEADDR, a server restarted at
     * once finds its port held by the last run's connections in TIME_WAIT
     * and cannot bind for a minute. The option takes a pointer to an int. */
    if (setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) < 0)
        error("ERROR on setsockopt");
    /* ANCHOR_END: reuse */

    /* ANCHOR: bind */
    /* 2. bind(): fill a sockaddr_in by hand. bzero() first, so that the
     *    padding (sin_zero) is zero. The port goes in network byte order,
     *    big-endian: htons(), "host to network short"; forget it and a
     *    little-endian machine listens on another port (51717 would become
     *    1482). INADDR_ANY: every address of this host. bind() takes any
     *    kind of address, so it wants a generic struct sockaddr pointer,
     *    and the size of what it really points to. */
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    serv_addr.sin_port = htons(portno);
    if (bind(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
        error("ERROR on binding");
    /* ANCHOR_END: bind */

    /* ANCHOR: listen */
    /* 3. listen(): from now on the kernel completes handshakes for us and
     *    queues up to BACKLOG of them until we accept(). The tutorial does
     *    not check it; it costs one line. */
    if (listen(sockfd, BACKLOG) < 0)
        error("ERROR on listening");
    /* ANCHOR_END: listen */

    /* ANCHOR: accept */
    /* 4. accept(): sleep until a client connects. It returns a NEW socket
     *    for this one conversation, and fills cli_addr with the client's
     *    address: clilen goes in as the room we have, comes back as the
     *    size the kernel used. */
    clilen = sizeof(cli_addr);
    newsockfd = accept(sockfd, (struct sockaddr *) &cli_addr, &clilen);
    if (newsockfd < 0)
        error("ERROR on accept");
    /* ANCHOR_END: accept */

    /* ANCHOR: read */
    /* 5. read(): ONE read of at most 255 bytes, on the new socket. It
     *    returns what has arrived so far. The buffer has 256 bytes and was
     *    zeroed: whatever read() stores, the 256th byte stays a NUL, so the
     *    buffer is always a C string, which printf("%s") needs. We print
     *    exactly the n bytes received instead: a message may hold a NUL of
     *    its own, and need not be text (lesson.h shows it lossily). */
    bzero(buffer, 256);
    n = read(newsockfd, buffer, 255);
    if (n < 0)
        error("ERROR reading from socket");
    print_line("Here is the message: ", buffer, (size_t) n);
    /* ANCHOR_END: read */

    /* ANCHOR: write */
    /* 6. write(): answer with 18 bytes, no newline, no NUL. On a blocking
     *    socket, one write() of so few bytes takes them all or fails. */
    n = write(newsockfd, "I got your message", 18);
    if (n < 0)
        error("ERROR writing to socket");
    /* ANCHOR_END: write */

    /* ANCHOR: close */
    /* 7. close(): both descriptors. Exiting would close them too; saying
     *    so is the habit lesson 02 needs, where forgetting one leaks it.
     *    Closing with input unread (a line over 255 bytes) makes the
     *    kernel reset the connection; our 18 bytes are already sent. */
    close(newsockfd);
    close(sockfd);
    return 0;
    /* ANCHOR_END: close */
}
