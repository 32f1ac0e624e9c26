/*
 * test-smtp.c - unit tests for the pure parts of the SMTP client:
 * dot-stuffing of message data that arrives in pieces (smtp_dot_stuff,
 * smtp_dot_stuff_end): lines starting with '.', piece boundaries inside
 * "\r\n.", empty data, a last line without a line end, bare LF, and
 * every way of cutting a message in two or into single bytes; and the
 * mechanism properties the client and the configuration read from
 * sasl.c's table (pipelining AUTH, passwords, the `auth` values). Whole
 * sessions on the wire are tested in test-reply.c and tests/data.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "smtp.h"
#include "tap.h"
#include "util.h"

/* Stuff up to four pieces (NULL ends the list early) one after the
 * other, each into an output buffer of exactly 2 * its length (so that
 * the sanitizer build catches a write past the documented bound), then
 * the end. Returns the whole output as a string (caller frees). */
static char *stuff_pieces(const char *const pieces[4])
{
    struct smtp_dot_state st = SMTP_DOT_STATE_INIT;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < 4 && pieces[i]; i++) {
        size_t n = strlen(pieces[i]);
        char *out = xmalloc(2 * n + 1);
        size_t got = smtp_dot_stuff(&st, pieces[i], n, out);
        buf_append(&b, out, got);
        free(out);
    }
    char end[2];
    size_t n = smtp_dot_stuff_end(&st, end);
    buf_append(&b, end, n);
    buf_putc(&b, '\0');
    return buf_steal(&b);
}

/* Stuff data cut at every position into two pieces and into single
 * bytes; each result must equal the one for the data in one piece. */
static void check_all_cuts(const char *data, const char *want, const char *what)
{
    size_t n = strlen(data);
    int bad = 0;
    for (size_t cut = 0; cut <= n; cut++) {
        char *a = xstrndup(data, cut);
        const char *const pieces[4] = { a, data + cut, NULL, NULL };
        char *got = stuff_pieces(pieces);
        if (strcmp(got, want) != 0) {
            printf("#   cut at %zu: got \"%s\"\n", cut, got);
            bad++;
        }
        free(got);
        free(a);
    }
    struct smtp_dot_state st = SMTP_DOT_STATE_INIT;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        char out[2];
        size_t got = smtp_dot_stuff(&st, data + i, 1, out);
        buf_append(&b, out, got);
    }
    char end[2];
    buf_append(&b, end, smtp_dot_stuff_end(&st, end));
    buf_putc(&b, '\0');
    if (strcmp(b.data, want) != 0) {
        printf("#   byte by byte: got \"%s\"\n", b.data);
        bad++;
    }
    buf_free(&b);
    tap_ok(bad == 0, what);
}

/* One case: the pieces as they arrive, the bytes that must go out. */
struct stuff_case {
    const char *pieces[4];
    const char *want;
    const char *what;
};

static const struct stuff_case stuff_cases[] = {
    { { NULL }, "", "empty data: nothing, not even a line end" },
    { { "", "" }, "", "empty pieces: nothing" },
    { { "Subject: x\r\n\r\nbody\r\n" }, "Subject: x\r\n\r\nbody\r\n",
      "data without dots is copied, no line end added" },
    { { ".\r\n" }, "..\r\n", "a line of a single dot at the start is doubled" },
    { { "a\r\n.b\r\n..c\r\n.\r\n" }, "a\r\n..b\r\n...c\r\n..\r\n",
      "every line starting with '.' gets one more" },
    { { "a.b\r\n x.\r\n" }, "a.b\r\n x.\r\n",
      "a dot inside or at the end of a line is left alone" },
    { { "a\r\n", ".b\r\n" }, "a\r\n..b\r\n", "a piece that starts a line with '.'" },
    { { "a\r", "\n.b\r\n" }, "a\r\n..b\r\n", "a cut between CR and LF before the dot" },
    { { "a\r\n.", "b\r\n" }, "a\r\n..b\r\n", "a cut right after the dot: doubled once" },
    { { "a\r\n", "", ".b\r\n" }, "a\r\n..b\r\n",
      "an empty piece keeps the beginning of the line" },
    { { "x", ".y\r\n" }, "x.y\r\n",
      "a dot after a cut in the middle of a line is left alone" },
    { { "a\r\nlast" }, "a\r\nlast\r\n", "a last line without a line end gets CRLF" },
    { { "a\r\n." }, "a\r\n..\r\n",
      "a last line of a single dot without line end: doubled, CRLF added" },
    { { "a\r\nb\r" }, "a\r\nb\r\r\n", "a last line ending in a bare CR still gets CRLF" },
    { { "a\n.b\n" }, "a\n..b\n", "a bare LF ends a line too; no CRLF added after it" },
};

int main(void)
{
    for (size_t i = 0; i < sizeof stuff_cases / sizeof stuff_cases[0]; i++) {
        char *s = stuff_pieces(stuff_cases[i].pieces);
        tap_str(s, stuff_cases[i].want, stuff_cases[i].what);
        free(s);
    }

    check_all_cuts("..a\r\n.\r\n\r\n.b.\r\nc\r\n..", "...a\r\n..\r\n\r\n..b.\r\nc\r\n...\r\n",
                   "every cut in two and byte by byte give the same bytes");

    {
        /* The documented bound: nothing beyond 2 * n, and the count. */
        const char in[] = "\n.\n.\n.";
        char out[2 * (sizeof in - 1)];
        struct smtp_dot_state st = SMTP_DOT_STATE_INIT;
        size_t n = smtp_dot_stuff(&st, in, sizeof in - 1, out);
        tap_int((long long)n, 9, "the count of bytes written");
        tap_ok(memcmp(out, "\n..\n..\n..", 9) == 0, "the bytes written");
        tap_ok(st.mid_line, "the state says the data ends inside a line");
        char end[2];
        tap_int((long long)smtp_dot_stuff_end(&st, end), 2, "the end adds two bytes");
        tap_ok(memcmp(end, "\r\n", 2) == 0, "... CRLF");
    }
    {
        struct smtp_dot_state st = SMTP_DOT_STATE_INIT;
        char out[2];
        tap_int((long long)smtp_dot_stuff(&st, ".", 1, out), 2,
                "a single dot at the start becomes two bytes (the bound 2 * n is reached)");
    }

    /* The mechanism table (sasl.c) as the client and the configuration
     * read it. */
    tap_ok(sasl_pipelinable("PLAIN") && sasl_pipelinable("external"),
           "PLAIN and EXTERNAL may lead a pipelined group (any case)");
    tap_ok(!sasl_pipelinable("SCRAM-SHA-256") && !sasl_pipelinable("LOGIN")
           && !sasl_pipelinable("XOAUTH2") && !sasl_pipelinable("GSSAPI")
           && !sasl_pipelinable("FOO") && !sasl_pipelinable(NULL),
           "no other mechanism leads a pipelined group");
    tap_ok(sasl_needs_channel_binding("SCRAM-SHA-256-PLUS")
           && sasl_needs_channel_binding("scram-sha-1-plus"),
           "the -PLUS mechanisms need channel binding data");
    tap_ok(!sasl_needs_channel_binding("SCRAM-SHA-256") && !sasl_needs_channel_binding("PLAIN")
           && !sasl_needs_channel_binding("FOO-PLUS") && !sasl_needs_channel_binding(NULL),
           "no other mechanism does (the table decides, not the name)");
    tap_ok(!sasl_needs_password("external") && !sasl_needs_password("GSSAPI"),
           "EXTERNAL and GSSAPI need no password");
    tap_ok(sasl_needs_password("on") && sasl_needs_password("plain")
           && sasl_needs_password("xoauth2") && sasl_needs_password("ntlm")
           && sasl_needs_password("scram-sha-256-plus"),
           "auth on and every other mechanism may need one");
    {
        struct buf b = BUF_INIT;
        for (const char *const *v = sasl_auth_values(); *v; v++)
            buf_printf(&b, "%s%s", b.len ? " " : "", *v);
        tap_str(b.data, "on off plain login cram-md5 scram-sha-1 scram-sha-1-plus "
                        "scram-sha-256 scram-sha-256-plus external gssapi oauthbearer "
                        "xoauth2 ntlm digest-md5",
                "the values `auth` accepts, in order");
        buf_free(&b);
        tap_ok(sasl_auth_values() == sasl_auth_values(), "the list is built once");
    }
    return tap_done();
}
