/*
 * fuzz-netrc.c - fuzz target "netrc": the text of a netrc file, a host and
 * a user into secret_netrc_find()'s password lookup.
 *
 * Input: HOST "\n" USER "\n" TEXT (an empty USER line means no user: any
 * login matches). Inputs with a NUL byte are skipped (netrc_lookup
 * ignores such a file before searching it).
 *
 * Properties checked (abort() on violation), besides no crash and no leak:
 *   - a password found is a token of the text: a run of non-blank
 *     characters of it, or the value of a "quoted" token of it (with \"
 *     and \\ escapes), and the text holds the keyword "password";
 *   - the same lookup twice gives the same answer;
 *   - the host is matched without regard to ASCII case: the host in
 *     upper case gives the same answer;
 *   - a lookup that finds a password for a user also finds one without
 *     a user (every entry that matches a user matches "any login").
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Is pw a token of text, starting anywhere (tokens may follow a closing
 * quote directly)? */
static bool is_token_of(const char *pw, const char *text)
{
    size_t pwlen = strlen(pw);
    for (const char *p = text; *p; p++) {
        if (*p == '"') {
            /* the quoted token's value, compared as it is unescaped */
            const char *q = p + 1;
            size_t i = 0;
            bool same = true;
            while (*q && *q != '"') {
                if (*q == '\\' && q[1])
                    q++;
                if (i >= pwlen || pw[i] != *q)
                    same = false;
                i++;
                q++;
            }
            if (same && i == pwlen)
                return true;
        }
        if (!blank(*p)) {
            size_t n = 0;
            while (p[n] && !blank(p[n]))
                n++;
            if (n == pwlen && memcmp(p, pw, n) == 0)
                return true;
        }
    }
    return false;
}

static bool same_answer(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024 || memchr(data, '\0', size))
        return 0;
    const char *nl1 = memchr(data, '\n', size);
    if (!nl1)
        return 0;
    const char *rest = nl1 + 1;
    size_t rest_len = size - (size_t)(rest - (const char *)data);
    const char *nl2 = memchr(rest, '\n', rest_len);
    if (!nl2)
        return 0;
    char *host = xstrndup((const char *)data, (size_t)(nl1 - (const char *)data));
    char *user_s = xstrndup(rest, (size_t)(nl2 - rest));
    const char *user = *user_s ? user_s : NULL;
    char *text = xstrndup(nl2 + 1, size - (size_t)(nl2 + 1 - (const char *)data));

    char *pw = secret_netrc_find(text, host, user);
    char *again = secret_netrc_find(text, host, user);
    if (!same_answer(pw, again))
        abort();
    char *upper = xstrdup(host);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    char *by_upper = secret_netrc_find(text, upper, user);
    if (!same_answer(pw, by_upper))
        abort();
    char *any = secret_netrc_find(text, host, NULL);
    if (pw && !any)
        abort();
    if (pw && (!strstr(text, "password") || !is_token_of(pw, text)))
        abort();

    secret_free(pw);
    secret_free(again);
    secret_free(by_upper);
    secret_free(any);
    free(upper);
    free(host);
    free(user_s);
    free(text);
    return 0;
}
