/*
 * queue-int.h - helpers shared by queue.c (the entries) and queue-admin.c
 * (listing, remove, retry). Not for other modules: they use queue.h.
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
/* Open an entry for reading without ever blocking or following a link:
 * 0 with *fd open, 1 when it does not exist (any more), -1 with r set:
 * RC_CONFIG when it is refused (not a regular file, not owned by the
 * running user, writable by group or others; queue.h), RC_IOERR. */
int queue_open_entry_file(const char *path, int *fd, struct result *r);
/* Parse the entry open on fd (path for messages); 0 or -1 with r set. */
int queue_parse_open_file(int fd, const char *path, struct queue_entry *e, struct result *r);

#endif
