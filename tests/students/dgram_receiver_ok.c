/* dgram-receiver, correct. */
#include "dgram_receiver_base.h"
