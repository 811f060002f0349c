/* hostile echo-server: floods stdout and stderr (16 MiB each) before serving correctly. */
static void flood(void);
#define BEFORE_LISTEN() flood()
#include "echo_server_base.h"
static void flood(void) {
    static char junk[65536];
    memset(junk, 'A', sizeof junk);
    for (int i = 0; i < 256; i++) {
        if (write_all(1, junk, sizeof junk) < 0 || write_all(2, junk, sizeof junk) < 0) break;
    }
}
