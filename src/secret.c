/* secret.c - see secret.h. (to be written) */
#include <autoconfig.h>
