/* sasl.c - see sasl.h. (to be written) */
#include <autoconfig.h>
