/* What the fork-server fixtures share: a fork server as the contract has
 * it (lesson 02), with a hook that runs in each child before it serves,
 * where each fixture does its damage. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each fixture defines it: what a child does before serving. A fixture
 * that defines IGNORE_STOP_SIGNALS before including this file ignores
 * SIGINT and SIGTERM instead of restoring their default action. */
static void before_serving(int connection, int connections_so_far);

static void serve(int connection) {
    char buffer[256];
    ssize_t n = read(connection, buffer, 255);
    if (n < 0) n = 0;
    if (n > 0 && buffer[n - 1] == '\n') n--;
    buffer[n] = '\0';
    printf("Here is the message: %s\n", buffer);
    write(connection, "I got your message", 18);
}

int main(int argc, char *argv[]) {
    if (argc < 2) return 2;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &stop, NULL);
#ifdef IGNORE_STOP_SIGNALS
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
#else
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
#endif
    signal(SIGCHLD, SIG_DFL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = INADDR_ANY;
    address.sin_port = htons(atoi(argv[1]));
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) {
        perror("ERROR on binding");
        return 1;
    }
    listen(listener, SOMAXCONN);
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    fprintf(stderr, "listening on 0.0.0.0:%d\n", ntohs(address.sin_port));
    for (int connections = 0;; connections++) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(listener);
            before_serving(connection, connections);
            serve(connection);
            _exit(0);
        }
        close(connection);
    }
}
