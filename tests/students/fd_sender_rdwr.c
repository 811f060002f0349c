/* fd-sender bug: opens the file read-write instead of read-only. */
#define BUG_RDWR
#include "fd_sender_base.h"
