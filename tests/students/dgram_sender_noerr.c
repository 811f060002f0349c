/* dgram-sender bug: ignores errors (a too-long path is truncated, a failed sendto() is
 * printed as "sent -1 bytes") and always exits 0. */
#define BUG_NO_ERRORS
#include "dgram_sender_base.h"
