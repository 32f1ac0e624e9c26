/* cli.c - see cli.h. (to be written) */
#include <config.h>
#include "cli.h"
