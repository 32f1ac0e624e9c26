/*
 * flush.h - delivering the spool (doc/ARCHITECTURE.md, "The spool"): the
 * due entries of each account go out over one connection per account,
 * each entry locked for its whole delivery; what an attempt means for an
 * entry is the queue's policy (queue.h, queue_record_attempt); refused
 * recipients and expired entries get a delivery status notification
 * (bounce.h) sent through the same account.
 *
 * The flush never touches a spool path or descriptor itself (queue.h
 * hands it entries) and never decides a retry time (the queue does).
 */
#ifndef SMTPFWD_FLUSH_H
#define SMTPFWD_FLUSH_H

#include <stdbool.h>

#include "result.h"

struct config;

/* -q / --flush: deliver every due entry (all with force) of every
 * account's spool, or only those of the account named account (NULL =
 * all), one connection per account. Delivery failures stay in the spool
 * (or become bounces) and are not errors of the flush: it returns the
 * class of the worst local failure (RC_OK if none; RC_CONFIG for an
 * unknown account or a refused spool or entry, RC_IOERR when the spool
 * cannot be read or written), each reported on stderr. */
enum result_class flush_queue(const struct config *cfg, const char *account, bool force);

/* Start a flush of one account's spool in the background (double fork,
 * new session, standard streams on /dev/null, every other descriptor
 * closed) and return at once; a failure to fork is reported as a
 * warning. cfg is used by the child only. */
void flush_queue_detached(const struct config *cfg, const char *account);

#endif
