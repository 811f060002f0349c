/* echo-client, correct. */
#include "echo_client_base.h"
