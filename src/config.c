/* config.c - see config.h. (to be written) */
#include <config.h>
#include "config.h"
