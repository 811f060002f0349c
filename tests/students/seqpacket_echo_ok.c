/* seqpacket-echo, correct. */
#include "seqpacket_echo_base.h"
