/* dgram-sender, correct. */
#include "dgram_sender_base.h"
