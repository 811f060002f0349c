/* fd-receiver bug: ignores the passed descriptor and copies the socket's data instead. */
#define BUG_IGNORE_FD
#include "fd_receiver_base.h"
