/*
 * reply.h - SMTP reply and capability parsing (split from smtp.c): the
 * strict reply-line parser (smtp_parse_reply_line, declared in smtp.h
 * and implemented in reply.c), enhanced status codes, the EHLO keyword
 * list, and the bounded, printable quoting of untrusted server bytes for
 * messages. Pure functions: no I/O, no state.
 */
#ifndef SMTPFWD_REPLY_H
#define SMTPFWD_REPLY_H

#include <stddef.h>

#include "smtp.h"

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

/* Parse an EHLO reply (all lines "250-..." joined with "\n"; the first
 * line is the greeting and is skipped) into caps. Keywords add to what
 * caps already holds: call reply_caps_clear first to replace them (as
 * after STARTTLS). Linear in the length of text, whatever it holds:
 * the limits above bound what is kept. */
void reply_parse_caps(struct smtp_caps *caps, const char *text);

/* Free what caps owns and reset every field. */
void reply_caps_clear(struct smtp_caps *caps);

#endif
