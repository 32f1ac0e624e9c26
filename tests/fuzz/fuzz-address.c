/*
 * fuzz-address.c - fuzz target for src/address.c: an address list (a
 * header value or a command-line recipient) -> the parsed mailboxes, and
 * the envelope address check.
 *
 * Input: byte 0 chooses sender (odd) or recipient for the envelope
 * check; the rest is the text (up to its first NUL, as a C string).
 *
 * Properties, checked with abort():
 *   - address_parse_list() either appends mailboxes and leaves r alone,
 *     or appends nothing and sets RC_DATAERR with a message;
 *   - no mailbox or display name contains CR, LF or another control
 *     character (a tab only inside a quoted local part), and no mailbox
 *     is empty;
 *   - every mailbox, written the way smtpfwd sends it ("<mailbox>", as in
 *     MAIL FROM:<...> and RCPT TO:<...>) and bare, parses back to exactly
 *     that one mailbox; "\"display\" <mailbox>" gives back the display
 *     name too; address_strip_angles() undoes the angle brackets;
 *   - addr_list_contains() finds every parsed mailbox; address_domain()
 *     points after the last "@" of the mailbox or is NULL;
 *   - an address that address_validate_envelope() accepts holds no
 *     control character, at most one enclosing pair of angle brackets
 *     and at most 256 octets with them, so "RCPT TO:<...>" is one line;
 *   - ASan: nothing is read outside the text.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "fuzz-address: property failed at line %d: %s\n", __LINE__, #cond); \
        abort(); } } while (0)

static bool has_ctl(const char *s, bool tab_ok)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(tab_ok && *p == '\t')) || *p == 0x7f)
            return true;
    return false;
}

/* Parse text; it must give exactly one mailbox equal to mailbox, and, if
 * display is not NULL, that display name. */
static void reparse_one(const char *text, const char *mailbox, const char *display)
{
    struct addr_list l = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    int rc = address_parse_list(text, &l, &r);
    if (rc != 0)
        fprintf(stderr, "fuzz-address: \"%s\" does not parse back: %s\n", text,
                r.msg ? r.msg : "");
    CHECK(rc == 0);
    CHECK(l.n == 1);
    CHECK(strcmp(l.v[0].mailbox, mailbox) == 0);
    if (display)
        CHECK(l.v[0].display && strcmp(l.v[0].display, display) == 0);
    addr_list_free(&l);
    result_clear(&r);
}

static char *quoted(const char *s)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_putc(&b, '\\');
        buf_putc(&b, *s);
    }
    buf_putc(&b, '"');
    return buf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    bool is_sender = data[0] & 1;
    char *text = xmalloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    /* The list parser. */
    struct addr_list l = ADDR_LIST_INIT;
    addr_list_add(&l, NULL, "sentinel@x.test");
    struct result r = RESULT_INIT;
    int rc = address_parse_list(text, &l, &r);
    if (rc != 0) {
        CHECK(rc == -1 && r.cls == RC_DATAERR && r.msg != NULL);
        CHECK(!strchr(r.msg, '\r') && !strchr(r.msg, '\n'));
        CHECK(l.n == 1 && strcmp(l.v[0].mailbox, "sentinel@x.test") == 0);
    } else {
        CHECK(r.cls == RC_OK && r.msg == NULL);
    }
    for (size_t i = 1; i < l.n; i++) {
        const char *mb = l.v[i].mailbox, *dn = l.v[i].display;
        CHECK(mb[0] != '\0');
        CHECK(!has_ctl(mb, true));
        CHECK(!dn || !has_ctl(dn, true));
        CHECK(addr_list_contains(&l, mb));

        char *angled = xasprintf("<%s>", mb);
        reparse_one(angled, mb, NULL);
        char *stripped = address_strip_angles(angled);
        CHECK(strcmp(stripped, mb) == 0);
        free(stripped);
        free(angled);
        reparse_one(mb, mb, NULL);
        if (dn) {
            char *q = quoted(dn);
            char *named = xasprintf("%s <%s>", q, mb);
            reparse_one(named, mb, dn);
            free(named);
            free(q);
        }

        const char *d = address_domain(mb);
        if (d) {
            CHECK(d > mb && d <= mb + strlen(mb) && d[-1] == '@');
            CHECK(strchr(d, '@') == NULL);
        }
    }
    addr_list_free(&l);
    result_clear(&r);

    /* The envelope gate. */
    if (address_validate_envelope(text, is_sender, &r) == 0) {
        CHECK(r.cls == RC_OK);
        CHECK(!has_ctl(text, false));
        size_t n = strlen(text);
        CHECK(n <= 256);
        CHECK(n > 0 || is_sender);
        char *bare = address_strip_angles(text);
        CHECK(!strchr(bare, '\r') && !strchr(bare, '\n'));
        /* Whatever is left between the brackets on the wire is not
         * itself bracketed again. */
        CHECK(!(bare[0] == '<' && bare[1] && bare[strlen(bare) - 1] == '>'));
        free(bare);
    } else {
        CHECK(r.cls == RC_DATAERR && r.msg != NULL);
        CHECK(!strchr(r.msg, '\r') && !strchr(r.msg, '\n'));
    }
    result_clear(&r);
    free(text);
    return 0;
}
