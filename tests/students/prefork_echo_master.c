/* prefork-echo bug: the master echoes every client itself; its workers never get work. */
#define BUG_MASTER_SERVES
#include "prefork_echo_base.h"
