/*
 * test-convert-header.c - unit tests for convert_header_field()
 * (convert-header.c, convert-words.c): each class of field and each rule,
 * byte for byte, and what a recipient decodes (ew-decode.h) compared with
 * the original text.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "ew-decode.h"
#include "idn.h"
#include "tap.h"

/* Convert field; the output (without anything before it) or, on -1,
 * "ERR: " and the message. The output must be a well-formed field, and
 * nothing may be appended on error. */
static char *conv(const char *field, bool smtputf8, int *rc_out, enum result_class *cls)
{
    struct buf b = BUF_INIT;
    struct result r = RESULT_INIT;
    buf_puts(&b, "PREV\r\n");
    int rc = convert_header_field(&b, field, strlen(field), smtputf8, &r);
    *rc_out = rc;
    if (cls)
        *cls = r.cls;
    char *res;
    if (rc < 0) {
        if (b.len != 6)
            printf("# appended on error\n");
        res = xasprintf("ERR: %s%s", r.msg ? r.msg : "(none)", b.len != 6 ? " (appended)" : "");
    } else {
        if (!ewd_lines_ok(b.data + 6, b.len - 6))
            printf("# not a well-formed field\n");
        if (r.cls != RC_OK)
            printf("# result set on success\n");
        res = xstrdup(ewd_lines_ok(b.data + 6, b.len - 6) && r.cls == RC_OK ? b.data + 6 : "BAD");
    }
    buf_free(&b);
    result_clear(&r);
    return res;
}

static void check(const char *what, const char *field, bool smtputf8, int want_rc,
                  const char *want)
{
    int rc;
    char *got = conv(field, smtputf8, &rc, NULL);
    char *label = xasprintf("%s: return %d", what, want_rc);
    tap_int(rc, want_rc, label);
    free(label);
    tap_str(got, want, what);
    free(got);
}

/* RFC 2047 2: a line that holds an encoded-word has at most 76
 * characters. */
static bool ew_lines_ok(const char *s)
{
    while (*s) {
        const char *e = strstr(s, "\r\n");
        size_t l = e ? (size_t)(e - s) : strlen(s);
        char *line = xstrndup(s, l);
        bool bad = strstr(line, "=?") && l > 76;
        free(line);
        if (bad)
            return false;
        s += l + (e ? 2 : 0);
    }
    return true;
}

/* What a reader sees in the value of the converted field (unfolded,
 * encoded-words decoded), compared with want; and no encoded-word over
 * 75 characters or badly encoded. */
static void check_decodes(const char *what, const char *field, bool smtputf8, const char *want)
{
    int rc;
    char *got = conv(field, smtputf8, &rc, NULL);
    size_t len;
    char *unfolded = ewd_unfold(got, strlen(got), &len);
    bool bad = false;
    const char *colon = strchr(unfolded, ':');
    size_t dl;
    char *dec = ewd_decode(colon ? colon + 1 : unfolded, strlen(colon ? colon + 1 : unfolded),
                           &dl, &bad);
    char *label = xasprintf("%s: encoded-words well-formed, on lines of at most 76", what);
    tap_ok(!bad && rc == 1 && ew_lines_ok(got), label);
    free(label);
    label = xasprintf("%s: decodes to the original", what);
    /* the reader's text, without the CRLF the field ends with */
    if (dl >= 2 && dec[dl - 2] == '\r')
        dec[dl - 2] = '\0';
    tap_str(dec, want, label);
    free(label);
    free(dec);
    free(unfolded);
    free(got);
}

/* Every encoded-word of the field decodes on its own to valid UTF-8 (no
 * character cut between two words). */
static bool words_whole(const char *s)
{
    for (const char *p = strstr(s, "=?utf-8?"); p; p = strstr(p + 2, "=?utf-8?")) {
        struct buf o = BUF_INIT;
        bool bad = false;
        size_t l = ewd_word(p, 0, strlen(p), &o, &bad);
        bool ok = l > 0 && !bad && convert_utf8_valid(o.data ? o.data : "", o.len);
        buf_free(&o);
        if (!ok)
            return false;
    }
    return true;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static size_t longest_line(const char *s)
{
    size_t best = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            cur = 0;
        } else if (++cur > best) {
            best = cur;
        }
    }
    return best;
}

static void test_unchanged(void)
{
    check("ASCII Subject is copied", "Subject: hello world", false, 0,
          "Subject: hello world\r\n");
    check("UTF-8 Subject with SMTPUTF8 is copied", "Subject: Gr\xc3\xbc\xc3\x9f" "e", true, 0,
          "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n");
    check("UTF-8 From with SMTPUTF8 is copied",
          "From: J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>", true, 0,
          "From: J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n");
    check("a folded ASCII field is copied", "To: a@b.example,\r\n c@d.example", false, 0,
          "To: a@b.example,\r\n c@d.example\r\n");
}

static void test_unstructured(void)
{
    check("pure UTF-8 Subject (B: most octets need an escape)",
          "Subject: \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false, 1,
          "Subject: =?utf-8?B?5pel5pys6Kqe?=\r\n");
    check("mixed words: only the 8-bit ones are encoded",
          "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln", false, 1,
          "Subject: =?utf-8?B?R3LDvMOfZQ==?= aus =?utf-8?B?S8O2bG4=?=\r\n");
    check("adjacent 8-bit words are one run, their space inside it",
          "Subject: Re: caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e ready", false, 1,
          "Subject: Re: =?utf-8?B?Y2Fmw6kgY3LDqG1lIGJyw7tsw6ll?= ready\r\n");
    check("Q when at most a third of the octets need an escape",
          "Subject: na\xc3\xafve approach", false, 1,
          "Subject: =?utf-8?Q?na=C3=AFve?= approach\r\n");
    check("invalid UTF-8 is unknown-8bit", "Subject: caf\xe9 ok", false, 1,
          "Subject: =?unknown-8bit?Q?caf=E9?= ok\r\n");
    check("SMTPUTF8: valid UTF-8 stays, invalid is encoded",
          "Subject: Gr\xc3\xbc\xc3\x9f" "e caf\xe9 ok", true, 1,
          "Subject: Gr\xc3\xbc\xc3\x9f" "e =?unknown-8bit?Q?caf=E9?= ok\r\n");
    check("no space after the colon: one is put before the encoded-word",
          "Subject:\xc3\xa4", false, 1, "Subject: =?utf-8?B?w6Q=?=\r\n");
    check("Keywords: the commas stay outside the encoded-words, written as in a phrase",
          "Keywords: caf\xc3\xa9 au lait,na\xc3\xafve, plain, x.y \xc3\xa4.b", false, 1,
          "Keywords: =?utf-8?B?Y2Fmw6k=?= au lait, =?utf-8?Q?na=C3=AFve?=, plain, x.y\r\n"
          " =?utf-8?B?w6QuYg==?=\r\n");
    check("a fold of the original is unfolded where the line allows",
          "Comments: one\r\n\ttwo \xc3\xa4", false, 1,
          "Comments: one\ttwo =?utf-8?B?w6Q=?=\r\n");

    /* 50 ASCII letters then six 3-octet characters: the seventh
     * character does not fit the first word whole */
    char *f = xasprintf("Subject: %s%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
    check("a 3-octet character at a word boundary goes whole to the next word", f, false, 1,
          "Subject: =?utf-8?Q?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?=\r\n"
          " =?utf-8?Q?=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC=E2=82=AC?=\r\n");
    free(f);

    struct buf b = BUF_INIT;
    buf_puts(&b, "Subject: ");
    for (int i = 0; i < 40; i++)
        buf_puts(&b, "\xe2\x82\xac");
    int rc;
    char *got = conv(b.data, false, &rc, NULL);
    tap_ok(rc == 1 && words_whole(got), "40 euro signs: no character cut between two words");
    tap_ok(longest_line(got) <= 78, "40 euro signs: lines of at most 78 characters");
    free(got);
    check_decodes("40 euro signs", b.data, false, b.data + 8);
    buf_free(&b);

    check_decodes("mixed words", "Subject: Re: caf\xc3\xa9  cr\xc3\xa8me\tbr\xc3\xbbl\xc3\xa9" "e ok",
                  false, " Re: caf\xc3\xa9  cr\xc3\xa8me\tbr\xc3\xbbl\xc3\xa9" "e ok");
    check_decodes("invalid UTF-8", "Subject: a \xff\xfe b", false, " a \xff\xfe b");
}

static void test_long(void)
{
    /* References of 2000 octets: folded at its spaces */
    struct buf b = BUF_INIT;
    buf_puts(&b, "References:");
    for (int i = 0; b.len < 2000; i++)
        buf_printf(&b, " <message-%04d@example.org>", i);
    int rc;
    char *got = conv(b.data, false, &rc, NULL);
    tap_int(rc, 1, "2000-octet References: rewritten");
    tap_ok(longest_line(got) <= 78, "2000-octet References: lines of at most 78 characters");
    size_t len;
    char *unfolded = ewd_unfold(got, strlen(got), &len);
    tap_ok(len == b.len && memcmp(unfolded, b.data, b.len) == 0,
           "2000-octet References: unfolds to the original");
    tap_ok(starts(got, "References: <message-0000@example.org> <message-0001@example.org>\r\n"
                   " <message-0002@example.org>"),
           "2000-octet References: first lines");
    free(unfolded);
    free(got);

    /* X-Long: 2000 octets and no space: encoded */
    buf_reset(&b);
    buf_puts(&b, "X-Long: ");
    for (int i = 0; i < 2000; i++)
        buf_putc(&b, (char)('a' + i % 26));
    got = conv(b.data, false, &rc, NULL);
    tap_int(rc, 1, "2000-octet X-Long without a space: rewritten");
    tap_ok(longest_line(got) <= 78, "X-Long: lines of at most 78 characters");
    tap_ok(starts(got, "X-Long: =?utf-8?Q?abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcd?=\r\n"
                   " =?utf-8?Q?efgh"), "X-Long: first lines");
    free(got);
    check_decodes("X-Long", b.data, false, b.data + 7);

    /* Message-ID: 2000 octets: nowhere to fold */
    buf_reset(&b);
    buf_puts(&b, "Message-ID: <");
    for (int i = 0; i < 2000; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "@example.org>");
    check("2000-octet Message-ID is refused", b.data, false, -1,
          "ERR: the Message-ID: field cannot be written in lines of at most 998 octets: it "
          "has no place to fold");

    /* a To: of 70 addresses without a space: folded after commas */
    buf_reset(&b);
    buf_puts(&b, "To: ");
    for (int i = 0; i < 70; i++)
        buf_printf(&b, "%sa%d@example.org", i ? "," : "", i);
    got = conv(b.data, false, &rc, NULL);
    tap_ok(rc == 1 && longest_line(got) <= 78, "long To: lines of at most 78 characters");
    tap_ok(starts(got, "To: a0@example.org,a1@example.org,a2@example.org,a3@example.org,\r\n"
                   " a4@example.org,a5@example.org,"),
           "long To: folded after a comma");
    free(got);

    /* many parameters */
    buf_reset(&b);
    buf_puts(&b, "Content-Type: multipart/mixed;");
    for (int i = 0; b.len < 2000; i++)
        buf_printf(&b, "%sp%d=\"value number %d\"", i ? "; " : " ", i, i);
    got = conv(b.data, false, &rc, NULL);
    tap_int(rc, 1, "2000-octet Content-Type: rewritten");
    tap_ok(longest_line(got) <= 78, "2000-octet Content-Type: lines of at most 78 characters");
    unfolded = ewd_unfold(got, strlen(got), &len);
    tap_ok(len == b.len && memcmp(unfolded, b.data, b.len) == 0,
           "2000-octet Content-Type: unfolds to the original (folded between parameters)");
    tap_ok(starts(got, "Content-Type: multipart/mixed; p0=\"value number 0\"; "
                   "p1=\"value number 1\";\r\n p2=\"value number 2\";"),
           "2000-octet Content-Type: first lines");
    free(unfolded);
    free(got);
    buf_free(&b);

    check("parameters without spaces: a space is inserted to fold",
          "Content-Type: multipart/mixed;p0=\"value number 0\";p1=\"value number 1\";"
          "p2=\"value number 2\";x=\xc3\xbc", false, 1,
          "Content-Type: multipart/mixed;p0=\"value number 0\";p1=\"value number 1\";\r\n"
          " p2=\"value number 2\";x*=utf-8''%C3%BC\r\n");
}

static void test_address(void)
{
    check("From: UTF-8 display name, ASCII address",
          "From: J\xc3\xb6rg M\xc3\xbcller <jm@example.org>", false, 1,
          "From: =?utf-8?Q?J=C3=B6rg_M=C3=BCller?= <jm@example.org>\r\n");
    check_decodes("From: UTF-8 display name", "From: J\xc3\xb6rg M\xc3\xbcller <jm@example.org>",
                  false, " J\xc3\xb6rg M\xc3\xbcller <jm@example.org>");
    check("To: a group, comments, a quoted name kept",
          "To: Friends: Ann <a@b.example> (B\xc3\xbcro, 2. Stock), \"Bob\" <b@c.example>;, "
          "(\xc3\xa7" "a (va)) x@y.example", false, 1,
          "To: Friends: Ann <a@b.example> (=?utf-8?B?QsO8cm8s?= 2. Stock), \"Bob\"\r\n"
          " <b@c.example>;, (=?utf-8?B?w6dh?= (va)) x@y.example\r\n");
    check_decodes("To: a group and comments",
                  "To: Friends: Ann <a@b.example> (B\xc3\xbcro, 2. Stock), \"Bob\" <b@c.example>;",
                  false, " Friends: Ann <a@b.example> (B\xc3\xbcro, 2. Stock), \"Bob\" <b@c.example>;");
    check("a display name that fits in one encoded-word but not in the rest of the line "
          "goes whole after a fold, not cut in two",
          "Cc: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com, \"\xe6\x97\xa5\xe6\x9c\xac "
          "\xe5\xa4\xaa\xe9\x83\x8e\" <taro@example.jp>", false, 1,
          "Cc: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com,\r\n"
          " =?utf-8?B?5pel5pysIOWkqumDjg==?= <taro@example.jp>\r\n");
    check("a group name with 8-bit",
          "To: Fr\xc3\xbc" "nde: a@b.example;", false, 1,
          "To: =?utf-8?Q?Fr=C3=BCnde?= : a@b.example;\r\n");
    check("a quoted display name with escapes is unquoted and encoded",
          "To: \"M\xc3\xbcller, \\\"Hans\\\"\" <h@example.org>", false, 1,
          "To: =?utf-8?Q?M=C3=BCller=2C_=22Hans=22?= <h@example.org>\r\n");
    check_decodes("a quoted display name with escapes",
                  "To: \"M\xc3\xbcller, \\\"Hans\\\"\" <h@example.org>", false,
                  " M\xc3\xbcller, \"Hans\" <h@example.org>");
    check("an encoded name right before < gets a space",
          "Cc: \"\xc3\xa4\"<a@b.example>", false, 1, "Cc: =?utf-8?B?w6Q=?= <a@b.example>\r\n");
    check("escaped parentheses in a comment stay escaped",
          "To: (a \\( \xc3\xa4 b) x@y.example", false, 1,
          "To: (a \\( =?utf-8?B?w6Q=?= b) x@y.example\r\n");
    check("an encoded-word in a comment stands apart from nested comments",
          "To: (x(\xc3\xa4)y) (a(b)\xc3\xa4) (\xc3\xa4(c)) a@b.example", false, 1,
          "To: (x(=?utf-8?B?w6Q=?=)y) (a(b) =?utf-8?B?w6Q=?=) (=?utf-8?B?w6Q=?= (c))\r\n"
          " a@b.example\r\n");
    check("comments in a rewritten name follow it (none between encoded-words)",
          "From: Hans (B\xc3\xbcro) M\xc3\xbcller <a@b.example>, J\xc3\xb6rg(x)M\xc3\xbcller "
          "<c@d.example>", false, 1,
          "From: Hans =?utf-8?Q?M=C3=BCller?= (=?utf-8?B?QsO8cm8=?=) <a@b.example>,\r\n"
          " =?utf-8?Q?J=C3=B6rg_M=C3=BCller?= (x) <c@d.example>\r\n");
    check("a backslash before a fold quotes the space after it (the field read unfolded)",
          "To: (F\\\r\n \xc3\xa4) \"a\\\r\n b\xc3\xa4\" <a@b.example>", false, 1,
          "To: (F =?utf-8?B?w6Q=?=) a =?utf-8?B?YsOk?= <a@b.example>\r\n");
    check("a non-ASCII local part is refused", "To: Ann <j\xc3\xb6rg@example.org>", false, -1,
          "ERR: the address <j\xc3\xb6rg@example.org> in the To: field has a non-ASCII local "
          "part, which cannot be converted for a server without SMTPUTF8");
    check("a bare non-ASCII local part is refused", "Cc: a@b.example, j\xc3\xb6rg", false, -1,
          "ERR: the address <j\xc3\xb6rg> in the Cc: field has a non-ASCII local part, which "
          "cannot be converted for a server without SMTPUTF8");
    check("SMTPUTF8: an invalid local part is refused", "To: j\xf6rg@example.org", true, -1,
          "ERR: the address <j\xf6rg@example.org> in the To: field has a local part that is not "
          "valid UTF-8");
    check("SMTPUTF8: valid names stay, an invalid comment is encoded",
          "From: J\xc3\xb6rg <j@example.org> (\xff)", true, 1,
          "From: J\xc3\xb6rg <j@example.org> (=?unknown-8bit?B?/w==?=)\r\n");
    check("an invalid domain is refused", "To: a@b\xff.example", false, -1,
          "ERR: the domain \"b\\xff.example\" in the To: field is not valid UTF-8 and cannot be "
          "converted to ASCII");
    check("an unterminated comment with 8-bit is refused", "To: a@b.example (\xc3\xa4", false, -1,
          "ERR: the To: field has 8-bit characters that would have to be encoded (the server "
          "does not offer SMTPUTF8), but it cannot be parsed: a comment has no closing "
          "parenthesis");

    /* comments nested 64 deep are encoded; 65 deep are refused */
    struct buf b = BUF_INIT;
    buf_puts(&b, "To: a@b.example ");
    for (int i = 0; i < 64; i++)
        buf_putc(&b, '(');
    buf_puts(&b, "\xc3\xa4");
    for (int i = 0; i < 64; i++)
        buf_putc(&b, ')');
    int rc;
    char *got = conv(b.data, false, &rc, NULL);
    tap_ok(rc == 1 && strstr(got, "(((=?utf-8?B?w6Q=?=)))") != NULL,
           "comments nested 64 deep are encoded");
    free(got);
    buf_reset(&b);
    buf_puts(&b, "To: a@b.example ");
    for (int i = 0; i < 65; i++)
        buf_putc(&b, '(');
    buf_puts(&b, "\xc3\xa4");
    for (int i = 0; i < 65; i++)
        buf_putc(&b, ')');
    check("comments nested 65 deep are refused", b.data, false, -1,
          "ERR: the To: field has 8-bit characters that would have to be encoded (the server "
          "does not offer SMTPUTF8), but it cannot be parsed: comments are nested too deeply");
    buf_free(&b);

    /* IDN: needs libidn2 */
    struct result r = RESULT_INIT;
    char *probe = idn_host_to_ascii("b\xc3\xbc" "cher.example", &r);
    if (!probe) {
        printf("ok %d # SKIP libidn2 cannot be loaded: %s\n", ++tap_n, r.msg ? r.msg : "");
        printf("ok %d # SKIP libidn2 cannot be loaded\n", ++tap_n);
        enum result_class cls;
        got = conv("To: a@b\xc3\xbc" "cher.example", false, &rc, &cls);
        tap_ok(rc == -1 && cls == r.cls, "without libidn2: its class is passed on");
        free(got);
    } else {
        check("a UTF-8 domain becomes A-labels",
              "To: Ann <ann@b\xc3\xbc" "cher.example>, bob@B\xc3\x9c" "CHER.example", false, 1,
              "To: Ann <ann@xn--bcher-kva.example>, bob@xn--bcher-kva.example\r\n");
        check("a domain that libidn2 maps to other characters is refused",
              "To: a@\xe2\x92\xac", false, -1,
              "ERR: the domain \"\xe2\x92\xac\" in the To: field does not convert to a domain "
              "name in ASCII");
        enum result_class cls;
        got = conv("To: a@xn--\xc3\xa4.example", false, &rc, &cls);
        tap_ok(rc == -1 && cls == RC_DATAERR && strstr(got, "(in the To: field)") != NULL,
               "a domain libidn2 refuses is refused");
        if (rc != -1)
            printf("#   got: %s\n", got);
        free(got);
    }
    free(probe);
    result_clear(&r);
}

static void test_noenc(void)
{
    check("8-bit in Message-ID is refused", "Message-ID: <\xc3\xa4@example.org>", false, -1,
          "ERR: the Message-ID: field has 8-bit characters (the server does not offer "
          "SMTPUTF8), and this field has no encoded form for them");
    check("invalid UTF-8 in Date is refused with SMTPUTF8", "Date: Mon, 7 Dec 2026 \xff", true,
          -1, "ERR: the Date: field has 8-bit characters (they are not valid UTF-8), and this "
          "field has no encoded form for them");
    check("ARC-* has no encoded form", "ARC-Seal: i=1; \xc3\xa4", false, -1,
          "ERR: the ARC-Seal: field has 8-bit characters (the server does not offer SMTPUTF8), "
          "and this field has no encoded form for them");
    check("In-Reply-To is folded between message ids", "In-Reply-To: <a@b>", false, 0,
          "In-Reply-To: <a@b>\r\n");
}

static void test_mime(void)
{
    check("Content-Disposition filename with UTF-8 -> RFC 2231",
          "Content-Disposition: attachment; filename=\"Gr\xc3\xbc\xc3\x9f" "e.txt\"", false, 1,
          "Content-Disposition: attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe.txt\r\n");
    check("a token value, other parameters kept as they are",
          "Content-Type: text/plain; charset=\"utf-8\"; name=Gr\xc3\xbc\xc3\x9f" "e.txt; x=1",
          false, 1,
          "Content-Type: text/plain; charset=\"utf-8\"; name*=utf-8''Gr%C3%BC%C3%9Fe.txt;\r\n"
          " x=1\r\n");
    check("a long UTF-8 filename becomes continuations, no character cut",
          "Content-Disposition: attachment; filename=\"\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 "
          "file name \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 file name \xc3\x9cn\xc3\xaf" "c"
          "\xc3\xb6" "d\xc3\xa9 file name.pdf\"; size=1234", false, 1,
          "Content-Disposition: attachment;\r\n"
          " filename*0*=utf-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20file%20name%20%C3%9Cn%C3%AF;\r\n"
          " filename*1*=c%C3%B6d%C3%A9%20file%20name%20%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20fil;\r\n"
          " filename*2*=e%20name.pdf; size=1234\r\n");
    check("invalid UTF-8 in a value -> unknown-8bit",
          "Content-Disposition: inline; filename=caf\xe9", false, 1,
          "Content-Disposition: inline; filename*=unknown-8bit''caf%E9\r\n");
    check("an ext-value with raw 8-bit keeps its charset",
          "Content-Disposition: inline; filename*=utf-8'de'Gr\xc3\xbc" "n", false, 1,
          "Content-Disposition: inline; filename*=utf-8'de'Gr%C3%BCn\r\n");
    check("8-bit in the type is refused", "Content-Type: text/pl\xc3\xa4n", false, -1,
          "ERR: the Content-Type: field has 8-bit characters outside a parameter value (the "
          "server does not offer SMTPUTF8), which cannot be encoded");
    check("SMTPUTF8: a valid UTF-8 value stays",
          "Content-Disposition: attachment; filename=\"Gr\xc3\xbc\xc3\x9f" "e.txt\"", true, 0,
          "Content-Disposition: attachment; filename=\"Gr\xc3\xbc\xc3\x9f" "e.txt\"\r\n");
}

static void test_names(void)
{
    check("a field without a colon is refused", "Subject \xc3\xa4", false, -1,
          "ERR: the header field \"Subject \\xc3\\xa4\" would have to be converted (8-bit "
          "characters or a line over 998 octets), but it has no valid field name");
    check("a field name is matched in any case", "FROM: \xc3\xa4 <a@b.example>", false, 1,
          "FROM: =?utf-8?B?w6Q=?= <a@b.example>\r\n");
    check("white space before the colon", "to : \xc3\xa4 <a@b.example>", false, 1,
          "to : =?utf-8?B?w6Q=?= <a@b.example>\r\n");
}

int main(void)
{
    test_unchanged();
    test_unstructured();
    test_long();
    test_address();
    test_noenc();
    test_mime();
    test_names();
    return tap_done();
}
