/*
 * cli.c - the command line: sendmail's option syntax (doc/callers.md,
 * "Sendmail options to accept") plus smtpfwd's long options, turned into
 * `struct options` and a mode. The --help and --version texts are
 * cli-help.c's.
 *
 * This file owns option syntax only. It does not validate addresses,
 * -N lists or -V identifiers (envelope.c does), it never reads files and
 * never prints.
 *
 * Sendmail's syntax is not quite getopt's: some options take their
 * argument attached or separate (-fADDR, -f ADDR), -o/-b/-q carry a value
 * in the same word (-oem, -bp, -q30m), single-letter flags may be bundled
 * as sendmail, Postfix and msmtp allow (-ti is -t -i; a letter that takes
 * an argument ends the bundle: -tfADDR, -tf ADDR), and parsing stops at
 * the first argument that is not an option, exactly like sendmail (no GNU
 * permutation): `smtpfwd a@x -v` has the two recipients "a@x" and "-v".
 *
 * msmtp's long options that stand for configuration commands (--port=N,
 * --tls[=on|off], --user=, ...; see msmtp_options below) and -X FILE, -N,
 * -R become settings (struct config_setting) that the configuration code
 * validates and applies over the chosen account; --host means no
 * configuration file at all, as in msmtp.
 *
 * Choices where sendmail implementations differ:
 *   - -f/-r given twice: the last one wins (Postfix, msmtp).
 *   - Two different modes (-bp -q): a usage error naming both.
 *   - --help and --version win over every other mode and ignore
 *     recipients, but a malformed option is still reported.
 *   - --store-password/--forget-password/--authorize take the account as
 *     --store-password=NAME or as one argument among or after the options
 *     (they have no recipients, so options after it are still options).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "i18n.h"

#define VERBOSE_MAX 100
#define VERBOSE_DEBUG 2      /* -d, --debug: msmtp's "lots of debugging information" */

struct cli_parser {
    int argc;
    char **argv;
    int i;                   /* index of the argument being parsed */
    struct options *o;
    const char *mode_opt;    /* option that chose the mode, NULL if default/argv[0] */
    bool want_help;
    bool want_version;
    bool force;              /* --force seen */
    bool mode_arg_given;     /* --store-password=NAME form used */
    const char *device_opt;  /* --device or --authorize-timeout seen (for messages) */
};

static void usage_unknown(const char *opt, struct result *r)
{
    result_set(r, RC_USAGE, _("unknown option \"%s\"; see smtpfwd --help"), opt);
}

static void usage_needs_arg(const char *opt, struct result *r)
{
    result_set(r, RC_USAGE, _("option %s needs an argument"), opt);
}

/* The argument of option `opt`: `attached` when non-empty (-fADDR),
 * else the next word (-f ADDR), which is taken whatever it looks like,
 * as sendmail does. Returns NULL with r set when argv is exhausted. */
static const char *take_arg(struct cli_parser *p, const char *attached, const char *opt,
                            struct result *r)
{
    if (attached != NULL && attached[0] != '\0')
        return attached;
    if (p->i + 1 >= p->argc) {
        usage_needs_arg(opt, r);
        return NULL;
    }
    p->i++;
    return p->argv[p->i];
}

/* Record a setting for the configuration (option as written, for
 * messages). */
static int add_setting(struct cli_parser *p, const char *command, const char *value,
                       const char *option, struct result *r)
{
    struct options *o = p->o;
    if (o->nsettings == CLI_MAX_SETTINGS) {
        result_set(r, RC_USAGE, _("too many configuration options on the command line "
                                  "(at most %d); put them in the configuration file"),
                   CLI_MAX_SETTINGS);
        return -1;
    }
    o->settings[o->nsettings].command = command;
    o->settings[o->nsettings].value = value;
    o->settings[o->nsettings].option = option;
    o->nsettings++;
    if (strcmp(command, "host") == 0)
        o->host_only = true;
    return 0;
}

static void more_verbose(struct options *o, int by)
{
    o->verbose = o->verbose + by < VERBOSE_MAX ? o->verbose + by : VERBOSE_MAX;
}

static int set_mode(struct cli_parser *p, enum cli_mode mode, const char *opt, struct result *r)
{
    if (p->mode_opt != NULL && p->o->mode != mode) {
        result_set(r, RC_USAGE, _("options %s and %s cannot be used together"), p->mode_opt, opt);
        return -1;
    }
    p->o->mode = mode;
    p->mode_opt = opt;
    return 0;
}

/* The value of -oX / -o X: "i", "eX", "dX", anything else is ignored. */
static int parse_o_value(struct cli_parser *p, const char *val, struct result *r)
{
    if (strcmp(val, "i") == 0) {
        p->o->ignore_dots = true;
        return 0;
    }
    if (val[0] == 'e') {
        if (val[1] == '\0' || val[2] != '\0' || strchr("mepqw", val[1]) == NULL) {
            result_set(r, RC_USAGE, _("option -oe needs one of m, e, p, q or w (as in -oem), not \"%s\""),
                       val + 1);
            return -1;
        }
        p->o->error_mode = val + 1;
        return 0;
    }
    if (val[0] == 'd') {
        if (val[1] == '\0' || val[2] != '\0' || strchr("ibqd", val[1]) == NULL) {
            result_set(r, RC_USAGE, _("option -od needs one of i, b, q or d (as in -odi), not \"%s\""),
                       val + 1);
            return -1;
        }
        p->o->delivery_mode = val + 1;
        p->o->queue_only = val[1] == 'q';
        return 0;
    }
    return 0;   /* -oXvalue: other sendmail.cf options, accepted and ignored */
}

/* -bX: the operation mode. */
static int parse_b(struct cli_parser *p, const char *arg, struct result *r)
{
    char letter = arg[2];

    if (letter == '\0') {
        result_set(r, RC_USAGE, _("option -b needs a mode letter: -bm, -bp, -bs or -bi"));
        return -1;
    }
    if (arg[3] != '\0' || !((letter >= 'a' && letter <= 'z') || (letter >= 'A' && letter <= 'Z'))) {
        usage_unknown(arg, r);
        return -1;
    }
    switch (letter) {
    case 'm':
        return set_mode(p, MODE_SEND, arg, r);
    case 'p':
        return set_mode(p, MODE_LIST_QUEUE, arg, r);
    case 's':
        return set_mode(p, MODE_SMTP_STDIN, arg, r);
    case 'i':
        return set_mode(p, MODE_NEWALIASES, arg, r);
    default:
        result_set(r, RC_USAGE, _("mode %s is not supported"), arg);
        return -1;
    }
}

/* A -q interval such as 30m, 1h30m or 15: digits with optional units. */
static bool is_queue_interval(const char *s)
{
    if (!(*s >= '0' && *s <= '9'))
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || strchr("smhdw", *s) != NULL))
            return false;
    return true;
}

static int parse_q(struct cli_parser *p, const char *arg, struct result *r)
{
    if (strcmp(arg, "-qf") == 0) {
        p->o->flush_force = true;
    } else if (arg[2] != '\0' && !is_queue_interval(arg + 2)) {
        usage_unknown(arg, r);
        return -1;
    }
    return set_mode(p, MODE_FLUSH, arg, r);
}

/* -B 7BIT|8BITMIME, stored uppercased (as a literal); any other type
 * (BINARYMIME, ...) is accepted and ignored, as msmtp ignores -B. */
static void set_body_type(struct cli_parser *p, const char *val)
{
    if (ascii_strcasecmp(val, "7BIT") == 0)
        p->o->body_type = "7BIT";
    else if (ascii_strcasecmp(val, "8BITMIME") == 0)
        p->o->body_type = "8BITMIME";
}

/* -N, --dsn-notify: never, a list, or msmtp's "off" (no NOTIFY, whatever
 * the account says). Validated with the account's dsn_notify rules. */
static int set_dsn_notify(struct cli_parser *p, const char *val, const char *opt,
                          struct result *r)
{
    p->o->dsn_notify = ascii_strcasecmp(val, "off") == 0 ? NULL : val;
    return add_setting(p, "dsn_notify", val, opt, r);
}

/* -R, --dsn-return: full, hdrs or headers (msmtp's spelling), or off. */
static int set_dsn_return(struct cli_parser *p, const char *val, const char *opt,
                          struct result *r)
{
    bool hdrs = ascii_strcasecmp(val, "hdrs") == 0 || ascii_strcasecmp(val, "headers") == 0;
    bool off = ascii_strcasecmp(val, "off") == 0;
    if (!hdrs && !off && ascii_strcasecmp(val, "full") != 0) {
        result_set(r, RC_USAGE, _("option %s needs full, hdrs, headers or off, not \"%s\""),
                   opt, val);
        return -1;
    }
    p->o->dsn_return = off ? NULL : val;
    return add_setting(p, "dsn_return", hdrs ? "headers" : val, opt, r);
}

/* Options that are exactly one letter and take no argument; arg is
 * "-X" for that letter (it may be quoted in a message). */
static int parse_flag(struct cli_parser *p, const char *arg, struct result *r)
{
    switch (arg[1]) {
    case 't':
        p->o->read_recipients = true;
        return 0;
    case 'i':
        p->o->ignore_dots = true;
        return 0;
    case 'v':
        more_verbose(p->o, 1);
        return 0;
    case 'd':       /* msmtp: debugging output */
        more_verbose(p->o, VERBOSE_DEBUG);
        return 0;
    case 'G':       /* relay submission: accepted, ignored */
    case 'U':       /* initial user submission: accepted, ignored */
    case 'm':       /* sendmail "me too": accepted, ignored (msmtp) */
    case 'n':       /* no aliasing: accepted, ignored (msmtp) */
        return 0;
    case 'I':
        return set_mode(p, MODE_NEWALIASES, arg, r);
    case 'P':
        return set_mode(p, MODE_PRETEND, arg, r);
    case 'S':
        return set_mode(p, MODE_SERVERINFO, arg, r);
    default:
        usage_unknown(arg, r);
        return -1;
    }
}

/* Options that take an argument, attached (-fADDR) or separate (-f ADDR). */
static int parse_with_arg(struct cli_parser *p, const char *arg, struct result *r)
{
    char opt[3] = { '-', arg[1], '\0' };
    const char *val = take_arg(p, arg + 2, opt, r);

    if (val == NULL)
        return -1;
    switch (arg[1]) {
    case 'f':
    case 'r':
        p->o->from = val;
        return 0;
    case 'F':
        p->o->full_name = val;
        return 0;
    case 'N':
        return set_dsn_notify(p, val, "-N", r);
    case 'R':
        return set_dsn_return(p, val, "-R", r);
    case 'V':
        p->o->dsn_envid = val;
        return 0;
    case 'B':
        set_body_type(p, val);
        return 0;
    case 'X':       /* -X FILE: the log file (msmtp) */
        return add_setting(p, "logfile", val, "-X", r);
    case 'C':
        p->o->config_file = val;
        return 0;
    case 'a':
        p->o->account = val;
        return 0;
    case 'o':
        if (val[0] == '\0') {
            usage_needs_arg(opt, r);
            return -1;
        }
        return parse_o_value(p, val, r);
    case 'O':       /* -O Option=value: sendmail.cf options, ignored */
    case 'L':       /* -L tag: syslog tag, ignored */
    case 'h':       /* -h N: hop count, ignored */
    case 'A':       /* -A c|m: which sendmail.cf, ignored (msmtp) */
        return 0;
    default:
        usage_unknown(arg, r);
        return -1;
    }
}

/* The letters that take an argument (attached or in the next word). */
static const char with_arg_letters[] = "frFNRVBCaoOLhXA";

/* "-X" for a flag letter, as a string that lives as long as the program
 * (set_mode keeps the name of the option that chose the mode). */
static const char *flag_word(char letter)
{
    static const char *const words[] = {
        "-t", "-i", "-v", "-d", "-G", "-U", "-m", "-n", "-I", "-P", "-S",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (words[i][1] == letter)
            return words[i];
    return NULL;
}

/* A word of bundled letters after the first one, which was a flag:
 * flags, possibly ended by one letter that takes an argument (-tfADDR,
 * -tf ADDR). -b, -q and -o carry a value in their own word and are not
 * bundled. */
static int parse_bundle(struct cli_parser *p, const char *arg, struct result *r)
{
    for (const char *c = arg + 1; *c; c++) {
        const char *word = flag_word(*c);
        if (word != NULL) {
            if (parse_flag(p, word, r) != 0)
                return -1;
            continue;
        }
        if (c > arg + 1 && *c != 'o' && strchr(with_arg_letters, *c) != NULL) {
            /* parse_with_arg reads the letter at [1] and the attached
             * argument from [2]: c - 1 keeps the argument inside argv */
            return parse_with_arg(p, c - 1, r);
        }
        result_set(r, RC_USAGE, _("unknown option \"-%c\" in \"%s\"; see smtpfwd --help"),
                   *c, arg);
        return -1;
    }
    return 0;
}

static int parse_short(struct cli_parser *p, const char *arg, struct result *r)
{
    switch (arg[1]) {
    case 'b':
        return parse_b(p, arg, r);
    case 'q':
        return parse_q(p, arg, r);
    default:
        if (strchr(with_arg_letters, arg[1]) != NULL)
            return parse_with_arg(p, arg, r);
        if (arg[2] != '\0') {
            if (flag_word(arg[1]) == NULL) {
                usage_unknown(arg, r);
                return -1;
            }
            return parse_bundle(p, arg, r);
        }
        return parse_flag(p, arg, r);
    }
}

/* Long options. `name` is the word without "=VALUE"; `eq` points at the
 * value after '=' or is NULL. */
enum long_kind { LONG_FLAG, LONG_ARG, LONG_OPTIONAL };

enum long_id {
    L_HELP, L_VERSION, L_PRETEND, L_ACCOUNT, L_FLUSH, L_FORCE, L_SERVERINFO,
    L_STORE_PASSWORD, L_FORGET_PASSWORD, L_VERBOSE, L_FILE, L_FROM, L_READ_RECIPIENTS,
    L_QUEUE_JSON, L_QUEUE_REMOVE, L_QUEUE_RETRY, L_DEBUG, L_READ_ENVELOPE_FROM,
    L_DSN_NOTIFY, L_DSN_RETURN, L_AUTHORIZE, L_DEVICE, L_AUTHORIZE_TIMEOUT, L_CONFIGURE,
    L_WRITE,
};

/* --authorize-timeout: at most a day. */
#define AUTHORIZE_TIMEOUT_MAX (24 * 60 * 60)

/* msmtp 1.8's options that stand for a configuration command. `bare` is
 * the argument of an optional-value option given without "=" (msmtp:
 * --tls is --tls=on, --set-date-header is --set-date-header=auto); NULL
 * means the option needs a value, as "--opt=VALUE" or "--opt VALUE",
 * where an empty VALUE unsets the setting. */
static const struct {
    const char *name;
    const char *command;
    const char *bare;
} msmtp_options[] = {
    { "--host", "host", NULL },
    { "--port", "port", NULL },
    { "--source-ip", "source_ip", NULL },
    { "--proxy-host", "proxy_host", NULL },
    { "--proxy-port", "proxy_port", NULL },
    { "--proxy-user", "proxy_user", NULL },
    { "--socket", "socket", NULL },
    { "--timeout", "timeout", NULL },
    { "--connect-timeout", "connect_timeout", NULL },
    { "--protocol", "protocol", NULL },
    { "--domain", "domain", NULL },
    { "--auth", "auth", "on" },
    { "--user", "user", NULL },
    { "--passwordeval", "passwordeval", NULL },
    { "--tls", "tls", "on" },
    { "--tls-starttls", "tls_starttls", "on" },
    { "--tls-trust-file", "tls_trust_file", NULL },
    { "--tls-crl-file", "tls_crl_file", NULL },
    { "--tls-fingerprint", "tls_fingerprint", NULL },
    { "--tls-key-file", "tls_key_file", NULL },
    { "--tls-cert-file", "tls_cert_file", NULL },
    { "--tls-certcheck", "tls_certcheck", "on" },
    { "--tls-priorities", "tls_priorities", NULL },
    { "--tls-host-override", "tls_host_override", NULL },
    { "--tls-min-dh-prime-bits", "tls_min_dh_prime_bits", NULL },
    { "--tls-force-sslv3", "tls_force_sslv3", "on" },
    { "--auto-from", "auto_from", "on" },
    { "--maildomain", "maildomain", NULL },
    { "--keepbcc", "keepbcc", "on" },
    { "--logfile", "logfile", NULL },
    { "--logfile-time-format", "logfile_time_format", NULL },
    { "--syslog", "syslog", "on" },
    { "--aliases", "aliases", NULL },
    { "--set-from-header", "set_from_header", "auto" },
    { "--set-date-header", "set_date_header", "auto" },
    { "--set-msgid-header", "set_msgid_header", "auto" },
    { "--remove-bcc-headers", "remove_bcc_headers", "on" },
    { "--undisclosed-recipients", "undisclosed_recipients", "on" },
};

/* A msmtp option that stands for a configuration command, or -1. */
static int msmtp_option(const char *arg, size_t namelen)
{
    for (size_t k = 0; k < sizeof msmtp_options / sizeof msmtp_options[0]; k++)
        if (strlen(msmtp_options[k].name) == namelen
            && strncmp(msmtp_options[k].name, arg, namelen) == 0)
            return (int)k;
    return -1;
}

static int parse_msmtp_option(struct cli_parser *p, int k, const char *eq, struct result *r)
{
    const char *name = msmtp_options[k].name;
    const char *val;

    if (eq != NULL)
        val = eq + 1;
    else if (msmtp_options[k].bare != NULL)
        val = msmtp_options[k].bare;
    else if ((val = take_arg(p, NULL, name, r)) == NULL)
        return -1;
    return add_setting(p, msmtp_options[k].command, val, name, r);
}

static const struct {
    const char *name;
    enum long_id id;
    enum long_kind kind;
} long_options[] = {
    { "--help", L_HELP, LONG_FLAG },
    { "--version", L_VERSION, LONG_FLAG },
    { "--pretend", L_PRETEND, LONG_FLAG },
    { "--account", L_ACCOUNT, LONG_ARG },
    { "--flush", L_FLUSH, LONG_FLAG },
    { "--force", L_FORCE, LONG_FLAG },
    { "--serverinfo", L_SERVERINFO, LONG_FLAG },
    { "--store-password", L_STORE_PASSWORD, LONG_OPTIONAL },
    { "--forget-password", L_FORGET_PASSWORD, LONG_OPTIONAL },
    { "--verbose", L_VERBOSE, LONG_FLAG },
    { "--file", L_FILE, LONG_ARG },
    { "--from", L_FROM, LONG_ARG },
    { "--read-recipients", L_READ_RECIPIENTS, LONG_FLAG },
    { "--queue-json", L_QUEUE_JSON, LONG_FLAG },
    { "--queue-remove", L_QUEUE_REMOVE, LONG_FLAG },
    { "--queue-retry", L_QUEUE_RETRY, LONG_FLAG },
    { "--debug", L_DEBUG, LONG_FLAG },
    { "--read-envelope-from", L_READ_ENVELOPE_FROM, LONG_FLAG },
    { "--dsn-notify", L_DSN_NOTIFY, LONG_ARG },
    { "--dsn-return", L_DSN_RETURN, LONG_ARG },
    { "--authorize", L_AUTHORIZE, LONG_OPTIONAL },
    { "--device", L_DEVICE, LONG_FLAG },
    { "--authorize-timeout", L_AUTHORIZE_TIMEOUT, LONG_ARG },
    { "--configure", L_CONFIGURE, LONG_OPTIONAL },
    { "--write", L_WRITE, LONG_FLAG },
};

/* --authorize-timeout=SECONDS: a whole number from 1 to a day. */
static int parse_authorize_timeout(struct cli_parser *p, const char *val, const char *opt,
                                   struct result *r)
{
    long n = 0;
    const char *s = val;
    for (; *s >= '0' && *s <= '9' && n <= AUTHORIZE_TIMEOUT_MAX; s++)
        n = n * 10 + (*s - '0');
    if (s == val || *s != '\0' || n < 1 || n > AUTHORIZE_TIMEOUT_MAX) {
        result_set(r, RC_USAGE, _("option %s needs a number of seconds from 1 to %d, not "
                                  "\"%s\""), opt, AUTHORIZE_TIMEOUT_MAX, val);
        return -1;
    }
    p->o->authorize_timeout = (int)n;
    return 0;
}

static int parse_long(struct cli_parser *p, const char *arg, struct result *r)
{
    const char *eq = strchr(arg, '=');
    size_t namelen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const char *name = NULL;
    const char *val = NULL;
    size_t k;

    for (k = 0; k < sizeof long_options / sizeof long_options[0]; k++) {
        if (strlen(long_options[k].name) == namelen
            && strncmp(long_options[k].name, arg, namelen) == 0)
            break;
    }
    if (k == sizeof long_options / sizeof long_options[0]) {
        int m = msmtp_option(arg, namelen);
        if (m >= 0)
            return parse_msmtp_option(p, m, eq, r);
        if (eq != NULL) {
            char *shown = xstrndup(arg, namelen);
            usage_unknown(shown, r);
            free(shown);
        } else {
            usage_unknown(arg, r);
        }
        return -1;
    }
    name = long_options[k].name;
    switch (long_options[k].kind) {
    case LONG_FLAG:
        if (eq != NULL) {
            result_set(r, RC_USAGE, _("option %s takes no argument"), name);
            return -1;
        }
        break;
    case LONG_ARG:
        val = eq != NULL ? eq + 1 : take_arg(p, NULL, name, r);
        if (val == NULL)
            return -1;
        break;
    case LONG_OPTIONAL:
        val = eq != NULL ? eq + 1 : NULL;
        if (val != NULL && val[0] == '\0') {
            usage_needs_arg(name, r);
            return -1;
        }
        break;
    }

    switch (long_options[k].id) {
    case L_HELP:
        p->want_help = true;
        return 0;
    case L_VERSION:
        p->want_version = true;
        return 0;
    case L_PRETEND:
        return set_mode(p, MODE_PRETEND, name, r);
    case L_ACCOUNT:
    case L_FILE:
        if (val[0] == '\0') {
            usage_needs_arg(name, r);
            return -1;
        }
        if (long_options[k].id == L_ACCOUNT)
            p->o->account = val;
        else
            p->o->config_file = val;
        return 0;
    case L_FLUSH:
        return set_mode(p, MODE_FLUSH, name, r);
    case L_FORCE:
        p->force = true;
        return 0;
    case L_SERVERINFO:
        return set_mode(p, MODE_SERVERINFO, name, r);
    case L_STORE_PASSWORD:
    case L_FORGET_PASSWORD:
    case L_AUTHORIZE:
        if (set_mode(p, long_options[k].id == L_STORE_PASSWORD    ? MODE_STORE_PASSWORD
                        : long_options[k].id == L_FORGET_PASSWORD ? MODE_FORGET_PASSWORD
                                                                  : MODE_AUTHORIZE,
                     name, r) != 0)
            return -1;
        if (val != NULL) {
            p->o->mode_arg = val;
            p->mode_arg_given = true;
        }
        return 0;
    case L_CONFIGURE:
        /* --configure=ADDRESS, --configure ADDRESS (options may follow),
         * or the address as the operand after the options (--configure
         * --write ADDRESS) */
        if (set_mode(p, MODE_CONFIGURE, name, r) != 0)
            return -1;
        if (val == NULL && p->i + 1 < p->argc && p->argv[p->i + 1] != NULL
            && p->argv[p->i + 1][0] != '-')
            val = p->argv[++p->i];
        if (val != NULL) {
            p->o->mode_arg = val;
            p->mode_arg_given = true;
        }
        return 0;
    case L_WRITE:
        p->o->write_config = true;
        return 0;
    case L_DEVICE:
        p->o->device = true;
        p->device_opt = name;
        return 0;
    case L_AUTHORIZE_TIMEOUT:
        p->device_opt = name;
        return parse_authorize_timeout(p, val, name, r);
    case L_VERBOSE:
        more_verbose(p->o, 1);
        return 0;
    case L_DEBUG:
        more_verbose(p->o, VERBOSE_DEBUG);
        return 0;
    case L_READ_ENVELOPE_FROM:
        p->o->read_envelope_from = true;
        return 0;
    case L_DSN_NOTIFY:
        return set_dsn_notify(p, val, name, r);
    case L_DSN_RETURN:
        return set_dsn_return(p, val, name, r);
    case L_FROM:
        p->o->from = val;
        return 0;
    case L_READ_RECIPIENTS:
        p->o->read_recipients = true;
        return 0;
    case L_QUEUE_JSON:
        p->o->queue_json = true;
        return set_mode(p, MODE_LIST_QUEUE, name, r);
    case L_QUEUE_REMOVE:
        return set_mode(p, MODE_QUEUE_REMOVE, name, r);
    case L_QUEUE_RETRY:
        return set_mode(p, MODE_QUEUE_RETRY, name, r);
    }
    return 0;
}

/* The modes whose one argument is an account name. */
static bool takes_account(enum cli_mode mode)
{
    return mode == MODE_STORE_PASSWORD || mode == MODE_FORGET_PASSWORD
           || mode == MODE_AUTHORIZE;
}

static const char *base_name(const char *path)
{
    const char *slash;

    if (path == NULL || path[0] == '\0')
        return PACKAGE;
    slash = strrchr(path, '/');
    if (slash == NULL)
        return path;
    return slash[1] != '\0' ? slash + 1 : PACKAGE;
}

/* Checks that need the whole command line. */
static int check_combination(struct cli_parser *p, struct result *r)
{
    struct options *o = p->o;
    const char *what;

    if (p->force && o->mode != MODE_FLUSH) {
        result_set(r, RC_USAGE, _("option --force can only be used with --flush"));
        return -1;
    }
    if (p->force)
        o->flush_force = true;
    if (p->device_opt && o->mode != MODE_AUTHORIZE) {
        result_set(r, RC_USAGE, _("option %s can only be used with --authorize"),
                   p->device_opt);
        return -1;
    }
    if (o->write_config && o->mode != MODE_CONFIGURE) {
        result_set(r, RC_USAGE, _("option --write can only be used with --configure"));
        return -1;
    }
    if (o->host_only && o->account != NULL) {
        result_set(r, RC_USAGE, _("options --host and --account cannot be used together: "
                                  "--host uses no configuration file"));
        return -1;
    }

    switch (o->mode) {
    case MODE_STORE_PASSWORD:
    case MODE_FORGET_PASSWORD:
    case MODE_AUTHORIZE:
        if (o->nrecipients > (p->mode_arg_given ? 0 : 1)) {
            result_set(r, RC_USAGE, _("%s takes at most one account name"), p->mode_opt);
            return -1;
        }
        if (o->nrecipients == 1)
            o->mode_arg = o->recipients[0];
        o->recipients = NULL;
        o->nrecipients = 0;
        if (o->mode == MODE_AUTHORIZE && o->mode_arg && o->account
            && strcmp(o->mode_arg, o->account) != 0) {
            result_set(r, RC_USAGE, _("%s %s and -a %s name two different accounts; name "
                                      "one"), p->mode_opt, o->mode_arg, o->account);
            return -1;
        }
        return 0;
    case MODE_CONFIGURE:
        if (o->nrecipients > (p->mode_arg_given ? 0 : 1)) {
            result_set(r, RC_USAGE, _("%s takes one address (found also \"%s\")"),
                       p->mode_opt, o->recipients[p->mode_arg_given ? 0 : 1]);
            return -1;
        }
        if (o->nrecipients == 1)
            o->mode_arg = o->recipients[0];
        o->recipients = NULL;
        o->nrecipients = 0;
        if (o->mode_arg == NULL) {
            result_set(r, RC_USAGE, _("option %s needs a mail address"), p->mode_opt);
            return -1;
        }
        return 0;
    case MODE_LIST_QUEUE:
    case MODE_FLUSH:
    case MODE_SERVERINFO:
    case MODE_NEWALIASES:
    case MODE_SMTP_STDIN:
        if (o->mode == MODE_SMTP_STDIN && o->read_recipients) {
            result_set(r, RC_USAGE, _("-t cannot be used with -bs: the recipients come from "
                                      "RCPT TO; leave out -t"));
            return -1;
        }
        if (o->nrecipients > 0) {
            what = p->mode_opt != NULL ? p->mode_opt : o->progname;
            result_set(r, RC_USAGE, _("%s takes no recipients (found \"%s\")"), what,
                       o->recipients[0]);
            return -1;
        }
        return 0;
    case MODE_QUEUE_REMOVE:
    case MODE_QUEUE_RETRY:
        if (o->nrecipients == 0) {
            result_set(r, RC_USAGE, _("%s needs at least one queue id (see mailq)"),
                       p->mode_opt);
            return -1;
        }
        return 0;
    case MODE_SEND:
        if (o->nrecipients == 0 && !o->read_recipients) {
            result_set(r, RC_USAGE,
                       _("no recipients given; name them as arguments or use -t to read them "
                         "from the message"));
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int cli_parse(int argc, char **argv, struct options *opts, struct result *r)
{
    struct cli_parser p;
    int first_recipient, end;

    memset(opts, 0, sizeof *opts);
    opts->mode = MODE_SEND;
    opts->progname = base_name(argc > 0 ? argv[0] : NULL);
    if (strcmp(opts->progname, "mailq") == 0)
        opts->mode = MODE_LIST_QUEUE;
    else if (strcmp(opts->progname, "newaliases") == 0)
        opts->mode = MODE_NEWALIASES;

    memset(&p, 0, sizeof p);
    p.argc = argc;
    p.argv = argv;
    p.o = opts;

    for (p.i = 1; p.i < argc; p.i++) {
        const char *arg = argv[p.i];
        int rc;

        if (arg == NULL)
            break;
        if (strcmp(arg, "--") == 0) {
            p.i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            /* The account of --authorize/--store-password/--forget-password:
             * options may follow it (these modes have no recipients). */
            if (takes_account(opts->mode) && p.mode_opt != NULL && !p.mode_arg_given) {
                opts->mode_arg = arg;
                p.mode_arg_given = true;
                continue;
            }
            break;     /* first recipient: options end here, as in sendmail */
        }
        if (arg[1] == '-')
            rc = parse_long(&p, arg, r);
        else
            rc = parse_short(&p, arg, r);
        if (rc != 0)
            return -1;
    }
    /* A NULL before argc (a caller that miscounted) ends the list. */
    first_recipient = p.i < argc ? p.i : argc;
    for (end = first_recipient; end < argc && argv[end] != NULL; end++)
        ;
    opts->nrecipients = end - first_recipient;
    opts->recipients = opts->nrecipients > 0 ? argv + first_recipient : NULL;

    if (p.want_help || p.want_version) {
        opts->mode = p.want_help ? MODE_HELP : MODE_VERSION;
        return 0;
    }
    return check_combination(&p, r);
}
