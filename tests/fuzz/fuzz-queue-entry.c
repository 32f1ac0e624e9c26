/*
 * fuzz-queue-entry.c - fuzz target: the spool entry format
 * (src/queue-entry.c: queue_entry_parse, queue_entry_format).
 *
 * Input: a whole entry file, envelope and message (its size is the file
 * size the parse checks the "size:" key against). Properties checked:
 *  - the parse returns 0 with no error, or -1 with RC_DATAERR and a
 *    message saying "corrupt spool entry";
 *  - a parsed entry is sane: a valid id, a non-empty account, at least
 *    one recipient, no two recipients with the same address, the message
 *    starting right after the envelope and ending at the end of the input;
 *  - round trip: the formatted envelope followed by the same message
 *    parses again, to the same entry field by field, and formatting that
 *    gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue-int.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool same_entry(const struct queue_entry *a, const struct queue_entry *b)
{
    if (!same_str(a->id, b->id) || !same_str(a->account, b->account)
        || a->created != b->created || !same_str(a->sender, b->sender)
        || a->nrcpts != b->nrcpts || a->attempts != b->attempts
        || a->next_attempt != b->next_attempt || !same_str(a->last_error, b->last_error)
        || !same_str(a->dsn_notify, b->dsn_notify) || !same_str(a->dsn_return, b->dsn_return)
        || !same_str(a->dsn_envid, b->dsn_envid) || a->body_8bit != b->body_8bit
        || a->body_7bit != b->body_7bit || a->longest_line != b->longest_line
        || a->size != b->size || a->bounce != b->bounce)
        return false;
    for (size_t i = 0; i < a->nrcpts; i++)
        if (!same_str(a->rcpts[i].addr, b->rcpts[i].addr) || a->rcpts[i].state != b->rcpts[i].state
            || !same_str(a->rcpts[i].error, b->rcpts[i].error))
            return false;
    return true;
}

static void check_sane(const struct queue_entry *e, size_t size)
{
    if (!e->id || !queue_id_valid(e->id) || !e->account || !*e->account || !e->sender)
        abort();
    if (e->nrcpts == 0 || e->rcpts == NULL)
        abort();
    for (size_t i = 0; i < e->nrcpts; i++) {
        if (!e->rcpts[i].addr || !*e->rcpts[i].addr || e->rcpts[i].state > QRCPT_FAILED)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(e->rcpts[i].addr, e->rcpts[j].addr) == 0)
                abort();
    }
    if (e->bounce > QBOUNCE_SENT || e->attempts < 0 || e->size < 0)
        abort();
    if (e->body_offset < 1 || (unsigned long long)e->body_offset > size
        || (unsigned long long)(e->body_offset + e->size) != size)
        abort();
}

static int parse(const char *text, size_t len, struct queue_entry *e)
{
    struct result r = RESULT_INIT;
    int rc = queue_entry_parse(text, len, (long long)len, e, &r);
    if (rc == 0 ? (r.cls != RC_OK || r.msg != NULL)
                : (rc != -1 || r.cls != RC_DATAERR || !r.msg
                   || !strstr(r.msg, "corrupt spool entry")))
        abort();
    result_clear(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct queue_entry e1, e2;
    if (parse((const char *)data, size, &e1) != 0)
        return 0;
    check_sane(&e1, size);

    /* The formatted envelope, then the same message. */
    char *env1 = queue_entry_format(&e1);
    size_t elen = strlen(env1);
    size_t blen = size - (size_t)e1.body_offset;
    char *text = malloc(elen + blen + 1);
    if (!text)
        abort();
    memcpy(text, env1, elen);
    memcpy(text + elen, data + e1.body_offset, blen);
    if (parse(text, elen + blen, &e2) != 0)
        abort();
    check_sane(&e2, elen + blen);
    if ((size_t)e2.body_offset != elen || !same_entry(&e1, &e2))
        abort();
    char *env2 = queue_entry_format(&e2);
    if (strcmp(env1, env2) != 0)
        abort();

    free(env2);
    free(text);
    free(env1);
    queue_entry_free(&e2);
    queue_entry_free(&e1);
    return 0;
}
