/*
 * intake.c - turning a message's bytes, fed in pieces of any size, into
 * a private, unlinked temporary file (see intake.h); reading standard
 * input is a loop over intake_feed().
 *
 * Owns: the intake context (all scanner state lives in it, so a piece
 * boundary can fall anywhere: inside a CRLF, a header field, a lone
 * "." line); the temporary file; line-ending canonicalization (CRLF, bare CR
 * and bare LF all become CRLF, also across read-block boundaries; NUL
 * bytes dropped and counted; a missing final line end added); the lone
 * "." that ends input on a terminal; the header scan (mbox "From " line
 * dropped, Bcc/Resent-Bcc removal, -t recipients from To/Cc/Bcc or the
 * first Resent-* block, From/Sender/Date/Message-ID facts, addition of
 * missing From/Date/Message-ID, also to an empty input; To/Cc/Bcc
 * replaced by "To: undisclosed-recipients:;" on request); the size,
 * 8-bit and line-length facts.
 *
 * Does not: dot-stuff (smtp.c does that on the wire), warn about NUL bytes
 * or decide what an empty message means (the caller does).
 *
 * Speed: this is on the hot path of very large messages. Standard input is
 * read in INTAKE_BLOCK_SIZE blocks; each piece fed is scanned for
 * CR/LF/NUL/high bytes 16 bytes at a time, and written out in
 * OUT_BLOCK_SIZE blocks; memory use does not grow with the message. Only the header section is handled line by line, with
 * caps (FIELD_MAX per field, HEADER_MAX for the section) beyond which the
 * message is refused (see header_overflow): a cap never changes which
 * lines are header fields.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE2__) && defined(__GNUC__)
# include <emmintrin.h>
# define INTAKE_SSE2 1
#endif

#include "i18n.h"
#include "intake.h"
#include "util.h"

#define OUT_BLOCK_SIZE (256 * 1024)
#define FIELD_MAX (1024 * 1024)          /* one header field, all its lines */
#define HEADER_MAX (16 * 1024 * 1024)    /* the whole header section */

enum field_kind {
    F_NONE,          /* not a header field (orphan continuation, body line) */
    F_OTHER,
    F_FROM, F_SENDER, F_DATE, F_MSGID,
    F_TO, F_CC, F_BCC,
    F_RESENT_TO, F_RESENT_CC, F_RESENT_BCC,
};

/* How end_headers() treats the header/body separator. */
enum blank_line {
    BLANK_NEVER,     /* end of input: headers only, add nothing */
    BLANK_ALWAYS,    /* the input's own empty line */
    BLANK_IF_HEADER, /* a body line follows: separate it if any header was written */
};

struct intake {
    const struct intake_opts *o;
    struct message msg;         /* what intake_end() hands over */
    struct result res;          /* our failure, for intake_end() */
    struct message *m;          /* &msg */
    struct result *r;           /* &res */
    const char *dir;            /* directory of the temporary file (for messages) */
    bool failed;                /* r holds our failure */
    bool drain;                 /* stop processing; just read to the end */
    bool done;                  /* the lone "." was seen */
    size_t field_max, header_max;  /* FIELD_MAX, HEADER_MAX unless the options say */

    /* output */
    int fd;
    unsigned char *obuf;
    size_t olen;
    bool write_failed;

    /* line scanner */
    bool skip_lf;               /* the last line end was a CR: swallow one LF */
    bool in_body;
    size_t cur_len;             /* octets of the current body line so far */
    bool held_dot;              /* body line so far is "." (dot_ends only) */

    /* header section */
    bool first_line;            /* the next header line is the first of the input */
    bool hdr_written;           /* a header line went to the output */
    bool discard;               /* dropping an over-long field being removed */
    bool discard_line;          /* dropping the rest of the current line (of that
                                   field, or an over-long mbox "From " line) */
    size_t hdr_total;
    struct buf line;            /* current header line, no line end */
    struct buf field;           /* pending field: its lines joined by CRLF */
    int resent_block;           /* 0 none seen, 1 in the first, 2 after it */
    bool resent_rcpt_seen;
    struct addr_list plain_rcpts, resent_rcpts;
};

/* ---------------------------------------------------------------- output */

static void out_flush(struct intake *in)
{
    if (in->olen && !in->write_failed && write_all(in->fd, in->obuf, in->olen) != 0) {
        int e = errno;
        result_set(in->r, RC_IOERR, _("cannot write the temporary file in %s: %s"),
                   in->dir, strerror(e));
        in->failed = in->write_failed = in->drain = true;
    }
    in->olen = 0;
}

static inline void out_write(struct intake *in, const void *p, size_t n)
{
    in->m->size += (long long)n;
    if (n < OUT_BLOCK_SIZE - in->olen) {        /* the common case: it fits */
        memcpy(in->obuf + in->olen, p, n);
        in->olen += n;
        return;
    }
    while (n) {
        size_t room = OUT_BLOCK_SIZE - in->olen;
        size_t k = n < room ? n : room;
        memcpy(in->obuf + in->olen, p, k);
        in->olen += k;
        p = (const unsigned char *)p + k;
        n -= k;
        if (in->olen == OUT_BLOCK_SIZE)
            out_flush(in);
    }
}

static void note_line(struct intake *in, size_t len)
{
    if (len > in->m->longest_line)
        in->m->longest_line = len;
}

/* Write text made of lines separated by CRLF, then a final CRLF. */
static void write_lines(struct intake *in, const char *s, size_t n)
{
    const char *end = s + n;
    const char *p = s;
    const char *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        note_line(in, (size_t)(nl - p) - 1);   /* CR precedes every LF here */
        p = nl + 1;
    }
    note_line(in, (size_t)(end - p));
    out_write(in, s, n);
    out_write(in, "\r\n", 2);
}

/* "Name: value" with any CR or LF in value turned into a space (the
 * values come from options and configuration; no header injection). */
static void write_header(struct intake *in, const char *name, const char *value)
{
    char *s = xasprintf("%s: %s", name, value);
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    write_lines(in, s, strlen(s));
    free(s);
    in->hdr_written = true;
}

/* ------------------------------------------------------------ body lines */

static void body_bytes(struct intake *in, const unsigned char *p, size_t n)
{
    if (in->o->dot_ends) {
        if (in->held_dot) {
            in->held_dot = false;
            out_write(in, ".", 1);
        } else if (in->cur_len == 0 && n == 1 && p[0] == '.') {
            in->held_dot = true;
            in->cur_len = 1;
            return;
        }
    }
    out_write(in, p, n);
    in->cur_len += n;
}

static void body_eol(struct intake *in)
{
    if (in->held_dot) {
        in->held_dot = false;
        in->done = true;
        return;
    }
    out_write(in, "\r\n", 2);
    note_line(in, in->cur_len);
    in->cur_len = 0;
}

/* ------------------------------------------------------- header analysis */

static bool is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool name_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && ascii_strncasecmp(s, want, n) == 0;
}

static enum field_kind classify(const char *s, size_t n)
{
    static const struct { const char *name; enum field_kind kind; } table[] = {
        { "From", F_FROM }, { "Sender", F_SENDER }, { "Date", F_DATE },
        { "Message-ID", F_MSGID }, { "To", F_TO }, { "Cc", F_CC }, { "Bcc", F_BCC },
        { "Resent-To", F_RESENT_TO }, { "Resent-Cc", F_RESENT_CC },
        { "Resent-Bcc", F_RESENT_BCC },
    };
    size_t name = message_field_name_len(s, n);
    if (name == 0)
        return F_NONE;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (name_is(s, name, table[i].name))
            return table[i].kind;
    return F_OTHER;
}

static bool is_rcpt_kind(enum field_kind k)
{
    return k == F_TO || k == F_CC || k == F_BCC ||
           k == F_RESENT_TO || k == F_RESENT_CC || k == F_RESENT_BCC;
}

/* Whether the field is removed from the output. */
static bool is_dropped(const struct intake *in, enum field_kind k)
{
    if (in->o->undisclosed && (k == F_TO || k == F_CC || k == F_BCC))
        return true;
    if (k == F_BCC || k == F_RESENT_BCC)
        return in->o->remove_bcc;
    if (k == F_FROM)
        return in->o->force_from && in->o->add_from;
    return false;
}

/* The unfolded value of a field (after the colon, line ends removed). */
static char *field_value(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    const char *p = colon ? colon + 1 : s + n;
    const char *end = s + n;
    char *v = xmalloc((size_t)(end - p) + 1);
    size_t k = 0;
    for (; p < end; p++)
        if (*p != '\r' && *p != '\n')
            v[k++] = *p;
    v[k] = '\0';
    return v;
}

static char *first_mailbox(const char *value)
{
    struct addr_list l = ADDR_LIST_INIT;
    struct result tr = RESULT_INIT;
    char *mb = NULL;
    if (address_parse_list(value, &l, &tr) == 0 && l.n > 0)
        mb = xstrdup(l.v[0].mailbox);
    addr_list_free(&l);
    result_clear(&tr);
    return mb;
}

static void collect(struct intake *in, const char *name, size_t name_len, const char *value,
                    struct addr_list *to)
{
    const char *p = value;
    while (is_wsp((unsigned char)*p))
        p++;
    if (*p == '\0')
        return;                 /* "Bcc:" with an empty value */
    struct addr_list l = ADDR_LIST_INIT;
    struct result tr = RESULT_INIT;
    if (address_parse_list(value, &l, &tr) != 0) {
        result_set(in->r, RC_DATAERR, _("cannot read the recipients in the %.*s header: %s"),
                   (int)name_len, name, tr.msg ? tr.msg : "");
        in->failed = in->drain = true;
    } else {
        for (size_t i = 0; i < l.n; i++)
            if (!addr_list_contains(to, l.v[i].mailbox))
                addr_list_add(to, l.v[i].display, l.v[i].mailbox);
    }
    addr_list_free(&l);
    result_clear(&tr);
}

/* Track the topmost contiguous group of Resent-* fields. */
static void track_resent(struct intake *in, const char *s, size_t name_len)
{
    bool resent = name_len > 7 && ascii_strncasecmp(s, "Resent-", 7) == 0;
    if (resent && in->resent_block == 0)
        in->resent_block = 1;
    else if (!resent && in->resent_block == 1)
        in->resent_block = 2;
}

/* The pending field is complete: look at it, then write or drop it. */
static void process_field(struct intake *in)
{
    if (in->field.len == 0)
        return;
    const char *s = in->field.data;
    size_t n = in->field.len;
    size_t name_len = message_field_name_len(s, n);
    enum field_kind kind = classify(s, n);
    const struct intake_opts *o = in->o;

    if (name_len)
        track_resent(in, s, name_len);
    if (kind == F_FROM || kind == F_SENDER || (is_rcpt_kind(kind) && o->collect_rcpts)) {
        char *value = field_value(s, n);
        if (kind == F_FROM && !in->m->from_header)
            in->m->from_header = first_mailbox(value);
        else if (kind == F_SENDER && !in->m->sender_header)
            in->m->sender_header = first_mailbox(value);
        else if (kind == F_TO || kind == F_CC || kind == F_BCC)
            collect(in, s, name_len, value, &in->plain_rcpts);
        else if (is_rcpt_kind(kind) && in->resent_block == 1)
            collect(in, s, name_len, value, &in->resent_rcpts);
        free(value);
    }
    if (kind == F_FROM)
        in->m->has_from = true;
    else if (kind == F_DATE)
        in->m->has_date = true;
    else if (kind == F_MSGID)
        in->m->has_msgid = true;
    else if (kind == F_RESENT_TO || kind == F_RESENT_CC || kind == F_RESENT_BCC)
        in->resent_rcpt_seen = true;

    if (!is_dropped(in, kind)) {
        write_lines(in, s, n);
        in->hdr_written = true;
    }
    buf_reset(&in->field);
}

/* "<YYYYMMDDhhmmss.RANDOM@domain>": 128 random bits in base32, UTC time. */
static char *make_msgid(const char *domain)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[17];
    char id[27];
    random_bytes(rnd, 16);
    rnd[16] = 0;
    unsigned bits = 0, acc = 0;
    size_t k = 0, i = 0;
    while (k < 26) {
        if (bits < 5) {
            acc = (acc << 8) | rnd[i++];
            bits += 8;
        }
        id[k++] = b32[(acc >> (bits - 5)) & 31];
        bits -= 5;
    }
    id[26] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return xasprintf("<%04d%02d%02d%02d%02d%02d.%s@%s>", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, id, domain);
}

static void add_headers(struct intake *in)
{
    const struct intake_opts *o = in->o;
    if (o->add_from && (!in->m->has_from || o->force_from))
        write_header(in, "From", o->add_from);
    if (o->add_date && !in->m->has_date) {
        char *d = intake_date_now();
        write_header(in, "Date", d);
        free(d);
    }
    if (o->msgid_domain && *o->msgid_domain && !in->m->has_msgid) {
        char *id = make_msgid(o->msgid_domain);
        write_header(in, "Message-ID", id);
        free(id);
    }
    if (o->undisclosed)
        write_header(in, "To", "undisclosed-recipients:;");
}

static void end_headers(struct intake *in, enum blank_line blank)
{
    process_field(in);
    add_headers(in);
    if (blank == BLANK_ALWAYS || (blank == BLANK_IF_HEADER && in->hdr_written)) {
        out_write(in, "\r\n", 2);
    }
    in->in_body = true;
    in->discard = in->discard_line = false;
    buf_free(&in->field);
    /* in->line may still hold the first body line; line_end() frees it. */
}

/* One complete header-section line (without its line end). */
static void header_line(struct intake *in, const char *s, size_t n)
{
    bool first = in->first_line;
    in->first_line = false;
    if (first && n >= 5 && memcmp(s, "From ", 5) == 0)
        return;                                 /* mbox separator */
    if (in->o->dot_ends && n == 1 && s[0] == '.') {
        end_headers(in, BLANK_NEVER);
        in->done = true;
        return;
    }
    in->hdr_total += n + 2;
    if (n == 0) {
        end_headers(in, BLANK_ALWAYS);
        return;
    }
    if (is_wsp((unsigned char)s[0])) {          /* continuation */
        if (in->field.len)
            buf_append(&in->field, "\r\n", 2);
        buf_append(&in->field, s, n);
        return;
    }
    if (message_field_name_len(s, n)) {
        process_field(in);
        buf_append(&in->field, s, n);
        return;
    }
    /* Not a header field: the header section ends without an empty line. */
    end_headers(in, BLANK_IF_HEADER);
    body_bytes(in, (const unsigned char *)s, n);
    body_eol(in);
}

/* Whether s (n octets, the start of a header-section line still being
 * read) may yet turn out to start a header field: so far only field-name
 * characters, perhaps followed by blanks, and no colon. */
static bool may_be_field_name(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':')
        i++;
    if (i == 0)
        return false;
    while (i < n && is_wsp((unsigned char)s[i]))
        i++;
    return i == n;
}

/* "1 MiB" for whole mebibytes, else "N octets" (the small limits of tests). */
static char *size_text(size_t n)
{
    if (n % (1024 * 1024) == 0)
        return xasprintf(_("%zu MiB"), n / (1024 * 1024));
    return xasprintf(ngettext("%zu octet", "%zu octets", n), n);
}

/* A header field outgrows field_max, or the section header_max, while its
 * line is still being read (the line so far is in->line, then p); the
 * limits are FIELD_MAX and HEADER_MAX unless the options set smaller ones.
 *
 * Passing the rest on as body would change which fields are header
 * fields (a later Bcc would be delivered, a blank line would appear in
 * the middle of the header), so the message is refused (RC_DATAERR),
 * with two exceptions that keep the header intact: a field that is
 * removed anyway and carries nothing smtpfwd needs (Bcc, Resent-Bcc with
 * remove_bcc; To/Cc/Bcc with undisclosed and without -t) is discarded
 * to its end, and a line that is plainly not a header field ends the
 * header section as a short one would. An over-long mbox "From " line
 * is dropped like a short one. */
static void header_overflow(struct intake *in, const unsigned char *p, size_t n)
{
    buf_append(&in->line, p, n);                /* bounded: field_max + 1 */
    const char *s = in->line.data;
    size_t len = in->line.len;
    bool cont = is_wsp((unsigned char)s[0]);
    if (!cont)
        process_field(in);                      /* the pending field is complete */

    if (in->first_line && len >= 5 && memcmp(s, "From ", 5) == 0) {
        in->first_line = false;                 /* an over-long mbox separator: */
        in->discard_line = true;                /* the rest of this line only */
        buf_reset(&in->line);
        return;
    }
    in->first_line = false;

    /* The overflowing field starts with the pending field when this line
     * continues it, else with this line. */
    const char *f = cont ? in->field.data : s;
    size_t fn = cont ? in->field.len : len;
    enum field_kind kind = fn ? classify(f, fn) : F_NONE;
    size_t name_len = kind == F_NONE ? 0 : message_field_name_len(f, fn);

    if (!cont && kind == F_NONE && !may_be_field_name(s, len)) {
        /* Not a header field: the header section ends here, as it does
         * for a short line of this kind; the line is the first of the body. */
        struct buf l = in->line;
        memset(&in->line, 0, sizeof in->line);
        end_headers(in, BLANK_IF_HEADER);
        body_bytes(in, (const unsigned char *)l.data, l.len);
        buf_free(&l);
        return;
    }
    bool needed = is_rcpt_kind(kind) && in->o->collect_rcpts;
    if (kind != F_NONE && kind != F_FROM && !needed && is_dropped(in, kind)) {
        in->discard = in->discard_line = true;
        buf_reset(&in->field);
        buf_reset(&in->line);
        return;
    }

    bool field_long = len + (cont && in->field.len ? in->field.len + 2 : 0) > in->field_max;
    char *limit = size_text(field_long ? in->field_max : in->header_max);
    if (!field_long)
        result_set(in->r, RC_DATAERR,
                   _("the header section is longer than %s; the message was not sent: "
                     "shorten the header or move its text into the body"), limit);
    else if (name_len)
        result_set(in->r, RC_DATAERR,
                   _("the header field \"%.*s\" is longer than %s; the message was not "
                     "sent: shorten the field or move its text into the body"),
                   (int)(name_len < 76 ? name_len : 76), f, limit);
    else
        result_set(in->r, RC_DATAERR,
                   _("a header line is longer than %s; the message was not sent: "
                     "shorten the line or move its text into the body"), limit);
    free(limit);
    in->failed = in->drain = true;
}

/* Bytes of the current header line (no line ends, no NULs). */
static void line_bytes(struct intake *in, const unsigned char *p, size_t n)
{
    if (in->discard && in->line.len == 0 && !in->discard_line) {
        if (is_wsp(p[0]))
            in->discard_line = true;            /* a continuation of the dropped field */
        else
            in->discard = false;
    }
    if (in->discard_line)
        return;
    unsigned char c0 = in->line.len ? (unsigned char)in->line.data[0] : p[0];
    /* A continuation line joins the pending field with a CRLF (a leading
     * one starts a field of its own). */
    size_t field_used = in->line.len + (is_wsp(c0) && in->field.len ? in->field.len + 2 : 0);
    size_t header_used = in->hdr_total + in->line.len;
    if (field_used + n > in->field_max || header_used + n > in->header_max) {
        /* With dot_ends a line "." ends the message and is no header
         * line (header_line): a first octet "." over a limit is held
         * until the line goes on, which makes it the octet over. */
        if (in->o->dot_ends && in->line.len == 0 && n == 1 && p[0] == '.') {
            buf_append(&in->line, p, 1);
            return;
        }
        /* header_overflow() sees the line up to its first octet over a
         * limit, wherever the pieces fed end, so that the outcome does
         * not depend on them (a held "." is that octet already); what
         * follows on the line is the body's when the line turns out to
         * start the body. */
        bool held = in->o->dot_ends && in->line.len == 1 && in->line.data[0] == '.'
                    && (field_used > in->field_max || header_used > in->header_max);
        size_t field_room = in->field_max > field_used ? in->field_max - field_used : 0;
        size_t header_room = in->header_max > header_used ? in->header_max - header_used : 0;
        size_t k = held ? 0 : (field_room < header_room ? field_room : header_room) + 1;
        header_overflow(in, p, k);
        if (in->in_body && !in->drain && k < n)
            body_bytes(in, p + k, n - k);
        return;
    }
    buf_append(&in->line, p, n);
}

static void line_end(struct intake *in)
{
    if (in->discard_line) {
        in->discard_line = false;
        return;
    }
    if (in->discard && in->line.len == 0)
        in->discard = false;
    header_line(in, in->line.data ? in->line.data : "", in->line.len);
    if (in->in_body)
        buf_free(&in->line);
    else
        buf_reset(&in->line);
}

/* --------------------------------------------------------------- scanner */

/* The first CR, LF or NUL in [p, end), or end; sets *high if a byte
 * >= 0x80 occurs before it. */
static const unsigned char *find_special(const unsigned char *p, const unsigned char *end,
                                         bool *high)
{
#ifdef INTAKE_SSE2
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    const __m128i zero = _mm_setzero_si128();
    unsigned hm_all = 0;
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i s = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)),
                                 _mm_cmpeq_epi8(v, zero));
        unsigned sm = (unsigned)_mm_movemask_epi8(s);
        unsigned hm = (unsigned)_mm_movemask_epi8(v);
        if (sm) {
            unsigned i = (unsigned)__builtin_ctz(sm);
            if ((hm_all | (hm & ((1u << i) - 1))) != 0)
                *high = true;
            return p + i;
        }
        hm_all |= hm;
        p += 16;
    }
    if (hm_all)
        *high = true;
#endif
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c == '\r' || c == '\n' || c == '\0')
            return p;
        if (c & 0x80)
            *high = true;
    }
    return end;
}

static void scan(struct intake *in, const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    while (p < end && !in->done && !in->drain) {
        if (in->skip_lf) {
            in->skip_lf = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        const unsigned char *q = find_special(p, end, &in->m->has_8bit);
        if (q > p) {
            if (in->in_body)
                body_bytes(in, p, (size_t)(q - p));
            else
                line_bytes(in, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (*p == '\0') {
            in->m->nul_dropped++;
            p++;
            continue;
        }
        in->skip_lf = *p == '\r';
        p++;
        if (in->in_body)
            body_eol(in);
        else
            line_end(in);
    }
}

/* End of input (or the lone "."): complete the last line and the header
 * section. */
static void finish(struct intake *in)
{
    if (!in->done) {
        if (in->in_body) {
            if (in->cur_len || in->held_dot)
                body_eol(in);
        } else if (in->line.len || in->discard_line) {
            line_end(in);
        }
    }
    if (!in->in_body && !in->drain)
        end_headers(in, BLANK_NEVER);           /* empty input gets its headers too */
}

/* ------------------------------------------------------- temporary file */

static const char *tmp_dir(const struct intake_opts *o)
{
    if (o->tmpdir && *o->tmpdir)
        return o->tmpdir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static int open_tmp(const char *dir, struct result *r)
{
    char *err = NULL;
    int fd = util_open_tmp(dir, &err);
    if (fd < 0) {
        result_set(r, RC_CANTCREAT, "%s", err);
        free(err);
    }
    return fd;
}

/* ------------------------------------------------------------ interface */

struct intake *intake_begin(const struct intake_opts *o)
{
    static const struct intake_opts no_opts;
    struct intake *in = xcalloc(1, sizeof *in);
    in->o = o ? o : &no_opts;
    in->m = &in->msg;
    in->r = &in->res;
    in->m->fd = -1;
    in->first_line = true;
    in->field_max = in->o->field_max ? in->o->field_max : FIELD_MAX;
    in->header_max = in->o->header_max ? in->o->header_max : HEADER_MAX;
    in->dir = tmp_dir(in->o);
    in->fd = open_tmp(in->dir, in->r);
    if (in->fd < 0)
        in->failed = in->drain = true;
    in->obuf = xmalloc(OUT_BLOCK_SIZE);
    return in;
}

bool intake_feed(struct intake *in, const void *p, size_t n)
{
    if (!in->drain && !in->done)
        scan(in, p, n);
    return !in->done;
}

/* Free in and everything it holds except what was moved out of it. */
static void intake_release(struct intake *in)
{
    if (in->fd >= 0)
        close(in->fd);
    free(in->obuf);
    buf_free(&in->line);
    buf_free(&in->field);
    addr_list_free(&in->plain_rcpts);
    addr_list_free(&in->resent_rcpts);
    message_free(&in->msg);
    result_clear(&in->res);
    free(in);
}

int intake_end(struct intake *in, struct message *m, struct result *r)
{
    if (!in->drain)
        finish(in);
    out_flush(in);
    if (in->resent_rcpt_seen) {
        in->msg.rcpts = in->resent_rcpts;
        memset(&in->resent_rcpts, 0, sizeof in->resent_rcpts);
    } else {
        in->msg.rcpts = in->plain_rcpts;
        memset(&in->plain_rcpts, 0, sizeof in->plain_rcpts);
    }
    int rc = 0;
    if (in->failed) {
        result_move(r, &in->res);
        memset(m, 0, sizeof *m);
        m->fd = -1;
        rc = -1;
    } else {
        *m = in->msg;
        m->fd = in->fd;
        m->force_7bit = in->o->force_7bit;
        memset(&in->msg, 0, sizeof in->msg);
        in->msg.fd = in->fd = -1;
    }
    intake_release(in);
    return rc;
}

void intake_abort(struct intake *in, struct result *r)
{
    if (!in)
        return;
    if (in->failed && r)
        result_move(r, &in->res);
    intake_release(in);
}

/* Read from a file descriptor: waits on a non-blocking one, retries on
 * EINTR. */
static ssize_t read_fd(int fd, void *buf, size_t size)
{
    for (;;) {
        ssize_t got = read(fd, buf, size);
        if (got >= 0)
            return got;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        (void)poll(&pfd, 1, -1);
    }
}

int intake_read(int in_fd, const struct intake_opts *o, struct message *m, struct result *r)
{
    struct intake *in = intake_begin(o);
    unsigned char *ibuf = xmalloc(INTAKE_BLOCK_SIZE);
    bool more = true;
    while (more) {
        ssize_t got = read_fd(in_fd, ibuf, INTAKE_BLOCK_SIZE);
        if (got < 0) {
            int e = errno;
            free(ibuf);
            intake_abort(in, r);     /* an earlier failure of intake's comes first */
            result_set(r, RC_IOERR, _("error reading standard input: %s"), strerror(e));
            memset(m, 0, sizeof *m);
            m->fd = -1;
            return -1;
        }
        if (got == 0)
            break;
        more = intake_feed(in, ibuf, (size_t)got);
    }
    free(ibuf);
    return intake_end(in, m, r);
}

void intake_drain(int in_fd)
{
    char block[65536];
    if (isatty(in_fd))
        return;
    while (read_fd(in_fd, block, sizeof block) > 0)
        ;
}

char *intake_date_now(void)
{
    return intake_date(time(NULL));
}

char *intake_date(time_t t)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    if (!localtime_r(&t, &tm))
        gmtime_r(&t, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    return xasprintf("%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
                     off / 60, off % 60);
}
