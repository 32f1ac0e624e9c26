/*
 * convert-header.c - one header field as it must be sent (see
 * convert-int.h).
 *
 * Placeholder until the header encoders land: every field goes as it is.
 */
#include <config.h>

#include "convert-int.h"

int convert_header_field(struct buf *out, const char *field, size_t n, bool smtputf8,
                         struct result *r)
{
    (void)smtputf8;
    (void)r;
    buf_append(out, field, n);
    buf_puts(out, "\r\n");
    return 0;
}
