/*
 * convert-int.h - private to convert*.c: the pieces of the conversion
 * that are pure functions on memory, shared between the MIME walker
 * (convert.c, convert-mime.c) and the encoders (convert-encode.c,
 * convert-header.c). Each one is unit-tested and fuzzed on its own.
 */
#ifndef SMTPFWD_CONVERT_INT_H
#define SMTPFWD_CONVERT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "convert.h"
#include "result.h"
#include "util.h"

/* RFC 5322 2.1.1: octets of a line, without its CRLF. */
#define CONVERT_LINE_MAX 998

/* MIME nesting (multipart and message/rfc822 levels) walked; a deeper
 * body is sent as it is, or refused when it would need converting. */
#define CONVERT_NEST_MAX 32

/* ---- convert-parse.c: the structure of a message ----------------- */

enum convert_cte { CTE_NONE, CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_QP, CTE_BASE64, CTE_OTHER };

struct convert_field {
    size_t start, len;        /* the field without its final CRLF */
};

/* One entity: a message or a MIME part, header and body. */
struct convert_entity {
    size_t start, end;        /* [start, end) in the message */
    bool delim_after;         /* the CRLF that ends the range belongs to a
                                 boundary line that follows */
    bool top;                 /* the message itself (its header is the
                                 SMTP message's header) */
    bool is_msg;              /* a message: the top one or the body of a
                                 message/rfc822 part */
    bool digest_child;        /* a part of multipart/digest */
    int depth;
    struct convert_field *f;
    size_t nf, capf;
    bool blank;               /* the header section ends in an empty line */
    size_t bstart;            /* first octet of the body */
    bool has_ct, has_mv;
    char type[32], subtype[64];   /* lower case; empty when unknown */
    char *boundary;
    bool boundary_8bit;
    enum convert_cte cte;
    long cte_field;           /* index of the first Content-Transfer-Encoding, -1 */
    long ct_field;            /* index of the first Content-Type, -1 */
    const char *signer;       /* "DKIM-Signature", ...: a top-level signature field */
};

/* What a range of octets holds. */
struct convert_scan {
    bool has_8bit;
    bool long_line;
    bool utf8;
};

/* The line at pos in [pos, end): returns where the next line starts;
 * *ce is where its content ends (before its CRLF or LF). */
size_t convert_next_line(const char *m, size_t pos, size_t end, size_t *ce);

/* What m[start, end) holds: an 8-bit octet, a line over
 * CONVERT_LINE_MAX, and (when 8-bit) whether it is all valid UTF-8. */
void convert_scan_range(const char *m, size_t start, size_t end, struct convert_scan *s);

/* Where the value of field f (after its colon) is in m. */
void convert_field_value(const char *m, const struct convert_field *f, size_t *vs, size_t *vn);

/* Read e's header section from e->start (up to an empty line, or to the
 * first line that is not a header field or a continuation, or to
 * e->end): its fields (e->f, owned by e: the caller frees it), where the
 * body starts, and its MIME facts: Content-Type (type and subtype in
 * lower case, text/plain or for a part of multipart/digest
 * message/rfc822 when missing or unreadable; the boundary, quoted or
 * not, owned by e), the Content-Transfer-Encoding, MIME-Version, and for
 * the top-level entity a DKIM-Signature or ARC-Message-Signature. */
void convert_parse_header(const char *m, struct convert_entity *e);

/* ---- convert-mime.c: the MIME walker ------------------------------ */

/* Where the converted message goes: write() receives it in order, in
 * pieces of any size (up to 64 KiB, or a larger piece copied whole);
 * returns 0, or -1 with r set (the conversion then stops with -1). */
struct convert_sink {
    int (*write)(void *ctx, const char *p, size_t n, struct result *r);
    void *ctx;
};

/* What convert_message() found. */
struct convert_facts {
    bool converted;           /* the sink received the converted message;
                                 false: the message goes as it is, nothing
                                 was written */
    bool body_8bit;           /* 8-bit octets remain after the top-level header */
    bool header_utf8;         /* 8-bit octets remain in header fields (kept as
                                 UTF-8 where the target takes it) */
    char *summary;            /* when converted: what changed, one translated
                                 line; else NULL; owned (convert_facts_free) */
};
#define CONVERT_FACTS_INIT { false, false, false, NULL }

/* The pure core of convert_for_server(): msg[0..n) is a canonical message
 * (lines end in CRLF). A first pass reads it (header sections, MIME
 * structure, per part 8-bit octets, long lines, UTF-8, signatures); when
 * nothing must change for the target t, it returns 0 with
 * f->converted false and writes nothing. Otherwise a second pass writes
 * the converted message to sink (converted true, summary set).
 * force_7bit only chooses the words of a refusal (-B 7BIT rather than
 * the server). Returns 0, or -1 with r set: RC_DATAERR with the sentence
 * saying what cannot be converted and why (a signature, a base64 part
 * with 8-bit octets, a preamble or epilogue, nesting over
 * CONVERT_NEST_MAX, a header field convert_header_field() refuses), or
 * the sink's failure. Deterministic: the same input gives the same
 * bytes. */
int convert_message(const char *msg, size_t n, const struct convert_target *t, bool force_7bit,
                    const struct convert_sink *sink, struct convert_facts *f, struct result *r);

/* Free f->summary; f becomes CONVERT_FACTS_INIT. */
void convert_facts_free(struct convert_facts *f);

/* ---- convert-encode.c: body encodings and character checks ---------- */

/* Quoted-printable (RFC 2045 6.7) of one line of text (n octets, no line
 * end in it): appended to out with soft line breaks ("=" CRLF) so that
 * no encoded line has more than 76 characters, then the line's CRLF.
 * Encoded: '=', octets >= 0x80, control octets other than TAB, and a
 * space or TAB that ends the line; an "=XX" is never split. No encoded
 * line starts with "--" (it could be taken for a boundary line): a '-'
 * that would start one, or that starts a line after a soft break, is
 * written "=2D". */
void convert_qp_line(struct buf *out, const char *line, size_t n);

/* Base64 (RFC 2045 6.8) of n octets, appended to out as lines of 76
 * characters, each ending in CRLF. A body given in pieces must be cut
 * at multiples of 57 octets (each piece but the last), so that the
 * lines are the same as in one piece. */
void convert_base64(struct buf *out, const void *p, size_t n);

/* convert_qp_line() of a line that continues (soft_end): its last
 * octets are followed by a soft line break "=" CRLF instead of the CRLF
 * (a space or TAB before it is then not encoded), within 76 characters. */
void convert_qp_encode(struct buf *out, const char *line, size_t n, bool soft_end);

/* Lenient quoted-printable decoding of one encoded line (no line end in
 * it), appended to out: trailing blanks dropped, "=XX" (hex in either
 * case) decoded, any other octet (a lone "=", 8-bit octets) kept as it
 * is. Returns true when the line ends in a soft line break (the text
 * continues on the next line), false when its line break is part of the
 * text. */
bool convert_qp_decode_line(struct buf *out, const char *line, size_t n);

/* Lenient base64 decoding in pieces: characters outside the alphabet are
 * skipped, decoding stops at the first '='. Start from
 * CONVERT_B64_STATE_INIT, feed pieces with convert_b64_decode() (octets
 * appended to out), then convert_b64_decode_end() appends the octets of
 * an incomplete last group (2 or 3 characters). */
struct convert_b64_state {
    unsigned bits;
    int count;
    bool ended;
};
#define CONVERT_B64_STATE_INIT { 0, 0, false }
void convert_b64_decode(struct convert_b64_state *st, struct buf *out, const char *p, size_t n);
void convert_b64_decode_end(struct convert_b64_state *st, struct buf *out);

/* True when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF). */
bool convert_utf8_valid(const char *p, size_t n);

/* ---- convert-header.c: one header field --------------------------- */

/* One header field of a message or of a MIME part: field[0..n) is the
 * whole field as it is in the message (name, colon, value, its folded
 * lines joined by CRLF), without its final CRLF. It needs changing when
 * it has 8-bit octets and either smtputf8 is false or they are not
 * valid UTF-8, or when one of its lines is over CONVERT_LINE_MAX octets.
 * Appends to out the field as it must be sent, ending in CRLF: as it is
 * (returns 0), or rewritten (returns 1): unstructured fields (Subject,
 * Comments, X-*, any field not known to be structured) as RFC 2047
 * encoded-words; address fields (From, To, Cc, Bcc, Reply-To, Sender,
 * the Resent-* ones, ...) with display names, group names and comments
 * as encoded-words and domains as A-labels, their structure kept;
 * Content-Type and Content-Disposition parameters as RFC 2231; long
 * lines folded at whitespace (lines of at most 78 characters where the
 * text allows, never more than CONVERT_LINE_MAX). Returns -1 with r set
 * (RC_DATAERR, naming the field) when it cannot be: an address with a
 * non-ASCII local part, 8-bit octets in a field without an encoded form
 * (Message-ID, In-Reply-To, References, Date, ...), a line that has no
 * place to fold; nothing is appended then. */
int convert_header_field(struct buf *out, const char *field, size_t n, bool smtputf8,
                         struct result *r);

/* ---- convert-words.c: writing a rewritten header field ------------- */
/* (used by convert-header.c only) */

/* Lines of a rewritten field: at most this many characters where the
 * text allows (RFC 5322 2.1.1), never more than CONVERT_LINE_MAX. */
#define CONVERT_LINE_SOFT 78
/* RFC 2047 2: an encoded-word is at most 75 characters, and a line that
 * holds one at most 76. */
#define CONVERT_EW_MAX 75
#define CONVERT_EW_LINE 76

/* The folding writer: appends pieces to out, each one a text that is
 * never cut, after the white space that comes before it in the field;
 * a line is folded (CRLF inserted before that white space) when the
 * piece would take the line past CONVERT_LINE_SOFT, or past
 * CONVERT_LINE_MAX. col is the length of the line being written;
 * line_text is false while the line holds nothing after which a fold is
 * worth making (just the field name); after_ew says the last piece was an
 * encoded-word (a piece written right after one gets a space before it,
 * except ")", "," and ";"); line_ew says the line holds an encoded-word
 * (its soft limit is then CONVERT_EW_LINE); glue is the length of what
 * will follow the next piece with no place to fold before it (counted in
 * the decision to fold before that piece, then set back to 0). */
struct convert_writer {
    struct buf *out;
    size_t col;
    bool line_text;
    bool after_ew;
    bool line_ew;
    size_t glue;
};

/* Append the piece t[0..tl) after the white space ws[0..wl) (SP and TAB
 * are written; CR and LF are dropped, and white space made of them alone
 * is one space). may_insert: a space may be inserted to fold here when
 * ws is empty (a structured field between tokens). tl == 0: trailing
 * white space, written when it fits on the line, else dropped. Returns 0,
 * or -1 when the piece cannot be placed without a line over
 * CONVERT_LINE_MAX (nothing written then). t must hold no CR or LF. */
int convert_writer_put(struct convert_writer *w, const char *ws, size_t wl, bool may_insert,
                       const char *t, size_t tl);

/* Where encoded-words go (RFC 2047 5): the characters that Q writes as
 * they are differ. */
enum convert_ew_context {
    CONVERT_EW_TEXT,      /* unstructured text: printable ASCII but "=?_" */
    CONVERT_EW_PHRASE,    /* a display or group name: letters, digits, "!*+-/" */
    CONVERT_EW_COMMENT,   /* a comment: as a phrase */
    CONVERT_EW_LIST,      /* an element of a list of phrases (Keywords): words
                             chosen as in text, written as in a phrase */
};

/* Write s[0..m) as RFC 2047 encoded-words of at most CONVERT_EW_MAX
 * characters, never cutting a UTF-8 character, separated by one space
 * (which decoders drop), the first one after ws[0..wl) (may_insert as
 * for convert_writer_put). Charset utf-8, or unknown-8bit when s is not
 * valid UTF-8. Q when at most a third of the octets need an escape in
 * ctx (a space is "_", not an escape), else B. The first word gets a
 * space before it when ws is empty and it would follow anything but
 * white space or "(". Each word is sized to
 * the room left on its line (at most CONVERT_EW_LINE characters) when
 * there is room for a useful one.
 * Returns 0 or -1 as convert_writer_put. */
int convert_writer_encoded(struct convert_writer *w, const char *ws, size_t wl, bool may_insert,
                           const char *s, size_t m, enum convert_ew_context ctx);

/* Write text[0..m) (white space and words; CR and LF are dropped) as it
 * must be sent: a word goes as it is unless it must be encoded (8-bit
 * octets, unless smtputf8 and valid UTF-8; longer than a line can take;
 * in a phrase, any character outside atext), and adjacent words that
 * must be encoded become one run of encoded-words, so that the white
 * space between them is kept inside the encoding. In a comment, a word
 * that goes as it is gets "(", ")" and "\" escaped. space_first: a run
 * that opens the text with no white space before it gets a space.
 * may_insert applies to the first piece. Returns 0 or -1 as
 * convert_writer_put. */
int convert_writer_words(struct convert_writer *w, const char *text, size_t m,
                         enum convert_ew_context ctx, bool smtputf8, bool space_first,
                         bool may_insert);

/* The length of the well-formed UTF-8 character at p (n octets left):
 * 1 for ASCII, 2 to 4, or 0 when p does not start one (RFC 3629). */
size_t convert_utf8_char(const char *p, size_t n);
/* True when p[0..n) has an octet >= 0x80 that cannot be sent as it is:
 * smtputf8 is false, or p is not valid UTF-8. */
bool convert_words_need_8bit(const char *p, size_t n, bool smtputf8);

/* Append to b the RFC 2231 ext-value octets of v[0..n): attribute-chars
 * as they are, every other octet as %XX; keep_quote keeps "'" and "%"
 * as they are (a value that is already an ext-value). */
void convert_rfc2231_pct(struct buf *b, const char *v, size_t n, bool keep_quote);

#endif
