/*
 * test-intake.c - unit tests for src/intake.c: line-ending
 * canonicalization (also across read blocks), NUL dropping, the lone "."
 * on a terminal, the header scan (Bcc removal, -t recipients, Resent
 * blocks, added From/Date/Message-ID), the caps on the header section,
 * large inputs, and the failure paths (unwritable directory, read error,
 * write error), each checked against the exact bytes of the output file;
 * intake_begin/feed/end: every chunking of a message (one octet at a
 * time, every cut, cuts around each line end) gives the file, facts and
 * outcome of one feed; intake_abort and intake_drain.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "intake.h"
#include "tap.h"

struct run {
    int rc;
    struct message m;
    struct result r;
    char *out;          /* the output file, NUL-terminated */
    size_t len;
    long long in_pos;   /* input offset after intake_read (read to the end?) */
    long long in_size;
};

static int input_file(const void *data, size_t n)
{
    char path[] = "/tmp/test-intake-in.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(99);
    }
    unlink(path);
    if (n && write_all(fd, data, n) != 0) {
        perror("write");
        exit(99);
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static char *read_back(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    char *p = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, p + got, (size_t)st.st_size - got, (off_t)got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    p[got] = '\0';
    *len = got;
    return p;
}

/* A pipe p and a child process to write into it: returns 0 in the child,
 * which writes to p[1] and _exits, and the child's pid in the parent,
 * which reads p[0] (each side's other end is closed). */
static pid_t fork_writer(int p[2])
{
    if (pipe(p) != 0) {
        perror("pipe");
        exit(99);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(99);
    }
    close(pid == 0 ? p[0] : p[1]);
    return pid;
}

static void run_fd(struct run *x, int fd, const struct intake_opts *o)
{
    memset(x, 0, sizeof *x);
    x->r.cls = RC_OK;
    x->rc = intake_read(fd, o, &x->m, &x->r);
    x->in_pos = lseek(fd, 0, SEEK_CUR);
    struct stat st;
    x->in_size = fstat(fd, &st) == 0 ? st.st_size : -1;
    if (x->rc == 0 && x->m.fd >= 0)
        x->out = read_back(x->m.fd, &x->len);
}

static void run(struct run *x, const void *in, size_t n, const struct intake_opts *o)
{
    int fd = input_file(in, n);
    run_fd(x, fd, o);
    close(fd);
}

static void runs(struct run *x, const char *in, const struct intake_opts *o)
{
    run(x, in, strlen(in), o);
}

static void done(struct run *x)
{
    free(x->out);
    message_free(&x->m);
    result_clear(&x->r);
}

/* Run and compare the whole output with want. */
static void check(const char *in, const struct intake_opts *o, const char *want, const char *what)
{
    static const struct intake_opts none;
    struct run x;
    runs(&x, in, o ? o : &none);
    char label[256];
    snprintf(label, sizeof label, "%s: returns 0", what);
    tap_int(x.rc, 0, label);
    snprintf(label, sizeof label, "%s: output", what);
    tap_str(x.out, want, label);
    snprintf(label, sizeof label, "%s: size", what);
    tap_int(x.m.size, (long long)strlen(want), label);
    done(&x);
}

/* The reference canonicalization, one byte at a time. */
static char *canon(const unsigned char *in, size_t n, size_t *outlen, size_t *longest,
                   size_t *nuls)
{
    char *out = xmalloc(2 * n + 3);
    size_t k = 0, cur = 0;
    *longest = 0;
    *nuls = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\0') {
            (*nuls)++;
        } else if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
            out[k++] = '\r';
            out[k++] = '\n';
            if (cur > *longest)
                *longest = cur;
            cur = 0;
        } else {
            out[k++] = (char)c;
            cur++;
        }
    }
    if (cur) {
        out[k++] = '\r';
        out[k++] = '\n';
        if (cur > *longest)
            *longest = cur;
    }
    out[k] = '\0';
    *outlen = k;
    return out;
}

static bool mem_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static unsigned long long rng_state = 88172645463325252ULL;
static unsigned rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state >> 11);
}

/* ------------------------------------------------------------ line ends */

static void test_line_ends(void)
{
    check("Subject: a\r\n\r\nbody\r\n", NULL, "Subject: a\r\n\r\nbody\r\n", "CRLF kept");
    check("Subject: a\n\nbody\nline 2\n", NULL, "Subject: a\r\n\r\nbody\r\nline 2\r\n", "LF");
    check("Subject: a\r\rbody\rline 2\r", NULL, "Subject: a\r\n\r\nbody\r\nline 2\r\n",
          "bare CR");
    check("To: a@x\r\nSubject: php\r\n\r\nline 1\nline 2\n\nend\n", NULL,
          "To: a@x\r\nSubject: php\r\n\r\nline 1\r\nline 2\r\n\r\nend\r\n",
          "PHP mixed: CRLF headers, LF body");
    check("S: x\n\na\r\r\nb\n", NULL, "S: x\r\n\r\na\r\n\r\nb\r\n", "\\r\\r\\n is two line ends");
    check("S: x\n\na\n\rb\n", NULL, "S: x\r\n\r\na\r\n\r\nb\r\n", "\\n\\r is two line ends");
    check("S: x\n\nbody", NULL, "S: x\r\n\r\nbody\r\n", "missing final newline added");
    check("S: x\n\nbody\r", NULL, "S: x\r\n\r\nbody\r\n", "final bare CR");
    check("Subject: no body", NULL, "Subject: no body\r\n", "header without newline");
    check("S: x\r\n\r\n.\r\n..\r\n.x\r\n", NULL, "S: x\r\n\r\n.\r\n..\r\n.x\r\n",
          "dots unchanged (no dot-stuffing here)");

    struct run x;
    runs(&x, "", &(struct intake_opts){ 0 });
    tap_int(x.rc, 0, "empty input, nothing to add: returns 0");
    tap_int(x.m.size, 0, "empty input, nothing to add: size 0");
    tap_ok(x.m.fd >= 0, "empty input, nothing to add: file open");
    done(&x);

    /* An empty message gets the same added headers as any other. */
    runs(&x, "", &(struct intake_opts){ .add_from = "me@h", .add_date = true,
                                        .msgid_domain = "h.test" });
    tap_int(x.rc, 0, "empty input: returns 0");
    tap_ok(x.out && strncmp(x.out, "From: me@h\r\nDate: ", 18) == 0,
           "empty input: From and Date added");
    tap_ok(x.out && strstr(x.out, "\r\nMessage-ID: <") && strstr(x.out, "@h.test>\r\n"),
           "empty input: Message-ID added");
    tap_int(x.m.size, (long long)x.len, "empty input: size counts the added headers");
    tap_ok(x.len > 2 && memcmp(x.out + x.len - 2, "\r\n", 2) == 0
           && !strstr(x.out, "\r\n\r\n"), "empty input: headers only, CRLF, no empty line");
    done(&x);

    static const char nul[] = "S: a\0b\n\nx\0\0y\n\0";
    run(&x, nul, sizeof nul - 1, &(struct intake_opts){ 0 });
    tap_str(x.out, "S: ab\r\n\r\nxy\r\n", "NUL bytes dropped in header and body");
    tap_int((long long)x.m.nul_dropped, 4, "NUL bytes counted");
    done(&x);

    run(&x, "\0\0", 2, &(struct intake_opts){ 0 });
    tap_int(x.m.size, 0, "input of only NULs: empty file");
    tap_int((long long)x.m.nul_dropped, 2, "input of only NULs: counted");
    done(&x);

    run(&x, "\0\0", 2, &(struct intake_opts){ .add_date = true });
    tap_ok(x.out && strncmp(x.out, "Date: ", 6) == 0 && x.m.size == (long long)x.len,
           "input of only NULs: Date added as to an empty message");
    done(&x);
}

/* A CR as the last byte of a read block, LF the first of the next. */
static void test_block_boundary(void)
{
    const size_t B = INTAKE_BLOCK_SIZE;
    static const char head[] = "Subject: b\n\n";
    size_t n = 2 * B + 100;
    char *in = xmalloc(n);
    memset(in, 'a', n);
    memcpy(in, head, sizeof head - 1);
    in[100] = '\n';
    in[B - 1] = '\r';               /* CR LF across the first boundary */
    in[B] = '\n';
    in[2 * B - 1] = '\r';           /* bare CR at the second boundary */
    in[2 * B] = 'b';
    in[n - 1] = '\n';
    size_t wl, longest, nuls;
    char *want = canon((unsigned char *)in, n, &wl, &longest, &nuls);
    struct run x;
    run(&x, in, n, &(struct intake_opts){ 0 });
    tap_int(x.rc, 0, "block boundary: returns 0");
    tap_ok(mem_eq(x.out, x.len, want, wl), "block boundary: CRLF and bare CR split over reads");
    tap_int((long long)x.len, (long long)wl, "block boundary: length");
    tap_int((long long)x.m.longest_line, (long long)longest, "block boundary: longest line");
    done(&x);
    free(want);

    /* The same inside the header section: a 300 KiB header field whose
     * CR ends the first block. */
    memset(in, 'h', n);
    memcpy(in, "X-Long: ", 8);
    in[B - 1] = '\r';
    in[B] = '\n';
    memcpy(in + B + 1, "X-Next: y\r\n\r\nbody\r\n", 19);
    size_t m = B + 1 + 19;
    want = canon((unsigned char *)in, m, &wl, &longest, &nuls);
    run(&x, in, m, &(struct intake_opts){ 0 });
    tap_ok(mem_eq(x.out, x.len, want, wl), "block boundary in the header section");
    tap_int((long long)x.m.longest_line, (long long)(B - 1), "long header line measured");
    done(&x);
    free(want);
    free(in);
}

/* Random bytes from a hostile alphabet, compared with the reference;
 * through a file (full blocks) and through a pipe (short reads). */
static void test_random(void)
{
    static const unsigned char alphabet[] = { 'a', 'b', '.', ' ', '\r', '\n', '\0', 0xc3, 0xa9 };
    size_t n = 3 * INTAKE_BLOCK_SIZE + 777;
    unsigned char *in = xmalloc(n);
    in[0] = '\n';                   /* empty header section: all body */
    for (size_t i = 1; i < n; i++)
        in[i] = alphabet[rng() % sizeof alphabet];
    size_t wl, longest, nuls;
    char *want = canon(in + 1, n - 1, &wl, &longest, &nuls);
    struct run x;
    run(&x, in, n, &(struct intake_opts){ 0 });
    tap_ok(x.len == wl + 2 && memcmp(x.out, "\r\n", 2) == 0 && memcmp(x.out + 2, want, wl) == 0,
           "random input through a file matches the reference");
    tap_int((long long)x.m.nul_dropped, (long long)nuls, "random input: NULs counted");
    tap_int((long long)x.m.longest_line, (long long)longest, "random input: longest line");
    tap_ok(x.m.has_8bit, "random input: 8-bit seen");
    done(&x);

    int p[2];
    pid_t pid = fork_writer(p);
    if (pid == 0) {
        /* Odd-sized writes so read boundaries fall everywhere. */
        for (size_t off = 0; off < n;) {
            size_t k = 1 + rng() % 5000;
            if (k > n - off)
                k = n - off;
            if (write_all(p[1], in + off, k) != 0)
                _exit(1);
            off += k;
        }
        _exit(0);
    }
    memset(&x, 0, sizeof x);
    x.rc = intake_read(p[0], &(struct intake_opts){ 0 }, &x.m, &x.r);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    x.out = x.rc == 0 ? read_back(x.m.fd, &x.len) : NULL;
    tap_ok(x.out && x.len == wl + 2 && memcmp(x.out + 2, want, wl) == 0,
           "random input through a pipe with short reads matches the reference");
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pipe writer got no error");
    done(&x);
    free(want);
    free(in);
}

/* ----------------------------------------------------------------- dots */

static void test_dots(void)
{
    struct intake_opts tty = { .dot_ends = true };
    struct run x;
    runs(&x, "S: x\n\nhello\n.\nafter\n", &tty);
    tap_str(x.out, "S: x\r\n\r\nhello\r\n", "dot_ends: lone . ends the message, not included");
    done(&x);
    check("S: x\n\nhello\n.\nafter\n", NULL, "S: x\r\n\r\nhello\r\n.\r\nafter\r\n",
          "no dot_ends: lone . is a line like any other");
    check("S: x\n\nhello\n..\n. \n.x\nend\n", &tty,
          "S: x\r\n\r\nhello\r\n..\r\n. \r\n.x\r\nend\r\n", "dot_ends: .. and . x do not end");
    check("S: x\n\nhello\r\n.\r\nafter\r\n", &tty, "S: x\r\n\r\nhello\r\n",
          "dot_ends: .CRLF ends too");
    check("S: x\n.\nafter\n", &tty, "S: x\r\n", "dot_ends: lone . in the header section");
    check("S: x\n\nhello\n.", &tty, "S: x\r\n\r\nhello\r\n", "dot_ends: . at end of input");
    check("S: x\n\nhello\n.", NULL, "S: x\r\n\r\nhello\r\n.\r\n",
          "no dot_ends: . at end of input kept");
}

/* ------------------------------------------------------------------ Bcc */

static void test_bcc(void)
{
    struct intake_opts rm = { .remove_bcc = true };
    check("To: a@x\nBcc: b@y,\n c@z\nSubject: s\n\nBcc: body@x\n", &rm,
          "To: a@x\r\nSubject: s\r\n\r\nBcc: body@x\r\n",
          "Bcc with continuation removed (not in the body)");
    check("To: a@x\nBcc: b@y,\n\tc@z,\n  d@w\n\nbody\n", &rm, "To: a@x\r\n\r\nbody\r\n",
          "Bcc as the last header removed with its continuation lines");
    check("BCC: b@y\nTo: a@x\n\nbody\n", &rm, "To: a@x\r\n\r\nbody\r\n", "BCC: uppercase");
    check("To: a@x\nbcc:\nX: y\n\nbody\n", &rm, "To: a@x\r\nX: y\r\n\r\nbody\r\n",
          "Bcc: with empty value removed");
    check("Bcc : b@y\nTo: a@x\n\n", &rm, "To: a@x\r\n\r\n", "Bcc with blank before colon");
    check("Resent-Bcc: b@y\n x@y\nResent-To: c@z\nTo: a@x\n\n", &rm,
          "Resent-To: c@z\r\nTo: a@x\r\n\r\n", "Resent-Bcc removed");
    check("Bccx: b@y\nX-Bcc: c@z\n\n", &rm, "Bccx: b@y\r\nX-Bcc: c@z\r\n\r\n",
          "fields merely containing Bcc are kept");
    check("To: a@x\r\nBcc: b@y\r\n\r\nbody\r\n", NULL, "To: a@x\r\nBcc: b@y\r\n\r\nbody\r\n",
          "Bcc kept without remove_bcc");
}

/* -------------------------------------------------------------- -t rcpts */

static bool rcpts_are(const struct addr_list *l, const char *const *want, size_t n)
{
    if (l->n != n) {
        printf("#   %zu recipients, want %zu\n", l->n, n);
        for (size_t i = 0; i < l->n; i++)
            printf("#   got %s\n", l->v[i].mailbox);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(l->v[i].mailbox, want[i]) != 0) {
            printf("#   [%zu] got %s want %s\n", i, l->v[i].mailbox, want[i]);
            return false;
        }
    return true;
}

static void test_rcpts(void)
{
    struct intake_opts t = { .collect_rcpts = true, .remove_bcc = true };
    struct run x;
    runs(&x,
         "From: me@h\nTo: Alice <a@x>,\n  b@y\nSubject: s\nCc: c@z,\r\n\t\"Dee, D\" <d@w>\n"
         "Bcc: e@v,\n f@u\nTo: a@x\n\nTo: body@x\n", &t);
    static const char *const w1[] = { "a@x", "b@y", "c@z", "d@w", "e@v", "f@u" };
    tap_int(x.rc, 0, "-t: returns 0");
    tap_ok(rcpts_are(&x.m.rcpts, w1, 6), "-t: folded To/Cc/Bcc collected, duplicates once");
    tap_str(x.m.rcpts.n ? x.m.rcpts.v[0].display : NULL, "Alice", "-t: display name kept");
    tap_str(x.out, "From: me@h\r\nTo: Alice <a@x>,\r\n  b@y\r\nSubject: s\r\nCc: c@z,\r\n\t\"Dee, D\" "
                   "<d@w>\r\nTo: a@x\r\n\r\nTo: body@x\r\n",
            "-t: Bcc removed, folding kept");
    done(&x);

    runs(&x, "To: a@x\nBcc:\n\n", &t);
    static const char *const w2[] = { "a@x" };
    tap_ok(x.rc == 0 && rcpts_are(&x.m.rcpts, w2, 1), "-t: empty Bcc adds nobody");
    done(&x);

    runs(&x, "To: a@x\nCc: b@y\n\n", &(struct intake_opts){ 0 });
    tap_int((long long)x.m.rcpts.n, 0, "without -t: nothing collected");
    done(&x);

    runs(&x,
         "Resent-From: r@h\nResent-To: r1@x\nResent-Cc: r2@x,\n r3@x\nResent-Bcc: r4@x\n"
         "Received: from a by b\nResent-To: old@x\nResent-Bcc: oldbcc@x\n"
         "To: t@x\nCc: c@x\n\nbody\n", &t);
    static const char *const w3[] = { "r1@x", "r2@x", "r3@x", "r4@x" };
    tap_ok(x.rc == 0 && rcpts_are(&x.m.rcpts, w3, 4),
           "-t: only the first Resent block, not To/Cc nor older blocks");
    tap_str(x.out,
            "Resent-From: r@h\r\nResent-To: r1@x\r\nResent-Cc: r2@x,\r\n r3@x\r\n"
            "Received: from a by b\r\nResent-To: old@x\r\nTo: t@x\r\nCc: c@x\r\n\r\nbody\r\n",
            "-t: every Resent-Bcc removed");
    done(&x);

    runs(&x, "Resent-Date: x\nResent-From: r@h\nTo: t@x\n\n", &t);
    static const char *const w4[] = { "t@x" };
    tap_ok(x.rc == 0 && rcpts_are(&x.m.rcpts, w4, 1),
           "-t: Resent block without Resent-To/Cc/Bcc: To used");
    done(&x);

    int fd = input_file("To: a@x\nCc: <<<broken\nSubject: s\n\nbody\n", 40);
    run_fd(&x, fd, &t);
    close(fd);
    tap_int(x.rc, -1, "-t: unparsable Cc fails");
    tap_int(x.r.cls, RC_DATAERR, "-t: unparsable Cc is RC_DATAERR");
    tap_ok(x.r.msg && strstr(x.r.msg, "Cc"), "-t: message names the header");
    tap_ok(x.in_pos == x.in_size, "-t: input read to the end after the error");
    tap_int(x.m.fd, -1, "-t: no file left open on failure");
    done(&x);

    runs(&x, "To: a@x\nCc: <<<broken\n\n", &(struct intake_opts){ 0 });
    tap_int(x.rc, 0, "unparsable Cc without -t is not an error");
    done(&x);
}

/* ------------------------------------------------------- added headers */

static bool looks_like_date(const char *s)
{
    /* "Www, D Mmm YYYY HH:MM:SS +ZZZZ" */
    static const char *const days = "Sun,Mon,Tue,Wed,Thu,Fri,Sat,";
    static const char *const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec ";
    char d[4] = { 0 }, mo[4] = { 0 };
    int day, year, h, mi, sec, zone, used = 0;
    char sign;
    if (sscanf(s, "%3c, %d %3c %d %d:%d:%d %c%4d%n", d, &day, mo, &year, &h, &mi, &sec, &sign,
               &zone, &used) != 9)
        return false;
    char dk[5], mk[5];
    snprintf(dk, sizeof dk, "%s,", d);
    snprintf(mk, sizeof mk, "%s ", mo);
    return strstr(days, dk) && strstr(months, mk) && day >= 1 && day <= 31 && year >= 2020 &&
           (sign == '+' || sign == '-') && s[used] == '\0' && strlen(s) - strlen(strchr(s, sign)) > 20;
}

static void test_added(void)
{
    struct intake_opts add = { .add_from = "Me <me@h>", .add_date = true, .msgid_domain = "h.example" };
    struct run x;
    runs(&x, "To: a@x\nSubject: s\n\nbody\n", &add);
    tap_ok(x.out && strncmp(x.out, "To: a@x\r\nSubject: s\r\nFrom: Me <me@h>\r\nDate: ", 44) == 0,
           "added: From and Date at the end of the header section");
    const char *date = x.out ? strstr(x.out, "Date: ") : NULL;
    char dbuf[80] = "";
    if (date)
        sscanf(date + 6, "%79[^\r]", dbuf);
    tap_ok(looks_like_date(dbuf), "added: Date is RFC 5322");
    const char *mid = x.out ? strstr(x.out, "\r\nMessage-ID: <") : NULL;
    char id1[200] = "";
    if (mid)
        sscanf(mid + 14, "%199[^\r]", id1);
    tap_ok(strlen(id1) > 30 && id1[strlen(id1) - 1] == '>' && strstr(id1, "@h.example>"),
           "added: Message-ID <...@domain>");
    tap_ok(x.out && strstr(x.out, ">\r\n\r\nbody\r\n") != NULL, "added: blank line and body in place");
    tap_ok(!x.m.has_from && !x.m.has_date && !x.m.has_msgid, "added: has_* describe the input");
    tap_int(x.m.size, (long long)x.len, "added: size counts added headers");
    done(&x);

    runs(&x, "To: a@x\n\nbody\n", &add);
    char id2[200] = "";
    mid = x.out ? strstr(x.out, "\r\nMessage-ID: <") : NULL;
    if (mid)
        sscanf(mid + 14, "%199[^\r]", id2);
    tap_ok(id2[0] && strcmp(id1, id2) != 0, "added: Message-IDs differ");
    done(&x);

    runs(&x, "from: Old <old@h>\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-Id: <a@b>\n"
             "Sender: s@h\n\nbody\n", &add);
    tap_str(x.out, "from: Old <old@h>\r\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <a@b>\r\n"
                   "Sender: s@h\r\n\r\nbody\r\n", "existing From/Date/Message-ID kept, none added");
    tap_ok(x.m.has_from && x.m.has_date && x.m.has_msgid, "existing: has_* set (any case)");
    tap_str(x.m.from_header, "old@h", "from_header: first mailbox of From:");
    tap_str(x.m.sender_header, "s@h", "sender_header: first mailbox of Sender:");
    done(&x);

    struct intake_opts force = { .add_from = "New <new@h>", .force_from = true };
    runs(&x, "From: Old <old@h>\nTo: a@x\nFrom: second@h\n continued\n\nFrom: body\n", &force);
    tap_str(x.out, "To: a@x\r\nFrom: New <new@h>\r\n\r\nFrom: body\r\n",
            "force_from: every From replaced");
    tap_ok(x.m.has_from, "force_from: has_from describes the input");
    tap_str(x.m.from_header, "old@h", "force_from: from_header is the input's");
    done(&x);

    check("To: a@x\n\n", &(struct intake_opts){ .add_from = "x\r\nBcc: evil@x" },
          "To: a@x\r\nFrom: x  Bcc: evil@x\r\n\r\n", "added From cannot inject a header");

    struct intake_opts from_only = { .add_from = "me@h" };
    check("hello world\nsecond: line\n", &from_only,
          "From: me@h\r\n\r\nhello world\r\nsecond: line\r\n",
          "no header section: From added at the top, blank line, body intact");
    check("hello world\nsecond\n", NULL, "hello world\r\nsecond\r\n",
          "no header section, nothing added: unchanged");
    check("Subject: only headers\n", &from_only, "Subject: only headers\r\nFrom: me@h\r\n",
          "headers only: added at the end, no blank line");
    check("Subject: s\nnot a header\nbody\n", NULL, "Subject: s\r\n\r\nnot a header\r\nbody\r\n",
          "non-header line ends the section: blank line inserted");
    check("\nbody\n", &from_only, "From: me@h\r\n\r\nbody\r\n", "empty header section");
    check("\nX: y\n", NULL, "\r\nX: y\r\n", "empty header section kept empty");
    check("From me@h Mon Jan  1 00:00:00 2024\nSubject: s\n\nFrom here\n", NULL,
          "Subject: s\r\n\r\nFrom here\r\n", "leading mbox From line dropped, body one kept");
    check(" orphan\nSubject: s\n\nb\n", NULL, " orphan\r\nSubject: s\r\n\r\nb\r\n",
          "leading continuation line kept in the header section");
}

/* ---------------------------------------------------- sizes and limits */

/* The input is refused with RC_DATAERR and exactly msg, after being read
 * to the end, and no file is left. */
static void refused(const void *in, size_t n, const struct intake_opts *o, const char *msg,
                    const char *what)
{
    struct run x;
    int fd = input_file(in, n);
    run_fd(&x, fd, o);
    close(fd);
    char label[256];
    snprintf(label, sizeof label, "%s: refused with RC_DATAERR", what);
    tap_ok(x.rc == -1 && x.r.cls == RC_DATAERR && x.m.fd == -1 && x.out == NULL, label);
    snprintf(label, sizeof label, "%s: the message", what);
    tap_str(x.r.msg, msg, label);
    snprintf(label, sizeof label, "%s: input read to the end", what);
    tap_ok(x.in_pos == x.in_size, label);
    done(&x);
}

static void test_long(void)
{
    /* A 5000-octet header line is kept as it is. */
    size_t n = 5000;
    char *in = xmalloc(n + 64);
    memcpy(in, "X-Long: ", 8);
    memset(in + 8, 'v', n - 8);
    strcpy(in + n, "\nSubject: s\n\nbody\n");
    struct run x;
    runs(&x, in, &(struct intake_opts){ .remove_bcc = true });
    tap_ok(x.out && x.len == n + 2 + 12 + 2 + 6 && memcmp(x.out, in, n) == 0 &&
           memcmp(x.out + n, "\r\nSubject: s\r\n\r\nbody\r\n", 22) == 0,
           "header line longer than 998 octets kept intact");
    tap_int((long long)x.m.longest_line, (long long)n, "longest_line counts the long header");
    done(&x);
    free(in);

    /* 3 MB body line. */
    n = 3 * 1000 * 1000;
    in = xmalloc(n + 16);
    memcpy(in, "S: x\n\n", 6);
    memset(in + 6, 'w', n);
    in[6 + n] = '\n';
    run(&x, in, n + 7, &(struct intake_opts){ 0 });
    tap_int((long long)x.m.longest_line, (long long)n, "3 MB body line: longest_line");
    tap_int(x.m.size, (long long)(n + 10), "3 MB body line: size");
    tap_ok(x.out && x.out[8] == 'w' && x.out[8 + n - 1] == 'w' &&
           memcmp(x.out + 8 + n, "\r\n", 2) == 0, "3 MB body line intact");
    tap_ok(!x.m.has_8bit, "ASCII: has_8bit false");
    done(&x);
    free(in);

    /* A 2 MiB ordinary header field: refused, read to the end. */
    n = 2 * 1024 * 1024;
    in = xmalloc(n + 64);
    memcpy(in, "S: a\nX-Big: ", 12);
    memset(in + 12, 'z', n);
    strcpy(in + 12 + n, "\n\nbody\n");
    refused(in, strlen(in), &(struct intake_opts){ .add_from = "me@h" },
            "the header field \"X-Big\" is longer than 1 MiB; the message was not sent: "
            "shorten the field or move its text into the body",
            "2 MiB header field");

    /* A 2 MiB Bcc is removed all the same. */
    memcpy(in, "S: a\nBcc: ", 10);
    memset(in + 10, 'z', n);
    strcpy(in + 10 + n, "\n zz\n\tzz\nT: b\n\nbody\n");
    run(&x, in, strlen(in), &(struct intake_opts){ .remove_bcc = true });
    tap_str(x.out, "S: a\r\nT: b\r\n\r\nbody\r\n", "2 MiB Bcc removed with its continuation lines");
    done(&x);

    /* A 2 MiB To under -t cannot be read: an error, not a silent loss. */
    memcpy(in, "S: a\nTo: ", 9);
    memset(in + 9, 'z', n);
    strcpy(in + 9 + n, "\n\nbody\n");
    refused(in, strlen(in), &(struct intake_opts){ .collect_rcpts = true },
            "the header field \"To\" is longer than 1 MiB; the message was not sent: "
            "shorten the field or move its text into the body", "2 MiB To with -t");
    free(in);

    /* 18 header fields of 1,000,000 octets (over HEADER_MAX), then a Bcc:
     * refused, with or without -t; the Bcc never becomes body. */
    size_t fields = 18, flen = 1000 * 1000;
    n = fields * (flen + 1) + 32;
    in = xmalloc(n + 1);
    for (size_t i = 0; i < fields; i++) {
        char *f = in + i * (flen + 1);
        memset(f, 'k', flen);
        snprintf(f, 12, "X-F%02zu: ", i);
        f[7] = 'k';
        f[flen] = '\n';
    }
    strcpy(in + fields * (flen + 1), "Bcc: b@h\n\nbody\n");
    const char *section = "the header section is longer than 16 MiB; the message was not sent: "
                          "shorten the header or move its text into the body";
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, section,
            "header section over 16 MiB");
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true, .collect_rcpts = true },
            section, "header section over 16 MiB with -t");

    /* Fields that are removed anyway do not count: 16 MB of header, then
     * a Bcc that crosses 16 MiB is discarded whole and the header goes on. */
    fields = 16;
    for (size_t i = 0; i < fields; i++) {
        char *f = in + i * (flen + 1);
        memset(f, 'k', flen);
        snprintf(f, 12, "X-F%02zu: ", i);
        f[7] = 'k';
        f[flen] = '\n';
    }
    char *tail = in + fields * (flen + 1);
    memcpy(tail, "Bcc: ", 5);
    memset(tail + 5, 'b', 800 * 1000);
    strcpy(tail + 5 + 800 * 1000, "\n more\nSubject: s\n\nbody\n");
    run(&x, in, strlen(in), &(struct intake_opts){ .remove_bcc = true });
    size_t hdr = fields * (flen + 2);
    tap_ok(x.rc == 0 && x.out && x.len == hdr + 20 &&
           memcmp(x.out + hdr - flen - 2, "X-F15: kk", 9) == 0 &&
           strcmp(x.out + hdr, "Subject: s\r\n\r\nbody\r\n") == 0,
           "Bcc crossing 16 MiB removed whole, the header goes on");
    done(&x);
    free(in);

    /* 20 MB generated message. */
    size_t lines = 200 * 1000, per = 100;
    n = 14 + lines * (per + 1);
    in = xmalloc(n);
    memcpy(in, "Subject: big\n\n", 14);
    for (size_t i = 0; i < lines; i++) {
        char *l = in + 14 + i * (per + 1);
        memset(l, 'a' + (char)(i % 26), per);
        l[per] = '\n';
    }
    in[14 + 123456 * (per + 1) + 7] = (char)0xe2;   /* one 8-bit byte */
    run(&x, in, n, &(struct intake_opts){ 0 });
    size_t want = 16 + lines * (per + 2);
    tap_int(x.m.size, (long long)want, "20 MB: size");
    tap_int((long long)x.len, (long long)want, "20 MB: file size");
    size_t at = 16 + 123456 * (per + 2);
    tap_ok(x.out && (unsigned char)x.out[at + 7] == 0xe2 && x.out[at] == (char)('a' + 123456 % 26) &&
           memcmp(x.out + at + per, "\r\n", 2) == 0 && x.out[want - 3] == (char)('a' + (lines - 1) % 26),
           "20 MB: bytes in place");
    tap_ok(x.m.has_8bit, "20 MB: one 8-bit byte detected");
    tap_int((long long)x.m.longest_line, (long long)per, "20 MB: longest line");
    done(&x);
    free(in);

    /* 8-bit in a header only. */
    runs(&x, "Subject: caf\xc3\xa9\n\nplain\n", &(struct intake_opts){ 0 });
    tap_ok(x.m.has_8bit, "8-bit in a header detected");
    done(&x);
    runs(&x, "Subject: plain\n\nab\xc3\xa9" "cd\nplain text that is long enough for the vector scan\n",
         &(struct intake_opts){ 0 });
    tap_ok(x.m.has_8bit, "8-bit just before a line end detected");
    done(&x);
    runs(&x, "Subject: plain\n\nplain text that is long enough for the vector scan\n",
         &(struct intake_opts){ 0 });
    tap_ok(!x.m.has_8bit, "7-bit message: has_8bit false");
    done(&x);
}

static void field_msg(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "the header field \"%s\" is longer than 1 MiB; the message was not "
             "sent: shorten the field or move its text into the body", name);
}

/* Over-long header lines never change which lines are header fields:
 * the message is refused, or the line is one that ends the header section
 * (or is removed) exactly as a short line of its kind would be. */
static void test_overflow(void)
{
    const char *line_msg = "a header line is longer than 1 MiB; the message was not sent: "
                           "shorten the line or move its text into the body";
    size_t n = 2 * 1024 * 1024;
    char *big = xmalloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    char *in, *want, msg[400];
    struct run x;

    /* -t: an over-long Subject before a Bcc. */
    in = xasprintf("From: me@h\nTo: a@h\nSubject: %s\nBcc: hidden@h\n\nbody\n", big);
    field_msg(msg, sizeof msg, "Subject");
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true, .collect_rcpts = true },
            msg, "-t, long Subject before Bcc");
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, msg,
            "long Subject before Bcc, no -t");
    refused(in, strlen(in), &(struct intake_opts){ 0 }, msg, "long Subject, no options");
    free(in);

    /* A folded field whose continuation lines pass the limit. */
    in = xasprintf("To: a@h\nX-Folded: a\n %s\nBcc: hidden@h\n\nbody\n", big);
    field_msg(msg, sizeof msg, "X-Folded");
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true, .collect_rcpts = true },
            msg, "long continuation line");
    free(in);

    /* A line of field-name characters with no colon yet may still be a
     * field: refused, not guessed to be body. */
    in = xasprintf("To: a@h\n%s\nBcc: hidden@h\n\nbody\n", big);
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, line_msg,
            "long line that may be a field name");
    free(in);

    /* A long continuation line with no field to continue. */
    in = xasprintf(" %s\nBcc: hidden@h\n\nbody\n", big);
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, line_msg,
            "long orphan continuation line");
    free(in);

    /* A field name longer than the message shows: cut to 76 characters. */
    char name[101];
    memset(name, 'n', 100);
    name[100] = '\0';
    memcpy(name, "X-", 2);
    in = xasprintf("To: a@h\n%s: %s\nBcc: hidden@h\n\nbody\n", name, big);
    name[76] = '\0';
    field_msg(msg, sizeof msg, name);
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, msg,
            "long field with a 100-character name");
    free(in);

    /* A From that set_from_header replaces is still read (its address
     * serves --read-envelope-from): refused. */
    in = xasprintf("From: %s\nSubject: s\n\nbody\n", big);
    field_msg(msg, sizeof msg, "From");
    refused(in, strlen(in), &(struct intake_opts){ .add_from = "me@h", .force_from = true }, msg,
            "long From to be replaced");
    free(in);

    /* A line that is plainly not a header field (a blank before any
     * colon) ends the header section like a short one: the Bcc after it
     * is body in both cases. */
    in = xasprintf("Subject: s\nnot a header %s\nBcc: b@h\n\nbody\n", big);
    want = xasprintf("Subject: s\r\n\r\nnot a header %s\r\nBcc: b@h\r\n\r\nbody\r\n", big);
    run(&x, in, strlen(in), &(struct intake_opts){ .remove_bcc = true });
    tap_ok(x.rc == 0 && x.out && strcmp(x.out, want) == 0 && x.m.size == (long long)strlen(want),
           "long non-header line ends the header section as a short one does");
    done(&x);
    free(in);
    free(want);
    check("Subject: s\nnot a header x\nBcc: b@h\n\nbody\n", &(struct intake_opts){ .remove_bcc = true },
          "Subject: s\r\n\r\nnot a header x\r\nBcc: b@h\r\n\r\nbody\r\n",
          "short non-header line: the same");

    /* Removed fields are dropped whole, the header goes on. */
    in = xasprintf("Subject: s\nTo: %s\n more\nCc: c@h\nX-After: y\n\nbody\n", big);
    run(&x, in, strlen(in), &(struct intake_opts){ .undisclosed = true });
    tap_str(x.out, "Subject: s\r\nX-After: y\r\nTo: undisclosed-recipients:;\r\n\r\nbody\r\n",
            "undisclosed, no -t: long To removed whole, the header goes on");
    done(&x);
    free(in);
    in = xasprintf("Subject: s\nResent-Bcc: %s\n\tmore\nX-After: y\n\nbody\n", big);
    check(in, &(struct intake_opts){ .remove_bcc = true },
          "Subject: s\r\nX-After: y\r\n\r\nbody\r\n", "long Resent-Bcc removed whole");
    free(in);

    /* An over-long mbox "From " line is dropped like a short one. */
    in = xasprintf("From %s\nSubject: s\n\nbody\n", big);
    check(in, NULL, "Subject: s\r\n\r\nbody\r\n", "long mbox From line dropped");
    free(in);
    /* ... and only that line: a continuation line after it stays, as it
     * does after a short one. */
    in = xasprintf("From %s\n orphan\nSubject: s\n\nbody\n", big);
    check(in, NULL, " orphan\r\nSubject: s\r\n\r\nbody\r\n",
          "long mbox From line dropped alone");
    free(in);
    check("From me@h Mon Jan  1 00:00:00 2024\n orphan\nSubject: s\n\nbody\n", NULL,
          " orphan\r\nSubject: s\r\n\r\nbody\r\n", "short mbox From line dropped alone");

    /* Just under the limit: kept intact, the Bcc after it removed. */
    size_t fit = 1024 * 1024 - 9;                /* "Subject: " + fit = 1 MiB */
    big[fit] = '\0';
    in = xasprintf("Subject: %s\nBcc: hidden@h\nX-After: y\n\nbody\n", big);
    want = xasprintf("Subject: %s\r\nX-After: y\r\n\r\nbody\r\n", big);
    run(&x, in, strlen(in), &(struct intake_opts){ .remove_bcc = true, .collect_rcpts = true });
    tap_ok(x.rc == 0 && x.out && strcmp(x.out, want) == 0 && x.m.rcpts.n == 1 &&
           strcmp(x.m.rcpts.v[0].mailbox, "hidden@h") == 0,
           "a field of exactly 1 MiB is kept; the Bcc after it is removed and read");
    done(&x);
    free(in);
    free(want);
    big[fit] = 'x';
    in = xasprintf("Subject: %.*s\nBcc: hidden@h\n\nbody\n", (int)fit + 1, big);
    field_msg(msg, sizeof msg, "Subject");
    refused(in, strlen(in), &(struct intake_opts){ .remove_bcc = true }, msg,
            "a field of 1 MiB + 1 octet");
    free(in);
    free(big);
}

/* intake_begin/feed/end with the input in pieces of `size` octets
 * (0: one piece). */
static int feed_pieces(const void *in, size_t n, size_t size, const struct intake_opts *o,
                       struct message *m, struct result *r)
{
    struct intake *ctx = intake_begin(o);
    const unsigned char *p = in;
    size_t step = size ? size : (n ? n : 1);
    for (size_t off = 0; off < n; off += step)
        intake_feed(ctx, p + off, n - off < step ? n - off : step);
    return intake_end(ctx, m, r);
}

static void test_reader(void)
{
    const char *in = "From x\r\nSubject: a\r\n b\rBcc: c@h\n\r\nbo\0dy\r\rend";
    size_t n = 44;
    const char *want = "Subject: a\r\n b\r\n\r\nbody\r\n\r\nend\r\n";
    for (size_t size = 1; size <= 8; size++) {
        struct message m;
        struct result r = RESULT_INIT;
        int rc = feed_pieces(in, n, size, &(struct intake_opts){ .remove_bcc = true }, &m, &r);
        size_t len = 0;
        char *out = rc == 0 ? read_back(m.fd, &len) : NULL;
        char label[80];
        snprintf(label, sizeof label, "pieces of %zu octets: same output", size);
        tap_str(out, want, label);
        snprintf(label, sizeof label, "pieces of %zu octets: one NUL dropped", size);
        tap_int((long long)m.nul_dropped, 1, label);
        free(out);
        message_free(&m);
        result_clear(&r);
    }

    /* The input fails: intake_abort() frees everything and reports no
     * failure of its own ... */
    struct result r = RESULT_INIT;
    struct intake *ctx = intake_begin(NULL);
    tap_ok(intake_feed(ctx, in, 10), "feed: more wanted");
    intake_abort(ctx, &r);
    tap_int(r.cls, RC_OK, "abort without a failure of intake's: r untouched");
    intake_abort(NULL, &r);
    /* ... but hands over an earlier one, which comes first. */
    ctx = intake_begin(&(struct intake_opts){ .field_max = 8 });
    intake_feed(ctx, "Subject: long\n", 14);
    intake_abort(ctx, &r);
    tap_int(r.cls, RC_DATAERR, "abort after a limit: the limit's failure");
    result_set(&r, RC_IOERR, "read error");
    tap_ok(r.cls == RC_DATAERR && strstr(r.msg, "Subject"), "abort: the first cause is kept");
    result_clear(&r);

    /* After the lone "." feed says so and ignores the rest. */
    ctx = intake_begin(&(struct intake_opts){ .dot_ends = true });
    tap_ok(intake_feed(ctx, "S: x\n\nbody\n", 12), "dot_ends: more wanted before the dot");
    tap_ok(!intake_feed(ctx, ".\nmore\n", 7), "dot_ends: no more wanted after the lone dot");
    tap_ok(!intake_feed(ctx, "x\n", 2), "dot_ends: still none");
    struct message m;
    tap_int(intake_end(ctx, &m, &r), 0, "dot_ends: ends well");
    size_t len = 0;
    char *out = read_back(m.fd, &len);
    tap_str(out, "S: x\r\n\r\nbody\r\n", "dot_ends: the rest ignored");
    free(out);
    message_free(&m);

    /* A failure to create the file shows at the end, after all input. */
    ctx = intake_begin(&(struct intake_opts){ .tmpdir = "/nonexistent/dir" });
    tap_ok(intake_feed(ctx, "S: x\n", 5), "bad tmpdir: input still wanted");
    m.fd = 42;
    tap_int(intake_end(ctx, &m, &r), -1, "bad tmpdir: end fails");
    tap_ok(r.cls == RC_CANTCREAT && m.fd == -1, "bad tmpdir: RC_CANTCREAT, no file");
    result_clear(&r);

    /* Smaller limits through the options, named in octets. */
    struct run x;
    struct intake_opts small = { .field_max = 20, .header_max = 40 };
    runs(&x, "Subject: 0123456789ab\nX: y\n\nbody\n", &small);
    tap_str(x.r.msg, "the header field \"Subject\" is longer than 20 octets; the message was "
            "not sent: shorten the field or move its text into the body", "field_max option");
    done(&x);
    runs(&x, "A: 0123456789\nB: 0123456789\nC: 0123456789\n\nbody\n", &small);
    tap_str(x.r.msg, "the header section is longer than 40 octets; the message was not sent: "
            "shorten the header or move its text into the body", "header_max option");
    done(&x);
    check("A: 012345678901234\nB: 0123456789\n\nbody\n", &small,
          "A: 012345678901234\r\nB: 0123456789\r\n\r\nbody\r\n", "just within small limits");
    check(" 0123456789012345678\nB: 0123456789\n\nbody\n", &small,
          " 0123456789012345678\r\nB: 0123456789\r\n\r\nbody\r\n",
          "a leading continuation line of exactly field_max octets is kept");
    check("A: 0123456789\n 0123\nB: 0\n\nbody\n", &small,
          "A: 0123456789\r\n 0123\r\nB: 0\r\n\r\nbody\r\n",
          "a folded field of exactly field_max octets is kept");
}

/* ------------------------------------------------------------- failures */

static void test_failures(void)
{
    struct run x;
    int fd = input_file("Subject: s\n\nbody\n", 17);
    run_fd(&x, fd, &(struct intake_opts){ .tmpdir = "/nonexistent/dir" });
    close(fd);
    tap_int(x.rc, -1, "bad tmpdir: fails");
    tap_int(x.r.cls, RC_CANTCREAT, "bad tmpdir: RC_CANTCREAT");
    tap_ok(x.r.msg && strstr(x.r.msg, "/nonexistent/dir"), "bad tmpdir: message names it");
    tap_ok(x.in_pos == x.in_size, "bad tmpdir: input read to the end");
    tap_int(x.m.fd, -1, "bad tmpdir: no fd");
    done(&x);

    int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    run_fd(&x, dfd, &(struct intake_opts){ 0 });
    close(dfd);
    tap_int(x.rc, -1, "read error: fails");
    tap_int(x.r.cls, RC_IOERR, "read error: RC_IOERR");
    tap_ok(x.r.msg && strstr(x.r.msg, "standard input"), "read error: names standard input");
    done(&x);

    /* Write error: a small file size limit makes write() fail (EFBIG). */
    size_t n = 4 * 1024 * 1024;
    char *in = xmalloc(n);
    memset(in, 'q', n);
    memcpy(in, "S: x\n\n", 6);
    fd = input_file(in, n);
    free(in);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { 64 * 1024, 64 * 1024 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        struct message m;
        struct result r = RESULT_INIT;
        int rc = intake_read(fd, &(struct intake_opts){ 0 }, &m, &r);
        int code = rc == -1 && r.cls == RC_IOERR && r.msg && strstr(r.msg, "/tmp") ? 0 : 1;
        if (lseek(fd, 0, SEEK_CUR) != (off_t)n)
            code |= 2;
        if (m.fd != -1)
            code |= 4;
        result_clear(&r);
        _exit(code);
    }
    int status;
    waitpid(pid, &status, 0);
    close(fd);
    tap_ok(WIFEXITED(status) && (WEXITSTATUS(status) & 1) == 0, "write error: RC_IOERR naming the directory");
    tap_ok(WIFEXITED(status) && (WEXITSTATUS(status) & 2) == 0, "write error: input read to the end");
    tap_ok(WIFEXITED(status) && (WEXITSTATUS(status) & 4) == 0, "write error: no fd left");
}

static void test_file(void)
{
    struct run x;
    runs(&x, "S: x\n\nbody\n", &(struct intake_opts){ .tmpdir = "/tmp" });
    struct stat st;
    tap_ok(x.m.fd >= 0 && fstat(x.m.fd, &st) == 0 && (st.st_mode & 077) == 0,
           "temporary file is private (no group/other bits)");
    tap_ok(st.st_nlink == 0, "temporary file has no name");
    char c = 0;
    tap_ok(pread(x.m.fd, &c, 1, 0) == 1 && c == 'S', "readable with pread from offset 0");
    done(&x);
}

static void test_date(void)
{
    setenv("TZ", "UTC0", 1);
    tzset();
    char *d = intake_date_now();
    tap_ok(looks_like_date(d) && strstr(d, " +0000"), "intake_date_now in UTC: +0000");
    free(d);
    setenv("TZ", "EST5", 1);
    tzset();
    d = intake_date_now();
    tap_ok(looks_like_date(d) && strstr(d, " -0500"), "intake_date_now in EST5: -0500");
    free(d);
    setenv("TZ", "IST-5:30", 1);
    tzset();
    d = intake_date_now();
    tap_ok(looks_like_date(d) && strstr(d, " +0530"), "intake_date_now with a half-hour zone");
    free(d);
    unsetenv("TZ");
    tzset();
}

/* undisclosed_recipients: To, Cc and Bcc give way to one
 * "To: undisclosed-recipients:;"; -t still reads them first. */
static void test_undisclosed(void)
{
    struct run x;
    struct intake_opts u = { .collect_rcpts = true, .remove_bcc = true, .undisclosed = true };
    runs(&x,
         "From: me@h\nTo: Alice <a@x>,\n  b@y\nSubject: s\ncc: c@z\nBcc: e@v\n"
         "Reply-To: r@x\nX-To: keep\n\nTo: body@x\n", &u);
    static const char *const w[] = { "a@x", "b@y", "c@z", "e@v" };
    tap_int(x.rc, 0, "undisclosed: returns 0");
    tap_ok(rcpts_are(&x.m.rcpts, w, 4), "undisclosed: -t recipients still collected");
    tap_str(x.out,
            "From: me@h\r\nSubject: s\r\nReply-To: r@x\r\nX-To: keep\r\n"
            "To: undisclosed-recipients:;\r\n\r\nTo: body@x\r\n",
            "undisclosed: To (folded), Cc, Bcc replaced by one To; body untouched");
    done(&x);

    runs(&x, "Subject: s\n\nbody\n", &(struct intake_opts){ .undisclosed = true });
    tap_str(x.out, "Subject: s\r\nTo: undisclosed-recipients:;\r\n\r\nbody\r\n",
            "undisclosed: added when the message has no To");
    done(&x);

    runs(&x, "To: a@x\nBcc: b@x\n\nbody\n", &(struct intake_opts){ .undisclosed = true });
    tap_str(x.out, "To: undisclosed-recipients:;\r\n\r\nbody\r\n",
            "undisclosed: Bcc removed even with remove_bcc_headers off");
    done(&x);

    runs(&x, "", &(struct intake_opts){ .undisclosed = true });
    tap_str(x.out, "To: undisclosed-recipients:;\r\n", "undisclosed: empty input");
    done(&x);
}

/* -B 7BIT marks the message; the bytes and the other facts stay as read. */
static void test_force_7bit(void)
{
    struct run x;
    const char *in = "Subject: s\n\nh\xc3\xa9\n";
    runs(&x, in, &(struct intake_opts){ .force_7bit = true });
    tap_int(x.rc, 0, "force_7bit: returns 0");
    tap_ok(x.m.force_7bit, "force_7bit: the message is marked");
    tap_ok(x.m.has_8bit, "force_7bit: the 8-bit fact is still the input's");
    tap_str(x.out, "Subject: s\r\n\r\nh\xc3\xa9\r\n", "force_7bit: the file is not changed");
    done(&x);
    runs(&x, in, NULL);
    tap_ok(x.rc == 0 && !x.m.force_7bit, "without force_7bit: not marked");
    done(&x);
}

/* ------------------------------------------------------------ chunking */

/* Everything intake_end() gives, as text: outcome, file, facts. */
static char *outcome_text(int rc, const struct message *m, const struct result *r)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "rc=%d cls=%d msg=%s\n", rc, (int)r->cls, r->msg ? r->msg : "-");
    if (rc != 0) {
        buf_printf(&b, "fd=%d\n", m->fd);
        return buf_steal(&b);
    }
    size_t len = 0;
    char *out = read_back(m->fd, &len);
    buf_printf(&b, "size=%lld len=%zu 8bit=%d from=%d date=%d msgid=%d nul=%zu longest=%zu "
               "offset=%lld from_header=%s sender_header=%s rcpts=",
               m->size, len, m->has_8bit, m->has_from, m->has_date, m->has_msgid,
               m->nul_dropped, m->longest_line, m->offset,
               m->from_header ? m->from_header : "-", m->sender_header ? m->sender_header : "-");
    for (size_t i = 0; i < m->rcpts.n; i++)
        buf_printf(&b, "%s<%s>;", m->rcpts.v[i].display ? m->rcpts.v[i].display : "",
                   m->rcpts.v[i].mailbox);
    buf_puts(&b, "\n");
    buf_append(&b, out, len);
    free(out);
    return buf_steal(&b);
}

/* Feed in at the cut points cuts[0..ncuts) (increasing) and describe
 * the outcome. */
static char *fed_at(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                    const struct intake_opts *o)
{
    struct intake *ctx = intake_begin(o);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        intake_feed(ctx, in + from, to - from);
        from = to;
    }
    struct message m;
    struct result r = RESULT_INIT;
    int rc = intake_end(ctx, &m, &r);
    char *text = outcome_text(rc, &m, &r);
    message_free(&m);
    result_clear(&r);
    return text;
}

/* Every chunking of in gives what one feed gives: one octet at a time,
 * every cut into two pieces (so inside each CRLF, each "\n.\n", each
 * header field and field name), every cut into three pieces around
 * each line end, and empty pieces. */
static void check_chunking(const char *in, size_t n, const struct intake_opts *o,
                           const char *what)
{
    char *whole = fed_at(in, n, NULL, 0, o);
    int bad = 0;
    char *first_bad = NULL;
    size_t *cuts = xcalloc(n + 2, sizeof *cuts);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    char *got = fed_at(in, n, cuts, n ? n - 1 : 0, o);
    if (strcmp(got, whole) != 0 && bad++ == 0)
        first_bad = xasprintf("one octet at a time:\n%s", got);
    free(got);
    for (size_t c = 0; c <= n; c++) {
        got = fed_at(in, n, &c, 1, o);
        if (strcmp(got, whole) != 0 && bad++ == 0)
            first_bad = xasprintf("cut at %zu:\n%s", c, got);
        free(got);
        if (c < n && (in[c] == '\n' || in[c] == '\r'))
            for (size_t d = c; d <= n && d <= c + 3; d++) {
                size_t two[3] = { c > 0 ? c - 1 : 0, c, d };
                got = fed_at(in, n, two, 3, o);
                if (strcmp(got, whole) != 0 && bad++ == 0)
                    first_bad = xasprintf("cuts at %zu,%zu,%zu:\n%s", two[0], c, d, got);
                free(got);
            }
    }
    char label[160];
    snprintf(label, sizeof label, "%s: every chunking gives the one-piece result", what);
    tap_ok(bad == 0, label);
    if (first_bad)
        printf("# one piece:\n%s\n# %s\n", whole, first_bad);
    free(first_bad);
    free(cuts);
    free(whole);
}

static void test_chunking(void)
{
    static const char nul_mix[] = "From x\r\nSubject: a\r\n b\rBcc: c@h\n\r\nbo\0dy\r\r\n\nend";
    check_chunking(nul_mix, sizeof nul_mix - 1, &(struct intake_opts){ .remove_bcc = true },
                   "CR/LF/CRLF, NUL, mbox line, Bcc removed");
    static const char dots[] = "Subject: s\r\n\r\n.x\n..\r\n.\r.\n.\nafter\n";
    check_chunking(dots, sizeof dots - 1, &(struct intake_opts){ .dot_ends = true },
                   "lone dot ends (dot_ends)");
    check_chunking(dots, sizeof dots - 1, NULL, "dots without dot_ends");
    static const char hdr_dot[] = "To: a@x\n.\nbody\n";
    check_chunking(hdr_dot, sizeof hdr_dot - 1, &(struct intake_opts){ .dot_ends = true },
                   "lone dot in the header");
    static const char rcpts[] =
        "Resent-To: r@x\nResent-Bcc: rb@x\nTo: a@x, B <b@y>\nCc: c@z,\n\td@w\n"
        "Bcc: e@v\nFrom: F <f@x>\nSender: s@x\nX-Long: a\n b\n c\n\nbody caf\xc3\xa9\n";
    check_chunking(rcpts, sizeof rcpts - 1,
                   &(struct intake_opts){ .collect_rcpts = true, .remove_bcc = true,
                                          .add_from = "Me <me@h>", .force_from = true },
                   "-t with Resent, folded fields, 8-bit body");
    check_chunking(rcpts, sizeof rcpts - 1,
                   &(struct intake_opts){ .undisclosed = true, .add_from = "me@h" },
                   "undisclosed recipients");
    static const char no_blank[] = "Subject: s\nnot a header\nBcc: x@y\n";
    check_chunking(no_blank, sizeof no_blank - 1, &(struct intake_opts){ .remove_bcc = true },
                   "header ended by a body line, no final line end");
    check_chunking("", 0, &(struct intake_opts){ .add_from = "me@h" }, "empty input");
    static const char bad_to[] = "To: <<<broken\n\nbody\n";
    check_chunking(bad_to, sizeof bad_to - 1, &(struct intake_opts){ .collect_rcpts = true },
                   "unreadable -t recipients refused");
    /* Over the (small) limits: the refusals and what is kept. */
    struct intake_opts small = { .field_max = 20, .header_max = 60, .remove_bcc = true };
    static const char long_field[] = "Subject: 0123456789abcdef\nX: y\n\nbody\n";
    check_chunking(long_field, sizeof long_field - 1, &small, "field over field_max");
    static const char long_name[] = "X-0123456789abcdefghijklmnop: v\n\nbody\n";
    check_chunking(long_name, sizeof long_name - 1, &small, "field name over field_max");
    static const char long_bcc[] = "Bcc: 0123456789@abcdefghij.example\n x@y\nS: s\n\nbody\n";
    check_chunking(long_bcc, sizeof long_bcc - 1, &small, "long Bcc dropped whole");
    static const char long_body_line[] = "S: s\nthis line is not a header field at all\nend\n";
    check_chunking(long_body_line, sizeof long_body_line - 1, &small,
                   "long non-header line starts the body");
    static const char long_mbox[] = "From someone@example.org Mon Dec  7\nS: s\n\nbody\n";
    check_chunking(long_mbox, sizeof long_mbox - 1, &small, "long mbox From line dropped");
    static const char long_section[] = "A: 0123456789\nB: 0123456789\nC: 0123456789\n"
                                       "D: 0123456789\nE: 0123456789\n\nbody\n";
    check_chunking(long_section, sizeof long_section - 1, &small, "section over header_max");
}

/* ---------------------------------------------------------------- drain */

static void test_drain(void)
{
    /* A regular file: read to its end. */
    int fd = input_file("To: a@x\n\nbody\n", 14);
    intake_drain(fd);
    tap_int((long long)lseek(fd, 0, SEEK_CUR), 14, "drain: a file is read to its end");
    close(fd);

    /* A non-blocking pipe whose writer is slow: drained to the end of
     * input (contract 7), not only to the first "nothing yet". */
    int p[2];
    pid_t pid = fork_writer(p);
    if (pid == 0) {
        write_all(p[1], "first\n", 6);
        usleep(200 * 1000);           /* let the reader find the pipe empty */
        write_all(p[1], "second\n", 7);
        _exit(0);
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    intake_drain(p[0]);
    char c;
    ssize_t k = read(p[0], &c, 1);
    tap_ok(k == 0, "drain: a non-blocking pipe is read to the end of input");
    close(p[0]);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    test_line_ends();
    test_block_boundary();
    test_random();
    test_dots();
    test_bcc();
    test_rcpts();
    test_undisclosed();
    test_force_7bit();
    test_added();
    test_long();
    test_overflow();
    test_reader();
    test_drain();
    test_chunking();
    test_failures();
    test_file();
    test_date();
    return tap_done();
}
