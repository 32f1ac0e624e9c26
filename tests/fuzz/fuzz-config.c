/*
 * fuzz-config.c - fuzz target "config": configuration file text (msmtprc
 * syntax, smtprc-parse.c) into a parsed configuration, with `eval`
 * refused (CONFIG_PARSE_NO_EVAL): no command ever runs.
 *
 * Properties checked (abort() on violation), besides no crash and no leak:
 *   - an error is RC_CONFIG and its message starts with "FILE:LINE: "
 *     where LINE is a line of the input (1 .. number of lines);
 *   - a successful parse finds every account it holds by its name
 *     (config_find returns that very account: names are unique), each
 *     non-empty, without ',' and defined at a line of the input in this
 *     file;
 *   - there are no more accounts than lines that start an account;
 *   - parsing the same text again gives the same result: the same error
 *     message, or the same accounts with the same --pretend listing;
 *   - account selection without a name gives "default" or an RC_CONFIG
 *     error.
 * Inputs holding a NUL byte are skipped: smtprc.c refuses such a file
 * before parsing it.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtprc-parse.h"
#include "log.h"
#include "util.h"

#define FUZZ_FILE "fuzz.smtprc"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* ~ in paths: a fixed home, so that the listing is the same every run. */
    setenv("HOME", "/nonexistent-fuzz-home", 1);
    return 0;
}

/* The outcome of one parse, as text: the error, or every account's
 * --pretend listing. Caller frees. */
static char *parse_once(const char *text, size_t len, struct config **out, struct result *r)
{
    struct config *cfg = config_new();
    log_hold();
    int rc = config_parse_text_flags(cfg, text, len, FUZZ_FILE, CONFIG_PARSE_NO_EVAL, NULL, r);
    log_release(false);
    char *listing = NULL;
    size_t listing_len = 0;
    FILE *mem = open_memstream(&listing, &listing_len);
    if (!mem)
        abort();
    if (rc != 0) {
        if (!r->msg)
            abort();
        fprintf(mem, "error %d %s\n", (int)r->cls, r->msg);
    } else {
        if (r->cls != RC_OK)
            abort();
        for (size_t i = 0; i < cfg->naccounts; i++)
            config_print_account(mem, cfg->accounts[i]);
    }
    fclose(mem);
    *out = cfg;
    return listing;
}

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    if (len && text[len - 1] != '\n')
        n++;
    return n;
}

/* Lines whose first word is "account" (the most accounts there can be). */
static size_t count_account_lines(const char *text, size_t len)
{
    size_t n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        while (p < le && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(le - p) >= 7 && memcmp(p, "account", 7) == 0
            && (le - p == 7 || p[7] == ' ' || p[7] == '\t'))
            n++;
        p = nl ? nl + 1 : end;
    }
    return n;
}

static void check_error(const struct result *r, size_t nlines)
{
    static const char prefix[] = FUZZ_FILE ":";
    if (r->cls != RC_CONFIG)
        abort();
    if (strncmp(r->msg, prefix, sizeof prefix - 1) != 0)
        abort();
    const char *p = r->msg + sizeof prefix - 1;
    char *end;
    unsigned long line = strtoul(p, &end, 10);
    if (end == p || *p < '0' || *p > '9' || strncmp(end, ": ", 2) != 0)
        abort();
    if (line < 1 || line > nlines)
        abort();
}

static void check_accounts(const struct config *cfg, const char *text, size_t len,
                           size_t nlines)
{
    if (cfg->naccounts > count_account_lines(text, len))
        abort();
    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct account *a = cfg->accounts[i];
        if (!a->name || !*a->name || strchr(a->name, ','))
            abort();
        if (config_find(cfg, a->name) != a)
            abort();
        if (!a->file || strcmp(a->file, FUZZ_FILE) != 0)
            abort();
        if (a->line < 1 || (size_t)a->line > nlines)
            abort();
    }
    struct result r = RESULT_INIT;
    const struct account *d = config_select(cfg, NULL, NULL, &r);
    if (d) {
        if (strcmp(d->name, "default") != 0 || r.cls != RC_OK)
            abort();
    } else if (r.cls != RC_CONFIG || !r.msg) {
        abort();
    }
    result_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024 || memchr(data, '\0', size))
        return 0;
    /* A copy with a NUL after it, as smtprc.c hands over a file. */
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct config *c1, *c2;
    struct result r1 = RESULT_INIT, r2 = RESULT_INIT;
    char *l1 = parse_once(text, size, &c1, &r1);
    char *l2 = parse_once(text, size, &c2, &r2);
    if (strcmp(l1, l2) != 0)
        abort();
    size_t nlines = count_lines(text, size);
    if (r1.cls != RC_OK)
        check_error(&r1, nlines);
    else
        check_accounts(c1, text, size, nlines);

    result_clear(&r1);
    result_clear(&r2);
    free(l1);
    free(l2);
    config_free(c1);
    config_free(c2);
    free(text);
    return 0;
}
