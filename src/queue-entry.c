/*
 * queue-entry.c - the spool entry format (queue.h, "Entry format"): pure
 * text in, text out. queue_entry_parse reads the envelope part of an
 * entry from memory, queue_entry_format writes it back; ids and the names
 * of the states are defined here. Parsing then formatting then parsing
 * again gives the same entry, field by field, and formatting that gives
 * the same bytes (tests/fuzz/fuzz-queue-entry.c checks it).
 *
 * It touches no file, takes no lock and never prints: storage (where the
 * spool is, durable writes, locks, what may be trusted on disk) is
 * queue.c's.
 */
#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "queue.h"
#include "queue-int.h"

#define QUEUE_ID_MAX 64                       /* longest id accepted when parsing */

const char *const queue_rcpt_state_names[] = { "pending", "delivered", "failed" };
const char *const queue_bounce_names[] = { "none", "pending", "sent" };

/* ---- ids --------------------------------------------------------------- */

bool queue_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isascii((unsigned char)s[n]) || !isalnum((unsigned char)s[n]))
            return false;
    return n > 0 && n <= QUEUE_ID_MAX;
}

/* ---- the entry format ------------------------------------------------- */

/* Append a value on one line: control characters other than tab
 * (CR and LF included) become spaces. */
static void put_value(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        buf_putc(b, ((*p < 0x20 && *p != '\t') || *p == 0x7f) ? ' ' : (char)*p);
}

char *queue_entry_format(const struct queue_entry *e)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "smtpfwd-queue: 1\nid: ");
    put_value(&b, e->id);
    buf_puts(&b, "\naccount: ");
    put_value(&b, e->account);
    buf_printf(&b, "\ncreated: %lld\nsender: ", (long long)e->created);
    put_value(&b, e->sender);
    buf_putc(&b, '\n');
    for (size_t i = 0; i < e->nrcpts; i++) {
        unsigned st = e->rcpts[i].state <= QRCPT_FAILED ? e->rcpts[i].state : QRCPT_PENDING;
        buf_printf(&b, "rcpt: %s ", queue_rcpt_state_names[st]);
        put_value(&b, e->rcpts[i].addr);
        buf_putc(&b, '\n');
    }
    for (size_t i = 0; i < e->nrcpts; i++) {
        if (!e->rcpts[i].error)
            continue;
        buf_puts(&b, "rcpt-error: ");
        put_value(&b, e->rcpts[i].addr);
        /* An empty error is the address alone: "ADDR " would belong to
         * a recipient "ADDR " (with the space) if there were one. */
        if (*e->rcpts[i].error) {
            buf_putc(&b, ' ');
            put_value(&b, e->rcpts[i].error);
        }
        buf_putc(&b, '\n');
    }
    buf_printf(&b, "attempts: %d\nnext-attempt: %lld\nlast-error: ", e->attempts,
               (long long)e->next_attempt);
    put_value(&b, e->last_error);
    buf_putc(&b, '\n');
    const char *dsn_keys[] = { "dsn-notify", "dsn-return", "dsn-envid" };
    const char *dsn_vals[] = { e->dsn_notify, e->dsn_return, e->dsn_envid };
    for (size_t i = 0; i < 3; i++) {
        if (!dsn_vals[i])
            continue;
        buf_printf(&b, "%s: ", dsn_keys[i]);
        put_value(&b, dsn_vals[i]);
        buf_putc(&b, '\n');
    }
    unsigned bo = e->bounce <= QBOUNCE_SENT ? e->bounce : QBOUNCE_NONE;
    buf_printf(&b, "body-8bit: %s\n", e->body_8bit ? "yes" : "no");
    /* Written only when they say something: an entry without them reads
     * as "not forced" and "longest line unknown". */
    if (e->body_7bit)
        buf_puts(&b, "body-7bit: yes\n");
    if (e->longest_line != SIZE_MAX)
        buf_printf(&b, "longest-line: %zu\n", e->longest_line);
    buf_printf(&b, "size: %lld\nbounce: %s\n\n", e->size, queue_bounce_names[bo]);
    return buf_steal(&b);
}

void queue_entry_free(struct queue_entry *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->account);
    free(e->sender);
    for (size_t i = 0; i < e->nrcpts; i++) {
        free(e->rcpts[i].addr);
        free(e->rcpts[i].error);
    }
    free(e->rcpts);
    free(e->last_error);
    free(e->dsn_notify);
    free(e->dsn_return);
    free(e->dsn_envid);
    memset(e, 0, sizeof *e);
}

/* A non-negative decimal number without sign, spaces or overflow. */
static bool parse_number(const char *s, long long max, long long *out)
{
    long long v = 0;
    if (!*s || strlen(s) > 19)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (max - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static int lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

enum { K_VERSION, K_ID, K_ACCOUNT, K_CREATED, K_SENDER, K_ATTEMPTS, K_NEXT, K_LASTERR,
       K_NOTIFY, K_RETURN, K_ENVID, K_8BIT, K_7BIT, K_LONGEST, K_SIZE, K_BOUNCE, K_COUNT };
static const char *const single_keys[K_COUNT] = {
    "smtpfwd-queue", "id", "account", "created", "sender", "attempts", "next-attempt",
    "last-error", "dsn-notify", "dsn-return", "dsn-envid", "body-8bit", "body-7bit", "longest-line", "size",
    "bounce",
};
/* Which single keys must be present. */
static const bool key_required[K_COUNT] = {
    [K_VERSION] = true, [K_ID] = true, [K_ACCOUNT] = true, [K_CREATED] = true,
    [K_SENDER] = true, [K_ATTEMPTS] = true, [K_NEXT] = true, [K_8BIT] = true,
    [K_SIZE] = true, [K_BOUNCE] = true,
};

/* Set one recipient's error from "ADDRESS TEXT": the longest recipient
 * address followed by a space or the end of the value. */
static bool set_rcpt_error(struct queue_entry *e, const char *val)
{
    struct queue_rcpt *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < e->nrcpts; i++) {
        size_t n = strlen(e->rcpts[i].addr);
        if (n >= best_len && strncmp(val, e->rcpts[i].addr, n) == 0
            && (val[n] == ' ' || val[n] == '\0')) {
            best = &e->rcpts[i];
            best_len = n;
        }
    }
    if (!best || best->error)
        return false;
    const char *text = val + best_len;
    best->error = xstrdup(*text == ' ' ? text + 1 : text);
    return true;
}

/* What a parse keeps besides the entry: the keys seen, and the
 * "rcpt-error:" values, applied once every "rcpt:" line is known (the
 * longest matching address must not depend on the order of the lines). */
struct parse_state {
    bool seen[K_COUNT];
    char **errors;
    size_t nerrors;
};

static int addr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True if two recipients have the same address: an entry holds one state
 * and one error per address, so a second "rcpt:" line for it could never
 * be written back faithfully. */
static bool has_duplicate_rcpt(const struct queue_entry *e)
{
    if (e->nrcpts < 2)
        return false;
    char **v = xcalloc(e->nrcpts, sizeof *v);
    for (size_t i = 0; i < e->nrcpts; i++)
        v[i] = e->rcpts[i].addr;
    qsort(v, e->nrcpts, sizeof *v, addr_cmp);
    bool dup = false;
    for (size_t i = 1; i < e->nrcpts && !dup; i++)
        dup = strcmp(v[i - 1], v[i]) == 0;
    free(v);
    return dup;
}

/* Parse one "key: value" line into e. Returns NULL or an error sentence
 * (not translated here: the caller wraps it). */
static const char *parse_line(struct queue_entry *e, char *line, struct parse_state *ps,
                              bool first)
{
    bool *seen = ps->seen;
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return N_("control character in a line");
    char *colon = strchr(line, ':');
    if (!colon)
        return N_("a line without \"key:\"");
    *colon = '\0';
    char *val = colon[1] == ' ' ? colon + 2 : colon + 1;
    const char *key = line;
    if (first && strcmp(key, "smtpfwd-queue") != 0)
        return N_("the first line is not \"smtpfwd-queue: 1\"");

    if (strcmp(key, "rcpt") == 0) {
        char *sp = strchr(val, ' ');
        if (!sp || sp[1] == '\0')
            return N_("bad rcpt line");
        *sp = '\0';
        int st = lookup(queue_rcpt_state_names, 3, val);
        if (st < 0)
            return N_("bad recipient state");
        e->rcpts = xrealloc(e->rcpts, (e->nrcpts + 1) * sizeof *e->rcpts);
        e->rcpts[e->nrcpts++] = (struct queue_rcpt){ xstrdup(sp + 1), st, NULL };
        return NULL;
    }
    if (strcmp(key, "rcpt-error") == 0) {
        ps->errors = xrealloc(ps->errors, (ps->nerrors + 1) * sizeof *ps->errors);
        ps->errors[ps->nerrors++] = xstrdup(val);
        return NULL;
    }

    int k = lookup(single_keys, K_COUNT, key);
    if (k < 0)
        return NULL;                          /* unknown keys are ignored */
    if (seen[k])
        return N_("a key given twice");
    seen[k] = true;
    long long n;
    switch (k) {
    case K_VERSION:
        return strcmp(val, "1") == 0 ? NULL : N_("unsupported version");
    case K_ID:
        if (!queue_id_valid(val))
            return N_("bad id");
        e->id = xstrdup(val);
        return NULL;
    case K_ACCOUNT:
        if (!*val)
            return N_("empty account");
        e->account = xstrdup(val);
        return NULL;
    case K_CREATED:
    case K_NEXT:
        if (!parse_number(val, (long long)(sizeof(time_t) > 4 ? LLONG_MAX : INT32_MAX), &n))
            return N_("bad time");
        *(k == K_CREATED ? &e->created : &e->next_attempt) = (time_t)n;
        return NULL;
    case K_SENDER:
        e->sender = xstrdup(val);
        return NULL;
    case K_ATTEMPTS:
        if (!parse_number(val, INT_MAX, &n))
            return N_("bad attempts");
        e->attempts = (int)n;
        return NULL;
    case K_LASTERR:
        e->last_error = *val ? xstrdup(val) : NULL;
        return NULL;
    case K_NOTIFY:
        e->dsn_notify = xstrdup(val);
        return NULL;
    case K_RETURN:
        e->dsn_return = xstrdup(val);
        return NULL;
    case K_ENVID:
        e->dsn_envid = xstrdup(val);
        return NULL;
    case K_8BIT:
        if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)
            return N_("bad body-8bit");
        e->body_8bit = val[0] == 'y';
        return NULL;
    case K_7BIT:
        if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)
            return N_("bad body-7bit");
        e->body_7bit = val[0] == 'y';
        return NULL;
    case K_LONGEST: {
        /* SIZE_MAX itself means "unknown" and is never written. */
        long long max = LLONG_MAX / 2;
        if ((unsigned long long)max > (unsigned long long)SIZE_MAX - 1)
            max = (long long)(SIZE_MAX - 1);
        if (!parse_number(val, max, &n))
            return N_("bad longest-line");
        e->longest_line = (size_t)n;
        return NULL;
    }
    case K_SIZE:
        if (!parse_number(val, LLONG_MAX / 2, &n))
            return N_("bad size");
        e->size = n;
        return NULL;
    case K_BOUNCE:
        n = lookup(queue_bounce_names, 3, val);
        if (n < 0)
            return N_("bad bounce state");
        e->bounce = (enum queue_bounce)n;
        return NULL;
    }
    return NULL;
}

int queue_entry_parse(const char *text, size_t len, long long file_size,
                      struct queue_entry *e, struct result *r)
{
    memset(e, 0, sizeof *e);
    e->longest_line = SIZE_MAX;
    struct parse_state ps = { .seen = { false } };
    const char *why = NULL;
    size_t pos = 0;
    bool ended = false;

    while (!why && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (text + pos));
        if (n == 0) {
            pos++;
            ended = true;
            break;
        }
        if (memchr(text + pos, '\0', n)) {
            why = N_("NUL byte in the envelope");
            break;
        }
        char *line = xstrndup(text + pos, n);
        why = parse_line(e, line, &ps, pos == 0);
        free(line);
        pos += n + 1;
    }
    if (!why && !ended)
        why = pos == 0 ? N_("empty entry") : N_("the envelope is truncated");
    for (int k = 0; !why && k < K_COUNT; k++)
        if (key_required[k] && !ps.seen[k])
            why = N_("a required key is missing");
    if (!why && e->nrcpts == 0)
        why = N_("no recipients");
    if (!why && has_duplicate_rcpt(e))
        why = N_("a recipient is listed twice");
    for (size_t i = 0; !why && i < ps.nerrors; i++)
        if (!set_rcpt_error(e, ps.errors[i]))
            why = N_("rcpt-error for an unknown recipient");
    for (size_t i = 0; i < ps.nerrors; i++)
        free(ps.errors[i]);
    free(ps.errors);
    if (!why && file_size != (long long)pos + e->size)
        why = N_("the message size does not match (truncated or extended)");
    if (why) {
        result_set(r, RC_DATAERR, _("corrupt spool entry: %s"), _(why));
        queue_entry_free(e);
        return -1;
    }
    e->body_offset = (long long)pos;
    return 0;
}

bool queue_entry_any(const struct queue_entry *e, enum queue_rcpt_state st)
{
    for (size_t i = 0; i < e->nrcpts; i++)
        if (e->rcpts[i].state == st)
            return true;
    return false;
}
