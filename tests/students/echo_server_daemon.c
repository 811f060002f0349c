/* hostile echo-server: leaves a daemon behind (fork, setsid, fork again, parent exits: the
 * daemon is in a new session and orphaned), then serves correctly. */
static void daemonize_child(void);
#define BEFORE_LISTEN() daemonize_child()
#include "echo_server_base.h"
static void daemonize_child(void) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        setsid();
        if (fork() != 0) _exit(0);
        close(0);
        close(1);
        close(2);
        signal(SIGTERM, SIG_IGN);
        for (;;) pause();
    }
    waitpid(pid, NULL, 0);
}
