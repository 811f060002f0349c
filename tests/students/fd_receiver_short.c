/* fd-receiver bug: copies only what the first read() of the descriptor returns. */
#define BUG_ONE_READ
#include "fd_receiver_base.h"
