/* deliver.c - see deliver.h. (to be written) */
#include <config.h>
#include "deliver.h"
