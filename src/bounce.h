/*
 * bounce.h - RFC 3464 delivery status notifications for queued mail that
 * failed permanently or expired: a multipart/report (report-type=
 * delivery-status) with a human-readable part, a message/delivery-status
 * part (Reporting-MTA, Arrival-Date, and per failed recipient
 * Final-Recipient, Action: failed, Status, Diagnostic-Code: smtp; REPLY)
 * and a text/rfc822-headers part with the original headers. Sent with the
 * null sender to the original sender through the same smarthost; never
 * built for a message whose sender is the null sender.
 */
#ifndef SMTPFWD_BOUNCE_H
#define SMTPFWD_BOUNCE_H

#include "result.h"

struct queue_entry;
struct message;

/* Build the notification for entry e, whose file is open on entry_fd
 * (the original message starts at e->body_offset). reporting_host is the
 * Reporting-MTA name (the host name). Fills *m like intake_read would
 * (canonical CRLF in a private temporary file, size, has_8bit). */
int bounce_build(const struct queue_entry *e, int entry_fd, const char *reporting_host,
                 struct message *m, struct result *r);

/* As bounce_build, with the domain of the From: MAILER-DAEMON@DOMAIN
 * address and of the Message-ID (envelope_mail_domain of the entry's
 * account; bounce_build uses reporting_host). Refuses (RC_SOFTWARE) an
 * entry whose sender is the null sender or that has no failed recipient;
 * a read error on entry_fd is RC_IOERR, a temporary file that cannot be
 * created RC_CANTCREAT. */
int bounce_build_domain(const struct queue_entry *e, int entry_fd, const char *reporting_host,
                        const char *mail_domain, struct message *m, struct result *r);

#endif
