/* echo-client bug: sends each line with its NUL terminator (strlen + 1). */
#define BUG_NUL
#include "echo_client_base.h"
