/* Shared body of the fd-sender samples (BUG_... switches).  Usage: PROGRAM SOCKET FILE */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET FILE\n", argv[0]);
        return 2;
    }
#ifdef BUG_RDWR
    int file = open(argv[2], O_RDWR);
#else
    int file = open(argv[2], O_RDONLY);
#endif
    if (file < 0) {
        perror(argv[2]);
        return 1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        return 1;
    }
#ifdef BUG_SEND_CONTENTS
    /* Sends what the file contains instead of the descriptor. */
    char data[4096];
    ssize_t n = read(file, data, sizeof data);
    if (n > 0 && write(fd, data, (size_t)n) < 0) perror("write");
#else
    char byte = 'F';
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
    memcpy(CMSG_DATA(cm), &file, sizeof(int));
    if (sendmsg(fd, &msg, 0) < 0) {
        perror("sendmsg");
        return 1;
    }
#endif
    close(file);
    close(fd);
    return 0;
}
