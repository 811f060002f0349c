/* Shared body of the dgram-sender samples.  Usage: PROGRAM SOCKET MESSAGE COUNT */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET MESSAGE COUNT\n", argv[0]);
        return 2;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
#ifdef BUG_NO_ERRORS
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1); /* silently truncated */
#else
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "%s: socket path too long (%zu bytes, at most %zu)\n", argv[0],
                strlen(argv[1]), sizeof addr.sun_path - 1);
        return 1;
    }
    strcpy(addr.sun_path, argv[1]);
#endif
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    size_t len = strlen(argv[2]);
#ifdef BUG_NUL
    len += 1; /* sends the NUL terminator too */
#endif
    int count = atoi(argv[3]);
    for (int i = 0; i < count; i++) {
        ssize_t n = sendto(fd, argv[2], len, 0, (struct sockaddr *)&addr, sizeof addr);
#ifndef BUG_NO_ERRORS
        if (n < 0) {
            perror("sendto");
            return 1;
        }
#endif
        printf("sent %zd bytes\n", n);
        fflush(stdout);
    }
    close(fd);
    return 0;
}
