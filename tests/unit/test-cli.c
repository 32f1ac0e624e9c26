/*
 * test-cli.c - unit tests for cli.c: every argv shape of doc/callers.md, each
 * option in its attached and separate form, the errors, the names the
 * program is invoked under, "--", recipients kept intact, and the
 * --help / --version texts.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

/* True if the line starting at line contains needle. */
static int strstr_line(const char *line, const char *needle)
{
    size_t n = strcspn(line, "\n");
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (strncmp(line + i, needle, k) == 0)
            return 1;
    return 0;
}

#define MAXARGS 64

static char *args[MAXARGS + 1];
static int nargs;

/* Parse the NULL-terminated list of words (argv[0] first). */
static int parse(struct options *o, struct result *r, const char *argv0, ...)
{
    va_list ap;
    const char *w;

    result_clear(r);
    nargs = 0;
    args[nargs++] = (char *)argv0;
    va_start(ap, argv0);
    while ((w = va_arg(ap, const char *)) != NULL && nargs < MAXARGS)
        args[nargs++] = (char *)w;
    va_end(ap);
    args[nargs] = NULL;
    return cli_parse(nargs, args, o, r);
}

/* Expect a usage error whose message is exactly `msg` (or contains it
 * when exact is false). */
static void expect_usage(int rc, struct result *r, const char *msg, bool exact, const char *what)
{
    char name[256];

    snprintf(name, sizeof name, "%s: fails", what);
    tap_int(rc, -1, name);
    snprintf(name, sizeof name, "%s: class RC_USAGE", what);
    tap_int(r->cls, RC_USAGE, name);
    snprintf(name, sizeof name, "%s: message", what);
    if (exact) {
        tap_str(r->msg, msg, name);
    } else {
        tap_ok(r->msg != NULL && strstr(r->msg, msg) != NULL, name);
        if (r->msg == NULL || strstr(r->msg, msg) == NULL)
            printf("#   got:  %s\n#   want to contain: %s\n", r->msg ? r->msg : "NULL", msg);
    }
    result_clear(r);
}

static void expect_ok(int rc, struct result *r, const char *what)
{
    char name[256];

    snprintf(name, sizeof name, "%s: parses", what);
    tap_int(rc, 0, name);
    if (rc != 0)
        printf("#   error: %s\n", r->msg ? r->msg : "NULL");
    result_clear(r);
}

static void test_callers(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    /* Debian cron: MAILTO verbatim, one argument even with a comma. */
    rc = parse(&o, &r, "/usr/sbin/sendmail", "-FCronDaemon", "-i", "-B8BITMIME", "-oem",
               "a@x,b@y", NULL);
    expect_ok(rc, &r, "cron");
    tap_int(o.mode, MODE_SEND, "cron: send mode");
    tap_str(o.full_name, "CronDaemon", "cron: -FCronDaemon");
    tap_ok(o.ignore_dots, "cron: -i");
    tap_str(o.body_type, "8BITMIME", "cron: -B8BITMIME");
    tap_str(o.error_mode, "m", "cron: -oem");
    tap_int(o.nrecipients, 1, "cron: one recipient argument");
    tap_ok(o.recipients == &args[5], "cron: recipients point into argv");
    tap_str(o.recipients[0], "a@x,b@y", "cron: list kept intact");
    tap_ok(!o.read_recipients, "cron: no -t");
    tap_str(o.progname, "sendmail", "cron: progname is basename");

    /* cronie */
    rc = parse(&o, &r, "sendmail", "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f",
               "root@host", NULL);
    expect_ok(rc, &r, "cronie");
    tap_ok(o.read_recipients, "cronie: -t");
    tap_str(o.from, "root@host", "cronie: -f separate");
    tap_str(o.delivery_mode, "i", "cronie: -odi");
    tap_ok(!o.queue_only, "cronie: -odi is not queue only");
    tap_int(o.nrecipients, 0, "cronie: no recipients");
    tap_ok(o.recipients == NULL, "cronie: recipients NULL");

    /* anacron */
    rc = parse(&o, &r, "sendmail", "-FAnacron", "-odi", "root", NULL);
    expect_ok(rc, &r, "anacron");
    tap_str(o.full_name, "Anacron", "anacron: -FAnacron");
    tap_ok(!o.ignore_dots, "anacron: no -i");
    tap_int(o.nrecipients, 1, "anacron: one recipient");
    tap_str(o.recipients[0], "root", "anacron: recipient");

    /* at */
    rc = parse(&o, &r, "sendmail", "-i", "alice", NULL);
    expect_ok(rc, &r, "at");
    tap_ok(o.ignore_dots, "at: -i");
    tap_str(o.recipients[0], "alice", "at: recipient");

    /* mutt with everything */
    rc = parse(&o, &r, "sendmail", "-oem", "-oi", "-f", "me@x", "-B8BITMIME", "-N",
               "failure,delay", "-R", "hdrs", "--", "a@x", "Bob <b@y>", "bcc@z", NULL);
    expect_ok(rc, &r, "mutt");
    tap_str(o.from, "me@x", "mutt: -f");
    tap_str(o.body_type, "8BITMIME", "mutt: -B");
    tap_str(o.dsn_notify, "failure,delay", "mutt: -N separate");
    tap_str(o.dsn_return, "hdrs", "mutt: -R separate");
    tap_int(o.nrecipients, 3, "mutt: three recipients after --");
    tap_str(o.recipients[0], "a@x", "mutt: recipient 1");
    tap_str(o.recipients[1], "Bob <b@y>", "mutt: recipient 2 with space kept");
    tap_str(o.recipients[2], "bcc@z", "mutt: recipient 3");

    /* mutt minimal */
    rc = parse(&o, &r, "sendmail", "-oem", "-oi", "--", "a@x", NULL);
    expect_ok(rc, &r, "mutt minimal");
    tap_ok(o.from == NULL, "mutt minimal: no -f");
    tap_int(o.nrecipients, 1, "mutt minimal: one recipient");

    /* git send-email */
    rc = parse(&o, &r, "/usr/sbin/sendmail", "-f", "dev@x", "-i", "a@x", "b@y", NULL);
    expect_ok(rc, &r, "git send-email");
    tap_str(o.from, "dev@x", "git: -f");
    tap_int(o.nrecipients, 2, "git: two recipients");
    tap_str(o.recipients[1], "b@y", "git: second recipient");

    /* PHP mail() */
    rc = parse(&o, &r, "sendmail", "-t", "-i", "-fwww@x", NULL);
    expect_ok(rc, &r, "php");
    tap_ok(o.read_recipients && o.ignore_dots, "php: -t -i");
    tap_str(o.from, "www@x", "php: -fADDR attached");

    /* bsd-mailx */
    rc = parse(&o, &r, "sendmail", "-i", "-t", "-f", "u@x", NULL);
    expect_ok(rc, &r, "mailx");
    tap_ok(o.read_recipients, "mailx: -t");

    /* s-nail */
    rc = parse(&o, &r, "sendmail", "-i", "-f", "u@x", "--", "a@x", NULL);
    expect_ok(rc, &r, "s-nail");
    tap_str(o.recipients[0], "a@x", "s-nail: recipient");

    /* logwatch, mdadm, sudo */
    rc = parse(&o, &r, "sendmail", "-t", NULL);
    expect_ok(rc, &r, "sendmail -t");
    tap_ok(o.read_recipients && !o.ignore_dots, "-t alone");
    tap_int(o.verbose, 0, "-t: not verbose");

    /* unattended-upgrades, Python */
    rc = parse(&o, &r, "sendmail", "-oi", "-t", NULL);
    expect_ok(rc, &r, "unattended-upgrades");
    tap_ok(o.read_recipients && o.ignore_dots, "-oi -t");
    rc = parse(&o, &r, "sendmail", "-t", "-oi", NULL);
    expect_ok(rc, &r, "python -t -oi");

    /* fail2ban */
    rc = parse(&o, &r, "sendmail", "-f", "fail2ban@x", "root@x", NULL);
    expect_ok(rc, &r, "fail2ban");
    tap_str(o.from, "fail2ban@x", "fail2ban: -f");
    tap_str(o.recipients[0], "root@x", "fail2ban: recipient");

    /* Alpine */
    rc = parse(&o, &r, "sendmail", "-bs", "-odb", "-oem", NULL);
    expect_ok(rc, &r, "alpine");
    tap_int(o.mode, MODE_SMTP_STDIN, "alpine: -bs");
    tap_str(o.delivery_mode, "b", "alpine: -odb");

    /* Ruby/Node */
    rc = parse(&o, &r, "sendmail", "-i", "-f", "app@x", "--", "a@x", "b@y", NULL);
    expect_ok(rc, &r, "ruby");
    tap_int(o.nrecipients, 2, "ruby: two recipients");
}

static void test_option_forms(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    /* -f / -r forms, null sender */
    rc = parse(&o, &r, "smtpfwd", "-r", "a@x", "rcpt", NULL);
    expect_ok(rc, &r, "-r separate");
    tap_str(o.from, "a@x", "-r ADDR");
    rc = parse(&o, &r, "smtpfwd", "-ra@x", "rcpt", NULL);
    expect_ok(rc, &r, "-r attached");
    tap_str(o.from, "a@x", "-rADDR");
    rc = parse(&o, &r, "smtpfwd", "-f", "", "rcpt", NULL);
    expect_ok(rc, &r, "-f empty");
    tap_str(o.from, "", "-f \"\" stored as empty string");
    rc = parse(&o, &r, "smtpfwd", "-f", "<>", "rcpt", NULL);
    expect_ok(rc, &r, "-f <>");
    tap_str(o.from, "<>", "-f <> stored as given");
    rc = parse(&o, &r, "smtpfwd", "-f<>", "rcpt", NULL);
    expect_ok(rc, &r, "-f<>");
    tap_str(o.from, "<>", "-f<> attached");
    rc = parse(&o, &r, "smtpfwd", "-f", "-t", "rcpt", NULL);
    expect_ok(rc, &r, "-f takes the next word whatever it is");
    tap_str(o.from, "-t", "-f -t: sender is \"-t\"");
    tap_ok(!o.read_recipients, "-f -t: -t not parsed as option");
    rc = parse(&o, &r, "smtpfwd", "-f", "a@x", "-f", "b@y", "rcpt", NULL);
    expect_ok(rc, &r, "-f twice");
    tap_str(o.from, "b@y", "-f twice: last wins");
    rc = parse(&o, &r, "smtpfwd", "--from=a@x", "rcpt", NULL);
    expect_ok(rc, &r, "--from=");
    tap_str(o.from, "a@x", "--from=ADDR");
    rc = parse(&o, &r, "smtpfwd", "--from", "a@x", "rcpt", NULL);
    expect_ok(rc, &r, "--from separate");
    tap_str(o.from, "a@x", "--from ADDR");
    rc = parse(&o, &r, "smtpfwd", "--from=", "rcpt", NULL);
    expect_ok(rc, &r, "--from= empty");
    tap_str(o.from, "", "--from= is the null sender");

    /* -F */
    rc = parse(&o, &r, "smtpfwd", "-F", "Cron Daemon", "rcpt", NULL);
    expect_ok(rc, &r, "-F separate");
    tap_str(o.full_name, "Cron Daemon", "-F NAME with space");

    /* -N, -V, -R */
    rc = parse(&o, &r, "smtpfwd", "-Nnever", "-Vid123", "-RFULL", "rcpt", NULL);
    expect_ok(rc, &r, "-N -V -R attached");
    tap_str(o.dsn_notify, "never", "-Nnever");
    tap_str(o.dsn_envid, "id123", "-Vid123");
    tap_str(o.dsn_return, "FULL", "-RFULL stored as given");
    rc = parse(&o, &r, "smtpfwd", "-N", "bogus", "-V", "e", "-R", "Hdrs", "rcpt", NULL);
    expect_ok(rc, &r, "-N text stored unvalidated");
    tap_str(o.dsn_notify, "bogus", "-N text stored for envelope.c");
    tap_str(o.dsn_envid, "e", "-V separate");
    tap_str(o.dsn_return, "Hdrs", "-R Hdrs case-insensitive");
    rc = parse(&o, &r, "smtpfwd", "-R", "tail", "rcpt", NULL);
    expect_usage(rc, &r, "option -R needs full, hdrs, headers or off, not \"tail\"", true,
                 "-R tail");
    rc = parse(&o, &r, "smtpfwd", "-R", "", "rcpt", NULL);
    expect_usage(rc, &r, "option -R needs full, hdrs, headers or off", false, "-R empty");

    /* -B */
    rc = parse(&o, &r, "smtpfwd", "-B", "7bit", "rcpt", NULL);
    expect_ok(rc, &r, "-B 7bit");
    tap_str(o.body_type, "7BIT", "-B 7bit uppercased");
    rc = parse(&o, &r, "smtpfwd", "-B8bitmime", "rcpt", NULL);
    expect_ok(rc, &r, "-B8bitmime");
    tap_str(o.body_type, "8BITMIME", "-B8bitmime uppercased");
    /* other body types: accepted and ignored, as msmtp ignores -B */
    rc = parse(&o, &r, "smtpfwd", "-BBINARYMIME", "rcpt", NULL);
    expect_ok(rc, &r, "-B BINARYMIME");
    tap_str(o.body_type, NULL, "-B BINARYMIME ignored");
    rc = parse(&o, &r, "smtpfwd", "-B", "8BITMIME", "-B", "8BITMIMEX", "rcpt", NULL);
    expect_ok(rc, &r, "-B 8BITMIMEX");
    tap_str(o.body_type, "8BITMIME", "-B 8BITMIMEX leaves the known type");
    tap_int(o.nrecipients, 1, "-B value not taken for a recipient");

    /* -C, -a, --file, --account */
    rc = parse(&o, &r, "smtpfwd", "-C", "/tmp/rc", "-a", "work", "rcpt", NULL);
    expect_ok(rc, &r, "-C -a separate");
    tap_str(o.config_file, "/tmp/rc", "-C FILE");
    tap_str(o.account, "work", "-a NAME");
    rc = parse(&o, &r, "smtpfwd", "-C/tmp/rc", "-awork", "rcpt", NULL);
    expect_ok(rc, &r, "-C -a attached");
    tap_str(o.config_file, "/tmp/rc", "-CFILE");
    tap_str(o.account, "work", "-aNAME");
    rc = parse(&o, &r, "smtpfwd", "--file=/tmp/rc", "--account=a=b", "rcpt", NULL);
    expect_ok(rc, &r, "--file= --account=");
    tap_str(o.config_file, "/tmp/rc", "--file=FILE");
    tap_str(o.account, "a=b", "--account= keeps text after the first =");
    rc = parse(&o, &r, "smtpfwd", "--file", "/tmp/rc", "--account", "home", "rcpt", NULL);
    expect_ok(rc, &r, "--file --account separate");
    tap_str(o.config_file, "/tmp/rc", "--file FILE");
    tap_str(o.account, "home", "--account NAME");
    rc = parse(&o, &r, "smtpfwd", "--account=", "rcpt", NULL);
    expect_usage(rc, &r, "option --account needs an argument", true, "--account= empty");
    rc = parse(&o, &r, "smtpfwd", "--account", NULL);
    expect_usage(rc, &r, "option --account needs an argument", true, "--account at end");
    rc = parse(&o, &r, "smtpfwd", "--file", NULL);
    expect_usage(rc, &r, "option --file needs an argument", true, "--file at end");

    /* flags */
    rc = parse(&o, &r, "smtpfwd", "-v", "-v", "--verbose", "-t", NULL);
    expect_ok(rc, &r, "-v -v --verbose");
    tap_int(o.verbose, 3, "-v repeatable, --verbose counts");
    rc = parse(&o, &r, "smtpfwd", "--read-recipients", NULL);
    expect_ok(rc, &r, "--read-recipients");
    tap_ok(o.read_recipients, "--read-recipients = -t");
    rc = parse(&o, &r, "smtpfwd", "-G", "-U", "-t", NULL);
    expect_ok(rc, &r, "-G -U ignored");

    /* accepted and ignored, with arguments */
    rc = parse(&o, &r, "smtpfwd", "-o", "DeliveryMode=b", "-O", "LogLevel=9", "-OLogLevel=9",
               "-L", "tag", "-Ltag", "-h", "17", "-h17", "-X", "/tmp/x", "-X/tmp/x",
               "-oQ/var/spool", "rcpt", NULL);
    expect_ok(rc, &r, "ignored options");
    tap_int(o.nrecipients, 1, "ignored options consume their arguments");
    tap_str(o.recipients[0], "rcpt", "ignored options: recipient intact");
    tap_ok(!o.ignore_dots && !o.queue_only, "ignored options change nothing");
    tap_ok(o.delivery_mode == NULL && o.error_mode == NULL, "ignored options set no modes");

    /* -o forms */
    rc = parse(&o, &r, "smtpfwd", "-o", "i", "rcpt", NULL);
    expect_ok(rc, &r, "-o i separate");
    tap_ok(o.ignore_dots, "-o i = -oi");
    rc = parse(&o, &r, "smtpfwd", "-odq", "rcpt", NULL);
    expect_ok(rc, &r, "-odq");
    tap_ok(o.queue_only, "-odq: queue only");
    tap_str(o.delivery_mode, "q", "-odq: delivery_mode");
    rc = parse(&o, &r, "smtpfwd", "-odq", "-odi", "rcpt", NULL);
    expect_ok(rc, &r, "-odq -odi");
    tap_ok(!o.queue_only, "-odq -odi: last wins");
    rc = parse(&o, &r, "smtpfwd", "-o", "dq", "rcpt", NULL);
    expect_ok(rc, &r, "-o dq separate");
    tap_ok(o.queue_only, "-o dq: queue only");
    static const char *const emodes[] = { "-oem", "-oee", "-oep", "-oeq", "-oew" };
    for (size_t k = 0; k < sizeof emodes / sizeof emodes[0]; k++) {
        rc = parse(&o, &r, "smtpfwd", emodes[k], "rcpt", NULL);
        expect_ok(rc, &r, emodes[k]);
        tap_str(o.error_mode, emodes[k] + 3, "error mode letter stored");
    }
    rc = parse(&o, &r, "smtpfwd", "-oex", "rcpt", NULL);
    expect_usage(rc, &r, "option -oe needs one of", false, "-oex");
    rc = parse(&o, &r, "smtpfwd", "-oe", "rcpt", NULL);
    expect_usage(rc, &r, "option -oe needs one of", false, "-oe");
    rc = parse(&o, &r, "smtpfwd", "-odqq", "rcpt", NULL);
    expect_usage(rc, &r, "option -od needs one of", false, "-odqq");
    rc = parse(&o, &r, "smtpfwd", "-od", "rcpt", NULL);
    expect_usage(rc, &r, "option -od needs one of", false, "-od");
    rc = parse(&o, &r, "smtpfwd", "-o", NULL);
    expect_usage(rc, &r, "option -o needs an argument", true, "-o at end");
    rc = parse(&o, &r, "smtpfwd", "-o", "", "rcpt", NULL);
    expect_usage(rc, &r, "option -o needs an argument", true, "-o empty");
    rc = parse(&o, &r, "smtpfwd", "-O", NULL);
    expect_usage(rc, &r, "option -O needs an argument", true, "-O at end");
    rc = parse(&o, &r, "smtpfwd", "-t", "-L", NULL);
    expect_usage(rc, &r, "option -L needs an argument", true, "-L at end");
    rc = parse(&o, &r, "smtpfwd", "-t", "-h", NULL);
    expect_usage(rc, &r, "option -h needs an argument", true, "-h at end");
    rc = parse(&o, &r, "smtpfwd", "-t", "-X", NULL);
    expect_usage(rc, &r, "option -X needs an argument", true, "-X at end");

    /* every argument-taking option at the end of argv */
    static const char *const with_arg[] = { "-f", "-r", "-F", "-N", "-R", "-V", "-B", "-C", "-a" };
    for (size_t k = 0; k < sizeof with_arg / sizeof with_arg[0]; k++) {
        char want[64];
        snprintf(want, sizeof want, "option %s needs an argument", with_arg[k]);
        rc = parse(&o, &r, "smtpfwd", "-t", with_arg[k], NULL);
        expect_usage(rc, &r, want, true, want);
    }
}

/* A mode whose one argument is an account (--store-password,
 * --forget-password, --authorize), in every form. */
static void test_account_mode(const char *opt, enum cli_mode mode)
{
    struct options o;
    struct result r = RESULT_INIT;
    char eq[64], eq_a[64], what[160], what2[160];
    int rc;

    snprintf(eq, sizeof eq, "%s=", opt);
    snprintf(eq_a, sizeof eq_a, "%s=work", opt);
#define WHAT(...) (snprintf(what, sizeof what, __VA_ARGS__), what)
    rc = parse(&o, &r, "smtpfwd", opt, NULL);
    expect_ok(rc, &r, opt);
    tap_int(o.mode, mode, WHAT("%s: mode", opt));
    tap_ok(o.mode_arg == NULL, WHAT("%s: no account", opt));
    rc = parse(&o, &r, "smtpfwd", opt, "work", NULL);
    expect_ok(rc, &r, WHAT("%s ACCOUNT", opt));
    tap_str(o.mode_arg, "work", WHAT("%s ACCOUNT: account", opt));
    tap_int(o.nrecipients, 0, WHAT("%s ACCOUNT: not a recipient", opt));
    rc = parse(&o, &r, "smtpfwd", eq_a, "-C", "/tmp/rc", NULL);
    expect_ok(rc, &r, WHAT("%s=ACCOUNT", opt));
    tap_str(o.mode_arg, "work", WHAT("%s=ACCOUNT: account", opt));
    tap_str(o.config_file, "/tmp/rc", WHAT("%s: -C after it parsed", opt));
    rc = parse(&o, &r, "smtpfwd", opt, "-C", "/tmp/rc", "home", NULL);
    expect_ok(rc, &r, WHAT("%s -C FILE ACCOUNT", opt));
    tap_int(o.mode, mode, WHAT("%s -C FILE ACCOUNT: mode", opt));
    tap_str(o.mode_arg, "home", WHAT("%s: account after options", opt));
    rc = parse(&o, &r, "smtpfwd", opt, "home", "-C", "/tmp/rc", NULL);
    expect_ok(rc, &r, WHAT("%s ACCOUNT -C FILE", opt));
    tap_str(o.mode_arg, "home", WHAT("%s: account before options", opt));
    tap_str(o.config_file, "/tmp/rc", WHAT("%s ACCOUNT -C FILE: options after it parsed", opt));
    snprintf(what2, sizeof what2, "%s takes at most one account name", opt);
    rc = parse(&o, &r, "smtpfwd", opt, "a", "b", NULL);
    expect_usage(rc, &r, what2, true, WHAT("%s a b", opt));
    rc = parse(&o, &r, "smtpfwd", opt, "a", "-v", "b", NULL);
    expect_usage(rc, &r, what2, true, WHAT("%s a -v b", opt));
    rc = parse(&o, &r, "smtpfwd", eq_a, "b", NULL);
    expect_usage(rc, &r, what2, true, WHAT("%s=a b", opt));
    rc = parse(&o, &r, "smtpfwd", opt, "a", "--", "-v", NULL);
    expect_usage(rc, &r, what2, true, WHAT("%s a -- -v", opt));
    snprintf(what2, sizeof what2, "option %s needs an argument", opt);
    rc = parse(&o, &r, "smtpfwd", eq, NULL);
    expect_usage(rc, &r, what2, true, eq);
#undef WHAT
}

static void test_modes(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    rc = parse(&o, &r, "smtpfwd", "-bm", "a@x", NULL);
    expect_ok(rc, &r, "-bm");
    tap_int(o.mode, MODE_SEND, "-bm: send");
    rc = parse(&o, &r, "smtpfwd", "-bp", NULL);
    expect_ok(rc, &r, "-bp");
    tap_int(o.mode, MODE_LIST_QUEUE, "-bp: list queue");
    rc = parse(&o, &r, "smtpfwd", "-bi", NULL);
    expect_ok(rc, &r, "-bi");
    tap_int(o.mode, MODE_NEWALIASES, "-bi: newaliases");
    rc = parse(&o, &r, "smtpfwd", "-I", NULL);
    expect_ok(rc, &r, "-I");
    tap_int(o.mode, MODE_NEWALIASES, "-I: newaliases");
    rc = parse(&o, &r, "smtpfwd", "-bs", NULL);
    expect_ok(rc, &r, "-bs");
    tap_int(o.mode, MODE_SMTP_STDIN, "-bs: smtp on stdin");

    rc = parse(&o, &r, "smtpfwd", "-bd", NULL);
    expect_usage(rc, &r, "mode -bd is not supported", true, "-bd");
    rc = parse(&o, &r, "smtpfwd", "-bD", NULL);
    expect_usage(rc, &r, "mode -bD is not supported", true, "-bD");
    rc = parse(&o, &r, "smtpfwd", "-bt", NULL);
    expect_usage(rc, &r, "mode -bt is not supported", true, "-bt");
    rc = parse(&o, &r, "smtpfwd", "-bv", "a@x", NULL);
    expect_usage(rc, &r, "mode -bv is not supported", true, "-bv");
    rc = parse(&o, &r, "smtpfwd", "-b", NULL);
    expect_usage(rc, &r, "option -b needs a mode letter", false, "-b alone");
    rc = parse(&o, &r, "smtpfwd", "-bpx", NULL);
    expect_usage(rc, &r, "unknown option \"-bpx\"; see smtpfwd --help", true, "-bpx");
    rc = parse(&o, &r, "smtpfwd", "-b1", NULL);
    expect_usage(rc, &r, "unknown option \"-b1\"; see smtpfwd --help", true, "-b1");

    /* -q */
    rc = parse(&o, &r, "smtpfwd", "-q", NULL);
    expect_ok(rc, &r, "-q");
    tap_int(o.mode, MODE_FLUSH, "-q: flush");
    tap_ok(!o.flush_force, "-q: not forced");
    rc = parse(&o, &r, "smtpfwd", "-q30m", NULL);
    expect_ok(rc, &r, "-q30m");
    tap_int(o.mode, MODE_FLUSH, "-q30m: flush, interval ignored");
    rc = parse(&o, &r, "smtpfwd", "-q1h30m", NULL);
    expect_ok(rc, &r, "-q1h30m");
    rc = parse(&o, &r, "smtpfwd", "-qf", NULL);
    expect_ok(rc, &r, "-qf");
    tap_int(o.mode, MODE_FLUSH, "-qf: flush");
    tap_ok(o.flush_force, "-qf: forced");
    rc = parse(&o, &r, "smtpfwd", "-qRexample.org", NULL);
    expect_usage(rc, &r, "unknown option \"-qRexample.org\"", false, "-qR");
    rc = parse(&o, &r, "smtpfwd", "-qm30", NULL);
    expect_usage(rc, &r, "unknown option \"-qm30\"", false, "-qm30");
    rc = parse(&o, &r, "smtpfwd", "--flush", NULL);
    expect_ok(rc, &r, "--flush");
    tap_int(o.mode, MODE_FLUSH, "--flush: flush");
    tap_ok(!o.flush_force, "--flush: not forced");
    rc = parse(&o, &r, "smtpfwd", "--flush", "--force", NULL);
    expect_ok(rc, &r, "--flush --force");
    tap_ok(o.flush_force, "--flush --force: forced");
    rc = parse(&o, &r, "smtpfwd", "--force", "-q", NULL);
    expect_ok(rc, &r, "--force -q (order free)");
    tap_ok(o.flush_force, "--force -q: forced");
    rc = parse(&o, &r, "smtpfwd", "--force", "a@x", NULL);
    expect_usage(rc, &r, "option --force can only be used with --flush", true, "--force alone");
    rc = parse(&o, &r, "smtpfwd", "-q", "a@x", NULL);
    expect_usage(rc, &r, "-q takes no recipients", false, "-q with recipient");
    rc = parse(&o, &r, "smtpfwd", "-bp", "a@x", NULL);
    expect_usage(rc, &r, "-bp takes no recipients (found \"a@x\")", true, "-bp with recipient");

    /* serverinfo, pretend */
    rc = parse(&o, &r, "smtpfwd", "-S", NULL);
    expect_ok(rc, &r, "-S");
    tap_int(o.mode, MODE_SERVERINFO, "-S: serverinfo");
    rc = parse(&o, &r, "smtpfwd", "--serverinfo", "-a", "work", NULL);
    expect_ok(rc, &r, "--serverinfo -a");
    tap_int(o.mode, MODE_SERVERINFO, "--serverinfo");
    tap_str(o.account, "work", "--serverinfo: account");
    rc = parse(&o, &r, "smtpfwd", "-S", "a@x", NULL);
    expect_usage(rc, &r, "-S takes no recipients", false, "-S with recipient");
    rc = parse(&o, &r, "smtpfwd", "-P", NULL);
    expect_ok(rc, &r, "-P");
    tap_int(o.mode, MODE_PRETEND, "-P: pretend");
    rc = parse(&o, &r, "smtpfwd", "--pretend", "-f", "me@x", "a@x", NULL);
    expect_ok(rc, &r, "--pretend with recipients");
    tap_int(o.mode, MODE_PRETEND, "--pretend");
    tap_int(o.nrecipients, 1, "--pretend keeps recipients");

    /* help, version */
    rc = parse(&o, &r, "smtpfwd", "--help", NULL);
    expect_ok(rc, &r, "--help");
    tap_int(o.mode, MODE_HELP, "--help: help");
    rc = parse(&o, &r, "smtpfwd", "--version", NULL);
    expect_ok(rc, &r, "--version");
    tap_int(o.mode, MODE_VERSION, "--version: version");
    rc = parse(&o, &r, "smtpfwd", "-bp", "--help", NULL);
    expect_ok(rc, &r, "-bp --help");
    tap_int(o.mode, MODE_HELP, "--help wins over -bp");
    rc = parse(&o, &r, "smtpfwd", "--version", "-q", "--help", NULL);
    expect_ok(rc, &r, "--version --help");
    tap_int(o.mode, MODE_HELP, "--help wins over --version");
    rc = parse(&o, &r, "smtpfwd", "--help", "-x", NULL);
    expect_usage(rc, &r, "unknown option \"-x\"", false, "--help -x still reports -x");
    rc = parse(&o, &r, "smtpfwd", "--help=yes", NULL);
    expect_usage(rc, &r, "option --help takes no argument", true, "--help=yes");
    rc = parse(&o, &r, "smtpfwd", "--flush=now", NULL);
    expect_usage(rc, &r, "option --flush takes no argument", true, "--flush=now");

    /* store/forget password, authorize: the account argument */
    test_account_mode("--store-password", MODE_STORE_PASSWORD);
    test_account_mode("--forget-password", MODE_FORGET_PASSWORD);
    test_account_mode("--authorize", MODE_AUTHORIZE);
    rc = parse(&o, &r, "smtpfwd", "--store-password", "--forget-password", NULL);
    expect_usage(rc, &r, "options --store-password and --forget-password cannot be used together",
                 true, "store and forget");

    /* conflicting modes */
    rc = parse(&o, &r, "smtpfwd", "-bp", "-q", NULL);
    expect_usage(rc, &r, "options -bp and -q cannot be used together", true, "-bp -q");
    rc = parse(&o, &r, "smtpfwd", "-bm", "-bs", NULL);
    expect_usage(rc, &r, "options -bm and -bs cannot be used together", true, "-bm -bs");
    rc = parse(&o, &r, "smtpfwd", "-P", "-S", NULL);
    expect_usage(rc, &r, "options -P and -S cannot be used together", true, "-P -S");
    rc = parse(&o, &r, "smtpfwd", "-q", "--flush", "-qf", NULL);
    expect_ok(rc, &r, "-q --flush -qf: same mode");
    tap_ok(o.flush_force, "-q --flush -qf: forced");
    rc = parse(&o, &r, "smtpfwd", "-bp", "-bp", NULL);
    expect_ok(rc, &r, "-bp twice");
}

/* --authorize [ACCOUNT], --device, --authorize-timeout */
static void test_authorize(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    rc = parse(&o, &r, "smtpfwd", "--authorize", NULL);
    expect_ok(rc, &r, "--authorize");
    tap_int(o.mode, MODE_AUTHORIZE, "--authorize: mode");
    tap_ok(o.mode_arg == NULL && o.account == NULL, "--authorize: the default account");
    tap_ok(!o.device, "--authorize: not the device flow");
    tap_int(o.authorize_timeout, 0, "--authorize: the default timeout");
    rc = parse(&o, &r, "smtpfwd", "-a", "work", "--authorize", NULL);
    expect_ok(rc, &r, "-a ACCOUNT --authorize");
    tap_str(o.account, "work", "-a ACCOUNT --authorize: account from -a");
    tap_ok(o.mode_arg == NULL, "-a ACCOUNT --authorize: no argument");
    rc = parse(&o, &r, "smtpfwd", "--authorize=ms", "--device", "--authorize-timeout=600",
               "-C", "/tmp/rc", NULL);
    expect_ok(rc, &r, "--authorize=ACCOUNT --device --authorize-timeout=600");
    tap_str(o.mode_arg, "ms", "--authorize=ACCOUNT: account");
    tap_ok(o.device, "--device");
    tap_int(o.authorize_timeout, 600, "--authorize-timeout=600");
    tap_str(o.config_file, "/tmp/rc", "--authorize: -C after it parsed");
    rc = parse(&o, &r, "smtpfwd", "--device", "--authorize-timeout", "86400", "-a", "x",
               "--authorize", "x", NULL);
    expect_ok(rc, &r, "options before --authorize, timeout as the next word, same account");
    tap_int(o.authorize_timeout, 86400, "--authorize-timeout 86400 (a day)");
    tap_str(o.mode_arg, "x", "same account twice");

    rc = parse(&o, &r, "smtpfwd", "--authorize", "work", "--device", "-C", "/tmp/rc", NULL);
    expect_ok(rc, &r, "--authorize ACCOUNT --device -C FILE: options after the account");
    tap_str(o.mode_arg, "work", "--authorize ACCOUNT --device: account");
    tap_ok(o.device, "--authorize ACCOUNT --device: device");
    tap_str(o.config_file, "/tmp/rc", "--authorize ACCOUNT -C FILE: file");
    rc = parse(&o, &r, "smtpfwd", "--authorize", "a", "--device", "b", NULL);
    expect_usage(rc, &r, "--authorize takes at most one account name", true,
                 "--authorize a --device b");
    rc = parse(&o, &r, "smtpfwd", "work", "--authorize", NULL);
    expect_ok(rc, &r, "ACCOUNT --authorize");
    tap_int(o.mode, MODE_SEND, "ACCOUNT --authorize: options end at the first recipient");
    tap_int(o.nrecipients, 2, "ACCOUNT --authorize: two recipients");
    /* usage errors: argv after "smtpfwd", the message, the test's name */
    static const struct {
        const char *argv[5];
        const char *msg;
        const char *what;
    } bad[] = {
        { { "-a", "home", "--authorize", "work" },
          "--authorize work and -a home name two different accounts; name one",
          "-a and --authorize disagree" },
        { { "--device" }, "option --device can only be used with --authorize", "--device alone" },
        { { "--device", "a@example.org" }, "option --device can only be used with --authorize",
          "--device when sending" },
        { { "--authorize-timeout=60", "-q" },
          "option --authorize-timeout can only be used with --authorize",
          "--authorize-timeout with --flush" },
        { { "--authorize", "--device=yes" }, "option --device takes no argument", "--device=yes" },
        { { "--authorize", "--authorize-timeout" },
          "option --authorize-timeout needs an argument", "--authorize-timeout without a value" },
        { { "--authorize", "-bp" }, "options --authorize and -bp cannot be used together",
          "--authorize -bp" },
        { { "--authorize", "--store-password" },
          "options --authorize and --store-password cannot be used together",
          "--authorize --store-password" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *const *a = bad[k].argv;
        rc = parse(&o, &r, "smtpfwd", a[0], a[1], a[2], a[3], a[4], NULL);
        expect_usage(rc, &r, bad[k].msg, true, bad[k].what);
    }
    static const char *const bad_timeout[] = { "0", "", "-5", "5s", "86401",
                                               "99999999999999999999", " 5", "0x10" };
    for (size_t k = 0; k < sizeof bad_timeout / sizeof bad_timeout[0]; k++) {
        char arg[64], msg[128], what[96];
        snprintf(arg, sizeof arg, "--authorize-timeout=%s", bad_timeout[k]);
        snprintf(msg, sizeof msg, "option --authorize-timeout needs a number of seconds from 1 "
                 "to 86400, not \"%s\"", bad_timeout[k]);
        snprintf(what, sizeof what, "--authorize-timeout=\"%s\"", bad_timeout[k]);
        rc = parse(&o, &r, "smtpfwd", "--authorize", arg, NULL);
        expect_usage(rc, &r, msg, true, what);
    }
    rc = parse(&o, &r, "smtpfwd", "--authorize", "--help", NULL);
    expect_ok(rc, &r, "--authorize --help");
    tap_int(o.mode, MODE_HELP, "--help wins over --authorize");
}

static void test_argv0(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    rc = parse(&o, &r, "/usr/bin/mailq", NULL);
    expect_ok(rc, &r, "mailq");
    tap_int(o.mode, MODE_LIST_QUEUE, "mailq: list queue");
    tap_str(o.progname, "mailq", "mailq: progname");
    rc = parse(&o, &r, "mailq", "-v", NULL);
    expect_ok(rc, &r, "mailq -v");
    tap_int(o.mode, MODE_LIST_QUEUE, "mailq -v: list queue");
    rc = parse(&o, &r, "mailq", "a@x", NULL);
    expect_usage(rc, &r, "mailq takes no recipients", false, "mailq with recipient");
    rc = parse(&o, &r, "mailq", "-q", NULL);
    expect_ok(rc, &r, "mailq -q: an explicit mode wins over the name");
    tap_int(o.mode, MODE_FLUSH, "mailq -q: flush");
    rc = parse(&o, &r, "newaliases", NULL);
    expect_ok(rc, &r, "newaliases");
    tap_int(o.mode, MODE_NEWALIASES, "newaliases: mode");
    rc = parse(&o, &r, "/usr/bin/newaliases", NULL);
    expect_ok(rc, &r, "/usr/bin/newaliases");
    tap_int(o.mode, MODE_NEWALIASES, "/usr/bin/newaliases: mode");
    rc = parse(&o, &r, "/usr/lib/mailq/sendmail", "a@x", NULL);
    expect_ok(rc, &r, "directory named mailq");
    tap_int(o.mode, MODE_SEND, "only the basename counts");
    tap_str(o.progname, "sendmail", "basename of a path");
    rc = parse(&o, &r, "xmailq", "a@x", NULL);
    expect_ok(rc, &r, "xmailq");
    tap_int(o.mode, MODE_SEND, "xmailq is not mailq");
    rc = parse(&o, &r, "/usr/bin/", "a@x", NULL);
    expect_ok(rc, &r, "argv[0] ending in /");
    tap_str(o.progname, "smtpfwd", "argv[0] ending in /: default name");

    /* argc == 0 */
    char *empty[] = { NULL };
    rc = cli_parse(0, empty, &o, &r);
    tap_int(rc, -1, "argc 0: no recipients is an error");
    tap_str(o.progname, "smtpfwd", "argc 0: progname");
    tap_int(o.nrecipients, 0, "argc 0: no recipients");
    result_clear(&r);
}

static void test_recipients_and_errors(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    /* sendmail stops at the first non-option */
    rc = parse(&o, &r, "smtpfwd", "a@x", "-v", "-t", NULL);
    expect_ok(rc, &r, "options after a recipient");
    tap_int(o.nrecipients, 3, "options after a recipient are recipients");
    tap_str(o.recipients[1], "-v", "\"-v\" after a recipient is a recipient");
    tap_int(o.verbose, 0, "-v after a recipient not parsed");
    tap_ok(!o.read_recipients, "-t after a recipient not parsed");

    /* -- handling */
    rc = parse(&o, &r, "smtpfwd", "-i", "--", "-v", "--", NULL);
    expect_ok(rc, &r, "-- then option-like words");
    tap_int(o.nrecipients, 2, "-- -v --: two recipients");
    tap_str(o.recipients[0], "-v", "-- -v: \"-v\" recipient");
    tap_str(o.recipients[1], "--", "-- --: second \"--\" recipient");
    tap_int(o.verbose, 0, "-- -v: not verbose");
    rc = parse(&o, &r, "smtpfwd", "-t", "--", NULL);
    expect_ok(rc, &r, "-t -- with nothing after");
    tap_int(o.nrecipients, 0, "-t --: no recipients");
    rc = parse(&o, &r, "smtpfwd", "--", NULL);
    expect_usage(rc, &r, "no recipients given", false, "-- alone");
    rc = parse(&o, &r, "smtpfwd", "-", NULL);
    expect_ok(rc, &r, "\"-\" is a recipient");
    tap_str(o.recipients[0], "-", "\"-\" stored");

    /* recipients with spaces, commas, groups, odd bytes stay intact */
    rc = parse(&o, &r, "smtpfwd", "--", "\"Doe, John\" <j@x>, b@y", "undisclosed: a@x, b@y;",
               "", "a@x\r\nRCPT TO:<evil@z>", NULL);
    expect_ok(rc, &r, "odd recipients");
    tap_int(o.nrecipients, 4, "odd recipients: count");
    tap_str(o.recipients[0], "\"Doe, John\" <j@x>, b@y", "quoted comma kept");
    tap_str(o.recipients[1], "undisclosed: a@x, b@y;", "group kept");
    tap_str(o.recipients[2], "", "empty recipient kept for envelope.c to refuse");
    tap_str(o.recipients[3], "a@x\r\nRCPT TO:<evil@z>", "CRLF kept for envelope.c to refuse");

    /* no recipients */
    rc = parse(&o, &r, "smtpfwd", NULL);
    expect_usage(rc, &r, "no recipients given", false, "no arguments");
    rc = parse(&o, &r, "smtpfwd", "-i", "-f", "a@x", NULL);
    expect_usage(rc, &r, "no recipients given", false, "-i -f without recipients");
    rc = parse(&o, &r, "smtpfwd", "-t", "a@x", NULL);
    expect_ok(rc, &r, "-t plus command-line recipient");
    tap_ok(o.read_recipients && o.nrecipients == 1, "-t adds to the command line");

    /* unknown options */
    rc = parse(&o, &r, "smtpfwd", "-x", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-x\"; see smtpfwd --help", true, "-x");
    rc = parse(&o, &r, "smtpfwd", "-ix", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-x\" in \"-ix\"; see smtpfwd --help", true, "-ix");
    rc = parse(&o, &r, "smtpfwd", "-tbp", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-b\" in \"-tbp\"", false, "-b not bundled");
    rc = parse(&o, &r, "smtpfwd", "-toi", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-o\" in \"-toi\"", false, "-o not bundled");
    rc = parse(&o, &r, "smtpfwd", "--bogus", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"--bogus\"; see smtpfwd --help", true, "--bogus");
    rc = parse(&o, &r, "smtpfwd", "--bogus=1", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"--bogus\"; see smtpfwd --help", true, "--bogus=1");
    rc = parse(&o, &r, "smtpfwd", "--acc=x", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"--acc\"", false, "no abbreviations");
    rc = parse(&o, &r, "smtpfwd", "--HELP", NULL);
    expect_usage(rc, &r, "unknown option \"--HELP\"", false, "long options are case-sensitive");
    rc = parse(&o, &r, "smtpfwd", "---", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"---\"", false, "---");
    rc = parse(&o, &r, "smtpfwd", "-\x01", "a@x", NULL);
    expect_usage(rc, &r, "unknown option", false, "control byte option");
    rc = parse(&o, &r, "smtpfwd", "-e", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-e\"", false, "-e");
    rc = parse(&o, &r, "smtpfwd", "-d0.1", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-0\" in \"-d0.1\"", false, "sendmail -dX.Y");
    rc = parse(&o, &r, "smtpfwd", "-Gx", "a@x", NULL);
    expect_usage(rc, &r, "unknown option \"-x\" in \"-Gx\"", false, "-Gx");

    /* a long hostile option word is reported without harm */
    {
        size_t n = 100000;
        char *big = malloc(n + 1);
        memset(big, 'z', n);
        big[0] = '-';
        big[1] = 'x';
        big[n] = '\0';
        rc = parse(&o, &r, "smtpfwd", big, NULL);
        tap_int(rc, -1, "huge option: fails");
        tap_ok(r.msg != NULL && strlen(r.msg) > n, "huge option: named in full");
        result_clear(&r);
        big[1] = 'f';
        rc = parse(&o, &r, "smtpfwd", big, "a@x", NULL);
        expect_ok(rc, &r, "huge -f attached");
        tap_ok(o.from == big + 2, "huge -f: points into argv");
        free(big);
    }

    /* a NULL before argc ends the list */
    {
        char *v[] = { "smtpfwd", "a@x", NULL, "b@y", NULL };
        rc = cli_parse(4, v, &o, &r);
        expect_ok(rc, &r, "NULL inside argc");
        tap_int(o.nrecipients, 1, "NULL inside argc: recipients end there");
    }

    /* an error after a good parse leaves a usable state */
    rc = parse(&o, &r, "smtpfwd", "-f", "a@x", "-x", NULL);
    tap_int(rc, -1, "error after -f");
    tap_int(r.cls, RC_USAGE, "error after -f: usage");
    result_clear(&r);
}

/* Run fn with stdout captured; returns the text (caller frees). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/test-cli-XXXXXX";
    int fd = mkstemp(path);
    int saved;
    char *text;
    long len;
    FILE *f;

    if (fd < 0)
        return NULL;
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    fn();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    f = fopen(path, "rb");
    unlink(path);
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = malloc((size_t)len + 1);
    if (fread(text, 1, (size_t)len, f) != (size_t)len)
        len = 0;
    text[len] = '\0';
    fclose(f);
    return text;
}

/* Expect setting i of o to be command = value, given as option. */
static void expect_setting(const struct options *o, size_t i, const char *command,
                           const char *value, const char *option, const char *what)
{
    char name[256];
    snprintf(name, sizeof name, "%s: setting present", what);
    tap_ok(i < o->nsettings, name);
    if (i >= o->nsettings)
        return;
    snprintf(name, sizeof name, "%s: command", what);
    tap_str(o->settings[i].command, command, name);
    snprintf(name, sizeof name, "%s: value", what);
    tap_str(o->settings[i].value, value, name);
    snprintf(name, sizeof name, "%s: option", what);
    tap_str(o->settings[i].option, option, name);
}

/* msmtp's command lines: its long options become settings in order,
 * bundled flags, -d, -X, -N off, -R off/headers, ignored -m -n -A. */
static void test_msmtp_options(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    int rc;

    rc = parse(&o, &r, "msmtp", "--host=smtp.example.org", "--port", "2525",
               "--tls-starttls=off", "--tls", "--auth", "--user=", "--passwordeval=pass x",
               "--from=a@example.org", "rcpt@example.org", NULL);
    expect_ok(rc, &r, "msmtp --host line");
    tap_ok(o.host_only, "--host: no configuration file");
    tap_int((int)o.nsettings, 7, "seven settings");
    expect_setting(&o, 0, "host", "smtp.example.org", "--host", "--host=");
    expect_setting(&o, 1, "port", "2525", "--port", "--port VALUE (next word)");
    expect_setting(&o, 2, "tls_starttls", "off", "--tls-starttls", "--tls-starttls=off");
    expect_setting(&o, 3, "tls", "on", "--tls", "--tls without value is on");
    expect_setting(&o, 4, "auth", "on", "--auth", "--auth without value is on");
    expect_setting(&o, 5, "user", "", "--user", "--user= (empty: unset)");
    expect_setting(&o, 6, "passwordeval", "pass x", "--passwordeval", "--passwordeval=");
    tap_str(o.from, "a@example.org", "--from still the sender");
    tap_int(o.nrecipients, 1, "one recipient");

    rc = parse(&o, &r, "msmtp", "-a", "work", "--set-from-header", "--set-date-header=off",
               "--set-msgid-header", "--remove-bcc-headers=off", "--undisclosed-recipients",
               "--syslog", "--tls-certcheck=off", "--keepbcc", "--auto-from",
               "--connect-timeout=5", "--tls-force-sslv3", "x@y", NULL);
    expect_ok(rc, &r, "optional values");
    tap_ok(!o.host_only, "no --host: configuration file used");
    {
        /* command, value, option: a value-less option means its "bare" value */
        static const char *const want[][3] = {
            { "set_from_header", "auto", "--set-from-header" },
            { "set_date_header", "off", "--set-date-header" },
            { "set_msgid_header", "auto", "--set-msgid-header" },
            { "remove_bcc_headers", "off", "--remove-bcc-headers" },
            { "undisclosed_recipients", "on", "--undisclosed-recipients" },
            { "syslog", "on", "--syslog" },
            { "tls_certcheck", "off", "--tls-certcheck" },
            { "keepbcc", "on", "--keepbcc" },
            { "auto_from", "on", "--auto-from" },
            { "connect_timeout", "5", "--connect-timeout" },
            { "tls_force_sslv3", "on", "--tls-force-sslv3" },
        };
        tap_int((int)o.nsettings, (int)(sizeof want / sizeof want[0]), "optional values: count");
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
            expect_setting(&o, k, want[k][0], want[k][1], want[k][2], want[k][2]);
    }

    {
        /* every msmtp option that needs a value, in both forms */
        static const char *const with_value[][2] = {
            { "--host", "host" }, { "--port", "port" }, { "--source-ip", "source_ip" },
            { "--proxy-host", "proxy_host" }, { "--proxy-port", "proxy_port" },
            { "--proxy-user", "proxy_user" }, { "--socket", "socket" }, { "--timeout", "timeout" }, { "--protocol", "protocol" },
            { "--domain", "domain" }, { "--user", "user" }, { "--passwordeval", "passwordeval" },
            { "--tls-trust-file", "tls_trust_file" }, { "--tls-crl-file", "tls_crl_file" },
            { "--tls-fingerprint", "tls_fingerprint" }, { "--tls-key-file", "tls_key_file" },
            { "--tls-cert-file", "tls_cert_file" }, { "--tls-priorities", "tls_priorities" },
            { "--tls-host-override", "tls_host_override" },
            { "--tls-min-dh-prime-bits", "tls_min_dh_prime_bits" },
            { "--maildomain", "maildomain" }, { "--logfile", "logfile" },
            { "--logfile-time-format", "logfile_time_format" }, { "--aliases", "aliases" },
            { "--dsn-notify", "dsn_notify" }, { "--dsn-return", "dsn_return" },
        };
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            char eq[64], what[96];
            snprintf(eq, sizeof eq, "%s=full", with_value[k][0]);
            rc = parse(&o, &r, "msmtp", eq, "x@y", NULL);
            snprintf(what, sizeof what, "%s=VALUE", with_value[k][0]);
            expect_ok(rc, &r, what);
            expect_setting(&o, 0, with_value[k][1], "full", with_value[k][0], what);
            rc = parse(&o, &r, "msmtp", with_value[k][0], "full", "x@y", NULL);
            snprintf(what, sizeof what, "%s VALUE", with_value[k][0]);
            expect_ok(rc, &r, what);
            expect_setting(&o, 0, with_value[k][1], "full", with_value[k][0], what);
            tap_int(o.nrecipients, 1, what);
            rc = parse(&o, &r, "msmtp", "-t", with_value[k][0], NULL);
            snprintf(what, sizeof what, "%s without a value", with_value[k][0]);
            expect_usage(rc, &r, "needs an argument", false, what);
        }
    }

    /* -d, --debug; -X FILE; -N off; -R off/headers/hdrs; ignored letters */
    rc = parse(&o, &r, "msmtp", "-d", "x@y", NULL);
    expect_ok(rc, &r, "-d");
    tap_int(o.verbose, 2, "-d is verbose level 2");
    rc = parse(&o, &r, "msmtp", "--debug", "-v", "x@y", NULL);
    expect_ok(rc, &r, "--debug -v");
    tap_int(o.verbose, 3, "--debug -v adds up");
    rc = parse(&o, &r, "msmtp", "-X", "/tmp/log", "-X/tmp/log2", "x@y", NULL);
    expect_ok(rc, &r, "-X FILE");
    expect_setting(&o, 0, "logfile", "/tmp/log", "-X", "-X FILE sets the logfile");
    expect_setting(&o, 1, "logfile", "/tmp/log2", "-X", "-XFILE sets the logfile");
    rc = parse(&o, &r, "msmtp", "-N", "off", "-R", "off", "x@y", NULL);
    expect_ok(rc, &r, "-N off -R off");
    tap_str(o.dsn_notify, NULL, "-N off: no NOTIFY option");
    tap_str(o.dsn_return, NULL, "-R off: no RET option");
    expect_setting(&o, 0, "dsn_notify", "off", "-N", "-N off overrides the account");
    expect_setting(&o, 1, "dsn_return", "off", "-R", "-R off overrides the account");
    rc = parse(&o, &r, "msmtp", "-R", "headers", "--dsn-return=hdrs", "x@y", NULL);
    expect_ok(rc, &r, "-R headers");
    tap_str(o.dsn_return, "hdrs", "the last -R wins");
    expect_setting(&o, 0, "dsn_return", "headers", "-R", "-R headers");
    expect_setting(&o, 1, "dsn_return", "headers", "--dsn-return", "--dsn-return=hdrs");
    rc = parse(&o, &r, "msmtp", "--dsn-return=tail", "x@y", NULL);
    expect_usage(rc, &r, "option --dsn-return needs full, hdrs, headers or off, not \"tail\"",
                 true, "--dsn-return=tail");
    rc = parse(&o, &r, "msmtp", "-m", "-n", "-A", "c", "-Am", "-B", "BINARYMIME", "x@y", NULL);
    expect_ok(rc, &r, "-m -n -A c -Am -B BINARYMIME");
    tap_int(o.nrecipients, 1, "ignored options take their arguments");
    tap_str(o.recipients[0], "x@y", "recipient after ignored options");
    rc = parse(&o, &r, "msmtp", "--read-envelope-from", "-t", NULL);
    expect_ok(rc, &r, "--read-envelope-from");
    tap_ok(o.read_envelope_from, "--read-envelope-from recorded");

    /* bundled single-letter flags (sendmail, Postfix and msmtp accept them) */
    rc = parse(&o, &r, "sendmail", "-ti", NULL);
    expect_ok(rc, &r, "-ti");
    tap_ok(o.read_recipients && o.ignore_dots, "-ti is -t -i");
    rc = parse(&o, &r, "sendmail", "-it", NULL);
    expect_ok(rc, &r, "-it");
    tap_ok(o.read_recipients && o.ignore_dots, "-it is -i -t");
    rc = parse(&o, &r, "sendmail", "-tv", "-vv", NULL);
    expect_ok(rc, &r, "-tv -vv");
    tap_int(o.verbose, 3, "-tv -vv: verbose 3");
    rc = parse(&o, &r, "sendmail", "-tif", "me@x", "a@y", NULL);
    expect_ok(rc, &r, "-tif ADDR");
    tap_str(o.from, "me@x", "-tif ADDR: sender from the next word");
    tap_int(o.nrecipients, 1, "-tif ADDR: one recipient");
    rc = parse(&o, &r, "sendmail", "-tfme@x", NULL);
    expect_ok(rc, &r, "-tfADDR");
    tap_ok(o.from == args[1] + 3, "-tfADDR: sender points into argv");
    rc = parse(&o, &r, "sendmail", "-tX/tmp/l", NULL);
    expect_ok(rc, &r, "-tXFILE");
    expect_setting(&o, 0, "logfile", "/tmp/l", "-X", "-tXFILE");
    rc = parse(&o, &r, "sendmail", "-iP", "x@y", NULL);
    expect_ok(rc, &r, "-iP");
    tap_int(o.mode, MODE_PRETEND, "-iP: pretend mode");
    rc = parse(&o, &r, "sendmail", "-tf", NULL);
    expect_usage(rc, &r, "option -f needs an argument", true, "-tf at the end");

    /* --host and --account exclude each other, as in msmtp */
    rc = parse(&o, &r, "msmtp", "--host=h", "-a", "work", "x@y", NULL);
    expect_usage(rc, &r, "options --host and --account cannot be used together", false,
                 "--host with -a");
    /* options still end at the first recipient */
    rc = parse(&o, &r, "msmtp", "x@y", "--port=1", NULL);
    expect_ok(rc, &r, "option after a recipient");
    tap_int((int)o.nsettings, 0, "--port after a recipient is a recipient");
    tap_int(o.nrecipients, 2, "two recipients");
    /* --tls takes its value only after '=' (getopt optional argument) */
    rc = parse(&o, &r, "msmtp", "--tls", "off", NULL);
    expect_ok(rc, &r, "--tls off");
    expect_setting(&o, 0, "tls", "on", "--tls", "--tls then a recipient");
    tap_str(o.recipients[0], "off", "\"off\" is a recipient");
    {
        /* more settings than fit */
        char *many[CLI_MAX_SETTINGS + 3];
        many[0] = "msmtp";
        for (int k = 1; k <= CLI_MAX_SETTINGS + 1; k++)
            many[k] = "--tls";
        many[CLI_MAX_SETTINGS + 2] = NULL;
        result_clear(&r);
        rc = cli_parse(CLI_MAX_SETTINGS + 2, many, &o, &r);
        expect_usage(rc, &r, "too many configuration options on the command line", false,
                     "settings limit");
    }
}

static void test_help_version(void)
{
    char *help = capture(cli_print_help);
    char *version = capture(cli_print_version);
    static const char *const must[] = {
        "Usage: smtpfwd", "mailq", "newaliases", "Sendmail options:", "smtpfwd options:",
        "-t ", "-i, -oi", "-f ADDR", "-r ADDR", "-F NAME", "-N ", "-R full|hdrs", "-V ENVID",
        "-B 7BIT|8BITMIME", "-C FILE", "-bm", "-bp", "-bs", "-bi, -I", "-q[INTERVAL]", "-qf",
        "-odq", "-odi", "-odb", "-oem", "-oee", "-oep", "-oeq", "-v ", "-o X", "-O X", "-L X",
        "-h N", "-X FILE", "-G", "-U", "--  ", "--account=NAME", "-a,", "--file=FILE",
        "--from=ADDR", "--read-recipients", "--verbose", "--pretend", "-P,", "--flush", "-q,",
        "--force", "--serverinfo", "-S,", "--store-password", "--forget-password", "--help",
        "--version", "~/.smtprc", "/smtprc", "Exit status", " 64 ", " 75 ", " 78 ",
        "-d, --debug", "--read-envelope-from", "-X FILE", "-ti is -t -i", "msmtp options:",
        "--host=HOST", "--port=N", "--source-ip=", "--proxy-host=", "--proxy-port=",
        "--proxy-user=",
        "--socket=", "--timeout=", "--connect-timeout=", "--protocol=", "--domain=", "--auth[=",
        "--user=", "--passwordeval=", "--tls[=", "--tls-starttls[=", "--tls-trust-file=",
        "--tls-crl-file=", "--tls-fingerprint=", "--tls-key-file=", "--tls-cert-file=",
        "--tls-certcheck[=", "--tls-priorities=", "--tls-host-override=",
        "--tls-min-dh-prime-bits=", "--tls-force-sslv3[=", "--auto-from[=", "--maildomain=",
        "--keepbcc[=", "--dsn-notify=", "--dsn-return=", "--logfile=", "--logfile-time-format=",
        "--syslog[=", "--aliases=", "--set-from-header[=", "--set-date-header[=",
        "--set-msgid-header[=", "--remove-bcc-headers[=", "--undisclosed-recipients[=",
        "--authorize [ACCOUNT]", "--device ", "--authorize-timeout=SECONDS", "default 300",
    };

    tap_ok(help != NULL && version != NULL, "help and version captured");
    if (help == NULL || version == NULL) {
        free(help);
        free(version);
        return;
    }
    for (size_t k = 0; k < sizeof must / sizeof must[0]; k++) {
        char what[96];
        snprintf(what, sizeof what, "help mentions \"%s\"", must[k]);
        tap_ok(strstr(help, must[k]) != NULL, what);
    }
    tap_ok(strlen(help) > 0 && help[strlen(help) - 1] == '\n', "help ends with a newline");
    {
        /* Lines that show the configured SYSCONFDIR may be as long as
         * the installation path; every other line fits in 80 columns. */
        int longest = 0, cur = 0;
        const char *line = help;
        for (const char *s = help; *s; s++) {
            cur = *s == '\n' ? 0 : cur + 1;
            if (*s == '\n')
                line = s + 1;
            else if (cur > longest && !strstr_line(line, SYSCONFDIR))
                longest = cur;
        }
        tap_ok(longest <= 80, "help lines fit in 80 columns");
    }

    tap_ok(strncmp(version, "smtpfwd " VERSION "\n", strlen("smtpfwd " VERSION "\n")) == 0,
           "version: first line");
    tap_ok(strstr(version, "\nFeatures: TLS (GnuTLS ") != NULL, "version: TLS listed");
#if HAVE_LIBGSASL
    tap_ok(strstr(version, ", SASL (GNU SASL ") != NULL, "version: SASL listed");
#else
    tap_ok(strstr(version, "SASL") == NULL, "version: SASL not listed");
#endif
#if HAVE_LIBSECRET
    tap_ok(strstr(version, ", keyring (libsecret, " LIBSECRET_SONAME " ") != NULL,
           "version: keyring listed with its file name");
#else
    tap_ok(strstr(version, "keyring") == NULL, "version: keyring not listed");
#endif
#if HAVE_LIBIDN2
    tap_ok(strstr(version, ", IDN (libidn2 ") != NULL, "version: IDN listed");
#else
    tap_ok(strstr(version, "IDN") == NULL, "version: IDN not listed");
#endif
    tap_ok(strstr(version, "\nConfiguration: ") != NULL && strstr(version, "/smtprc, ~/.smtprc\n"),
           "version: configuration line");
    free(help);
    free(version);
}

int main(void)
{
    test_callers();
    test_option_forms();
    test_modes();
    test_argv0();
    test_authorize();
    test_recipients_and_errors();
    test_msmtp_options();
    test_help_version();
    return tap_done();
}
