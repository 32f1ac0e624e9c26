/*
 * main.c - wiring of the pipeline (doc/ARCHITECTURE.md, "Data flow"); nothing else.
 *
 *   argv -> cli -> options -> config -> account
 *   stdin -> intake -> message file -> envelope -> deliver -> exit status
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

#include "address.h"
#include "cli.h"
#include "smtprc.h"
#include "deliver.h"
#include "envelope.h"
#include "flush.h"
#include "i18n.h"
#include "intake.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "result.h"
#include "secret.h"

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

static int not_yet(const char *what)
{
    log_error(_("%s is not available in this version yet"), what);
    return result_exit_status(RC_USAGE);
}

static const struct account *choose_account(const struct options *o, const struct config *cfg,
                                            struct result *r)
{
    char *from = o->from ? address_strip_angles(o->from) : NULL;
    const struct account *a = config_select(cfg, o->account, from && *from ? from : NULL, r);
    free(from);
    return a;
}

/* The configuration and the account of this run. With msmtp's --host no
 * file is read: the account is made of the command-line settings alone.
 * Otherwise the files are read, the account is chosen, and the
 * command-line settings are applied over it. Returns the account (owned
 * by *cfg, which the caller frees even on failure), or NULL with r set. */
static const struct account *load_account(const struct options *o, struct config **cfg,
                                          struct result *r)
{
    *cfg = NULL;
    if (o->host_only)
        return config_from_settings(o->settings, o->nsettings, cfg, r) == 0
                   ? (*cfg)->accounts[0] : NULL;
    if (config_load(o->config_file, cfg, r) != 0)
        return NULL;
    const struct account *a = choose_account(o, *cfg, r);
    if (a && o->nsettings > 0
        && config_apply_settings(*cfg, a->name, o->settings, o->nsettings, r) != 0)
        return NULL;
    return a;
}

static int run_pretend(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct config *cfg = NULL;
    const struct account *a = load_account(o, &cfg, &r);
    if (!a) {
        config_free(cfg);
        return fail(&r);
    }
    config_print_account(stdout, a);
    config_free(cfg);
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
    struct config *cfg = NULL;
    struct options chosen = *o;
    if (o->mode_arg)
        chosen.account = o->mode_arg;
    const struct account *a = load_account(&chosen, &cfg, &r);
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
    config_free(cfg);
    return status;
}

/* The From: header value to add for sender, with a display name when one
 * is known; NULL when no From: should be added. */
static char *from_header_value(const struct options *o, const struct account *a,
                               const char *sender)
{
    if (a->set_from_header == HDR_OFF || !*sender)
        return NULL;
    return address_format_mailbox(o->full_name ? o->full_name : a->from_full_name, sender);
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

/* After a failed direct delivery with the spool on: keep the message
 * when the spool's policy says so (queue_enqueue_attempt) and start a
 * flush for the bounce of refused recipients. Returns the exit status:
 * 0 once durably queued (*id set, caller frees), else the original
 * status (the caller still owns the message), reporting both errors. */
static int queue_after_failure(const struct account *a, const struct config *cfg,
                               const struct envelope *env, const struct message *msg,
                               const struct delivery *d, int status, char **id)
{
    struct result qr = RESULT_INIT;
    bool bounce_due = false;
    int rc = queue_enqueue_attempt(a, env, msg, d, id, &bounce_due, &qr);
    if (rc < 0)
        log_error(_("the message could not be queued either: %s"), qr.msg);
    result_clear(&qr);
    if (rc != 0)
        return status;
    if (bounce_due)
        flush_queue_detached(cfg, a->name);
    return 0;
}

/* The message is in the spool: silent for cron and other programs (their
 * standard error is mailed or logged as a failure), one line for a person
 * at a terminal, who would otherwise learn of it days later. */
static void tell_queued(const char *id, const struct delivery *d)
{
    if (isatty(2))
        log_error(_("the message was queued as %s (%s); it will be retried; see it with "
                    "mailq or smtpfwd -bp"),
                  id, d->result.msg ? d->result.msg : _("not delivered"));
    else
        log_debug(1, _("message queued as %s; it will be retried"), id);
}

static int run_send(const struct options *o)
{
    struct result r = RESULT_INIT;
    struct config *cfg = NULL;
    struct message msg = { .fd = -1 };
    struct envelope env = { 0 };
    char *sender = NULL, *from_value = NULL, *mail_domain = NULL;
    int status = 0;

    /* doc/ARCHITECTURE.md, contract 7: read to the end of input even
     * when failing before the message is read. */
    const struct account *a = load_account(o, &cfg, &r);
    if (!a) {
        intake_drain(0);
        goto out;
    }
    sender = envelope_sender(o->from, a, &r);
    if (!sender) {
        intake_drain(0);
        goto out;
    }
    mail_domain = envelope_mail_domain(a);
    from_value = from_header_value(o, a, sender);

    struct intake_opts io = {
        .dot_ends = !o->ignore_dots && isatty(0),
        .remove_bcc = a->remove_bcc_headers,
        .undisclosed = a->undisclosed_recipients,
        .collect_rcpts = o->read_recipients,
        .add_from = from_value,
        .force_from = a->set_from_header == HDR_ON,
        .add_date = a->set_date_header != HDR_OFF,
        .msgid_domain = a->set_msgid_header != HDR_OFF ? mail_domain : NULL,
    };
    if (intake_read(0, &io, &msg, &r) != 0)
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
    if (envelope_build(&req, a, &msg, &env, &r) != 0)
        goto out;

    if (o->queue_only || a->queue == QUEUE_ALWAYS) {
        char *id = NULL;
        if (queue_enqueue(a, &env, &msg, NULL, &id, &r) != 0)
            goto out;
        log_debug(1, _("queued as %s"), id);
        free(id);
        goto out;
    }

    /* The log line waits for the decision about the spool (queued=). */
    struct delivery d = { .env = &env, .msg = &msg, .log_later = true };
    /* With the spool on, a failure that ends in the spool must not make
     * noise (cron mails whatever reaches stderr): diagnostics are held and
     * shown only when the message was not queued, or with -v. */
    if (a->queue != QUEUE_OFF && log_verbose() == 0)
        log_hold();
    enum result_class cls = deliver_session(a, &d, 1);
    status = result_exit_status(cls);
    char *id = NULL;
    if (cls != RC_OK && a->queue != QUEUE_OFF)
        status = queue_after_failure(a, cfg, &env, &msg, &d, status, &id);
    log_release(id == NULL);
    d.queued_id = id;
    deliver_log_attempt(a, &d);
    if (id)
        tell_queued(id, &d);
    free(id);
    if (cls == RC_OK && a->queue != QUEUE_OFF && queue_has_entries(a))
        flush_queue_detached(cfg, a->name);
    deliver_free(&d);

out:
    if (r.cls != RC_OK)
        status = fail(&r);
    envelope_free(&env);
    message_free(&msg);
    free(sender);
    free(from_value);
    free(mail_domain);
    config_free(cfg);
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
    bindtextdomain(PACKAGE, LOCALEDIR);
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
        return not_yet(_("SMTP on standard input (-bs)"));
    case MODE_SERVERINFO:
        return run_account_action(&o, ACT_SERVERINFO);
    case MODE_STORE_PASSWORD:
        return run_account_action(&o, ACT_STORE_PASSWORD);
    case MODE_FORGET_PASSWORD:
        return run_account_action(&o, ACT_FORGET_PASSWORD);
    }
    return result_exit_status(RC_SOFTWARE);
}
