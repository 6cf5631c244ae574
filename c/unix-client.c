/*
 * unix-client.c: lesson 05, the client. Lesson 01's client with a path
 * instead of a host and a port: there is no name to look up, so it is
 * socket(), connect() to the path, then lesson 01's conversation.
 *
 * usage: unix-client PATH
 */
#include "lesson.h"
#include <sys/un.h>

int main(int argc, char *argv[])
{
    int sockfd;
    ssize_t n;
    size_t len = 0, received = 0, pathlen;
    char *line = NULL, buffer[256], why[256];
    struct sockaddr_un serv_addr;
    const char *usage = "unix-client PATH", *names[] = { "path" }, *arg[1];

    /* ANCHOR: main */
    parse_args(argc, argv, usage, 1, names, arg, NULL);
    signal(SIGPIPE, SIG_IGN); /* see tcp-client.c */

    /* ANCHOR: address */
    /* The server's address: AF_UNIX and the path, which must fit in
     * sun_path with its NUL (107 bytes on Linux; see unix-server.c). */
    pathlen = strlen(arg[0]);
    if (pathlen == 0)
        usage_error(usage, "PATH must not be empty");
    if (pathlen > sizeof(serv_addr.sun_path) - 1) {
        snprintf(why, sizeof(why),
                 "PATH is too long: %zu bytes, but a Unix-domain socket address holds at most "
                 "%zu (sun_path has %zu bytes, one of them for the final NUL)",
                 pathlen, sizeof(serv_addr.sun_path) - 1, sizeof(serv_addr.sun_path));
        usage_error(usage, why);
    }
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sun_family = AF_UNIX;
    memcpy(serv_addr.sun_path, arg[0], pathlen);
    /* ANCHOR_END: address */

    /* ANCHOR: connect */
    /* socket(): the server's domain and type. connect(): the kernel looks
     * PATH up in the file system. Nothing there: ENOENT, "No such file or
     * directory". A socket file no server holds any more: ECONNREFUSED.
     * No write permission on the file: EACCES. */
    sockfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sockfd < 0)
        error("ERROR opening socket");
    if (connect(sockfd, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
        error("ERROR connecting");
    /* ANCHOR_END: connect */

    /* From here on, lesson 01's conversation (tcp-client.c). */
    /* ANCHOR: message */
    write_all(1, "Please enter the message: ", 26);
    n = getline(&line, &len, stdin);
    if (n < 0 && ferror(stdin))
        error("ERROR reading from stdin");
    /* ANCHOR_END: message */

    /* ANCHOR: write */
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
    /* ANCHOR_END: main */
}
