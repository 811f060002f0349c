/* seqpacket-echo bug: takes a zero-length message for end of file and drops the client. */
#define BUG_EMPTY_IS_EOF
#include "seqpacket_echo_base.h"
