/* dgram-sender bug: sends the message with its NUL terminator. */
#define BUG_NUL
#include "dgram_sender_base.h"
