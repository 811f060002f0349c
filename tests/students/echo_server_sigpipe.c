/* echo-server bug: keeps SIGPIPE's default action, so writing to a client that closed
 * without reading kills it. */
#define BUG_SIGPIPE
#include "echo_server_base.h"
