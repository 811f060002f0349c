/* seqpacket-echo bug: a 512-byte buffer truncates longer messages (the rest of each message
 * is discarded by the kernel). */
#define BUFSIZE 512
#include "seqpacket_echo_base.h"
