/* dgram-receiver bug: merges datagrams that arrive together into one line. */
#define BUG_MERGE
#include "dgram_receiver_base.h"
