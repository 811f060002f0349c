/* fd-receiver, correct. */
#include "fd_receiver_base.h"
