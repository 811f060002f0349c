/* dgram-receiver bug: prints the buffer with %s, so a short datagram shows leftover bytes of
 * a longer one. */
#define BUG_LEFTOVER
#include "dgram_receiver_base.h"
