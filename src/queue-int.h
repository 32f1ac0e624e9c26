/*
 * queue-int.h - what the queue files share among themselves: queue.c
 * (enqueue, the attempt policy), queue-spool.c (the spool directories and
 * what may be trusted), queue-store.c (the entry files), queue-entry.c
 * (the entry format) and queue-admin.c (listing, remove, retry). Not for
 * other modules: they use queue.h.
 */
#ifndef SMTPFWD_QUEUE_INT_H
#define SMTPFWD_QUEUE_INT_H

#include <stdbool.h>
#include "queue.h"

/* Names of the states as written in entries (indexed by the enums). */
extern const char *const queue_rcpt_state_names[];
extern const char *const queue_bounce_names[];

/* True if s has the shape of an entry id (letters and digits, bounded). */
bool queue_id_valid(const char *s);

/* A spool (queue.h): its directory, owned. */
struct queue_spool {
    char *dir;
};

/* A new entry id: the time in hex (ids sort by time), then random
 * letters and digits. Caller frees. */
char *queue_new_id(void);

/* Open an entry for reading without ever blocking or following a link:
 * 0 with *fd open, 1 when it does not exist (any more), -1 with r set:
 * RC_CONFIG when it is refused (not a regular file, not owned by the
 * running user, writable by group or others), RC_IOERR. */
int queue_open_entry_file(const char *path, int *fd, struct result *r);

/* The spool directory for the account (checked with queue_dir_check,
 * and created with mode 0700 when create is set). Caller frees. NULL
 * with r set on failure: RC_CONFIG when it is refused. */
char *queue_dir(const struct account *a, bool create, struct result *r);

/* Where the account's spool is (a NULL: the default one), nothing
 * checked or created. Caller frees; NULL with r set (RC_CONFIG). */
char *queue_dir_path(const struct account *a, struct result *r);

/* Refuse a spool that is not the running user's alone: the directory and
 * its tmp/, new/ and failed/ (those that exist) must be directories owned
 * by the running user or root and writable by neither group nor others
 * (sticky or not). 0, or -1 with r set (RC_CONFIG naming the directory
 * and what is wrong; RC_IOERR when it cannot be examined). */
int queue_dir_check(const char *dir, struct result *r);

/* fsync a directory (after entries in it were created, renamed or
 * removed). Returns 0 or -1 with errno. */
int queue_fsync_dir(const char *dir);

/* Store the new entry e (its id is set here) with the message of m in
 * the account's spool (created when missing): written in tmp/, fsync'd,
 * renamed into new/ without replacing anything, new/ fsync'd. 0 with *id
 * (caller frees), or -1 with r set (RC_CONFIG, RC_CANTCREAT, RC_IOERR),
 * nothing deliverable left behind. */
int queue_store_add(const struct account *a, struct queue_entry *e, const struct message *m,
                    char **id, struct result *r);

#endif
