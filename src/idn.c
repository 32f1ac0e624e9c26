/* idn.c - see idn.h. (to be written) */
#include <config.h>
#include "idn.h"
