/*
 * test-config.c - unit tests for smtprc.c: msmtprc syntax and quoting,
 * every command and its validation (each error message form), obsolete
 * spellings, eval, defaults and parent inheritance, the lookup order and
 * the permission check (temporary files), account selection, the
 * --pretend listing, and the aliases file. Prints TAP.
 */
#include <config.h>

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "smtprc.h"
#include "smtprc-parse.h"
#include "result.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static const char *tmpdir;

/* Parse text as file "t.rc"; returns the config (or NULL) and leaves the
 * error message in *msg (caller frees) when parsing failed. */
static struct config *parse(const char *text, char **msg)
{
    struct config *cfg = config_new();
    struct result r = RESULT_INIT;
    if (msg)
        *msg = NULL;
    if (config_parse_string(cfg, text, "t.rc", &r) != 0) {
        if (r.cls != RC_CONFIG)
            printf("# unexpected class %d\n", (int)r.cls);
        if (msg)
            *msg = xstrdup(r.msg ? r.msg : "");
        result_clear(&r);
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Expect text read by read (parse, or load_text below) to fail with
 * exactly want. */
static void expect_error_of(struct config *(*read)(const char *, char **), const char *text,
                            const char *want, const char *what)
{
    char *msg = NULL;
    struct config *cfg = read(text, &msg);
    tap_ok(cfg == NULL, what);
    tap_str(msg, want, what);
    config_free(cfg);
    free(msg);
}

/* Expect text to fail with exactly want. */
static void expect_error(const char *text, const char *want, const char *what)
{
    expect_error_of(parse, text, want, what);
}

/* Expect text to fail with a message starting with prefix. */
static void expect_error_prefix(const char *text, const char *prefix, const char *what)
{
    char *msg = NULL;
    struct config *cfg = parse(text, &msg);
    int ok = cfg == NULL && msg && strncmp(msg, prefix, strlen(prefix)) == 0;
    tap_ok(ok, what);
    if (!ok)
        printf("#   got: %s\n#   want prefix: %s\n", msg ? msg : "(success)", prefix);
    config_free(cfg);
    free(msg);
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
    return tu_write_file(tmpdir, name, text, mode);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    struct buf b = BUF_INIT;
    char tmp[4096];
    size_t n;
    if (!f)
        return NULL;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    return buf_steal(&b);
}

static void test_msmtp_examples(void)
{
    const char *dir = "/usr/share/doc/msmtp/examples/";
    char *up = xasprintf("%smsmtprc-user.example", dir);
    char *sp = xasprintf("%smsmtprc-system.example", dir);
    char *user = slurp(up), *sys = slurp(sp);
    free(up);
    free(sp);
    if (!user || !sys) {
        printf("# msmtp examples not installed; using an embedded copy\n");
        free(user);
        free(sys);
        user = xstrdup("defaults\nport 587\ntls on\ntls_starttls on\n"
                       "account freemail\nhost smtp.freemail.example\n"
                       "from joe_smith@freemail.example\nauth on\nuser joe.smith\n"
                       "passwordeval gpg2 --no-tty -q -d ~/.msmtp-password.gpg\n"
                       "account freemail2 : freemail\nfrom joey@freemail.example\n"
                       "account company\nhost mail.company.example\n"
                       "from smithjoe@company.example\nauth on\nuser company12345\n"
                       "account default : freemail\n");
        sys = xstrdup("account default\nhost mail.oursite.example\nport 465\ntls on\n"
                      "tls_starttls off\nfrom %U@oursite.example\nallow_from_override off\n"
                      "set_from_header on\nsyslog LOG_MAIL\n");
    }
    char *msg = NULL;
    struct config *cfg = parse(user, &msg);
    tap_ok(cfg != NULL, "msmtprc-user.example parses");
    if (msg)
        printf("# %s\n", msg);
    free(msg);
    if (cfg) {
        tap_int((long long)cfg->naccounts, 4, "user example: 4 accounts");
        const struct account *a = config_find(cfg, "freemail");
        tap_ok(a != NULL, "freemail exists");
        if (a) {
            tap_str(a->host, "smtp.freemail.example", "freemail host");
            tap_int(a->port, 587, "freemail port from defaults");
            tap_str(a->auth, "on", "freemail auth");
            tap_str(a->user, "joe.smith", "freemail user");
            tap_str(a->passwordeval, "gpg2 --no-tty -q -d ~/.msmtp-password.gpg",
                    "passwordeval kept verbatim (no ~ expansion)");
            tap_ok(a->tls && a->tls_starttls, "freemail tls + starttls");
        }
        a = config_find(cfg, "freemail2");
        if (a) {
            tap_str(a->host, "smtp.freemail.example", "freemail2 inherits host");
            tap_str(a->from, "joey@freemail.example", "freemail2 own from");
            tap_str(a->user, "joe.smith", "freemail2 inherits user");
        } else {
            tap_ok(0, "freemail2 exists");
        }
        a = config_find(cfg, "default");
        tap_ok(a && a->host && strcmp(a->host, "smtp.freemail.example") == 0,
               "account default : freemail copies freemail");
        a = config_find(cfg, "company");
        tap_ok(a && a->port == 587 && strcmp(a->host, "mail.company.example") == 0,
               "company from defaults and own lines");
        config_free(cfg);
    }
    cfg = parse(sys, &msg);
    tap_ok(cfg != NULL, "msmtprc-system.example parses");
    free(msg);
    if (cfg) {
        const struct account *a = config_find(cfg, "default");
        tap_ok(a != NULL, "system example: default exists");
        if (a) {
            tap_int(config_port(a), 465, "system example: port 465");
            tap_ok(a->tls && !a->tls_starttls, "system example: tls without starttls");
            tap_str(a->from, "%U@oursite.example", "system example: from pattern kept");
            tap_ok(!a->allow_from_override, "system example: allow_from_override off");
            tap_int(a->set_from_header, HDR_ON, "system example: set_from_header on");
            tap_str(a->syslog, "LOG_MAIL", "system example: syslog LOG_MAIL");
        }
        config_free(cfg);
    }
    free(user);
    free(sys);
}

static void test_defaults_in_code(void)
{
    struct config *cfg = parse("account a\nhost h\n", NULL);
    const struct account *a = cfg ? config_find(cfg, "a") : NULL;
    tap_ok(a != NULL, "minimal account parses");
    if (!a) {
        config_free(cfg);
        return;
    }
    tap_int(a->port, 0, "port unset");
    tap_int(config_port(a), 587, "default port 587 (tls + starttls)");
    tap_ok(a->tls && a->tls_starttls && a->tls_certcheck, "tls, starttls, certcheck default on");
    tap_ok(a->allow_from_override && a->remove_bcc_headers, "allow_from_override, remove_bcc on");
    tap_ok(!a->undisclosed_recipients, "undisclosed_recipients off");
    tap_int(a->set_from_header, HDR_AUTO, "set_from_header auto");
    tap_int(a->set_date_header, HDR_AUTO, "set_date_header auto");
    tap_int(a->set_msgid_header, HDR_AUTO, "set_msgid_header auto");
    tap_ok(a->auth == NULL || strcmp(a->auth, "off") == 0, "auth off by default");
    tap_int(a->queue, QUEUE_ON_FAILURE, "queue on-failure");
    tap_int(a->queue_lifetime, 5L * 86400, "queue_lifetime 5 days");
    tap_int(a->queue_max_backoff, 3600, "queue_max_backoff 1 hour");
    tap_ok(a->logfile_time_format == NULL && a->syslog == NULL, "no logging by default");
    tap_int(a->timeout, 0, "timeout 0");
    tap_ok(a->chunking, "chunking on by default");
    tap_ok(a->tls_session_cache, "tls_session_cache on by default");
    tap_int(a->line, 1, "line of definition");
    tap_str(a->file, "t.rc", "file of definition");
    config_free(cfg);

    cfg = parse("account a\nhost h\ntls_starttls off\naccount b\nhost h\ntls off\n"
                "account c\nhost h\nport 2525\n", NULL);
    tap_int(cfg ? config_port(config_find(cfg, "a")) : -1, 465, "port 465 without starttls");
    tap_int(cfg ? config_port(config_find(cfg, "b")) : -1, 25, "port 25 without tls");
    tap_int(cfg ? config_port(config_find(cfg, "c")) : -1, 2525, "explicit port");
    config_free(cfg);
}

static void test_errors(void)
{
    expect_error("account a\nport abc\n", "t.rc:2: invalid port \"abc\" (expected a number from 1 to 65535)",
                 "invalid port");
    expect_error_prefix("account a\nport 0\n", "t.rc:2: invalid port \"0\"", "port 0");
    expect_error_prefix("account a\nport 65536\n", "t.rc:2: invalid port \"65536\"", "port 65536");
    expect_error_prefix("account a\nport 99999999999999999999999\n", "t.rc:2: invalid port",
                        "port overflow");
    expect_error_prefix("account a\nport -5\n", "t.rc:2: invalid port", "negative port");
    expect_error_prefix("account a\nproxy_port 70000\n", "t.rc:2: invalid proxy_port",
                        "proxy_port range");
    expect_error("account a\nhots x\n", "t.rc:2: unknown command \"hots\"", "unknown command");
    expect_error("account a\nhost\n", "t.rc:2: command \"host\" needs an argument",
                 "host needs an argument");
    expect_error("account a\nhost \"\"\n", "t.rc:2: command \"host\" needs an argument",
                 "host \"\" needs an argument");
    expect_error("account\n", "t.rc:1: command \"account\" needs an argument",
                 "account needs a name");
    expect_error("account a\nhost h\naccount a\nhost z\n",
                 "t.rc:3: account \"a\" defined twice (first at line 1)", "defined twice");
    expect_error("account a : zz\nhost h\n", "t.rc:1: unknown parent account \"zz\"",
                 "unknown parent");
    expect_error("account a : a\n", "t.rc:1: unknown parent account \"a\"", "self parent");
    expect_error_prefix("account p\naccount a : p,\n", "t.rc:2: empty parent account name",
                        "empty parent");
    expect_error("account a\ntls maybe\n", "t.rc:2: invalid tls \"maybe\" (expected on or off)",
                 "bad boolean");
    expect_error_prefix("account a\ntls_starttls yes\n", "t.rc:2: invalid tls_starttls \"yes\"",
                        "bad boolean starttls");
    expect_error_prefix("account a\ntls_fingerprint ab\n", "t.rc:2: invalid tls_fingerprint \"ab\"",
                        "short fingerprint");
    expect_error_prefix("account a\ntls_fingerprint "
                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44\n",
                        "t.rc:2: invalid tls_fingerprint", "21-pair fingerprint");
    expect_error_prefix("account a\ntls_fingerprint "
                        "0g:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\n",
                        "t.rc:2: invalid tls_fingerprint", "non-hex fingerprint");
    expect_error_prefix("account a\ntls_fingerprint "
                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:\n",
                        "t.rc:2: invalid tls_fingerprint", "trailing colon fingerprint");
    expect_error_prefix("account a\nauth foo\n", "t.rc:2: invalid auth \"foo\" (expected one of: on off plain",
                        "bad auth");
    expect_error_prefix("account a\ndsn_notify never,success\n",
                        "t.rc:2: invalid dsn_notify \"never,success\"", "bad dsn_notify");
    expect_error_prefix("account a\ndsn_notify success,,delay\n", "t.rc:2: invalid dsn_notify",
                        "empty dsn_notify element");
    expect_error_prefix("account a\ndsn_notify success,success\n", "t.rc:2: invalid dsn_notify",
                        "duplicate dsn_notify element");
    expect_error("account a\ndsn_notify\n", "t.rc:2: command \"dsn_notify\" needs an argument",
                 "dsn_notify needs an argument");
    expect_error_prefix("account a\ndsn_return x\n", "t.rc:2: invalid dsn_return \"x\"",
                        "bad dsn_return");
    expect_error_prefix("account a\nprotocol esmtp\n", "t.rc:2: invalid protocol \"esmtp\"",
                        "bad protocol");
    expect_error_prefix("account a\ntimeout -1\n", "t.rc:2: invalid timeout \"-1\"", "bad timeout");
    expect_error_prefix("account a\ntimeout 0\n", "t.rc:2: invalid timeout \"0\"",
                        "timeout 0 (msmtp refuses)");
    expect_error_prefix("account a\ntimeout 10s\n", "t.rc:2: invalid timeout", "timeout with suffix");
    expect_error_prefix("account a\nsyslog LOG_FOO\n", "t.rc:2: invalid syslog \"LOG_FOO\"",
                        "bad syslog");
    expect_error_prefix("account a\nsyslog LOG_LOCAL8\n", "t.rc:2: invalid syslog", "LOG_LOCAL8");
    expect_error_prefix("account a\nset_from_header maybe\n", "t.rc:2: invalid set_from_header",
                        "bad set_from_header");
    expect_error_prefix("account a\nset_date_header always\n", "t.rc:2: invalid set_date_header",
                        "bad set_date_header");
    expect_error_prefix("account a\nqueue sometimes\n", "t.rc:2: invalid queue \"sometimes\"",
                        "bad queue");
    expect_error_prefix("account a\nqueue_lifetime 5w\n", "t.rc:2: invalid queue_lifetime \"5w\"",
                        "bad duration suffix");
    expect_error_prefix("account a\nqueue_lifetime d\n", "t.rc:2: invalid queue_lifetime",
                        "duration without number");
    expect_error_prefix("account a\nqueue_max_backoff 0\n", "t.rc:2: invalid queue_max_backoff",
                        "zero duration");
    expect_error_prefix("account a\nqueue_lifetime 99999999999999999999d\n",
                        "t.rc:2: invalid queue_lifetime", "duration overflow");
    expect_error_prefix("account a\ntls_min_dh_prime_bits 0\n",
                        "t.rc:2: invalid tls_min_dh_prime_bits", "dh bits 0");
    expect_error("host h\n",
                 "t.rc:1: command \"host\" must follow an \"account\" or \"defaults\" line",
                 "command outside a block");
    expect_error("defaults x\n", "t.rc:1: command \"defaults\" does not take an argument",
                 "defaults with argument");
    expect_error("account a\nhost \"h\n",
                 "t.rc:2: unterminated quoted argument of command \"host\"", "unterminated quote");
    expect_error("account a\nhost \"h\" x\n",
                 "t.rc:2: unexpected text after the quoted argument of command \"host\"",
                 "text after quote");
    expect_error("account a\nhost h\x01x\n", "t.rc:2: control character in line",
                 "control character");
    expect_error("account a\nhost h\rx\n", "t.rc:2: control character in line", "bare CR");
    expect_error_prefix("account a\nkeepbcc sometimes\n", "t.rc:2: invalid keepbcc",
                        "bad keepbcc");
    expect_error_prefix("account a\ntls_nocertcheck x\n", "t.rc:2: invalid tls_nocertcheck",
                        "bad tls_nocertcheck");
    expect_error_prefix("account a,b\n", "t.rc:1: invalid account name \"a,b\"",
                        "comma in account name");
}

static void test_values(void)
{
    char *msg = NULL;
    struct config *cfg = parse(
        "# comment\n"
        "   \n"
        "defaults\n"
        "tls off\n"
        "account a   # trailing comment\n"
        "host   mail.example.org   \r\n"
        "port 2525\n"
        "auth CRAM-MD5\n"
        "tls\n"
        "tls_certcheck\n"
        "dsn_notify Success,DELAY\n"
        "dsn_return headers\n"
        "protocol LMTP\n"
        "timeout 30\n"
        "syslog\n"
        "set_date_header on\n"
        "set_msgid_header off\n"
        "set_from_header off\n"
        "queue always\n"
        "queue_lifetime 2d\n"
        "queue_max_backoff 90m\n"
        "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
        "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n"
        "tls_trust_file system\n"
        "tls_cert_file ~/cert.pem\n"
        "logfile ~\n"
        "aliases ~user/aliases\n"
        "queue_dir \"~/q\"\n"
        "tls_min_dh_prime_bits 1024\n"
        "maildomain example.net\n"
        "account b\n"
        "host b\n"
        "auth\n"
        "syslog log_local3\n"
        "tls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\n"
        "timeout off\n"
        "dsn_notify never\n"
        "queue_lifetime 300\n"
        "from \"\"\n"
        "syslog off\n",
        &msg);
    tap_ok(cfg != NULL, "value file parses");
    if (msg)
        printf("# %s\n", msg);
    free(msg);
    if (!cfg)
        return;
    const struct account *a = config_find(cfg, "a"), *b = config_find(cfg, "b");
    const char *home = util_home();
    char *want;
    tap_str(a->host, "mail.example.org", "trailing whitespace and CR stripped");
    tap_int(a->port, 2525, "port 2525");
    tap_str(a->auth, "cram-md5", "auth stored lowercase");
    tap_ok(a->tls && a->tls_certcheck, "empty boolean argument means on");
    tap_str(a->dsn_notify, "success,delay", "dsn_notify list lowercase");
    tap_str(a->dsn_return, "headers", "dsn_return");
    tap_str(a->protocol, "lmtp", "protocol lowercase");
    tap_int(a->timeout, 30, "timeout 30");
    tap_str(a->syslog, "LOG_USER", "syslog (empty) = LOG_USER");
    tap_int(a->set_date_header, HDR_AUTO, "set_date_header on = auto");
    tap_int(a->set_msgid_header, HDR_OFF, "set_msgid_header off");
    tap_int(a->set_from_header, HDR_OFF, "set_from_header off");
    tap_int(a->queue, QUEUE_ALWAYS, "queue always");
    tap_int(a->queue_lifetime, 2 * 86400, "queue_lifetime 2d");
    tap_int(a->queue_max_backoff, 90 * 60, "queue_max_backoff 90m");
    tap_ok(a->tls_fingerprint && strlen(a->tls_fingerprint) == 95, "SHA256 fingerprint stored");
    tap_str(a->tls_trust_file, "system", "tls_trust_file system kept");
    want = xasprintf("%s%scert.pem", home, strcmp(home, "/") == 0 ? "" : "/");
    tap_str(a->tls_cert_file, want, "~/ expanded in tls_cert_file");
    free(want);
    tap_str(a->logfile, home, "~ alone expanded");
    tap_str(a->aliases, "~user/aliases", "~user not expanded");
    want = xasprintf("%s%sq", home, strcmp(home, "/") == 0 ? "" : "/");
    tap_str(a->queue_dir, want, "~ expanded in quoted queue_dir");
    free(want);
    tap_int(a->tls_min_dh_prime_bits, 1024, "tls_min_dh_prime_bits");
    tap_str(a->maildomain, "example.net", "maildomain");
    tap_ok(!b->tls, "b gets tls off from defaults");
    tap_str(b->auth, "on", "auth with empty argument = on");
    tap_str(b->syslog, NULL, "syslog off = NULL");
    tap_str(b->tls_fingerprint,
            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
            "SHA1 fingerprint stored as given");
    tap_int(b->timeout, 0, "timeout off");
    tap_str(b->dsn_notify, "never", "dsn_notify never");
    tap_int(b->queue_lifetime, 300, "duration without suffix = seconds");
    tap_str(b->from, NULL, "from \"\" = unset");
    config_free(cfg);

    cfg = parse("account a\nsyslog LOG_LOCAL7\nhost h\n", NULL);
    tap_str(cfg ? config_find(cfg, "a")->syslog : NULL, "LOG_LOCAL7", "syslog LOG_LOCAL7");
    config_free(cfg);
}

static void test_quoting(void)
{
    struct config *cfg = parse(
        "account a\n"
        "host h#x\n"
        "from \"a # b\"   # comment\n"
        "user \"x\\\"y\\\\z\"\n"
        "password \"p a#s\\\\s\"\n"
        "tls_host_override a\"b\"c\n"
        "from_full_name \"Joe \\q Smith\"\n"
        "tls_priorities  NORMAL:-VERS-ALL:+VERS-TLS1.3 #x\n"
        "passwordeval \"\"\n"
        "\tntlmdomain\tDOM\t\n",
        NULL);
    tap_ok(cfg != NULL, "quoting file parses");
    if (!cfg)
        return;
    const struct account *a = config_find(cfg, "a");
    tap_str(a->host, "h#x", "# inside a word is literal");
    tap_str(a->from, "a # b", "# inside quotes is literal, comment after quotes");
    tap_str(a->user, "x\"y\\z", "\\\" and \\\\ escapes");
    tap_str(a->password, "p a#s\\s", "quoted password");
    tap_str(a->tls_host_override, "a\"b\"c", "quotes inside an unquoted word are literal");
    tap_str(a->from_full_name, "Joe \\q Smith", "other backslashes kept");
    tap_str(a->tls_priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.3", "comment after whitespace");
    tap_str(a->passwordeval, NULL, "\"\" = unset");
    tap_str(a->ntlmdomain, "DOM", "tabs as separators");
    config_free(cfg);
}

static void test_obsolete(void)
{
    struct config *cfg = parse("account a\nhost h\ntls_nocertcheck\nconnect_timeout 7\n"
                               "keepbcc on\nauto_from on\ntls_force_sslv3 on\n"
                               "account b\nhost h\nkeepbcc off\nauto_from off\n"
                               "tls_nocertcheck off\n", NULL);
    tap_ok(cfg != NULL, "obsolete commands accepted");
    if (!cfg)
        return;
    const struct account *a = config_find(cfg, "a"), *b = config_find(cfg, "b");
    tap_ok(!a->tls_certcheck, "tls_nocertcheck = tls_certcheck off");
    tap_int(a->timeout, 7, "connect_timeout = timeout");
    tap_ok(!a->remove_bcc_headers, "keepbcc on = remove_bcc_headers off");
    tap_str(a->from, "%U@%M", "auto_from on = from %U@%M");
    tap_ok(b->remove_bcc_headers, "keepbcc off keeps remove_bcc_headers on");
    tap_str(b->from, NULL, "auto_from off sets nothing");
    tap_ok(b->tls_certcheck, "tls_nocertcheck off = certcheck on");
    config_free(cfg);
}

/* msmtprc spellings: tls_nostarttls, fingerprints as certtool and
 * openssl print them, `domain %H` and the EHLO name check. */
static void test_msmtp_spellings(void)
{
    struct config *cfg = parse(
        "account a\nhost h\ntls_nostarttls\n"
        "tls_fingerprint 0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF\n"
        "domain %H\n"
        "account b\nhost h\ntls_nostarttls off\n"
        "tls_fingerprint 0123456789ABCDEF0123456789abcdef01234567\n"
        "domain mail.example.org\n"
        "account c\nhost h\ntls_fingerprint sha256:"
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
        "domain [192.0.2.1]\n"
        "account d\nhost h\ntls_fingerprint ab:CD:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01\n"
        "domain x_y.%C\n",
        NULL);
    tap_ok(cfg != NULL, "msmtp spellings parse");
    if (!cfg)
        return;
    const struct account *a = config_find(cfg, "a"), *b = config_find(cfg, "b");
    const struct account *c = config_find(cfg, "c"), *d = config_find(cfg, "d");
    tap_ok(a->tls && !a->tls_starttls, "tls_nostarttls = tls_starttls off");
    tap_ok(b->tls_starttls, "tls_nostarttls off = tls_starttls on");
    tap_str(a->tls_fingerprint,
            "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
            "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF",
            "bare SHA-256 hex in mixed case, stored as pairs");
    tap_str(b->tls_fingerprint, "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
            "bare SHA-1 hex");
    tap_str(c->tls_fingerprint,
            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
            "sha256: prefix");
    tap_str(d->tls_fingerprint, "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
            "pairs with ':' in either case");
    tap_str(a->domain, util_host_name(), "domain %H is the host name");
    tap_ok(strchr(a->domain, '%') == NULL, "no % left in the EHLO name");
    tap_str(b->domain, "mail.example.org", "plain domain");
    tap_str(c->domain, "[192.0.2.1]", "address literal");
    char *want = xasprintf("x_y.%s", util_host_name());
    tap_str(d->domain, want, "%C inside a name");
    free(want);
    config_free(cfg);

    expect_error_prefix("account a\ntls_fingerprint 0123456789abcdef0123456789abcdef\n",
                        "t.rc:2: invalid tls_fingerprint \"0123456789abcdef0123456789abcdef\" "
                        "(MD5 fingerprints are not accepted", "MD5 refused with a hint");
    expect_error_prefix("account a\ntls_fingerprint 0123456789abcdef0123456789abcdef0123456\n",
                        "t.rc:2: invalid tls_fingerprint", "odd number of hex digits");
    expect_error_prefix("account a\ntls_fingerprint sha1:"
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
                        "t.rc:2: invalid tls_fingerprint", "sha1: prefix with 32 bytes");
    expect_error_prefix("account a\ntls_fingerprint 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB"
                        ":CD:EF:01:23:4567\n",
                        "t.rc:2: invalid tls_fingerprint", "pairs with a missing ':'");
    expect_error_prefix("account a\ntls_fingerprint 0123456789abcdef0123456789abcdef0123456g\n",
                        "t.rc:2: invalid tls_fingerprint", "non-hex digit");
    expect_error("account a\ndomain \"a b\"\n",
                 "t.rc:2: invalid domain \"a b\" (expected a host name such as "
                 "mail.example.org, or an address literal such as [192.0.2.1])",
                 "domain with a space");
    expect_error_prefix("account a\ndomain a;b\n", "t.rc:2: invalid domain \"a;b\"",
                        "domain with ';'");
    expect_error_prefix("account a\ndomain a..b\n", "t.rc:2: invalid domain \"a..b\"",
                        "domain with an empty label");
    expect_error_prefix("account a\ndomain example.org.\n",
                        "t.rc:2: invalid domain \"example.org.\"", "domain with a final dot");
    expect_error_prefix("account a\ndomain \xc3\xa9t\xc3\xa9.example\n",
                        "t.rc:2: invalid domain", "domain with UTF-8");
    expect_error_prefix("account a\ndomain [1.2.3.4\n", "t.rc:2: invalid domain",
                        "unclosed address literal");
    expect_error_prefix("account a\ndomain [1.2 3]\n", "t.rc:2: invalid domain",
                        "space in an address literal");
    expect_error_prefix("account a\ndomain %M\n", "t.rc:2: invalid domain \"%M\"",
                        "domain %M is not expanded");
    expect_error_prefix("account a\ndomain \"\x7f\"\n", "t.rc:2: control character",
                        "domain with DEL");
    cfg = parse("account a\nhost h\ndomain \"\"\n", NULL);
    tap_ok(cfg && config_find(cfg, "a")->domain == NULL, "domain \"\" = unset");
    config_free(cfg);
}

/* "~" is $HOME in configuration paths; the user database only when HOME
 * is unset, empty or relative. */
static void test_home(void)
{
    const char *old = getenv("HOME");
    char *saved = old ? xstrdup(old) : NULL;
    const struct passwd *pw = getpwuid(getuid());
    const char *dbhome = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : "/";
    const char *text = "account a\nhost h\nlogfile ~/smtpfwd.log\naliases ~\n"
                       "tls_trust_file ~/ca.pem\npasswordeval cat ~/pw\nfrom ~u@x\n";
    char *want;

    setenv("HOME", "/home/elsewhere", 1);
    struct config *cfg = parse(text, NULL);
    const struct account *a = cfg ? config_find(cfg, "a") : NULL;
    tap_ok(a != NULL, "home: parses");
    tap_str(a ? a->logfile : NULL, "/home/elsewhere/smtpfwd.log", "~/ is $HOME");
    tap_str(a ? a->aliases : NULL, "/home/elsewhere", "~ alone is $HOME");
    tap_str(a ? a->tls_trust_file : NULL, "/home/elsewhere/ca.pem", "tls_trust_file ~/");
    tap_str(a ? a->passwordeval : NULL, "cat ~/pw", "passwordeval is not a path: kept");
    tap_str(a ? a->from : NULL, "~u@x", "from is not a path: kept");
    config_free(cfg);

    setenv("HOME", "/home/slash/", 1);
    cfg = parse(text, NULL);
    a = cfg ? config_find(cfg, "a") : NULL;
    tap_str(a ? a->logfile : NULL, "/home/slash/smtpfwd.log", "HOME with a final slash");
    config_free(cfg);

    setenv("HOME", "/", 1);
    cfg = parse(text, NULL);
    a = cfg ? config_find(cfg, "a") : NULL;
    tap_str(a ? a->logfile : NULL, "/smtpfwd.log", "HOME=/");
    config_free(cfg);

    static const char *const unusable[] = { "", "relative/dir", NULL };
    for (size_t i = 0; i < 3; i++) {
        char what[96];
        if (unusable[i])
            setenv("HOME", unusable[i], 1);
        else
            unsetenv("HOME");
        snprintf(what, sizeof what, "HOME %s%s%s: the user database's home",
                 unusable[i] ? "\"" : "", unusable[i] ? unusable[i] : "unset",
                 unusable[i] ? "\"" : "");
        cfg = parse(text, NULL);
        a = cfg ? config_find(cfg, "a") : NULL;
        want = xasprintf("%s%ssmtpfwd.log", dbhome, dbhome[1] ? "/" : "");
        tap_str(a ? a->logfile : NULL, want, what);
        free(want);
        config_free(cfg);
    }
    if (saved)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
    free(saved);
}

static void expect_setting_error(struct config *cfg, const char *command, const char *value,
                                 const char *option, const char *want, const char *what)
{
    struct config_setting s = { command, value, option };
    struct result r = RESULT_INIT;
    char name[128];
    snprintf(name, sizeof name, "%s: fails", what);
    tap_int(config_apply_settings(cfg, "a", &s, 1, &r), -1, name);
    snprintf(name, sizeof name, "%s: RC_USAGE", what);
    tap_int(r.cls, RC_USAGE, name);
    snprintf(name, sizeof name, "%s: message", what);
    tap_str(r.msg, want, name);
    result_clear(&r);
}

/* msmtp's command-line options, applied over the chosen account with the
 * file's validation; and the account of --host, made of them alone. */
static void test_settings(void)
{
    struct config *cfg = parse("defaults\nport 2525\nlogfile /tmp/l\n"
                               "account base\nhost base.example\nuser u\ntls_starttls off\n"
                               "account a : base\nfrom a@example.org\ndsn_notify failure\n",
                               NULL);
    tap_ok(cfg != NULL, "settings: base file parses");
    if (!cfg)
        return;
    const struct config_setting s[] = {
        { "port", "26", "--port" },
        { "tls", "off", "--tls" },
        { "user", "", "--user" },
        { "logfile", "", "-X" },
        { "dsn_notify", "off", "-N" },
        { "keepbcc", "on", "--keepbcc" },
        { "domain", "%H", "--domain" },
        { "tls_fingerprint", "0123456789abcdef0123456789abcdef01234567", "--tls-fingerprint" },
        { "port", "27", "--port" },
    };
    struct result r = RESULT_INIT;
    tap_int(config_apply_settings(cfg, "a", s, sizeof s / sizeof s[0], &r), 0,
            "settings applied");
    const struct account *a = config_find(cfg, "a"), *base = config_find(cfg, "base");
    tap_int(a->port, 27, "the last --port wins over the defaults");
    tap_ok(!a->tls, "--tls=off");
    tap_ok(!a->tls_starttls, "inherited tls_starttls off kept");
    tap_str(a->host, "base.example", "inherited host kept");
    tap_str(a->user, NULL, "--user= unsets the inherited user");
    tap_str(a->logfile, NULL, "-X \"\" unsets the default logfile");
    tap_str(a->dsn_notify, "off", "-N off over dsn_notify failure");
    tap_ok(!a->remove_bcc_headers, "--keepbcc (obsolete) = remove_bcc_headers off");
    tap_str(a->domain, util_host_name(), "--domain=%H");
    tap_str(a->tls_fingerprint, "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
            "--tls-fingerprint canonical");
    tap_int(a->queue, QUEUE_OFF, "a connection setting turns the spool off for the run");
    {
        const struct config_setting harmless[] = {
            { "logfile", "/tmp/x", "-X" }, { "dsn_return", "headers", "-R" },
            { "set_date_header", "off", "--set-date-header" }, { "keepbcc", "on", "--keepbcc" },
        };
        tap_int(config_apply_settings(cfg, "base", harmless, 4, &r), 0, "harmless settings");
        tap_int(config_find(cfg, "base")->queue, QUEUE_ON_FAILURE,
                "settings a spool entry keeps leave the spool on");
        tap_str(config_find(cfg, "base")->logfile, "/tmp/x", "-X on base");
    }
    tap_int(base->port, 2525, "other accounts untouched");
    tap_str(base->user, "u", "other accounts untouched (user)");

    expect_setting_error(cfg, "port", "abc", "--port",
                         "invalid --port \"abc\" (expected a number from 1 to 65535)",
                         "--port=abc");
    {
        /* an empty value unsets, as the empty argument in a file */
        const struct config_setting unset = { "port", "", "--port" };
        tap_int(config_apply_settings(cfg, "a", &unset, 1, &r), 0, "--port= accepted");
        tap_int(config_port(a), 25, "--port= back to the default port (25 with --tls=off)");
    }
    expect_setting_error(cfg, "tls", "maybe", "--tls",
                         "invalid --tls \"maybe\" (expected on or off)", "--tls=maybe");
    expect_setting_error(cfg, "timeout", "", "--timeout", "option --timeout needs an argument",
                         "--timeout=");
    expect_setting_error(cfg, "host", "", "--host", "option --host needs an argument",
                         "--host=");
    expect_setting_error(cfg, "domain", "a b", "--domain",
                         "invalid --domain \"a b\" (expected a host name such as "
                         "mail.example.org, or an address literal such as [192.0.2.1])",
                         "--domain with a space");
    expect_setting_error(cfg, "dsn_notify", "sometimes", "-N",
                         "invalid -N \"sometimes\" (expected off, never, or a list of success, "
                         "failure, delay)", "-N sometimes");
    expect_setting_error(cfg, "keepbcc", "x", "--keepbcc",
                         "invalid --keepbcc \"x\" (expected on or off)", "--keepbcc=x");
    expect_setting_error(cfg, "protocol", "esmtp", "--protocol",
                         "invalid --protocol \"esmtp\" (expected one of: smtp lmtp)",
                         "--protocol=esmtp");
    config_free(cfg);

    /* --host: no file; the defaults and the settings alone, no spool */
    const struct config_setting h[] = {
        { "host", "smtp.example.org", "--host" },
        { "tls_starttls", "off", "--tls-starttls" },
        { "auth", "on", "--auth" },
    };
    cfg = NULL;
    tap_int(config_from_settings(h, 3, &cfg, &r), 0, "--host account");
    a = cfg && cfg->naccounts == 1 ? cfg->accounts[0] : NULL;
    tap_ok(a != NULL, "--host: one account");
    if (a) {
        tap_str(a->name, CONFIG_COMMAND_LINE, "--host: account name");
        tap_str(a->host, "smtp.example.org", "--host: host");
        tap_int(config_port(a), 465, "--host: port from tls_starttls off");
        tap_str(a->auth, "on", "--host: --auth");
        tap_ok(a->tls && a->tls_certcheck, "--host: smtpfwd's defaults");
        tap_int(a->queue, QUEUE_OFF, "--host: no spool");
        tap_ok(config_select(cfg, NULL, NULL, &r) == NULL, "--host account is not \"default\"");
        result_clear(&r);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        config_print_account(f, a);
        fclose(f);
        tap_ok(strncmp(text, "account = (command line)\nfile = (command line)\n"
                             "host = smtp.example.org\nport = 465\n", 80) == 0,
               "--host: --pretend listing");
        free(text);
    }
    config_free(cfg);
    const struct config_setting bad[] = { { "host", "h", "--host" }, { "port", "0", "--port" } };
    cfg = NULL;
    tap_int(config_from_settings(bad, 2, &cfg, &r), -1, "--host with a bad --port");
    tap_int(r.cls, RC_USAGE, "--host bad --port: RC_USAGE");
    tap_ok(cfg == NULL, "--host bad --port: no configuration");
    result_clear(&r);
}

static void test_inheritance(void)
{
    struct config *cfg = parse(
        "defaults\n"
        "port 100\n"
        "from d@x\n"
        "account a\n"
        "host ha\n"
        "defaults\n"
        "port 200\n"
        "user du\n"
        "account b : a\n"
        "user bu\n"
        "account c\n"
        "host hc\n"
        "account p1\n"
        "host p1\n"
        "domain p1dom\n"
        "account p2\n"
        "host p2\n"
        "account x : p1, p2\n"
        "account y : p2,p1\n"
        "host own\n"
        "account default : c\n",
        NULL);
    tap_ok(cfg != NULL, "inheritance file parses");
    if (!cfg)
        return;
    const struct account *a = config_find(cfg, "a"), *b = config_find(cfg, "b"),
                         *c = config_find(cfg, "c"), *x = config_find(cfg, "x"),
                         *y = config_find(cfg, "y"), *d = config_find(cfg, "default");
    tap_int(a->port, 100, "a: defaults in force when defined");
    tap_str(a->user, NULL, "a: later defaults do not apply");
    tap_int(b->port, 100, "b : a: parent's value beats the defaults");
    tap_str(b->host, "ha", "b inherits host");
    tap_str(b->user, "bu", "b own line last");
    tap_int(c->port, 200, "c: accumulated defaults");
    tap_str(c->user, "du", "c: user from second defaults");
    tap_str(c->from, "d@x", "c: from from first defaults");
    tap_str(x->host, "p2", "x : p1, p2: later parent wins");
    tap_str(x->domain, "p1dom", "x: p1-only setting kept");
    tap_str(y->host, "own", "y: own line beats parents");
    tap_str(y->domain, "p1dom", "y : p2,p1 gets p1 domain");
    tap_str(d->host, "hc", "account default : c");
    tap_str(d->name, "default", "default name");
    tap_int((long long)cfg->naccounts, 8, "8 accounts");
    tap_str(cfg->accounts[0]->name, "a", "definition order kept");
    config_free(cfg);
}

/* chunking on|off and tls_session_cache on|off: on/off commands like the
 * others (defaults, parents, own line), and a bad value is an error. */
static void test_chunking(void)
{
    struct config *cfg = parse("defaults\nchunking off\naccount a\nhost h\n"
                               "account b : a\nchunking on\naccount c : a\n"
                               "defaults\nchunking on\naccount d\nhost h\n", NULL);
    tap_ok(cfg != NULL, "chunking file parses");
    if (!cfg)
        return;
    tap_ok(!config_find(cfg, "a")->chunking, "chunking off from defaults");
    tap_ok(config_find(cfg, "b")->chunking, "chunking on: own line beats the parent");
    tap_ok(!config_find(cfg, "c")->chunking, "chunking off inherited from the parent");
    tap_ok(config_find(cfg, "d")->chunking, "chunking on from later defaults");
    config_free(cfg);
    expect_error_prefix("account a\nhost h\nchunking maybe\n", "t.rc:3:",
                        "chunking maybe is an error at its line");
    cfg = parse("defaults\ntls_session_cache off\naccount a\nhost h\n"
                "account b : a\ntls_session_cache on\n", NULL);
    tap_ok(cfg && !config_find(cfg, "a")->tls_session_cache,
           "tls_session_cache off from defaults");
    tap_ok(cfg && config_find(cfg, "b")->tls_session_cache,
           "tls_session_cache on: own line beats the parent");
    expect_error_prefix("account a\nhost h\ntls_session_cache sometimes\n", "t.rc:3:",
                        "tls_session_cache sometimes is an error at its line");
    config_free(cfg);
}

static void test_eval(void)
{
    struct config *cfg = parse("account a\n"
                               "eval printf 'host evalhost\\nport 2626\\n# c\\n\\npassword s3cret\\n'\n"
                               "user after\n"
                               "eval echo account e\n"
                               "host ehost\n"
                               "eval true\n",
                               NULL);
    tap_ok(cfg != NULL, "eval parses");
    if (cfg) {
        const struct account *a = config_find(cfg, "a");
        tap_str(a->host, "evalhost", "eval output line 1 applied");
        tap_int(a->port, 2626, "eval output line 2 applied");
        tap_str(a->password, "s3cret", "eval password applied");
        tap_str(a->user, "after", "line after eval applied");
        const struct account *e = config_find(cfg, "e");
        tap_ok(e && e->host && strcmp(e->host, "ehost") == 0, "eval can start an account");
        config_free(cfg);
    }
    expect_error("account a\neval exit 3\n",
                 "t.rc:2: eval command \"exit 3\" failed with exit status 3", "eval failure");
    expect_error("account a\neval echo port abc\n", "t.rc:2: invalid port \"abc\" (expected a number from 1 to 65535)",
                 "error inside eval output names the eval line");
    expect_error("account a\neval\n", "t.rc:2: command \"eval\" needs an argument",
                 "eval needs an argument");
    expect_error("account a\neval read x || exit 4; echo host $x\n",
                 "t.rc:2: eval command \"read x || exit 4; echo host $x\" failed with exit status 4",
                 "eval stdin is /dev/null");
    expect_error_prefix("account a\neval printf 'host a\\001b'\n", "t.rc:2: control character",
                        "control character in eval output");
}

/* CONFIG_PARSE_NO_EVAL (the fuzz target's switch): eval is refused with
 * its line, and the command is not run. */
static void test_no_eval(void)
{
    char marker[] = "/tmp/test-config-noeval-XXXXXX";
    int fd = mkstemp(marker);
    if (fd < 0)
        return;
    close(fd);
    unlink(marker);
    char *text = xasprintf("account a\nhost h\neval touch %s\n", marker);
    struct config *cfg = config_new();
    struct result r = RESULT_INIT;
    int rc = config_parse_text_flags(cfg, text, strlen(text), "t.rc", CONFIG_PARSE_NO_EVAL,
                                     NULL, &r);
    tap_int(rc, -1, "no-eval: eval is an error");
    tap_int(r.cls, RC_CONFIG, "no-eval: RC_CONFIG");
    tap_str(r.msg, "t.rc:3: command \"eval\" is not allowed here", "no-eval: names the line");
    tap_ok(access(marker, F_OK) != 0, "no-eval: the command did not run");
    unlink(marker);
    result_clear(&r);
    config_free(cfg);
    free(text);
}

static void test_files(void)
{
    struct config *cfg = NULL;
    struct result r = RESULT_INIT;
    char *p600 = write_file("pw600", "account a\nhost h\npassword secret\n", 0600);
    char *p644 = write_file("pw644", "account a\nhost h\npassword secret\n", 0644);
    char *p640 = write_file("pw640", "account a\nhost h\npassword secret\n", 0640);
    char *n644 = write_file("np644", "account a\nhost h\nuser u\n", 0644);
    char *sys = write_file("sys", "defaults\nport 33\naccount s\nhost shost\n"
                                  "account default\nhost sysdefault\n", 0644);
    char *usr = write_file("usr", "account default\nhost userdefault\naccount u : s\n", 0600);
    char *bad = write_file("bad", "account a\nhost h\nport x\n", 0600);
    char *nul = write_file("nul", "account a\nhost h", 0600);
    FILE *f = fopen(nul, "a");
    fputc('\0', f);
    fputs("x\n", f);
    fclose(f);
    char *missing = xasprintf("%s/missing", tmpdir);
    char *msg;

    setenv("SMTPFWD_SYSCONF", "", 1);
    tap_int(config_load(p600, &cfg, &r), 0, "0600 file with password accepted");
    tap_ok(cfg && cfg->user_file && strcmp(cfg->user_file, p600) == 0, "user_file recorded");
    tap_ok(cfg && cfg->system_file == NULL, "no system file with SMTPFWD_SYSCONF=\"\"");
    config_free(cfg);
    cfg = NULL;
    result_clear(&r);

    tap_int(config_load(p644, &cfg, &r), -1, "0644 file with password refused");
    tap_int(r.cls, RC_CONFIG, "refusal is RC_CONFIG");
    msg = xasprintf("%s: contains a password but is readable by others; run: chmod 600 %s", p644,
                    p644);
    tap_str(r.msg, msg, "readable-by-others message");
    tap_ok(cfg == NULL, "no config on failure");
    free(msg);
    result_clear(&r);

    tap_int(config_load(p640, &cfg, &r), -1, "0640 file with password refused");
    result_clear(&r);

    tap_int(config_load(n644, &cfg, &r), 0, "0644 file without password accepted");
    config_free(cfg);
    cfg = NULL;
    result_clear(&r);

    if (getuid() == 0 && chown(p600, 1, (gid_t)-1) == 0) {
        tap_int(config_load(p600, &cfg, &r), -1, "file owned by another user refused");
        msg = xasprintf("%s: contains a password but is owned by another user", p600);
        tap_str(r.msg, msg, "owned-by-another-user message");
        free(msg);
        result_clear(&r);
    } else {
        tap_ok(1, "# SKIP owner check needs root");
        tap_ok(1, "# SKIP owner check needs root");
    }

    tap_int(config_load(missing, &cfg, &r), -1, "missing -C file is an error");
    msg = xasprintf("cannot read %s: No such file or directory", missing);
    tap_str(r.msg, msg, "missing -C file message");
    tap_int(r.cls, RC_CONFIG, "missing -C file is RC_CONFIG");
    free(msg);
    result_clear(&r);

    tap_int(config_load(bad, &cfg, &r), -1, "error in file");
    msg = xasprintf("%s:3: invalid port \"x\" (expected a number from 1 to 65535)", bad);
    tap_str(r.msg, msg, "FILE:LINE with the real path");
    free(msg);
    result_clear(&r);

    tap_int(config_load(nul, &cfg, &r), -1, "NUL byte refused");
    msg = xasprintf("%s: contains a NUL byte", nul);
    tap_str(r.msg, msg, "NUL byte message");
    free(msg);
    result_clear(&r);

    tap_int(config_load(tmpdir, &cfg, &r), -1, "a directory is refused");
    result_clear(&r);

    /* system file first, user file replaces accounts of the same name */
    setenv("SMTPFWD_SYSCONF", sys, 1);
    tap_int(config_load(usr, &cfg, &r), 0, "system + user file");
    if (cfg) {
        const struct account *d = config_find(cfg, "default");
        tap_str(d ? d->host : NULL, "userdefault", "user account replaces system account");
        const struct account *u = config_find(cfg, "u");
        tap_str(u ? u->host : NULL, "shost", "user account may inherit a system account");
        tap_int(u ? u->port : 0, 33, "system defaults travel with the system account");
        size_t n = 0;
        for (size_t i = 0; i < cfg->naccounts; i++)
            if (strcmp(cfg->accounts[i]->name, "default") == 0)
                n++;
        tap_int((long long)n, 1, "only one default account");
        tap_ok(cfg->system_file && strcmp(cfg->system_file, sys) == 0, "system_file recorded");
    }
    config_free(cfg);
    cfg = NULL;
    result_clear(&r);

    /* system file with a password may be readable (it is not the user's) */
    char *syspw = write_file("syspw", "account s\nhost h\npassword x\n", 0644);
    setenv("SMTPFWD_SYSCONF", syspw, 1);
    tap_int(config_load(n644, &cfg, &r), 0, "permission check only for the user file");
    config_free(cfg);
    cfg = NULL;
    result_clear(&r);

    /* no files at all (only when the real home has none) */
    char *home_rc = xasprintf("%s/.smtprc", util_home());
    if (access(home_rc, F_OK) != 0) {
        setenv("SMTPFWD_SYSCONF", missing, 1);
        setenv("XDG_CONFIG_HOME", tmpdir, 1);
        tap_int(config_load(NULL, &cfg, &r), -1, "no configuration file at all");
        tap_int(r.cls, RC_CONFIG, "no file: RC_CONFIG");
        tap_ok(r.msg && strstr(r.msg, "no configuration file found (looked in ") == r.msg
                   && strstr(r.msg, "create ~/.smtprc"),
               "no file: message");
        result_clear(&r);
        /* the message names the files looked for: the system file that
         * SMTPFWD_SYSCONF names, or none when it is empty */
        char *user_rc = util_expand_home("~/.smtprc");
        msg = xasprintf("no configuration file found (looked in %s, %s and %s/smtpfwd/config); "
                        "create ~/.smtprc", missing, user_rc, tmpdir);
        tap_int(config_load(NULL, &cfg, &r), -1, "no file: an error again");
        tap_str(r.msg, msg, "no file: the system file SMTPFWD_SYSCONF names is in the message");
        free(msg);
        result_clear(&r);
        setenv("SMTPFWD_SYSCONF", "", 1);
        msg = xasprintf("no configuration file found (looked in %s and %s/smtpfwd/config); "
                        "create ~/.smtprc", user_rc, tmpdir);
        tap_int(config_load(NULL, &cfg, &r), -1, "SMTPFWD_SYSCONF empty, no user file: an error");
        tap_str(r.msg, msg, "SMTPFWD_SYSCONF empty: no system file in the message");
        free(msg);
        free(user_rc);
        result_clear(&r);
        setenv("SMTPFWD_SYSCONF", missing, 1);
        /* XDG file */
        char *xdgdir = xasprintf("%s/smtpfwd", tmpdir);
        mkdir(xdgdir, 0700);
        free(xdgdir);
        char *xdg = write_file("smtpfwd/config", "account default\nhost xdghost\n", 0600);
        tap_int(config_load(NULL, &cfg, &r), 0, "XDG config file found");
        tap_ok(cfg && cfg->user_file && strcmp(cfg->user_file, xdg) == 0, "XDG file recorded");
        config_free(cfg);
        cfg = NULL;
        result_clear(&r);
        unlink(xdg);
        free(xdg);
        xdgdir = xasprintf("%s/smtpfwd", tmpdir);
        rmdir(xdgdir);
        free(xdgdir);
        /* system file only */
        setenv("SMTPFWD_SYSCONF", sys, 1);
        tap_int(config_load(NULL, &cfg, &r), 0, "system file alone is enough");
        tap_ok(cfg && cfg->user_file == NULL, "no user file");
        config_free(cfg);
        cfg = NULL;
        result_clear(&r);
    } else {
        for (int i = 0; i < 11; i++)
            tap_ok(1, "# SKIP ~/.smtprc exists");
    }
    free(home_rc);
    unsetenv("SMTPFWD_SYSCONF");

    const char *paths[] = { p600, p644, p640, n644, sys, usr, bad, nul, syspw };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        unlink(paths[i]);
        free((char *)paths[i]);
    }
    free(missing);
}

static void test_select(void)
{
    struct config *cfg = parse("account exact\nhost h1\nfrom Joe@Example.COM\n"
                               "account glob\nhost h2\nfrom *@glob.example\n"
                               "account nofrom\nhost h3\n"
                               "account q\nhost h4\nfrom a?c@q.example\n"
                               "account default\nhost hd\nfrom other@x\n",
                               NULL);
    struct result r = RESULT_INIT;
    const struct account *a;
    tap_ok(cfg != NULL, "selection file parses");
    if (!cfg)
        return;
    a = config_select(cfg, "nofrom", "joe@example.com", &r);
    tap_str(a ? a->name : NULL, "nofrom", "by name first");
    a = config_select(cfg, "zzz", NULL, &r);
    tap_ok(a == NULL, "unknown name");
    tap_str(r.msg, "account \"zzz\" not found in the configuration", "unknown name message");
    tap_int(r.cls, RC_CONFIG, "unknown name RC_CONFIG");
    result_clear(&r);
    a = config_select(cfg, NULL, "Joe@example.com", &r);
    tap_str(a ? a->name : NULL, "exact", "exact match, domain case-insensitive");
    a = config_select(cfg, NULL, "joe@example.com", &r);
    tap_str(a ? a->name : NULL, "default", "local part case-sensitive");
    a = config_select(cfg, NULL, "<Joe@example.com>", &r);
    tap_str(a ? a->name : NULL, "exact", "angle brackets stripped");
    a = config_select(cfg, NULL, "Joe+lists@EXAMPLE.com", &r);
    tap_str(a ? a->name : NULL, "exact", "+detail removed");
    a = config_select(cfg, NULL, "anyone@glob.example", &r);
    tap_str(a ? a->name : NULL, "glob", "glob match");
    a = config_select(cfg, NULL, "anyone@GLOB.example", &r);
    tap_str(a ? a->name : NULL, "glob", "glob match, domain case-insensitive");
    a = config_select(cfg, NULL, "abc@q.example", &r);
    tap_str(a ? a->name : NULL, "q", "? glob");
    a = config_select(cfg, NULL, "abbc@q.example", &r);
    tap_str(a ? a->name : NULL, "default", "? matches one character only");
    a = config_select(cfg, NULL, "nobody@nowhere", &r);
    tap_str(a ? a->name : NULL, "default", "fallback to default");
    a = config_select(cfg, NULL, NULL, &r);
    tap_str(a ? a->name : NULL, "default", "no sender: default");
    tap_ok(r.msg == NULL, "no error on success");
    config_free(cfg);

    cfg = parse("account one\nhost h\nfrom a@b\n", NULL);
    a = config_select(cfg, NULL, "x@y", &r);
    tap_ok(a == NULL, "no default and no match");
    tap_str(r.msg,
            "no account \"default\" in the configuration and none matches the sender \"x@y\"; "
            "use -a ACCOUNT or define \"account default\"",
            "no default message with sender");
    result_clear(&r);
    a = config_select(cfg, NULL, NULL, &r);
    tap_ok(a == NULL && r.msg && strncmp(r.msg, "no account \"default\" in the configuration", 41) == 0,
           "no default message without sender");
    result_clear(&r);
    config_free(cfg);
}

static void test_print(void)
{
    struct config *cfg = parse("account a\nhost h\npassword topsecret\ntls_starttls off\n"
                               "queue_lifetime 1h\n", NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_account(f, config_find(cfg, "a"));
    fclose(f);
    tap_ok(strstr(text, "\npassword = *****\n") != NULL, "password masked");
    tap_ok(strstr(text, "topsecret") == NULL, "password never printed");
    tap_ok(strstr(text, "\nport = 465\n") != NULL, "effective port");
    tap_ok(strstr(text, "\nuser = (not set)\n") != NULL, "unset shown as (not set)");
    tap_ok(strstr(text, "\ntls = on\ntls_starttls = off\n") != NULL, "booleans on/off in order");
    tap_ok(strstr(text, "\nqueue = on-failure\n") != NULL, "queue mode");
    tap_ok(strstr(text, "\nqueue_lifetime = 3600s\n") != NULL, "duration in seconds");
    tap_ok(strncmp(text, "account = a\nfile = t.rc:1\nhost = h\nport = 465\n", 44) == 0,
           "stable order at the start");
    tap_ok(strstr(text, "\ntimeout = off\n") != NULL, "timeout off");
    tap_ok(strstr(text, "\nprotocol = smtp\n") && strstr(text, "\nauth = off\n"), "effective protocol and auth");
    tap_ok(text[len - 1] == '\n', "ends with newline");
    free(text);
    config_free(cfg);
}

static void test_aliases(void)
{
    char *al = write_file("aliases",
                          "# aliases\n"
                          "\n"
                          "root: admin@example.org, Ops Team <ops@example.org>   # comment\n"
                          "  Postmaster : pm@example.org\n"
                          "default: catchall@example.org\n"
                          "broken: <unbalanced@x\n",
                          0644);
    char *bad = write_file("badaliases", "root admin@example.org\n", 0644);
    char *nodef = write_file("nodef", "root: a@b\n", 0644);
    char *missing = xasprintf("%s/missing-aliases", tmpdir);
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    int rc;

    rc = config_alias_lookup(al, "root", &l, &r);
    tap_int(rc, 1, "root alias applies");
    tap_int((long long)l.n, 2, "two expansions");
    tap_str(l.n > 0 ? l.v[0].mailbox : NULL, "admin@example.org", "first expansion");
    tap_str(l.n > 1 ? l.v[1].mailbox : NULL, "ops@example.org", "second expansion (display dropped)");
    addr_list_free(&l);
    rc = config_alias_lookup(al, "POSTMASTER", &l, &r);
    tap_int(rc, 1, "keys case-insensitive, whitespace around key");
    tap_str(l.n ? l.v[0].mailbox : NULL, "pm@example.org", "postmaster expansion");
    addr_list_free(&l);
    addr_list_add(&l, NULL, "existing@x");
    rc = config_alias_lookup(al, "nobody", &l, &r);
    tap_int(rc, 1, "default fallback applies");
    tap_int((long long)l.n, 2, "appended, not replaced");
    tap_str(l.n > 1 ? l.v[1].mailbox : NULL, "catchall@example.org", "default expansion");
    addr_list_free(&l);
    rc = config_alias_lookup(nodef, "nobody", &l, &r);
    tap_int(rc, 0, "no alias, no default");
    tap_int((long long)l.n, 0, "nothing appended");
    rc = config_alias_lookup(al, "broken", &l, &r);
    tap_int(rc, -1, "bad alias value");
    tap_int(r.cls, RC_CONFIG, "bad alias value RC_CONFIG");
    {
        char *want = xasprintf("%s:6: invalid alias: ", al);
        tap_ok(r.msg && strncmp(r.msg, want, strlen(want)) == 0, "bad alias names FILE:LINE");
        free(want);
    }
    tap_int((long long)l.n, 0, "nothing appended on error");
    result_clear(&r);
    rc = config_alias_lookup(bad, "root", &l, &r);
    tap_int(rc, -1, "line without colon");
    {
        char *want = xasprintf("%s:1: invalid alias line (expected \"name: address, ...\")", bad);
        tap_str(r.msg, want, "line without colon message");
        free(want);
    }
    result_clear(&r);
    rc = config_alias_lookup(missing, "root", &l, &r);
    tap_int(rc, -1, "missing aliases file");
    tap_int(r.cls, RC_CONFIG, "missing aliases file RC_CONFIG");
    {
        char *want = xasprintf("cannot read aliases file %s: No such file or directory", missing);
        tap_str(r.msg, want, "missing aliases file message");
        free(want);
    }
    result_clear(&r);
    addr_list_free(&l);
    unlink(al);
    unlink(bad);
    unlink(nodef);
    free(al);
    free(bad);
    free(nodef);
    free(missing);
}

/* config_load of text as the file "oauth2.rc" (0600, no system file).
 * Returns the configuration, or NULL with the message in *msg (caller
 * frees; "PATH" in it stands for the file's path). */
static struct config *load_text(const char *text, char **msg)
{
    char *path = write_file("oauth2.rc", text, 0600);
    struct config *cfg = NULL;
    struct result r = RESULT_INIT;
    *msg = NULL;
    setenv("SMTPFWD_SYSCONF", "", 1);
    if (config_load(path, &cfg, &r) != 0) {
        struct buf b = BUF_INIT;
        const char *m = r.msg ? r.msg : "";
        if (strncmp(m, path, strlen(path)) == 0) {
            buf_puts(&b, "PATH");
            m += strlen(path);
        }
        buf_puts(&b, m);
        if (r.cls != RC_CONFIG)
            buf_printf(&b, " (class %d)", (int)r.cls);
        *msg = buf_steal(&b);
    }
    result_clear(&r);
    unlink(path);
    free(path);
    return cfg;
}

static void expect_load_error(const char *text, const char *want, const char *what)
{
    expect_error_of(load_text, text, want, what);
}

/* The OAuth2 settings the configuration checks on each complete account
 * of a file (config_load) and after the command-line options, for an
 * account with oauth2_provider: auth oauthbearer or xoauth2, https://
 * endpoints with a host (the verdict of oauth2.c), one source of the
 * client secret; the account's FILE:LINE, or RC_USAGE for the options.
 * Without oauth2_provider the oauth2_* settings are not looked at. */
static void test_oauth2(void)
{
    char *msg = NULL;
    struct config *cfg = load_text("account a\nhost h\nuser u\nauth xoauth2\n"
                                   "oauth2_provider gmail\noauth2_client_id id\n"
                                   "oauth2_token_endpoint HTTPS://id.example/token?x=1\n"
                                   "oauth2_auth_endpoint https://127.0.0.1:8443/authorize\n"
                                   "oauth2_device_endpoint https://u@[::1]:8443/device\n",
                                   &msg);
    tap_ok(cfg != NULL, "oauth2: a complete account loads");
    if (!cfg)
        printf("#   %s\n", msg);
    free(msg);
    if (cfg) {
        const struct account *a = config_find(cfg, "a");
        tap_str(a->oauth2_token_endpoint, "HTTPS://id.example/token?x=1",
                "oauth2: https in any case, kept as written");
        struct result r = RESULT_INIT;
        const struct config_setting plain[] = { { "auth", "plain", "--auth" } };
        tap_int(config_apply_settings(cfg, "a", plain, 1, &r), -1,
                "oauth2: --auth=plain makes the account wrong");
        tap_int(r.cls, RC_USAGE, "oauth2: ... a usage error");
        tap_str(r.msg, "account a, with the command-line options: oauth2_provider needs "
                       "\"auth oauthbearer\" or \"auth xoauth2\" (auth is plain)",
                "oauth2: ... naming the account");
        result_clear(&r);
        config_free(cfg);
    }
    static const char *const bad_urls[] = {
        "http://id.example/token", "https://", "https:///token", "ftp://id.example/",
        "id.example/token", "https:/id.example", " https://id.example/", "https://:443/token",
        "https://user@/token", "https://[]/token", "https://[::1/token", "https://?x", "https://#",
    };
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        char *t = xasprintf("account a\nhost h\nuser u\nauth oauthbearer\noauth2_provider generic\n"
                            "oauth2_token_endpoint \"%s\"\n", bad_urls[i]);
        char *want = xasprintf("PATH:1: account a: oauth2_token_endpoint must be an https:// URL "
                               "with a host name (it is \"%s\")", bad_urls[i]);
        expect_load_error(t, want, bad_urls[i]);
        free(want);
        free(t);
    }
    expect_load_error("account a\nhost h\nauth xoauth2\noauth2_provider microsoft\n"
                      "oauth2_device_endpoint http://x/d\n",
                      "PATH:1: account a: oauth2_device_endpoint must be an https:// URL with a "
                      "host name (it is \"http://x/d\")", "oauth2: device endpoint");
    expect_load_error("account a\nhost h\nauth xoauth2\noauth2_provider gmail\n"
                      "oauth2_auth_endpoint http://x/a\n",
                      "PATH:1: account a: oauth2_auth_endpoint must be an https:// URL with a "
                      "host name (it is \"http://x/a\")", "oauth2: auth endpoint");
    expect_load_error("account a\nhost h\nauth on\noauth2_provider microsoft\n",
                      "PATH:1: account a: oauth2_provider needs \"auth oauthbearer\" or "
                      "\"auth xoauth2\" (auth is on)",
                      "oauth2: auth on is not a bearer mechanism");
    expect_load_error("account a\nhost h\noauth2_provider microsoft\n",
                      "PATH:1: account a: oauth2_provider needs \"auth oauthbearer\" or "
                      "\"auth xoauth2\" (auth is off)", "oauth2: no auth");
    expect_load_error("defaults\noauth2_provider gmail\nauth xoauth2\naccount ok\nhost h\n"
                      "account b\nhost h\nauth plain\n",
                      "PATH:6: account b: oauth2_provider needs \"auth oauthbearer\" or "
                      "\"auth xoauth2\" (auth is plain)",
                      "oauth2: the provider from the defaults, the auth of the account");
    expect_load_error("account p\nhost h\nauth oauthbearer\noauth2_provider generic\n"
                      "oauth2_client_secret s\naccount c : p\n"
                      "oauth2_client_secret_eval \"echo s\"\n",
                      "PATH:6: account c: set oauth2_client_secret or oauth2_client_secret_eval, "
                      "not both",
                      "oauth2: a secret inherited and an eval of its own");
    cfg = load_text("defaults\noauth2_provider gmail\nauth xoauth2\naccount a\nhost h\n"
                    "account b : a\noauth2_provider \"\"\nauth plain\n"
                    "account c\noauth2_client_secret_eval \"echo s\"\noauth2_client_secret \"\"\n"
                    "account d\noauth2_provider \"\"\nauth plain\noauth2_token_endpoint http://x/\n"
                    "oauth2_client_secret s\noauth2_client_secret_eval \"echo s\"\n",
                    &msg);
    tap_ok(cfg != NULL, "oauth2: a provider or a secret unset again is fine, and without a "
                        "provider the oauth2_* settings are not looked at");
    if (!cfg)
        printf("#   %s\n", msg);
    free(msg);
    config_free(cfg);
    cfg = parse("account a\nhost h\nauth plain\noauth2_provider gmail\n"
                "oauth2_token_endpoint http://x/\n", NULL);
    tap_ok(cfg != NULL, "oauth2: config_parse_string parses only (oauth2_client_init's tests "
                        "build such accounts)");
    config_free(cfg);
}

int main(void)
{
    tmpdir = tu_tmpdir("config");
    test_msmtp_examples();
    test_defaults_in_code();
    test_errors();
    test_values();
    test_quoting();
    test_obsolete();
    test_msmtp_spellings();
    test_home();
    test_settings();
    test_inheritance();
    test_chunking();
    test_eval();
    test_files();
    test_select();
    test_print();
    test_aliases();
    test_no_eval();
    test_oauth2();
    tu_rmtree(tmpdir);
    return tap_done();
}
