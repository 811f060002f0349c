/* prefork-echo, correct. */
#include "prefork_echo_base.h"
