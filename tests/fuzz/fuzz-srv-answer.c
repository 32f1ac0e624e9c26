/*
 * fuzz-srv-answer.c - fuzz target "srv-answer": a DNS answer as the
 * resolver hands it to --configure (srv_parse_answer).
 *
 * Input: the DNS message.
 *
 * Properties checked (abort() on violation), besides no crash, no read
 * past the message and no leak:
 *   - the count is -1 or within 0..SRV_MAX;
 *   - every target is a host name of letters, digits, '-', '_' and
 *     dots, at most 253 characters, with no empty label ("" alone is
 *     the root, ".");
 *   - the records are in order (priority ascending, then weight
 *     descending);
 *   - the same bytes twice give the same records.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int host_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return 1;
    if (n > 253 || t[0] == '.' || t[n - 1] == '.' || strstr(t, ".."))
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65535)
        return 0;
    /* a copy of exactly size bytes, so that ASan sees any read past it */
    unsigned char *msg = malloc(size ? size : 1);
    if (!msg)
        return 0;
    memcpy(msg, data, size);
    struct srv_record a[SRV_MAX], b[SRV_MAX];
    int n = srv_parse_answer(msg, size, a, SRV_MAX);
    int m = srv_parse_answer(msg, size, b, SRV_MAX);
    if (n < -1 || n > SRV_MAX || n != m)
        abort();
    for (int i = 0; i < n; i++) {
        if (!host_ok(a[i].target) || a[i].priority > 65535 || a[i].weight > 65535
            || a[i].port > 65535)
            abort();
        if (i > 0 && (a[i - 1].priority > a[i].priority
                      || (a[i - 1].priority == a[i].priority && a[i - 1].weight < a[i].weight)))
            abort();
        if (strcmp(a[i].target, b[i].target) != 0 || a[i].port != b[i].port)
            abort();
    }
    if (n > 0) {
        srv_free(a, (size_t)n);
        srv_free(b, (size_t)n);
    }
    free(msg);
    return 0;
}
