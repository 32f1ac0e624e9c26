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
/* Parse the entry open on fd (path for messages); 0 or -1 with r set. */
int queue_parse_open_file(int fd, const char *path, struct queue_entry *e, struct result *r);

#endif
