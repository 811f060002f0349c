/* Shared body of the dgram-receiver samples (BUG_... switches).  Usage: PROGRAM SOCKET SIZE */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET SIZE\n", argv[0]);
        return 2;
    }
    int size = atoi(argv[2]);
    if (size <= 0) {
        fprintf(stderr, "bad size %s\n", argv[2]);
        return 2;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "socket path too long\n");
        return 1;
    }
    strcpy(addr.sun_path, argv[1]);
#ifndef BUG_NO_UNLINK
    unlink(argv[1]);
#endif
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
#ifdef BUG_MERGE
    /* "Batches" reads: waits a little, then appends every queued datagram into one buffer. */
    char *buf = malloc((size_t)size * 64);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) continue;
        struct timespec pause_ = {0, 200 * 1000 * 1000};
        nanosleep(&pause_, NULL);
        ssize_t total = 0, n;
        while (total + size <= size * 64 &&
               (n = recv(fd, buf + total, (size_t)size, MSG_DONTWAIT)) >= 0)
            total += n;
        printf("%zd bytes received: \"%.*s\"\n", total, (int)total, buf);
        fflush(stdout);
    }
#else
#ifdef BUG_LEFTOVER
    char *buf = calloc((size_t)size + 1, 1); /* prints with %s: old bytes show after short ones */
#else
    char *buf = malloc((size_t)size);
#endif
    for (;;) {
        ssize_t n = recv(fd, buf, (size_t)size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("recv");
            return 1;
        }
#ifdef BUG_LEFTOVER
        printf("%zd bytes received: \"%s\"\n", n, buf);
#else
        printf("%zd bytes received: \"%.*s\"\n", n, (int)n, buf);
#endif
        fflush(stdout);
    }
#endif
}
