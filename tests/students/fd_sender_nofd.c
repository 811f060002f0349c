/* fd-sender bug: sends the file's contents instead of its descriptor. */
#define BUG_SEND_CONTENTS
#include "fd_sender_base.h"
