/*
 * failover.h - smarthost failover: after an attempt through a message's
 * account failed for now before the server could take the message, the
 * recipients concerned go through the account's `fallback` accounts in
 * turn, each with its own host, port, TLS settings and credentials.
 *
 * Owns: which recipients go on (deliver.h's may_fall_back, decided per
 * recipient by deliver_may_fall_back), which fallback accounts may send
 * the message (the sender rule), the order, and how the attempts add up
 * into the one struct delivery of the message: what the spool's policy
 * (queue_record_attempt, queue_enqueue_attempt) and the log line read.
 * Only the message's own account's list is followed: a fallback's own
 * `fallback` is not (no recursion, no loop), and an account that names
 * itself is skipped.
 *
 * Must not: speak SMTP or open connections itself (deliver.h), touch the
 * spool (the caller records the merged outcome with the message's own
 * account), or decide exit statuses (result.c).
 */
#ifndef SMTPFWD_FAILOVER_H
#define SMTPFWD_FAILOVER_H

#include <stdbool.h>

struct account;
struct config;
struct delivery;

/* Whether the fallback account f may send a message whose envelope
 * sender is sender ("" = null sender): f would use that very sender,
 * the rule of envelope_sender (f allows from override, or has no
 * `from`, or its `from` expands to it). Pure but for the expansion of
 * %H/%C in f's `from`. */
bool failover_sender_allowed(const struct account *f, const char *sender);

/* Connections to fallback accounts kept open across the messages of
 * one flush or one -bs session, so that many messages that fall back
 * share one connection per fallback account, and one that could not be
 * opened is not tried again for each message (they share its failure,
 * as the messages of one deliver_session do). */
struct failover_conns;

/* A new, empty set; free with failover_conns_close. Never NULL. */
struct failover_conns *failover_conns_new(void);

/* QUIT on each connection still open, and free fc (may be NULL). */
void failover_conns_close(struct failover_conns *fc);

/* After the attempt d through account a (d->result, d->rcpts set): when
 * some recipient was not delivered and may fall back, and a has
 * `fallback`, write the log line of a's attempt, then try those
 * recipients through each fallback account of cfg in turn (skipping one
 * the sender may not use, with a note on stderr; skipping a itself)
 * until none is left. Each switch is said at -v. The outcomes are merged
 * into d: a recipient a fallback delivered is delivered; one it refused
 * for good (5xx to its RCPT) is refused for good with its words; any
 * other keeps the outcome of the first attempt (so it is retried through
 * a later, from the spool). d->result is computed again from the merged
 * recipients (RC_OK when all are delivered; RC_NOUSER when some are
 * refused for good; else the first attempt's class), d->via is the last
 * fallback account tried and last_code, last_text and tls are those of
 * its attempt (the caller's log line names it, with fallback-for=).
 * With fc, the connections to the fallback accounts are taken from it
 * and left open in it (a closed or lost one is opened again; one that
 * could not be opened is not); with fc NULL, each attempt has its own
 * connection, closed after it. Returns true when a fallback account was
 * tried. */
bool failover_deliver(const struct config *cfg, const struct account *a, struct delivery *d,
                      struct failover_conns *fc);

#endif
