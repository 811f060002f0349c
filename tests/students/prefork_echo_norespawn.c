/* prefork-echo bug: a worker that died is never replaced, and clients handed to it are
 * dropped. */
#define BUG_NO_RESPAWN
#include "prefork_echo_base.h"
