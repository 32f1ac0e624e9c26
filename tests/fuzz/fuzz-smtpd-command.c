/*
 * fuzz-smtpd-command.c - fuzz target: one command line as the -bs server
 * parses it (src/smtpd-parse.c).
 *
 * Input: the octets of one command line without its line end (any
 * octets: NUL, CR, LF, 8-bit). They are copied into a buffer of exactly
 * that size, so that a read past the end shows up under AddressSanitizer.
 * Properties checked:
 *  - a line over SMTPD_LINE_MAX - 2 octets is SMTPD_PARSE_TOO_LONG, and
 *    only such a line;
 *  - an accepted command has its argument and parameters inside the
 *    line, at most SMTPD_PARAMS_MAX parameters, a BDAT size of at most
 *    SMTPD_BDAT_MAX; no control character but tab in them;
 *  - a syntax error comes with a reason (why), an accepted command never;
 *  - parse -> format -> parse gives an equal command, and the formatted
 *    line is never longer than the input;
 *  - an accepted line with its verb in lower case is accepted as the
 *    same command.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const char *line, size_t len, struct smtpd_span sp)
{
    if (!sp.p)
        return sp.len == 0;
    return sp.p >= line && sp.p <= line + len && sp.len <= (size_t)(line + len - sp.p);
}

static bool clean(struct smtpd_span sp)
{
    for (size_t i = 0; i < sp.len; i++) {
        unsigned char c = (unsigned char)sp.p[i];
        if ((c < 32 && c != '\t') || c == 127)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    if (size)
        memcpy(line, data, size);
    struct smtpd_command c;
    enum smtpd_parse_error e = smtpd_parse_command(line, size, &c);
    if ((e == SMTPD_PARSE_TOO_LONG) != (size > SMTPD_LINE_MAX - 2))
        abort();
    if ((e == SMTPD_PARSE_SYNTAX) != (c.why != NULL))
        abort();
    if (e != SMTPD_PARSE_OK) {
        free(line);
        return 0;
    }
    if (!inside(line, size, c.arg) || !clean(c.arg) || c.nparams > SMTPD_PARAMS_MAX
        || c.bdat_size > SMTPD_BDAT_MAX)
        abort();
    for (size_t i = 0; i < c.nparams; i++)
        if (!inside(line, size, c.params[i].key) || !inside(line, size, c.params[i].value)
            || !clean(c.params[i].key) || !clean(c.params[i].value) || c.params[i].key.len == 0)
            abort();

    struct buf b = BUF_INIT;
    smtpd_format_command(&c, &b);
    if (b.len > size)
        abort();
    struct smtpd_command again;
    if (smtpd_parse_command(b.data, b.len, &again) != SMTPD_PARSE_OK
        || !smtpd_command_equal(&c, &again))
        abort();

    /* The verb in lower case: the same command. */
    char *lower = malloc(size);
    memcpy(lower, line, size);
    for (size_t i = 0; i < 4 && i < size; i++)
        if (lower[i] >= 'A' && lower[i] <= 'Z')
            lower[i] = (char)(lower[i] - 'A' + 'a');
    struct smtpd_command low;
    if (smtpd_parse_command(lower, size, &low) != SMTPD_PARSE_OK || low.verb != c.verb)
        abort();
    free(lower);
    buf_free(&b);
    free(line);
    return 0;
}
