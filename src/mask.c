/*
 * mask.c - hiding credentials in server replies (see mask.h): the list
 * of strings to hide, the base64 forms of a password, and the in-place
 * replacement.
 *
 * Must not: log, or keep a secret after mask_list_free (every copy is
 * wiped).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "util.h"

void mask_add(struct mask_list *m, const char *secret)
{
    if (!secret || strlen(secret) < MASK_MIN_LEN)
        return;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i], secret) == 0)
            return;
    char **grown = xmalloc((m->n + 1) * sizeof *grown);
    if (m->n)
        memcpy(grown, m->items, m->n * sizeof *grown);
    free(m->items);
    m->items = grown;
    m->items[m->n++] = xstrdup(secret);
}

void mask_add_password(struct mask_list *m, const char *password)
{
    if (!password || !*password)
        return;
    size_t n = strlen(password);
    mask_add(m, password);
    char *alone = base64_encode(password, n);
    mask_add(m, alone);
    secret_free(alone);
    /* Inside longer data the password starts after k = 0, 1 or 2 bytes
     * of its 3-byte group. Character j of the encoding carries bits
     * [6j, 6j+6) of the data, and the password is bits [8k, 8(k+n)):
     * the characters that lie wholly inside are the same whatever
     * surrounds the password. */
    unsigned char *data = xmalloc(n + 2);
    for (size_t k = 0; k < 3; k++) {
        memset(data, 0, k);
        memcpy(data + k, password, n);
        char *enc = base64_encode(data, k + n);
        size_t first = (8 * k + 5) / 6;          /* first j with 6j >= 8k */
        size_t end = 8 * (k + n) / 6;            /* j < end: 6j + 6 <= 8(k+n) */
        if (end > first && end - first >= MASK_MIN_LEN + 1) {
            enc[end] = '\0';
            mask_add(m, enc + first);
        }
        secret_free(enc);
    }
    secure_wipe(data, n + 2);
    free(data);
}

size_t mask_apply(const struct mask_list *m, char *text, size_t len)
{
    if (!m || m->n == 0 || len == 0)
        return len;
    size_t out = 0;
    size_t i = 0;
    while (i < len) {
        /* The registered string that starts at i, the longest if several. */
        size_t best = 0;
        for (size_t k = 0; k < m->n; k++) {
            if (text[i] != m->items[k][0])
                continue;
            size_t sl = strlen(m->items[k]);
            if (sl > best && sl <= len - i && memcmp(text + i, m->items[k], sl) == 0)
                best = sl;
        }
        if (best) {
            size_t r = best < sizeof MASK_TEXT - 1 ? best : sizeof MASK_TEXT - 1;
            memcpy(text + out, MASK_TEXT, r);
            out += r;
            i += best;
        } else {
            text[out++] = text[i++];
        }
    }
    if (out < len)
        text[out] = '\0';
    return out;
}

void mask_list_free(struct mask_list *m)
{
    for (size_t i = 0; i < m->n; i++)
        secret_free(m->items[i]);
    free(m->items);
    m->items = NULL;
    m->n = 0;
}
