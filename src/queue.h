/*
 * queue.h - the per-user spool (doc/architecture.md, "The spool"): enqueue with
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
    long long size;
    enum queue_bounce bounce;
    long long body_offset;       /* where the message starts in the file */
};

/* The spool directory for the account, checked with queue_dir_check
 * (and created with mode 0700 when create is set). Caller frees. NULL
 * with r set on failure: RC_CONFIG when it is refused. */
char *queue_dir(const struct account *a, bool create, struct result *r);

/* Where the account's spool is, nothing checked or created (to find the
 * distinct spools of a configuration). Caller frees; NULL with r set. */
char *queue_dir_path(const struct account *a, struct result *r);

/* Refuse a spool that is not the running user's alone: the directory and
 * its tmp/, new/ and failed/ (those that exist) must be directories owned
 * by the running user or root and writable by neither group nor others
 * (sticky or not). 0, or -1 with r set (RC_CONFIG naming the directory
 * and what is wrong; RC_IOERR when it cannot be examined). */
int queue_dir_check(const char *dir, struct result *r);

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

/* Open the entry file path, take a non-blocking exclusive lock (flock)
 * held until close(*fd), and parse it. Returns 0 (locked and parsed), 1
 * when another process holds the lock (normal: skip it), -1 with r set
 * (corrupt entries are moved aside to failed/ID.corrupt by this call;
 * entries that are not regular files, not owned by the running user or
 * writable by group or others are refused with RC_CONFIG and left where
 * they are). It never blocks. */
int queue_entry_open(const char *path, int *fd, struct queue_entry *e, struct result *r);

/* Rewrite the entry's envelope with e's state (attempts, next attempt,
 * per-recipient states, errors, bounce) durably: new file in tmp/ with the
 * message copied from fd, fsync, rename over the old path, fsync of the
 * directory. The lock moves to the new file: *fd is replaced by the new
 * file's descriptor (locked). */
int queue_entry_update(const char *dir, struct queue_entry *e, int *fd, struct result *r);

/* Move the entry to failed/ (after a permanent failure or expiry). */
int queue_entry_move_failed(const char *dir, const struct queue_entry *e, struct result *r);

/* Remove a fully delivered entry (unlink). The directory is not synced:
 * a caller removing several entries syncs DIR/new once afterwards with
 * queue_fsync_dir (an entry that comes back after a power failure is
 * delivered again, never lost). */
int queue_entry_remove(const char *dir, const struct queue_entry *e, struct result *r);

/* fsync a directory (after entries in it were created, renamed or
 * removed). Returns 0 or -1 with errno. */
int queue_fsync_dir(const char *dir);

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
 * cannot be sent at all, doc/architecture.md's exit status 65) it
 * "failed" with the refusing reply, because no retry cures that;
 * otherwise it stays "pending" and keeps its error (in a new entry made
 * by queue_enqueue_attempt: the message's). While a recipient is pending the next
 * attempt backs off (queue_backoff). */

/* Seconds to wait before the next attempt after `attempts` attempts:
 * min(cap, 60 s * 2^(attempts-1)) with +-20 % jitter, never above the cap
 * (the account's queue_max_backoff, else an hour), at least one second. */
long queue_backoff(const struct account *a, int attempts);

/* Count one more attempt of e and set its next attempt by queue_backoff
 * from now. */
void queue_schedule_retry(struct queue_entry *e, const struct account *a, time_t now);

/* Record attempt d in entry e (in memory; the caller stores it with
 * queue_entry_update): d delivered e's recipients idx[j] for j <
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

/* Note on queue_entry_open (queue.c): it also returns 1 when the entry
 * vanished or was replaced between open and lock (another process
 * delivered, removed or rewrote it): the caller skips it either way. */

/* Cheap check: does the account's spool have anything in new/? */
bool queue_has_entries(const struct account *a);

#endif
