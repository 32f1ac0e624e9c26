/* intake.c - see intake.h. (to be written) */
#include <config.h>
#include "intake.h"
