/* reply.c - see reply.h. (to be written) */
#include <autoconfig.h>
