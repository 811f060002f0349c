/* echo-server bug: does not remove a stale socket file before bind() (EADDRINUSE). */
#define BUG_NO_UNLINK
#include "echo_server_base.h"
