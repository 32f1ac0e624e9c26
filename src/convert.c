/*
 * convert.c - the data to send a message to one server (see convert.h).
 *
 * Placeholder until the MIME walker lands: nothing is converted yet, the
 * message goes as it is.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "convert-int.h"
#include "message.h"

bool convert_may_need(const struct message *m)
{
    return m->has_8bit || m->force_7bit || m->longest_line > CONVERT_LINE_MAX;
}

int convert_for_server(const struct message *m, const struct convert_target *t,
                       const char *tmpdir, struct convert_output *out, struct result *r)
{
    (void)t;
    (void)tmpdir;
    (void)r;
    *out = (struct convert_output)CONVERT_OUTPUT_INIT;
    out->fd = m->fd;
    out->offset = m->offset;
    out->size = m->size;
    out->body_8bit = m->has_8bit;
    return 0;
}

void convert_output_free(struct convert_output *out)
{
    if (!out)
        return;
    if (out->converted && out->fd >= 0)
        close(out->fd);
    free(out->summary);
    *out = (struct convert_output)CONVERT_OUTPUT_INIT;
}
