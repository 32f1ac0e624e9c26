/* conn.c - see conn.h. (to be written) */
#include <config.h>
#include "conn.h"
