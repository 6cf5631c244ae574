/*
 * unix-server.c: lesson 05, sockets in the Unix domain. Lesson 01's
 * server with one change, the address: a path in the file system (struct
 * sockaddr_un) instead of an IP address and a port. It serves one
 * connection after another until it is stopped.
 *
 * What comes new with a path is a file: bind() creates a socket file that
 * close() does not remove. So the server removes it when stopped (SIGINT,
 * SIGTERM), reclaims one left by a crash, and never removes anything else.
 *
 * usage: unix-server PATH
 */
#include "lesson.h"
#include <sys/stat.h>
#include <sys/un.h>

#define BACKLOG SOMAXCONN /* a server that runs until stopped: lesson 02 */

/* ANCHOR: handler */
/* The socket file bind() created: its path and which file it is, device
 * and inode number (a file removed and made again under the same name is
 * a new file, with a new inode). Set before the handler is installed, and
 * only read after. */
static char sock_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static struct stat sock_file;
static int have_sock_file;

/* Removes the file at sock_path if it is still the socket file we
 * created: if someone removed ours and another server bound the path
 * since, the file there is theirs. lstat() (which does not follow a
 * symbolic link) and unlink() only: both are async-signal-safe. */
static void remove_if_ours(void)
{
    struct stat now;
    if (have_sock_file && lstat(sock_path, &now) == 0 && S_ISSOCK(now.st_mode)
        && now.st_dev == sock_file.st_dev && now.st_ino == sock_file.st_ino)
        unlink(sock_path);
}

/* SIGINT and SIGTERM: remove our socket file, exit 0. A handler may
 * interrupt main() anywhere, in the middle of malloc() or printf(), so it
 * may only make async-signal-safe calls: _exit(), not exit(), which would
 * run stdio's clean-up. It never returns, so errno needs no saving. */
static void remove_socket_file_and_exit(int signo)
{
    (void) signo;
    remove_if_ours();
    _exit(0);
}
/* ANCHOR_END: handler */

/* A fatal error after bind(): remove our socket file, then error(). The
 * stop signals are blocked first, so the handler cannot run half-way. */
static void remove_and_fail(const char *msg)
{
    int err = errno;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    remove_if_ours();
    errno = err;
    error(msg);
}

/* ANCHOR: probe */
/* Whether a process has a socket bound to the socket file at addr, asked
 * without disturbing a live server: a datagram socket's connect() to it
 * fails with ECONNREFUSED when no socket is behind the file any more (it
 * is stale), with EPROTOTYPE when a stream socket is there (a datagram
 * socket cannot connect to one), and succeeds when a datagram socket is
 * there. A stream socket's connect() would be a real connection, which a
 * live server would accept() and serve. Returns 0 for stale (or gone
 * meanwhile: ENOENT); else 1, and says in why what it knows. */
static int in_use(const struct sockaddr_un *addr, char *why, size_t size)
{
    int probe, rc, err;
    probe = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (probe < 0)
        error("ERROR opening socket");
    rc = connect(probe, (const struct sockaddr *) addr, sizeof(*addr));
    err = errno;
    close(probe); /* it never sent anything */
    if (rc == 0)
        snprintf(why, size, "a live process has a datagram socket bound to %s", addr->sun_path);
    else if (err == EPROTOTYPE)
        snprintf(why, size, "a live process has a stream socket bound to %s", addr->sun_path);
    else if (err == ECONNREFUSED || err == ENOENT)
        return 0;
    else
        snprintf(why, size, "cannot tell whether a live socket is bound to %s: %s",
                 addr->sun_path, strerror(err));
    return 1;
}
/* ANCHOR_END: probe */

/* ANCHOR: serve_one */
/* Lesson 01's exchange on one connection. Lesson 01's server had only
 * this client, so a failure ended it; this one has others waiting, so a
 * client that vanished (ECONNRESET, EPIPE) costs a line on stderr. */
static void serve_one(int sock)
{
    ssize_t n;
    char buffer[256];

    bzero(buffer, 256);
    do
        n = read(sock, buffer, 255);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        report("ERROR reading from socket");
        return;
    }
    print_line("Here is the message: ", buffer, (size_t) n);
    if (write(sock, "I got your message", 18) < 0)
        report("ERROR writing to socket");
}
/* ANCHOR_END: serve_one */

int main(int argc, char *argv[])
{
    int sockfd, newsockfd;
    size_t len;
    socklen_t clilen;
    struct sockaddr_un serv_addr, cli_addr;
    struct sigaction sa;
    struct stat st;
    sigset_t stop;
    const char *usage = "unix-server PATH", *names[] = { "path" }, *arg[1];
    char why[256], taken[128];

    /* ANCHOR: args */
    parse_args(argc, argv, usage, 1, names, arg, NULL);
    /* ANCHOR: limit */
    /* The path is copied into sun_path, 108 bytes on Linux, with a NUL
     * after it: 107 bytes at most. strcpy() of a longer one would write
     * past the end of the structure. An empty one is no name at all. */
    len = strlen(arg[0]);
    if (len == 0)
        usage_error(usage, "PATH must not be empty");
    if (len > sizeof(serv_addr.sun_path) - 1) {
        snprintf(why, sizeof(why),
                 "PATH is too long: %zu bytes, but a Unix-domain socket address holds at most "
                 "%zu (sun_path has %zu bytes, one of them for the final NUL)",
                 len, sizeof(serv_addr.sun_path) - 1, sizeof(serv_addr.sun_path));
        usage_error(usage, why);
    }
    /* ANCHOR_END: limit */
    /* ANCHOR_END: args */

    /* ANCHOR: stop */
    /* The stopping rule (lesson.h), and SIGPIPE ignored so that a client
     * gone before its answer is an EPIPE to report, not our death. Then
     * SIGINT and SIGTERM are held (blocked) until the handler that removes
     * the socket file is in place: one that comes between bind() and
     * sigaction() waits, pending, instead of leaving the file behind. */
    restore_stop_signals();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
        error("ERROR on sigprocmask");
    /* ANCHOR_END: stop */

    /* ANCHOR: socket */
    /* 1. socket(): the Unix domain (AF_UNIX), stream type. The tutorial's
     *    one change to lesson 01 is this first argument, and the address
     *    that goes with it. */
    sockfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sockfd < 0)
        error("ERROR opening socket");
    /* ANCHOR_END: socket */

    /* ANCHOR: address */
    /* The address: a family and a path, no port, no byte order. */
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sun_family = AF_UNIX;
    memcpy(serv_addr.sun_path, arg[0], len); /* the NUL is bzero()'s */
    /* ANCHOR_END: address */

    /* ANCHOR: bind */
    /* 2. bind(): give the socket its name; this creates the socket file.
     *    EADDRINUSE means a file is at PATH already. Look before touching
     *    it: remove it only if it is a socket (lstat(), which does not
     *    follow a symbolic link) that no process has bound any more
     *    (in_use). Anything else is left as it is, and we exit 1. */
    if (bind(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0) {
        if (errno != EADDRINUSE)
            error("ERROR on binding");
        snprintf(taken, sizeof(taken), "ERROR on binding: %s (os error %d)", strerror(errno), errno);
        if (lstat(arg[0], &st) == 0 && !S_ISSOCK(st.st_mode)) {
            snprintf(why, sizeof(why), "%s is not a socket, so it is left as it is", arg[0]);
            fail(taken, why);
        }
        if (in_use(&serv_addr, why, sizeof(why)))
            fail(taken, why);
        if (unlink(arg[0]) < 0 && errno != ENOENT)
            error("ERROR removing a stale socket file");
        if (bind(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
            error("ERROR on binding");
    }
    /* ANCHOR_END: bind */

    /* ANCHOR: signals */
    /* The file is ours now: note which file it is, then let SIGINT and
     * SIGTERM remove it. sa_mask: while the handler runs, the other stop
     * signal waits. Unblocking delivers whatever was held meanwhile. */
    memcpy(sock_path, serv_addr.sun_path, sizeof(sock_path));
    if (lstat(sock_path, &sock_file) == 0 && S_ISSOCK(sock_file.st_mode))
        have_sock_file = 1;
    bzero(&sa, sizeof(sa));
    sa.sa_handler = remove_socket_file_and_exit;
    sa.sa_mask = stop;
    sa.sa_flags = 0;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        remove_and_fail("ERROR on sigaction");
    if (sigprocmask(SIG_UNBLOCK, &stop, NULL) < 0)
        remove_and_fail("ERROR on sigprocmask");
    /* ANCHOR_END: signals */

    /* ANCHOR: listen */
    /* 3. listen(), as in lesson 02. */
    if (listen(sockfd, BACKLOG) < 0)
        remove_and_fail("ERROR on listening");
    /* ANCHOR_END: listen */

    while (1) {
        /* ANCHOR: accept */
        /* 4. accept(): the next client, in the order they connected. Its
         *    address is of little use: a client that did not bind() has
         *    none ("unnamed", clilen comes back as just the family). As in
         *    lesson 02, a failure that may pass does not end the server. */
        clilen = sizeof(cli_addr);
        newsockfd = accept(sockfd, (struct sockaddr *) &cli_addr, &clilen);
        if (newsockfd < 0) {
            if (accept_again())
                continue;
            remove_and_fail("ERROR on accept");
        }
        /* ANCHOR_END: accept */

        /* ANCHOR: serve */
        /* 5. and 6. read() and write(), lesson 01's exchange; 7. close().
         *    One client at a time: the next one waits in the listen queue. */
        serve_one(newsockfd);
        close(newsockfd);
        /* ANCHOR_END: serve */
    }
}
