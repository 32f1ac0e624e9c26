/*
 * convert-header.c - one header field as it must be sent to a server
 * (convert_header_field, see convert-int.h).
 *
 * Owns: whether a field needs changing, the class of a field by its name
 * (address fields, MIME parameter fields, fields that have no encoded
 * form, unstructured fields), the tokens of a structured field (RFC 5322
 * 3.2: quoted strings, comments, domain literals, atoms, specials; RFC
 * 2045 5.1 tspecials for Content-Type and Content-Disposition) and what
 * becomes of each: display and group names and comments as RFC 2047
 * encoded-words, domains as A-labels (idn.h), parameter values as RFC
 * 2231 (comments inside a rewritten parameter follow it), a non-ASCII
 * local part refused; Keywords is text whose commas stay outside the
 * encoded-words.
 * Must not: reformat what needs no change (a field that needs none is
 * copied byte for byte; in one that does, the tokens that need none keep
 * their spelling and the white space before them), recurse, or read the
 * message around the field. The folding and the encoded-words are
 * convert-words.c's.
 *
 * The input is untrusted: one pass to cut tokens (comments may nest 64
 * deep, no more), one to give address tokens their roles, one to write;
 * memory is linear in the field.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "i18n.h"
#include "idn.h"

/* Comments nested deeper than this are refused (RFC 5322 sets no limit;
 * nothing real comes near it). */
#define COMMENT_DEPTH_MAX 64
/* Longest text of the field quoted in a refusal. */
#define QUOTE_MAX 200

enum field_class { FC_TEXT, FC_ADDRESS, FC_MIME, FC_NOENC };

static const char *const address_fields[] = {
    "from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to",
    "resent-cc", "resent-bcc", "resent-sender", "return-receipt-to",
    "disposition-notification-to", "mail-followup-to", "mail-reply-to", "errors-to",
};
static const char *const noenc_fields[] = {
    "message-id", "resent-message-id", "in-reply-to", "references", "date", "resent-date",
    "content-id", "content-transfer-encoding", "mime-version", "received", "return-path",
    "dkim-signature", "authentication-results",
};

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && ascii_strncasecmp(name, want, n) == 0;
}

static enum field_class classify(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof address_fields / sizeof address_fields[0]; i++)
        if (name_is(name, n, address_fields[i]))
            return FC_ADDRESS;
    for (size_t i = 0; i < sizeof noenc_fields / sizeof noenc_fields[0]; i++)
        if (name_is(name, n, noenc_fields[i]))
            return FC_NOENC;
    if (n > 4 && ascii_strncasecmp(name, "arc-", 4) == 0)
        return FC_NOENC;
    if (name_is(name, n, "content-type") || name_is(name, n, "content-disposition"))
        return FC_MIME;
    return FC_TEXT;
}

static bool is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- tokens of a structured field ---------------------------------- */

enum tok_type { TK_ATOM, TK_QSTR, TK_DLIT, TK_COMMENT, TK_SPECIAL, TK_OTHER };
enum tok_role { ROLE_NONE, ROLE_PHRASE, ROLE_LOCAL, ROLE_DOMAIN };

struct tok {
    unsigned char type, role;
    bool open;             /* a quoted string, comment or literal without its end */
    size_t ws, wl;         /* the white space before it */
    size_t off, len;       /* the token as written */
    size_t glue;           /* what follows it with no place to fold between */
};

struct toks {
    struct tok *v;
    size_t n, cap;
    size_t tail, tail_len; /* white space after the last token */
};

/* Everything the writing of one field needs. */
struct field {
    struct convert_writer w;
    const char *v;          /* the value (after the colon) */
    size_t vn;
    bool smtputf8;
    char *label;            /* the field name, escaped for a message */
    struct result r;        /* a refusal with its own sentence */
};

static bool is_special(char c, bool mime)
{
    if (strchr("<>@,;:", c))
        return c != '\0';
    return mime && (c == '/' || c == '?' || c == '=');
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* The length of the quoted pair at s[i] (i < end), the character it
 * quotes being the last one, or 0 when there is none. The field is read
 * unfolded (RFC 5322 2.2.3): a backslash before a fold quotes the white
 * space after it. */
static size_t pair_len(const char *s, size_t i, size_t end)
{
    if (s[i] != '\\')
        return 0;
    size_t k = i + 1;
    while (k < end && (s[k] == '\r' || s[k] == '\n'))
        k++;
    return k < end ? k - i + 1 : 0;
}

/* The end of a quoted string, comment or domain literal that starts at
 * i (its opening character): the index after its closing character, or
 * n when it has none (*open set). Quoted pairs are skipped. -1 when
 * comments nest too deeply. */
static long scan_delimited(const char *s, size_t n, size_t i, char close, bool nest, bool *open)
{
    size_t depth = 1, j = i + 1;
    char opening = s[i];
    while (j < n) {
        char c = s[j];
        size_t pl = pair_len(s, j, n);
        if (pl > 0) {
            j += pl;
            continue;
        }
        j++;
        if (nest && c == opening) {
            if (++depth > COMMENT_DEPTH_MAX)
                return -1;
        } else if (c == close && --depth == 0) {
            *open = false;
            return (long)j;
        }
    }
    *open = true;
    return (long)n;
}

/* Cut s[0..n) into tokens. 0, or -1 when comments nest too deeply. */
static int tokenize(const char *s, size_t n, bool mime, struct toks *t)
{
    size_t i = 0;
    for (;;) {
        size_t ws0 = i;
        while (i < n && is_fws(s[i]))
            i++;
        if (i == n) {
            t->tail = ws0;
            t->tail_len = i - ws0;
            return 0;
        }
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 32;
            t->v = xrealloc(t->v, t->cap * sizeof *t->v);
        }
        struct tok *k = &t->v[t->n++];
        memset(k, 0, sizeof *k);
        k->ws = ws0;
        k->wl = i - ws0;
        k->off = i;
        char c = s[i];
        size_t end = i + 1;
        if (c == '(' || c == '"' || c == '[') {
            char close = c == '(' ? ')' : c == '"' ? '"' : ']';
            long e = scan_delimited(s, n, i, close, c == '(', &k->open);
            if (e < 0)
                return -1;
            end = (size_t)e;
            k->type = c == '(' ? TK_COMMENT : c == '"' ? TK_QSTR : TK_DLIT;
        } else if (is_special(c, mime)) {
            k->type = TK_SPECIAL;
        } else if (c == ')' || c == ']' || c == '\\' || is_ctl((unsigned char)c)) {
            k->type = TK_OTHER;
        } else {
            k->type = TK_ATOM;
            while (end < n && !is_fws(s[end]) && !is_special(s[end], mime) &&
                   !strchr("()[]\"\\", s[end]) && !is_ctl((unsigned char)s[end]))
                end++;
        }
        k->len = end - i;
        i = end;
    }
}

static bool tok_is_word(const struct tok *k)
{
    return k->type == TK_ATOM || k->type == TK_QSTR || k->type == TK_DLIT;
}

static bool tok_is(const struct field *f, const struct tok *k, char c)
{
    return k->type == TK_SPECIAL && f->v[k->off] == c;
}

/* Whether a fold may come before token j (a space inserted when there
 * is no white space): where there is white space, around comments,
 * after "," ";" ":" ">" and before "<" (address fields), after ";"
 * (MIME fields); before "," or ";" only after another one (an empty
 * element of a list). */
static bool can_break_before(const struct field *f, const struct toks *t, size_t j, bool mime)
{
    const struct tok *k = &t->v[j];
    if (j == 0 || k->wl > 0 || k->type == TK_COMMENT || t->v[j - 1].type == TK_COMMENT)
        return true;
    const struct tok *p = &t->v[j - 1];
    if (tok_is(f, k, ',') || tok_is(f, k, ';'))
        return tok_is(f, p, ',') || tok_is(f, p, ';');
    if (mime)
        return tok_is(f, p, ';');
    return tok_is(f, k, '<') || (p->type == TK_SPECIAL && strchr(",;:>", f->v[p->off]));
}

/* Fill in the glue of every token, from the last one back. */
static void compute_glue(const struct field *f, struct toks *t, bool mime)
{
    for (size_t j = t->n; j-- > 0;)
        t->v[j].glue = j + 1 < t->n && !can_break_before(f, t, j + 1, mime)
                           ? t->v[j + 1].len + t->v[j + 1].glue : 0;
}

/* ---- writing pieces ------------------------------------------------ */

/* Write s[0..n) as it is, after ws (or after its own leading white
 * space), folding at its white space (not at white space escaped by a
 * backslash); with msgids also between ">" and "<". */
static int put_raw(struct field *f, const char *ws, size_t wl, bool may_insert, const char *s,
                   size_t n, bool msgids)
{
    size_t i = 0;
    bool first = true, ins = may_insert;
    for (;;) {
        size_t ws0 = i;
        while (i < n && is_fws(s[i]))
            i++;
        const char *pws = first && i == ws0 ? ws : s + ws0;
        size_t pwl = first && i == ws0 ? wl : i - ws0;
        if (i == n)
            return convert_writer_put(&f->w, pws, pwl, false, "", 0);
        size_t w0 = i;
        bool split = false;
        while (i < n && !is_fws(s[i])) {
            if (s[i] == '\\' && i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t')) {
                i += 2;
                continue;
            }
            i++;
            if (msgids && s[i - 1] == '>' && i < n && s[i] == '<') {
                split = true;
                break;
            }
        }
        if (convert_writer_put(&f->w, pws, pwl, ins, s + w0, i - w0) != 0)
            return -1;
        first = false;
        ins = split;
    }
}

static bool tok_needs(const struct field *f, const struct tok *k)
{
    return convert_words_need_8bit(f->v + k->off, k->len, f->smtputf8);
}

/* Why 8-bit octets must go: for the sentences of refusals. */
static const char *why_8bit(const struct field *f)
{
    return f->smtputf8 ? _("they are not valid UTF-8")
                       : _("the server does not offer SMTPUTF8");
}

static void refuse_unparsed(struct field *f, const char *what)
{
    result_set(&f->r, RC_DATAERR,
               _("the %s: field has 8-bit characters that would have to be encoded (%s), "
                 "but it cannot be parsed: %s"), f->label, why_8bit(f), what);
}

/* Append the value of a quoted string (quotes and backslashes of quoted
 * pairs taken away, line breaks dropped). */
static void unquote(struct buf *b, const char *s, size_t n)
{
    size_t i = 1, end = n >= 2 ? n - 1 : n;
    while (i < end) {
        char c = s[i];
        size_t pl = pair_len(s, i, end);
        if (pl > 0) {
            buf_putc(b, s[i + pl - 1]);
            i += pl;
            continue;
        }
        if (c != '\r' && c != '\n')
            buf_putc(b, c);
        i++;
    }
}

/* A comment: as it is when it needs no change; else its parentheses
 * (nested ones too) kept and the words between them written by
 * convert_writer_words, the ones with 8-bit octets as encoded-words
 * (RFC 2047 5(2)); after the white space ws[0..wl). */
static int put_comment(struct field *f, const struct tok *k, const char *ws, size_t wl,
                       bool may_insert)
{
    const char *s = f->v + k->off;
    if (!tok_needs(f, k))
        return put_raw(f, ws, wl, may_insert, s, k->len, false);
    if (k->open) {
        refuse_unparsed(f, _("a comment has no closing parenthesis"));
        return -1;
    }
    if (convert_writer_put(&f->w, ws, wl, may_insert, "(", 1) != 0)
        return -1;
    struct buf seg = BUF_INIT;
    size_t i = 1, end = k->len - 1;
    int rc = 0;
    for (;;) {
        char c = i < end ? s[i] : ')';
        if (i == end || c == '(' || c == ')') {
            rc = convert_writer_words(&f->w, seg.data, seg.len, CONVERT_EW_COMMENT, f->smtputf8,
                                      false, false);
            buf_reset(&seg);
            if (rc == 0)
                rc = convert_writer_put(&f->w, "", 0, false, &c, 1);
            if (rc != 0 || i == end)
                break;
            i++;
            continue;
        }
        size_t pl = pair_len(s, i, end);
        if (pl > 0) {
            buf_putc(&seg, s[i + pl - 1]);
            i += pl;
            continue;
        }
        buf_putc(&seg, c);
        i++;
    }
    buf_free(&seg);
    return rc;
}

/* A display or group name: tokens a..b (words and comments). As they
 * are when no word needs a change; else the words, unquoted, written by
 * convert_writer_words (RFC 2047 5(3)), a comment among them standing
 * for a space, and the comments after them (so that no comment stands
 * between two encoded-words, where readers differ on the space). */
static int put_phrase(struct field *f, const struct toks *t, size_t a, size_t b, bool may_insert)
{
    bool needs = false;
    for (size_t i = a; i <= b; i++) {
        const struct tok *k = &t->v[i];
        if (k->type != TK_COMMENT && (tok_needs(f, k) || k->len + 1 > CONVERT_LINE_MAX))
            needs = true;
    }
    if (!needs) {
        for (size_t i = a; i <= b; i++) {
            const struct tok *k = &t->v[i];
            bool ins = i == a && may_insert;
            int rc = k->type == TK_COMMENT ? put_comment(f, k, f->v + k->ws, k->wl, ins)
                                           : put_raw(f, f->v + k->ws, k->wl, ins, f->v + k->off,
                                                     k->len, false);
            if (rc != 0)
                return -1;
        }
        return 0;
    }
    struct buf text = BUF_INIT;
    for (size_t i = a; i <= b; i++) {
        const struct tok *k = &t->v[i];
        if (k->type == TK_COMMENT) {
            /* one run of white space where the comment was (b is a word,
             * so a token follows) */
            if (t->v[i + 1].wl == 0) {
                if (k->wl > 0)
                    buf_append(&text, f->v + k->ws, k->wl);
                else
                    buf_putc(&text, ' ');
            }
            continue;
        }
        buf_append(&text, f->v + k->ws, k->wl);
        if (k->type == TK_QSTR)
            unquote(&text, f->v + k->off, k->len);
        else
            buf_append(&text, f->v + k->off, k->len);
    }
    int rc = convert_writer_words(&f->w, text.data, text.len, CONVERT_EW_PHRASE, f->smtputf8,
                                  true, may_insert);
    for (size_t i = a; i <= b && rc == 0; i++)
        if (t->v[i].type == TK_COMMENT)
            rc = put_comment(f, &t->v[i], " ", 1, true);
    buf_free(&text);
    return rc;
}

/* Give each word of an address field its role: the word after "@" is a
 * domain; words (and comments) up to a "<", or to a ":" outside angle
 * brackets, are a display or group name; other words are a local part. */
static void assign_roles(const struct field *f, struct toks *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!tok_is(f, &t->v[i], '@'))
            continue;
        size_t j = i + 1;
        while (j < t->n && t->v[j].type == TK_COMMENT)
            j++;
        if (j < t->n && tok_is_word(&t->v[j]))
            t->v[j].role = ROLE_DOMAIN;
    }
    bool in_angle = false;
    size_t i = 0;
    while (i < t->n) {
        struct tok *k = &t->v[i];
        if (tok_is_word(k) && k->role == ROLE_NONE) {
            size_t j = i + 1;
            while (j < t->n && (t->v[j].type == TK_COMMENT ||
                                (tok_is_word(&t->v[j]) && t->v[j].role == ROLE_NONE)))
                j++;
            unsigned char role = ROLE_LOCAL;
            if (j < t->n && (tok_is(f, &t->v[j], '<') || (!in_angle && tok_is(f, &t->v[j], ':'))))
                role = ROLE_PHRASE;
            for (size_t x = i; x < j; x++)
                if (tok_is_word(&t->v[x]))
                    t->v[x].role = role;
            i = j;
            continue;
        }
        if (tok_is(f, k, '<'))
            in_angle = true;
        else if (tok_is(f, k, '>'))
            in_angle = false;
        i++;
    }
}

/* The address that token i starts (through the domain after its "@"),
 * for a refusal: line breaks dropped, control characters escaped, cut
 * at QUOTE_MAX. Caller frees. */
static char *address_text(const struct field *f, const struct toks *t, size_t i)
{
    size_t end = t->v[i].off + t->v[i].len;
    size_t j = i + 1;
    while (j < t->n && t->v[j].type == TK_COMMENT)
        j++;
    if (j < t->n && tok_is(f, &t->v[j], '@')) {
        j++;
        while (j < t->n && t->v[j].type == TK_COMMENT)
            j++;
        if (j < t->n && t->v[j].role == ROLE_DOMAIN)
            end = t->v[j].off + t->v[j].len;
    }
    struct buf plain = BUF_INIT, b = BUF_INIT;
    for (size_t x = t->v[i].off; x < end; x++)
        if (f->v[x] != '\r' && f->v[x] != '\n')
            buf_putc(&plain, f->v[x]);
    buf_put_escaped(&b, plain.data, plain.len > QUOTE_MAX ? QUOTE_MAX : plain.len, ESCAPE_NAMED);
    if (plain.len > QUOTE_MAX)
        buf_puts(&b, "...");
    buf_free(&plain);
    return buf_steal(&b);
}

static int put_domain(struct field *f, const struct tok *k, bool may_insert)
{
    if (k->type != TK_ATOM) {
        result_set(&f->r, RC_DATAERR,
                   _("the %s: field has a domain with 8-bit characters that is not a name (%s), "
                     "which cannot be converted to ASCII"), f->label, why_8bit(f));
        return -1;
    }
    if (!convert_utf8_valid(f->v + k->off, k->len)) {
        struct buf b = BUF_INIT;
        buf_put_escaped(&b, f->v + k->off, k->len > QUOTE_MAX ? QUOTE_MAX : k->len,
                        ESCAPE_NAMED | ESCAPE_8BIT);
        result_set(&f->r, RC_DATAERR,
                   _("the domain \"%s\" in the %s: field is not valid UTF-8 and cannot be "
                     "converted to ASCII"), b.data, f->label);
        buf_free(&b);
        return -1;
    }
    char *d = xstrndup(f->v + k->off, k->len);
    struct result ir = RESULT_INIT;
    char *ascii = idn_host_to_ascii(d, &ir);
    free(d);
    if (!ascii) {
        result_set(&f->r, ir.cls, _("%s (in the %s: field)"), ir.msg ? ir.msg : "", f->label);
        result_clear(&ir);
        return -1;
    }
    /* what libidn2 gives must still be a domain (a compatibility mapping
     * can give other characters, such as parentheses) */
    size_t al = strlen(ascii);
    if (al == 0 || strspn(ascii, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789-._") != al) {
        struct buf b = BUF_INIT;
        buf_put_escaped(&b, f->v + k->off, k->len > QUOTE_MAX ? QUOTE_MAX : k->len,
                        ESCAPE_NAMED);
        result_set(&f->r, RC_DATAERR,
                   _("the domain \"%s\" in the %s: field does not convert to a domain name "
                     "in ASCII"), b.data, f->label);
        buf_free(&b);
        free(ascii);
        return -1;
    }
    int rc = convert_writer_put(&f->w, f->v + k->ws, k->wl, may_insert, ascii, al);
    free(ascii);
    return rc;
}

/* An address field (From, To, Cc, ...): the structure kept token by
 * token, the names and comments encoded, the domains as A-labels. */
static int put_address_field(struct field *f, struct toks *t)
{
    assign_roles(f, t);
    compute_glue(f, t, false);
    for (size_t i = 0; i < t->n; i++) {
        struct tok *k = &t->v[i];
        const char *ws = f->v + k->ws, *s = f->v + k->off;
        bool ins = can_break_before(f, t, i, false);
        int rc;
        f->w.glue = k->glue;
        if (k->type == TK_COMMENT) {
            rc = put_comment(f, k, ws, k->wl, ins);
        } else if (k->type == TK_SPECIAL || k->type == TK_OTHER) {
            rc = convert_writer_put(&f->w, ws, k->wl, ins, s, k->len);
        } else if (k->role == ROLE_PHRASE) {
            size_t b = i;
            for (size_t j = i + 1; j < t->n; j++) {
                if (t->v[j].type == TK_COMMENT)
                    continue;
                if (!tok_is_word(&t->v[j]) || t->v[j].role != ROLE_PHRASE)
                    break;
                b = j;
            }
            f->w.glue = 0;
            rc = put_phrase(f, t, i, b, ins);
            i = b;
        } else if (!tok_needs(f, k)) {
            rc = put_raw(f, ws, k->wl, ins, s, k->len, false);
        } else if (k->role == ROLE_DOMAIN) {
            rc = put_domain(f, k, ins);
        } else {
            char *addr = address_text(f, t, i);
            if (f->smtputf8)
                result_set(&f->r, RC_DATAERR,
                           _("the address <%s> in the %s: field has a local part that is not "
                             "valid UTF-8"), addr, f->label);
            else
                result_set(&f->r, RC_DATAERR,
                           _("the address <%s> in the %s: field has a non-ASCII local part, "
                             "which cannot be converted for a server without SMTPUTF8"),
                           addr, f->label);
            free(addr);
            rc = -1;
        }
        if (rc != 0)
            return -1;
    }
    return convert_writer_put(&f->w, f->v + t->tail, t->tail_len, false, "", 0);
}

/* The next token from i that is not a comment, or t->n. */
static size_t next_significant(const struct toks *t, size_t i)
{
    while (i < t->n && t->v[i].type == TK_COMMENT)
        i++;
    return i;
}

/* A parameter attr=value (tokens ai and vi) as RFC 2231: name*=charset''
 * %XX..., or name*0*=..., name*1*=..., when that does not fit on a line.
 * A parameter that is already name*= keeps its charset and is
 * percent-encoded where it has 8-bit octets; name*N*= stays one piece;
 * name*N= cannot be encoded. */
static int put_parameter(struct field *f, const struct toks *t, size_t ai, size_t vi,
                         bool may_insert)
{
    const struct tok *ak = &t->v[ai], *vk = &t->v[vi];
    const char *attr = f->v + ak->off, *ws = f->v + ak->ws;
    size_t alen = ak->len;
    struct buf val = BUF_INIT, ev = BUF_INIT, piece = BUF_INIT;
    if (vk->type == TK_QSTR)
        unquote(&val, f->v + vk->off, vk->len);
    else
        buf_append(&val, f->v + vk->off, vk->len);
    const char *star = memchr(attr, '*', alen);
    size_t base = alen;
    int rc = 0;
    if (star && attr[alen - 1] != '*') {
        result_set(&f->r, RC_DATAERR,
                   _("the %s: field has a parameter %.*s with 8-bit characters (%s) that "
                     "cannot be encoded"), f->label, (int)alen, attr, why_8bit(f));
        rc = -1;
        goto done;
    }
    if (star && star != attr + alen - 1) {
        /* name*N*=: one piece of an encoded value */
        buf_append(&piece, attr, alen);
        buf_putc(&piece, '=');
        convert_rfc2231_pct(&piece, val.data, val.len, true);
        rc = convert_writer_put(&f->w, ws, ak->wl, may_insert, piece.data, piece.len);
        goto done;
    }
    if (star) {
        base = alen - 1;
        convert_rfc2231_pct(&ev, val.data, val.len, true);
    } else {
        buf_puts(&ev, convert_utf8_valid(val.data, val.len) ? "utf-8''" : "unknown-8bit''");
        convert_rfc2231_pct(&ev, val.data, val.len, false);
    }
    if (base + 2 + ev.len + 2 <= CONVERT_LINE_SOFT) {
        buf_append(&piece, attr, base);
        buf_puts(&piece, "*=");
        buf_append(&piece, ev.data, ev.len);
        rc = convert_writer_put(&f->w, ws, ak->wl, may_insert, piece.data, piece.len);
        goto done;
    }
    size_t pos = 0;
    for (unsigned idx = 0; pos < ev.len && rc == 0; idx++) {
        buf_reset(&piece);
        buf_append(&piece, attr, base);
        buf_printf(&piece, "*%u*=", idx);
        size_t room = piece.len + 3 < CONVERT_LINE_SOFT ? CONVERT_LINE_SOFT - piece.len - 2 : 0;
        if (room < 16)
            room = 16;
        size_t take = ev.len - pos < room ? ev.len - pos : room;
        if (pos + take < ev.len) {
            /* never cut a %XX */
            if (ev.data[pos + take - 1] == '%')
                take -= 1;
            else if (ev.data[pos + take - 2] == '%')
                take -= 2;
            /* nor, where it can be helped, a UTF-8 character */
            for (int back = 0; back < 3 && take > 6 && ev.data[pos + take] == '%' &&
                               (hex_digit_value(ev.data[pos + take + 1]) & 0xc) == 0x8; back++)
                take -= 3;
        }
        buf_append(&piece, ev.data + pos, take);
        pos += take;
        if (pos < ev.len)
            buf_putc(&piece, ';');
        rc = idx == 0 ? convert_writer_put(&f->w, ws, ak->wl, may_insert, piece.data, piece.len)
                      : convert_writer_put(&f->w, " ", 1, true, piece.data, piece.len);
    }
done:
    buf_free(&val);
    buf_free(&ev);
    buf_free(&piece);
    return rc;
}

/* Content-Type, Content-Disposition: the type and the parameters kept
 * as they are, but a value with 8-bit octets (or one too long for a
 * line) as RFC 2231; folded between parameters. */
static int put_mime_field(struct field *f, struct toks *t)
{
    bool seg_first = false;
    size_t seg = 0;
    compute_glue(f, t, true);
    for (size_t i = 0; i < t->n; i++) {
        struct tok *k = &t->v[i];
        const char *ws = f->v + k->ws, *s = f->v + k->off;
        bool ins = can_break_before(f, t, i, true);
        int rc = 0;
        f->w.glue = k->glue;
        if (k->type == TK_COMMENT) {
            if (put_comment(f, k, ws, k->wl, true) != 0)
                return -1;
            continue;
        }
        if (tok_is(f, k, ';')) {
            if (convert_writer_put(&f->w, ws, k->wl, ins, s, k->len) != 0)
                return -1;
            seg++;
            seg_first = true;
            continue;
        }
        if (seg > 0 && seg_first && k->type == TK_ATOM) {
            size_t e = next_significant(t, i + 1);
            size_t v = e < t->n && tok_is(f, &t->v[e], '=') ? next_significant(t, e + 1) : t->n;
            size_t after = v < t->n ? next_significant(t, v + 1) : t->n;
            bool param = v < t->n && (t->v[v].type == TK_ATOM || t->v[v].type == TK_QSTR) &&
                         !t->v[v].open && (after == t->n || tok_is(f, &t->v[after], ';'));
            if (param && !tok_needs(f, k) &&
                (tok_needs(f, &t->v[v]) || k->len + 1 + t->v[v].len + 2 > CONVERT_LINE_MAX)) {
                f->w.glue = 0;
                if (put_parameter(f, t, i, v, ins) != 0)
                    return -1;
                for (size_t x = i + 1; x < v; x++)
                    if (t->v[x].type == TK_COMMENT &&
                        put_comment(f, &t->v[x], f->v + t->v[x].ws, t->v[x].wl, true) != 0)
                        return -1;
                i = v;
                seg_first = false;
                continue;
            }
            if (param && e == i + 1 && v == e + 1 && t->v[e].wl == 0 && t->v[v].wl == 0 &&
                !tok_needs(f, k) && !tok_needs(f, &t->v[v])) {
                /* attr=value as one piece: folded before it, not inside a
                 * quoted value */
                struct buf piece = BUF_INIT;
                for (size_t x = k->off; x < t->v[v].off + t->v[v].len; x++)
                    if (f->v[x] != '\r' && f->v[x] != '\n')
                        buf_putc(&piece, f->v[x]);
                f->w.glue = t->v[v].glue;
                rc = convert_writer_put(&f->w, ws, k->wl, ins, piece.data, piece.len);
                buf_free(&piece);
                if (rc == 0) {
                    i = v;
                    seg_first = false;
                    continue;
                }
                f->w.glue = k->glue;
            }
        }
        seg_first = false;
        if (tok_needs(f, k)) {
            result_set(&f->r, RC_DATAERR,
                       _("the %s: field has 8-bit characters outside a parameter value (%s), "
                         "which cannot be encoded"), f->label, why_8bit(f));
            return -1;
        }
        if (k->type == TK_QSTR)
            rc = put_raw(f, ws, k->wl, ins, s, k->len, false);
        else
            rc = convert_writer_put(&f->w, ws, k->wl, ins, s, k->len);
        if (rc != 0)
            return -1;
    }
    return convert_writer_put(&f->w, f->v + t->tail, t->tail_len, false, "", 0);
}

/* A structured field through its tokens. */
static int put_structured(struct field *f, bool mime)
{
    struct toks t = { NULL, 0, 0, 0, 0 };
    int rc;
    if (tokenize(f->v, f->vn, mime, &t) != 0) {
        refuse_unparsed(f, _("comments are nested too deeply"));
        rc = -1;
    } else {
        rc = mime ? put_mime_field(f, &t) : put_address_field(f, &t);
    }
    free(t.v);
    return rc;
}

/* Keywords: text, but its commas stay outside the encoded-words, which
 * use the alphabet of a phrase, so that the list keeps its elements. */
static int put_keywords(struct field *f)
{
    size_t i = 0;
    for (;;) {
        const char *comma = memchr(f->v + i, ',', f->vn - i);
        size_t end = comma ? (size_t)(comma - f->v) : f->vn;
        if (convert_writer_words(&f->w, f->v + i, end - i, CONVERT_EW_LIST, f->smtputf8, true,
                                 i == 0) != 0)
            return -1;
        if (!comma)
            return 0;
        if (convert_writer_put(&f->w, "", 0, false, ",", 1) != 0)
            return -1;
        i = end + 1;
    }
}

int convert_header_field(struct buf *out, const char *field, size_t n, bool smtputf8,
                         struct result *r)
{
    bool has8 = false;
    size_t line = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)field[i];
        if (c >= 0x80)
            has8 = true;
        if (c == '\r' || c == '\n') {
            line = 0;
        } else if (++line > longest) {
            longest = line;
        }
    }
    if (longest <= CONVERT_LINE_MAX &&
        !(has8 && (!smtputf8 || !convert_utf8_valid(field, n)))) {
        buf_append(out, field, n);
        buf_puts(out, "\r\n");
        return 0;
    }

    const char *colon = memchr(field, ':', n);
    size_t nl = colon ? (size_t)(colon - field) : n;
    size_t nt = nl;
    while (nt > 0 && (field[nt - 1] == ' ' || field[nt - 1] == '\t'))
        nt--;
    struct buf lb = BUF_INIT;
    size_t shown = nt > 0 ? nt : nl;
    buf_put_escaped(&lb, field, shown > 100 ? 100 : shown, ESCAPE_NAMED | ESCAPE_8BIT);
    char *label = buf_steal(&lb);
    bool name_ok = colon != NULL && nt > 0 && nl + 1 <= CONVERT_LINE_MAX;
    for (size_t i = 0; i < nt && name_ok; i++)
        name_ok = field[i] > 0x20 && field[i] < 0x7f;
    if (!name_ok) {
        result_set(r, RC_DATAERR,
                   _("the header field \"%s\" would have to be converted (8-bit characters or a "
                     "line over 998 octets), but it has no valid field name"), label);
        free(label);
        return -1;
    }

    size_t start = out->len;
    struct field f = {
        .w = { out, nl + 1, false, false, false, 0 },
        .v = colon + 1,
        .vn = n - nl - 1,
        .smtputf8 = smtputf8,
        .label = label,
        .r = RESULT_INIT,
    };
    buf_append(out, field, nl + 1);
    int rc;
    switch (classify(field, nt)) {
    case FC_ADDRESS:
        rc = put_structured(&f, false);
        break;
    case FC_MIME:
        rc = put_structured(&f, true);
        break;
    case FC_NOENC:
        if (convert_words_need_8bit(f.v, f.vn, smtputf8)) {
            result_set(&f.r, RC_DATAERR,
                       _("the %s: field has 8-bit characters (%s), and this field has no "
                         "encoded form for them"), label, why_8bit(&f));
            rc = -1;
        } else {
            rc = put_raw(&f, "", 0, true, f.v, f.vn, true);
        }
        break;
    default:
        if (name_is(field, nt, "keywords"))
            rc = put_keywords(&f);
        else
            rc = convert_writer_words(&f.w, f.v, f.vn, CONVERT_EW_TEXT, smtputf8, true, true);
        break;
    }
    if (rc != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        if (f.r.cls == RC_OK)
            result_set(r, RC_DATAERR,
                       _("the %s: field cannot be written in lines of at most 998 octets: it "
                         "has no place to fold"), label);
        else
            result_set(r, f.r.cls, "%s", f.r.msg);
        result_clear(&f.r);
        free(label);
        return -1;
    }
    buf_puts(out, "\r\n");
    free(label);
    return 1;
}
