/*
 * reply.h - SMTP reply and capability parsing: what a reply and the
 * EHLO capabilities are (struct smtp_reply, struct smtp_caps, the
 * limits on what a server can make us keep), the strict reply-line
 * parser, enhanced status codes, the EHLO keyword list, and the bounded,
 * printable quoting of untrusted server bytes for messages. Pure
 * functions: no I/O, no state. smtp.h includes this header, never the
 * reverse. The structures keep their smtp_ names: they are what the
 * SMTP client (smtp.h) hands to its callers.
 */
#ifndef SMTPFWD_REPLY_H
#define SMTPFWD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

/* What one reply may be: anything longer is RC_PROTOCOL. */
#define REPLY_MAX_LINE   2048   /* octets per reply line, CRLF excluded */
#define REPLY_MAX_LINES  256    /* lines per reply */
#define REPLY_MAX_OCTETS 65536  /* octets per reply (its lines joined with "\n") */

/* One complete reply. */
struct smtp_reply {
    int code;                 /* 100..599 */
    char enhanced[16];        /* "5.1.1" if the server gave one, else "" */
    char *text;               /* all lines "CODE text" joined with "\n"; owned */
    size_t nlines;
};

/* Parse one reply line (CRLF removed) of len octets: three digits, then
 * ' ' or '-', then printable text or valid UTF-8 without C1 controls, at
 * most REPLY_MAX_LINE octets. Fills *code and *more (true for "250-"),
 * points *text past "CODE-" / "CODE " (into line; nothing allocated).
 * Returns 0, or -1 with r set (RC_PROTOCOL, quoting the line). */
int reply_parse_line(const char *line, size_t len, int *code, bool *more,
                     const char **text, struct result *r);

/* A printable, bounded copy of untrusted bytes for messages: backslash
 * and bytes outside 0x20..0x7e are escaped (\\, \xNN), at most max input
 * bytes are shown ("..." appended when cut). Caller frees. */
char *reply_escape(const char *s, size_t len, size_t max);

/* Copy the enhanced status code ("x.y.z", x matching the reply class)
 * at the start of text into out, or set out to "" when there is none. */
void reply_parse_enhanced(const char *text, int code, char out[16]);

/* What a server's EHLO reply can make us keep or look at: keyword lines
 * (after the greeting line; more are ignored), AUTH words looked at,
 * distinct AUTH mechanisms kept (the longest name RFC 4422 allows is 20
 * characters; longer or malformed names are skipped). Real servers offer
 * a dozen keywords and a handful of mechanisms. */
#define REPLY_MAX_CAP_LINES   100
#define REPLY_MAX_AUTH_WORDS  1000
#define REPLY_MAX_AUTH_MECHS  32
#define REPLY_MAX_MECH_LEN    20

/* The EHLO capabilities of a server (reply_parse_caps fills them). */
struct smtp_caps {
    bool esmtp;               /* EHLO accepted */
    bool pipelining, size, eightbitmime, smtputf8, dsn, starttls;
    bool enhancedstatuscodes, chunking;
    unsigned long long size_max;  /* 0 = no limit announced */
    char *auth;               /* space-separated mechanisms, uppercase; owned; NULL if none */
    unsigned nauth;           /* mechanisms in auth (at most REPLY_MAX_AUTH_MECHS) */
    unsigned auth_words;      /* AUTH words looked at (at most REPLY_MAX_AUTH_WORDS) */
    unsigned ncaplines;       /* keyword lines looked at (at most REPLY_MAX_CAP_LINES) */
};

/* Parse an EHLO reply (all lines "250-..." joined with "\n"; the first
 * line is the greeting and is skipped) into caps. Keywords add to what
 * caps already holds: call reply_caps_clear first to replace them (as
 * after STARTTLS). Linear in the length of text, whatever it holds:
 * the limits above bound what is kept. */
void reply_parse_caps(struct smtp_caps *caps, const char *text);

/* Free what caps owns and reset every field. */
void reply_caps_clear(struct smtp_caps *caps);

#endif
