/* envelope.c - see envelope.h. (to be written) */
#include <config.h>
#include "envelope.h"
