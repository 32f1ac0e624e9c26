/*
 * address.c - RFC 5322 address lists and envelope address validation
 * (see address.h).
 *
 * Owns: the tokenizer and parser for To:/Cc:-style address lists and for
 * sendmail command-line recipients, the address list container, and the
 * gate that refuses unsafe envelope addresses before any connection.
 * Must not: touch the network, print, or exit; errors come back in a
 * struct result (class RC_DATAERR).
 *
 * Parsing is done in two steps: the text is cut into tokens (atoms,
 * quoted strings, domain literals, comments, specials), then a small
 * parser walks the token array. Neither step recurses, so hostile input
 * (deeply nested comments, huge lists) costs only linear time and no stack.
 *
 * Envelope validation works on a C string, so it cannot see a NUL byte
 * inside an address: callers pass text from argv or from a parsed header
 * line, where NUL cannot appear (intake drops NUL bytes before parsing).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "i18n.h"

/* ------------------------------------------------------------------ */
/* Helpers shared by the parser and the validator                      */

/* Longest input quoted in an error message; longer text is cut with "...". */
#define QUOTE_MAX 200

/* Append text to b with control characters escaped (\r, \n, \t, \xNN:
 * buf_put_escaped) so that an error message can never carry a line break
 * or terminal escape; UTF-8 characters are kept, but octets that are not
 * UTF-8 and C1 controls become \xNN too; cut at QUOTE_MAX with "...". */
static void append_escaped(struct buf *b, const char *text)
{
    size_t n = strlen(text), max = n > QUOTE_MAX ? QUOTE_MAX : n;
    for (size_t i = 0, len; i < max; i += len) {
        long cp = utf8_decode(text + i, max - i, &len);
        bool raw8 = cp >= 0xa0;
        buf_put_escaped(b, text + i, len, ESCAPE_NAMED | (raw8 ? 0 : ESCAPE_8BIT));
    }
    if (n > QUOTE_MAX)
        buf_puts(b, "...");
}

static char *escape_for_message(const char *text)
{
    struct buf b = BUF_INIT;
    append_escaped(&b, text);
    return buf_steal(&b);
}

static bool is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* ------------------------------------------------------------------ */
/* Address list container                                               */

void addr_list_add(struct addr_list *l, const char *display, const char *mailbox)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].display = display ? xstrdup(display) : NULL;
    l->v[l->n].mailbox = xstrdup(mailbox);
    l->n++;
}

/* Length of the local part of mailbox: up to the '@' that starts the
 * domain. A leading quoted string may contain '@'. */
static size_t local_part_len(const char *mailbox)
{
    const char *at = address_domain(mailbox);
    return at ? (size_t)(at - 1 - mailbox) : strlen(mailbox);
}

static bool same_mailbox(const char *a, const char *b)
{
    size_t la = local_part_len(a), lb = local_part_len(b);
    if (la != lb || memcmp(a, b, la) != 0)
        return false;
    if (a[la] != b[lb])
        return false;  /* one has a domain, the other does not */
    if (!a[la])
        return true;
    return ascii_strcasecmp(a + la + 1, b + lb + 1) == 0;
}

bool addr_list_contains(const struct addr_list *l, const char *mailbox)
{
    for (size_t i = 0; i < l->n; i++)
        if (same_mailbox(l->v[i].mailbox, mailbox))
            return true;
    return false;
}

void addr_list_free(struct addr_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].display);
        free(l->v[i].mailbox);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

const char *address_domain(const char *mailbox)
{
    const char *p = mailbox;
    if (*p == '"') {
        /* skip a quoted local part, which may hold '@' */
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1])
                p++;
        if (*p == '"')
            p++;
    }
    const char *at = strrchr(p, '@');
    return at ? at + 1 : NULL;
}

char *address_format_mailbox(const char *display, const char *mailbox)
{
    if (!display || !*display)
        return xstrdup(mailbox);
    struct buf b = BUF_INIT;
    bool plain = strspn(display, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789!#$%&'*+-/=?^_`{|}~ ") == strlen(display);
    if (plain) {
        buf_puts(&b, display);
    } else {
        buf_putc(&b, '"');
        for (const char *p = display; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(&b, '\\');
            if (*p != '\r' && *p != '\n')
                buf_putc(&b, *p);
        }
        buf_putc(&b, '"');
    }
    buf_printf(&b, " <%s>", mailbox);
    return buf_steal(&b);
}

char *address_strip_angles(const char *addr)
{
    const char *s = addr, *e = addr + strlen(addr);
    while (s < e && is_wsp((unsigned char)*s))
        s++;
    while (e > s && is_wsp((unsigned char)e[-1]))
        e--;
    if (e - s >= 2 && *s == '<' && e[-1] == '>') {
        s++;
        e--;
    }
    return xstrndup(s, (size_t)(e - s));
}

/* ------------------------------------------------------------------ */
/* Tokenizer                                                            */

enum tok_type {
    T_ATOM,     /* atext and '.', also bytes >= 0x80 (UTF-8) */
    T_QSTR,     /* quoted string: raw keeps quotes and escapes, value is decoded */
    T_DLIT,     /* domain literal [..], raw */
    T_COMMENT,  /* (comment): value is the decoded text, nested parentheses kept */
    T_SPECIAL,  /* one of < > @ , ; : */
    T_END,
};

struct token {
    enum tok_type type;
    char c;            /* for T_SPECIAL */
    bool ws_before;    /* white space or a comment came before this token */
    char *raw;         /* owned: as written (T_ATOM, T_QSTR, T_DLIT) */
    char *value;       /* owned: decoded (T_QSTR, T_COMMENT) or NULL */
};

struct toks {
    struct token *v;
    size_t n, cap;
};

static struct token *toks_push(struct toks *t, enum tok_type type, bool ws)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    struct token *k = &t->v[t->n++];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->ws_before = ws;
    return k;
}

static void toks_free(struct toks *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].raw);
        free(t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* If p starts a line break that is folding white space (CRLF or LF
 * followed by SP/HTAB), or a line break that ends the text, return its
 * length (the break only, not the WSP); else 0. */
static size_t fold_len(const char *p)
{
    size_t n = 0;
    if (p[0] == '\r' && p[1] == '\n')
        n = 2;
    else if (p[0] == '\n')
        n = 1;
    else
        return 0;
    if (is_wsp((unsigned char)p[n]) || p[n] == '\0')
        return n;
    return 0;
}

static bool is_special(int c)
{
    return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' ||
           c == ':' || c == ';' || c == '@' || c == '\\' || c == ',' || c == '"';
}

static bool is_ctl(int c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Reason for a control character: line breaks get their own words. */
static const char *ctl_reason(int c)
{
    if (c == '\r' || c == '\n')
        return _("line break not followed by white space");
    return _("contains a control character");
}

/* What one step inside a comment or a quoted string found. */
enum qtext {
    QTEXT_CHAR,     /* a character as written, in *c */
    QTEXT_PAIR,     /* a quoted pair ("\x"): the character x, in *c */
    QTEXT_FOLD,     /* folding white space, skipped */
    QTEXT_ERROR     /* end of input or a control character: *why */
};

/* One step at *pp inside a comment or a quoted string (RFC 5322 3.2.2,
 * 3.2.4): advances *pp past what it read. The end of input gives
 * `unterminated` as the reason; a control character, alone or quoted,
 * gives ctl_reason(). The caller looks for its own closing character
 * (')' or '"') among the QTEXT_CHAR results or before the step. */
static enum qtext qtext_step(const char **pp, unsigned char *c, const char *unterminated,
                             const char **why)
{
    const char *p = *pp;
    unsigned char ch = (unsigned char)*p;
    size_t f;
    if (ch == '\0') {
        *why = unterminated;
        return QTEXT_ERROR;
    }
    if (ch == '\\') {
        unsigned char next = (unsigned char)p[1];
        if (next == '\0' || is_ctl(next)) {
            *why = next ? ctl_reason(next) : unterminated;
            return QTEXT_ERROR;
        }
        *c = next;
        *pp = p + 2;
        return QTEXT_PAIR;
    }
    if ((f = fold_len(p)) > 0) {
        *pp = p + f;
        return QTEXT_FOLD;
    }
    if (is_ctl(ch)) {
        *why = ctl_reason(ch);
        return QTEXT_ERROR;
    }
    *c = ch;
    *pp = p + 1;
    return QTEXT_CHAR;
}

/* Cut text into tokens. Returns NULL on success or a translated reason. */
static const char *tokenize(const char *text, struct toks *t)
{
    const char *p = text;
    bool ws = false;

    for (;;) {
        unsigned char c = (unsigned char)*p;
        size_t f;
        if (c == '\0') {
            toks_push(t, T_END, ws);
            return NULL;
        }
        if (is_wsp(c)) {
            ws = true;
            p++;
            continue;
        }
        if ((f = fold_len(p)) > 0) {
            ws = true;
            p += f;
            continue;
        }
        if (c == '(') {
            /* comment, possibly nested; quoted-pairs allowed */
            struct buf b = BUF_INIT;
            size_t depth = 1;
            p++;
            while (depth > 0) {
                const char *why = NULL;
                enum qtext q = qtext_step(&p, &c, _("unterminated comment"), &why);
                if (q == QTEXT_ERROR) {
                    buf_free(&b);
                    return why;
                }
                if (q == QTEXT_CHAR && c == '(')
                    depth++;
                else if (q == QTEXT_CHAR && c == ')')
                    depth--;
                if (q != QTEXT_FOLD && depth > 0)
                    buf_putc(&b, (char)c);
            }
            struct token *k = toks_push(t, T_COMMENT, ws);
            k->value = buf_steal(&b);
            ws = true;
            continue;
        }
        if (c == ')')
            return _("unbalanced parenthesis");
        if (c == '"') {
            struct buf raw = BUF_INIT, val = BUF_INIT;
            const char *start = p;
            p++;
            while (*p != '"') {
                const char *why = NULL;
                enum qtext q = qtext_step(&p, &c, _("unterminated quoted string"), &why);
                if (q == QTEXT_ERROR) {
                    buf_free(&raw);
                    buf_free(&val);
                    return why;
                }
                if (q != QTEXT_FOLD)
                    buf_putc(&val, (char)c);
            }
            p++;
            /* raw form: the quoted string as written, minus folding breaks */
            for (const char *q = start; q < p; q++) {
                if ((*q == '\r' || *q == '\n'))
                    continue;
                buf_putc(&raw, *q);
            }
            struct token *k = toks_push(t, T_QSTR, ws);
            k->raw = buf_steal(&raw);
            k->value = buf_steal(&val);
            ws = false;
            continue;
        }
        if (c == '[') {
            const char *start = p++;
            while (*p && *p != ']') {
                if (*p == '[' || *p == '\\' || is_ctl((unsigned char)*p) || is_wsp((unsigned char)*p))
                    return _("invalid domain literal");
                p++;
            }
            if (*p != ']')
                return _("unterminated domain literal");
            p++;
            struct token *k = toks_push(t, T_DLIT, ws);
            k->raw = xstrndup(start, (size_t)(p - start));
            ws = false;
            continue;
        }
        if (c == ']')
            return _("unbalanced square bracket");
        if (c == '\\')
            return _("backslash outside a quoted string");
        if (c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':') {
            struct token *k = toks_push(t, T_SPECIAL, ws);
            k->c = (char)c;
            p++;
            ws = false;
            continue;
        }
        if (is_ctl(c))
            return ctl_reason(c);
        /* atom (dots included, UTF-8 bytes included) */
        const char *start = p;
        while (*p && !is_special((unsigned char)*p) && !is_wsp((unsigned char)*p) &&
               !is_ctl((unsigned char)*p))
            p++;
        struct token *k = toks_push(t, T_ATOM, ws);
        k->raw = xstrndup(start, (size_t)(p - start));
        ws = false;
    }
}

/* ------------------------------------------------------------------ */
/* Parser                                                               */

struct parser {
    struct toks t;
    size_t i;              /* current token */
    struct addr_list out;  /* collected here, moved to the caller on success */
    char *comment;         /* first non-empty comment of the current mailbox */
    const char *error;     /* translated reason, or NULL */
    char error_buf[64];    /* for reasons that quote a character */
};

static struct token *cur(struct parser *ps)
{
    return &ps->t.v[ps->i];
}

/* Skip comments, remembering the first non-empty one. */
static void skip_comments(struct parser *ps)
{
    while (cur(ps)->type == T_COMMENT) {
        const char *v = cur(ps)->value;
        while (is_wsp((unsigned char)*v))
            v++;
        if (!ps->comment && *v) {
            ps->comment = xstrdup(v);
            size_t n = strlen(ps->comment);
            while (n > 0 && is_wsp((unsigned char)ps->comment[n - 1]))
                ps->comment[--n] = '\0';
        }
        ps->i++;
    }
}

static bool at_special(struct parser *ps, char c)
{
    return cur(ps)->type == T_SPECIAL && cur(ps)->c == c;
}

static bool is_word(const struct token *k)
{
    return k->type == T_ATOM || k->type == T_QSTR;
}

static void fail_unexpected(struct parser *ps)
{
    const struct token *k = cur(ps);
    if (k->type == T_SPECIAL && k->c != '<') {
        snprintf(ps->error_buf, sizeof ps->error_buf, _("unexpected \"%c\""), k->c);
        ps->error = ps->error_buf;
    } else if (k->type == T_END) {
        ps->error = _("unexpected end of text");
    } else {
        ps->error = _("text after an address: separate addresses with commas, "
                      "and write a name as \"Name <address>\"");
    }
}

/* Concatenate dot-separated words starting at the current token into b
 * (raw forms, quotes kept). Stops before the first token that does not
 * continue the dotted sequence. Returns the number of words read. */
static size_t read_dotted(struct parser *ps, struct buf *b, bool domain)
{
    size_t words = 0;
    for (;;) {
        skip_comments(ps);
        struct token *k = cur(ps);
        bool ok = domain ? (k->type == T_ATOM || (k->type == T_DLIT && words == 0))
                         : is_word(k);
        if (!ok)
            return words;
        if (words > 0) {
            /* a new word continues the sequence only across a dot */
            bool dot = (b->len > 0 && b->data[b->len - 1] == '.') ||
                       (k->type == T_ATOM && k->raw[0] == '.');
            if (!dot)
                return words;
        }
        buf_puts(b, k->raw);
        words++;
        ps->i++;
        if (k->type == T_DLIT)
            return words;  /* a domain literal stands alone */
    }
}

/* A dot-atom domain needs non-empty labels (no leading, trailing or
 * doubled dot); a domain literal was checked by the tokenizer. */
static bool valid_domain(const char *d)
{
    if (*d == '[')
        return true;
    size_t n = strlen(d);
    return n > 0 && d[0] != '.' && d[n - 1] != '.' && strstr(d, "..") == NULL;
}

/* addr-spec: local-part ["@" domain]. Returns a new string or NULL with
 * ps->error set. */
static char *parse_addr_spec(struct parser *ps)
{
    struct buf b = BUF_INIT;
    size_t words = read_dotted(ps, &b, false);
    skip_comments(ps);
    if (words == 0) {
        buf_free(&b);
        if (at_special(ps, '@'))
            ps->error = _("empty local part before \"@\"");
        else
            fail_unexpected(ps);
        return NULL;
    }
    if (!at_special(ps, '@'))
        return buf_steal(&b);
    ps->i++;
    buf_putc(&b, '@');
    size_t dstart = b.len;
    if (read_dotted(ps, &b, true) == 0) {
        buf_free(&b);
        ps->error = _("empty domain after \"@\"");
        return NULL;
    }
    if (!valid_domain(b.data + dstart)) {
        buf_free(&b);
        ps->error = _("invalid domain (empty label)");
        return NULL;
    }
    skip_comments(ps);
    return buf_steal(&b);
}

/* "<" [route ":"] addr-spec ">" with the current token after "<". */
static char *parse_angle_addr(struct parser *ps)
{
    skip_comments(ps);
    if (at_special(ps, '>')) {
        ps->error = _("empty address in angle brackets");
        return NULL;
    }
    if (at_special(ps, '@') || at_special(ps, ',')) {
        /* obsolete route: ("," / "@" domain)* ":" -- dropped */
        for (;;) {
            skip_comments(ps);
            if (at_special(ps, ',')) {
                ps->i++;
                continue;
            }
            if (!at_special(ps, '@'))
                break;
            ps->i++;
            struct buf d = BUF_INIT;
            size_t n = read_dotted(ps, &d, true);
            buf_free(&d);
            if (n == 0) {
                ps->error = _("empty domain in route");
                return NULL;
            }
        }
        if (!at_special(ps, ':')) {
            ps->error = _("route not ended by \":\"");
            return NULL;
        }
        ps->i++;
    }
    char *spec = parse_addr_spec(ps);
    if (!spec) {
        if (cur(ps)->type == T_END)
            ps->error = _("unbalanced angle bracket");
        return NULL;
    }
    if (!at_special(ps, '>')) {
        free(spec);
        if (cur(ps)->type == T_END || at_special(ps, '<') || at_special(ps, ',') ||
            at_special(ps, ';'))
            ps->error = _("unbalanced angle bracket");
        else
            fail_unexpected(ps);
        return NULL;
    }
    ps->i++;
    return spec;
}

/* Append the words of a phrase from token index from to to (exclusive),
 * decoded and joined by single spaces. */
static char *phrase_text(struct parser *ps, size_t from, size_t to)
{
    struct buf b = BUF_INIT;
    for (size_t j = from; j < to; j++) {
        const struct token *k = &ps->t.v[j];
        if (!is_word(k))
            continue;
        if (b.len > 0 && k->ws_before)
            buf_putc(&b, ' ');
        buf_puts(&b, k->type == T_QSTR ? k->value : k->raw);
    }
    if (b.len == 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static void add_mailbox(struct parser *ps, char *display, char *spec)
{
    const char *d = display ? display : ps->comment;
    addr_list_add(&ps->out, d, spec);
    free(display);
    free(spec);
    free(ps->comment);
    ps->comment = NULL;
}

/* One mailbox (name-addr or addr-spec), or a group when allow_group.
 * The caller clears ps->comment before the leading comments. */
static int parse_address(struct parser *ps, bool allow_group)
{
    skip_comments(ps);

    /* look ahead over the phrase to see what follows it */
    size_t start = ps->i, j = ps->i;
    while (is_word(&ps->t.v[j]) || ps->t.v[j].type == T_COMMENT)
        j++;
    const struct token *next = &ps->t.v[j];

    if (next->type == T_SPECIAL && next->c == '<') {
        char *display = phrase_text(ps, start, j);
        ps->i = j + 1;
        char *spec = parse_angle_addr(ps);
        if (!spec) {
            free(display);
            return -1;
        }
        skip_comments(ps);
        add_mailbox(ps, display, spec);
        return 0;
    }
    if (next->type == T_SPECIAL && next->c == ':' && j > start) {
        if (!allow_group) {
            ps->error = _("group inside a group");
            return -1;
        }
        ps->i = j + 1;
        /* group members until ";" (a missing ";" at the end is tolerated) */
        for (;;) {
            free(ps->comment);
            ps->comment = NULL;
            skip_comments(ps);
            if (at_special(ps, ';')) {
                ps->i++;
                break;
            }
            if (cur(ps)->type == T_END)
                break;
            if (at_special(ps, ',')) {
                ps->i++;
                continue;
            }
            if (parse_address(ps, false) != 0)
                return -1;
            if (!at_special(ps, ',') && !at_special(ps, ';') && cur(ps)->type != T_END) {
                fail_unexpected(ps);
                return -1;
            }
        }
        free(ps->comment);
        ps->comment = NULL;
        skip_comments(ps);
        free(ps->comment);
        ps->comment = NULL;
        return 0;
    }
    char *spec = parse_addr_spec(ps);
    if (!spec)
        return -1;
    if (at_special(ps, '<')) {
        /* sloppy "a@x <a@x>": the first address is only a display name */
        ps->i++;
        char *angle = parse_angle_addr(ps);
        if (!angle) {
            free(spec);
            return -1;
        }
        skip_comments(ps);
        add_mailbox(ps, spec, angle);
        return 0;
    }
    add_mailbox(ps, NULL, spec);
    return 0;
}

/* Angle brackets must pair up and not nest: checked over the whole token
 * stream first so that "a@<b" reports the bracket, not the domain. */
static const char *check_angles(const struct toks *t)
{
    bool open = false;
    for (size_t i = 0; i < t->n; i++) {
        const struct token *k = &t->v[i];
        if (k->type != T_SPECIAL)
            continue;
        if (k->c == '<') {
            if (open)
                return _("nested angle brackets");
            open = true;
        } else if (k->c == '>') {
            if (!open)
                return _("unbalanced angle bracket");
            open = false;
        }
    }
    return open ? _("unbalanced angle bracket") : NULL;
}

static void set_list_error(struct result *r, const char *text, const char *reason)
{
    char *q = escape_for_message(text);
    result_set(r, RC_DATAERR, _("invalid address list \"%s\": %s"), q, reason);
    free(q);
}

int address_parse_list(const char *text, struct addr_list *out, struct result *r)
{
    struct parser ps;
    memset(&ps, 0, sizeof ps);
    const char *reason = tokenize(text, &ps.t);
    if (reason) {
        set_list_error(r, text, reason);
        toks_free(&ps.t);
        return -1;
    }
    reason = check_angles(&ps.t);
    if (reason) {
        set_list_error(r, text, reason);
        toks_free(&ps.t);
        return -1;
    }
    for (;;) {
        free(ps.comment);
        ps.comment = NULL;
        skip_comments(&ps);
        if (cur(&ps)->type == T_END)
            break;
        if (at_special(&ps, ',')) {
            ps.i++;
            continue;
        }
        if (parse_address(&ps, true) != 0)
            break;
        if (!at_special(&ps, ',') && cur(&ps)->type != T_END) {
            fail_unexpected(&ps);
            break;
        }
    }
    free(ps.comment);
    toks_free(&ps.t);
    if (ps.error) {
        set_list_error(r, text, ps.error);
        addr_list_free(&ps.out);
        return -1;
    }
    for (size_t i = 0; i < ps.out.n; i++) {
        /* move without copying */
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->v = xrealloc(out->v, out->cap * sizeof *out->v);
        }
        out->v[out->n++] = ps.out.v[i];
    }
    free(ps.out.v);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Envelope address validation                                          */

#define LOCAL_MAX 64
#define DOMAIN_MAX 255
#define PATH_MAX_OCTETS 256   /* RFC 5321 4.5.3.1.3: including "<" and ">" */

/* Reason s is not safe UTF-8, or NULL: octets that are not well-formed
 * UTF-8, or a C1 control character (U+0080 to U+009F), refused like the
 * C0 ones. */
static const char *utf8_problem(const char *s)
{
    for (size_t i = 0, n = strlen(s), len; i < n; i += len) {
        long cp = utf8_decode(s + i, n - i, &len);
        if (cp < 0)
            return _("not valid UTF-8");
        if (cp >= 0x80 && cp <= 0x9f)
            return _("contains a control character");
    }
    return NULL;
}

/* Reason addr is not a safe envelope address, or NULL. */
static const char *envelope_problem(const char *addr, bool is_sender)
{
    const unsigned char *p;

    for (p = (const unsigned char *)addr; *p; p++)
        if (*p == '\r' || *p == '\n')
            return _("contains a line break");
    for (p = (const unsigned char *)addr; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return _("contains a control character");
    const char *utf8 = utf8_problem(addr);
    if (utf8)
        return utf8;

    /* one enclosing pair of angle brackets is tolerated */
    size_t len = strlen(addr);
    const char *s = addr;
    if (len >= 1 && (addr[0] == '<' || addr[len - 1] == '>')) {
        if (len < 2 || addr[0] != '<' || addr[len - 1] != '>')
            return _("unbalanced angle bracket");
        s = addr + 1;
        len -= 2;
    }
    if (len == 0)
        return is_sender ? NULL : _("empty address");

    /* local part: a quoted string or everything up to the first '@' */
    size_t i = 0;
    if (s[0] == '"') {
        for (i = 1; i < len && s[i] != '"'; i++)
            if (s[i] == '\\' && i + 1 < len)
                i++;
        if (i >= len)
            return _("unterminated quoted string");
        i++;
        if (i < len && s[i] != '@')
            return _("text after the quoted local part");
    } else {
        while (i < len && s[i] != '@')
            i++;
    }
    size_t local_len = i;
    for (size_t k = 0; k < len; k++) {
        if (s[0] == '"' && k < local_len)
            continue;
        if (s[k] == '<' || s[k] == '>')
            return memchr(s, '<', len) && memchr(s, '>', len) ? _("nested angle brackets")
                                                               : _("unbalanced angle bracket");
        if (s[k] == ' ')
            return _("contains a space");
    }
    if (local_len == 0)
        return _("empty local part");
    if (local_len > LOCAL_MAX)
        return _("local part longer than 64 octets");
    if (i < len) {
        const char *domain = s + i + 1;
        size_t dlen = len - i - 1;
        if (dlen == 0)
            return _("nothing after \"@\"");
        if (memchr(domain, '@', dlen))
            return _("more than one \"@\"");
        if (dlen > DOMAIN_MAX)
            return _("domain longer than 255 octets");
    }
    if (len + 2 > PATH_MAX_OCTETS)
        return _("longer than 254 octets (256 with angle brackets)");
    return NULL;
}

int address_validate_envelope(const char *addr, bool is_sender, struct result *r)
{
    const char *reason = envelope_problem(addr, is_sender);
    if (!reason)
        return 0;
    char *q = escape_for_message(addr);
    if (is_sender)
        result_set(r, RC_DATAERR, _("invalid sender address \"%s\": %s"), q, reason);
    else
        result_set(r, RC_DATAERR, _("invalid recipient address \"%s\": %s"), q, reason);
    free(q);
    return -1;
}
