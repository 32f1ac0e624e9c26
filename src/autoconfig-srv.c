/*
 * autoconfig-srv.c - the DNS part of --configure: one SRV lookup through
 * the system's resolver (res_query, <resolv.h>) and a bounds-checked
 * parser of the answer (srv_parse_answer, see autoconfig.h).
 *
 * Owns: reading DNS messages (names with compression, records); what
 * the resolver's failures mean (NXDOMAIN and NODATA: nothing; SERVFAIL,
 * a timeout, a malformed answer: a temporary failure).
 *
 * Must not: read past the message, follow a compression pointer that
 * does not point backwards, or trust a length field of the message.
 */
#include <config.h>

#include <netdb.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "autoconfig-int.h"
#include "i18n.h"
#include "util.h"

#define DNS_HEADER 12
#define DNS_TYPE_SRV 33
#define DNS_CLASS_IN 1
#define DNS_NAME_MAX 255

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Skip or read the name at *pos. With out (DNS_NAME_MAX + 1 bytes) the
 * name is written in presentation form without the final dot ("" for
 * the root). *pos moves past the name as it stands in the record (a
 * pointer ends it). Returns 0 or -1 when malformed. Each pointer must
 * point before the place it is found, so no loop is possible. */
static int read_name(const unsigned char *msg, size_t len, size_t *pos, char *out)
{
    size_t p = *pos, outlen = 0, wire = 0;
    bool jumped = false;
    for (;;) {
        if (p >= len)
            return -1;
        unsigned c = msg[p];
        if ((c & 0xc0) == 0xc0) {
            if (p + 1 >= len)
                return -1;
            size_t target = (c & 0x3f) << 8 | msg[p + 1];
            if (target >= p)
                return -1;            /* forward or self: refused (no loops) */
            if (!jumped)
                *pos = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (c & 0xc0)
            return -1;                /* 0x40, 0x80: extended label types */
        if (c == 0) {
            if (!jumped)
                *pos = p + 1;
            break;
        }
        if (p + 1 + c > len)
            return -1;
        wire += c + 1;
        if (wire + 1 > DNS_NAME_MAX)
            return -1;
        if (out) {
            if (outlen)
                out[outlen++] = '.';
            for (unsigned i = 0; i < c; i++) {
                unsigned char ch = msg[p + 1 + i];
                /* A host name: letters, digits, '-', '_'. Anything else
                 * makes the record unusable, so that a name can never
                 * bring other text into the configuration printed. */
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                    || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
                    out[outlen++] = (char)ch;
                } else {
                    return -1;        /* not a host name: the record is unusable */
                }
            }
        }
        p += 1 + c;
    }
    if (out)
        out[outlen] = '\0';
    return 0;
}

static int srv_cmp(const void *a, const void *b)
{
    const struct srv_record *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    int c = strcmp(x->target, y->target);
    if (c)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

void srv_free(struct srv_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(recs[i].target);
        recs[i].target = NULL;
    }
}

int srv_parse_answer(const unsigned char *msg, size_t len, struct srv_record *out, size_t max)
{
    if (len < DNS_HEADER || !(msg[2] & 0x80))
        return -1;
    unsigned qd = get16(msg + 4), an = get16(msg + 6);
    size_t pos = DNS_HEADER;
    for (unsigned i = 0; i < qd; i++) {
        if (read_name(msg, len, &pos, NULL) != 0 || pos + 4 > len)
            return -1;
        pos += 4;
    }
    size_t n = 0;
    char name[DNS_NAME_MAX + 1];
    for (unsigned i = 0; i < an; i++) {
        if (read_name(msg, len, &pos, NULL) != 0 || pos + 10 > len)
            goto bad;
        unsigned type = get16(msg + pos), cls = get16(msg + pos + 2);
        size_t rdlen = get16(msg + pos + 8);
        pos += 10;
        if (rdlen > len - pos)
            goto bad;
        size_t end = pos + rdlen;
        if (type == DNS_TYPE_SRV && cls == DNS_CLASS_IN) {
            if (rdlen < 7)
                goto bad;
            size_t tpos = pos + 6;
            /* the target is read within the record's data only */
            if (read_name(msg, end, &tpos, name) != 0 || tpos != end)
                goto bad;
            if (n < max) {
                out[n].priority = get16(msg + pos);
                out[n].weight = get16(msg + pos + 2);
                out[n].port = get16(msg + pos + 4);
                out[n].target = xstrdup(name);
                n++;
            }
        }
        pos = end;
    }
    qsort(out, n, sizeof *out, srv_cmp);
    return (int)n;
bad:
    srv_free(out, n);
    return -1;
}

enum srv_outcome srv_lookup(const char *name, struct srv_record *out, size_t max, size_t *n,
                            char **why)
{
    unsigned char answer[8192];
    *n = 0;
    *why = NULL;
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) != 0) {
        *why = xstrdup(_("the resolver cannot be initialized (/etc/resolv.conf)"));
        return SRV_TEMPFAIL;
    }
    int len = res_nquery(&st, name, DNS_CLASS_IN, DNS_TYPE_SRV, answer, sizeof answer);
    int herr = st.res_h_errno;
    res_nclose(&st);
    if (len < 0) {
        switch (herr) {
        case HOST_NOT_FOUND:
            *why = xstrdup(_("no such name (NXDOMAIN)"));
            return SRV_NOTHING;
        case NO_DATA:
            *why = xstrdup(_("no SRV record"));
            return SRV_NOTHING;
        case TRY_AGAIN:
            *why = xstrdup(_("the name server failed or did not answer (SERVFAIL or a "
                             "timeout); try again later"));
            return SRV_TEMPFAIL;
        default:
            *why = xstrdup(_("the name server refused the query or its answer is broken"));
            return SRV_TEMPFAIL;
        }
    }
    if ((size_t)len > sizeof answer)
        len = sizeof answer;    /* truncated: the parser finds what fits, or refuses */
    int k = srv_parse_answer(answer, (size_t)len, out, max);
    if (k < 0) {
        *why = xstrdup(_("the DNS answer is malformed"));
        return SRV_TEMPFAIL;
    }
    if (k == 0) {
        *why = xstrdup(_("no SRV record"));
        return SRV_NOTHING;
    }
    /* RFC 2782: one record whose target is "." means that the service
     * is decidedly not available at this domain. */
    if (k == 1 && out[0].target[0] == '\0') {
        srv_free(out, 1);
        *why = xstrdup(_("the domain says the service is not offered (target \".\")"));
        return SRV_DECLINED;
    }
    *n = (size_t)k;
    return SRV_FOUND;
}
