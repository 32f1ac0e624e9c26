/*
 * queue.h - the per-user spool (doc/ARCHITECTURE.md, "The spool"): enqueue with
 * maildir discipline, list, lock, and the one policy for what a delivery
 * attempt means for an entry (recipient states, backoff with jitter).
 * Delivering the spool is flush.h's; bounces are bounce.h's.
 *
 * Location: the account's queue_dir, else $XDG_STATE_HOME/smtpfwd/queue,
 * else HOME/.local/state/smtpfwd/queue with HOME from the user database.
 * Layout: tmp/ (being written), new/ (waiting), failed/ (permanently
 * failed or expired, kept for the user), each entry one file named by its
 * id. An entry is created in tmp/ with O_EXCL and a random name, written,
 * fsync'd, renamed into new/, and new/ is fsync'd; only then does
 * queue_enqueue return 0. State changes rewrite the entry the same way
 * (tmp/, fsync, rename over the old name, fsync). Leftovers in tmp/ older
 * than an hour are removed by the next flush.
 *
 * Entry format (version 1), documented in doc/smtpfwd.1 and stable:
 *   smtpfwd-queue: 1
 *   id: ID
 *   account: NAME
 *   created: UNIX-TIME
 *   sender: ADDRESS            ("" for the null sender)
 *   rcpt: STATE ADDRESS        (one per recipient; STATE pending|delivered|failed)
 *   rcpt-error: ADDRESS TEXT   (last reply for that recipient, optional)
 *   attempts: N
 *   next-attempt: UNIX-TIME
 *   last-error: TEXT
 *   dsn-notify: / dsn-return: / dsn-envid: (optional)
 *   body-8bit: yes|no
 *   body-7bit: yes             (optional: -B 7BIT, the message goes as 7-bit
 *                               ASCII at every delivery; absent = no)
 *   longest-line: N            (optional: octets of the message's longest
 *                               line, without CRLF; absent = unknown, as in
 *                               entries of older versions, and the message
 *                               is looked at when it may need converting)
 *   size: BYTES
 *   bounce: none|pending|sent
 *   <empty line>
 *   the message, canonical CRLF, exactly size bytes
 * Unknown keys are ignored; a missing required key, a bad value, a
 * recipient listed twice, a "rcpt-error:" for no recipient, a truncated
 * message (size mismatch) make the entry corrupt: it is moved to failed/
 * with a ".corrupt" suffix and never delivered. A "rcpt-error:" line
 * belongs to the longest address it starts with (followed by a space or
 * the end), whatever the order of the lines. The pure parse and format
 * are queue-entry.c's.
 */
#ifndef SMTPFWD_QUEUE_H
#define SMTPFWD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "deliver.h"
#include "result.h"

struct account;
struct config;
struct envelope;
struct message;

enum queue_rcpt_state { QRCPT_PENDING = 0, QRCPT_DELIVERED, QRCPT_FAILED };
enum queue_bounce { QBOUNCE_NONE = 0, QBOUNCE_PENDING, QBOUNCE_SENT };

struct queue_rcpt {
    char *addr;
    enum queue_rcpt_state state;
    char *error;                 /* last reply text or NULL */
};

struct queue_entry {
    char *id;
    char *account;
    time_t created;
    char *sender;
    struct queue_rcpt *rcpts;
    size_t nrcpts;
    int attempts;
    time_t next_attempt;
    char *last_error;
    char *dsn_notify, *dsn_return, *dsn_envid;
    bool body_8bit;
    bool body_7bit;              /* -B 7BIT: "body-7bit: yes" */
    size_t longest_line;         /* "longest-line:"; SIZE_MAX = unknown (not written) */
    long long size;
    enum queue_bounce bounce;
    long long body_offset;       /* where the message starts in the file */
};

/* Durably add a message for the recipients still to be done (env->rcpts
 * minus those in done[], which may be NULL). *id receives the new id
 * (caller frees). Returns 0 only after the directory fsync; on any
 * failure nothing deliverable is left behind and r says why (RC_CANTCREAT
 * / RC_IOERR / RC_OSERR). */
int queue_enqueue(const struct account *a, const struct envelope *env,
                  const struct message *m, const bool *done, char **id, struct result *r);

/* Parse the envelope part of an entry (for tests and tools). text holds
 * at least the envelope and the empty line; file_size is the whole
 * entry's size (to check the message length). */
int queue_entry_parse(const char *text, size_t len, long long file_size,
                      struct queue_entry *e, struct result *r);
/* Serialize the envelope part (up to and including the empty line). */
char *queue_entry_format(const struct queue_entry *e);
void queue_entry_free(struct queue_entry *e);
/* Whether some recipient of e is in state st. */
bool queue_entry_any(const struct queue_entry *e, enum queue_rcpt_state st);

/* ---- Storage (queue-spool.c, queue-store.c) ------------------------------
 *
 * A spool and its entries are reached through handles only: no other
 * module builds a path into the spool, lists it, or opens, renames or
 * removes anything in it. */

struct queue_spool;            /* one spool directory, checked */
struct queue_entry_handle;     /* one entry of a spool, open (and locked) */
struct queue_scan;             /* a walk over the entries of one spool */

/* Where an entry is: waiting (new/) or kept after failing (failed/). */
enum queue_area { QUEUE_NEW = 0, QUEUE_FAILED };

/* Flags of queue_spools. */
#define QUEUE_SPOOLS_DEFAULT  1u   /* also the default spool (of no account) */
#define QUEUE_SPOOLS_EXISTING 2u   /* only spools that exist as directories; a spool
                                      whose place cannot be found is left out silently */
/* Flag of queue_scan_start and queue_entry_find. */
#define QUEUE_OPEN_LOCK       1u   /* take the entry's lock (to deliver or change it) */

/* The distinct spools of cfg's accounts (only of the account only when
 * it is not NULL), each once (same name, or same device and inode), each
 * checked with the rules of "The spool" (doc/ARCHITECTURE.md). One that
 * cannot be found or is refused is left out and handed to refused(r,
 * arg) (RC_CONFIG naming the directory and what is wrong, RC_IOERR);
 * refused must not keep r. Returns the array (*n of them; free with
 * queue_spools_free), never NULL. */
struct queue_spool **queue_spools(const struct config *cfg, const struct account *only,
                                  unsigned flags, size_t *n,
                                  void (*refused)(struct result *r, void *arg), void *arg);
/* Free what queue_spools returned (handles made from them must be closed
 * first: they point into it). */
void queue_spools_free(struct queue_spool **spools, size_t n);

/* The spool of account a, checked, and created (mode 0700) when create
 * is set. Free with queue_spool_free. NULL with r set: RC_CONFIG when it
 * is refused or cannot be found, RC_CANTCREAT, RC_IOERR. */
struct queue_spool *queue_spool_of(const struct account *a, bool create, struct result *r);
/* Free s (NULL is fine); close the handles made from it first. */
void queue_spool_free(struct queue_spool *s);

/* The spool's directory, to name it in messages (owned by s). */
const char *queue_spool_name(const struct queue_spool *s);

/* Remove the files in tmp/ older than an hour that the running user
 * owns: leftovers of killed processes (each named at debug level). */
void queue_spool_clean(const struct queue_spool *s, time_t now);

/* Make removals from new/ durable (fsync of new/; see queue_handle_remove).
 * 0, or -1 with r set (RC_IOERR). */
int queue_spool_sync(const struct queue_spool *s, struct result *r);

/* Walk the entries of s's area, oldest first (ids start with the time).
 * With QUEUE_OPEN_LOCK every file there is opened with the entry's
 * non-blocking exclusive lock (a delivery); without it only files named
 * like ids are read, without a lock (a listing never waits). A missing
 * directory is an empty spool. Returns the walk (free with
 * queue_scan_end), or NULL with r set (RC_IOERR) when it cannot be read. */
struct queue_scan *queue_scan_start(const struct queue_spool *s, enum queue_area area,
                                    unsigned flags, struct result *r);

/* The next entry: 1 with *h (caller closes it with queue_handle_close)
 * and *e parsed (caller frees it with queue_entry_free), 0 at the end,
 * -1 with r set for an entry that could not be used (the walk goes on):
 * RC_CONFIG for one that is refused (not a regular file, not owned by
 * the running user, writable by group or others: left where it is),
 * RC_DATAERR for a corrupt one (with the lock: moved to failed/ID.corrupt
 * by this call), RC_IOERR. Skipped silently: entries locked by another
 * process, entries that vanished or were replaced meanwhile, and without
 * the lock corrupt or unreadable ones. It never blocks. */
int queue_scan_next(struct queue_scan *sc, struct queue_entry_handle **h,
                    struct queue_entry *e, struct result *r);
/* End the walk and free sc (NULL is fine); the handles it gave stay open. */
void queue_scan_end(struct queue_scan *sc);

/* Find the entry id in new/ or failed/ of the spools (in that order) and
 * open it as queue_scan_next does. Returns 0 with *h and *e, 1 when it
 * is locked by another process (or vanished meanwhile), 2 when there is
 * no such entry (or id is not an id), -1 with r set (as queue_scan_next). */
int queue_entry_find(struct queue_spool *const *spools, size_t n, const char *id,
                     unsigned flags, struct queue_entry_handle **h, struct queue_entry *e,
                     struct result *r);

/* Where the entry is now. */
enum queue_area queue_handle_area(const struct queue_entry_handle *h);

/* Point m at the message of the entry (e parsed from h) for reading
 * (deliver, bounce), with the facts the entry keeps (8-bit, -B 7BIT, the
 * longest line): m's descriptor belongs to h and is valid until the
 * next queue_handle_update or queue_handle_close. */
void queue_handle_message(const struct queue_entry_handle *h, const struct queue_entry *e,
                          struct message *m);

/* Rewrite the entry's envelope with e's state (attempts, next attempt,
 * per-recipient states, errors, bounce) durably: new file in tmp/ with the
 * message copied from the old one, fsync, rename over the entry's name in
 * new/, fsync of new/. The lock moves to the new file. An entry in
 * failed/ comes back to new/ (its copy in failed/ is removed). 0, or -1
 * with r set (RC_CANTCREAT, RC_IOERR). */
int queue_handle_update(struct queue_entry_handle *h, struct queue_entry *e, struct result *r);

/* Move the entry from new/ to failed/ (after a permanent failure or
 * expiry), durably. 0, or -1 with r set (RC_IOERR). */
int queue_handle_move_failed(struct queue_entry_handle *h, struct result *r);

/* Remove the entry (fully delivered, or removed by the user). With sync
 * the removal is made durable at once; without, a caller removing
 * several entries calls queue_spool_sync once afterwards (an entry that
 * comes back after a power failure is delivered again, never lost). An
 * entry already gone is fine. 0, or -1 with r set (RC_IOERR). */
int queue_handle_remove(struct queue_entry_handle *h, bool sync, struct result *r);

/* Close the entry (its lock goes with it) and free h. NULL is fine. */
void queue_handle_close(struct queue_entry_handle *h);

/* -bp / mailq: list every entry of every account's spool in the stable
 * text format (or JSON with --queue-json). */
int queue_list(const struct config *cfg, FILE *out, bool json, struct result *r);

/* --queue-remove ID... / --queue-retry ID... */
int queue_remove(const struct config *cfg, char **ids, int n, struct result *r);
int queue_retry(const struct config *cfg, char **ids, int n, struct result *r);

/* What a first delivery attempt left behind, for queue_enqueue_after.
 * states[i] (NULL = all pending) is env->rcpts[i]'s state: delivered ones
 * are left out of the entry, failed ones are kept as failed with
 * errors[i] (NULL or entries NULL = no text) and make the entry's bounce
 * "pending" unless the sender is the null sender. attempts and
 * last_error record the attempt already made; next-attempt is
 * retry_after seconds from now (0: due at the next flush). */
struct queue_initial {
    const enum queue_rcpt_state *states;
    const char *const *errors;
    const char *last_error;
    int attempts;
    long retry_after;
};

/* queue_enqueue with the state of a first attempt (see above). Refuses
 * (RC_SOFTWARE) when nothing would be left to do. */
int queue_enqueue_after(const struct account *a, const struct envelope *env,
                        const struct message *m, const struct queue_initial *init,
                        char **id, struct result *r);

/* The one policy for what a delivery attempt means for the spool.
 *
 * Per recipient: delivered -> "delivered" (its error cleared); refused
 * for good (5xx) -> "failed" with the server's words; refused for now
 * (4xx) -> stays "pending" with them. A recipient the server gave no
 * final word for shares the message's fate: when the message itself was
 * refused (RC_DATAERR: a 5xx to MAIL, DATA or the end of data, or it
 * cannot be sent at all, doc/ARCHITECTURE.md's exit status 65) it
 * "failed" with the refusing reply, because no retry cures that;
 * otherwise it stays "pending" and keeps its error (in a new entry made
 * by queue_enqueue_attempt: the message's). While a recipient is pending
 * the next attempt backs off (queue_backoff). */

/* Seconds to wait before the next attempt after `attempts` attempts:
 * min(cap, 60 s * 2^(attempts-1)) with +-20 % jitter, never above the cap
 * (the account's queue_max_backoff, else an hour), at least one second. */
long queue_backoff(const struct account *a, int attempts);

/* Count one more attempt of e and set its next attempt by queue_backoff
 * from now. */
void queue_schedule_retry(struct queue_entry *e, const struct account *a, time_t now);

/* Record attempt d in entry e (in memory; the caller stores it with
 * queue_handle_update): d delivered e's recipients idx[j] for j <
 * d->env->nrcpts (d->env->rcpts[j] is e->rcpts[idx[j]].addr; idx NULL:
 * the same order). Sets each recipient's state and error by the policy
 * above and e's last error (the message's error; cleared when nothing is
 * left pending); when a recipient is still pending, counts the attempt
 * and schedules the next one (queue_schedule_retry). */
void queue_record_attempt(struct queue_entry *e, const struct account *a,
                          const struct delivery *d, const size_t *idx, time_t now);

/* After a failed direct delivery d of (env, m): keep the message in the
 * spool when the failure is worth a retry (result_worth_retry: the one
 * rule), when some recipient was refused temporarily, or when only some
 * recipients were refused for good (they are kept as failed for a
 * bounce; the others were delivered or are retried). The entry holds
 * what is left to do, states by the policy above, one attempt counted;
 * its next attempt backs off when the server answered for a recipient
 * and is due at the next flush when the server was not reached at all.
 * Returns 0 once durably queued (*id set, caller frees; *bounce_due set
 * when a recipient failed, so that a flush should send the bounce), 1
 * when the message is not to be kept (the caller still owns it), -1 with
 * r set when it could not be queued (as queue_enqueue). */
int queue_enqueue_attempt(const struct account *a, const struct envelope *env,
                          const struct message *m, const struct delivery *d, char **id,
                          bool *bounce_due, struct result *r);

/* Cheap check: does the account's spool have anything in new/? */
bool queue_has_entries(const struct account *a);

#endif
