/* tls.c - see tls.h. (to be written) */
#include <autoconfig.h>
