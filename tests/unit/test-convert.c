/*
 * test-convert.c - unit tests for the conversion of a message for one
 * server: the walker convert_message() on memory (byte-exact output for
 * each kind of message, refusals, the facts, idempotence: the output
 * converted again is the same), the encoders convert_qp_line(),
 * convert_base64(), convert_utf8_valid() and the lenient decoders, and
 * convert_for_server() on a real file (the original descriptor when
 * nothing changes, a new file when something does).
 *
 * Header fields that need rewriting are handed to convert_header_field()
 * (convert-header.c, tested on its own); the expectations here use
 * header fields that need no rewriting, except where a test says so.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert-int.h"
#include "message.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static int buf_sink(void *ctx, const char *p, size_t n, struct result *r)
{
    (void)r;
    buf_append(ctx, p, n);
    return 0;
}

enum { E8 = 1, U8 = 2, FORCE = 4 };

struct run {
    int rc;
    struct convert_facts f;
    struct result r;
    struct buf out;           /* the data to send: the output, or the input */
};

static void run_free(struct run *x)
{
    convert_facts_free(&x->f);
    result_clear(&x->r);
    buf_free(&x->out);
}

static bool all_7bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return false;
    return true;
}

/* Lines end in CRLF and have at most 998 octets. */
static bool canonical(const char *p, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (i == 0 || p[i - 1] != '\r')
                return false;
            col = 0;
        } else if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n')) {
            return false;
        } else if (p[i] != '\r' && ++col > CONVERT_LINE_MAX) {
            return false;
        }
    }
    return n == 0 || (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n');
}

static struct run convert(const char *in, size_t n, int flags)
{
    struct run x = { .r = RESULT_INIT };
    struct convert_target t = { (flags & E8) != 0, (flags & U8) != 0 };
    struct convert_sink sink = { buf_sink, &x.out };
    x.rc = convert_message(in, n, &t, (flags & FORCE) != 0, &sink, &x.f, &x.r);
    if (x.rc == 0 && !x.f.converted) {
        if (x.out.len)
            x.rc = -2;                          /* wrote although not converted */
        buf_append(&x.out, in, n);
    }
    return x;
}

/* Convert in with flags and compare with want (NULL: the input comes
 * back as it is, not converted); then convert the output again: nothing
 * may change. */
static void check(const char *what, const char *in, int flags, const char *want,
                  bool body_8bit, bool header_utf8)
{
    struct run x = convert(in, strlen(in), flags);
    char *t = xasprintf("%s: converted", what);
    tap_int(x.rc, 0, t);
    if (x.rc == -1)
        printf("#   refused: %s\n", x.r.msg);
    free(t);
    t = xasprintf("%s: output", what);
    tap_str(x.out.data ? x.out.data : "", want ? want : in, t);
    free(t);
    t = xasprintf("%s: converted is %s", what, want ? "true" : "false");
    tap_ok(x.f.converted == (want != NULL), t);
    free(t);
    t = xasprintf("%s: body_8bit %d header_utf8 %d", what, body_8bit, header_utf8);
    tap_ok(x.f.body_8bit == body_8bit && x.f.header_utf8 == header_utf8, t);
    if (x.f.body_8bit != body_8bit || x.f.header_utf8 != header_utf8)
        printf("#   got body_8bit %d header_utf8 %d\n", x.f.body_8bit, x.f.header_utf8);
    free(t);
    if (want) {
        t = xasprintf("%s: canonical lines", what);
        tap_ok(canonical(x.out.data, x.out.len), t);
        free(t);
        if (!(flags & (E8 | U8))) {
            t = xasprintf("%s: 7-bit", what);
            tap_ok(all_7bit(x.out.data, x.out.len), t);
            free(t);
        }
        struct run y = convert(x.out.data, x.out.len, flags);
        t = xasprintf("%s: converting again changes nothing", what);
        tap_ok(y.rc == 0 && !y.f.converted && y.f.body_8bit == body_8bit &&
               y.f.header_utf8 == header_utf8, t);
        free(t);
        run_free(&y);
    }
    run_free(&x);
}

static void check_refused(const char *what, const char *in, int flags, const char *needle)
{
    struct run x = convert(in, strlen(in), flags);
    char *t = xasprintf("%s: refused with RC_DATAERR", what);
    tap_ok(x.rc == -1 && x.r.cls == RC_DATAERR, t);
    free(t);
    t = xasprintf("%s: the sentence says \"%s\"", what, needle);
    tap_ok(x.r.msg && strstr(x.r.msg, needle) != NULL, t);
    if (x.r.msg && !strstr(x.r.msg, needle))
        printf("#   got: %s\n", x.r.msg);
    free(t);
    t = xasprintf("%s: no summary", what);
    tap_ok(x.f.summary == NULL && !x.f.converted, t);
    free(t);
    run_free(&x);
}

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------- non-MIME */

static void test_plain(void)
{
    const char *in = "From: a@example.org\r\nSubject: hi\r\n\r\nh\xc3\xa9llo\r\n.\r\nend\r\n";
    const char *qp = "From: a@example.org\r\nSubject: hi\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9llo\r\n.\r\nend\r\n";
    check("non-MIME UTF-8, 7-bit server", in, 0, qp, false, false);
    check("non-MIME UTF-8, 8BITMIME", in, E8, NULL, true, false);
    check("non-MIME UTF-8, -B 7BIT", in, FORCE, qp, false, false);
    check("non-MIME UTF-8, SMTPUTF8 only", in, U8, qp, false, false);

    check("non-MIME invalid UTF-8", "Subject: x\r\n\r\ncaf\xe9 \r\n", 0,
          "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9=20\r\n", false, false);

    /* A 1500-octet ASCII line: us-ascii, soft line breaks, whatever the
     * server offers. */
    char *line = repeat('a', 1500);
    char *in2 = xasprintf("Subject: long\r\n\r\n%s\r\nshort\r\n", line);
    struct buf want = BUF_INIT;
    buf_puts(&want, "Subject: long\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=us-ascii\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    for (int i = 0; i < 19; i++) {
        buf_append(&want, line, 75);
        buf_puts(&want, "=\r\n");
    }
    buf_append(&want, line, 75);
    buf_puts(&want, "\r\nshort\r\n");
    check("1500-octet line, 7-bit server", in2, 0, want.data, false, false);
    check("1500-octet line, 8BITMIME and SMTPUTF8", in2, E8 | U8, want.data, false, false);
    struct run x = convert(in2, strlen(in2), 0);
    tap_str(x.f.summary, "body re-encoded as quoted-printable", "summary of a re-encoded body");
    run_free(&x);
    free(in2);
    free(line);
    buf_free(&want);

    /* No header at all, and a header section that ends without an empty
     * line: the added fields are followed by one. */
    check("no header", "\xc3\xa9t\xc3\xa9\r\n", 0,
          "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n", false, false);
    check("MIME-Version without Content-Type", "MIME-Version: 1.0\r\n\r\n\xc3\xa9\r\n", 0,
          "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n",
          false, false);
    check("empty message", "", 0, NULL, false, false);
    check("header only", "Subject: x\r\n", 0, NULL, false, false);
}

/* ---------------------------------------------------------- multipart */

static const char mixed_in[] =
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\n"
    "This is a preamble.\r\n"
    "--XyZ\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "gr\xc3\xbc\xc3\x9f\r\n"
    "--XyZ\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment\r\n\r\n"
    "\x01\xff\xfe\r\n\r\n"
    "--XyZ--\r\n"
    "epilogue\r\n";

static const char mixed_out[] =
    "From: a@example.org\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\n"
    "This is a preamble.\r\n"
    "--XyZ\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "gr=C3=BC=C3=9F\r\n"
    "--XyZ\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "Af/+DQo=\r\n"
    "--XyZ--\r\n"
    "epilogue\r\n";

static void test_multipart(void)
{
    check("multipart/mixed, 7-bit server", mixed_in, 0, mixed_out, false, false);
    check("multipart/mixed, 8BITMIME", mixed_in, E8, NULL, true, false);
    struct run x = convert(mixed_in, strlen(mixed_in), 0);
    tap_str(x.f.summary, "2 parts re-encoded (1 quoted-printable, 1 base64)",
            "summary of two parts");
    run_free(&x);

    /* Nested: multipart/alternative in multipart/mixed, CTE binary on the
     * outer one becomes 7bit once nothing 8-bit is left under it. */
    check("nested multipart",
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n"
          "Content-Transfer-Encoding: binary\r\n\r\n"
          "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
          "--inner\r\nContent-Type: text/plain\r\n\r\n\xc3\xa0\r\n"
          "--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
          "<p>\xc3\xa0</p>\r\n--inner--\r\n"
          "--outer--\r\n",
          0,
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n"
          "Content-Transfer-Encoding: 7bit\r\n\r\n"
          "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
          "--inner\r\nContent-Type: text/plain\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A0\r\n"
          "--inner\r\nContent-Type: text/html\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
          "<p>=C3=A0</p>\r\n--inner--\r\n"
          "--outer--\r\n", false, false);

    /* message/rfc822: the inner message is a message of its own (it gets
     * the MIME fields of a non-MIME message); the part's 8bit becomes 7bit. */
    check("message/rfc822 with 8-bit inside",
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
          "From: x@example.org\r\nSubject: fwd\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
          "--b--\r\n",
          0,
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
          "From: x@example.org\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n"
          "--b--\r\n", false, false);

    /* The Content-Transfer-Encoding keeps its place; an unknown type is
     * base64; a part without a header gets one. */
    check("parts with CTE 8bit, binary, absent",
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Transfer-Encoding: 8bit\r\nContent-Type: text/x-y\r\n\r\n\xe9\r\n"
          "--b\r\nContent-Transfer-Encoding: BINARY\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n"
          "--b\r\n\r\n\xe9\r\n"
          "--b\r\n\xe9\r\n"
          "--b--\r\n",
          0,
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/x-y\r\n\r\n"
          "=E9\r\n"
          "--b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: image/png\r\n\r\niVBORw==\r\n"
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n"
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n"
          "--b--\r\n", false, false);

    /* Already quoted-printable with a long line: decoded (leniently),
     * encoded again. */
    char *long_qp = repeat('b', 1000);
    char *in = xasprintf("MIME-Version: 1.0\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n"
                         "x=3Dy=\r\n%s=\r\n z \r\n=ZZ\r\n", long_qp);
    struct buf want = BUF_INIT;
    buf_puts(&want, "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
             "x=3Dy");
    buf_append(&want, long_qp, 70);
    buf_puts(&want, "=\r\n");
    for (int i = 0; i < 12; i++) {
        buf_append(&want, long_qp, 75);
        buf_puts(&want, "=\r\n");
    }
    buf_append(&want, long_qp, 30);
    buf_puts(&want, " z\r\n=3DZZ\r\n");
    check("quoted-printable with a long line", in, E8 | U8, want.data, false, false);
    free(in);
    buf_free(&want);

    /* Base64 with long lines: re-wrapped at 76. */
    char *b64 = repeat('A', 1200);
    in = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                   "Content-Type: application/x-z\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   "%s\r\n--b--\r\n", b64);
    buf_puts(&want, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
             "Content-Type: application/x-z\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    for (int i = 0; i < 15; i++) {
        buf_append(&want, b64, 76);
        buf_puts(&want, "\r\n");
    }
    buf_append(&want, b64, 60);
    buf_puts(&want, "\r\n--b--\r\n");
    check("base64 with long lines", in, E8, want.data, false, false);
    x = convert(in, strlen(in), E8);
    tap_str(x.f.summary, "1 part re-encoded as base64", "summary of a re-wrapped part");
    run_free(&x);
    free(in);
    free(long_qp);
    free(b64);
    buf_free(&want);

    check_refused("base64 with 8-bit octets",
                  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                  "Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                  "R0lG\xff\r\n--b--\r\n", 0, "base64");

    /* No closing boundary: the last part runs to the end, none is added. */
    check("missing closing boundary",
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\xc3\xa9\r\nmore\r\n", 0,
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\nmore\r\n", false, false);

    /* A boundary with quotes and the special characters it may hold; a
     * line that only starts like it is not a boundary line. */
    check("boundary with special characters",
          "Content-Type: Multipart/Mixed; charset=x; BOUNDARY=\"=_a'()+_,-./:=?\" (c)\r\n\r\n"
          "--=_a'()+_,-./:=? \r\n\r\n\xc3\xa9\r\n--=_a'()+_,-./:=?x\r\n"
          "--=_a'()+_,-./:=?--\r\n", 0,
          "Content-Type: Multipart/Mixed; charset=x; BOUNDARY=\"=_a'()+_,-./:=?\" (c)\r\n\r\n"
          "--=_a'()+_,-./:=? \r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "=C3=A9\r\n=2D-=3D_a'()+_,-./:=3D?x\r\n"
          "--=_a'()+_,-./:=?--\r\n", false, false);

    /* Re-encoding decoded text never makes a boundary line of it. */
    char *ll = repeat('c', 1000);
    in = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n=2D=2Db\r\n%s\r\n"
                   "--b--\r\n", ll);
    x = convert(in, strlen(in), E8);
    const char *first = x.out.data ? strstr(x.out.data, "\r\n--b\r\n") : NULL;
    tap_ok(x.rc == 0 && x.f.converted && strstr(x.out.data, "\r\n=2D-b\r\n") && first &&
           !strstr(first + 2, "\r\n--b\r\n"), "re-encoded quoted-printable: no new boundary line");
    run_free(&x);
    free(in);
    free(ll);

    /* In multipart/digest a part without Content-Type is a message. */
    check("multipart/digest",
          "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
          "Subject: in\r\n\r\n\xe9\r\n--d--\r\n", 0,
          "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
          "Subject: in\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=unknown-8bit\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--d--\r\n", false, false);

    const char *pre8 = "Content-Type: multipart/mixed; boundary=b\r\n\r\nvorw\xc3\xb6rts\r\n"
        "--b\r\n\r\n\xc3\xa9\r\n--b--\r\n";
    check_refused("8-bit preamble, 7-bit server", pre8, 0, "preamble");
    check("8-bit preamble, 8BITMIME", pre8, E8, NULL, true, false);
    check_refused("8-bit epilogue, 7-bit server",
                  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\xc3\xa9\r\n"
                  "--b--\r\n\xc3\xa9\r\n", 0, "epilogue");
}

/* --------------------------------------------------------- signatures */

static void test_signed(void)
{
    const char *sig = "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\r\n"
        "\r\n--s\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nsign\xc3\xa9\r\n"
        "--s\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--s--\r\n";
    check_refused("multipart/signed, 7-bit server", sig, 0,
                  "the message is signed (multipart/signed) and would have to be converted "
                  "for this server (8-bit data, and the server does not offer 8BITMIME); "
                  "converting it would break the signature");
    check_refused("multipart/signed, -B 7BIT", sig, FORCE, "-B 7BIT");
    check("multipart/signed, 8BITMIME", sig, E8, NULL, true, false);

    char *in = xasprintf("Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n%s--o--\r\n",
                         sig);
    check_refused("a signed part", in, 0, "a part of the message is signed or encrypted "
                  "(multipart/signed)");
    free(in);
    check_refused("application/pkcs7-mime",
                  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
                  "Content-Transfer-Encoding: binary\r\n\r\n\x30\x80\xff\r\n", 0,
                  "application/pkcs7-mime");

    const char *dkim = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; b=abc\r\n"
        "Subject: x\r\n\r\n\xc3\xa9\r\n";
    check_refused("DKIM-Signature, 7-bit server", dkim, 0,
                  "the message is signed (DKIM-Signature)");
    check("DKIM-Signature, 8BITMIME", dkim, E8, NULL, true, false);
    char *longline = repeat('x', 1200);
    in = xasprintf("ARC-Message-Signature: i=1; b=x\r\n\r\n%s\r\n", longline);
    check_refused("ARC-Message-Signature, long line", in, E8 | U8,
                  "ARC-Message-Signature) and would have to be converted for this server (a "
                  "line longer than 998 octets)");
    free(in);
    free(longline);
    check_refused("DKIM-Signature, 8-bit header field", "dkim-signature: v=1\r\n"
                  "Subject: \xc3\xa9\r\n\r\nx\r\n", E8, "SMTPUTF8");
    check("DKIM-Signature, 8-bit header field, SMTPUTF8", "dkim-signature: v=1\r\n"
          "Subject: \xc3\xa9\r\n\r\nx\r\n", E8 | U8, NULL, false, true);

    /* Nesting beyond the limit: sent as it is when it can be, else refused. */
    struct buf deep = BUF_INIT;
    for (int i = 0; i < 40; i++)
        buf_printf(&deep, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_puts(&deep, "\r\n\xc3\xa9\r\n");
    check_refused("nesting over 32 levels, 7-bit", deep.data, 0, "deeper than 32");
    check("nesting over 32 levels, 8BITMIME", deep.data, E8, NULL, true, false);
    buf_free(&deep);
}

/* -------------------------------------------------------------- facts */

static void test_facts(void)
{
    const char *body8 = "Subject: x\r\n\r\n\xc3\xa9\r\n";
    const char *hdr8 = "Subject: \xc3\xa9\r\n\r\nx\r\n";
    const char *both = "Subject: \xc3\xa9\r\n\r\n\xc3\xa9\r\n";
    const char *ascii = "Subject: x\r\n\r\nx\r\n";
    check("ASCII, every extension", ascii, E8 | U8, NULL, false, false);
    check("ASCII, none", ascii, 0, NULL, false, false);
    check("8-bit body, 8BITMIME", body8, E8, NULL, true, false);
    check("8-bit body, 8BITMIME and SMTPUTF8", body8, E8 | U8, NULL, true, false);
    check("UTF-8 header, SMTPUTF8", hdr8, U8, NULL, false, true);
    check("UTF-8 header, 8BITMIME and SMTPUTF8", hdr8, E8 | U8, NULL, false, true);
    check("UTF-8 both, 8BITMIME and SMTPUTF8", both, E8 | U8, NULL, true, true);
    check("UTF-8 both, SMTPUTF8 only", both, U8,
          "Subject: \xc3\xa9\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n", false, true);
    check("UTF-8 in a part header, 8BITMIME and SMTPUTF8",
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
          "Content-Disposition: attachment; filename=\"\xc3\xa9.txt\"\r\n\r\nx\r\n--b--\r\n",
          E8 | U8, NULL, true, true);

    /* A header field that must be rewritten: whatever convert-header.c
     * makes of it, the facts say what is left. */
    int targets[] = { 0, E8, U8, E8 | U8 };
    const char *ins[] = { hdr8, both, "Subject: caf\xe9\r\n\r\nx\r\n" };
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
        for (size_t k = 0; k < 4; k++) {
            struct run x = convert(ins[i], strlen(ins[i]), targets[k]);
            const char *end = strstr(x.out.data, "\r\n\r\n");
            size_t hlen = end ? (size_t)(end - x.out.data) : x.out.len;
            bool h8 = !all_7bit(x.out.data, hlen);
            bool b8 = end && !all_7bit(end, x.out.len - hlen);
            char *t = xasprintf("facts follow the output (input %zu, target %d)", i,
                                targets[k]);
            tap_ok(x.rc == 0 && x.f.header_utf8 == h8 && x.f.body_8bit == b8 &&
                   (!b8 || (targets[k] & E8)), t);
            free(t);
            run_free(&x);
        }
}

/* ------------------------------------------------------------ encoders */

static char *qp(const char *s, size_t n)
{
    struct buf b = BUF_INIT;
    convert_qp_line(&b, s, n);
    return buf_steal(&b);
}

static void test_qp(void)
{
    char *s;
    tap_str(s = qp("", 0), "\r\n", "qp: empty line"), free(s);
    tap_str(s = qp(".", 1), ".\r\n", "qp: a lone dot stays (dot-stuffing is SMTP's)"), free(s);
    tap_str(s = qp("--b", 3), "=2D-b\r\n", "qp: a line never starts with \"--\""), free(s);
    tap_str(s = qp("-x-", 3), "-x-\r\n", "qp: a single '-' starting a line stays"), free(s);
    tap_str(s = qp("a b ", 4), "a b=20\r\n", "qp: trailing space"), free(s);
    tap_str(s = qp("a\tb\t", 4), "a\tb=09\r\n", "qp: trailing tab"), free(s);
    tap_str(s = qp("1=2\x7f\r", 5), "1=3D2=7F=0D\r\n", "qp: '=', DEL and CR"), free(s);

    /* 76 characters fit on the last line; one more breaks it. */
    char *l = repeat('x', 76);
    tap_str(s = qp(l, 76), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
            "qp: 76 characters on one line"), free(s);
    free(l);
    l = repeat('x', 77);
    s = qp(l, 77);
    tap_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\r\n"
            "xx\r\n", "qp: 77 characters: a soft break after 75");
    free(s);
    free(l);
    /* An =XX is never split: 74 x then an encoded octet needs a new line. */
    l = xasprintf("%s\xe9y", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    s = qp(l, strlen(l));
    tap_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\r\n"
            "=E9y\r\n", "qp: =XX not split at the 76th column");
    free(s);
    free(l);
    /* 73 x then =E9 as the last thing: exactly 76 on the last line. */
    l = xasprintf("%s\xe9", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    s = qp(l, strlen(l));
    tap_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=E9\r\n",
            "qp: =XX ending a 76-character last line");
    free(s);
    free(l);
    /* A trailing space right at the break is encoded on the last line. */
    l = xasprintf("%s ", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    s = qp(l, strlen(l));
    tap_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\r\n"
            "=20\r\n", "qp: a trailing space after a soft break");
    free(s);
    free(l);
    /* A piece after a soft break never starts with '-'. */
    l = xasprintf("%s--b", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    s = qp(l, strlen(l));
    tap_str(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\r\n"
            "=2D-b\r\n", "qp: no boundary-like line after a soft break");
    free(s);
    free(l);

    /* All 256 octets: 7-bit, lines of at most 76, and they decode back. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    s = qp(all, 256);
    bool ok = all_7bit(s, strlen(s));
    struct buf dec = BUF_INIT;
    size_t col = 0;
    for (const char *p = s, *nl; (nl = strstr(p, "\r\n")); p = nl + 2) {
        col = (size_t)(nl - p);
        if (col > 76)
            ok = false;
        if (convert_qp_decode_line(&dec, p, col) != (nl[2] != '\0'))
            ok = false;
    }
    tap_ok(ok && dec.len == 256 && memcmp(dec.data, all, 256) == 0,
           "qp: all 256 octets encode to short 7-bit lines that decode back");
    buf_free(&dec);
    free(s);

    struct buf b = BUF_INIT;
    tap_ok(convert_qp_decode_line(&b, "a=3d=\t ", 7) && b.len == 2 && !memcmp(b.data, "a=", 2),
           "qp decode: lower-case hex, soft break with trailing blanks");
    buf_reset(&b);
    tap_ok(convert_qp_decode_line(&b, "=4=G\xe9=", 6) && b.len == 5 &&
           !memcmp(b.data, "=4=G\xe9", 5), "qp decode: a lone '=' and 8-bit octets kept");
    buf_free(&b);
}

static void test_base64(void)
{
    struct buf b = BUF_INIT;
    convert_base64(&b, "", 0);
    tap_int((long long)b.len, 0, "base64: nothing for nothing");
    convert_base64(&b, "f", 1);
    convert_base64(&b, "fo", 2);
    convert_base64(&b, "foo", 3);
    tap_str(b.data, "Zg==\r\nZm8=\r\nZm9v\r\n", "base64: padding");
    buf_reset(&b);
    char data[114];
    for (int i = 0; i < 114; i++)
        data[i] = (char)(i * 7);
    convert_base64(&b, data, 114);
    tap_ok(b.len == 2 * 78 && b.data[76] == '\r' && b.data[77] == '\n', "base64: lines of 76");
    struct buf c = BUF_INIT;
    convert_base64(&c, data, 57);
    convert_base64(&c, data + 57, 57);
    tap_ok(c.len == b.len && !memcmp(c.data, b.data, b.len), "base64: pieces of 57 octets");
    struct buf d = BUF_INIT;
    struct convert_b64_state st = CONVERT_B64_STATE_INIT;
    convert_b64_decode(&st, &d, b.data, 5);
    convert_b64_decode(&st, &d, b.data + 5, b.len - 5);
    convert_b64_decode_end(&st, &d);
    tap_ok(d.len == 114 && !memcmp(d.data, data, 114), "base64: decoded in pieces");
    buf_reset(&d);
    st = (struct convert_b64_state)CONVERT_B64_STATE_INIT;
    convert_b64_decode(&st, &d, "Zm 9v\r\nYg", 9);
    convert_b64_decode_end(&st, &d);
    tap_str(d.data, "foob", "base64: lenient, unpadded end");
    buf_free(&b);
    buf_free(&c);
    buf_free(&d);
}

static void test_utf8(void)
{
    static const struct { const char *s; bool ok; const char *what; } cases[] = {
        { "", true, "empty" },
        { "plain", true, "ASCII" },
        { "\xc3\xa9", true, "U+00E9" },
        { "\xe2\x82\xac", true, "U+20AC" },
        { "\xf0\x9f\x98\x80", true, "U+1F600" },
        { "\xf4\x8f\xbf\xbf", true, "U+10FFFF" },
        { "\xed\x9f\xbf", true, "U+D7FF" },
        { "\xee\x80\x80", true, "U+E000" },
        { "\xc0\xaf", false, "overlong 2 octets" },
        { "\xc1\xbf", false, "overlong C1" },
        { "\xe0\x80\xaf", false, "overlong 3 octets" },
        { "\xf0\x80\x80\xaf", false, "overlong 4 octets" },
        { "\xed\xa0\x80", false, "surrogate D800" },
        { "\xed\xbf\xbf", false, "surrogate DFFF" },
        { "\xf4\x90\x80\x80", false, "U+110000" },
        { "\xf5\x80\x80\x80", false, "F5" },
        { "\xff", false, "FF" },
        { "\x80", false, "lone continuation" },
        { "\xc3", false, "truncated" },
        { "\xe2\x82", false, "truncated 3" },
        { "\xc3\x28", false, "bad continuation" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = xasprintf("utf-8: %s", cases[i].what);
        tap_ok(convert_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, t);
        free(t);
    }
}

/* ------------------------------------------------- convert_for_server */

static void test_for_server(void)
{
    const char *dir = tu_tmpdir("convert");
    static const char prefix[] = "ENVELOPE\n";
    const char *msg = "Subject: x\r\n\r\nh\xc3\xa9\r\n";
    char *data = xasprintf("%s%s", prefix, msg);
    char *path = tu_write_file(dir, "m", data, 0600);
    int fd = open(path, O_RDONLY);
    struct message m = { .fd = fd, .size = (long long)strlen(msg), .has_8bit = true,
                         .longest_line = 3, .offset = sizeof prefix - 1 };
    struct result r = RESULT_INIT;
    struct convert_output out = CONVERT_OUTPUT_INIT;
    struct convert_target eight = { true, false }, seven = { false, false };

    tap_int(convert_for_server(&m, &eight, dir, &out, &r), 0, "for_server: 8BITMIME");
    tap_ok(out.fd == fd && !out.converted && out.offset == m.offset && out.size == m.size &&
           out.body_8bit && !out.header_utf8 && !out.summary,
           "for_server: nothing changes: the message's own file");
    convert_output_free(&out);

    tap_int(convert_for_server(&m, &seven, dir, &out, &r), 0, "for_server: 7-bit");
    tap_ok(out.fd >= 0 && out.fd != fd && out.converted && out.offset == 0 && !out.body_8bit,
           "for_server: converted into a new file");
    char got[512] = "";
    ssize_t n = pread(out.fd, got, sizeof got - 1, 0);
    got[n > 0 ? n : 0] = '\0';
    tap_int(n, out.size, "for_server: size of the new file");
    tap_str(got, "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9\r\n",
            "for_server: converted data");
    tap_str(out.summary, "body re-encoded as quoted-printable", "for_server: summary");
    convert_output_free(&out);
    tap_ok(out.fd == -1 && out.summary == NULL, "for_server: output freed");

    /* The facts rule conversion out: nothing is read (a closed fd would
     * fail any read). */
    struct message ascii = { .fd = 999, .size = 10, .longest_line = 8 };
    tap_int(convert_for_server(&ascii, &seven, dir, &out, &r), 0, "for_server: fast path");
    tap_ok(out.fd == 999 && !out.converted && out.size == 10, "for_server: fast path, own fd");
    convert_output_free(&out);

    /* -B 7BIT words its refusals. */
    close(fd);
    free(data);
    free(path);
    const char *dk = "DKIM-Signature: v=1\r\n\r\n\xc3\xa9\r\n";
    path = tu_write_file(dir, "dk", dk, 0600);
    fd = open(path, O_RDONLY);
    struct message md = { .fd = fd, .size = (long long)strlen(dk), .has_8bit = true,
                          .longest_line = 19, .force_7bit = true };
    tap_int(convert_for_server(&md, &seven, dir, &out, &r), -1, "for_server: refused");
    tap_ok(r.cls == RC_DATAERR && r.msg && strstr(r.msg, "-B 7BIT"),
           "for_server: refusal names -B 7BIT");
    result_clear(&r);
    close(fd);
    free(path);
    tu_rmtree(dir);
}

int main(void)
{
    test_plain();
    test_multipart();
    test_signed();
    test_facts();
    test_qp();
    test_base64();
    test_utf8();
    test_for_server();
    return tap_done();
}
