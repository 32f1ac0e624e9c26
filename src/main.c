/*
 * main.c - wiring of the pipeline (doc/ARCHITECTURE.md, "Data flow"); nothing else.
 *
 *   argv -> cli -> options -> config -> account
 *   stdin -> intake -> message file -> submit (envelope, deliver or spool) -> exit status
 *   -bs: smtpd (each message: intake -> submit)
 *
 * Every failure arrives here as a struct result; its class decides the
 * exit status through result_exit_status(), the one mapping.
 */
#include <config.h>

#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autoconfig.h"
#include "cli.h"
#include "smtprc.h"
#include "deliver.h"
#include "envelope.h"
#include "flush.h"
#include "i18n.h"
#include "intake.h"
#include "log.h"
#include "message.h"
#include "oauth2.h"
#include "queue.h"
#include "result.h"
#include "secret.h"
#include "smtpd.h"
#include "submit.h"

/* Postfix's postdrop habit: make sure fds 0-2 are open so that no file we
 * open later becomes someone's stdout. */
static void open_standard_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) == -1) {
            int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n != fd)
                _exit(71);
        }
    }
}

/* Report r on stderr and return its exit status. */
static int fail(struct result *r)
{
    if (r->msg)
        log_error("%s", r->msg);
    int status = result_exit_status(r->cls);
    result_clear(r);
    return status;
}

/* The configuration and the account of this run (named by account, or
 * chosen by o->from). With msmtp's --host no file is read: the account is
 * made of the command-line settings alone. Returns the account (owned by
 * s, which the caller frees with submit_free even on failure), or NULL
 * with r set. */
static const struct account *load_account(const struct options *o, const char *account,
                                          struct submit *s, struct result *r)
{
    if (submit_init(s, o, r) != 0)
        return NULL;
    return submit_select(s, account, o->from, r);
}

static int run_pretend(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct submit s;
    const struct account *a = load_account(o, o->account, &s, &r);
    if (!a) {
        submit_free(&s);
        return fail(&r);
    }
    config_print_account(stdout, a);
    submit_free(&s);
    return fflush(stdout) == 0 ? 0 : result_exit_status(RC_IOERR);
}

/* -bp/mailq/--queue-json, -q/--flush, --queue-remove, --queue-retry. */
static int run_queue_command(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct config *cfg = NULL;
    if (config_load(o->config_file, &cfg, &r) != 0) {
        /* mailq without a usable configuration still lists the default
         * spool (the warning says why the accounts' spools are not). */
        if (o->mode != MODE_LIST_QUEUE || o->config_file)
            return fail(&r);
        log_warning("%s", r.msg);
        result_clear(&r);
        cfg = config_new();
    }
    int status = 0;
    switch (o->mode) {
    case MODE_FLUSH:
        status = result_exit_status(flush_queue(cfg, o->account, o->flush_force));
        break;
    case MODE_LIST_QUEUE:
        if (queue_list(cfg, stdout, o->queue_json, &r) != 0)
            status = fail(&r);
        break;
    case MODE_QUEUE_REMOVE:
    case MODE_QUEUE_RETRY:
        if ((o->mode == MODE_QUEUE_REMOVE ? queue_remove : queue_retry)(
                cfg, o->recipients, o->nrecipients, &r) != 0)
            status = fail(&r);
        break;
    default:
        status = result_exit_status(RC_SOFTWARE);
        break;
    }
    config_free(cfg);
    return status;
}

enum account_action { ACT_SERVERINFO, ACT_STORE_PASSWORD, ACT_FORGET_PASSWORD };

/* --serverinfo, --store-password, --forget-password: one account (from the
 * mode's argument, -a, the sender, or "default") and one action. */
static int run_account_action(const struct options *o, enum account_action act)
{
    struct result r = RESULT_INIT;
    struct submit s;
    const struct account *a = load_account(o, o->mode_arg ? o->mode_arg : o->account, &s, &r);
    int status = 0;
    if (!a) {
        status = fail(&r);
    } else if (act == ACT_SERVERINFO) {
        status = result_exit_status(deliver_serverinfo(a, stdout));
        if (fflush(stdout) != 0 && status == 0)
            status = result_exit_status(RC_IOERR);
    } else {
        int rc = act == ACT_STORE_PASSWORD ? secret_store_password(a, &r)
                                           : secret_forget_password(a, &r);
        status = rc == 0 ? 0 : fail(&r);
    }
    submit_free(&s);
    return status;
}

/* --authorize [ACCOUNT]: the account (the argument, -a, or the
 * default) and its OAuth2 authorization. */
static int run_authorize(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct submit s;
    const struct account *a = load_account(o, o->mode_arg ? o->mode_arg : o->account, &s, &r);
    int status = 0;
    if (!a || oauth2_authorize(a, o->device, o->authorize_timeout, &r) != 0)
        status = fail(&r);
    submit_free(&s);
    return status;
}

/* What the command line asks of the envelope. */
static struct envelope_request envelope_request_from(const struct options *o)
{
    return (struct envelope_request){
        .from = o->from,
        .recipients = o->recipients,
        .nrecipients = o->nrecipients > 0 ? (size_t)o->nrecipients : 0,
        .read_recipients = o->read_recipients,
        .dsn_notify = o->dsn_notify,
        .dsn_return = o->dsn_return,
        .dsn_envid = o->dsn_envid,
    };
}

static int run_send(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct submit s;
    struct message msg = { .fd = -1 };
    int status = 0;

    /* doc/ARCHITECTURE.md, contract 7: read to the end of input even
     * when failing before the message is read. */
    if (submit_init(&s, o, &r) != 0 || submit_account(&s, o->from, &r) != 0) {
        intake_drain(0);
        goto out;
    }
    if (intake_read(0, &s.io, &msg, &r) != 0)
        goto out;
    if (msg.nul_dropped)
        log_warning(ngettext("dropped %zu NUL byte from the message",
                             "dropped %zu NUL bytes from the message", msg.nul_dropped),
                    msg.nul_dropped);
    /* --read-envelope-from (msmtp): the sender is the From header's
     * address, as if given with -f; the account was chosen before. */
    struct envelope_request req = envelope_request_from(o);
    if (o->read_envelope_from) {
        if (!msg.from_header) {
            result_set(&r, RC_DATAERR, _("--read-envelope-from: the message has no From "
                                         "header with an address; give the sender with -f"));
            goto out;
        }
        req.from = msg.from_header;
    }
    status = submit_message(&s, &req, &msg, NULL, &r);

out:
    if (r.cls != RC_OK)
        status = fail(&r);
    message_free(&msg);
    submit_free(&s);
    return status;
}

int main(int argc, char **argv)
{
    open_standard_fds();
    /* Only the categories smtpfwd uses: the language and character set
     * of its messages and the logfile's time stamps. Loading all of them
     * (LC_ALL) opens a dozen locale files on every run. */
    setlocale(LC_CTYPE, "");
    setlocale(LC_MESSAGES, "");
    setlocale(LC_TIME, "");
#if ENABLE_NLS
    /* SMTPFWD_LOCALEDIR: the catalogs of a build tree, for the tests
     * (set and empty: the installed ones). */
    const char *localedir = getenv("SMTPFWD_LOCALEDIR");
    bindtextdomain(PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
    textdomain(PACKAGE);
#endif
    signal(SIGPIPE, SIG_IGN);
    umask(077);

    struct options o;
    struct result r = RESULT_INIT;
    if (cli_parse(argc, argv, &o, &r) != 0)
        return fail(&r);
    log_set_verbose(o.verbose);
    /* Before the configuration (passwords) is read. */
    secret_guard_process();

    switch (o.mode) {
    case MODE_HELP:
        cli_print_help();
        return 0;
    case MODE_VERSION:
        cli_print_version();
        return 0;
    case MODE_NEWALIASES:
        return 0;
    case MODE_PRETEND:
        return run_pretend(&o);
    case MODE_SEND:
        return run_send(&o);
    case MODE_LIST_QUEUE:
    case MODE_FLUSH:
    case MODE_QUEUE_REMOVE:
    case MODE_QUEUE_RETRY:
        return run_queue_command(&o);
    case MODE_SMTP_STDIN:
        return smtpd_run(&o);
    case MODE_SERVERINFO:
        return run_account_action(&o, ACT_SERVERINFO);
    case MODE_STORE_PASSWORD:
        return run_account_action(&o, ACT_STORE_PASSWORD);
    case MODE_FORGET_PASSWORD:
        return run_account_action(&o, ACT_FORGET_PASSWORD);
    case MODE_AUTHORIZE:
        return run_authorize(&o);
    case MODE_CONFIGURE:
        return autoconfig_run(o.mode_arg, o.write_config, o.config_file, &r) == 0 ? 0
                                                                                : fail(&r);
    }
    return result_exit_status(RC_SOFTWARE);
}
