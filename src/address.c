/* address.c - see address.h. (to be written) */
#include <config.h>
#include "address.h"
