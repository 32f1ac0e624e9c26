/*
 * address.h - RFC 5322 address lists and envelope address validation.
 *
 * address_parse_list() understands everything that appears in To:/Cc:
 * headers and in sendmail command-line recipients: comma-separated lists,
 * "Display Name <local@domain>", bare local@domain, bare local names
 * ("root"), groups ("undisclosed: a@x, b@y;" and empty groups), comments
 * in parentheses (nested), quoted strings with backslash escapes, folded
 * whitespace (CRLF/LF followed by WSP), and the obsolete route syntax
 * <@route:local@domain> (the route is dropped).
 *
 * address_validate_envelope() is the gate before any connection: an
 * envelope address containing CR, LF, NUL, other control characters (C1
 * ones, U+0080 to U+009F, included), octets that are not well-formed
 * UTF-8, or unbalanced angle brackets, or whose parts are too long (RFC 5321
 * 4.5.3.1: local part 64, domain 255, path 256 octets) is refused with a
 * clear message (class RC_DATAERR). "" (null sender) is valid as a sender.
 *
 * Pure functions on strings: no I/O, no configuration, no aliases or
 * qualification (envelope.c does those).
 */
#ifndef SMTPFWD_ADDRESS_H
#define SMTPFWD_ADDRESS_H

#include <stddef.h>
#include "result.h"

struct addr {
    char *display;   /* display name, unquoted, or NULL; owned */
    char *mailbox;   /* "local@domain" or "local" (no angle brackets); owned */
};

struct addr_list {
    struct addr *v;  /* owned array */
    size_t n, cap;
};
#define ADDR_LIST_INIT { NULL, 0, 0 }

/* Parse text (a header value, possibly folded, or a command-line
 * argument) and APPEND every mailbox to out. Group names are dropped,
 * their members kept. Returns 0, or -1 with r set (RC_DATAERR) naming
 * the problem and quoting the input; on error nothing is appended. */
int address_parse_list(const char *text, struct addr_list *out, struct result *r);

/* Append a copy of (display, mailbox) to l. display may be NULL. */
void addr_list_add(struct addr_list *l, const char *display, const char *mailbox);
/* True if l already holds mailbox (compared case-insensitively in the
 * domain, case-sensitively in the local part). */
bool addr_list_contains(const struct addr_list *l, const char *mailbox);
void addr_list_free(struct addr_list *l);

/* Validate an envelope address (no angle brackets expected, but a single
 * enclosing <...> pair is tolerated and must balance). is_sender
 * chooses the word "sender" or "recipient" in the message and allows the
 * null sender "". Returns 0 or -1 with r set (RC_DATAERR). */
int address_validate_envelope(const char *addr, bool is_sender, struct result *r);

/* Strip one enclosing pair of angle brackets and surrounding blanks into a
 * new string ("<a@b>" -> "a@b"; "<>" -> ""). Caller frees. */
char *address_strip_angles(const char *addr);

/* A mailbox for a header field: "Name <mailbox>" with the display name
 * as it is when it is only atext and spaces, else as a quoted string
 * ('"' and '\\' escaped, CR and LF left out, so a name can never end
 * the field); just mailbox when display is NULL or "". Never fails;
 * caller frees. */
char *address_format_mailbox(const char *display, const char *mailbox);

/* Return a pointer to the domain part of mailbox (after the last '@'),
 * or NULL if there is none. */
const char *address_domain(const char *mailbox);

#endif
