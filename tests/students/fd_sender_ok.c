/* fd-sender, correct. */
#include "fd_sender_base.h"
