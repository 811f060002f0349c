/* dgram-receiver bug: does not remove a stale socket file before bind(). */
#define BUG_NO_UNLINK
#include "dgram_receiver_base.h"
