/* echo-server bug: never closes accepted connections (leaks a descriptor per client). */
#define BUG_LEAK
#include "echo_server_base.h"
