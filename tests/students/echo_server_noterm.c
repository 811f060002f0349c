/* hostile echo-server: ignores SIGTERM (serves correctly otherwise). */
#define BEFORE_LISTEN() signal(SIGTERM, SIG_IGN)
#include "echo_server_base.h"
