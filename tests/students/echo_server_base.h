/* Shared body of the iterative echo-server samples: each sample file defines the bug it
 * demonstrates (BUG_...) or a hostile behaviour (BEFORE_LISTEN / AFTER_LISTEN) and includes
 * this file.  Usage: PROGRAM SOCKET */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BEFORE_LISTEN
#define BEFORE_LISTEN() ((void)0)
#endif
#ifndef AFTER_LISTEN
#define AFTER_LISTEN() ((void)0)
#endif

static void die(const char *what) { perror(what); exit(1); }

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

static void serve(int c) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (write_all(c, buf, (size_t)n) < 0) break;
#ifdef BUG_TRUNCATE
        break; /* echoes only what the first read() returned */
#endif
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
#ifndef BUG_SIGPIPE
    signal(SIGPIPE, SIG_IGN);
#endif
    BEFORE_LISTEN();
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
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0) die("socket");
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(l, 16) < 0) die("listen");
    AFTER_LISTEN();
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            die("accept");
        }
        serve(c);
#ifndef BUG_LEAK
        close(c);
#endif
    }
}
