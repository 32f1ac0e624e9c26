/*
 * test-mask.c - unit tests for mask.[ch]: which forms of a password are
 * hidden (itself, its base64 alone, its base64 inside longer data at the
 * three alignments: AUTH PLAIN, XOAUTH2, arbitrary prefixes), exact
 * strings, the replacement (never longer than what it hides, the longest
 * match first), and what is deliberately left alone (short strings).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "tap.h"
#include "util.h"

/* text masked with m, as a new string. */
static char *masked(const struct mask_list *m, const char *text)
{
    char *t = xstrdup(text);
    size_t n = mask_apply(m, t, strlen(t));
    t[n] = '\0';
    return t;
}

static void check(const struct mask_list *m, const char *text, const char *want,
                  const char *what)
{
    char *got = masked(m, text);
    tap_str(got, want, what);
    free(got);
}

static void test_password_forms(void)
{
    struct mask_list m = MASK_LIST_INIT;
    mask_add_password(&m, "s3cr3t-pw");
    check(&m, "535 wrong password s3cr3t-pw.", "535 wrong password *****.",
          "the password itself");
    check(&m, "bad czNjcjN0LXB3 here", "bad ***** here", "its base64 alone");
    /* AUTH PLAIN "\0alice\0s3cr3t-pw": the password at alignment 1 */
    check(&m, "AUTH PLAIN AGFsaWNlAHMzY3IzdC1wdw==", "AUTH PLAIN AGFsaWNlAH*****w==",
          "inside the AUTH PLAIN response (alignment 1)");
    check(&m, "x eHMzY3IzdC1wdwEB y", "x eH*****wEB y", "alignment 1 with bytes after it");
    check(&m, "eHhzM2NyM3QtcHc=", "eHh*****c=", "alignment 2");
    check(&m, "eHh4czNjcjN0LXB3AQE=", "eHh4*****AQE=", "alignment 0 after a whole group");
    /* XOAUTH2: "user=alice\1auth=Bearer TOKEN\1\1" */
    check(&m, "dXNlcj1hbGljZQFhdXRoPUJlYXJlciBzM2NyM3QtcHcBAQ==",
          "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB*****cBAQ==", "inside an XOAUTH2 response");
    check(&m, "250 2.0.0 ok", "250 2.0.0 ok", "text without a secret is unchanged");
    check(&m, "s3cr3t-ps3cr3t-pw", "s3cr3t-p*****", "a near miss stays, the match goes");
    mask_list_free(&m);
    tap_int((long long)m.n, 0, "mask_list_free empties the list");
}

static void test_exact_and_rules(void)
{
    struct mask_list m = MASK_LIST_INIT;
    mask_add(&m, "YWxpY2U=");
    mask_add(&m, "YWxpY2U=");
    tap_int((long long)m.n, 1, "an exact string is registered once");
    check(&m, "334 you said YWxpY2U=!", "334 you said *****!", "an exact string");
    mask_add(&m, "ab");
    tap_int((long long)m.n, 1, "strings shorter than MASK_MIN_LEN are not registered");
    check(&m, "ab ab", "ab ab", "  ... and not masked");
    mask_add(&m, "abcd");
    check(&m, "xabcdx", "x****x", "a 4-byte secret becomes 4 stars (the text never grows)");
    mask_add(&m, "abcdefgh");
    check(&m, "abcdefghi", "*****i", "the longest string starting at a place wins");
    mask_add(&m, NULL);
    mask_add_password(&m, NULL);
    mask_add_password(&m, "");
    tap_int((long long)m.n, 3, "NULL and empty passwords add nothing");
    char buf[] = "a YWxpY2U= b";
    size_t n = mask_apply(&m, buf, strlen(buf));
    tap_int((long long)n, 9, "mask_apply returns the new length");
    tap_ok(buf[n] == '\0', "  ... and NUL-terminates what shrank");
    struct mask_list none = MASK_LIST_INIT;
    check(&none, "AGFsaWNlAHMzY3IzdC1wdw==", "AGFsaWNlAHMzY3IzdC1wdw==",
          "an empty list masks nothing");
    mask_list_free(&m);
}

static void test_short_password(void)
{
    /* "abc": the password is masked; its base64 cores are too short. */
    struct mask_list m = MASK_LIST_INIT;
    mask_add_password(&m, "abc");
    check(&m, "535 abc YWJj", "535 *** ****", "a 3-byte password and its base64 alone");
    mask_list_free(&m);
}

int main(void)
{
    test_password_forms();
    test_exact_and_rules();
    test_short_password();
    return tap_done();
}
