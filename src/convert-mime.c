/*
 * convert-mime.c - the MIME walker of message conversion
 * (convert_message, see convert-int.h): what must change in each header
 * section and leaf body, multipart bodies by their boundaries,
 * message/rfc822 parts as messages, signatures, refusals, the summary.
 *
 * It works on memory and writes through a sink: no file, no mmap (that
 * is convert.c's). It decides what must change and where; reading a
 * header section is convert-parse.c's, the encodings are
 * convert-encode.c's and the rewriting of a header field is
 * convert-header.c's. The same walk runs twice: a first pass that
 * writes nothing (facts, refusals, whether anything changes), then, only
 * when something changes, the pass that writes. Both take the same
 * decisions from the same bytes, which also makes the output
 * deterministic.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "i18n.h"

/* Output is gathered up to this size before the sink is called. */
#define OUT_CHUNK (64 * 1024)
/* Octets of decoded base64 re-encoded at once: a multiple of 57. */
#define B64_CHUNK (57 * 1024)

enum action { ACT_COPY, ACT_QP, ACT_BASE64, ACT_REQP, ACT_REWRAP };

/* Why a part of the message that has no encoding of its own cannot be
 * converted. */
enum opaque { OPQ_SIGNED, OPQ_NESTED, OPQ_GAP, OPQ_NO_BOUNDARY, OPQ_ENCODED };

struct rec {
    bool changed;             /* something changed in the entity's body */
    bool eight;               /* 8-bit octets remain in its body */
};

struct walk {
    const char *msg;
    size_t n;
    const struct convert_target *t;
    bool force_7bit;
    bool emit;
    const struct convert_sink *sink;
    struct result *r;
    bool failed;
    struct buf ob;            /* output not yet given to the sink */
    struct buf scratch;       /* a rewritten header field */
    struct buf tmp;
    const char *frozen;       /* the signature that covers where we are */
    bool frozen_part;         /* ... a part's (else the whole message's) */
    unsigned changes;
    unsigned fields_encoded, parts_qp, parts_b64;
    int top_body;             /* the top-level body: 0 as is, 1 quoted-printable, 2 base64 */
    unsigned body8;           /* regions written with 8-bit octets after the top header */
    bool hdr8;
    struct rec *recs;
    size_t nrec, caprec, idx;
};

static void walk_entity(struct walk *w, struct convert_entity *e);

/* ------------------------------------------------------------ output */

static void flush_out(struct walk *w)
{
    if (!w->emit || w->failed || w->ob.len == 0)
        return;
    if (w->sink->write(w->sink->ctx, w->ob.data, w->ob.len, w->r) != 0)
        w->failed = true;
    buf_reset(&w->ob);
}

static void put(struct walk *w, const char *p, size_t n)
{
    if (!w->emit || w->failed || n == 0)
        return;
    if (n >= OUT_CHUNK) {
        flush_out(w);
        if (!w->failed && w->sink->write(w->sink->ctx, p, n, w->r) != 0)
            w->failed = true;
        return;
    }
    buf_append(&w->ob, p, n);
    if (w->ob.len >= OUT_CHUNK)
        flush_out(w);
}

static void put_str(struct walk *w, const char *s)
{
    put(w, s, strlen(s));
}

/* After encoders appended to w->ob directly. */
static void maybe_flush(struct walk *w)
{
    if (w->ob.len >= OUT_CHUNK)
        flush_out(w);
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* ----------------------------------------------------------- refusals */

static const char *reason_8bit(const struct walk *w)
{
    return w->force_7bit ? _("8-bit data, and -B 7BIT asks for 7-bit data")
                         : _("8-bit data, and the server does not offer 8BITMIME");
}

static const char *reason_long(void)
{
    return _("a line longer than 998 octets");
}

static void refuse(struct walk *w, const char *fmt, ...) ATTR_PRINTF(2, 3);

static void refuse(struct walk *w, const char *fmt, ...)
{
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        char *s = xvasprintf(fmt, ap);
        va_end(ap);
        result_set(w->r, RC_DATAERR, "%s", s);
        free(s);
    }
    w->failed = true;
}

/* A change is needed for reason why: refused under a signature, else
 * counted. Returns false when refused. */
static bool need_change(struct walk *w, const char *why)
{
    if (w->failed)
        return false;
    if (w->frozen) {
        if (w->frozen_part)
            refuse(w, _("a part of the message is signed or encrypted (%s) and would have to be "
                        "converted for this server (%s); converting it would break the "
                        "signature"), w->frozen, why);
        else
            refuse(w, _("the message is signed (%s) and would have to be converted for this "
                        "server (%s); converting it would break the signature"), w->frozen, why);
        return false;
    }
    w->changes++;
    return true;
}

/* A range without an encoding of its own (a preamble, a signed body, a
 * body nested too deep): copied when it can go as it is, else refused. */
static void opaque_range(struct walk *w, size_t start, size_t end, enum opaque kind,
                         const char *what)
{
    struct convert_scan s;
    convert_scan_range(w->msg, start, end, &s);
    bool need8 = s.has_8bit && !w->t->eightbitmime;
    if (need8 || s.long_line) {
        const char *why = need8 ? reason_8bit(w) : reason_long();
        switch (kind) {
        case OPQ_SIGNED:
            need_change(w, why);                /* frozen: refuses */
            break;
        case OPQ_NESTED:
            refuse(w, _("the message nests MIME parts deeper than %d levels and would have to "
                        "be converted for this server (%s)"), CONVERT_NEST_MAX, why);
            break;
        case OPQ_GAP:
            refuse(w, _("the preamble, epilogue or a boundary line of a multipart (%s) would "
                        "have to be converted for this server (%s), and it has no encoding "
                        "of its own"), what, why);
            break;
        case OPQ_NO_BOUNDARY:
            refuse(w, _("a multipart part (%s) has no boundary parameter and would have to be "
                        "converted for this server (%s)"), what, why);
            break;
        case OPQ_ENCODED:
            refuse(w, _("a %s part has a Content-Transfer-Encoding other than 7bit, 8bit or "
                        "binary and would have to be converted for this server (%s)"),
                   what, why);
            break;
        }
        if (w->failed)
            return;
    }
    if (s.has_8bit)
        w->body8++;
    put(w, w->msg + start, end - start);
}

/* ------------------------------------------------------------ headers */

static const char *cte_name(enum action a)
{
    return a == ACT_QP || a == ACT_REQP ? "quoted-printable" : "base64";
}

/* Write e's header fields: each as it is or rewritten, the field at
 * index replace_at replaced by replacement (when not NULL), added (NULL
 * or a text of whole lines) after the last field, and the end of the
 * header section. */
static void write_header(struct walk *w, const struct convert_entity *e, long replace_at,
                         const char *replacement, const char *added)
{
    const char *m = w->msg;
    bool smtputf8 = e->top ? w->t->smtputf8 : w->t->smtputf8 && w->t->eightbitmime;
    for (size_t i = 0; i < e->nf && !w->failed; i++) {
        const struct convert_field *f = &e->f[i];
        if ((long)i == replace_at && replacement) {
            put_str(w, replacement);
            continue;
        }
        bool f8 = false, flong = false;
        size_t pos = f->start, end = f->start + f->len;
        while (pos < end) {
            size_t ce, next = convert_next_line(m, pos, end, &ce);
            if (ce - pos > CONVERT_LINE_MAX)
                flong = true;
            pos = next;
        }
        for (size_t k = f->start; k < end && !f8; k++)
            f8 = (unsigned char)m[k] >= 0x80;
        bool valid = !f8 || convert_utf8_valid(m + f->start, f->len);
        if (!((f8 && (!smtputf8 || !valid)) || flong)) {
            if (f8) {
                w->hdr8 = true;
                if (!e->top)
                    w->body8++;
            }
            put(w, m + f->start, f->len);
            put(w, "\r\n", 2);
            continue;
        }
        const char *why = flong ? reason_long()
            : !valid ? _("a header field that is not valid UTF-8")
            : w->force_7bit ? _("8-bit octets in a header field, and -B 7BIT asks for 7-bit data")
            : _("8-bit octets in a header field, and the server does not offer SMTPUTF8");
        if (w->frozen) {
            need_change(w, why);
            return;
        }
        if ((long)i == e->ct_field && e->boundary_8bit && !strcmp(e->type, "multipart")) {
            refuse(w, _("the boundary of a multipart has 8-bit octets and would have to be "
                        "converted for this server (%s)"), why);
            return;
        }
        buf_reset(&w->scratch);
        int rc = convert_header_field(&w->scratch, m + f->start, f->len, smtputf8, w->r);
        if (rc < 0) {
            w->failed = true;
            return;
        }
        if (rc > 0) {
            w->changes++;
            w->fields_encoded++;
        }
        for (size_t k = 0; k < w->scratch.len; k++)
            if ((unsigned char)w->scratch.data[k] >= 0x80) {
                w->hdr8 = true;
                if (!e->top)
                    w->body8++;
                break;
            }
        put(w, w->scratch.data, w->scratch.len);
    }
    if (w->failed)
        return;
    if (added)
        put_str(w, added);
    if (e->blank || (added && e->bstart < e->end))
        put(w, "\r\n", 2);
}

/* ------------------------------------------------------------- bodies */

static void body_qp(struct walk *w, size_t start, size_t end)
{
    size_t pos = start;
    while (pos < end && !w->failed) {
        size_t ce, next = convert_next_line(w->msg, pos, end, &ce);
        convert_qp_line(&w->ob, w->msg + pos, ce - pos);
        maybe_flush(w);
        pos = next;
    }
}

static void body_reqp(struct walk *w, size_t start, size_t end)
{
    size_t pos = start;
    bool soft = false;
    buf_reset(&w->tmp);
    while (pos < end && !w->failed) {
        size_t ce, next = convert_next_line(w->msg, pos, end, &ce);
        soft = convert_qp_decode_line(&w->tmp, w->msg + pos, ce - pos);
        if (!soft) {
            convert_qp_encode(&w->ob, w->tmp.data ? w->tmp.data : "", w->tmp.len, false);
            buf_reset(&w->tmp);
            maybe_flush(w);
        }
        pos = next;
    }
    if (soft)
        convert_qp_encode(&w->ob, w->tmp.data ? w->tmp.data : "", w->tmp.len, true);
    maybe_flush(w);
}

static void body_base64(struct walk *w, size_t start, size_t end)
{
    for (size_t pos = start; pos < end && !w->failed; pos += B64_CHUNK) {
        size_t k = end - pos < B64_CHUNK ? end - pos : B64_CHUNK;
        convert_base64(&w->ob, w->msg + pos, k);
        maybe_flush(w);
    }
}

static void body_rewrap(struct walk *w, size_t start, size_t end)
{
    struct convert_b64_state st = CONVERT_B64_STATE_INIT;
    buf_reset(&w->tmp);
    for (size_t pos = start; pos < end && !w->failed; pos += B64_CHUNK) {
        size_t k = end - pos < B64_CHUNK ? end - pos : B64_CHUNK;
        convert_b64_decode(&st, &w->tmp, w->msg + pos, k);
        if (w->tmp.len >= B64_CHUNK) {
            size_t whole = w->tmp.len / 57 * 57;
            convert_base64(&w->ob, w->tmp.data, whole);
            memmove(w->tmp.data, w->tmp.data + whole, w->tmp.len - whole);
            w->tmp.len -= whole;
            maybe_flush(w);
        }
    }
    convert_b64_decode_end(&st, &w->tmp);
    convert_base64(&w->ob, w->tmp.data, w->tmp.len);
    maybe_flush(w);
}

/* A leaf: the body as it is or re-encoded, its header with the
 * Content-Transfer-Encoding that says so. */
static void walk_leaf(struct walk *w, struct convert_entity *e)
{
    struct convert_scan s;
    convert_scan_range(w->msg, e->bstart, e->end, &s);
    bool mime = !e->is_msg || e->has_ct || e->has_mv;
    bool text = !strcmp(e->type, "text");
    bool need8 = s.has_8bit && !w->t->eightbitmime;
    enum action act = ACT_COPY;
    if (need8 || s.long_line) {
        const char *why = need8 ? reason_8bit(w) : reason_long();
        if (!need_change(w, why))
            return;
        switch (e->cte) {
        case CTE_BASE64:
            if (s.has_8bit) {
                refuse(w, _("a base64 part has 8-bit octets, which are not base64, and would "
                            "have to be converted for this server (%s)"), why);
                return;
            }
            act = ACT_REWRAP;
            break;
        case CTE_QP:
            act = ACT_REQP;
            break;
        case CTE_OTHER: {
            size_t vs, vn;
            convert_field_value(w->msg, &e->f[e->cte_field], &vs, &vn);
            char *name = xstrndup(w->msg + vs, vn < 40 ? vn : 40);
            refuse(w, _("a part has the Content-Transfer-Encoding \"%s\", which cannot be "
                        "converted for this server (%s)"), name, why);
            free(name);
            return;
        }
        default:
            act = text ? ACT_QP : ACT_BASE64;
            break;
        }
    }

    char *replacement = NULL, *added = NULL;
    if (act != ACT_COPY) {
        char *cte = xasprintf("Content-Transfer-Encoding: %s\r\n", cte_name(act));
        if (e->cte_field >= 0)
            replacement = cte;
        else
            added = cte;
        if (!mime) {
            const char *cs = !s.has_8bit ? "us-ascii" : s.utf8 ? "utf-8" : "unknown-8bit";
            char *more = xasprintf("MIME-Version: 1.0\r\nContent-Type: text/plain; "
                                   "charset=%s\r\n%s", cs, added ? added : "");
            free(added);
            added = more;
        }
        if (e->top)
            w->top_body = act == ACT_QP || act == ACT_REQP ? 1 : 2;
        else if (act == ACT_QP || act == ACT_REQP)
            w->parts_qp++;
        else
            w->parts_b64++;
    }
    write_header(w, e, e->cte_field, replacement, added);
    free(replacement);
    free(added);
    if (w->failed)
        return;

    /* The CRLF that ends a part before its boundary line belongs to the
     * boundary: base64 leaves it out of the data. */
    size_t data_end = e->end;
    if (e->delim_after && data_end - e->bstart >= 2 && w->msg[data_end - 1] == '\n' &&
        w->msg[data_end - 2] == '\r')
        data_end -= 2;
    switch (act) {
    case ACT_COPY:
        if (s.has_8bit)
            w->body8++;
        put(w, w->msg + e->bstart, e->end - e->bstart);
        break;
    case ACT_QP:
        if (w->emit)
            body_qp(w, e->bstart, e->end);
        break;
    case ACT_REQP:
        if (w->emit)
            body_reqp(w, e->bstart, e->end);
        break;
    case ACT_BASE64:
        if (w->emit)
            body_base64(w, e->bstart, data_end);
        break;
    case ACT_REWRAP:
        if (w->emit)
            body_rewrap(w, e->bstart, e->end);
        break;
    }
}

/* ----------------------------------------------------------- multipart */

/* Whether the line [p, ce) is a boundary line of boundary b; *close for
 * the closing one. */
static bool is_delimiter(const char *m, size_t p, size_t ce, const char *b, size_t bl,
                         bool *close)
{
    if (ce - p < 2 + bl || m[p] != '-' || m[p + 1] != '-' || memcmp(m + p + 2, b, bl) != 0)
        return false;
    size_t i = p + 2 + bl;
    *close = ce - i >= 2 && m[i] == '-' && m[i + 1] == '-';
    if (*close)
        i += 2;
    while (i < ce && is_wsp(m[i]))
        i++;
    return i == ce;
}

/* The next boundary line at or after pos: its start (end when none),
 * *after where the line after it starts. */
static size_t find_delimiter(const struct walk *w, const struct convert_entity *e, size_t pos,
                             size_t *after, bool *close)
{
    size_t bl = strlen(e->boundary);
    while (pos < e->end) {
        size_t ce, next = convert_next_line(w->msg, pos, e->end, &ce);
        if (is_delimiter(w->msg, pos, ce, e->boundary, bl, close)) {
            *after = next;
            return pos;
        }
        pos = next;
    }
    *after = e->end;
    return e->end;
}

static void walk_child(struct walk *w, const struct convert_entity *parent, size_t start, size_t end,
                       bool delim_after)
{
    struct convert_entity c = {
        .start = start, .end = end, .delim_after = delim_after, .depth = parent->depth + 1,
        .is_msg = !strcmp(parent->type, "message"),
        .digest_child = !strcmp(parent->type, "multipart") && !strcmp(parent->subtype, "digest"),
    };
    walk_entity(w, &c);
}

static void walk_multipart_body(struct walk *w, struct convert_entity *e)
{
    char what[100];
    snprintf(what, sizeof what, "multipart/%s", e->subtype);
    size_t after;
    bool close = false;
    size_t d = find_delimiter(w, e, e->bstart, &after, &close);
    if (d == e->end || close) {                 /* no part at all */
        opaque_range(w, e->bstart, e->end, OPQ_GAP, what);
        return;
    }
    opaque_range(w, e->bstart, after, OPQ_GAP, what);   /* preamble, first boundary line */
    while (!w->failed) {
        size_t ps = after;
        d = find_delimiter(w, e, ps, &after, &close);
        walk_child(w, e, ps, d, d < e->end || e->delim_after);
        if (d == e->end || w->failed)
            break;                              /* no closing boundary: the last part */
        if (close) {
            opaque_range(w, d, e->end, OPQ_GAP, what);  /* closing line, epilogue */
            break;
        }
        opaque_range(w, d, after, OPQ_GAP, what);
    }
}

/* ------------------------------------------------------------ entities */

static bool is_signed_type(const struct convert_entity *e)
{
    if (!strcmp(e->type, "multipart"))
        return !strcmp(e->subtype, "signed") || !strcmp(e->subtype, "encrypted");
    return !strcmp(e->type, "application") &&
        (!strcmp(e->subtype, "pkcs7-mime") || !strcmp(e->subtype, "x-pkcs7-mime"));
}

static void walk_entity(struct walk *w, struct convert_entity *e)
{
    if (w->failed)
        return;
    convert_parse_header(w->msg, e);
    const char *saved_frozen = w->frozen;
    bool saved_part = w->frozen_part;
    if (e->signer && !w->frozen) {
        w->frozen = e->signer;
        w->frozen_part = false;
    }
    bool multi = !strcmp(e->type, "multipart");
    bool message = !strcmp(e->type, "message") && !strcmp(e->subtype, "rfc822");
    if (!multi && !message && !is_signed_type(e)) {
        walk_leaf(w, e);
        goto out;
    }

    /* A container (or a signed leaf): its body's record decides, in the
     * pass that writes, whether an 8bit/binary encoding becomes 7bit. */
    size_t idx = w->idx++;
    if (!w->emit) {
        if (w->nrec == w->caprec) {
            w->caprec = w->caprec ? 2 * w->caprec : 16;
            w->recs = xrealloc(w->recs, w->caprec * sizeof *w->recs);
        }
        w->recs[w->nrec++] = (struct rec){ false, false };
    }
    char *replacement = NULL;
    if (w->emit && idx < w->nrec && w->recs[idx].changed && !w->recs[idx].eight &&
        (e->cte == CTE_8BIT || e->cte == CTE_BINARY))
        replacement = xstrdup("Content-Transfer-Encoding: 7bit\r\n");
    write_header(w, e, e->cte_field, replacement, NULL);
    free(replacement);
    if (w->failed)
        goto out;

    unsigned changes = w->changes, body8 = w->body8;
    char what[100];
    snprintf(what, sizeof what, "%s/%s", e->type, e->subtype);
    if (is_signed_type(e)) {
        const char *fz = w->frozen;
        bool fp = w->frozen_part;
        if (!w->frozen) {
            w->frozen = what;
            w->frozen_part = !e->top;
        }
        opaque_range(w, e->bstart, e->end, OPQ_SIGNED, what);
        w->frozen = fz;
        w->frozen_part = fp;
    } else if (e->depth >= CONVERT_NEST_MAX) {
        opaque_range(w, e->bstart, e->end, OPQ_NESTED, what);
    } else if (e->cte != CTE_NONE && e->cte != CTE_7BIT && e->cte != CTE_8BIT &&
               e->cte != CTE_BINARY) {
        opaque_range(w, e->bstart, e->end, OPQ_ENCODED, what);
    } else if (message) {
        walk_child(w, e, e->bstart, e->end, e->delim_after);
    } else if (!e->boundary) {
        opaque_range(w, e->bstart, e->end, OPQ_NO_BOUNDARY, what);
    } else {
        walk_multipart_body(w, e);
    }
    if (!w->emit && idx < w->nrec) {
        w->recs[idx].changed = w->changes != changes;
        w->recs[idx].eight = w->body8 != body8;
    }
out:
    w->frozen = saved_frozen;
    w->frozen_part = saved_part;
    free(e->f);
    free(e->boundary);
    e->f = NULL;
    e->boundary = NULL;
}

/* ------------------------------------------------------------- summary */

static char *make_summary(const struct walk *w)
{
    struct buf b = BUF_INIT;
    if (w->top_body == 1)
        buf_puts(&b, _("body re-encoded as quoted-printable"));
    else if (w->top_body == 2)
        buf_puts(&b, _("body re-encoded as base64"));
    unsigned parts = w->parts_qp + w->parts_b64;
    if (parts) {
        if (b.len)
            buf_puts(&b, ", ");
        if (!w->parts_b64)
            buf_printf(&b, ngettext("%u part re-encoded as quoted-printable",
                                    "%u parts re-encoded as quoted-printable", parts), parts);
        else if (!w->parts_qp)
            buf_printf(&b, ngettext("%u part re-encoded as base64",
                                    "%u parts re-encoded as base64", parts), parts);
        else
            buf_printf(&b, _("%u parts re-encoded (%u quoted-printable, %u base64)"), parts,
                       w->parts_qp, w->parts_b64);
    }
    if (w->fields_encoded) {
        if (b.len)
            buf_puts(&b, ", ");
        buf_printf(&b, ngettext("%u header field encoded", "%u header fields encoded",
                                w->fields_encoded), w->fields_encoded);
    }
    return buf_steal(&b);
}

/* ----------------------------------------------------------- interface */

static void walk_pass(struct walk *w)
{
    w->changes = w->fields_encoded = w->parts_qp = w->parts_b64 = w->body8 = 0;
    w->top_body = 0;
    w->hdr8 = false;
    w->idx = 0;
    w->frozen = NULL;
    struct convert_entity top = { .start = 0, .end = w->n, .top = true, .is_msg = true };
    walk_entity(w, &top);
    flush_out(w);
}

int convert_message(const char *msg, size_t n, const struct convert_target *t, bool force_7bit,
                    const struct convert_sink *sink, struct convert_facts *f, struct result *r)
{
    *f = (struct convert_facts)CONVERT_FACTS_INIT;
    struct walk w = {
        .msg = msg ? msg : "", .n = msg ? n : 0, .t = t, .force_7bit = force_7bit,
        .sink = sink, .r = r,
    };
    walk_pass(&w);
    if (!w.failed && w.changes) {
        w.emit = true;
        walk_pass(&w);
        if (!w.failed) {
            f->converted = true;
            f->summary = make_summary(&w);
        }
    }
    f->body_8bit = w.body8 != 0;
    f->header_utf8 = w.hdr8;
    buf_free(&w.ob);
    buf_free(&w.scratch);
    buf_free(&w.tmp);
    free(w.recs);
    if (w.failed) {
        if (r->cls == RC_OK)
            result_set(r, RC_SOFTWARE, _("the message could not be converted"));
        convert_facts_free(f);
        return -1;
    }
    return 0;
}

void convert_facts_free(struct convert_facts *f)
{
    free(f->summary);
    *f = (struct convert_facts)CONVERT_FACTS_INIT;
}
