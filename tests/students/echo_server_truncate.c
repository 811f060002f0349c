/* echo-server bug: echoes only what the first read() returned, then closes: large messages
 * are truncated. */
#define BUG_TRUNCATE
#include "echo_server_base.h"
