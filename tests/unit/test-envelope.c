/*
 * test-envelope.c - unit tests for envelope.c: sender choice and
 * from-override, %-expansion, mail domain, recipients from argv and -t,
 * aliases (with default:) and qualification, deduplication, validation,
 * DSN parameters, NFC of every address (skipped when libunistring cannot
 * be loaded). struct envelope_request and struct account are built by hand;
 * aliases files live in a mkdtemp directory.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "smtprc.h"
#include "envelope.h"
#include "message.h"
#include "tap.h"
#include "testutil.h"
#include "unistring-dl.h"

static const char *tmpdir;

static char *write_file(const char *name, const char *text)
{
    return tu_write_file(tmpdir, name, text, 0644);
}

/* Render the recipients as "a ; b ; c". */
static char *rcpts_text(const struct envelope *env)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < env->nrcpts; i++) {
        if (i)
            buf_puts(&b, " ; ");
        buf_puts(&b, env->rcpts[i]);
    }
    return buf_steal(&b);
}

/* Build an envelope for argv-style recipients; returns the recipients
 * text, or "ERR <class>: message". */
static char *build(struct envelope_request *o, const struct account *a, const struct message *m)
{
    struct envelope env;
    struct result r = RESULT_INIT;
    memset(&env, 0xA5, sizeof env);   /* envelope_build must initialize it */
    char *out;
    if (envelope_build(o, a, m, &env, &r) != 0) {
        out = xasprintf("ERR %d: %s", (int)r.cls, r.msg ? r.msg : "(no message)");
        bool zeroed = env.sender == NULL && env.rcpts == NULL && env.nrcpts == 0 &&
                      env.mail_domain == NULL;
        if (!zeroed) {
            char *o2 = xasprintf("%s (envelope not freed)", out);
            free(out);
            out = o2;
        }
    } else {
        out = rcpts_text(&env);
        if (r.cls != RC_OK) {
            char *o2 = xasprintf("%s (result set on success)", out);
            free(out);
            out = o2;
        }
    }
    envelope_free(&env);
    result_clear(&r);
    return out;
}

static void check_build(struct envelope_request *o, const struct account *a, const struct message *m,
                        const char *want, const char *what)
{
    char *got = build(o, a, m);
    tap_str(got, want, what);
    free(got);
}

/* The build must fail with class cls and a message containing frag. */
static void check_fail(struct envelope_request *o, const struct account *a, const struct message *m,
                       enum result_class cls, const char *frag, const char *what)
{
    char *got = build(o, a, m);
    char *prefix = xasprintf("ERR %d: ", (int)cls);
    bool ok = strncmp(got, prefix, strlen(prefix)) == 0 && strstr(got, frag) &&
              !strstr(got, "(envelope not freed)");
    tap_ok(ok, what);
    if (!ok)
        printf("#   got: %s\n#   want: %s...%s\n", got, prefix, frag);
    free(prefix);
    free(got);
}

static void set_rcpts(struct envelope_request *o, char **v, size_t n)
{
    o->recipients = v;
    o->nrecipients = n;
}

static void test_expand(void)
{
    char *want, *s;

    s = envelope_expand_from("%U@%H", "md.example");
    want = xasprintf("%s@%s", util_user_name(), util_host_name());
    tap_str(s, want, "%U@%H");
    free(s);
    free(want);

    s = envelope_expand_from("bounce@%M", "md.example");
    tap_str(s, "bounce@md.example", "%M is the mail domain");
    free(s);

    s = envelope_expand_from("x@%C", NULL);
    want = xasprintf("x@%s", util_host_name());
    tap_str(s, want, "%C is the host name");
    free(s);
    free(want);

    s = envelope_expand_from("100%%@x%", "d");
    tap_str(s, "100%@x%", "%% and a trailing %");
    free(s);

    s = envelope_expand_from("%X%u@x", "d");
    tap_str(s, "%X%u@x", "unknown escapes kept");
    free(s);

    s = envelope_expand_from("", "d");
    tap_str(s, "", "empty pattern");
    free(s);
}

static void test_mail_domain(void)
{
    struct account a;
    memset(&a, 0, sizeof a);
    char *s = envelope_mail_domain(&a);
    tap_str(s, util_host_name(), "nothing set: host name");
    free(s);

    a.domain = "ehlo.example";
    s = envelope_mail_domain(&a);
    tap_str(s, "ehlo.example", "account domain");
    free(s);

    a.from = "me@From.Example";
    s = envelope_mail_domain(&a);
    tap_str(s, "From.Example", "domain of from wins");
    free(s);

    a.from = "%U@%M";
    a.maildomain = "mail.example";
    s = envelope_mail_domain(&a);
    tap_str(s, "mail.example", "from with %M uses maildomain");
    free(s);

    a.from = "nodomain";
    a.maildomain = NULL;
    s = envelope_mail_domain(&a);
    tap_str(s, "ehlo.example", "from without domain falls back");
    free(s);

    /* Without maildomain and domain, %M and a from without a domain fall
     * back to the host name, looked up only then. */
    a.domain = NULL;
    s = envelope_mail_domain(&a);
    tap_str(s, util_host_name(), "from without domain, nothing set: host name");
    free(s);

    a.from = "bounce@%M";
    s = envelope_mail_domain(&a);
    tap_str(s, util_host_name(), "from with %M, nothing set: host name");
    free(s);
}

static char *sender(struct envelope_request *o, const struct account *a, enum result_class *cls)
{
    struct result r = RESULT_INIT;
    char *s = envelope_sender(o->from, a, &r);
    *cls = r.cls;
    if (!s)
        s = xasprintf("ERR: %s", r.msg ? r.msg : "(no message)");
    result_clear(&r);
    return s;
}

static void test_sender(void)
{
    struct envelope_request o;
    struct account a;
    enum result_class cls;
    char *s, *want;

    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    a.allow_from_override = true;

    s = sender(&o, &a, &cls);
    want = xasprintf("%s@%s", util_user_name(), util_host_name());
    tap_str(s, want, "no -f, no from: user@host");
    free(s);
    free(want);

    a.from = "acct@example.org";
    s = sender(&o, &a, &cls);
    tap_str(s, "acct@example.org", "account from");
    free(s);

    o.from = "<me@example.com>";
    s = sender(&o, &a, &cls);
    tap_str(s, "me@example.com", "-f overrides, angles stripped");
    free(s);

    o.from = "<>";
    s = sender(&o, &a, &cls);
    tap_str(s, "", "-f <> is the null sender");
    free(s);

    o.from = "";
    s = sender(&o, &a, &cls);
    tap_str(s, "", "-f \"\" is the null sender");
    free(s);

    a.allow_from_override = false;
    o.from = "me@example.com";
    s = sender(&o, &a, &cls);
    tap_str(s, "acct@example.org", "allow_from_override off: -f ignored");
    free(s);

    a.from = NULL;
    s = sender(&o, &a, &cls);
    tap_str(s, "me@example.com", "allow_from_override off but no from: -f used");
    free(s);

    a.allow_from_override = true;
    a.domain = "dom.example";
    o.from = "root";
    s = sender(&o, &a, &cls);
    tap_str(s, "root@dom.example", "bare -f qualified with the mail domain");
    free(s);

    o.from = "a@b\r\nRCPT TO:<x@y>";
    s = sender(&o, &a, &cls);
    tap_str(s, "ERR: invalid sender address \"a@b\\r\\nRCPT TO:<x@y>\": contains a line break",
            "CRLF in -f refused with escaped message");
    tap_int(cls, RC_DATAERR, "class RC_DATAERR");
    free(s);

    o.from = "<a@b";
    s = sender(&o, &a, &cls);
    tap_ok(strstr(s, "unbalanced angle bracket") != NULL && cls == RC_DATAERR,
           "unbalanced -f refused");
    free(s);

    o.from = NULL;
    a.name = "work";
    a.file = "/x/smtprc";
    a.line = 7;
    a.from = "me@ex\001ample.org";
    s = sender(&o, &a, &cls);
    tap_ok(cls == RC_CONFIG && strstr(s, "work") && strstr(s, "control character"),
           "invalid account from is a configuration error naming the account");
    free(s);

    a.from = "%U@%M";
    a.maildomain = "md.example";
    s = sender(&o, &a, &cls);
    want = xasprintf("%s@md.example", util_user_name());
    tap_str(s, want, "account from expanded");
    free(s);
    free(want);
}

static void test_recipients(void)
{
    struct envelope_request o;
    struct account a;
    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    a.allow_from_override = true;
    a.from = "me@example.org";

    char *cron[] = { "a@x,b@y" };
    set_rcpts(&o, cron, 1);
    check_build(&o, &a, NULL, "a@x ; b@y", "cron MAILTO: one argument, two recipients");

    char *mutt[] = { "Name <c@z>", "d@w", "\"Last, First\" <e@v>" };
    set_rcpts(&o, mutt, 3);
    check_build(&o, &a, NULL, "c@z ; d@w ; e@v", "mutt-style arguments");

    char *dups[] = { "a@x", "a@X", "A@x", "Name <a@x>", "a@x,a@x" };
    set_rcpts(&o, dups, 5);
    check_build(&o, &a, NULL, "a@x ; A@x", "deduplicated, domain case-insensitive, order kept");

    char *bare[] = { "root", "user" };
    set_rcpts(&o, bare, 2);
    check_build(&o, &a, NULL, "root@example.org ; user@example.org",
                "bare names qualified with the domain of from");

    a.from = NULL;
    a.domain = "host.example";
    check_build(&o, &a, NULL, "root@host.example ; user@host.example",
                "bare names qualified with the account domain");
    a.from = "me@example.org";
    a.domain = NULL;

    char *grp[] = { "undisclosed-recipients:;", "team: a@x, b@y;" };
    set_rcpts(&o, grp, 2);
    check_build(&o, &a, NULL, "a@x ; b@y", "groups");

    /* -t: header recipients added to the command-line ones */
    struct message m;
    memset(&m, 0, sizeof m);
    m.fd = -1;
    addr_list_add(&m.rcpts, "To", "to@x");
    addr_list_add(&m.rcpts, NULL, "a@x");
    addr_list_add(&m.rcpts, NULL, "root");
    char *one[] = { "a@x" };
    set_rcpts(&o, one, 1);
    o.read_recipients = true;
    check_build(&o, &a, &m, "a@x ; to@x ; root@example.org", "-t adds header recipients");
    o.read_recipients = false;
    check_build(&o, &a, &m, "a@x", "without -t the header recipients are not used");
    o.read_recipients = true;
    set_rcpts(&o, NULL, 0);
    check_build(&o, &a, &m, "to@x ; a@x ; root@example.org", "-t alone");
    check_build(&o, &a, NULL, "ERR 1: no recipients given: none on the command line and none "
                              "in the To, Cc or Bcc header of the message (-t)",
                "-t and no message: no recipients");
    addr_list_free(&m.rcpts);
    check_fail(&o, &a, &m, RC_USAGE, "-t", "-t with an empty header: usage error mentions -t");
    o.read_recipients = false;

    set_rcpts(&o, NULL, 0);
    check_fail(&o, &a, NULL, RC_USAGE, "-t", "no recipients: usage error mentions -t");
    char *empty[] = { "", " , ", "undisclosed-recipients:;" };
    set_rcpts(&o, empty, 3);
    check_fail(&o, &a, NULL, RC_USAGE, "no recipients given", "only empty lists");

    /* invalid input */
    char *bad1[] = { "ok@x", "a@<b" };
    set_rcpts(&o, bad1, 2);
    check_fail(&o, &a, NULL, RC_DATAERR, "invalid address list \"a@<b\": unbalanced angle bracket",
               "unbalanced bracket in an argument");
    char *bad2[] = { "x@y\r\nDATA" };
    set_rcpts(&o, bad2, 1);
    check_fail(&o, &a, NULL, RC_DATAERR, "\\r\\n", "CRLF in a recipient");
    char long_local[100];
    memset(long_local, 'l', 70);
    strcpy(long_local + 70, "@x");
    char *bad3[] = { long_local };
    set_rcpts(&o, bad3, 1);
    check_fail(&o, &a, NULL, RC_DATAERR, "local part longer than 64", "over-long local part");
    memset(long_local, 'l', 70);
    long_local[70] = '\0';
    check_fail(&o, &a, NULL, RC_DATAERR, "local part longer than 64",
               "over-long bare name is validated after qualification");

    /* -f invalid: the build fails as well */
    char *ok[] = { "a@x" };
    set_rcpts(&o, ok, 1);
    o.from = "a\nb@x";
    check_fail(&o, &a, NULL, RC_DATAERR, "invalid sender address", "invalid -f fails the build");
    o.from = NULL;

    /* the successful envelope carries sender and mail domain */
    struct envelope env;
    struct result r = RESULT_INIT;
    tap_int(envelope_build(&o, &a, NULL, &env, &r), 0, "build succeeds");
    tap_str(env.sender, "me@example.org", "sender in the envelope");
    tap_str(env.mail_domain, "example.org", "mail domain in the envelope");
    tap_str(env.dsn_notify, NULL, "no DSN notify by default");
    tap_str(env.dsn_return, NULL, "no DSN return by default");
    tap_str(env.dsn_envid, NULL, "no envid by default");
    envelope_free(&env);
    tap_ok(env.sender == NULL && env.rcpts == NULL, "envelope_free resets");
    envelope_free(&env);   /* twice is fine */
}

static void test_aliases(void)
{
    struct envelope_request o;
    struct account a;
    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    a.allow_from_override = true;
    a.from = "me@example.org";

    char *path = write_file("aliases",
                            "# msmtp aliases\n"
                            "root: admin@example.com, ops\n"
                            "Postmaster: pm@example.com\n"
                            "self: me@example.org\n"
                            "\n");
    a.aliases = path;

    char *r1[] = { "root" };
    set_rcpts(&o, r1, 1);
    check_build(&o, &a, NULL, "admin@example.com ; ops@example.org",
                "alias expanded; bare name in the expansion qualified, not looked up again");
    char *r2[] = { "POSTMASTER" };
    set_rcpts(&o, r2, 1);
    check_build(&o, &a, NULL, "pm@example.com", "alias lookup is case-insensitive");
    char *r3[] = { "nobody" };
    set_rcpts(&o, r3, 1);
    check_build(&o, &a, NULL, "nobody@example.org", "no alias and no default: qualified");
    char *r4[] = { "root@elsewhere.example" };
    set_rcpts(&o, r4, 1);
    check_build(&o, &a, NULL, "root@elsewhere.example", "qualified addresses are not aliased");
    char *r5[] = { "self", "me@EXAMPLE.org", "root", "admin@example.com" };
    set_rcpts(&o, r5, 4);
    check_build(&o, &a, NULL, "me@example.org ; admin@example.com ; ops@example.org",
                "expansions deduplicated with other recipients");
    free(path);

    path = write_file("aliases-default", "root: r@example.com\ndefault: catch@example.com\n");
    a.aliases = path;
    char *r6[] = { "root", "bob", "alice" };
    set_rcpts(&o, r6, 3);
    check_build(&o, &a, NULL, "r@example.com ; catch@example.com",
                "default: catches names without an alias");
    free(path);

    path = write_file("aliases-bad", "root admin@example.com\n");
    a.aliases = path;
    char *r7[] = { "root" };
    set_rcpts(&o, r7, 1);
    check_fail(&o, &a, NULL, RC_CONFIG, "aliases-bad", "malformed aliases file: config error");
    free(path);

    path = xasprintf("%s/missing", tmpdir);
    a.aliases = path;
    check_fail(&o, &a, NULL, RC_CONFIG, "missing", "missing aliases file: config error");
    char *r8[] = { "a@x" };
    set_rcpts(&o, r8, 1);
    check_build(&o, &a, NULL, "a@x", "aliases file not read for qualified addresses");
    free(path);
}

/* "o" + U+0308 COMBINING DIAERESIS, and the precomposed U+00F6. */
#define O_DECOMPOSED "o\xcc\x88"
#define O_NFC "\xc3\xb6"

static void test_nfc(void)
{
    struct envelope_request o;
    struct account a;
    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    a.allow_from_override = true;
    a.from = "me@example.org";

    char *ascii[] = { "a@example.org", "root" };
    set_rcpts(&o, ascii, 2);
    o.from = "sender@example.org";
    check_build(&o, &a, NULL, "a@example.org ; root@example.org", "ASCII addresses");
    tap_ok(!unistring_dl_loaded(), "an ASCII envelope does not load libunistring");
    o.from = NULL;

    struct result r = RESULT_INIT;
    char *probe = unistring_nfc(O_DECOMPOSED, "probe", &r);
    if (!probe || strcmp(probe, O_NFC) != 0) {
        printf("ok %d # SKIP NFC: libunistring not usable (%s)\n", ++tap_n,
               r.msg ? r.msg : "built without it");
        result_clear(&r);
        free(probe);
        return;
    }
    free(probe);
    tap_ok(unistring_dl_loaded(), "a non-ASCII string loads libunistring");

    char *dec[] = { "j" O_DECOMPOSED "rg@b\xc3\xbc" "cher.example",
                    "j" O_NFC "rg@bu\xcc\x88" "cher.example", "m" O_DECOMPOSED "@x" };
    set_rcpts(&o, dec, 3);
    check_build(&o, &a, NULL, "j" O_NFC "rg@b\xc3\xbc" "cher.example ; m" O_NFC "@x",
                "recipients in NFC; decomposed and precomposed spellings are one");
    char *hangul[] = { "\xe1\x84\x80\xe1\x85\xa1@x" };   /* U+1100 U+1161 */
    set_rcpts(&o, hangul, 1);
    check_build(&o, &a, NULL, "\xea\xb0\x80@x", "Hangul jamo composed (U+AC00)");
    char *nfc_already[] = { "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" };
    set_rcpts(&o, nfc_already, 1);
    check_build(&o, &a, NULL, nfc_already[0], "an address already in NFC is unchanged");

    struct envelope env;
    char *one[] = { "a@x" };
    set_rcpts(&o, one, 1);
    o.from = "<j" O_DECOMPOSED "rg@x>";
    tap_int(envelope_build(&o, &a, NULL, &env, &r), 0, "decomposed -f: built");
    tap_str(env.sender, "j" O_NFC "rg@x", "the sender (-f) in NFC");
    envelope_free(&env);
    o.from = NULL;
    a.from = "%U+j" O_DECOMPOSED "rg@x";
    a.allow_from_override = false;
    char *sender = envelope_sender(NULL, &a, &r);
    char *want = xasprintf("%s+j" O_NFC "rg@x", util_user_name());
    tap_str(sender, want, "the account's from in NFC");
    free(want);
    free(sender);
    a.from = "me@example.org";
    a.allow_from_override = true;

    char *path = write_file("aliases-utf8", "jo: j" O_DECOMPOSED "rg@x, b" O_DECOMPOSED "b\n");
    a.aliases = path;
    char *al[] = { "jo" };
    set_rcpts(&o, al, 1);
    check_build(&o, &a, NULL, "j" O_NFC "rg@x ; b" O_NFC "b@example.org",
                "aliases' results in NFC, qualified ones too");
    a.aliases = NULL;
    free(path);

    struct message m;
    memset(&m, 0, sizeof m);
    m.fd = -1;
    addr_list_add(&m.rcpts, NULL, "t" O_DECOMPOSED "@x");
    addr_list_add(&m.rcpts, NULL, "t" O_NFC "@x");
    o.read_recipients = true;
    set_rcpts(&o, NULL, 0);
    check_build(&o, &a, &m, "t" O_NFC "@x", "-t recipients in NFC, deduplicated");
    o.read_recipients = false;
    addr_list_free(&m.rcpts);

    char *bad[] = { "m\xfcller@x" };
    set_rcpts(&o, bad, 1);
    check_fail(&o, &a, NULL, RC_DATAERR, "not valid UTF-8", "Latin-1 recipient: 65, not valid UTF-8");
    o.from = "j\xc3@x";
    set_rcpts(&o, one, 1);
    check_fail(&o, &a, NULL, RC_DATAERR, "invalid sender address", "cut UTF-8 in -f: 65");
    o.from = NULL;
}

static void test_dsn(void)
{
    struct envelope_request o;
    struct account a;
    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    a.allow_from_override = true;
    a.from = "me@example.org";
    a.name = "acct";
    char *one[] = { "a@x" };
    set_rcpts(&o, one, 1);

    struct {
        const char *notify, *ret, *envid, *acct_notify, *acct_return;
        const char *want_notify, *want_return;
        int want_cls;
        const char *what;
    } cases[] = {
        { "failure,delay", NULL, NULL, NULL, NULL, "FAILURE,DELAY", NULL, RC_OK, "-N list uppercased" },
        { "never", NULL, NULL, NULL, NULL, "NEVER", NULL, RC_OK, "-N never" },
        { "NEVER", NULL, NULL, NULL, NULL, "NEVER", NULL, RC_OK, "-N NEVER" },
        { "Success,success,delay", NULL, NULL, NULL, NULL, "SUCCESS,DELAY", NULL, RC_OK,
          "-N duplicates removed" },
        { "never,failure", NULL, NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-N never with others" },
        { "bogus", NULL, NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-N unknown word" },
        { "", NULL, NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-N empty" },
        { "failure,", NULL, NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-N trailing comma" },
        { "failure delay", NULL, NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-N with a space" },
        { NULL, "hdrs", NULL, NULL, NULL, NULL, "HDRS", RC_OK, "-R hdrs" },
        { NULL, "FULL", NULL, NULL, NULL, NULL, "FULL", RC_OK, "-R FULL" },
        { NULL, "partial", NULL, NULL, NULL, NULL, NULL, RC_USAGE, "-R unknown" },
        { NULL, NULL, NULL, "delay", "headers", "DELAY", "HDRS", RC_OK, "account values" },
        { NULL, NULL, NULL, "off", "off", NULL, NULL, RC_OK, "account off = none" },
        { "success", "full", NULL, "delay", "headers", "SUCCESS", "FULL", RC_OK,
          "options override the account" },
        { NULL, NULL, NULL, "sometimes", NULL, NULL, NULL, RC_CONFIG, "bad account dsn_notify" },
        { NULL, NULL, NULL, NULL, "most", NULL, NULL, RC_CONFIG, "bad account dsn_return" },
        { NULL, NULL, "ENV-123.abc", NULL, NULL, NULL, NULL, RC_OK, "-V envid" },
        { NULL, NULL, "has space", NULL, NULL, NULL, NULL, RC_USAGE, "-V with a space" },
        { NULL, NULL, "", NULL, NULL, NULL, NULL, RC_USAGE, "-V empty" },
        { NULL, NULL, "a\r\nb", NULL, NULL, NULL, NULL, RC_USAGE, "-V with CRLF" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        o.dsn_notify = cases[i].notify;
        o.dsn_return = cases[i].ret;
        o.dsn_envid = cases[i].envid;
        a.dsn_notify = (char *)cases[i].acct_notify;
        a.dsn_return = (char *)cases[i].acct_return;
        struct envelope env;
        struct result r = RESULT_INIT;
        int rc = envelope_build(&o, &a, NULL, &env, &r);
        bool ok;
        if (cases[i].want_cls == RC_OK) {
            ok = rc == 0 && r.cls == RC_OK;
            ok = ok && ((!env.dsn_notify && !cases[i].want_notify) ||
                        (env.dsn_notify && cases[i].want_notify &&
                         strcmp(env.dsn_notify, cases[i].want_notify) == 0));
            ok = ok && ((!env.dsn_return && !cases[i].want_return) ||
                        (env.dsn_return && cases[i].want_return &&
                         strcmp(env.dsn_return, cases[i].want_return) == 0));
            ok = ok && ((!env.dsn_envid && !cases[i].envid) ||
                        (env.dsn_envid && cases[i].envid &&
                         strcmp(env.dsn_envid, cases[i].envid) == 0));
        } else {
            ok = rc == -1 && (int)r.cls == cases[i].want_cls && r.msg != NULL;
        }
        tap_ok(ok, cases[i].what);
        if (!ok)
            printf("#   rc=%d cls=%d msg=%s notify=%s return=%s\n", rc, (int)r.cls,
                   r.msg ? r.msg : "-", rc == 0 && env.dsn_notify ? env.dsn_notify : "-",
                   rc == 0 && env.dsn_return ? env.dsn_return : "-");
        if (rc == 0)
            envelope_free(&env);
        result_clear(&r);
    }

    /* the messages name the option */
    struct envelope env;
    struct result r = RESULT_INIT;
    o.dsn_notify = "bogus";
    o.dsn_return = NULL;
    o.dsn_envid = NULL;
    a.dsn_notify = a.dsn_return = NULL;
    envelope_build(&o, &a, NULL, &env, &r);
    tap_ok(r.msg && strstr(r.msg, "-N") && strstr(r.msg, "bogus"), "-N message names option and value");
    result_clear(&r);
    o.dsn_notify = NULL;
    o.dsn_return = "x";
    envelope_build(&o, &a, NULL, &env, &r);
    tap_ok(r.msg && strstr(r.msg, "-R"), "-R message names the option");
    result_clear(&r);
}

int main(void)
{
    tmpdir = tu_tmpdir("envelope");
    test_expand();
    test_mail_domain();
    test_sender();
    test_recipients();
    test_aliases();
    test_nfc();
    test_dsn();
    tu_rmtree(tmpdir);
    return tap_done();
}
