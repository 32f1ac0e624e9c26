/*
 * test-deliver.c - unit tests for the pure part of deliver.[ch]: what a
 * server takes for message conversion (deliver_convert_target), from the
 * capabilities of real EHLO replies, with and without -B 7BIT. What a
 * delivery sends is seen from the outside in the data cases
 * (tests/data, 0900-0949).
 */
#include <config.h>

#include <stdbool.h>
#include <string.h>

#include "convert.h"
#include "deliver.h"
#include "reply.h"
#include "tap.h"

/* The target for a server whose EHLO reply is ehlo ("CODE text" lines
 * joined with "\n"). */
static struct convert_target target(const char *ehlo, bool force_7bit)
{
    struct smtp_caps caps;
    memset(&caps, 0, sizeof caps);
    reply_parse_caps(&caps, ehlo);
    struct convert_target t = { true, true };
    deliver_convert_target(&caps, force_7bit, &t);
    reply_caps_clear(&caps);
    return t;
}

static void check(const char *ehlo, bool force_7bit, bool want_8bit, bool want_utf8,
                  const char *what)
{
    struct convert_target t = target(ehlo, force_7bit);
    tap_ok(t.eightbitmime == want_8bit && t.smtputf8 == want_utf8, what);
}

int main(void)
{
    const char *both = "250-mx.test\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250 SIZE 1000";
    const char *eight = "250-mx.test\n250-8BITMIME\n250 DSN";
    const char *utf8 = "250-mx.test\n250 SMTPUTF8";
    const char *none = "250-mx.test\n250-PIPELINING\n250 SIZE 1000";

    check(both, false, true, true, "8BITMIME and SMTPUTF8 offered: both taken");
    check(eight, false, true, false, "only 8BITMIME: 8-bit bodies, no UTF-8 header fields");
    check(utf8, false, false, true, "only SMTPUTF8: UTF-8 header fields, no 8-bit bodies");
    check(none, false, false, false, "neither offered: 7-bit only");
    check("250 mx.test", false, false, false, "EHLO without extensions: 7-bit only");
    check("250-mx.test\n250-8bitmime\n250 smtputf8", false, true, true,
          "keywords in lower case count");

    check(both, true, false, false, "-B 7BIT: neither, though both are offered");
    check(eight, true, false, false, "-B 7BIT: no 8-bit body for an 8BITMIME server");
    check(utf8, true, false, false, "-B 7BIT: no UTF-8 header field for an SMTPUTF8 server");
    check(none, true, false, false, "-B 7BIT to a 7-bit server: 7-bit only");

    /* HELO fallback: nothing was parsed, nothing is offered. */
    struct smtp_caps caps;
    memset(&caps, 0, sizeof caps);
    struct convert_target t = { true, true };
    deliver_convert_target(&caps, false, &t);
    tap_ok(!t.eightbitmime && !t.smtputf8, "no capabilities (HELO): 7-bit only");
    return tap_done();
}
