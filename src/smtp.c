/* smtp.c - see smtp.h. (to be written) */
#include <config.h>
#include "smtp.h"
