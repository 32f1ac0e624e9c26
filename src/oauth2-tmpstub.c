/* TEMPORARY: stands in for the OAuth2 core until it lands on main; removed by the merge of main. */
#include <config.h>
#include <stdlib.h>
#include <string.h>
#include "oauth2.h"
#include "smtprc.h"
#include "util.h"
bool oauth2_enabled(const struct account *a) { return a->oauth2_provider != NULL; }
char *oauth2_token(const struct account *a, bool refresh, bool *from_cache, struct result *r)
{
    (void)a;
    if (!refresh) {
        if (from_cache) *from_cache = getenv("STUB_FROM_CACHE") != NULL;
        const char *t = getenv("STUB_TOKEN");
        if (!t) { result_set(r, RC_NOPERM, "no refresh token stored; run: smtpfwd --authorize"); return NULL; }
        return xstrdup(t);
    }
    const char *t = getenv("STUB_NEW");
    if (!t) { result_set(r, RC_TEMPFAIL, "cannot reach the token endpoint"); return NULL; }
    return xstrdup(t);
}
static int b64v(int c){ if(c>='A'&&c<='Z')return c-'A'; if(c>='a'&&c<='z')return c-'a'+26; if(c>='0'&&c<='9')return c-'0'+52; if(c=='+')return 62; if(c=='/')return 63; return -1;}
char *oauth2_challenge_status(const char *b64)
{
    size_t n = strlen(b64); char *o = xmalloc(n + 1); size_t k = 0; unsigned v = 0; int bits = 0;
    for (size_t i = 0; i < n; i++) { int d = b64v(b64[i]); if (d < 0) break; v = (v << 6) | (unsigned)d; bits += 6; if (bits >= 8) { bits -= 8; o[k++] = (char)((v >> bits) & 0xff); } }
    o[k] = 0;
    char *p = strstr(o, "\"status\"");
    char *res = NULL;
    if (p && (p = strchr(p + 8, '"'))) { char *e = strchr(p + 1, '"'); if (e) res = xstrndup(p + 1, (size_t)(e - p - 1)); }
    free(o); return res;
}
