/* hostile echo-server: listens, then never accepts (every client hangs). */
#define AFTER_LISTEN() for (;;) pause()
#include "echo_server_base.h"
