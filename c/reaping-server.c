/*
 * reaping-server.c: lesson 03, the zombie problem. Lesson 02's fork
 * server, with its finished children collected.
 *
 * A child that exits does not vanish: the kernel keeps its process ID and
 * exit status until the parent asks for them with wait(). Until then it
 * is a zombie. When a child ends, the kernel sends its parent SIGCHLD;
 * the tutorial shows two ways to use that, both here:
 *
 *   --reap ignore   SIGCHLD set to SIG_IGN (the tutorial's AIX way): the
 *                   kernel discards the children's status itself;
 *   --reap handler  a SIGCHLD handler that collects every finished child
 *                   with a non-blocking wait (the SunOS way; the default).
 *
 * Everything else is fork-server.c's, line for line.
 *
 * usage: reaping-server PORT [--reap handler|ignore]
 */
#include "lesson.h"
#include <netinet/in.h>
#include <sys/wait.h>

#define BACKLOG SOMAXCONN /* see fork-server.c */

void dostuff(int sock);

/* ANCHOR: handler */
/* The SIGCHLD handler: reap every child that has ended, then return.
 *
 * Signals are not counted: while one SIGCHLD is pending, more children
 * that end add nothing, so one call may stand for many children. Hence
 * the loop, until waitpid() finds no finished child: 0 (children still
 * running) or -1 (ECHILD, no children at all). -1: any child; WNOHANG:
 * never block, a child still serving its client must not hold us up.
 *
 * The handler may run between any two instructions of main(), maybe just
 * after a failed accept() set errno and before main() read it. waitpid()
 * sets errno too (ECHILD, every time), so errno is saved and put back. */
void reap_children(int signo)
{
    int saved_errno = errno;
    (void) signo;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved_errno;
}
/* ANCHOR_END: handler */

int main(int argc, char *argv[])
{
    int sockfd, newsockfd, portno, yes = 1;
    pid_t pid;
    socklen_t clilen;
    struct sockaddr_in serv_addr, cli_addr;
    struct sigaction sa;
    sigset_t chld;
    const char *usage = "reaping-server PORT [--reap handler|ignore]";
    const char *names[] = { "port" }, *arg[1], *how;
    struct option_arg opts[] = { { "--reap", NULL }, { NULL, NULL } };

    /* ANCHOR: main */
    parse_args(argc, argv, usage, 1, names, arg, opts);
    portno = parse_port(arg[0], usage);
    how = opts[0].value ? opts[0].value : "handler";
    if (strcmp(how, "handler") != 0 && strcmp(how, "ignore") != 0) {
        char why[128];
        snprintf(why, sizeof(why), "unknown way to reap: '%.40s'", how);
        usage_error(usage, why);
    }
    restore_stop_signals();
    signal(SIGPIPE, SIG_IGN); /* see fork-server.c */
    /* ANCHOR_END: main */

    /* Before the first fork(): a child that ended before we were ready to
     * reap would stay a zombie. */
    if (strcmp(how, "ignore") == 0) {
        /* ANCHOR: ignore */
        /* The AIX way. Ignoring SIGCHLD is special: besides dropping the
         * signal, it tells the kernel we will never ask how our children
         * ended, so they are discarded as they exit, never zombies. */
        if (signal(SIGCHLD, SIG_IGN) == SIG_ERR)
            error("ERROR on signal");
        /* ANCHOR_END: ignore */
    } else {
        /* ANCHOR: install */
        /* The SunOS way: reap_children() runs whenever SIGCHLD arrives.
         * sigaction() rather than signal(), whose meaning varies between
         * systems. SA_RESTART: a system call the handler interrupts (our
         * accept(), mostly) is restarted by the kernel instead of failing
         * with EINTR; not every call can be, so the loop copes with EINTR
         * anyway. sa_mask: no other signal is blocked while it runs. */
        bzero(&sa, sizeof(sa));
        sa.sa_handler = reap_children;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (sigaction(SIGCHLD, &sa, NULL) < 0)
            error("ERROR on sigaction");
        /* ANCHOR_END: install */
    }
    /* ANCHOR: unblock */
    /* A disposition is not the mask: a handler never runs while its
     * signal is blocked, and whoever started us may have blocked it. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_UNBLOCK, &chld, NULL) < 0)
        error("ERROR on sigprocmask");
    /* ANCHOR_END: unblock */

    /* From here on, fork-server.c exactly. */
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0)
        error("ERROR opening socket");
    if (setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) < 0)
        error("ERROR on setsockopt");
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    serv_addr.sin_port = htons(portno);
    if (bind(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
        error("ERROR on binding");
    if (listen(sockfd, BACKLOG) < 0)
        error("ERROR on listening");

    while (1) {
        /* ANCHOR: accept */
        /* With the handler installed, SIGCHLD arrives all the time, and an
         * accept() it interrupts may fail with EINTR: accept_again() says
         * to call it again, as for a client that gave up. */
        clilen = sizeof(cli_addr);
        newsockfd = accept(sockfd, (struct sockaddr *) &cli_addr, &clilen);
        if (newsockfd < 0) {
            if (accept_again())
                continue;
            error("ERROR on accept");
        }
        /* ANCHOR_END: accept */
        pid = fork();
        if (pid == 0) {
            close(sockfd);
            dostuff(newsockfd);
            _exit(0);
        }
        if (pid < 0)
            report("ERROR on fork");
        close(newsockfd);
    }
}

/* Lesson 02's dostuff(), unchanged. */
void dostuff(int sock)
{
    ssize_t n;
    char buffer[256];

    bzero(buffer, 256);
    do
        n = read(sock, buffer, 255);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        error("ERROR reading from socket");
    print_line("Here is the message: ", buffer, (size_t) n);
    n = write(sock, "I got your message", 18);
    if (n < 0)
        error("ERROR writing to socket");
}
