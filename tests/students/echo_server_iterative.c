/* echo-server, correct but iterative: serves one client at a time (fails only the bonus
 * property echo-server.concurrent-clients). */
#include "echo_server_base.h"
