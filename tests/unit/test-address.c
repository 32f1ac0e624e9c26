/*
 * test-address.c - unit tests for address.c: RFC 5322 address lists as
 * callers send them (doc/callers.md), hostile input, envelope validation, and
 * the small helpers. Also the ASCII pass-through of idn.c.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "idn.h"
#include "tap.h"

/* Parse text and render the list as "display|mailbox" items joined by
 * " ; " ("-" for no display), or "ERR: message" on failure. */
static char *render(const char *text)
{
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    struct buf b = BUF_INIT;
    if (address_parse_list(text, &l, &r) != 0) {
        buf_printf(&b, "ERR: %s", r.msg ? r.msg : "(no message)");
        if (r.cls != RC_DATAERR)
            buf_puts(&b, " (wrong class)");
        if (l.n != 0)
            buf_puts(&b, " (appended on error)");
        result_clear(&r);
        addr_list_free(&l);
        return buf_steal(&b);
    }
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            buf_puts(&b, " ; ");
        buf_printf(&b, "%s|%s", l.v[i].display ? l.v[i].display : "-", l.v[i].mailbox);
    }
    if (r.cls != RC_OK)
        buf_puts(&b, " (result set on success)");
    addr_list_free(&l);
    return buf_steal(&b);
}

static void parses(const char *text, const char *want, const char *what)
{
    char *got = render(text);
    tap_str(got, want, what);
    free(got);
}

/* The parse must fail, and the message must contain each of the given
 * fragments (the quoted input and the reason). */
static void fails(const char *text, const char *frag1, const char *frag2, const char *what)
{
    char *got = render(text);
    bool ok = strncmp(got, "ERR: ", 5) == 0 && !strstr(got, "(wrong class)") &&
              !strstr(got, "(appended on error)") && (!frag1 || strstr(got, frag1)) &&
              (!frag2 || strstr(got, frag2));
    tap_ok(ok, what);
    if (!ok)
        printf("#   got: %s\n#   want fragments: %s / %s\n", got, frag1 ? frag1 : "",
               frag2 ? frag2 : "");
    free(got);
}

/* Validate and return "" on success or the message. */
static char *validate(const char *addr, bool is_sender)
{
    struct result r = RESULT_INIT;
    if (address_validate_envelope(addr, is_sender, &r) == 0) {
        char *ok = xstrdup(r.cls == RC_OK ? "" : "result set on success");
        result_clear(&r);
        return ok;
    }
    char *msg = xstrdup(r.msg ? r.msg : "(no message)");
    if (r.cls != RC_DATAERR) {
        free(msg);
        msg = xstrdup("wrong class");
    }
    result_clear(&r);
    return msg;
}

static void valid(const char *addr, bool is_sender, const char *what)
{
    char *got = validate(addr, is_sender);
    tap_str(got, "", what);
    free(got);
}

static void invalid(const char *addr, bool is_sender, const char *want, const char *what)
{
    char *got = validate(addr, is_sender);
    tap_str(got, want, what);
    free(got);
}

static void invalid_has(const char *addr, bool is_sender, const char *frag, const char *what)
{
    char *got = validate(addr, is_sender);
    bool ok = *got && strstr(got, frag) != NULL;
    tap_ok(ok, what);
    if (!ok)
        printf("#   got: \"%s\"\n#   want fragment: %s\n", got, frag);
    free(got);
}

static void test_callers(void)
{
    parses("root", "-|root", "bare root (mdadm, sudo, unattended-upgrades)");
    parses("user", "-|user", "unqualified To: user (cron)");
    parses("a@x,b@y", "-|a@x ; -|b@y", "cron MAILTO without spaces");
    parses("a@x, b@y", "-|a@x ; -|b@y", "comma and space");
    parses("Name <a@x>", "Name|a@x", "Name <addr>");
    parses("John Q. Public <jqp@example.org>", "John Q. Public|jqp@example.org",
           "obsolete phrase with a dot");
    parses("\"Last, First\" <a@x>", "Last, First|a@x", "quoted display name with comma");
    parses("\"Last, First\" <a@x>, b@y", "Last, First|a@x ; -|b@y",
           "quoted comma does not split the list");
    parses("a@x (Comment)", "Comment|a@x", "comment becomes the display name");
    parses("root (Cron Daemon)", "Cron Daemon|root", "cron's From: root (Cron Daemon)");
    parses("Name <a@x> (Comment)", "Name|a@x", "display name wins over comment");
    parses("<a@x> (Only comment)", "Only comment|a@x", "comment after angle addr as display");
    parses("(lead) a@x", "lead|a@x", "leading comment");
    parses("<a@x>", "-|a@x", "angle address alone");
    parses("a@x,", "-|a@x", "trailing comma");
    parses("a@x,,b@y", "-|a@x ; -|b@y", "duplicated comma");
    parses(", ,a@x, ,", "-|a@x", "empty elements everywhere");
    parses("", "", "empty text gives nothing");
    parses("   ", "", "blank text gives nothing");
    parses("\"john doe\"@x", "-|\"john doe\"@x", "quoted local part kept with quotes");
    parses("\"a\\\"b\"@x", "-|\"a\\\"b\"@x", "quoted local part keeps its escapes");
    parses("\"John \\\"JD\\\" Doe\" <jd@x>", "John \"JD\" Doe|jd@x", "escapes decoded in display");
    parses("Jörg Müller <jörg@bücher.example>", "Jörg Müller|jörg@bücher.example",
           "UTF-8 in names and addresses");
    parses("a@[192.0.2.1]", "-|a@[192.0.2.1]", "domain literal");
    parses("first.last@sub.example.com", "-|first.last@sub.example.com", "dotted atoms");
    parses("user@example.com <user@example.com>", "user@example.com|user@example.com",
           "sloppy address used as display name");
    fails("<a@x> <b@y>", "separate addresses with commas", NULL, "two angle addresses");
    fails("Name <a@x> b@y", "separate addresses with commas", NULL, "address after angle addr");
    parses("a . b @ x . y", "-|a.b@x.y", "obsolete spaces around dots");
    parses("a(c1)@(c2)x", "c1|a@x", "comments inside the addr-spec");
}

static void test_groups_routes_folding(void)
{
    parses("undisclosed-recipients:;", "", "empty group");
    parses("undisclosed-recipients: ;", "", "empty group with space");
    parses("friends: a@x, B <b@y>;", "-|a@x ; B|b@y", "group members kept");
    fails("friends: a@x, b@y; c@z", "separate addresses with commas", NULL,
          "group followed by an address without comma");
    parses("team: a@x;, c@z", "-|a@x ; -|c@z", "group then another address");
    parses("\"My Group\": a@x;", "-|a@x", "quoted group name");
    parses("team: a@x", "-|a@x", "group without final ; at end tolerated");
    parses("<@a.example,@b.example:x@y>", "-|x@y", "obsolete route dropped");
    parses("Name <@a:x@y>", "Name|x@y", "route with display name");
    parses("Name\r\n <a@x>", "Name|a@x", "CRLF folding");
    parses("a@x,\n\tb@y", "-|a@x ; -|b@y", "LF folding with tab");
    parses("\"folded\r\n name\" <a@x>", "folded name|a@x", "folding inside a quoted string");
    parses("a@x (nested (comment) here)", "nested (comment) here|a@x", "nested comment");
    parses("a@x (esc \\) paren)", "esc ) paren|a@x", "quoted-pair in comment");
    parses("a@x\r\n", "-|a@x", "trailing line break");
}

static void test_errors(void)
{
    fails("a@<b", "\"a@<b\"", "unbalanced angle bracket", "brief example: a@<b");
    fails("Name <a@x", "unbalanced angle bracket", NULL, "missing >");
    fails("a@x>", "unbalanced angle bracket", NULL, "stray >");
    fails("<<a@x>>", "nested angle brackets", NULL, "nested angle brackets");
    fails("\"unterminated", "unterminated quoted string", NULL, "unterminated quote");
    fails("a@x (open", "unterminated comment", NULL, "unterminated comment");
    fails("a@x ((deep)", "unterminated comment", NULL, "unterminated nested comment");
    fails("a@x )", "unbalanced parenthesis", NULL, "stray )");
    fails("a@", "empty domain after", NULL, "@ at the end");
    fails("a@, b@y", "empty domain after", NULL, "@ with empty domain in a list");
    fails("@x", "empty local part", NULL, "empty local part");
    fails("<>", "empty address in angle brackets", NULL, "<> in a list");
    fails("a@x..y", "invalid domain", NULL, "empty domain label");
    fails("a@.x", "invalid domain", NULL, "leading dot in domain");
    fails("John Smith", "text after an address", NULL, "two words without brackets");
    fails("a@x b@y", "text after an address", NULL, "space-separated addresses");
    fails("a: b: c@x;;", "group inside a group", NULL, "nested group");
    fails("a@x\r\nRCPT TO:<b@y>", "\\r\\n", "line break", "CRLF injection is escaped and refused");
    fails("a@x\nb@y", "line break", NULL, "bare LF not folding");
    fails("a\001b@x", "control character", "\\x01", "control character");
    fails("a\177b@x", "control character", NULL, "DEL");
    fails("a\\b@x", "backslash", NULL, "backslash outside quotes");
    fails("a@[1.2.3.4", "unterminated domain literal", NULL, "open domain literal");
    fails(";", "unexpected", NULL, "lone semicolon");
    fails("<@a,@b x@y>", "route", NULL, "route without colon");

    /* on error nothing is appended to an existing list */
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    tap_int(address_parse_list("keep@x", &l, &r), 0, "first list parses");
    tap_int(address_parse_list("a@x, b@<y", &l, &r), -1, "second list fails");
    tap_int((long long)l.n, 1, "failed parse appended nothing");
    tap_int(r.cls, RC_DATAERR, "class is RC_DATAERR");
    result_clear(&r);
    tap_int(address_parse_list("c@z", &l, &r), 0, "third list parses");
    tap_int((long long)l.n, 2, "successful parse appends");
    tap_str(l.v[1].mailbox, "c@z", "appended at the end");
    addr_list_free(&l);
}

static void test_hostile(void)
{
    /* very deep comment nesting: linear, no recursion */
    size_t depth = 100000;
    char *deep = xmalloc(2 * depth + 8);
    memcpy(deep, "N<a@x>", 6);
    memset(deep + 6, '(', depth);
    memset(deep + 6 + depth, ')', depth);
    deep[6 + 2 * depth] = '\0';
    parses(deep, "N|a@x", "100000 nested comments");
    deep[6 + 2 * depth - 1] = '\0';
    fails(deep, "unterminated comment", "...", "unbalanced deep comment, message truncated");
    free(deep);

    /* a long list */
    struct buf b = BUF_INIT;
    for (int i = 0; i < 5000; i++)
        buf_printf(&b, "u%d@example.org,", i);
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    tap_int(address_parse_list(b.data, &l, &r), 0, "5000-address list parses");
    tap_int((long long)l.n, 5000, "5000 addresses");
    tap_str(l.n == 5000 ? l.v[4999].mailbox : NULL, "u4999@example.org", "last one right");
    addr_list_free(&l);
    buf_free(&b);

    /* very long error input is truncated in the message */
    char *longtext = xmalloc(5001);
    memset(longtext, 'a', 5000);
    longtext[5000] = '\0';
    longtext[10] = '<';
    char *got = render(longtext);
    tap_ok(strlen(got) < 400, "error message stays short for a 5000-byte input");
    free(got);
    free(longtext);

    fails("\"\\", "unterminated quoted string", NULL, "quote then lone backslash");
    fails("(\\", "unterminated comment", NULL, "comment then lone backslash");
    fails("\"a\\\r\"@x", "line break", NULL, "escaped CR in quoted string");
    fails("<", "unbalanced angle bracket", NULL, "lone <");
    fails(":", "unexpected", NULL, "lone colon");
    fails("@", "empty local part", NULL, "lone @");
    fails("a@x@y", "unexpected", NULL, "two @");
}

static void test_validate(void)
{
    valid("a@example.org", false, "plain recipient");
    valid("<a@example.org>", false, "one enclosing pair tolerated");
    valid("", true, "null sender");
    valid("<>", true, "null sender in brackets");
    valid("root", false, "local-only name is not refused here");
    valid("\"john doe\"@x", false, "space inside a quoted local part");
    valid("\"a@b\"@x", false, "@ inside a quoted local part");
    valid("jörg@bücher.example", false, "UTF-8 allowed");
    valid("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", true,
          "UTF-8 local part and domain in three-octet characters");
    valid("\xf0\x9f\x93\xa7@x.test", false, "a four-octet character (U+1F4E7)");
    valid("a\xc2\xa0" "b@x.test", false, "U+00A0, the first character after the C1 controls");
    invalid("m\xfcller@x.test", false,
            "invalid recipient address \"m\\xfcller@x.test\": not valid UTF-8",
            "a Latin-1 octet: not valid UTF-8, escaped in the message");
    invalid("j\xc1\xbfrg@x", true, "invalid sender address \"j\\xc1\\xbfrg@x\": not valid UTF-8",
            "an overlong form is not UTF-8");
    invalid("\xed\xa0\x80@x", false, "invalid recipient address \"\\xed\\xa0\\x80@x\": not valid UTF-8",
            "a surrogate (U+D800) is not UTF-8");
    invalid("\xf4\x90\x80\x80@x", false,
            "invalid recipient address \"\\xf4\\x90\\x80\\x80@x\": not valid UTF-8",
            "beyond U+10FFFF is not UTF-8");
    invalid("a@b\xc3", false, "invalid recipient address \"a@b\\xc3\": not valid UTF-8",
            "a sequence cut by the end is not UTF-8");
    invalid("a\xc2\x85@x", false,
            "invalid recipient address \"a\\xc2\\x85@x\": contains a control character",
            "a C1 control (U+0085) is a control character");
    valid("a@[192.0.2.1]", false, "domain literal");

    invalid("a@b\r\nRCPT TO:<x@y>", true,
            "invalid sender address \"a@b\\r\\nRCPT TO:<x@y>\": contains a line break",
            "brief example: CRLF smuggling in sender");
    invalid("x@y\rDATA", false, "invalid recipient address \"x@y\\rDATA\": contains a line break",
            "bare CR in recipient");
    invalid("x@y\n", false, "invalid recipient address \"x@y\\n\": contains a line break",
            "bare LF in recipient");
    invalid("x\001@y", false,
            "invalid recipient address \"x\\x01@y\": contains a control character",
            "C0 control escaped");
    invalid("x\t@y", false, "invalid recipient address \"x\\t@y\": contains a control character",
            "tab");
    invalid_has("x\177@y", false, "control character", "DEL");
    invalid("", false, "invalid recipient address \"\": empty address", "empty recipient");
    invalid("<>", false, "invalid recipient address \"<>\": empty address", "<> recipient");
    invalid("a b@x", false, "invalid recipient address \"a b@x\": contains a space",
            "space outside quotes");
    invalid_has("\"a b\"@x y", false, "contains a space", "space in the domain");
    invalid_has(" a@x", true, "contains a space", "leading space");
    invalid_has("<a@x", false, "unbalanced angle bracket", "missing >");
    invalid_has("a@x>", false, "unbalanced angle bracket", "missing <");
    invalid_has("<<a@x>>", false, "nested angle brackets", "nested");
    invalid_has("a<b@x", false, "unbalanced angle bracket", "< inside");
    invalid_has("<", true, "unbalanced angle bracket", "lone <");
    invalid_has("@x", false, "empty local part", "empty local part");
    invalid_has("a@", false, "nothing after \"@\"", "@ at the end");
    invalid_has("a@b@c", false, "more than one", "two @");
    invalid_has("\"abc@x", false, "unterminated quoted string", "open quote");
    invalid_has("\"abc\"d@x", false, "after the quoted local part", "text after quotes");

    char local[80], addr[400];
    memset(local, 'l', 64);
    local[64] = '\0';
    snprintf(addr, sizeof addr, "%s@x", local);
    valid(addr, false, "local part of 64 octets");
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(addr, sizeof addr, "%s@x", local);
    invalid_has(addr, false, "local part longer than 64", "local part of 65 octets");

    char dom[300];
    memset(dom, 'd', 256);
    dom[256] = '\0';
    snprintf(addr, sizeof addr, "a@%s", dom);
    invalid_has(addr, false, "domain longer than 255", "domain of 256 octets");

    /* 64 + 1 + 189 = 254 octets: the longest path fits 256 with <> */
    memset(local, 'l', 64);
    local[64] = '\0';
    memset(dom, 'd', 189);
    dom[189] = '\0';
    snprintf(addr, sizeof addr, "%s@%s", local, dom);
    valid(addr, false, "address of 254 octets");
    dom[189] = 'd';
    dom[190] = '\0';
    snprintf(addr, sizeof addr, "%s@%s", local, dom);
    invalid_has(addr, false, "longer than 254", "address of 255 octets");

    /* the result keeps the first failure */
    struct result r = RESULT_INIT;
    address_validate_envelope("a\r@x", true, &r);
    address_validate_envelope("b b@x", false, &r);
    tap_ok(r.msg && strstr(r.msg, "line break"), "first failure kept in r");
    result_clear(&r);
}

static void test_helpers(void)
{
    char *s = address_strip_angles("<a@b>");
    tap_str(s, "a@b", "strip <a@b>");
    free(s);
    s = address_strip_angles("  <a@b>\t");
    tap_str(s, "a@b", "strip with blanks around");
    free(s);
    s = address_strip_angles("<>");
    tap_str(s, "", "strip <> gives null sender");
    free(s);
    s = address_strip_angles("a@b");
    tap_str(s, "a@b", "no brackets unchanged");
    free(s);
    s = address_strip_angles("<a@b");
    tap_str(s, "<a@b", "unbalanced left as is (validation refuses it)");
    free(s);
    s = address_strip_angles("");
    tap_str(s, "", "empty");
    free(s);

    tap_str(address_domain("a@b.c"), "b.c", "domain");
    tap_str(address_domain("root"), NULL, "no domain");
    tap_str(address_domain("\"x@y\"@z"), "z", "domain after quoted local with @");
    tap_str(address_domain("\"x@y\""), NULL, "quoted local only");
    tap_str(address_domain("a@"), "", "empty domain");

    struct addr_list l = ADDR_LIST_INIT;
    addr_list_add(&l, "Name", "User@Example.ORG");
    addr_list_add(&l, NULL, "root");
    tap_ok(addr_list_contains(&l, "User@example.org"), "domain compared case-insensitively");
    tap_ok(!addr_list_contains(&l, "user@Example.ORG"), "local part compared case-sensitively");
    tap_ok(addr_list_contains(&l, "root"), "bare name found");
    tap_ok(!addr_list_contains(&l, "root@x"), "bare name differs from qualified");
    tap_ok(!addr_list_contains(&l, "User@Example.ORGX"), "longer domain differs");
    tap_str(l.v[0].display, "Name", "display copied");
    tap_str(l.v[1].display, NULL, "NULL display kept");
    addr_list_free(&l);
    tap_int((long long)l.n, 0, "free resets the list");
}

static void test_idn(void)
{
    struct result r = RESULT_INIT;
    char *s = idn_host_to_ascii("smtp.Example.org", &r);
    tap_str(s, "smtp.Example.org", "ASCII host passes unchanged");
    free(s);
    s = idn_address_to_ascii("a@_dmarc.example", &r);
    tap_str(s, "a@_dmarc.example", "ASCII address passes unchanged");
    free(s);
#ifdef HAVE_LIBIDN2
    s = idn_host_to_ascii("bücher.example", &r);
    tap_str(s, "xn--bcher-kva.example", "host to A-labels");
    free(s);
    s = idn_address_to_ascii("info@bücher.example", &r);
    tap_str(s, "info@xn--bcher-kva.example", "address domain to A-labels");
    free(s);
    s = idn_host_to_ascii("faß.de", &r);
    tap_str(s, "xn--fa-hia.de", "nontransitional processing (ß kept)");
    free(s);
    s = idn_host_to_ascii("bad\xff\xfe.example", &r);
    tap_ok(s == NULL && r.cls == RC_DATAERR, "invalid UTF-8 refused");
    free(s);
    result_clear(&r);
#endif
    s = idn_address_to_ascii("jörg@bücher.example", &r);
    tap_ok(s == NULL && r.cls == RC_DATAERR && r.msg && strstr(r.msg, "SMTPUTF8"),
           "non-ASCII local part refused");
    free(s);
    result_clear(&r);
}

/* address_format_mailbox(): the From: header value main.c adds. */
static void check_format(const char *display, const char *mailbox, const char *want,
                         const char *what)
{
    char *s = address_format_mailbox(display, mailbox);
    tap_str(s, want, what);
    free(s);
}

static void test_format(void)
{
    check_format(NULL, "me@h.example", "me@h.example", "no display name: the mailbox alone");
    check_format("", "me@h.example", "me@h.example", "empty display name: the mailbox alone");
    check_format("Jane Doe", "jd@h", "Jane Doe <jd@h>", "atext and spaces: as is");
    check_format("O'Neil {ops}", "o@h", "O'Neil {ops} <o@h>", "all of atext stays unquoted");
    check_format("Doe, Jane", "jd@h", "\"Doe, Jane\" <jd@h>", "a comma: quoted");
    check_format("J. Doe", "jd@h", "\"J. Doe\" <jd@h>", "a dot: quoted");
    check_format("say \"hi\" \\o/", "x@h", "\"say \\\"hi\\\" \\\\o/\" <x@h>",
                 "quote and backslash escaped");
    check_format("Evil\r\nBcc: victim@x", "e@h", "\"EvilBcc: victim@x\" <e@h>",
                 "CR and LF left out: the name cannot end the field");
    check_format("Zo\xc3\xab", "z@h", "\"Zo\xc3\xab\" <z@h>", "8-bit name: quoted as is");
    /* What it makes parses back to the same name and mailbox. */
    const char *names[] = { "Jane Doe", "Doe, Jane", "say \"hi\" \\o/", "a (b) <c>" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *s = address_format_mailbox(names[i], "m@h.example");
        struct addr_list l = ADDR_LIST_INIT;
        struct result r = RESULT_INIT;
        bool ok = address_parse_list(s, &l, &r) == 0 && l.n == 1
                  && strcmp(l.v[0].mailbox, "m@h.example") == 0 && l.v[0].display
                  && strcmp(l.v[0].display, names[i]) == 0;
        char label[120];
        snprintf(label, sizeof label, "round trip through the parser: %s", names[i]);
        tap_ok(ok, label);
        if (!ok)
            printf("#   formatted: %s, parsed: %s\n", s, l.n ? (l.v[0].display ? l.v[0].display : "(no name)") : r.msg);
        addr_list_free(&l);
        result_clear(&r);
        free(s);
    }
}

int main(void)
{
    test_callers();
    test_groups_routes_folding();
    test_errors();
    test_hostile();
    test_validate();
    test_helpers();
    test_format();
    test_idn();
    return tap_done();
}
