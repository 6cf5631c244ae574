/*
 * select-client.c: lesson 06, the client. It sends the lines of its stdin
 * and prints the server's replies as they come.
 *
 * Lesson 01's client does one thing at a time: while it sits in read() on
 * stdin, replies pile up unread; while it sits in read() on the socket, a
 * typed line waits, and a server that closes goes unnoticed. So this one
 * uses the server's answer: select() over both descriptors, acting on
 * whichever is ready (Stevens' str_cli, with a nonblocking socket so that
 * it never blocks in send() either). No prompt.
 *
 * usage: select-client HOST PORT
 */
#include "lesson.h"
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/select.h>

/* How much of stdin is read, and sent, at a time. */
#define CHUNK 4096
/* A reply line longer than this (no server of ours sends one) is printed
 * in pieces rather than kept without end. */
#define MAX_REPLY_LINE (64 * 1024)

static char reply[MAX_REPLY_LINE + CHUNK]; /* a reply line still without its newline */
static size_t reply_len;

/* Adds the n received bytes to the unfinished reply line and prints every
 * line that is now complete, each as one whole line. */
static void print_whole_lines(const char *received, size_t n)
{
    const char *newline;
    while ((newline = memchr(received, '\n', n)) != NULL) {
        size_t len = (size_t) (newline - received);
        if (reply_len == 0) {
            print_line("", received, len);
        } else {
            memcpy(reply + reply_len, received, len);
            print_line("", reply, reply_len + len);
            reply_len = 0;
        }
        n -= len + 1;
        received = newline + 1;
    }
    memcpy(reply + reply_len, received, n);
    reply_len += n;
    if (reply_len > MAX_REPLY_LINE) {
        print_line("", reply, reply_len);
        reply_len = 0;
    }
}

int main(int argc, char *argv[])
{
    int sockfd = -1, portno, rc, failure = 0;
    int stdin_ready, readable, writable;
    ssize_t n;
    char service[16];
    struct addrinfo hints, *res, *ai;
    fd_set readfds, writefds;
    const char *usage = "select-client HOST PORT", *names[] = { "host", "port" }, *arg[2];

    parse_args(argc, argv, usage, 2, names, arg, NULL);
    portno = parse_port(arg[1], usage);

    /* ANCHOR: resolve */
    /* Lesson 01's lookup and connect, unchanged (tcp-client.c). */
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
        error("ERROR connecting");
    }
    /* select() can only watch descriptors below FD_SETSIZE. */
    if (sockfd >= FD_SETSIZE)
        fail("ERROR opening socket", "the descriptor is beyond what select() can watch");
    /* ANCHOR_END: connect */

    /* The socket is nonblocking, so that send() takes what fits and
     * returns. stdin is left as it is: it is shared with whoever started
     * us, and select() tells when a read() of it will not block. */
    if (fcntl(sockfd, F_SETFL, fcntl(sockfd, F_GETFL) | O_NONBLOCK) < 0)
        error("ERROR on fcntl(O_NONBLOCK)");

    /* ANCHOR: state */
    char chunk[CHUNK];
    char outgoing[CHUNK];         /* stdin bytes not yet taken by the socket: */
    size_t out_start = 0, out_end = 0; /* outgoing[out_start..out_end] */
    int stdin_done = 0;           /* stdin has ended; once all is sent, half-close */
    int half_closed = 0;
    /* ANCHOR_END: state */

    for (;;) {
        /* ANCHOR: sets */
        /* Watch stdin only once the last chunk has been sent: reading more
         * would only pile it up. The socket is always watched for reading
         * (replies, or the server closing), and for writing while
         * something waits to go out. Descriptor 0 is stdin. */
        FD_ZERO(&readfds);
        FD_ZERO(&writefds);
        if (!stdin_done && out_end == out_start)
            FD_SET(0, &readfds);
        FD_SET(sockfd, &readfds);
        if (out_end > out_start)
            FD_SET(sockfd, &writefds);
        if (select(sockfd + 1, &readfds, &writefds, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            error("ERROR on select");
        }
        stdin_ready = FD_ISSET(0, &readfds);
        readable = FD_ISSET(sockfd, &readfds);
        writable = FD_ISSET(sockfd, &writefds);
        /* ANCHOR_END: sets */

        /* ANCHOR: stdin */
        /* stdin is readable: read() what is there, line or not, with the
         * system call itself. fgets() could take several lines from the
         * kernel into stdio's buffer and hand us one: select() would then
         * say stdin is empty while the buffer is not. */
        if (stdin_ready) {
            n = read(0, outgoing, CHUNK);
            if (n == 0)
                stdin_done = 1;
            else if (n > 0)
                out_start = 0, out_end = (size_t) n;
            else if (errno != EINTR && errno != EAGAIN)
                error("ERROR reading from stdin");
        }
        /* ANCHOR_END: stdin */

        /* ANCHOR: send */
        /* Send what we have, as much as the socket takes now. MSG_NOSIGNAL:
         * a server that has gone makes send() fail with EPIPE, no SIGPIPE. */
        if (out_end > out_start && (writable || stdin_ready)) {
            n = send(sockfd, outgoing + out_start, out_end - out_start, MSG_NOSIGNAL);
            if (n >= 0) {
                out_start += (size_t) n;
            } else if (errno == EPIPE || errno == ECONNRESET) {
                /* The server has closed: nothing we send will be read. Stop
                 * sending; the read side will tell how it ended. */
                out_start = out_end;
                stdin_done = half_closed = 1;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                error("ERROR writing to socket");
            }
        }
        /* At the end of stdin, once all is sent: shutdown(), not close().
         * We send nothing more (the server reads its end of stream), but
         * we still read: replies are still coming. */
        if (stdin_done && out_end == out_start && !half_closed) {
            if (shutdown(sockfd, SHUT_WR) < 0 && errno != ENOTCONN)
                error("ERROR on shutdown");
            half_closed = 1;
        }
        /* ANCHOR_END: send */

        /* ANCHOR: replies */
        /* The socket is readable: replies, or the server's end of stream.
         * When the server has closed, we are done, whether or not stdin
         * has ended (a server that refused a line closes first); a last
         * piece without a newline is shown. A reset is a failure: exit 1. */
        if (readable) {
            n = read(sockfd, chunk, CHUNK);
            if (n == 0) {
                if (reply_len > 0)
                    print_line("", reply, reply_len);
                return 0;
            }
            if (n > 0)
                print_whole_lines(chunk, (size_t) n);
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                error("ERROR reading from socket");
        }
        /* ANCHOR_END: replies */
    }
}
