/*
 * fork-server.c: lesson 02. A server that runs until it is stopped and
 * serves every connection in a child process of its own: accept() in an
 * endless loop, fork() after each connection; the child serves that one
 * client (dostuff) and exits, the parent goes back to accept().
 *
 * It deliberately never collects its finished children: each stays a
 * zombie while the server runs. Lesson 03 (reaping-server.c) fixes that.
 *
 * usage: fork-server PORT
 */
#include "lesson.h"
#include <netinet/in.h>

/* ANCHOR: backlog */
/* The tutorial's 5 was the maximum of 4.2BSD. Linux takes the smaller of
 * what we ask and net.core.somaxconn (4096 since Linux 5.4). A server
 * that runs until stopped meets bursts of clients while it forks; with a
 * queue of 5 the kernel would drop their handshakes. */
#define BACKLOG SOMAXCONN
/* ANCHOR_END: backlog */

void dostuff(int sock);

int main(int argc, char *argv[])
{
    int sockfd, newsockfd, portno, yes = 1;
    pid_t pid;
    socklen_t clilen;
    struct sockaddr_in serv_addr, cli_addr;
    const char *usage = "fork-server PORT", *names[] = { "port" }, *arg[1];

    /* ANCHOR: main */
    parse_args(argc, argv, usage, 1, names, arg, NULL);
    portno = parse_port(arg[0], usage);
    /* SIGINT and SIGTERM must end us (lesson.h). And SIGCHLD too gets its
     * default action back: a parent that ignores SIGCHLD passes that on,
     * and the kernel would then reap our children behind our back, hiding
     * the zombies this lesson is about. */
    restore_stop_signals();
    restore_default(SIGCHLD);
    /* A client gone before its answer makes write() fail with EPIPE,
     * instead of killing the child without a word (SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    /* ANCHOR_END: main */

    /* ANCHOR: socket */
    /* 1. socket(), as in lesson 01; and SO_REUSEADDR, since a server that
     *    runs until stopped is restarted often. */
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0)
        error("ERROR opening socket");
    if (setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) < 0)
        error("ERROR on setsockopt");
    /* ANCHOR_END: socket */

    /* ANCHOR: bind */
    /* 2. bind(): every local address, our port in network byte order. */
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    serv_addr.sin_port = htons(portno);
    if (bind(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
        error("ERROR on binding");
    /* ANCHOR_END: bind */

    /* ANCHOR: listen */
    /* 3. listen(), with a large queue (see BACKLOG). */
    if (listen(sockfd, BACKLOG) < 0)
        error("ERROR on listening");
    /* ANCHOR_END: listen */

    while (1) {
        /* ANCHOR: accept */
        /* 4. accept(), now in an endless loop. A failure that concerns one
         *    connection (a client that gave up), a signal, or a passing
         *    shortage of descriptors or memory must not end a server that
         *    others rely on: accept_again() (lesson.h) sorts them out. */
        clilen = sizeof(cli_addr);
        newsockfd = accept(sockfd, (struct sockaddr *) &cli_addr, &clilen);
        if (newsockfd < 0) {
            if (accept_again())
                continue;
            error("ERROR on accept");
        }
        /* ANCHOR_END: accept */

        /* ANCHOR: fork */
        /* 5. fork(): copy this whole process. It returns twice: in the
         *    parent with the child's process ID, in the child with 0. Both
         *    copies hold both sockets: the child's descriptor table is a
         *    copy of the parent's, each entry referring to the same socket
         *    in the kernel. */
        pid = fork();
        /* ANCHOR_END: fork */
        if (pid == 0) {
            /* ANCHOR: child */
            /* 6. The child: it has no use for the listening socket, so it
             *    closes its copy, serves its client and exits. _exit(), the
             *    system call, not exit(): the child has nothing of the
             *    parent's to flush or clean up (every line went out in one
             *    write), and the kernel closes newsockfd for it. */
            close(sockfd);
            dostuff(newsockfd);
            _exit(0);
            /* ANCHOR_END: child */
        }
        /* ANCHOR: fork_failed */
        /* No new process (too many processes, no memory): the tutorial
         * exits, cutting off every client being served. Say so, and drop
         * only this connection: closing it below tells its client. */
        if (pid < 0)
            report("ERROR on fork");
        /* ANCHOR_END: fork_failed */
        /* ANCHOR: parent */
        /* 7. The parent: the child talks to this client now. The parent
         *    closes its copy of the connection, or it would leak one
         *    descriptor per client, and the connection would stay open
         *    until both copies were closed. It does not keep the child's
         *    ID: this lesson never waits for its children. */
        /* ANCHOR: close */
        close(newsockfd);
        /* ANCHOR_END: close */
        /* ANCHOR_END: parent */
    }
}

/* ANCHOR: dostuff */
/* The tutorial's dostuff(): all that the service does for one client, run
 * in the child. Lesson 01's exchange: ONE read of at most 255 bytes (the
 * 256th byte is the C string's NUL), one whole line on stdout, the
 * 18-byte answer. A failure ends only this child, never the server. */
void dostuff(int sock)
{
    ssize_t n;
    char buffer[256];

    bzero(buffer, 256);
    do
        n = read(sock, buffer, 255);
    while (n < 0 && errno == EINTR); /* a signal came before any byte */
    if (n < 0)
        error("ERROR reading from socket");
    /* One write per line: every child shares the parent's stdout. */
    print_line("Here is the message: ", buffer, (size_t) n);
    n = write(sock, "I got your message", 18);
    if (n < 0)
        error("ERROR writing to socket");
}
/* ANCHOR_END: dostuff */
