/*
 * cli.h - the sendmail-compatible command line (doc/callers.md) and
 * smtpfwd's long options, turned into `struct options` and a mode.
 *
 * Parsing never prints and never exits: errors come back as RC_USAGE in r,
 * with a message naming the option.
 *
 * msmtp's options that stand for configuration commands (--port=N,
 * --tls[=on|off], -X FILE, -N/-R, ...) are collected, in order, as
 * settings for config_apply_settings(): their values are validated there,
 * by the configuration's own rules, not here. The name the program was invoked
 * under matters: "mailq" means -bp, "newaliases" means -bi.
 */
#ifndef SMTPFWD_CLI_H
#define SMTPFWD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include "smtprc.h"
#include "result.h"

/* How many msmtp configuration options one command line may give. */
#define CLI_MAX_SETTINGS 64

enum cli_mode {
    MODE_SEND = 0,        /* -bm (default): read a message, deliver it */
    MODE_LIST_QUEUE,      /* -bp, mailq */
    MODE_FLUSH,           /* -q, --flush */
    MODE_SMTP_STDIN,      /* -bs */
    MODE_NEWALIASES,      /* -bi, -I, newaliases: nothing to do */
    MODE_PRETEND,         /* -P, --pretend */
    MODE_SERVERINFO,      /* -S, --serverinfo */
    MODE_STORE_PASSWORD,  /* --store-password */
    MODE_FORGET_PASSWORD, /* --forget-password */
    MODE_HELP,            /* --help */
    MODE_VERSION,         /* --version */
    MODE_QUEUE_REMOVE,    /* --queue-remove ID... (ids in recipients) */
    MODE_QUEUE_RETRY,     /* --queue-retry ID... (ids in recipients) */
    MODE_AUTHORIZE,       /* --authorize [ACCOUNT]: OAuth2 authorization (oauth2.h) */
    MODE_CONFIGURE,       /* --configure ADDRESS [--write] (autoconfig.h) */
};

struct options {
    enum cli_mode mode;
    const char *config_file;     /* -C FILE */
    const char *account;         /* -a NAME, --account=NAME */
    const char *from;            /* -f / -r ADDR as given (may be "<>") */
    const char *full_name;       /* -F NAME */
    bool read_recipients;        /* -t */
    bool ignore_dots;            /* -i, -oi */
    int verbose;                 /* -v count, --verbose */
    const char *dsn_notify;      /* -N never|success,failure,delay (NULL for off) */
    const char *dsn_return;      /* -R full|hdrs|headers (NULL for off) */
    const char *dsn_envid;       /* -V ENVID */
    const char *body_type;       /* -B 7BIT|8BITMIME (uppercased) */
    bool queue_only;             /* -odq */
    bool flush_force;            /* -qf, --flush --force */
    bool queue_json;             /* --queue-json: -bp as JSON */
    const char *delivery_mode;   /* -od? letter as given, informational */
    const char *error_mode;      /* -oe? letter as given, informational */
    char **recipients;           /* argv tail: each an address LIST; not owned */
    int nrecipients;
    const char *mode_arg;        /* argument of modes that take one (store-password ACCOUNT,
                                    authorize ACCOUNT, configure ADDRESS) */
    bool device;                 /* --device: --authorize with the device flow */
    int authorize_timeout;       /* --authorize-timeout=SECONDS; 0 = the default (300) */
    bool write_config;           /* --write: --configure appends to the configuration file */
    struct config_setting settings[CLI_MAX_SETTINGS];  /* msmtp options, in order */
    size_t nsettings;
    bool host_only;              /* --host given: no configuration file is read */
    bool read_envelope_from;     /* --read-envelope-from: sender from the From header */
    const char *progname;        /* basename of argv[0] */
};

/* Parse argv into opts. Returns 0, or -1 with r set (RC_USAGE) naming the
 * offending option. opts points into argv; argv must outlive opts.
 * --authorize takes its account as --authorize=NAME, as the one argument
 * after the options, or from -a (two different names are an error);
 * --device and --authorize-timeout are errors without --authorize. */
int cli_parse(int argc, char **argv, struct options *opts, struct result *r);

/* Print --help (translated) to stdout. */
void cli_print_help(void);
/* Print --version with the features built in. */
void cli_print_version(void);

#endif
