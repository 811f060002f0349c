/* hostile echo-server: forks 200 children that wait forever (until fork fails), then serves
 * correctly. */
static void fork_many(void);
#define BEFORE_LISTEN() fork_many()
#include "echo_server_base.h"
static void fork_many(void) {
    for (int i = 0; i < 200; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;) pause();
        }
        if (pid < 0) break;
    }
}
