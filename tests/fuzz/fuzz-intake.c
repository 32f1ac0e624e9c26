/*
 * fuzz-intake.c - fuzz target for src/intake.c: message bytes -> the
 * canonical message file, the header facts and the -t recipients.
 *
 * Input: 4 control bytes, then the message.
 *   byte 0  options: 1 remove_bcc, 2 collect_rcpts (-t), 4 undisclosed,
 *           8 add_from, 16 force_from, 32 small header limits, 64 dot_ends,
 *           128 the reader fails at the end of input
 *   byte 1  the piece-size pattern (0: one piece; else pieces of 1 to
 *           64 octets chosen from it), so every buffer boundary is hit
 *   byte 2  with small limits: field_max = 8 + byte 2
 *   byte 3  with small limits: header_max = field_max + 4 * byte 3
 *
 * Each input is checked against a reference model written here, one line
 * at a time, independent of intake.c's block scanner:
 *   - the outcome is 0, or -1 with RC_DATAERR (header over a limit, or
 *     unreadable recipients with -t), or RC_IOERR when the reader failed:
 *     nothing else;
 *   - an accepted message is exactly the model's output: canonical CRLF
 *     lines, the header fields in their order minus the removed ones
 *     (no Bcc/Resent-Bcc field left when removal is on), the added
 *     From/To at the end of the header, then the body bytes unchanged;
 *     a small limit never changes this (an accepted message under small
 *     limits is the same as without limits);
 *   - a refusal for a limit happens only when a header field, a header
 *     line or the section is really over it, and never otherwise;
 *   - the -t recipients are those address_parse_list() gives for the
 *     To/Cc/Bcc (or first Resent block) fields, deduplicated, in order;
 *   - size, longest_line, has_8bit, has_from, nul_dropped, from_header
 *     and sender_header agree with the model;
 *   - chunking changes nothing: the outcome (status, class, message),
 *     the file and every fact are those of feeding the message in one
 *     piece.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "intake.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[64];

static void remove_tmpdir(void)
{
    if (tmpdir[0])
        rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The message files are O_TMPFILE files in this directory: on a
     * tmpfs (/dev/shm) when there is one, since creating an unlinked
     * inode on ext4 costs more than everything else a run does. */
    strcpy(tmpdir, "/dev/shm/fuzz-intake.XXXXXX");
    if (!mkdtemp(tmpdir))
        strcpy(tmpdir, "/tmp/fuzz-intake.XXXXXX");
    if (tmpdir[1] == 't' && !mkdtemp(tmpdir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(remove_tmpdir);
    return 0;
}

#define CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "fuzz-intake: property failed at line %d: %s\n", __LINE__, #cond); \
        abort(); } } while (0)

/* ----------------------------------------------------------- the feed */

struct feed {
    const uint8_t *p;
    size_t left;
    unsigned pattern;
    unsigned step;
    bool fail;
};

/* The size of the next piece: everything (pattern 0), else 1 to 64
 * octets chosen from the pattern. */
static size_t piece_size(struct feed *f)
{
    if (!f->pattern)
        return f->left;
    unsigned s = f->step++;
    return 1 + ((f->pattern * (s + 1) + (s >> 1) * 7) % (f->pattern < 64 ? f->pattern : 64));
}

/* What intake_read() does with a reader, with the input in f's pieces:
 * feed while the message wants more; at the end of input, end the
 * message, or, when the reader fails there, abort it and report the
 * read error (intake's own earlier failure first). */
static int run_feed(struct feed *f, const struct intake_opts *o, struct message *m,
                    struct result *r)
{
    struct intake *in = intake_begin(o);
    bool more = true;
    while (more && f->left) {
        size_t k = piece_size(f);
        if (k > f->left)
            k = f->left;
        more = intake_feed(in, f->p, k);
        f->p += k;
        f->left -= k;
    }
    if (more && f->fail) {
        intake_abort(in, r);
        result_set(r, RC_IOERR, "error reading standard input: %s", strerror(EIO));
        memset(m, 0, sizeof *m);
        m->fd = -1;
        return -1;
    }
    return intake_end(in, m, r);
}

/* ----------------------------------------------------- the reference */

struct line {
    const char *s;
    size_t n;
};

static bool wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 5322 field name: printable ASCII but colon, then optional blanks,
 * then ':'. Returns the name's length or 0. */
static size_t name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':')
        i++;
    size_t k = i;
    while (i < n && wsp(s[i]))
        i++;
    return k && i < n && s[i] == ':' ? k : 0;
}

static bool named(const char *s, size_t n, const char *want)
{
    size_t k = name_len(s, n);
    return k == strlen(want) && strncasecmp(s, want, k) == 0;
}

struct model {
    /* options */
    bool remove_bcc, collect, undisclosed, force_from, dot_ends;
    const char *add_from;
    /* results */
    struct buf out;
    size_t hdr_len;            /* the header fields in out (before the blank line) */
    bool parse_error;          /* -t: a recipient field the parser refuses */
    bool over_limit;           /* a limit may refuse this message */
    bool has_from;
    char *from_header, *sender_header;
    struct addr_list plain, resent;
    bool resent_seen;
    size_t nuls;
    bool high;
};

static void add_unique(struct addr_list *to, const struct addr_list *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (!addr_list_contains(to, from->v[i].mailbox))
            addr_list_add(to, from->v[i].display, from->v[i].mailbox);
}

/* The unfolded value of a field given as its lines joined by CRLF. */
static char *value_of(const char *s, size_t n)
{
    const char *c = memchr(s, ':', n);
    struct buf b = BUF_INIT;
    for (const char *p = c ? c + 1 : s + n; p < s + n; p++)
        if (*p != '\r' && *p != '\n')
            buf_putc(&b, *p);
    buf_putc(&b, '\0');
    return buf_steal(&b);
}

static char *first_of(const char *value)
{
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    char *mb = NULL;
    if (address_parse_list(value, &l, &r) == 0 && l.n > 0)
        mb = xstrdup(l.v[0].mailbox);
    addr_list_free(&l);
    result_clear(&r);
    return mb;
}

static void collect(struct model *md, const char *value, struct addr_list *to)
{
    const char *p = value;
    while (wsp(*p))
        p++;
    if (!*p)
        return;
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    if (address_parse_list(value, &l, &r) != 0) {
        md->parse_error = true;
        CHECK(r.cls == RC_DATAERR && r.msg && l.n == 0);
    } else {
        add_unique(to, &l);
    }
    addr_list_free(&l);
    result_clear(&r);
}

/* One complete header field (its lines joined by CRLF). */
static void field(struct model *md, const char *s, size_t n, int *resent_block)
{
    size_t k = name_len(s, n);
    if (k) {
        bool resent = k > 7 && strncasecmp(s, "Resent-", 7) == 0;
        if (resent && *resent_block == 0)
            *resent_block = 1;
        else if (!resent && *resent_block == 1)
            *resent_block = 2;
    }
    bool from = named(s, n, "From"), sender = named(s, n, "Sender");
    bool to = named(s, n, "To"), cc = named(s, n, "Cc"), bcc = named(s, n, "Bcc");
    bool rto = named(s, n, "Resent-To"), rcc = named(s, n, "Resent-Cc");
    bool rbcc = named(s, n, "Resent-Bcc");
    if (from || sender || (md->collect && (to || cc || bcc || rto || rcc || rbcc))) {
        char *v = value_of(s, n);
        if (from && !md->from_header)
            md->from_header = first_of(v);
        else if (sender && !md->sender_header)
            md->sender_header = first_of(v);
        else if (to || cc || bcc)
            collect(md, v, &md->plain);
        else if ((rto || rcc || rbcc) && *resent_block == 1)
            collect(md, v, &md->resent);
        free(v);
    }
    md->has_from |= from;
    md->resent_seen |= rto || rcc || rbcc;
    bool dropped = (md->undisclosed && (to || cc || bcc)) ||
                   (md->remove_bcc && (bcc || rbcc)) ||
                   (from && md->force_from && md->add_from);
    if (!dropped) {
        buf_append(&md->out, s, n);
        buf_append(&md->out, "\r\n", 2);
    }
}

/* The model of intake: canonical lines, the header section, the body. */
static void model_run(struct model *md, const uint8_t *in, size_t n, size_t field_max,
                      size_t header_max)
{
    /* Canonical lines: CR, LF and CRLF end a line, NULs vanish, a last
     * line without an end gets one. */
    struct buf text = BUF_INIT;
    struct line *lines = NULL;
    size_t nlines = 0;
    size_t *starts = xmalloc((n + 1) * sizeof *starts);
    size_t *lens = xmalloc((n + 1) * sizeof *lens);
    size_t start = 0;
    bool open = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == 0) {
            md->nuls++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
            starts[nlines] = start;
            lens[nlines++] = text.len - start;
            start = text.len;
            open = false;
            continue;
        }
        md->high |= c >= 0x80;
        buf_putc(&text, (char)c);
        open = true;
    }
    if (open) {
        starts[nlines] = start;
        lens[nlines++] = text.len - start;
    }
    lines = xmalloc((nlines + 1) * sizeof *lines);
    for (size_t i = 0; i < nlines; i++) {
        lines[i].s = text.data ? text.data + starts[i] : "";
        lines[i].n = lens[i];
    }
    free(starts);
    free(lens);
    if (md->dot_ends)
        for (size_t i = 0; i < nlines; i++)
            if (lines[i].n == 1 && lines[i].s[0] == '.') {
                nlines = i;
                break;
            }

    /* The header section. */
    size_t i = 0;
    if (nlines && lines[0].n >= 5 && memcmp(lines[0].s, "From ", 5) == 0)
        i = 1;                                 /* mbox separator */
    struct buf fld = BUF_INIT;
    int resent_block = 0;
    size_t total = 0;
    enum { END_INPUT, END_BLANK, END_LINE } end = END_INPUT;
    for (; i < nlines; i++) {
        const struct line *l = &lines[i];
        total += l->n + 2;
        if (l->n == 0) {
            end = END_BLANK;
            i++;
            break;
        }
        if (wsp(l->s[0])) {
            if (fld.len)
                buf_append(&fld, "\r\n", 2);
            buf_append(&fld, l->s, l->n);
            md->over_limit |= fld.len > field_max;
            continue;
        }
        if (!name_len(l->s, l->n)) {
            /* Ends the header section; a long one may be refused while
             * it could still be a field name. */
            md->over_limit |= l->n > field_max;
            end = END_LINE;
            break;
        }
        md->over_limit |= l->n > field_max;
        if (fld.len)
            field(md, fld.data, fld.len, &resent_block);
        buf_reset(&fld);
        buf_append(&fld, l->s, l->n);
    }
    md->over_limit |= total > header_max;
    if (fld.len)
        field(md, fld.data, fld.len, &resent_block);
    buf_free(&fld);

    bool hdr = md->out.len > 0;
    if (md->add_from && (!md->has_from || md->force_from)) {
        buf_printf(&md->out, "From: %s\r\n", md->add_from);
        hdr = true;
    }
    if (md->undisclosed) {
        buf_puts(&md->out, "To: undisclosed-recipients:;\r\n");
        hdr = true;
    }
    md->hdr_len = md->out.len;
    if (end == END_BLANK || (end == END_LINE && hdr))
        buf_append(&md->out, "\r\n", 2);
    for (; i < nlines; i++) {
        buf_append(&md->out, lines[i].s, lines[i].n);
        buf_append(&md->out, "\r\n", 2);
    }
    free(lines);
    buf_free(&text);
}

/* ------------------------------------------------------------- target */

static char *read_all(int fd, size_t *len)
{
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    char *p = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, p + got, (size_t)st.st_size - got, (off_t)got);
        CHECK(k > 0);
        got += (size_t)k;
    }
    *len = got;
    return p;
}

static bool starts_bcc(const char *s, size_t n)
{
    return named(s, n, "Bcc") || named(s, n, "Resent-Bcc");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t flags = data[0];
    struct intake_opts o = {
        .remove_bcc = flags & 1,
        .collect_rcpts = flags & 2,
        .undisclosed = flags & 4,
        .add_from = flags & 8 ? "me@h.test" : NULL,
        .force_from = flags & 16,
        .dot_ends = flags & 64,
        .tmpdir = tmpdir,
    };
    if (flags & 32) {
        o.field_max = 8 + (size_t)data[2];
        o.header_max = o.field_max + 4 * (size_t)data[3];
    }
    const uint8_t *msg = data + 4;
    size_t n = size - 4;
    struct feed f = { msg, n, data[1], 0, (flags & 128) != 0 };

    struct message m;
    struct result r = RESULT_INIT;
    int rc = run_feed(&f, &o, &m, &r);

    struct model md = {
        .remove_bcc = o.remove_bcc, .collect = o.collect_rcpts, .undisclosed = o.undisclosed,
        .force_from = o.force_from, .dot_ends = o.dot_ends, .add_from = o.add_from,
    };
    model_run(&md, msg, n, o.field_max ? o.field_max : 1024 * 1024,
              o.header_max ? o.header_max : 16 * 1024 * 1024);

    /* The outcome: accepted, or refused with a documented class. */
    CHECK(rc == 0 || rc == -1);
    if (rc == -1) {
        CHECK(r.msg != NULL && m.fd == -1);
        if (r.cls == RC_IOERR) {
            CHECK(f.fail && f.left == 0);
        } else {
            CHECK(r.cls == RC_DATAERR);
            CHECK(md.parse_error || md.over_limit);
        }
    } else {
        CHECK(r.cls == RC_OK && m.fd >= 0);
        /* A reader failing at the end is always reported, unless the
         * lone "." ended the input before. */
        CHECK(!f.fail || o.dot_ends);
        CHECK(!md.parse_error);

        size_t len;
        char *out = read_all(m.fd, &len);
        CHECK((long long)len == m.size);
        /* Canonical: CR only before LF, LF only after CR, no NUL, the
         * last line ended. */
        size_t longest = 0, cur = 0;
        bool high = false;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)out[i];
            CHECK(c != 0);
            if (c == '\r')
                CHECK(i + 1 < len && out[i + 1] == '\n');
            if (c == '\n') {
                CHECK(i > 0 && out[i - 1] == '\r');
                if (cur - 1 > longest)          /* cur counted the CR */
                    longest = cur - 1;
                cur = 0;
                continue;
            }
            high |= c >= 0x80;
            cur++;
        }
        CHECK(cur == 0);
        CHECK(m.longest_line == longest);
        CHECK(!high || m.has_8bit);
        /* Exactly the model's message: header fields kept in order,
         * removed ones gone, body bytes unchanged. */
        CHECK(len == md.out.len && (len == 0 || memcmp(out, md.out.data, len) == 0));
        /* No Bcc field left in the header when removal is on. */
        if (o.remove_bcc) {
            size_t p = 0;
            while (p < md.hdr_len) {
                const char *eol = memchr(out + p, '\r', md.hdr_len - p);
                CHECK(eol != NULL);
                size_t ln = (size_t)(eol - (out + p));
                CHECK(!starts_bcc(out + p, ln));
                p += ln + 2;
            }
        }
        if (!o.dot_ends) {
            CHECK(m.nul_dropped == md.nuls);
            CHECK(m.has_8bit == md.high);
        }
        CHECK(m.has_from == md.has_from);
        CHECK((m.from_header == NULL) == (md.from_header == NULL));
        CHECK(!m.from_header || strcmp(m.from_header, md.from_header) == 0);
        CHECK((m.sender_header == NULL) == (md.sender_header == NULL));
        CHECK(!m.sender_header || strcmp(m.sender_header, md.sender_header) == 0);
        /* The -t recipients are the parser's. */
        const struct addr_list *want = md.resent_seen ? &md.resent : &md.plain;
        if (!o.collect_rcpts)
            CHECK(m.rcpts.n == 0);
        else {
            CHECK(m.rcpts.n == want->n);
            for (size_t i = 0; i < want->n; i++)
                CHECK(strcmp(m.rcpts.v[i].mailbox, want->v[i].mailbox) == 0);
        }
        free(out);
    }
    /* Refusal is a limit's only when intake would refuse without it too,
     * or something is really over it; and what is under every limit and
     * parses is accepted (unless the reader failed). */
    if (!md.over_limit && !md.parse_error && !f.fail)
        CHECK(rc == 0);

    /* The same message in one piece: the same everything. */
    if (!f.fail && data[1] != 0) {
        struct feed one = { msg, n, 0, 0, false };
        struct message m1;
        struct result r1 = RESULT_INIT;
        int rc1 = run_feed(&one, &o, &m1, &r1);
        CHECK(rc1 == rc && r1.cls == r.cls);
        CHECK((r1.msg == NULL) == (r.msg == NULL) && (!r.msg || strcmp(r1.msg, r.msg) == 0));
        if (rc == 0) {
            size_t len, len1;
            char *out = read_all(m.fd, &len);
            char *out1 = read_all(m1.fd, &len1);
            CHECK(len == len1 && memcmp(out, out1, len) == 0);
            CHECK(m1.size == m.size && m1.has_8bit == m.has_8bit && m1.has_from == m.has_from
                  && m1.has_date == m.has_date && m1.has_msgid == m.has_msgid
                  && m1.nul_dropped == m.nul_dropped && m1.longest_line == m.longest_line
                  && m1.offset == m.offset);
            CHECK((m1.from_header == NULL) == (m.from_header == NULL)
                  && (!m.from_header || strcmp(m1.from_header, m.from_header) == 0));
            CHECK((m1.sender_header == NULL) == (m.sender_header == NULL)
                  && (!m.sender_header || strcmp(m1.sender_header, m.sender_header) == 0));
            CHECK(m1.rcpts.n == m.rcpts.n);
            for (size_t i = 0; i < m.rcpts.n; i++) {
                CHECK(strcmp(m1.rcpts.v[i].mailbox, m.rcpts.v[i].mailbox) == 0);
                const char *d = m.rcpts.v[i].display, *d1 = m1.rcpts.v[i].display;
                CHECK((d == NULL) == (d1 == NULL) && (!d || strcmp(d, d1) == 0));
            }
            free(out);
            free(out1);
        }
        message_free(&m1);
        result_clear(&r1);
    }

    message_free(&m);
    result_clear(&r);
    buf_free(&md.out);
    free(md.from_header);
    free(md.sender_header);
    addr_list_free(&md.plain);
    addr_list_free(&md.resent);
    return 0;
}
