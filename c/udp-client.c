/*
 * udp-client.c: lesson 04, the client. Sends one line typed by the user
 * as one datagram with sendto(), and prints the datagram that comes back.
 *
 * The tutorial's datagram client waits for the answer in recvfrom() with
 * no limit: if either datagram is lost, it waits for ever. This one waits
 * at most SECS seconds (default 1), then sends the line again, up to N
 * more times (default 3), before it gives up with `no reply`.
 *
 * usage: udp-client HOST PORT [--timeout SECS] [--retries N]
 */
#include "lesson.h"
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/time.h>

#define DATAGRAM_LIMIT 1024

/* Microseconds from now on the monotonic clock (which no one can set). */
static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long) t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* ANCHOR: from_server */
/* Whether a datagram from `from` comes from the server we sent to: the
 * same family, port and address, compared field by field. */
static int from_server(const struct sockaddr_storage *from, const struct sockaddr *server)
{
    if (from->ss_family != server->sa_family)
        return 0;
    if (server->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *) from, *b = (const void *) server;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *a = (const void *) from, *b = (const void *) server;
    return a->sin6_port == b->sin6_port
        && memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}
/* ANCHOR_END: from_server */

/* ANCHOR: wait */
/* Waits at most timeout_us from now for the server's answer, and returns
 * its length (in buf), or -1 if none came in time. SO_RCVTIMEO bounds how
 * long one recvfrom() may sleep (then it fails with EAGAIN): it is set
 * before each call to the time that is left. Only a datagram from the
 * server is the answer; a stray one is dropped and does not extend the
 * wait. */
static ssize_t wait_for_reply(int sock, const struct sockaddr *server, long long timeout_us,
                              char *buf)
{
    long long deadline = now_us() + timeout_us, left;
    struct sockaddr_storage from;
    socklen_t fromlen;
    struct timeval tv;
    ssize_t n;

    while ((left = deadline - now_us()) > 0) {
        tv.tv_sec = left / 1000000;
        tv.tv_usec = left % 1000000;
        if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            error("ERROR on setsockopt");
        fromlen = sizeof(from);
        n = recvfrom(sock, buf, DATAGRAM_LIMIT, 0, (struct sockaddr *) &from, &fromlen);
        if (n >= 0 && from_server(&from, server))
            return n;
        if (n >= 0)
            continue; /* not from the server */
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1; /* the time is up */
        /* A signal cut the wait short, or an ICMP "port unreachable" for
         * an earlier datagram: no answer yet, the deadline stands. */
        if (errno == EINTR || errno == ECONNREFUSED)
            continue;
        error("ERROR reading from socket");
    }
    return -1;
}
/* ANCHOR_END: wait */

int main(int argc, char *argv[])
{
    int sock, portno, rc;
    long long timeout_us;
    unsigned long retries = 3, attempt;
    double seconds = 1.0;
    ssize_t n;
    size_t len = 0, msglen;
    char *line = NULL, *end, service[16], buf[DATAGRAM_LIMIT];
    struct addrinfo hints, *res, *ai;
    struct sockaddr_storage server;
    socklen_t serverlen;
    const char *usage = "udp-client HOST PORT [--timeout SECS] [--retries N]";
    const char *names[] = { "host", "port" }, *arg[2];
    struct option_arg opts[] = { { "--timeout", NULL }, { "--retries", NULL }, { NULL, NULL } };

    /* ANCHOR: args */
    parse_args(argc, argv, usage, 2, names, arg, opts);
    portno = parse_port(arg[1], usage);
    /* ANCHOR_END: args */

    /* ANCHOR: timeout */
    /* --timeout: a number of seconds above 0, fractions allowed (0.2);
     * --retries: a whole number, 0 or more. Anything else (0, -1, inf,
     * 1s, nothing) is a usage error. */
    if (opts[0].value) {
        const char *v = opts[0].value;
        seconds = strtod(v, &end);
        if (*v == '\0' || isspace((unsigned char) *v) || *end != '\0' || !isfinite(seconds)
            || !(seconds > 0)) {
            char why[128];
            snprintf(why, sizeof(why),
                     "invalid value '%.40s' for --timeout: expected a number of seconds above 0", v);
            usage_error(usage, why);
        }
    }
    if (opts[1].value) {
        const char *v = opts[1].value;
        errno = 0;
        retries = strtoul(v, &end, 10);
        if (!isdigit((unsigned char) *v) || *end != '\0' || errno == ERANGE || retries > 4294967295UL) {
            char why[128];
            snprintf(why, sizeof(why),
                     "invalid value '%.40s' for --retries: expected a whole number, 0 or more", v);
            usage_error(usage, why);
        }
    }
    /* In microseconds, the kernel's unit: at least 1 (SO_RCVTIMEO reads 0
     * as "for ever"), at most a century. */
    timeout_us = seconds >= 3.15e9 ? 3150000000000000LL : (long long) (seconds * 1e6);
    if (timeout_us < 1)
        timeout_us = 1;
    /* ANCHOR_END: timeout */

    /* ANCHOR: resolve */
    /* getaddrinfo(), as in lesson 01, for datagram sockets. A TCP client
     * tries each address until connect() succeeds; a datagram client
     * cannot tell, since sendto() succeeds whether or not anyone listens.
     * Our servers are IPv4 only (0.0.0.0): take the first IPv4 address,
     * any address if there is none. */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", portno);
    rc = getaddrinfo(arg[0], service, &hints, &res);
    if (rc != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "ERROR, no such host: %.300s", arg[0]);
        fail(msg, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    }
    for (ai = res; ai->ai_next != NULL && ai->ai_family != AF_INET; ai = ai->ai_next)
        ;
    if (ai->ai_family != AF_INET)
        ai = res;
    memcpy(&server, ai->ai_addr, ai->ai_addrlen);
    serverlen = ai->ai_addrlen;
    freeaddrinfo(res);
    /* As a destination, 0.0.0.0 (or ::) means "this host", and the answer
     * then comes from 127.0.0.1 (::1): expect it from there. */
    if (server.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &server;
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (server.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &server;
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
            sin6->sin6_addr = in6addr_loopback;
    }
    /* ANCHOR_END: resolve */

    /* ANCHOR: socket */
    /* socket(): a datagram socket of the server address's family. No
     * bind(): the first sendto() gives it a free port, where the answer
     * will come. No connect(): on a connected UDP socket, an ICMP "port
     * unreachable" for one datagram turns into ECONNREFUSED on the next
     * call, and every attempt must be made. */
    sock = socket(server.ss_family, SOCK_DGRAM, 0);
    if (sock < 0)
        error("ERROR opening socket");
    /* ANCHOR_END: socket */

    /* ANCHOR: message */
    /* The prompt, then one line with its newline. At end of input the
     * line is empty, and an empty datagram is still a datagram. */
    write_all(1, "Please enter the message: ", 26);
    n = getline(&line, &len, stdin);
    if (n < 0 && ferror(stdin))
        error("ERROR reading from stdin");
    msglen = n < 0 ? 0 : (size_t) n;
    /* ANCHOR_END: message */

    /* ANCHOR: retry */
    /* sendto(), then wait for the answer; none in time means our datagram
     * or the answer was lost (or nobody is there: UDP cannot tell), so
     * send it again: 1 + retries datagrams at most. A datagram goes whole
     * or the call fails (EMSGSIZE over 65507 bytes). */
    for (attempt = 0; attempt <= retries; attempt++) {
        if (sendto(sock, line, msglen, 0, (struct sockaddr *) &server, serverlen) < 0)
            error("ERROR writing to socket");
        n = wait_for_reply(sock, (struct sockaddr *) &server, timeout_us, buf);
        if (n >= 0) {
            print_line("", buf, (size_t) n);
            return 0;
        }
    }
    {
        char msg[512], reason[128];
        snprintf(msg, sizeof(msg), "ERROR, no reply from %.300s port %d", arg[0], portno);
        snprintf(reason, sizeof(reason), "%lu datagram(s) sent, none answered within %g s",
                 retries + 1, seconds);
        fail(msg, reason);
    }
    /* ANCHOR_END: retry */
}
