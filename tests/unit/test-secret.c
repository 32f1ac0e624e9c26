/*
 * test-secret.c - unit tests for secret.c: passwordeval (success, exit
 * status, signal, empty output, one trailing newline removed, output cap,
 * no stdin), the netrc parser (machine, default, login matching, quoted
 * tokens, macdef bodies, comments, hostile input), the netrc file
 * (permission warning), the order of the sources, the terminal prompt on
 * a pseudo-terminal (no echo, terminal restored after SIGINT), the
 * no-terminal error, and --store-password's checks that need no keyring.
 *
 * The keyring itself is tested by tests/keyring.sh. Here the keyring
 * source is left out of every lookup, and the tests that run
 * secret_store_password do so in a child without a D-Bus session.
 */
#define _GNU_SOURCE 1
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "smtprc.h"
#include "secret.h"
#include "tap.h"
#include "testutil.h"

#define NO_KEYRING (SECRET_SRC_ALL & ~(unsigned)SECRET_SRC_KEYRING)

static const char *tmpdir;

static char *write_file(const char *name, const char *text, mode_t mode)
{
    return tu_write_file(tmpdir, name, text, mode);
}

/* ---- passwordeval ---- */

static void eval_ok(const char *cmd, const char *want, const char *what)
{
    struct result r = RESULT_INIT;
    char *pw = secret_passwordeval(cmd, &r);
    tap_str(pw, want, what);
    if (r.cls != RC_OK)
        printf("#   unexpected error: %s\n", r.msg);
    secret_free(pw);
    result_clear(&r);
}

static void eval_fails(const char *cmd, const char *want_msg, const char *what)
{
    struct result r = RESULT_INIT;
    char *pw = secret_passwordeval(cmd, &r);
    tap_ok(pw == NULL && r.cls == RC_CONFIG, what);
    tap_str(r.msg, want_msg, what);
    secret_free(pw);
    result_clear(&r);
}

static void test_passwordeval(void)
{
    eval_ok("printf 'pw\\n'", "pw", "eval: one trailing newline removed");
    eval_ok("printf 'pw\\r\\n'", "pw", "eval: a trailing CRLF removed");
    eval_ok("printf 'pw\\n\\n'", "pw\n", "eval: only ONE newline removed");
    eval_ok("printf pw", "pw", "eval: no newline");
    eval_ok("printf ' a b '", " a b ", "eval: spaces kept");
    eval_ok("echo oops >&2; echo token", "token", "eval: stderr is not captured");
    eval_ok("cat; echo after-cat", "after-cat", "eval: stdin is /dev/null (cat sees EOF)");
    eval_fails("exit 3", "passwordeval command \"exit 3\" failed (exit status 3)",
               "eval: non-zero exit status");
    eval_fails("echo pw; exit 1", "passwordeval command \"echo pw; exit 1\" failed (exit status 1)",
               "eval: output ignored when the exit status is non-zero");
    eval_fails("true", "passwordeval command \"true\" printed nothing", "eval: empty output");
    eval_fails("echo", "passwordeval command \"echo\" printed an empty line",
               "eval: only a newline");
    eval_fails("kill -9 $$", "passwordeval command \"kill -9 $$\" failed (killed by signal 9)",
               "eval: killed by a signal");
    eval_fails("/nonexistent/command", "passwordeval command \"/nonexistent/command\" failed "
               "(exit status 127)", "eval: command not found");
    eval_fails("printf 'a\\0b'", "passwordeval command \"printf 'a\\0b'\" printed a NUL byte",
               "eval: NUL byte refused");
    eval_fails("yes", "passwordeval command \"yes\" printed more than 64 KiB",
               "eval: endless output is capped and stopped");
}

/* The cap: 65535 bytes plus a newline fit in 64 KiB; one byte more does not. */
static void test_passwordeval_cap(void)
{
    struct result r = RESULT_INIT;
    char *pw = secret_passwordeval("head -c 65535 /dev/zero | tr '\\0' x; echo", &r);
    tap_ok(pw && strlen(pw) == 65535 && pw[0] == 'x' && pw[65534] == 'x',
           "eval: 64 KiB of output including the newline is accepted");
    secret_free(pw);
    result_clear(&r);
    pw = secret_passwordeval("head -c 65537 /dev/zero | tr '\\0' x", &r);
    tap_ok(pw == NULL && r.cls == RC_CONFIG, "eval: one byte more than 64 KiB is refused");
    secret_free(pw);
    result_clear(&r);
}

/* ---- netrc ---- */

static void netrc_is(const char *text, const char *host, const char *user, const char *want,
                     const char *what)
{
    char *pw = secret_netrc_find(text, host, user);
    tap_str(pw, want, what);
    secret_free(pw);
}

static void test_netrc(void)
{
    const char *basic =
        "machine other.test login alice password wrong1\n"
        "machine mx.test login bob password wrong2\n"
        "machine mx.test login alice password right\n";
    netrc_is(basic, "mx.test", "alice", "right", "netrc: machine and login must both match");
    netrc_is(basic, "MX.Test", "alice", "right", "netrc: host is case-insensitive");
    netrc_is(basic, "mx.test", "Alice", NULL, "netrc: login is case-sensitive");
    netrc_is(basic, "mx.test", "carol", NULL, "netrc: no entry for another login");
    netrc_is(basic, "mx.test", NULL, "wrong2", "netrc: no user: first entry for the host");
    netrc_is(basic, "nowhere.test", "alice", NULL, "netrc: unknown host");
    netrc_is("machine mx.test password nologin\n", "mx.test", "alice", "nologin",
             "netrc: an entry without login matches any user");
    netrc_is("machine mx.test login alice password a machine mx2.test password b",
             "mx2.test", "alice", "b", "netrc: entries on one line");
    netrc_is("machine mx.test login alice\n", "mx.test", "alice", NULL,
             "netrc: an entry without password gives nothing");

    const char *with_default =
        "default login alice password fromdefault\n"
        "machine mx.test login alice password exact\n";
    netrc_is(with_default, "mx.test", "alice", "exact", "netrc: a machine entry beats default");
    netrc_is(with_default, "other.test", "alice", "fromdefault",
             "netrc: default applies to other hosts");
    netrc_is(with_default, "other.test", "bob", NULL, "netrc: default login must match too");

    netrc_is("machine \"mx.test\" login \"alice\" password \"two words \\\"q\\\" \\\\ end\"\n",
             "mx.test", "alice", "two words \"q\" \\ end", "netrc: quoted tokens with escapes");
    netrc_is("machine mx.test login alice password \"\"\n", "mx.test", "alice", "",
             "netrc: an empty quoted password");
    netrc_is("machine mx.test login alice account acct password p1\n", "mx.test", "alice", "p1",
             "netrc: account token skipped with its value");

    const char *macdef =
        "machine mx.test login alice password before\n"
        "macdef init\n"
        "machine evil.test login alice password evil\n"
        "cd /pub\n"
        "\n"
        "machine other.test login alice password after\n";
    netrc_is(macdef, "mx.test", "alice", "before", "netrc: entry before a macdef");
    netrc_is(macdef, "evil.test", "alice", NULL, "netrc: macdef body is not parsed");
    netrc_is(macdef, "other.test", "alice", "after", "netrc: parsing resumes after the body");
    netrc_is("machine mx.test login alice password p\nmacdef m\nmachine x password y",
             "x", NULL, NULL, "netrc: macdef body to the end of the file");
    netrc_is("macdef m\r\nmachine x password y\r\n\r\nmachine z password w\r\n", "z", NULL, "w",
             "netrc: macdef body ends at an empty CRLF line");

    netrc_is("# machine mx.test login alice password commented\n"
             "machine mx.test login alice password real # trailing comment password x\n",
             "mx.test", "alice", "real", "netrc: comments");
    netrc_is("machine mx.test login alice password #hash\n", "mx.test", "alice", "#hash",
             "netrc: '#' inside a password value is kept");

    /* Hostile or broken input: no crash, no match from garbage. */
    netrc_is("", "mx.test", "alice", NULL, "netrc: empty text");
    netrc_is("machine", "mx.test", "alice", NULL, "netrc: machine at the end");
    netrc_is("machine mx.test login alice password", "mx.test", "alice", NULL,
             "netrc: password at the end");
    netrc_is("machine mx.test login alice password \"unterminated", "mx.test", "alice",
             "unterminated", "netrc: unterminated quote ends at the end of the text");
    netrc_is("login alice password orphan\n", "mx.test", "alice", NULL,
             "netrc: tokens outside an entry are ignored");
    netrc_is("machine mx.test\tlogin\talice\fpassword\vtabs\n", "mx.test", "alice", "tabs",
             "netrc: any whitespace separates tokens");
    netrc_is("machine mx.test login alice password \"a\\", "mx.test", "alice", "a\\",
             "netrc: backslash at the very end");
    char *big = xmalloc(200001);
    memset(big, 'm', 200000);
    big[200000] = '\0';
    netrc_is(big, "mx.test", "alice", NULL, "netrc: one huge token");
    free(big);
    tap_ok(secret_netrc_find(NULL, "mx.test", "alice") == NULL, "netrc: NULL text");
}

/* Run fn with stderr redirected to a file; return what it wrote. */
static char *capture_stderr(char *(*fn)(void *), void *arg, char **value)
{
    char *path = xasprintf("%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    *value = fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct buf b = BUF_INIT;
    FILE *f = fopen(path, "r");
    char tmp[512];
    size_t n;
    while (f && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    if (f)
        fclose(f);
    free(path);
    return buf_steal(&b);
}

struct lookup_args {
    const struct account *a;
    unsigned sources;
    const char *netrc;
    struct result *r;
};

static char *do_lookup(void *p)
{
    struct lookup_args *l = p;
    return secret_lookup(l->a, l->sources, l->netrc, l->r);
}

static void test_netrc_file(void)
{
    struct account a = { .name = "acct", .host = "mx.test", .user = "alice" };
    char *path = write_file("netrc-private", "machine mx.test login alice password filepw\n",
                            0600);
    struct result r = RESULT_INIT;
    char *pw = NULL;
    struct lookup_args l = { &a, SECRET_SRC_NETRC, path, &r };
    char *err = capture_stderr(do_lookup, &l, &pw);
    tap_str(pw, "filepw", "netrc file: password found");
    tap_str(err, "", "netrc file: private file, no warning");
    secret_free(pw);
    free(err);
    free(path);

    path = write_file("netrc-open", "machine mx.test login alice password filepw\n", 0644);
    l.netrc = path;
    err = capture_stderr(do_lookup, &l, &pw);
    tap_str(pw, "filepw", "netrc file: readable by others still used");
    char *want = xasprintf("smtpfwd: warning: %s holds a password and others can read it; "
                           "make it private with: chmod 600 %s\n", path, path);
    tap_str(err, want, "netrc file: readable by others gives a warning");
    secret_free(pw);
    free(err);
    free(want);
    free(path);

    path = xasprintf("%s/no-such-netrc", tmpdir);
    l.netrc = path;
    l.sources = SECRET_SRC_NETRC;
    err = capture_stderr(do_lookup, &l, &pw);
    tap_ok(pw == NULL && r.cls == RC_CONFIG, "netrc file: missing file, no password");
    tap_str(err, "", "netrc file: missing file is silent");
    free(err);
    free(path);
    result_clear(&r);
}

/* ---- order of the sources ---- */

static void test_order(void)
{
    char *netrc = write_file("netrc-order", "machine mx.test login alice password netrcpw\n",
                             0600);
    struct result r = RESULT_INIT;
    struct account a = { .name = "acct", .host = "mx.test", .user = "alice",
                         .password = "configpw", .passwordeval = "echo evalpw" };
    char *pw = secret_lookup(&a, NO_KEYRING, netrc, &r);
    tap_str(pw, "configpw", "order: password beats passwordeval and netrc");
    secret_free(pw);

    a.password = NULL;
    pw = secret_lookup(&a, NO_KEYRING, netrc, &r);
    tap_str(pw, "evalpw", "order: passwordeval beats netrc");
    secret_free(pw);

    a.passwordeval = "exit 2";
    pw = secret_lookup(&a, NO_KEYRING, netrc, &r);
    tap_ok(pw == NULL && r.cls == RC_CONFIG, "order: a failing passwordeval is an error...");
    tap_str(r.msg, "passwordeval command \"exit 2\" failed (exit status 2)",
            "order: ...naming the command, no fallback to netrc");
    secret_free(pw);
    result_clear(&r);

    a.passwordeval = NULL;
    pw = secret_lookup(&a, NO_KEYRING, netrc, &r);
    tap_str(pw, "netrcpw", "order: netrc when neither password nor passwordeval");
    secret_free(pw);

    a.password = "";
    pw = secret_lookup(&a, NO_KEYRING, netrc, &r);
    tap_str(pw, "", "order: an explicitly empty password is used as given");
    secret_free(pw);
    tap_int(r.cls, RC_OK, "order: no error left behind");
    free(netrc);
}

/* ---- the terminal ---- */

/* Run secret_lookup (sources) in a child that is a session leader:
 * without a controlling terminal, or with the pty slave as its terminal
 * when slave_name is given. The child writes "CLASS|MESSAGE-OR-PASSWORD"
 * to a pipe; returns the pid, the read end in *rfd. */
static pid_t lookup_in_child(const struct account *a, unsigned sources, const char *netrc,
                             const char *slave_name, int master, int *rfd)
{
    int p[2];
    if (pipe(p) != 0)
        exit(99);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        exit(99);
    if (pid == 0) {
        close(p[0]);
        /* The child must not keep the master open: when the parent dies,
         * the terminal hangs up and the child's read ends. */
        if (master >= 0)
            close(master);
        alarm(60);
        setsid();
        /* A shell may start background jobs with SIGINT ignored. */
        signal(SIGINT, SIG_DFL);
        if (slave_name) {
            int s = open(slave_name, O_RDWR);   /* becomes the controlling terminal */
            if (s < 0)
                _exit(98);
        }
        struct result r = RESULT_INIT;
        char *pw = secret_lookup(a, sources, netrc, &r);
        char *out = xasprintf("%d|%s", (int)r.cls, pw ? pw : r.msg ? r.msg : "");
        (void)write_all(p[1], out, strlen(out));
        free(out);
        secret_free(pw);
        result_clear(&r);
        _exit(0);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

static char *read_all_fd(int fd)
{
    struct buf b = BUF_INIT;
    char tmp[512];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            buf_append(&b, tmp, (size_t)n);
    close(fd);
    return buf_steal(&b);
}

static void test_no_tty(void)
{
    struct account a = { .name = "work", .host = "mx.test", .user = "alice" };
    char *missing = xasprintf("%s/no-such-netrc", tmpdir);
    int rfd;
    pid_t pid = lookup_in_child(&a, NO_KEYRING, missing, NULL, -1, &rfd);
    char *got = read_all_fd(rfd);
    int st;
    waitpid(pid, &st, 0);
    char *want = xasprintf("%d|no password for account work (user alice at mx.test); set "
                           "\"password\" or \"passwordeval\", or store one with: smtpfwd "
                           "--store-password work", (int)RC_CONFIG);
    tap_str(got, want, "no tty: RC_CONFIG naming account, user, host and the fix");
    free(got);
    free(want);
    free(missing);
}

/* Read from the pty master until `want` has appeared or 30 s passed;
 * everything read is appended to seen. */
static bool master_wait_for(int master, struct buf *seen, const char *want)
{
    for (int i = 0; i < 300; i++) {
        if (seen->data && strstr(seen->data, want))
            return true;
        struct pollfd pfd = { master, POLLIN, 0 };
        if (poll(&pfd, 1, 100) > 0) {
            char tmp[256];
            ssize_t n = read(master, tmp, sizeof tmp);
            if (n > 0)
                buf_append(seen, tmp, (size_t)n);
        }
    }
    return seen->data && strstr(seen->data, want);
}

static int open_master(char **slave_name)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
        return -1;
    *slave_name = xstrdup(ptsname(m));
    return m;
}

static void test_tty_prompt(void)
{
    char *slave = NULL;
    int master = open_master(&slave);
    if (master < 0) {
        printf("# no pseudo-terminals: prompt tests skipped\n");
        tap_ok(1, "prompt: skipped (no pty)");
        return;
    }
    struct account a = { .name = "work", .host = "mx.test", .user = "alice" };
    char *missing = xasprintf("%s/no-such-netrc", tmpdir);
    int rfd;
    pid_t pid = lookup_in_child(&a, NO_KEYRING, missing, slave, master, &rfd);
    struct buf seen = BUF_INIT;
    tap_ok(master_wait_for(master, &seen, "Password for alice at mx.test: "),
           "prompt: shown on the terminal");
    /* Echo must be off now: check the slave's settings from outside. */
    int s = open(slave, O_RDWR | O_NOCTTY);
    struct termios t;
    tap_ok(s >= 0 && tcgetattr(s, &t) == 0 && !(t.c_lflag & ECHO), "prompt: echo is off");
    (void)write_all(master, "hunter2\n", 8);
    char *got = read_all_fd(rfd);
    int st;
    waitpid(pid, &st, 0);
    char *want = xasprintf("%d|hunter2", (int)RC_OK);
    tap_str(got, want, "prompt: the typed password is returned");
    master_wait_for(master, &seen, "\n");
    tap_ok(!strstr(seen.data, "hunter2"), "prompt: the password was not echoed");
    tap_ok(s >= 0 && tcgetattr(s, &t) == 0 && (t.c_lflag & ECHO), "prompt: echo restored");
    free(got);
    free(want);
    buf_free(&seen);
    if (s >= 0)
        close(s);
    close(master);
    free(slave);

    /* SIGINT (^C) during the prompt: terminal restored, then the signal
     * kills the process as it would have without the prompt. */
    master = open_master(&slave);
    pid = lookup_in_child(&a, NO_KEYRING, missing, slave, master, &rfd);
    tap_ok(master_wait_for(master, &seen, "Password for"), "prompt (^C): shown");
    s = open(slave, O_RDWR | O_NOCTTY);
    tap_ok(s >= 0 && tcgetattr(s, &t) == 0 && !(t.c_lflag & ECHO), "prompt (^C): echo off");
    /* The signal is sent directly rather than typed as ^C: whether the
     * line discipline turns ^C into SIGINT depends on how the test runner
     * set up sessions, which is not what this test is about. */
    (void)write_all(master, "partial", 7);
    kill(pid, SIGINT);
    got = read_all_fd(rfd);
    waitpid(pid, &st, 0);
    tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "prompt (^C): SIGINT raised again");
    tap_str(got, "", "prompt (^C): nothing returned");
    tap_ok(s >= 0 && tcgetattr(s, &t) == 0 && (t.c_lflag & ECHO),
           "prompt (^C): echo restored before dying");
    free(got);
    buf_free(&seen);
    if (s >= 0)
        close(s);
    close(master);
    free(slave);
    free(missing);
}

/* ---- --store-password / --forget-password checks without a keyring ---- */

/* Run store (or forget) in a child with stdin from text (a pipe), without
 * a terminal or a D-Bus session; returns "CLASS|MESSAGE". */
static char *store_in_child(const struct account *a, bool forget, const char *stdin_text)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        exit(99);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(out[0]);
        close(in[1]);
        dup2(in[0], 0);
        close(in[0]);
        setsid();
        char *rundir = xasprintf("%s/run", tmpdir);
        mkdir(rundir, 0700);
        setenv("XDG_RUNTIME_DIR", rundir, 1);
        unsetenv("DBUS_SESSION_BUS_ADDRESS");
        unsetenv("DISPLAY");
        unsetenv("WAYLAND_DISPLAY");
        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent", 1);
        struct result r = RESULT_INIT;
        int rc = forget ? secret_forget_password(a, &r) : secret_store_password(a, &r);
        char *msg = xasprintf("%d|%d|%s", rc, (int)r.cls, r.msg ? r.msg : "");
        (void)write_all(out[1], msg, strlen(msg));
        free(msg);
        free(rundir);
        result_clear(&r);
        _exit(0);
    }
    close(out[1]);
    close(in[0]);
    /* The child may be done before it reads anything (a check that fails
     * first): writing then must be EPIPE, not a SIGPIPE that ends the test. */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    (void)write_all(in[1], stdin_text, strlen(stdin_text));
    signal(SIGPIPE, old_pipe);
    close(in[1]);
    char *got = read_all_fd(out[0]);
    int st;
    waitpid(pid, &st, 0);
    return got;
}

static void test_store_checks(void)
{
    struct account a = { .name = "work", .host = "mx.test", .user = NULL };
    char *got = store_in_child(&a, false, "pw\n");
    char *want;
#if HAVE_LIBSECRET
    want = xasprintf("-1|%d|account work has no user: the keyring entry needs one",
                     (int)RC_CONFIG);
    tap_str(got, want, "store: an account without user is refused");
    free(got);
    free(want);

    a.user = "alice";
    got = store_in_child(&a, false, "");
    want = xasprintf("-1|%d|empty password on standard input; nothing stored", (int)RC_USAGE);
    tap_str(got, want, "store: empty standard input stores nothing");
    free(got);
    free(want);

    got = store_in_child(&a, false, "pw\n");
    want = xasprintf("-1|%d|cannot store the password in the keyring: ", (int)RC_UNAVAILABLE);
    tap_ok(strncmp(got, want, strlen(want)) == 0 && strlen(got) > strlen(want),
           "store: no keyring reachable is RC_UNAVAILABLE naming the cause");
    printf("# %s\n", got);
    free(got);
    free(want);

    got = store_in_child(&a, true, "");
    want = xasprintf("-1|%d|cannot remove the password from the keyring: ", (int)RC_UNAVAILABLE);
    tap_ok(strncmp(got, want, strlen(want)) == 0 && strlen(got) > strlen(want),
           "forget: no keyring reachable is RC_UNAVAILABLE naming the cause");
    printf("# %s\n", got);
#else
    want = xasprintf("-1|%d|this smtpfwd was built without keyring support",
                     (int)RC_UNAVAILABLE);
    tap_str(got, want, "store: built without keyring support");
    free(got);
    got = store_in_child(&a, true, "");
    tap_str(got, want, "forget: built without keyring support");
#endif
    free(got);
    free(want);
}

int main(void)
{
    alarm(120);   /* a hung prompt test fails instead of blocking the suite */
    tmpdir = tu_tmpdir("secret");
    test_passwordeval();
    test_passwordeval_cap();
    test_netrc();
    test_netrc_file();
    test_order();
    test_no_tty();
    test_tty_prompt();
    test_store_checks();
    tu_rmtree(tmpdir);
    return tap_done();
}
