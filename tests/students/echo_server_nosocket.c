/* hostile echo-server: never creates its socket; waits forever. */
#define BEFORE_LISTEN() for (;;) pause()
#include "echo_server_base.h"
