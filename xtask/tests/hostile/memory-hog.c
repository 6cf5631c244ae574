/* Hostile fixture, lesson 04: a udp-server that keeps 256 MiB for every
 * datagram it receives and never frees them, otherwise as the contract
 * says. Without a limit it would take the machine's memory; with one, the
 * grader must name the limit it hit. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    if (argc < 2) return 2;
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = INADDR_ANY;
    address.sin_port = htons(atoi(argv[1]));
    if (bind(sock, (struct sockaddr *)&address, sizeof address) < 0) return 1;
    socklen_t length = sizeof address;
    getsockname(sock, (struct sockaddr *)&address, &length);
    fprintf(stderr, "listening on 0.0.0.0:%d\n", ntohs(address.sin_port));
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        char buffer[1025];
        struct sockaddr_in from;
        socklen_t from_length = sizeof from;
        ssize_t n = recvfrom(sock, buffer, 1024, 0, (struct sockaddr *)&from, &from_length);
        if (n < 0) continue;
        /* The leak: 256 MiB, written so that it is really used. */
        char *kept = malloc(256 << 20);
        if (kept == NULL) {
            fprintf(stderr, "ERROR out of memory: Cannot allocate memory\n");
            return 1;
        }
        memset(kept, 1, 256 << 20);
        buffer[n] = '\0';
        if (n > 0 && buffer[n - 1] == '\n') buffer[n - 1] = '\0';
        printf("Received a datagram: %s\n", buffer);
        sendto(sock, "Got your message\n", 17, 0, (struct sockaddr *)&from, from_length);
    }
}
