/*
 * test-util.c - unit tests for util_read_file(), the one way smtpfwd reads
 * a whole file: regular files are read into one buffer sized from fstat()
 * (never reallocated), FIFOs, devices and directories are refused without
 * blocking, symbolic links are followed, the size limit holds at its
 * exact boundary, a file that grows while it is read is refused rather
 * than read by growing the buffer, and util_file_wipe() zeroes the whole
 * allocation that util_file_free() then releases for a secret.
 *
 * What these tests cannot show: that freed memory holds no copy. They
 * show the two facts that imply it (one allocation of st_size + 1 bytes,
 * and the wipe of all of it); util_file_free() calls util_file_wipe()
 * before free() when the secret flag is set.
 *
 * And buf_put_escaped(), the one escaper of untrusted bytes for display:
 * exact output for each kind of byte under each flag, every byte value
 * against the rule, appending to what a buffer holds, and NUL bytes.
 *
 * And util_replace_file(), the atomic replacement of a file (token files,
 * --configure --write).
 *
 * And clock.h, the waits of conn.c and tls.c: the time left to a
 * deadline (0 once passed, capped at INT_MAX), the one-fd wait (ready,
 * deadline passed, a closed fd), and the timeout text.
 */
#define _GNU_SOURCE 1
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "util.h"
#include "tap.h"
#include "testutil.h"

static const char *tmpdir;

static char *path_of(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static char *write_bytes(const char *name, const char *data, size_t n)
{
    return tu_write_bytes(tmpdir, name, data, n, 0644);
}

static void test_regular(void)
{
    static const char text[] = "account default\nhost mx.test\npassword s3cret\n";
    char *path = write_bytes("regular", text, sizeof text - 1);
    struct file_data f;
    int rc = util_read_file(path, 1024, true, &f);
    tap_int(rc, 0, "regular file: read");
    tap_int((long long)f.len, (long long)(sizeof text - 1), "regular file: every byte");
    tap_int((long long)f.size, (long long)sizeof text,
            "regular file: one allocation of st_size + 1 bytes");
    tap_ok(f.data && memcmp(f.data, text, sizeof text) == 0,
           "regular file: the contents, NUL-terminated");
    tap_ok(f.secret, "regular file: the secret flag is kept");
    tap_ok(S_ISREG(f.st.st_mode) && f.st.st_uid == getuid(),
           "regular file: fstat facts of the file");

    /* util_file_wipe zeroes the whole allocation, NUL included. */
    util_file_wipe(&f);
    size_t zeros = 0;
    for (size_t i = 0; i < f.size; i++)
        zeros += f.data[i] == '\0';
    tap_int((long long)zeros, (long long)f.size, "util_file_wipe: every allocated byte is zero");
    util_file_free(&f);
    tap_ok(f.data == NULL && f.len == 0 && f.size == 0, "util_file_free: empty afterwards");
    util_file_free(&f);   /* twice is harmless */
    free(path);
}

static void test_empty(void)
{
    char *path = write_bytes("empty", "", 0);
    struct file_data f;
    tap_int(util_read_file(path, 1024, false, &f), 0, "empty file: read");
    tap_ok(f.data && f.data[0] == '\0' && f.len == 0, "empty file: an empty string");
    util_file_free(&f);
    free(path);
}

static void test_limit(void)
{
    char block[100];
    memset(block, 'x', sizeof block);
    char *path = write_bytes("limit", block, sizeof block);
    struct file_data f;
    tap_int(util_read_file(path, sizeof block, false, &f), 0, "limit: a file of exactly max bytes");
    tap_int((long long)f.len, (long long)sizeof block, "limit: all of it");
    util_file_free(&f);
    tap_int(util_read_file(path, sizeof block - 1, false, &f), READ_FILE_TOO_BIG,
            "limit: one byte over max is refused");
    tap_ok(f.data == NULL && f.len == 0, "limit: nothing kept");
    char *msg = util_read_file_error(path, READ_FILE_TOO_BIG, 0, 2048);
    char *want = xasprintf("%s: larger than 2 KiB, more than such a file can be; "
                           "is it the right file?", path);
    tap_str(msg, want, "limit: the message names the file and the limit");
    free(msg);
    free(want);
    free(path);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "Bail out! util_read_file blocked\n";
    (void)!write(1, msg, sizeof msg - 1);
    _exit(1);
}

static void test_not_regular(void)
{
    struct file_data f;
    char *fifo = path_of("fifo");
    if (mkfifo(fifo, 0600) != 0) {
        perror("mkfifo");
        exit(99);
    }
    /* A FIFO nobody writes to: open() without O_NONBLOCK blocks forever
     * (the alarm is the safety net that turns that into a failure). */
    signal(SIGALRM, on_alarm);
    alarm(20);
    tap_int(util_read_file(fifo, 1024, false, &f), READ_FILE_NOT_REGULAR,
            "a FIFO is refused without blocking");
    tap_ok(f.data == NULL, "a FIFO: nothing kept");
    char *link = path_of("link-to-fifo");
    if (symlink(fifo, link) != 0) {
        perror("symlink");
        exit(99);
    }
    tap_int(util_read_file(link, 1024, false, &f), READ_FILE_NOT_REGULAR,
            "a symbolic link to a FIFO is refused like the FIFO");
    tap_int(util_read_file(tmpdir, 1024, false, &f), READ_FILE_NOT_REGULAR,
            "a directory is refused");
    tap_int(util_read_file("/dev/zero", 1024, false, &f), READ_FILE_NOT_REGULAR,
            "/dev/zero is refused, not read");
    alarm(0);
    char *msg = util_read_file_error(fifo, READ_FILE_NOT_REGULAR, 0, 1024);
    char *want = xasprintf("%s: not a regular file (a FIFO, device or directory cannot be "
                           "read); name a regular file", fifo);
    tap_str(msg, want, "not a regular file: the message");
    free(msg);
    free(want);
    unlink(link);
    unlink(fifo);
    free(link);
    free(fifo);
}

static void test_links_and_errors(void)
{
    struct file_data f;
    char *target = write_bytes("target", "hello\n", 6);
    char *link = path_of("link");
    if (symlink(target, link) != 0) {
        perror("symlink");
        exit(99);
    }
    tap_int(util_read_file(link, 1024, false, &f), 0,
            "a symbolic link to a regular file is followed");
    tap_str(f.data, "hello\n", "the link: the target's contents");
    util_file_free(&f);

    char *missing = path_of("missing");
    errno = 0;
    tap_int(util_read_file(missing, 1024, false, &f), READ_FILE_ERRNO, "missing file: an error");
    tap_int(errno, ENOENT, "missing file: errno ENOENT");
    char *msg = util_read_file_error(missing, READ_FILE_ERRNO, ENOENT, 1024);
    char *want = xasprintf("cannot read %s: %s", missing, strerror(ENOENT));
    tap_str(msg, want, "missing file: the message");
    free(msg);
    free(want);
    unlink(link);
    unlink(target);
    free(link);
    free(target);
    free(missing);
}

/* A regular file whose size fstat() does not tell (procfs says 0): the
 * bytes beyond st_size are not read by growing the buffer. */
static void test_grown(void)
{
    struct file_data f;
    struct stat st;
    if (stat("/proc/self/status", &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) {
        tap_ok(1, "# SKIP no /proc/self/status of size 0");
        return;
    }
    tap_int(util_read_file("/proc/self/status", 1 << 20, false, &f), READ_FILE_CHANGED,
            "more bytes than fstat() said: refused, the buffer is not grown");
    tap_ok(f.data == NULL, "grown file: nothing kept");
}

/* buf_put_escaped of n bytes into an empty buffer, as a string. */
static char *escaped(const char *data, size_t n, unsigned flags)
{
    struct buf b = BUF_INIT;
    buf_put_escaped(&b, data, n, flags);
    return buf_steal(&b);
}

static void check_escaped(const char *data, size_t n, unsigned flags, const char *want,
                          const char *what)
{
    char *got = escaped(data, n, flags);
    tap_str(got, want, what);
    free(got);
}

static void test_utf8_decode(void)
{
    size_t len = 0;
    tap_int(utf8_decode("a", 1, &len), 'a', "utf8_decode: ASCII");
    tap_int((long long)len, 1, "utf8_decode: ASCII is one octet");
    tap_int(utf8_decode("\xc3\xb6x", 3, &len), 0xf6, "utf8_decode: two octets");
    tap_int((long long)len, 2, "utf8_decode: length 2");
    tap_int(utf8_decode("\xe4\xbe\x8b", 3, &len), 0x4f8b, "utf8_decode: three octets");
    tap_int(utf8_decode("\xf4\x8f\xbf\xbf", 4, &len), 0x10ffff, "utf8_decode: U+10FFFF");
    tap_int((long long)len, 4, "utf8_decode: length 4");
    tap_int(utf8_decode("\xe4\xbe\x8b", 2, &len), -1, "utf8_decode: cut by avail");
    tap_int((long long)len, 1, "utf8_decode: a bad octet has length 1");
    tap_int(utf8_decode("\xe4\xbe", 3, &len), -1, "utf8_decode: cut by the NUL");
    tap_int(utf8_decode("\x80", 1, &len), -1, "utf8_decode: stray continuation");
    tap_int(utf8_decode("\xc0\x80", 2, &len), -1, "utf8_decode: overlong NUL");
    tap_int(utf8_decode("\xe0\x80\xaf", 3, &len), -1, "utf8_decode: overlong three octets");
    tap_int(utf8_decode("\xed\xb0\x80", 3, &len), -1, "utf8_decode: surrogate");
    tap_int(utf8_decode("\xf5\x80\x80\x80", 4, &len), -1, "utf8_decode: F5 lead octet");
    tap_int(utf8_decode("\xc3\x28", 2, &len), -1, "utf8_decode: no continuation");
}

static void test_ascii_lower(void)
{
    char s[] = "MixED Case \xc3\x89T\xc3\xa9 @EXAMPLE.Org 09";
    ascii_lower(s);
    tap_str(s, "mixed case \xc3\x89t\xc3\xa9 @example.org 09",
            "ascii_lower: A..Z lowered, UTF-8 and other bytes unchanged");
    char e[] = "";
    ascii_lower(e);
    tap_str(e, "", "ascii_lower: empty string");
}

/* util_https_url_host: the host of an https:// URL, or NULL (in every
 * build: the configuration checks the OAuth2 endpoints with it). */
static void test_https_url_host(void)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        { "https://Login.Example.COM/oauth2/token", "login.example.com" },
        { "HTTPS://h.example", "h.example" },
        { "https://u:p@h.example:8443/t?x#y", "h.example" },
        { "https://[::1]:8443/t", "::1" },
        { "https://h.example?x=1", "h.example" },
        { "http://h.example/", NULL },
        { "https://", NULL },
        { "https:///t", NULL },
        { "https://:443/t", NULL },
        { "https://u@/t", NULL },
        { "https://[]/t", NULL },
        { "https://[::1/t", NULL },
        { "h.example/t", NULL },
        { NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = util_https_url_host(cases[i].url);
        char *what = xasprintf("util_https_url_host(%s)", cases[i].url ? cases[i].url : "NULL");
        tap_str(h, cases[i].want, what);
        free(what);
        free(h);
    }
}

static void test_escape(void)
{
    const unsigned both = ESCAPE_BACKSLASH | ESCAPE_8BIT;
    check_escaped("", 0, both, "", "escape: nothing");
    check_escaped("250 OK go ahead", 15, both, "250 OK go ahead", "escape: printable text kept");
    check_escaped("a\r\nb", 4, 0, "a\\x0d\\x0ab", "escape: CR LF as \\xNN");
    check_escaped("\t\x1b[31m", 6, 0, "\\x09\\x1b[31m", "escape: tab and terminal escape");
    check_escaped("a\x7f", 2, 0, "a\\x7f", "escape: DEL");
    check_escaped("a\0b", 3, 0, "a\\x00b", "escape: a NUL byte inside, and what follows it");
    check_escaped("\x01\x02\x03", 3, 0, "\\x01\\x02\\x03", "escape: consecutive controls");
    check_escaped("a\\b", 3, 0, "a\\b", "escape: backslash kept without ESCAPE_BACKSLASH");
    check_escaped("a\r\n\tb", 5, ESCAPE_NAMED, "a\\r\\n\\tb", "escape: CR, LF, tab by name with ESCAPE_NAMED");
    check_escaped("\x1b\x7f\0", 3, ESCAPE_NAMED, "\\x1b\\x7f\\x00",
                  "escape: other controls stay \\xNN with ESCAPE_NAMED");
    check_escaped("a\\\n", 3, ESCAPE_NAMED | ESCAPE_BACKSLASH, "a\\\\\\n",
                  "escape: a doubled backslash before a named LF");
    check_escaped("a\\b", 3, ESCAPE_BACKSLASH, "a\\\\b", "escape: backslash doubled");
    check_escaped("\\x41", 4, ESCAPE_BACKSLASH, "\\\\x41",
                  "escape: a literal \\x41 stays distinguishable from an escaped byte");
    check_escaped("h\xc3\xa9", 3, 0, "h\xc3\xa9", "escape: UTF-8 kept without ESCAPE_8BIT");
    check_escaped("h\xc3\xa9", 3, ESCAPE_8BIT, "h\\xc3\\xa9", "escape: 8-bit bytes with ESCAPE_8BIT");
    check_escaped("\xff\x80", 2, both, "\\xff\\x80", "escape: lower-case hex, both ends of 8-bit");
    check_escaped("abc", 2, 0, "ab", "escape: only n bytes are read");

    struct buf b = BUF_INIT;
    buf_puts(&b, "<-- ");
    buf_put_escaped(&b, "x\ry", 3, 0);
    buf_put_escaped(&b, "", 0, 0);
    buf_put_escaped(&b, "z", 1, 0);
    tap_str(b.data, "<-- x\\x0dyz", "escape: appends to what the buffer holds");
    tap_int((long long)b.len, (long long)strlen(b.data), "escape: length and NUL terminator agree");
    buf_free(&b);

    /* Every byte value under every flag combination, against the rule. */
    int wrong = 0;
    for (unsigned flags = 0; flags <= both; flags++) {
        for (int c = 0; c < 256; c++) {
            char in = (char)c, want[8];
            bool esc = c < 0x20 || c == 0x7f || (c >= 0x80 && (flags & ESCAPE_8BIT));
            if (esc)
                snprintf(want, sizeof want, "\\x%02x", c);
            else if (c == '\\' && (flags & ESCAPE_BACKSLASH))
                strcpy(want, "\\\\");
            else
                want[0] = (char)c, want[1] = '\0';
            char *got = escaped(&in, 1, flags);
            if (strcmp(got, want) != 0) {
                if (wrong++ < 5)
                    printf("# byte 0x%02x flags %u: got \"%s\" want \"%s\"\n", c, flags, got,
                           want);
            }
            free(got);
        }
    }
    tap_int(wrong, 0, "escape: every byte value under every flag combination");

    /* A large hostile input: every byte becomes four, nothing is lost. */
    size_t n = 1 << 20;
    char *ctl = xmalloc(n);
    memset(ctl, '\x1b', n);
    char *out = escaped(ctl, n, 0);
    tap_int((long long)strlen(out), (long long)(4 * n), "escape: 1 MiB of controls, 4 MiB out");
    tap_ok(memcmp(out, "\\x1b\\x1b", 8) == 0 && memcmp(out + 4 * n - 4, "\\x1b", 4) == 0,
           "escape: 1 MiB of controls, escaped from first to last");
    free(out);
    free(ctl);
}

static void test_clock(void)
{
    long long a = clock_now_ms(), b = clock_now_ms();
    tap_ok(a > 0 && b >= a, "clock: the monotonic clock does not go back");
    tap_int(clock_ms_left(a - 1), 0, "clock: a deadline passed leaves 0");
    tap_int(clock_ms_left(LLONG_MAX), INT_MAX, "clock: a far deadline is capped at INT_MAX");
    int left = clock_ms_left(clock_now_ms() + 60000);
    tap_ok(left > 0 && left <= 60000, "clock: a deadline a minute away leaves at most a minute");

    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        exit(99);
    }
    tap_int(clock_wait_fd(p[0], POLLIN, clock_now_ms() - 1), 0,
            "clock_wait_fd: a deadline already passed is 0, without waiting");
    tap_int(clock_wait_fd(p[0], POLLIN, clock_now_ms() + 20), 0,
            "clock_wait_fd: nothing to read until the deadline is 0");
    tap_int(clock_wait_fd(p[1], POLLOUT, clock_now_ms() + 10000), 1,
            "clock_wait_fd: a writable pipe is ready");
    tap_ok(write(p[1], "x", 1) == 1, "clock_wait_fd: a byte written");
    tap_int(clock_wait_fd(p[0], POLLIN, clock_now_ms() + 10000), 1,
            "clock_wait_fd: a readable pipe is ready");
    close(p[0]);
    close(p[1]);
    /* a closed fd: poll() reports POLLNVAL, which ends the wait as ready
     * (the read that follows reports the error) */
    tap_int(clock_wait_fd(p[0], POLLIN, clock_now_ms() + 10000), 1,
            "clock_wait_fd: a closed fd ends the wait at once (POLLNVAL)");

    char *t = clock_describe_ms(1000);
    tap_str(t, "1 second", "clock_describe_ms: one second");
    free(t);
    t = clock_describe_ms(300000);
    tap_str(t, "300 seconds", "clock_describe_ms: whole seconds");
    free(t);
    t = clock_describe_ms(1500);
    tap_str(t, "1500 milliseconds", "clock_describe_ms: not whole seconds");
    free(t);
}

/* base64_decode: RFC 4648's test vectors, padding optional but never
 * wrong, anything else refused. */
static void decodes_to(const char *in, const char *want, const char *what)
{
    size_t len = 99;
    char *got = base64_decode(in, &len);
    tap_ok(got && len == strlen(want) && memcmp(got, want, len) == 0 && got[len] == '\0', what);
    if (!got || len != strlen(want))
        printf("#   got %s (%zu bytes)\n", got ? got : "NULL", got ? len : 0);
    free(got);
}

static void test_base64_decode(void)
{
    static const char *const vectors[][2] = {
        { "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
        { "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" },
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "base64 \"%s\" decodes", vectors[i][0]);
        decodes_to(vectors[i][0], vectors[i][1], what);
        char *round = base64_encode(vectors[i][1], strlen(vectors[i][1]));
        tap_str(round, vectors[i][0], "and encodes back");
        free(round);
    }
    decodes_to("Zg", "f", "padding left out (2 characters)");
    decodes_to("Zm8", "fo", "padding left out (3 characters)");
    decodes_to("+/+/", "\xfb\xff\xbf", "+ and /");
    static const char *const bad[] = { "Z", "Zg=", "Zm8==", "Zg===", "Zm9v=", "Z===",
                                       "Zm 9v", "Zm-_", "Zg==Zg==", "=Zg=", "Zm9\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        char *got = base64_decode(bad[i], &len);
        char what[64];
        snprintf(what, sizeof what, "base64 \"%s\" is refused", bad[i]);
        tap_ok(got == NULL, what);
        free(got);
    }
}

/* util_replace_file: the new content under the mode asked for, the old
 * file replaced whole, a symbolic link replaced rather than followed, no
 * temporary file left, and a directory that cannot be written refused
 * with errno and nothing left behind. */
static void test_replace_file(void)
{
    char *path = write_bytes("replace", "old content\n", 12);
    tap_int(util_replace_file(path, "new\n", 4, 0600), 0, "replace: succeeds");
    struct file_data f;
    tap_int(util_read_file(path, 1024, false, &f), 0, "replace: readable");
    tap_str(f.data, "new\n", "replace: the new content, whole");
    tap_int(f.st.st_mode & 07777, 0600, "replace: the mode asked for");
    util_file_free(&f);

    char *target = write_bytes("replace-target", "target\n", 7);
    char *link = path_of("replace-link");
    tap_ok(symlink(target, link) == 0, "replace: a symbolic link made");
    tap_int(util_replace_file(link, "x\n", 2, 0400), 0, "replace: over a link");
    struct stat st;
    tap_ok(lstat(link, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0400,
           "replace: the link itself is replaced by a file of mode 0400");
    tap_int(util_read_file(target, 1024, false, &f), 0, "replace: the link's target stays");
    tap_str(f.data, "target\n", "replace: ... unchanged");
    util_file_free(&f);

    char *missing = path_of("no-such-dir/file");
    errno = 0;
    tap_int(util_replace_file(missing, "x", 1, 0600), -1, "replace: no directory: -1");
    tap_int(errno, ENOENT, "replace: ... with errno");

    char *cmd = xasprintf("ls -a '%s' | grep -c 'replace.*\\.' ", tmpdir);
    FILE *p = popen(cmd, "r");
    char line[32] = "";
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = '\0';
        pclose(p);
    }
    tap_str(line, "0\n", "replace: no temporary file left beside the files");
    free(cmd);
    free(missing);
    free(link);
    free(target);
    free(path);
}

int main(void)
{
    tmpdir = tu_tmpdir("util");
    test_base64_decode();
    test_regular();
    test_empty();
    test_limit();
    test_not_regular();
    test_links_and_errors();
    test_grown();
    test_utf8_decode();
    test_ascii_lower();
    test_https_url_host();
    test_escape();
    test_clock();
    test_replace_file();
    tu_rmtree(tmpdir);
    return tap_done();
}
