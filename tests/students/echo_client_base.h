/* Shared body of the echo-client samples (BUG_... switches).  Usage: PROGRAM SOCKET */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
#ifndef BUG_NO_CLOSED_CHECK
    signal(SIGPIPE, SIG_IGN);
#endif
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        size_t want = (size_t)len;
#ifdef BUG_NUL
        want += 1; /* sends the terminating NUL too */
#endif
        if (write_all(fd, line, want) < 0) {
            printf("Server closed\n");
            return 1;
        }
        char *buf = malloc(want + 1);
        size_t got = 0;
        while (got < want) {
            ssize_t n = read(fd, buf + got, want - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
#ifdef BUG_NO_CLOSED_CHECK
                break; /* ignores that the server closed */
#else
                printf("Server closed\n");
                return 1;
#endif
            }
            got += (size_t)n;
        }
        buf[got] = '\0';
        printf("echo> %s", buf);
        if (got == 0 || buf[strlen(buf) - 1] != '\n') printf("\n");
        fflush(stdout);
        free(buf);
    }
    free(line);
    close(fd);
    return 0;
}
