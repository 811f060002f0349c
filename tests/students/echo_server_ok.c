/* echo-server, correct: serves many clients at once with poll(2).  Usage: PROGRAM SOCKET */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXFDS 32

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
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", argv[1]);
        return 1;
    }
    strcpy(addr.sun_path, argv[1]);
    unlink(argv[1]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 16) < 0) {
        perror("listen socket");
        return 1;
    }
    struct pollfd fds[MAXFDS];
    int n = 1;
    fds[0].fd = l;
    fds[0].events = POLLIN;
    char buf[65536];
    for (;;) {
        if (poll(fds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        for (int i = n - 1; i >= 1; i--) {
            if (!fds[i].revents) continue;
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            /* A blocking write_all is fine here: the client reads its echo. */
            if (r <= 0 || write_all(fds[i].fd, buf, (size_t)r) < 0) {
                if (r < 0 && errno == EINTR) continue;
                close(fds[i].fd);
                fds[i] = fds[--n];
            }
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(l, NULL, NULL);
            if (c >= 0 && n < MAXFDS) {
                fds[n].fd = c;
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                n++;
            } else if (c >= 0) {
                close(c);
            }
        }
    }
}
