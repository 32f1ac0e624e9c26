/*
 * smtpd.h - `-bs`: a small SMTP server on standard input and output for
 * the programs that submit mail by speaking SMTP to sendmail (Symfony
 * Mailer, Laravel, Alpine). Each message of the session goes through the
 * same pipeline as a message read from standard input: intake (begin /
 * feed / end), then submit (account, envelope, spool or delivery).
 *
 * Two parts: a pure command parser (smtpd_parse_command and its
 * formatter, no I/O, no allocation; fuzzed), and the session
 * (smtpd_run): one enum of states with a table of names, one function
 * that handles a command in a state, buffered reads of fd 0 and one
 * write of the replies to fd 1 whenever the input buffer has no complete
 * command left (RFC 2920). Nothing but SMTP replies is written to
 * standard output; the -v transcript and diagnostics go to standard error.
 */
#ifndef SMTPFWD_SMTPD_H
#define SMTPFWD_SMTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "util.h"

/* A command line, CRLF included (RFC 5321 4.5.3.1.4). */
#define SMTPD_LINE_MAX 512
/* ESMTP parameters of one MAIL or RCPT command. */
#define SMTPD_PARAMS_MAX 8
/* Recipients of one message (more get 452, RFC 5321 4.5.3.1.8). */
#define SMTPD_RCPTS_MAX 1000
/* The SIZE advertised and enforced (octets of the message as received). */
#define SMTPD_SIZE_DEFAULT (100L * 1024 * 1024)
/* The idle timeout when the account sets none (RFC 5321 4.5.3.2.7). */
#define SMTPD_TIMEOUT_DEFAULT 300
/* The largest BDAT chunk size accepted in a command (octets). */
#define SMTPD_BDAT_MAX 999999999999ULL

enum smtpd_verb {
    SMTPD_HELO, SMTPD_EHLO, SMTPD_MAIL, SMTPD_RCPT, SMTPD_DATA, SMTPD_BDAT,
    SMTPD_RSET, SMTPD_NOOP, SMTPD_HELP, SMTPD_VRFY, SMTPD_QUIT,
};

/* What smtpd_parse_command found wrong (the reply's code in brackets). */
enum smtpd_parse_error {
    SMTPD_PARSE_OK = 0,
    SMTPD_PARSE_TOO_LONG,      /* [500] over SMTPD_LINE_MAX - 2 octets */
    SMTPD_PARSE_UNKNOWN,       /* [500] not a command this server knows */
    SMTPD_PARSE_SYNTAX,        /* [501] a known command with bad arguments */
};

/* A view into the parsed line: start and length (not NUL-terminated). */
struct smtpd_span {
    const char *p;
    size_t len;
};

struct smtpd_param {
    struct smtpd_span key;     /* esmtp-keyword: ALPHA / DIGIT, then also "-" */
    struct smtpd_span value;   /* after "=", octets 33-126 but "=", or 128-255;
                                  p NULL when there is no "=" */
};

struct smtpd_command {
    enum smtpd_verb verb;
    struct smtpd_span arg;     /* HELO/EHLO domain, VRFY/HELP/NOOP text, the
                                  MAIL/RCPT path between the angle brackets
                                  (len 0 for "<>") */
    size_t nparams;
    struct smtpd_param params[SMTPD_PARAMS_MAX];
    unsigned long long bdat_size;
    bool bdat_last;
    const char *why;           /* on SMTPD_PARSE_SYNTAX: what is wrong (untranslated
                                  static text, for the 501 reply), else NULL */
};

/* Parse one command line of len octets, without its line end (the caller
 * has taken the CRLF or LF off). Pure: reads line[0..len) only, allocates
 * nothing; cmd points into line. Rules: verbs are case-insensitive; a
 * NUL or other control character (but tab in free text) is a syntax
 * error; "MAIL FROM:" and "RCPT TO:" may have blanks before the path; a
 * path is "<...>" with quoted strings allowed inside and no blank; then
 * up to SMTPD_PARAMS_MAX "KEY[=VALUE]" separated by blanks; DATA, RSET and
 * QUIT take no argument; HELO, EHLO and VRFY need one; BDAT takes a size
 * of digits (at most SMTPD_BDAT_MAX) and an optional LAST. Returns
 * SMTPD_PARSE_OK or an error (cmd->why set for SMTPD_PARSE_SYNTAX). */
enum smtpd_parse_error smtpd_parse_command(const char *line, size_t len,
                                           struct smtpd_command *cmd);

/* Append the canonical form of cmd (as parsed: upper-case verb, "FROM:<",
 * one blank between parameters) to out, without line end. Parsing the
 * result gives an equal command. */
void smtpd_format_command(const struct smtpd_command *cmd, struct buf *out);

/* Whether two parsed commands are equal (verb, argument and parameter
 * octets, BDAT size and LAST). */
bool smtpd_command_equal(const struct smtpd_command *a, const struct smtpd_command *b);

/* Run an SMTP session on fds 0 and 1 for the command line o (-bs) until
 * QUIT, end of input or the idle timeout. Returns the exit status: 0
 * when every message got 250 at the end of its data (or none was
 * sent), else the worst status among the messages (a message that was not
 * delivered, or delivered to only some recipients), 75 when the input
 * ended or timed out inside a message's data (that message is not
 * delivered), 64 when the input ended without QUIT and without a message
 * after commands refused as unknown or malformed (a message piped to -bs
 * by mistake), 74 when standard output cannot be written. */
int smtpd_run(const struct options *o);

#endif
