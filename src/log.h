/*
 * log.h - everything smtpfwd tells people and log files: diagnostics on
 * stderr ("smtpfwd: ..."), the -v SMTP transcript, and the one key=value
 * line per delivery attempt written to `logfile` and/or syslog.
 *
 * The attempt line uses msmtp's keys so existing parsers keep working:
 *   host= tls= auth= user= from= recipients= mailsize= smtpstatus=
 *   smtpmsg='...' errormsg='...' exitcode=EX_...   plus account= and,
 *   when the message is kept in the spool after the attempt, queued=ID
 * Values containing spaces are single-quoted; a ' inside is written as '\''.
 * The format is documented in doc/smtprc.5 and is kept stable.
 *
 * No other module writes to stderr, the logfile or syslog directly. The
 * transcript escapes what the server sent (util.h, buf_put_escaped); a
 * value of the attempt line has its control characters turned into
 * spaces, so a line stays one line. No password is ever passed in.
 */
#ifndef SMTPFWD_LOG_H
#define SMTPFWD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* Verbosity: 0 quiet, 1 (-v) transcript, 2 (-v -v) also state traces. */
void log_set_verbose(int level);
int log_verbose(void);

/* Hold diagnostics: from log_hold() on, log_error/log_warning/log_debug
 * lines are kept in memory instead of written; log_release(true) writes
 * them, log_release(false) drops them. Used where a failure may still end
 * well (a delivery whose message then goes to the spool: cron mails
 * whatever reaches stderr). The -v transcript is never held. */
void log_hold(void);
void log_release(bool write_them);

/* "smtpfwd: MSG\n" on stderr. */
void log_error(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* "smtpfwd: warning: MSG\n" on stderr. */
void log_warning(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* "smtpfwd: warning: MSG\n" on stderr at once, even while lines are
 * held: a mistake of the configuration that its owner must see even
 * when the message then ends well or in the spool. */
void log_warning_unheld(const char *fmt, ...) ATTR_PRINTF(1, 2);
/* "smtpfwd: MSG\n" on stderr only when verbose >= level. */
void log_debug(int level, const char *fmt, ...) ATTR_PRINTF(2, 3);

/* -v transcript of the SMTP dialog, on stderr when verbose >= 1.
 * dir is '<' for what the server sent, '>' for what the client sent.
 * data is one or more lines (CRLF-terminated or not); each line is
 * printed as "<-- line" or "--> line". Callers mask secrets themselves. */
void log_transcript(char dir, const char *data, size_t len);

struct log_attempt {
    const char *account;     /* account name (of the attempt) */
    const char *fallback_for;/* the message's account when account is one of its
                                fallback accounts, or NULL */
    const char *host;        /* smarthost */
    bool tls;                /* TLS was in use */
    const char *auth;        /* mechanism used, or NULL for "off" */
    const char *user;        /* SMTP user or NULL */
    const char *from;        /* envelope sender ("" = null sender) */
    const char *const *recipients; size_t nrecipients;
    long long mailsize;      /* bytes, -1 if unknown */
    int smtpstatus;          /* last SMTP reply code, 0 if none */
    const char *smtpmsg;     /* last SMTP reply text (one line), or NULL */
    const char *errormsg;    /* our error message, or NULL on success */
    const char *queued;      /* spool entry id keeping the message, or NULL */
    int exitcode;            /* sysexits status */
};

/* Format the key=value line (no time stamp, no newline); caller frees. */
char *log_attempt_format(const struct log_attempt *a);
/* Append the line to logfile (prefixed with time in time_format,
 * default "%b %d %H:%M:%S"; logfile "-" means stdout) and/or send it to
 * syslog with the given facility name (e.g. "LOG_MAIL"; NULL = no syslog).
 * Failures to write the log are reported as warnings, never fatal. */
void log_attempt_write(const struct log_attempt *a, const char *logfile,
                       const char *time_format, const char *syslog_facility);

#endif
