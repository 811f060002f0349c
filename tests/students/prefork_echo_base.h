/* Shared body of the prefork-echo samples (BUG_... switches).  Usage: PROGRAM SOCKET WORKERS
 * The master accepts clients and passes each connection to a worker over a socketpair with
 * SCM_RIGHTS, round robin; a worker that died is replaced. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXW 16
static pid_t pids[MAXW];
static int chans[MAXW];
static int listener;

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

static void echo(int c) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || write_all(c, buf, (size_t)n) < 0) break;
    }
    close(c);
}

static int recv_fd(int chan) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    if (recvmsg(chan, &msg, 0) <= 0) return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

static int send_fd(int chan, int fd) {
    char byte = 'C';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(chan, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static void start_worker(int i, int n) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(listener);
        close(sv[0]);
        for (int j = 0; j < n; j++)
            if (j != i && chans[j] >= 0) close(chans[j]);
#ifdef BUG_MASTER_SERVES
        for (;;) pause(); /* workers that never get any work */
#endif
        for (;;) {
            int c = recv_fd(sv[1]);
            if (c < 0) _exit(0);
            echo(c);
        }
    }
    close(sv[1]);
    pids[i] = pid;
    chans[i] = sv[0];
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET WORKERS\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[2]);
    if (n < 1 || n > MAXW) {
        fprintf(stderr, "WORKERS must be 1..%d\n", MAXW);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "socket path too long\n");
        return 1;
    }
    strcpy(addr.sun_path, argv[1]);
    unlink(argv[1]);
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listener, 16) < 0) {
        perror("listen");
        return 1;
    }
    for (int i = 0; i < n; i++) chans[i] = -1;
    for (int i = 0; i < n; i++) start_worker(i, n);
    int next = 0;
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) continue;
#ifdef BUG_MASTER_SERVES
        echo(c);
        continue;
#endif
        for (int tries = 0; tries < n; tries++) {
            int w = next;
            next = (next + 1) % n;
            if (send_fd(chans[w], c) == 0) break;
            /* That worker is gone. */
            close(chans[w]);
            waitpid(pids[w], NULL, 0);
#ifdef BUG_NO_RESPAWN
            chans[w] = open("/dev/null", 0); /* never replaced: its clients are dropped */
            break;
#else
            start_worker(w, n);
            if (send_fd(chans[w], c) == 0) break;
#endif
        }
        close(c);
    }
}
