/*
 * smtpd-parse.c - the command parser and formatter of the -bs server
 * (see smtpd.h): pure functions on one line, no I/O, no allocation.
 *
 * Must not: read outside line[0..len), keep state, or know what a
 * command means in a session (smtpd.c does).
 */
#include <config.h>

#include <string.h>

#include "smtpd.h"

struct verb_info {
    const char *name;
    enum smtpd_verb verb;
};

static const struct verb_info verbs[] = {
    { "HELO", SMTPD_HELO }, { "EHLO", SMTPD_EHLO }, { "MAIL", SMTPD_MAIL },
    { "RCPT", SMTPD_RCPT }, { "DATA", SMTPD_DATA }, { "BDAT", SMTPD_BDAT },
    { "RSET", SMTPD_RSET }, { "NOOP", SMTPD_NOOP }, { "HELP", SMTPD_HELP },
    { "VRFY", SMTPD_VRFY }, { "QUIT", SMTPD_QUIT },
};

static const char *verb_name(enum smtpd_verb v)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (verbs[i].verb == v)
            return verbs[i].name;
    return "?";
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Case-insensitive: does line[i..len) start with word? */
static bool starts_ci(const char *line, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (len - i < n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (upper(line[i + k]) != word[k])
            return false;
    return true;
}

static enum smtpd_parse_error syntax(struct smtpd_command *cmd, const char *why)
{
    cmd->why = why;
    return SMTPD_PARSE_SYNTAX;
}

static size_t skip_blanks(const char *line, size_t len, size_t i)
{
    while (i < len && is_blank(line[i]))
        i++;
    return i;
}

/* "<path>" at line[i]: the path between the brackets (quoted strings may
 * hold '>' and blanks; a backslash quotes the next octet in them). *end is
 * after '>'. */
static bool parse_path(const char *line, size_t len, size_t i, struct smtpd_span *out,
                       size_t *end)
{
    if (i >= len || line[i] != '<')
        return false;
    size_t start = ++i;
    bool quoted = false;
    for (; i < len; i++) {
        char c = line[i];
        if (quoted) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '>') {
            break;
        } else if (c == '<' || is_blank(c)) {
            return false;
        }
    }
    if (i >= len || quoted)
        return false;
    out->p = line + start;
    out->len = i - start;
    *end = i + 1;
    return true;
}

static enum smtpd_parse_error parse_params(const char *line, size_t len, size_t i,
                                           struct smtpd_command *cmd)
{
    while (i < len) {
        if (!is_blank(line[i]))
            return syntax(cmd, "parameters must be separated by a space");
        i = skip_blanks(line, len, i);
        if (i >= len)
            break;
        if (cmd->nparams == SMTPD_PARAMS_MAX)
            return syntax(cmd, "too many parameters");
        struct smtpd_param *p = &cmd->params[cmd->nparams++];
        size_t k = i;
        if (!is_alnum(line[i]))
            return syntax(cmd, "bad parameter keyword");
        while (i < len && (is_alnum(line[i]) || line[i] == '-'))
            i++;
        p->key = (struct smtpd_span){ line + k, i - k };
        p->value = (struct smtpd_span){ NULL, 0 };
        if (i < len && line[i] == '=') {
            size_t v = ++i;
            while (i < len && !is_blank(line[i])) {
                unsigned char c = (unsigned char)line[i];
                if (c == '=' || (c < 33) || c == 127)
                    return syntax(cmd, "bad parameter value");
                i++;
            }
            if (i == v)
                return syntax(cmd, "empty parameter value");
            p->value = (struct smtpd_span){ line + v, i - v };
        }
    }
    return SMTPD_PARSE_OK;
}

/* Free text (HELO domain, VRFY, HELP, NOOP): printable, tab and 8-bit. */
static bool text_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 32 && c != '\t') || c == 127)
            return false;
    }
    return true;
}

enum smtpd_parse_error smtpd_parse_command(const char *line, size_t len,
                                           struct smtpd_command *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    if (len > SMTPD_LINE_MAX - 2)
        return SMTPD_PARSE_TOO_LONG;
    size_t i = 0;
    while (i < len && is_alnum(line[i]))
        i++;
    size_t vlen = i;
    bool found = false;
    for (size_t k = 0; vlen == 4 && k < sizeof verbs / sizeof verbs[0]; k++) {
        if (starts_ci(line, len, 0, verbs[k].name)) {
            cmd->verb = verbs[k].verb;
            found = true;
        }
    }
    if (!found)
        return SMTPD_PARSE_UNKNOWN;
    if (i < len && !is_blank(line[i]))
        return syntax(cmd, "bad character after the command");
    /* The rest, without blanks at either end. */
    size_t a = skip_blanks(line, len, i), e = len;
    while (e > a && is_blank(line[e - 1]))
        e--;
    if (!text_ok(line + i, len - i) && cmd->verb != SMTPD_MAIL && cmd->verb != SMTPD_RCPT)
        return syntax(cmd, "control character in the command");
    switch (cmd->verb) {
    case SMTPD_DATA:
    case SMTPD_RSET:
    case SMTPD_QUIT:
        if (a != e)
            return syntax(cmd, "no argument allowed");
        return SMTPD_PARSE_OK;
    case SMTPD_HELO:
    case SMTPD_EHLO:
    case SMTPD_VRFY:
        if (a == e)
            return syntax(cmd, "argument required");
        /* fall through */
    case SMTPD_NOOP:
    case SMTPD_HELP:
        cmd->arg = (struct smtpd_span){ line + a, e - a };
        return SMTPD_PARSE_OK;
    case SMTPD_BDAT: {
        size_t d = a;
        unsigned long long n = 0;
        while (d < e && line[d] >= '0' && line[d] <= '9') {
            n = n * 10 + (unsigned)(line[d] - '0');
            if (n > SMTPD_BDAT_MAX)
                return syntax(cmd, "chunk size too large");
            d++;
        }
        if (d == a)
            return syntax(cmd, "chunk size required");
        cmd->bdat_size = n;
        d = skip_blanks(line, e, d);
        if (d < e) {
            if (d == a || !is_blank(line[d - 1]) || e - d != 4 || !starts_ci(line, e, d, "LAST"))
                return syntax(cmd, "BDAT takes a size and LAST only");
            cmd->bdat_last = true;
        }
        return SMTPD_PARSE_OK;
    }
    case SMTPD_MAIL:
    case SMTPD_RCPT: {
        const char *kw = cmd->verb == SMTPD_MAIL ? "FROM:" : "TO:";
        if (!starts_ci(line, len, a, kw) || a == i)
            return syntax(cmd, cmd->verb == SMTPD_MAIL ? "expected MAIL FROM:<address>"
                                                       : "expected RCPT TO:<address>");
        for (size_t k = a; k < len; k++) {
            unsigned char c = (unsigned char)line[k];
            if ((c < 32 && c != '\t') || c == 127)
                return syntax(cmd, "control character in the command");
        }
        size_t p = skip_blanks(line, len, a + strlen(kw)), end;
        if (!parse_path(line, len, p, &cmd->arg, &end))
            return syntax(cmd, "the address must be in angle brackets");
        return parse_params(line, e, end, cmd);
    }
    }
    return SMTPD_PARSE_UNKNOWN;
}

void smtpd_format_command(const struct smtpd_command *cmd, struct buf *out)
{
    buf_puts(out, verb_name(cmd->verb));
    switch (cmd->verb) {
    case SMTPD_MAIL:
    case SMTPD_RCPT:
        buf_puts(out, cmd->verb == SMTPD_MAIL ? " FROM:<" : " TO:<");
        buf_append(out, cmd->arg.p, cmd->arg.len);
        buf_putc(out, '>');
        for (size_t i = 0; i < cmd->nparams; i++) {
            buf_putc(out, ' ');
            buf_append(out, cmd->params[i].key.p, cmd->params[i].key.len);
            if (cmd->params[i].value.p) {
                buf_putc(out, '=');
                buf_append(out, cmd->params[i].value.p, cmd->params[i].value.len);
            }
        }
        break;
    case SMTPD_BDAT:
        buf_printf(out, " %llu%s", cmd->bdat_size, cmd->bdat_last ? " LAST" : "");
        break;
    default:
        if (cmd->arg.len) {
            buf_putc(out, ' ');
            buf_append(out, cmd->arg.p, cmd->arg.len);
        }
        break;
    }
}

static bool span_equal(struct smtpd_span a, struct smtpd_span b)
{
    if ((a.p == NULL) != (b.p == NULL) || a.len != b.len)
        return false;
    return a.len == 0 || memcmp(a.p, b.p, a.len) == 0;
}

bool smtpd_command_equal(const struct smtpd_command *a, const struct smtpd_command *b)
{
    if (a->verb != b->verb || a->nparams != b->nparams || a->bdat_size != b->bdat_size
        || a->bdat_last != b->bdat_last || a->arg.len != b->arg.len
        || (a->arg.len && memcmp(a->arg.p, b->arg.p, a->arg.len) != 0))
        return false;
    for (size_t i = 0; i < a->nparams; i++)
        if (!span_equal(a->params[i].key, b->params[i].key)
            || !span_equal(a->params[i].value, b->params[i].value))
            return false;
    return true;
}
