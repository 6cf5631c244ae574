/* Hostile fixture, lesson 01: the classic end-of-file loop. A tcp-server
 * that reads and prints in a loop and never stops when read() returns 0,
 * so once its client has closed it prints "Here is the message: " for
 * ever. The grader must keep its memory bounded and name the mistake. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    if (argc < 2) return 2;
    /* As a Rust program does: a write to a closed connection then fails
     * with EPIPE instead of killing the process, and the loop goes on. */
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = INADDR_ANY;
    address.sin_port = htons(atoi(argv[1]));
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) return 1;
    listen(listener, 5);
    int connection = accept(listener, NULL, NULL);
    char buffer[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        /* The bug: n == 0 (the client closed) is not a reason to stop. */
        ssize_t n = read(connection, buffer, 255);
        if (n < 0) n = 0;
        buffer[n] = '\0';
        printf("Here is the message: %s", buffer);
        if (n == 0) printf("\n");
        write(connection, "I got your message", 18);
    }
}
