/*
 * test-queue.c - unit tests for queue.c: the entry format (round trip,
 * unknown keys ignored, every corrupt form rejected and, through
 * the locked open, moved to failed/ID.corrupt and never returned),
 * durable enqueue into a temporary spool, open/update/remove/move with
 * the flock (contention returns 1), enqueue failures that leave nothing
 * in new/, the -bp/--queue-json listing, --queue-remove and
 * --queue-retry. Prints TAP.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smtprc.h"
#include "cli.h"
#include "envelope.h"
#include "intake.h"
#include "queue.h"
#include "result.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static const char *tmpdir;

static const char *body = "From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n";

static const char *good_env =
    "smtpfwd-queue: 1\n"
    "id: ABC123\n"
    "account: work\n"
    "created: 1700000000\n"
    "sender: a@example.org\n"
    "rcpt: pending b@example.org\n"
    "rcpt: delivered c@example.org\n"
    "rcpt: failed \"d e\"@example.org\n"
    "rcpt-error: b@example.org 451 try later\n"
    "rcpt-error: \"d e\"@example.org 550 5.1.1 no such user\n"
    "attempts: 3\n"
    "next-attempt: 1700000600\n"
    "last-error: 451 try later\n"
    "dsn-notify: FAILURE,DELAY\n"
    "dsn-return: HDRS\n"
    "dsn-envid: xyz\n"
    "body-8bit: yes\n"
    "size: 44\n"
    "bounce: pending\n"
    "\n";

/* Count entries (names not starting with '.') in DIR/sub. */
static int count_dir(const char *dir, const char *sub)
{
    char *p = xasprintf("%s/%s", dir, sub);
    DIR *d = opendir(p);
    free(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The only name in DIR/sub (caller frees), or NULL. */
static char *only_name(const char *dir, const char *sub)
{
    char *p = xasprintf("%s/%s", dir, sub);
    DIR *d = opendir(p);
    free(p);
    char *name = NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            free(name);
            name = xstrdup(de->d_name);
        }
    }
    if (d)
        closedir(d);
    return name;
}

static void write_file(const char *path, const char *a, const char *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_all(fd, a, strlen(a)) != 0 || (b && write_all(fd, b, strlen(b)) != 0))
        printf("# cannot write %s\n", path);
    if (fd >= 0)
        close(fd);
}

static char *read_file(const char *path)
{
    struct buf b = BUF_INIT;
    char block[4096];
    int fd = open(path, O_RDONLY);
    ssize_t n;
    while (fd >= 0 && (n = read(fd, block, sizeof block)) > 0)
        buf_append(&b, block, (size_t)n);
    if (fd >= 0)
        close(fd);
    return b.data ? buf_steal(&b) : xstrdup("");
}

static int parse_str(const char *text, long long extra, struct queue_entry *e, struct result *r)
{
    return queue_entry_parse(text, strlen(text), (long long)strlen(text) + extra, e, r);
}

static void test_round_trip(void)
{
    struct queue_entry e;
    struct result r = RESULT_INIT;
    tap_int(parse_str(good_env, 44, &e, &r), 0, "good entry parses");
    tap_str(e.id, "ABC123", "id");
    tap_str(e.account, "work", "account");
    tap_int(e.created, 1700000000, "created");
    tap_str(e.sender, "a@example.org", "sender");
    tap_int((long long)e.nrcpts, 3, "three recipients");
    tap_int(e.rcpts[0].state, QRCPT_PENDING, "rcpt 1 pending");
    tap_int(e.rcpts[1].state, QRCPT_DELIVERED, "rcpt 2 delivered");
    tap_int(e.rcpts[2].state, QRCPT_FAILED, "rcpt 3 failed");
    tap_str(e.rcpts[2].addr, "\"d e\"@example.org", "address with a space");
    tap_str(e.rcpts[2].error, "550 5.1.1 no such user", "error of an address with a space");
    tap_str(e.rcpts[0].error, "451 try later", "error of rcpt 1");
    tap_ok(e.rcpts[1].error == NULL, "no error for rcpt 2");
    tap_int(e.attempts, 3, "attempts");
    tap_int(e.next_attempt, 1700000600, "next attempt");
    tap_str(e.last_error, "451 try later", "last error");
    tap_str(e.dsn_notify, "FAILURE,DELAY", "dsn-notify");
    tap_str(e.dsn_return, "HDRS", "dsn-return");
    tap_str(e.dsn_envid, "xyz", "dsn-envid");
    tap_ok(e.body_8bit, "body-8bit");
    tap_int(e.size, 44, "size");
    tap_int(e.bounce, QBOUNCE_PENDING, "bounce");
    tap_int(e.body_offset, (long long)strlen(good_env), "body offset after the empty line");

    char *text = queue_entry_format(&e);
    tap_str(text, good_env, "format gives back the same text");
    struct queue_entry e2;
    tap_int(parse_str(text, 44, &e2, &r), 0, "formatted text parses again");
    char *text2 = queue_entry_format(&e2);
    tap_str(text2, text, "round trip is stable");
    free(text);
    free(text2);
    queue_entry_free(&e2);

    /* Values with CR/LF are flattened so the entry stays parseable. */
    free(e.last_error);
    e.last_error = xstrdup("421 line one\r\n421 line two");
    free(e.rcpts[0].error);
    e.rcpts[0].error = xstrdup("451\nsmuggled: yes");
    text = queue_entry_format(&e);
    tap_int(parse_str(text, 44, &e2, &r), 0, "multi-line texts are written on one line");
    tap_str(e2.last_error, "421 line one  421 line two", "CR/LF became spaces");
    tap_str(e2.rcpts[0].error, "451 smuggled: yes", "no key smuggled through an error text");
    tap_ok(strstr(text, "\nsmuggled:") == NULL, "no new line injected");
    free(text);
    queue_entry_free(&e2);
    queue_entry_free(&e);

    /* The null sender and optional keys absent. */
    const char *minimal = "smtpfwd-queue: 1\nid: Z9\naccount: a\ncreated: 0\nsender: \n"
                          "rcpt: pending x@y\nattempts: 0\nnext-attempt: 0\nbody-8bit: no\n"
                          "size: 0\nbounce: none\n\n";
    tap_int(parse_str(minimal, 0, &e, &r), 0, "minimal entry parses");
    tap_str(e.sender, "", "null sender");
    tap_ok(e.last_error == NULL && e.dsn_notify == NULL, "optional keys absent");
    text = queue_entry_format(&e);
    struct queue_entry e3;
    tap_int(parse_str(text, 0, &e3, &r), 0, "minimal entry round trip");
    tap_str(e3.sender, "", "null sender survives");
    queue_entry_free(&e3);
    free(text);
    queue_entry_free(&e);
    result_clear(&r);
}

/* A "rcpt-error:" line goes to the longest address it starts with,
 * wherever the "rcpt:" lines are: written back (errors after all
 * recipients), it must land on the same recipient. */
static void test_rcpt_error_order(void)
{
    const char *text = "smtpfwd-queue: 1\nid: Z9\naccount: a\ncreated: 0\nsender: \n"
                       "rcpt: pending a@x\nrcpt-error: a@x b 451 later\n"
                       "rcpt: pending a@x b\nattempts: 0\nnext-attempt: 0\n"
                       "body-8bit: no\nsize: 0\nbounce: none\n\n";
    struct queue_entry e, e2;
    struct result r = RESULT_INIT;
    tap_int(parse_str(text, 0, &e, &r), 0, "rcpt-error before its recipient parses");
    tap_ok(e.nrcpts == 2 && e.rcpts[0].error == NULL, "shorter address gets no error");
    tap_str(e.nrcpts == 2 ? e.rcpts[1].error : NULL, "451 later", "longest address gets it");
    char *out = queue_entry_format(&e);
    tap_int(parse_str(out, 0, &e2, &r), 0, "formatted entry parses");
    tap_ok(e2.nrcpts == 2 && e2.rcpts[0].error == NULL && e2.rcpts[1].error
               && strcmp(e2.rcpts[1].error, "451 later") == 0,
           "same errors after the round trip");
    free(out);
    queue_entry_free(&e);
    queue_entry_free(&e2);

    /* An empty error next to an address with a trailing space: written
     * back as "ADDR " it would move to the other recipient. */
    text = "smtpfwd-queue: 1\nid: Z9\naccount: a\ncreated: 0\nsender: \n"
           "rcpt: pending x\nrcpt: pending x \nrcpt-error: x\nattempts: 0\n"
           "next-attempt: 0\nbody-8bit: no\nsize: 0\nbounce: none\n\n";
    tap_int(parse_str(text, 0, &e, &r), 0, "empty rcpt-error parses");
    tap_ok(e.nrcpts == 2 && e.rcpts[0].error && !*e.rcpts[0].error && !e.rcpts[1].error,
           "the empty error belongs to x");
    out = queue_entry_format(&e);
    tap_int(parse_str(out, 0, &e2, &r), 0, "formatted entry parses");
    tap_ok(e2.nrcpts == 2 && e2.rcpts[0].error && !*e2.rcpts[0].error && !e2.rcpts[1].error,
           "the empty error still belongs to x after the round trip");
    free(out);
    queue_entry_free(&e);
    queue_entry_free(&e2);
    result_clear(&r);
}

static void test_unknown_keys(void)
{
    struct buf b = BUF_INIT;
    const char *cut = strstr(good_env, "attempts:");
    buf_append(&b, good_env, (size_t)(cut - good_env));
    buf_puts(&b, "x-future-key: whatever: it says\npriority: 9\n");
    buf_puts(&b, cut);
    struct queue_entry e;
    struct result r = RESULT_INIT;
    tap_int(parse_str(b.data, 44, &e, &r), 0, "unknown keys are ignored");
    tap_int(e.attempts, 3, "known keys after unknown ones still read");
    queue_entry_free(&e);
    buf_free(&b);
}

/* good_env with the line starting with `key` replaced by `line` (NULL:
 * removed). */
static char *edit(const char *key, const char *line)
{
    struct buf b = BUF_INIT;
    const char *p = good_env;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (strncmp(p, key, strlen(key)) == 0 && p[strlen(key)] == ':') {
            if (line)
                buf_printf(&b, "%s\n", line);
        } else {
            buf_append(&b, p, n);
        }
        p += n;
    }
    return buf_steal(&b);
}

static const struct {
    const char *key, *line, *what;
} corrupt_cases[] = {
    { "smtpfwd-queue", NULL, "missing version" },
    { "smtpfwd-queue", "smtpfwd-queue: 2", "unknown version" },
    { "id", NULL, "missing id" },
    { "id", "id: ../../etc", "id with a path" },
    { "id", "id: ", "empty id" },
    { "account", NULL, "missing account" },
    { "created", NULL, "missing created" },
    { "created", "created: 12a", "bad number" },
    { "created", "created: -5", "negative number" },
    { "created", "created: 99999999999999999999", "overflowing number" },
    { "sender", NULL, "missing sender" },
    { "attempts", NULL, "missing attempts" },
    { "attempts", "attempts: 1 2", "number with a space" },
    { "next-attempt", NULL, "missing next-attempt" },
    { "body-8bit", "body-8bit: maybe", "bad body-8bit" },
    { "body-8bit", NULL, "missing body-8bit" },
    { "size", NULL, "missing size" },
    { "size", "size: 45", "size larger than the message (truncated)" },
    { "size", "size: 43", "size smaller than the message" },
    { "bounce", "bounce: later", "bad bounce state" },
    { "bounce", NULL, "missing bounce" },
    { "rcpt", NULL, "no recipients" },
    { "rcpt-error", "rcpt-error: nobody@example.org 550 x", "error for an unknown recipient" },
    { "attempts", "attempts: 3\nattempts: 4", "duplicate key" },
    { "attempts", "attempts: 3\nrcpt: lost z@example.org", "bad recipient state" },
    { "attempts", "attempts: 3\nrcpt: pending", "rcpt without address" },
    { "attempts", "attempts: 3\nno colon here", "line without a key" },
    { "attempts", "attempts: 3\nx: a\rb", "control character" },
    { "last-error", "last-error: 451\r", "CR at the end of a line" },
    { "attempts", "attempts: 3\nrcpt: pending b@example.org", "a recipient listed twice" },
    { "attempts", "attempts: 3\nrcpt: failed c@example.org", "a recipient listed twice, other state" },
    { "body-8bit", "body-8bit: yes\nbody-7bit: maybe", "bad body-7bit" },
    { "body-8bit", "body-8bit: yes\nbody-7bit: yes\nbody-7bit: yes", "body-7bit twice" },
    { "body-8bit", "body-8bit: yes\nlongest-line: ", "empty longest-line" },
    { "body-8bit", "body-8bit: yes\nlongest-line: -1", "negative longest-line" },
    { "body-8bit", "body-8bit: yes\nlongest-line: 1k", "longest-line not a number" },
    { "body-8bit", "body-8bit: yes\nlongest-line: 99999999999999999999", "overflowing longest-line" },
    { "body-8bit", "body-8bit: yes\nlongest-line: 5\nlongest-line: 6", "longest-line twice" },
};

/* The keys of message conversion: "body-7bit: yes" only when -B 7BIT
 * forced it, "longest-line: N" whenever it is known; an entry without
 * them (an older version's) reads as not forced and unknown. */
static void test_conversion_keys(void)
{
    struct queue_entry e, e2;
    struct result r = RESULT_INIT;
    tap_int(parse_str(good_env, 44, &e, &r), 0, "entry without the conversion keys parses");
    tap_ok(!e.body_7bit, "no body-7bit: not forced");
    tap_ok(e.longest_line == SIZE_MAX, "no longest-line: unknown");
    char *text = queue_entry_format(&e);
    tap_ok(strstr(text, "body-7bit") == NULL, "not forced: no body-7bit written");
    tap_ok(strstr(text, "longest-line") == NULL, "unknown: no longest-line written");
    free(text);

    e.body_7bit = true;
    e.longest_line = 1200;
    text = queue_entry_format(&e);
    tap_ok(strstr(text, "\nbody-8bit: yes\nbody-7bit: yes\nlongest-line: 1200\nsize: 44\n")
               != NULL, "both keys written after body-8bit");
    tap_int(parse_str(text, 44, &e2, &r), 0, "the entry with both keys parses");
    tap_ok(e2.body_7bit, "body-7bit: yes read back");
    tap_int((long long)e2.longest_line, 1200, "longest-line read back");
    char *text2 = queue_entry_format(&e2);
    tap_str(text2, text, "round trip with both keys is stable");
    free(text2);
    free(text);
    queue_entry_free(&e2);

    e.body_7bit = false;
    e.longest_line = 0;
    text = queue_entry_format(&e);
    tap_ok(strstr(text, "\nlongest-line: 0\n") != NULL, "a longest line of 0 is written");
    tap_int(parse_str(text, 44, &e2, &r), 0, "and parses");
    tap_int((long long)e2.longest_line, 0, "as 0, not unknown");
    free(text);
    queue_entry_free(&e2);
    queue_entry_free(&e);

    char *no7 = edit("body-8bit", "body-8bit: no\nbody-7bit: no\nlongest-line: 998");
    tap_int(parse_str(no7, 44, &e, &r), 0, "body-7bit: no parses");
    tap_ok(!e.body_7bit && !e.body_8bit, "body-7bit: no is not forced");
    tap_int((long long)e.longest_line, 998, "longest-line: 998");
    text = queue_entry_format(&e);
    tap_ok(strstr(text, "body-7bit") == NULL, "body-7bit: no is written as nothing");
    free(text);
    free(no7);
    queue_entry_free(&e);
    result_clear(&r);
}

static void test_corrupt_parse(void)
{
    struct queue_entry e;
    struct result r = RESULT_INIT;
    for (size_t i = 0; i < sizeof corrupt_cases / sizeof corrupt_cases[0]; i++) {
        char *text = edit(corrupt_cases[i].key, corrupt_cases[i].line);
        int rc = parse_str(text, 44, &e, &r);
        char *what = xasprintf("rejected: %s", corrupt_cases[i].what);
        tap_ok(rc == -1 && r.cls == RC_DATAERR && r.msg
                   && strstr(r.msg, "corrupt spool entry") != NULL,
               what);
        free(what);
        result_clear(&r);
        free(text);
    }
    tap_int(queue_entry_parse("", 0, 0, &e, &r), -1, "empty text rejected");
    result_clear(&r);
    const char *garbage = "\x7f" "ELF\x01\x02\x03\n\n\x00\x00";
    tap_int(queue_entry_parse(garbage, 10, 10, &e, &r), -1, "garbage rejected");
    result_clear(&r);
    char *cut = xstrndup(good_env, strlen(good_env) - 30);
    tap_int(parse_str(cut, 0, &e, &r), -1, "envelope cut before the empty line rejected");
    result_clear(&r);
    free(cut);
    char *withnul = xstrdup(good_env);
    withnul[5] = '\0';
    tap_int(queue_entry_parse(withnul, strlen(good_env), (long long)strlen(good_env) + 44, &e, &r),
            -1, "NUL byte rejected");
    result_clear(&r);
    free(withnul);
    tap_int(parse_str("sender: x\n" "smtpfwd-queue: 1\n\n", 0, &e, &r), -1,
            "version not first rejected");
    result_clear(&r);
}

static struct config *make_config(const char *spool)
{
    struct config *cfg = config_new();
    struct result r = RESULT_INIT;
    char *text = xasprintf("account work\nhost mail.example.org\nqueue_dir %s\n"
                           "queue_max_backoff 30\n",
                           spool);
    if (config_parse_string(cfg, text, "t.rc", &r) != 0)
        printf("# config: %s\n", r.msg);
    result_clear(&r);
    free(text);
    return cfg;
}

static void make_message(struct message *m, const char *text)
{
    memset(m, 0, sizeof *m);
    char *path = xasprintf("%s/msg-XXXXXX", tmpdir);
    m->fd = mkstemp(path);
    unlink(path);
    free(path);
    if (write_all(m->fd, text, strlen(text)) != 0)
        printf("# cannot write the message\n");
    m->size = (long long)strlen(text);
}

static char *rcpt_a = "b@example.org", *rcpt_b = "c@example.org", *rcpt_c = "d@example.org";

static void make_env(struct envelope *env, const char *sender)
{
    static char *rcpts[3];
    rcpts[0] = rcpt_a;
    rcpts[1] = rcpt_b;
    rcpts[2] = rcpt_c;
    memset(env, 0, sizeof *env);
    env->sender = (char *)sender;
    env->rcpts = rcpts;
    env->nrcpts = 3;
    env->dsn_notify = (char *)"FAILURE";
}

/* Open entry id of the spool sp with its lock (queue_entry_find). */
static int open_id(struct queue_spool *sp, const char *id, struct queue_entry_handle **h,
                   struct queue_entry *e, struct result *r)
{
    return queue_entry_find(&sp, 1, id ? id : "x", QUEUE_OPEN_LOCK, h, e, r);
}

/* Put a corrupt entry text at SPOOL/new/ID and check that opening it
 * moves it aside and never returns it. */
static void check_open_corrupt(struct queue_spool *sp, const char *spool, const char *id,
                               const char *text, const char *tail, const char *what)
{
    char *path = xasprintf("%s/new/%s", spool, id);
    char *aside = xasprintf("%s/failed/%s.corrupt", spool, id);
    write_file(path, text, tail);
    struct queue_entry e;
    struct result r = RESULT_INIT;
    struct queue_entry_handle *h = (struct queue_entry_handle *)&e;
    int rc = open_id(sp, id, &h, &e, &r);
    char *w = xasprintf("open refuses %s", what);
    tap_ok(rc == -1 && h == NULL && r.cls == RC_DATAERR, w);
    free(w);
    w = xasprintf("%s moved to failed/ID.corrupt", what);
    tap_ok(access(path, F_OK) != 0 && access(aside, F_OK) == 0, w);
    free(w);
    result_clear(&r);
    unlink(aside);
    free(path);
    free(aside);
}

static void test_spool(void)
{
    char *spool = xasprintf("%s/spool", tmpdir);
    struct config *cfg = make_config(spool);
    const struct account *a = config_find(cfg, "work");
    struct result r = RESULT_INIT;
    if (!a) {
        tap_ok(0, "test account");
        return;
    }

    struct queue_spool *sp = queue_spool_of(a, true, &r);
    tap_str(sp ? queue_spool_name(sp) : NULL, spool, "queue_dir follows the account's queue_dir");
    if (!sp) {
        config_free(cfg);
        return;
    }
    struct stat st;
    char *newdir = xasprintf("%s/new", spool);
    tap_ok(stat(newdir, &st) == 0 && (st.st_mode & 0777) == 0700, "new/ created with mode 0700");
    free(newdir);

    /* Corrupt entries through the locked open. */
    check_open_corrupt(sp, spool, "ABC123", good_env, "short", "a truncated message");
    check_open_corrupt(sp, spool, "ABC123", "", NULL, "an empty file");
    check_open_corrupt(sp, spool, "ABC123", "\x01\x02garbage\n\nmore", NULL, "garbage");
    check_open_corrupt(sp, spool, "OTHER1", good_env, "From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n",
                       "an id that does not match the file name");
    char *bad = edit("attempts", "attempts: x");
    check_open_corrupt(sp, spool, "ABC123", bad, "From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n",
                       "a bad number");
    free(bad);

    /* Enqueue, with c@ already delivered. */
    struct message m;
    struct envelope env;
    make_message(&m, body);
    m.has_8bit = true;
    m.force_7bit = true;
    m.longest_line = 19;
    make_env(&env, "a@example.org");
    bool done[3] = { false, true, false };
    char *id = NULL;
    tap_int(queue_enqueue(a, &env, &m, done, &id, &r), 0, "enqueue succeeds");
    tap_ok(id != NULL && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789") == strlen(id) && strlen(id) >= 16,
           "id is long and alphanumeric");
    tap_int(count_dir(spool, "new"), 1, "one entry in new/");
    tap_int(count_dir(spool, "tmp"), 0, "nothing left in tmp/");
    char *path = xasprintf("%s/new/%s", spool, id ? id : "x");
    tap_ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "entry has mode 0600");

    char *second = NULL;
    tap_int(queue_enqueue(a, &env, &m, NULL, &second, &r), 0, "second enqueue succeeds");
    tap_ok(second && id && strcmp(second, id) != 0, "ids are unique");
    tap_int(count_dir(spool, "new"), 2, "two entries in new/");

    struct queue_entry e;
    struct queue_entry_handle *h = NULL;
    tap_int(open_id(sp, id, &h, &e, &r), 0, "open the entry");
    tap_str(e.id, id, "id in the file is the file name");
    tap_str(e.account, "work", "account recorded");
    tap_int((long long)e.nrcpts, 2, "delivered recipient left out");
    tap_str(e.nrcpts == 2 ? e.rcpts[1].addr : NULL, "d@example.org", "pending recipients kept");
    tap_int(e.size, (long long)strlen(body), "size recorded");
    tap_ok(e.body_8bit, "8-bit flag recorded");
    tap_ok(e.body_7bit, "-B 7BIT recorded");
    tap_int((long long)e.longest_line, 19, "longest line recorded");
    tap_str(e.dsn_notify, "FAILURE", "DSN recorded");
    tap_int(e.attempts, 0, "no attempt yet");
    tap_ok(e.next_attempt <= time(NULL), "due at once");
    char *all = read_file(path);
    tap_str(all + e.body_offset, body, "message stored after the envelope");
    free(all);

    /* A second open while locked: "someone else has it". */
    struct queue_entry e2;
    struct queue_entry_handle *h2 = NULL;
    tap_int(open_id(sp, id, &h2, &e2, &r), 1, "second open of a locked entry returns 1");
    tap_ok(h2 == NULL, "no descriptor kept for a locked entry");

    /* Update: the lock moves to the new file. */
    e.attempts = 2;
    e.next_attempt = 1234567;
    e.rcpts[0].state = QRCPT_DELIVERED;
    e.rcpts[1].error = xstrdup("451 4.2.0 mailbox busy");
    free(e.last_error);
    e.last_error = xstrdup("451 4.2.0 mailbox busy");
    struct message hm;
    memset(&hm, 0, sizeof hm);
    queue_handle_message(h, &e, &hm);
    int oldfd = hm.fd;
    tap_ok(hm.has_8bit && hm.force_7bit, "the message of the entry: 8-bit, -B 7BIT");
    tap_int((long long)hm.longest_line, 19, "the message of the entry: its longest line");
    tap_int(queue_handle_update(h, &e, &r), 0, "update succeeds");
    queue_handle_message(h, &e, &hm);
    tap_ok(hm.fd != oldfd || hm.fd >= 0, "descriptor replaced");
    tap_int(count_dir(spool, "tmp"), 0, "update leaves nothing in tmp/");
    tap_int(open_id(sp, id, &h2, &e2, &r), 1, "updated entry is still locked by us");
    queue_handle_close(h);
    h = NULL;
    tap_int(open_id(sp, id, &h2, &e2, &r), 0, "after close it can be opened");
    tap_int(e2.attempts, 2, "attempts updated");
    tap_int(e2.next_attempt, 1234567, "next attempt updated");
    tap_int(e2.rcpts[0].state, QRCPT_DELIVERED, "recipient state updated");
    tap_str(e2.rcpts[1].error, "451 4.2.0 mailbox busy", "recipient error stored");
    all = read_file(path);
    tap_str(all + e2.body_offset, body, "message intact after the update");
    free(all);
    queue_entry_free(&e);

    /* Remove. */
    tap_int(queue_handle_remove(h2, false, &r), 0, "remove succeeds");
    tap_ok(access(path, F_OK) != 0, "entry gone");
    queue_handle_close(h2);
    queue_entry_free(&e2);

    /* Move the second one to failed/. */
    char *path2 = xasprintf("%s/new/%s", spool, second ? second : "x");
    tap_int(open_id(sp, second, &h, &e, &r), 0, "open the second entry");
    tap_int((long long)e.nrcpts, 3, "without done[], every recipient is pending");
    tap_int(queue_handle_move_failed(h, &r), 0, "move to failed/ succeeds");
    tap_int(count_dir(spool, "failed"), 1, "one entry in failed/");
    tap_int(count_dir(spool, "new"), 0, "none in new/");
    tap_int(queue_handle_area(h), QUEUE_FAILED, "the handle knows it is in failed/");
    queue_handle_close(h);
    queue_entry_free(&e);
    free(path2);

    /* After an attempt: failed recipients and a bounce. */
    enum queue_rcpt_state states[3] = { QRCPT_DELIVERED, QRCPT_FAILED, QRCPT_PENDING };
    const char *errors[3] = { NULL, "550 5.1.1 unknown", "451 later" };
    struct queue_initial init = { states, errors, "451 later", 1, 30 };
    char *third = NULL;
    tap_int(queue_enqueue_after(a, &env, &m, &init, &third, &r), 0, "enqueue after an attempt");
    path2 = xasprintf("%s/new/%s", spool, third ? third : "x");
    tap_int(open_id(sp, third, &h, &e, &r), 0, "open it");
    tap_int((long long)e.nrcpts, 2, "delivered recipient left out");
    tap_int(e.rcpts[0].state, QRCPT_FAILED, "refused recipient kept as failed");
    tap_str(e.rcpts[0].error, "550 5.1.1 unknown", "with the server's words");
    tap_int(e.bounce, QBOUNCE_PENDING, "bounce pending");
    tap_int(e.attempts, 1, "one attempt recorded");
    tap_ok(e.next_attempt > time(NULL) && e.next_attempt <= time(NULL) + 30,
           "next attempt retry_after seconds ahead");
    tap_str(e.last_error, "451 later", "last error recorded");
    queue_handle_close(h);
    queue_entry_free(&e);

    /* Listing (text and JSON). */
    setenv("XDG_STATE_HOME", tmpdir, 1);
    char *lpath = xasprintf("%s/list.txt", tmpdir);
    FILE *out = fopen(lpath, "w+");
    tap_int(queue_list(cfg, out, false, &r), 0, "list succeeds");
    fclose(out);
    char *listing = read_file(lpath);
    tap_ok(third && strstr(listing, third) != NULL, "listing names the queued id");
    tap_ok(strstr(listing, "    failed <c@example.org>  550 5.1.1 unknown\n") != NULL,
           "listing shows recipient state and error");
    tap_ok(strstr(listing, "    attempts 1, next attempt ") != NULL
               && strstr(listing, ", last error: 451 later\n") != NULL,
           "listing shows attempts, next attempt and last error");
    tap_ok(strstr(listing, "  (failed)\n") != NULL, "failed entry marked");
    tap_ok(strstr(listing, "\n2 messages queued\n") != NULL, "total line");
    free(listing);

    /* JSON escaping: a hostile error text. */
    tap_int(open_id(sp, third, &h, &e, &r), 0, "reopen for a hostile error");
    free(e.rcpts[1].error);
    e.rcpts[1].error = xstrdup("451 \"quoted\" back\\slash \xff\xfe tab\there \xc3\xa9");
    tap_int(queue_handle_update(h, &e, &r), 0, "store it");
    queue_handle_close(h);
    queue_entry_free(&e);
    out = fopen(lpath, "w+");
    tap_int(queue_list(cfg, out, true, &r), 0, "JSON list succeeds");
    fclose(out);
    listing = read_file(lpath);
    tap_ok(listing[0] == '[' && strstr(listing, "\n]\n") != NULL, "JSON array");
    tap_ok(strstr(listing, "\"error\": \"451 \\\"quoted\\\" back\\\\slash \\ufffd\\ufffd "
                           "tab\\u0009here \xc3\xa9\"") != NULL,
           "JSON string escaping (quotes, backslash, invalid UTF-8, control, valid UTF-8)");
    tap_ok(strstr(listing, "\"failed\": true") != NULL && strstr(listing, "\"failed\": false"),
           "failed flag");
    tap_ok(strstr(listing, "\"account\": \"work\"") != NULL, "account field");
    free(listing);

    /* Retry and remove by id. */
    char *ids[2] = { third, (char *)"NOSUCHID" };
    tap_int(queue_retry(cfg, ids, 2, &r), -1, "retry with an unknown id fails");
    tap_int(r.cls, RC_USAGE, "unknown id is a usage error");
    tap_str(r.msg, "no queued message with id NOSUCHID", "message names the id");
    result_clear(&r);
    tap_int(open_id(sp, third, &h, &e, &r), 0, "entry still there after retry");
    tap_int(e.attempts, 0, "retry cleared the backoff");
    tap_ok(e.next_attempt <= time(NULL), "retry made it due");
    /* While it is locked, remove refuses. */
    tap_int(queue_remove(cfg, ids, 1, &r), -1, "remove of a locked entry fails");
    tap_int(r.cls, RC_TEMPFAIL, "as a temporary failure");
    result_clear(&r);
    queue_handle_close(h);
    queue_entry_free(&e);
    char *evil[1] = { (char *)"../new" };
    tap_int(queue_remove(cfg, evil, 1, &r), -1, "a path is not an id");
    result_clear(&r);
    tap_int(queue_remove(cfg, ids, 1, &r), 0, "remove succeeds");
    tap_ok(access(path2, F_OK) != 0, "removed");

    /* Retry of a failed entry puts it back. */
    char *fname = only_name(spool, "failed");
    char *fids[1] = { fname };
    tap_int(queue_retry(cfg, fids, 1, &r), 0, "retry of a failed entry");
    tap_int(count_dir(spool, "failed"), 0, "it left failed/");
    tap_int(count_dir(spool, "new"), 1, "it is back in new/");
    fids[0] = fname;
    tap_int(queue_remove(cfg, fids, 1, &r), 0, "remove it");
    free(fname);

    out = fopen(lpath, "w+");
    tap_int(queue_list(cfg, out, false, &r), 0, "list of an empty queue");
    fclose(out);
    listing = read_file(lpath);
    tap_str(listing, "Mail queue is empty\n", "empty queue message");
    free(listing);
    out = fopen(lpath, "w+");
    tap_int(queue_list(cfg, out, true, &r), 0, "JSON list of an empty queue");
    fclose(out);
    listing = read_file(lpath);
    tap_str(listing, "[]\n", "empty JSON array");
    free(listing);
    free(lpath);

    /* Nothing left to do: refused. */
    enum queue_rcpt_state none[3] = { QRCPT_DELIVERED, QRCPT_FAILED, QRCPT_FAILED };
    struct queue_initial init2 = { none, NULL, NULL, 1, 0 };
    struct envelope env0;
    make_env(&env0, "");
    char *nid = NULL;
    tap_int(queue_enqueue_after(a, &env0, &m, &init2, &nid, &r), -1,
            "no pending recipient and no bounce possible: refused");
    tap_int(count_dir(spool, "new"), 0, "nothing queued");
    result_clear(&r);

    /* A message file shorter than it claims: nothing queued. */
    m.size += 100;
    tap_int(queue_enqueue(a, &env, &m, NULL, &nid, &r), -1, "short message file: failure");
    tap_int(r.cls, RC_IOERR, "as an I/O error");
    tap_int(count_dir(spool, "new"), 0, "nothing in new/");
    tap_int(count_dir(spool, "tmp"), 0, "nothing in tmp/");
    result_clear(&r);
    m.size -= 100;

    free(path2);
    free(third);
    free(path);
    free(second);
    free(id);
    queue_spool_free(sp);
    close(m.fd);
    config_free(cfg);
    free(spool);
}

static void test_enqueue_failure(void)
{
    /* A spool under a regular file: ENOTDIR even for root. */
    char *file = xasprintf("%s/plain", tmpdir);
    write_file(file, "x", NULL);
    char *spool = xasprintf("%s/spool", file);
    struct config *cfg = make_config(spool);
    const struct account *a = config_find(cfg, "work");
    struct message m;
    struct envelope env;
    make_message(&m, body);
    make_env(&env, "a@example.org");
    struct result r = RESULT_INIT;
    char *id = NULL;
    tap_int(queue_enqueue(a, &env, &m, NULL, &id, &r), -1, "enqueue into an impossible spool fails");
    tap_int(r.cls, RC_CANTCREAT, "as RC_CANTCREAT");
    tap_ok(r.msg && strstr(r.msg, spool) != NULL && strstr(r.msg, strerror(ENOTDIR)) != NULL,
           "message names the directory and the reason");
    tap_ok(id == NULL, "no id");
    result_clear(&r);

    /* tmp/ exists but cannot be written into: make tmp a file. */
    char *spool2 = xasprintf("%s/spool2", tmpdir);
    char *tmpd = xasprintf("%s/tmp", spool2);
    mkdir(spool2, 0700);
    write_file(tmpd, "not a directory", NULL);
    config_free(cfg);
    cfg = make_config(spool2);
    a = config_find(cfg, "work");
    tap_int(queue_enqueue(a, &env, &m, NULL, &id, &r), -1, "enqueue with a broken tmp/ fails");
    tap_ok(r.cls == RC_CANTCREAT, "as RC_CANTCREAT");
    tap_ok(count_dir(spool2, "new") <= 0, "nothing in new/");
    result_clear(&r);
    close(m.fd);
    config_free(cfg);
    free(tmpd);
    free(spool2);
    free(spool);
    free(file);
}

static void test_cli(void)
{
    struct options o;
    struct result r = RESULT_INIT;
    char *a1[] = { "sendmail", "--queue-json", NULL };
    tap_ok(cli_parse(2, a1, &o, &r) == 0 && o.mode == MODE_LIST_QUEUE && o.queue_json,
           "--queue-json lists as JSON");
    char *a2[] = { "mailq", "--queue-json", NULL };
    tap_ok(cli_parse(2, a2, &o, &r) == 0 && o.mode == MODE_LIST_QUEUE && o.queue_json,
           "mailq --queue-json");
    char *a3[] = { "sendmail", "--queue-remove", "AB12", "CD34", NULL };
    tap_ok(cli_parse(4, a3, &o, &r) == 0 && o.mode == MODE_QUEUE_REMOVE && o.nrecipients == 2
               && strcmp(o.recipients[1], "CD34") == 0,
           "--queue-remove takes the ids");
    char *a4[] = { "sendmail", "--queue-retry", NULL };
    tap_ok(cli_parse(2, a4, &o, &r) == -1 && r.cls == RC_USAGE && strstr(r.msg, "--queue-retry"),
           "--queue-retry without ids is a usage error");
    result_clear(&r);
    char *a5[] = { "sendmail", "-bp", "--queue-remove", "AB12", NULL };
    tap_ok(cli_parse(4, a5, &o, &r) == -1 && r.cls == RC_USAGE, "-bp and --queue-remove conflict");
    result_clear(&r);
    char *a6[] = { "sendmail", "--queue-json", "x@y", NULL };
    tap_ok(cli_parse(3, a6, &o, &r) == -1 && r.cls == RC_USAGE, "--queue-json takes no recipients");
    result_clear(&r);
    char *a7[] = { "sendmail", "--queue-json=1", NULL };
    tap_ok(cli_parse(2, a7, &o, &r) == -1 && r.cls == RC_USAGE, "--queue-json takes no argument");
    result_clear(&r);
}

int main(void)
{
    tmpdir = tu_tmpdir("queue");
    setenv("XDG_STATE_HOME", tmpdir, 1);
    test_cli();
    test_round_trip();
    test_unknown_keys();
    test_rcpt_error_order();
    test_conversion_keys();
    test_corrupt_parse();
    test_spool();
    test_enqueue_failure();
    tu_rmtree(tmpdir);
    return tap_done();
}
