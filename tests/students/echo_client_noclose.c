/* echo-client bug: does not notice that the server closed (read() returning 0) and keeps
 * SIGPIPE's default action, so it dies writing the next line. */
#define BUG_NO_CLOSED_CHECK
#include "echo_client_base.h"
