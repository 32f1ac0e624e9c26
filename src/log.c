/*
 * log.c - diagnostics on stderr, the -v transcript, and the key=value
 * line per delivery attempt for logfile and syslog (format in log.h).
 * Writing a log must never make a delivery fail: errors become warnings.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "result.h"

static int verbose_level;
static bool holding;
static struct buf held = BUF_INIT;

void log_hold(void)
{
    holding = true;
}

void log_release(bool write_them)
{
    if (write_them && held.len)
        (void)write_all(2, held.data, held.len);
    buf_free(&held);
    holding = false;
}

void log_set_verbose(int level)
{
    verbose_level = level;
}

int log_verbose(void)
{
    return verbose_level;
}

static void emit_to(bool hold, const char *prefix, const char *fmt, va_list ap)
    ATTR_PRINTF(3, 0);
static void emit_to(bool hold, const char *prefix, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "smtpfwd: ");
    if (prefix)
        buf_puts(&b, prefix);
    char *m = xvasprintf(fmt, ap);
    buf_puts(&b, m);
    free(m);
    buf_putc(&b, '\n');
    if (hold)
        buf_append(&held, b.data, b.len);
    else
        (void)write_all(2, b.data, b.len);
    buf_free(&b);
}

static void emit(const char *prefix, const char *fmt, va_list ap) ATTR_PRINTF(2, 0);
static void emit(const char *prefix, const char *fmt, va_list ap)
{
    emit_to(holding, prefix, fmt, ap);
}

void log_warning_unheld(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_to(false, _("warning: "), fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(NULL, fmt, ap);
    va_end(ap);
}

void log_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(_("warning: "), fmt, ap);
    va_end(ap);
}

void log_debug(int level, const char *fmt, ...)
{
    if (verbose_level < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(NULL, fmt, ap);
    va_end(ap);
}

void log_transcript(char dir, const char *data, size_t len)
{
    if (verbose_level < 1)
        return;
    struct buf b = BUF_INIT;
    const char *arrow = dir == '<' ? "<-- " : "--> ";
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        size_t end = j;
        if (end > i && data[end - 1] == '\r')
            end--;
        buf_puts(&b, arrow);
        buf_put_escaped(&b, data + i, end - i, 0);
        buf_putc(&b, '\n');
        i = j < len ? j + 1 : j;
    }
    (void)write_all(2, b.data, b.len);
    buf_free(&b);
}

/* Append key=value; values with blanks or quotes are single-quoted. */
static void put_kv(struct buf *b, const char *key, const char *value)
{
    if (b->len)
        buf_putc(b, ' ');
    buf_puts(b, key);
    buf_putc(b, '=');
    bool quote = !*value || strpbrk(value, " \t'\"") != NULL;
    if (quote)
        buf_putc(b, '\'');
    for (const char *p = value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\'')
            buf_puts(b, "'\\''");
        else if (c < 0x20 || c == 0x7f)
            buf_putc(b, ' ');
        else
            buf_putc(b, (char)c);
    }
    if (quote)
        buf_putc(b, '\'');
}

char *log_attempt_format(const struct log_attempt *a)
{
    struct buf b = BUF_INIT;
    put_kv(&b, "host", a->host ? a->host : "");
    put_kv(&b, "tls", a->tls ? "on" : "off");
    put_kv(&b, "auth", a->auth ? "on" : "off");
    if (a->user)
        put_kv(&b, "user", a->user);
    put_kv(&b, "from", a->from ? a->from : "");
    struct buf r = BUF_INIT;
    for (size_t i = 0; i < a->nrecipients; i++) {
        if (i)
            buf_putc(&r, ',');
        buf_puts(&r, a->recipients[i]);
    }
    put_kv(&b, "recipients", r.data ? r.data : "");
    buf_free(&r);
    if (a->mailsize >= 0) {
        char num[32];
        snprintf(num, sizeof num, "%lld", a->mailsize);
        put_kv(&b, "mailsize", num);
    }
    if (a->smtpstatus > 0) {
        char num[16];
        snprintf(num, sizeof num, "%d", a->smtpstatus);
        put_kv(&b, "smtpstatus", num);
    }
    if (a->smtpmsg)
        put_kv(&b, "smtpmsg", a->smtpmsg);
    if (a->errormsg)
        put_kv(&b, "errormsg", a->errormsg);
    put_kv(&b, "account", a->account ? a->account : "");
    if (a->fallback_for)
        put_kv(&b, "fallback-for", a->fallback_for);
    if (a->queued)
        put_kv(&b, "queued", a->queued);
    put_kv(&b, "exitcode", result_status_name(a->exitcode));
    return buf_steal(&b);
}

static const struct { const char *name; int facility; } facilities[] = {
    { "LOG_USER", LOG_USER }, { "LOG_MAIL", LOG_MAIL },
    { "LOG_LOCAL0", LOG_LOCAL0 }, { "LOG_LOCAL1", LOG_LOCAL1 },
    { "LOG_LOCAL2", LOG_LOCAL2 }, { "LOG_LOCAL3", LOG_LOCAL3 },
    { "LOG_LOCAL4", LOG_LOCAL4 }, { "LOG_LOCAL5", LOG_LOCAL5 },
    { "LOG_LOCAL6", LOG_LOCAL6 }, { "LOG_LOCAL7", LOG_LOCAL7 },
};

void log_attempt_write(const struct log_attempt *a, const char *logfile,
                       const char *time_format, const char *syslog_facility)
{
    if (!logfile && !syslog_facility)
        return;
    char *line = log_attempt_format(a);
    if (logfile) {
        char stamp[128] = "";
        time_t now = time(NULL);
        struct tm tm;
        if (localtime_r(&now, &tm)) {
            /* The format is the user's logfile_time_format. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            strftime(stamp, sizeof stamp, time_format ? time_format : "%b %d %H:%M:%S", &tm);
#pragma GCC diagnostic pop
        }
        char *text = xasprintf("%s%s%s\n", stamp, stamp[0] ? " " : "", line);
        if (strcmp(logfile, "-") == 0) {
            fputs(text, stdout);
            fflush(stdout);
        } else {
            /* O_NONBLOCK: a FIFO nobody reads fails (ENXIO) instead of
             * blocking the run forever, and a full one fails the write. */
            int fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY
                                       | O_NONBLOCK, 0600);
            if (fd < 0 || write_all(fd, text, strlen(text)) != 0)
                log_warning(_("cannot write log file %s: %s"), logfile, strerror(errno));
            if (fd >= 0)
                close(fd);
        }
        free(text);
    }
    if (syslog_facility) {
        int facility = LOG_MAIL;
        for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
            if (strcmp(facilities[i].name, syslog_facility) == 0)
                facility = facilities[i].facility;
        openlog("smtpfwd", LOG_PID, facility);
        syslog(a->exitcode == 0 ? LOG_INFO : LOG_ERR, "%s", line);
        closelog();
    }
    free(line);
}
