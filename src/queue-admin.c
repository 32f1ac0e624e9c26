/*
 * queue-admin.c - what people and scripts do with the spool: -bp/mailq
 * listing (text and --queue-json, formats documented in smtpfwd(1) and
 * kept stable), --queue-remove and --queue-retry. The entry format is
 * queue-entry.c's; the files, durable writes and locks are
 * queue-store.c's: this file reaches entries only through their handles
 * (queue.h) and acts on whole entries.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtprc.h"
#include "i18n.h"
#include "log.h"
#include "queue.h"
#include "queue-int.h"

/* What a command had to leave out of the spool (refused or unreadable
 * spools and entries, each named on stderr): how many, and the class of
 * the first. */
struct left_out {
    size_t n;
    enum result_class cls;
};

static void leave_out(struct result *r, void *arg)
{
    struct left_out *lo = arg;
    log_error("%s", r->msg);
    if (lo->n++ == 0)
        lo->cls = r->cls;
    result_clear(r);
}

/* Every existing spool directory of cfg's accounts plus the default one,
 * each once. A spool that is refused is left out (leave_out). */
static struct queue_spool **spools_collect(const struct config *cfg, size_t *n,
                                           struct left_out *lo)
{
    return queue_spools(cfg, NULL, QUEUE_SPOOLS_DEFAULT | QUEUE_SPOOLS_EXISTING, n, leave_out,
                        lo);
}

/* ---- -bp / mailq / --queue-json ---------------------------------------- */

struct listed {
    struct queue_entry e;
    bool failed;
};

static int listed_cmp(const void *pa, const void *pb)
{
    const struct listed *a = pa, *b = pb;
    if (a->e.created != b->e.created)
        return a->e.created < b->e.created ? -1 : 1;
    return strcmp(a->e.id, b->e.id);
}

/* Read (without locking: listing never waits) every valid entry of the
 * spool's area into *list. Corrupt or vanished files are skipped;
 * refused ones and unreadable ones are left out (leave_out). */
static void list_collect(const struct queue_spool *spool, enum queue_area area,
                         struct listed **list, size_t *n, size_t *cap, struct left_out *lo)
{
    struct result r = RESULT_INIT;
    struct queue_scan *sc = queue_scan_start(spool, area, 0, &r);
    if (!sc) {
        result_clear(&r);   /* an area that cannot be read holds nothing to list */
        return;
    }
    for (;;) {
        struct queue_entry_handle *h = NULL;
        struct queue_entry e;
        int rc = queue_scan_next(sc, &h, &e, &r);
        if (rc == 0)
            break;
        if (rc < 0) {
            leave_out(&r, lo);
            continue;
        }
        queue_handle_close(h);
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *list = xrealloc(*list, *cap * sizeof **list);
        }
        (*list)[(*n)++] = (struct listed){ e, area == QUEUE_FAILED };
    }
    queue_scan_end(sc);
}

static void format_age(char *out, size_t size, time_t now, time_t created)
{
    long long age = now > created ? (long long)(now - created) : 0;
    if (age < 60)
        snprintf(out, size, "%llds", age);
    else if (age < 3600)
        snprintf(out, size, "%lldm", age / 60);
    else if (age < 86400)
        snprintf(out, size, "%lldh", age / 3600);
    else
        snprintf(out, size, "%lldd", age / 86400);
}

static void format_time(char *out, size_t size, time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
        snprintf(out, size, "%lld", (long long)t);
}

/* A JSON string: quotes, backslashes and control characters escaped;
 * bytes that are not valid UTF-8 become U+FFFD. */
static void json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    putc('"', out);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putc((int)c, out);
            p++;
        } else {
            size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            bool ok = n > 0;
            for (size_t i = 1; ok && i < n; i++)
                ok = (p[i] & 0xc0) == 0x80;
            if (ok && n == 3)   /* overlong forms and surrogates */
                ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
            if (ok && n == 4)
                ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
            if (ok) {
                fwrite(p, 1, n, out);
                p += n;
            } else {
                fputs("\\ufffd", out);
                p++;
            }
        }
    }
    putc('"', out);
}

static void list_text(FILE *out, const struct listed *l, time_t now)
{
    const struct queue_entry *e = &l->e;
    char age[32], next[64];
    format_age(age, sizeof age, now, e->created);
    fprintf(out, "%s  %lld  %s  <%s>%s\n", e->id, e->size, age, e->sender,
            l->failed ? _("  (failed)") : "");
    for (size_t i = 0; i < e->nrcpts; i++) {
        fprintf(out, "    %s <%s>", queue_rcpt_state_names[e->rcpts[i].state], e->rcpts[i].addr);
        if (e->rcpts[i].error)
            fprintf(out, "  %s", e->rcpts[i].error);
        putc('\n', out);
    }
    if (l->failed)
        snprintf(next, sizeof next, "%s", _("none"));
    else
        format_time(next, sizeof next, e->next_attempt);
    fprintf(out, _("    attempts %d, next attempt %s"), e->attempts, next);
    if (e->last_error)
        fprintf(out, _(", last error: %s"), e->last_error);
    fputs("\n\n", out);
}

static void list_json(FILE *out, const struct listed *l, bool first)
{
    const struct queue_entry *e = &l->e;
    fputs(first ? "\n  {" : ",\n  {", out);
    fputs("\"id\": ", out);
    json_string(out, e->id);
    fputs(", \"account\": ", out);
    json_string(out, e->account);
    fprintf(out, ", \"size\": %lld, \"created\": %lld, \"sender\": ", e->size,
            (long long)e->created);
    json_string(out, e->sender);
    fputs(", \"recipients\": [", out);
    for (size_t i = 0; i < e->nrcpts; i++) {
        fputs(i ? ", {\"address\": " : "{\"address\": ", out);
        json_string(out, e->rcpts[i].addr);
        fprintf(out, ", \"state\": \"%s\", \"error\": ", queue_rcpt_state_names[e->rcpts[i].state]);
        if (e->rcpts[i].error)
            json_string(out, e->rcpts[i].error);
        else
            fputs("null", out);
        putc('}', out);
    }
    fprintf(out, "], \"attempts\": %d, \"next_attempt\": %lld, \"last_error\": ", e->attempts,
            (long long)e->next_attempt);
    if (e->last_error)
        json_string(out, e->last_error);
    else
        fputs("null", out);
    fprintf(out, ", \"bounce\": \"%s\", \"failed\": %s}", queue_bounce_names[e->bounce],
            l->failed ? "true" : "false");
}

int queue_list(const struct config *cfg, FILE *out, bool json, struct result *r)
{
    struct listed *list = NULL;
    size_t n = 0, cap = 0, nspools = 0;
    struct left_out lo = { 0, RC_OK };
    struct queue_spool **spools = spools_collect(cfg, &nspools, &lo);
    for (size_t i = 0; i < nspools; i++) {
        list_collect(spools[i], QUEUE_NEW, &list, &n, &cap, &lo);
        list_collect(spools[i], QUEUE_FAILED, &list, &n, &cap, &lo);
    }
    queue_spools_free(spools, nspools);
    if (n > 1)
        qsort(list, n, sizeof *list, listed_cmp);

    time_t now = time(NULL);
    if (json)
        fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        if (json)
            list_json(out, &list[i], i == 0);
        else
            list_text(out, &list[i], now);
    }
    if (json)
        fputs(n ? "\n]\n" : "]\n", out);
    else if (n == 0)
        fputs(_("Mail queue is empty\n"), out);
    else
        fprintf(out, ngettext("%zu message queued\n", "%zu messages queued\n", n), n);

    for (size_t i = 0; i < n; i++)
        queue_entry_free(&list[i].e);
    free(list);
    if (fflush(out) != 0 || ferror(out)) {
        result_set(r, RC_IOERR, _("cannot write the queue listing: %s"), strerror(errno));
        return -1;
    }
    if (lo.n > 0) {
        /* Not ours to list (or unreadable): the listing is complete for
         * what may be trusted; the status says something needs a look. */
        result_set(r, lo.cls,
                   ngettext("%zu spool entry or directory was left out of the listing "
                            "(see above)",
                            "%zu spool entries or directories were left out of the listing "
                            "(see above)", (unsigned long)lo.n),
                   lo.n);
        return -1;
    }
    return 0;
}

/* ---- --queue-remove / --queue-retry ------------------------------------ */

/* Report one id's failure: the first goes to r, later ones to stderr. */
static void id_failure(struct result *r, enum result_class cls, char *msg)
{
    if (r->cls == RC_OK)
        result_set(r, cls, "%s", msg);
    else
        log_error("%s", msg);
    free(msg);
}

static int act_on_ids(const struct config *cfg, char **ids, int n, bool retry, struct result *r)
{
    size_t nspools = 0;
    struct left_out lo = { 0, RC_OK };
    /* Refused spools are named on stderr. */
    struct queue_spool **spools = spools_collect(cfg, &nspools, &lo);
    for (int i = 0; i < n; i++) {
        struct result er = RESULT_INIT;
        struct queue_entry_handle *h = NULL;
        struct queue_entry e;
        int rc = queue_entry_find(spools, nspools, ids[i], QUEUE_OPEN_LOCK, &h, &e, &er);
        if (rc == 2 && lo.n > 0) {
            /* It may be in a spool that was refused. */
            id_failure(r, lo.cls, xasprintf(_("no queued message with id %s in the spools "
                                               "that could be used"), ids[i]));
        } else if (rc == 2) {
            id_failure(r, RC_USAGE, xasprintf(_("no queued message with id %s"), ids[i]));
        } else if (rc == 1) {
            id_failure(r, RC_TEMPFAIL,
                       xasprintf(_("the message %s is being delivered right now; try again "
                                   "later"), ids[i]));
        } else if (rc < 0) {
            id_failure(r, er.cls, xstrdup(er.msg));
        } else if (!retry) {
            if (queue_handle_remove(h, true, &er) != 0)
                id_failure(r, er.cls, xstrdup(er.msg));
        } else {
            e.next_attempt = time(NULL);
            e.attempts = 0;
            if (queue_handle_area(h) == QUEUE_FAILED) {
                for (size_t k = 0; k < e.nrcpts; k++) {
                    if (e.rcpts[k].state == QRCPT_FAILED) {
                        e.rcpts[k].state = QRCPT_PENDING;
                        free(e.rcpts[k].error);
                        e.rcpts[k].error = NULL;
                    }
                }
                if (e.bounce == QBOUNCE_PENDING)
                    e.bounce = QBOUNCE_NONE;
            }
            /* Back in new/ when it was in failed/. */
            if (queue_handle_update(h, &e, &er) != 0)
                id_failure(r, er.cls, xstrdup(er.msg));
        }
        if (rc == 0)
            queue_entry_free(&e);
        queue_handle_close(h);
        result_clear(&er);
    }
    queue_spools_free(spools, nspools);
    return r->cls == RC_OK ? 0 : -1;
}

int queue_remove(const struct config *cfg, char **ids, int n, struct result *r)
{
    return act_on_ids(cfg, ids, n, false, r);
}

int queue_retry(const struct config *cfg, char **ids, int n, struct result *r)
{
    return act_on_ids(cfg, ids, n, true, r);
}
