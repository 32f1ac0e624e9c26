/*
 * test-smtpd.c - unit tests for the -bs server: the command parser of
 * src/smtpd-parse.c (verbs, paths, ESMTP parameters, BDAT, limits,
 * control characters, the round trip through the formatter), and
 * sessions of src/smtpd.c run in a child on a pipe (fd 0) and a
 * SOCK_SEQPACKET socket (fd 1), so that every write() of replies arrives
 * as one record: pipelined commands are answered in one write (RFC
 * 2920), a line over 512 octets gets 500 and the session goes on, bare LF
 * ends lines, the idle timeout ends the session with 421.
 * What reaches the smarthost is checked by the data-file cases
 * (tests/data/test0840 and on).
 */
#include <config.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "smtpd.h"
#include "tap.h"
#include "testutil.h"

static const char *tmp;
static char *rcfile;

static enum smtpd_parse_error parse(const char *line, struct smtpd_command *c)
{
    return smtpd_parse_command(line, strlen(line), c);
}

static char *span(struct smtpd_span sp)
{
    static char b[600];
    if (!sp.p)
        return NULL;
    memcpy(b, sp.p, sp.len);
    b[sp.len] = '\0';
    return b;
}

static void test_parse(void)
{
    struct smtpd_command c;
    tap_int(parse("EHLO client.test", &c), SMTPD_PARSE_OK, "EHLO parses");
    tap_int(c.verb, SMTPD_EHLO, "EHLO verb");
    tap_str(span(c.arg), "client.test", "EHLO argument");
    tap_int(parse("ehlo  client.test  ", &c), SMTPD_PARSE_OK, "lower case, blanks around");
    tap_str(span(c.arg), "client.test", "blanks trimmed");
    tap_int(parse("EHLO", &c), SMTPD_PARSE_SYNTAX, "EHLO needs an argument");
    tap_int(parse("HELO ", &c), SMTPD_PARSE_SYNTAX, "HELO needs an argument");
    tap_int(parse("DATA x", &c), SMTPD_PARSE_SYNTAX, "DATA takes none");
    tap_int(parse("QUIT", &c), SMTPD_PARSE_OK, "QUIT");
    tap_int(parse("NOOP anything", &c), SMTPD_PARSE_OK, "NOOP with text");
    tap_int(parse("XYZZY", &c), SMTPD_PARSE_UNKNOWN, "unknown verb");
    tap_int(parse("QUITX", &c), SMTPD_PARSE_UNKNOWN, "verb longer than a known one");
    tap_int(parse("", &c), SMTPD_PARSE_UNKNOWN, "empty line");
    tap_int(parse("MAIL:FROM:<a@b>", &c), SMTPD_PARSE_SYNTAX, "no blank after the verb");
    tap_int(parse("From: me@x.test", &c), SMTPD_PARSE_UNKNOWN,
            "a header field line: unknown, not a syntax error");

    tap_int(parse("MAIL FROM:<me@x.test> SIZE=100 BODY=8BITMIME SMTPUTF8", &c), SMTPD_PARSE_OK,
            "MAIL with parameters");
    tap_int(c.verb, SMTPD_MAIL, "MAIL verb");
    tap_str(span(c.arg), "me@x.test", "MAIL path without brackets");
    tap_int((long long)c.nparams, 3, "three parameters");
    tap_str(span(c.params[0].key), "SIZE", "first key");
    tap_str(span(c.params[0].value), "100", "first value");
    tap_str(span(c.params[2].key), "SMTPUTF8", "keyword without value");
    tap_ok(c.params[2].value.p == NULL, "no value: NULL");
    tap_int(parse("mail from: <>", &c), SMTPD_PARSE_OK, "null sender, blank before the path");
    tap_int((long long)c.arg.len, 0, "null sender: empty path");
    tap_int(parse("MAIL FROM:me@x.test", &c), SMTPD_PARSE_SYNTAX, "path without brackets");
    tap_int(parse("MAIL FROM:<me@x.test", &c), SMTPD_PARSE_SYNTAX, "unclosed bracket");
    tap_int(parse("MAIL TO:<me@x.test>", &c), SMTPD_PARSE_SYNTAX, "MAIL TO:");
    tap_int(parse("MAIL FROM:<a b@x.test>", &c), SMTPD_PARSE_SYNTAX, "blank in a path");
    tap_int(parse("RCPT TO:<\"a >b\"@x.test> NOTIFY=NEVER", &c), SMTPD_PARSE_OK,
            "quoted local part with '>' and a blank");
    tap_str(span(c.arg), "\"a >b\"@x.test", "quoted path kept");
    tap_int(parse("RCPT TO:<a@x.test> SIZE=", &c), SMTPD_PARSE_SYNTAX, "empty value");
    tap_int(parse("RCPT TO:<a@x.test> =1", &c), SMTPD_PARSE_SYNTAX, "empty keyword");
    tap_int(parse("RCPT TO:<a@x.test> A=b=c", &c), SMTPD_PARSE_SYNTAX, "'=' in a value");
    tap_int(parse("RCPT TO:<a@x.test>NOTIFY=NEVER", &c), SMTPD_PARSE_SYNTAX,
            "parameter glued to the path");
    tap_int(parse("RCPT TO:<a@x.test> A B C D E F G H", &c), SMTPD_PARSE_OK, "8 parameters");
    tap_int(parse("RCPT TO:<a@x.test> A B C D E F G H I", &c), SMTPD_PARSE_SYNTAX,
            "9 parameters: too many");

    struct smtpd_command n;
    tap_int(smtpd_parse_command("MAIL FROM:<a\0b@x.test>", 22, &n), SMTPD_PARSE_SYNTAX,
            "NUL in a path");
    tap_int(smtpd_parse_command("NOOP a\0b", 8, &n), SMTPD_PARSE_SYNTAX, "NUL in free text");
    tap_int(parse("NOOP a\rb", &c), SMTPD_PARSE_SYNTAX, "CR in free text");
    tap_int(parse("VRFY\tpostmaster", &c), SMTPD_PARSE_OK, "tab after the verb");

    tap_int(parse("BDAT 4096 LAST", &c), SMTPD_PARSE_OK, "BDAT LAST");
    tap_int((long long)c.bdat_size, 4096, "BDAT size");
    tap_ok(c.bdat_last, "LAST seen");
    tap_int(parse("bdat 0 last", &c), SMTPD_PARSE_OK, "bdat 0 last");
    tap_int(parse("BDAT 12", &c), SMTPD_PARSE_OK, "BDAT without LAST");
    tap_ok(!c.bdat_last, "not LAST");
    tap_int(parse("BDAT", &c), SMTPD_PARSE_SYNTAX, "BDAT without size");
    tap_int(parse("BDAT 5LAST", &c), SMTPD_PARSE_SYNTAX, "BDAT 5LAST");
    tap_int(parse("BDAT 5 FIRST", &c), SMTPD_PARSE_SYNTAX, "BDAT 5 FIRST");
    tap_int(parse("BDAT 99999999999999999999", &c), SMTPD_PARSE_SYNTAX,
            "BDAT size that would overflow");

    char line[600];
    memset(line, 'A', sizeof line);
    memcpy(line, "NOOP ", 5);
    tap_int(smtpd_parse_command(line, 510, &c), SMTPD_PARSE_OK, "510 octets: the limit");
    tap_int(smtpd_parse_command(line, 511, &c), SMTPD_PARSE_TOO_LONG, "511 octets: too long");

    struct buf b = BUF_INIT;
    parse("mail  from: <me@x.test>  size=12   smtputf8 ", &c);
    smtpd_format_command(&c, &b);
    tap_str(b.data, "MAIL FROM:<me@x.test> size=12 smtputf8", "formatted canonically");
    struct smtpd_command again;
    tap_int(smtpd_parse_command(b.data, b.len, &again), SMTPD_PARSE_OK, "format parses");
    tap_ok(smtpd_command_equal(&c, &again), "parse -> format -> parse is equal");
    buf_free(&b);
}

struct session {
    int status;
    int records;             /* write() calls that reached fd 1 */
    char out[16384];         /* every reply, concatenated */
    char first[8192];        /* the first record */
    char second[8192];       /* the second record */
};

/* Run -bs with input on fd 0 (kept open hold seconds after writing, so
 * that the timeout can be seen) and count the records on fd 1. */
static void run(const char *input, size_t len, int hold, struct session *s)
{
    memset(s, 0, sizeof *s);
    int in[2], out[2];
    if (pipe(in) != 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, out) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        setenv("HOME", tmp, 1);
        setenv("SMTPFWD_SYSCONF", "", 1);
        char *argv[] = { "smtpfwd", "-C", rcfile, "-bs", NULL };
        struct options o;
        struct result r = RESULT_INIT;
        if (cli_parse(4, argv, &o, &r) != 0)
            _exit(98);
        _exit(smtpd_run(&o));
    }
    close(in[0]);
    close(out[1]);
    if (write(in[1], input, len) != (ssize_t)len)
        abort();
    if (hold == 0)
        close(in[1]);
    size_t used = 0;
    for (;;) {
        char rec[8192];
        ssize_t n = read(out[0], rec, sizeof rec - 1);
        if (n <= 0)
            break;
        rec[n] = '\0';
        s->records++;
        if (s->records == 1)
            snprintf(s->first, sizeof s->first, "%s", rec);
        if (s->records == 2)
            snprintf(s->second, sizeof s->second, "%s", rec);
        if (used + (size_t)n < sizeof s->out) {
            memcpy(s->out + used, rec, (size_t)n);
            used += (size_t)n;
        }
    }
    if (hold)
        close(in[1]);
    close(out[0]);
    int st;
    waitpid(pid, &st, 0);
    s->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(str, hold, s) run(str, sizeof str - 1, hold, s)

static void test_sessions(void)
{
    static struct session s;
    RUN("EHLO c.test\r\nNOOP\r\nHELP\r\nVRFY x\r\nRSET\r\nQUIT\r\n", 0, &s);
    tap_int(s.status, 0, "commands only: exit 0");
    tap_int(s.records, 2, "pipelined: the greeting, then one write of all replies");
    tap_str(s.first, "220 bs.test ESMTP smtpfwd\r\n", "greeting names the account's domain");
    tap_str(s.second,
            "250-bs.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
            "250-SIZE 104857600\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"
            "250 2.0.0 ok\r\n"
            "214 2.0.0 commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP HELP VRFY QUIT\r\n"
            "252 2.5.2 cannot verify, but will take the message and try to deliver it\r\n"
            "250 2.0.0 reset\r\n221 2.0.0 bs.test closing\r\n",
            "the replies in order");

    RUN("QUIT\r\n", 0, &s);
    tap_int(s.status, 0, "only QUIT: exit 0");
    tap_str(s.out, "220 bs.test ESMTP smtpfwd\r\n221 2.0.0 bs.test closing\r\n", "QUIT: 221");

    static char longline[1200];
    memset(longline, 'X', sizeof longline);
    memcpy(longline, "NOOP ", 5);
    memcpy(longline + 1000, "\r\nNOOP\nQUIT\n", 12);
    run(longline, 1012, 0, &s);
    tap_str(s.out,
            "220 bs.test ESMTP smtpfwd\r\n500 5.5.2 line too long (the limit is 512 octets)\r\n"
            "250 2.0.0 ok\r\n221 2.0.0 bs.test closing\r\n",
            "a 1000-octet line: 500, then the session goes on (bare LF ends lines)");
    tap_int(s.status, 0, "long line: exit 0");

    RUN("HELO c\r\nDATA\r\nRCPT TO:<a@x.test>\r\nMAIL FROM:<me@x.test>\r\n"
        "DATA\r\nBDAT 3 LAST\r\nabcXYZZY\r\nQUIT\r\n", 0, &s);
    tap_str(s.out,
            "220 bs.test ESMTP smtpfwd\r\n250 bs.test\r\n"
            "503 5.5.1 send MAIL and RCPT first\r\n503 5.5.1 send MAIL first\r\n"
            "250 2.1.0 sender ok\r\n503 5.5.1 no valid recipients\r\n"
            "503 5.5.1 send MAIL and RCPT first\r\n500 5.5.2 command not recognized\r\n"
            "221 2.0.0 bs.test closing\r\n",
            "bad sequences: 503; a refused BDAT chunk is read and thrown away");
    tap_int(s.status, 0, "bad sequences only: exit 0");

    RUN("MAIL FROM:<me@x.test>\r\nQUIT\r\n", 0, &s);
    tap_str(s.out,
            "220 bs.test ESMTP smtpfwd\r\n503 5.5.1 send HELO or EHLO first\r\n"
            "221 2.0.0 bs.test closing\r\n", "MAIL before HELO: 503");

    RUN("EHLO c\r\n", 2, &s);
    tap_str(s.out,
            "220 bs.test ESMTP smtpfwd\r\n250-bs.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
            "250-SMTPUTF8\r\n250-SIZE 104857600\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250 CHUNKING\r\n421 4.4.2 bs.test idle for too long, closing\r\n",
            "idle client: 421 after the account's timeout");
    tap_int(s.status, 0, "idle outside a message: exit 0");

    RUN("EHLO c\r\nMAIL FROM:<me@x.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\nSubject: x\r\n", 2,
        &s);
    tap_int(s.status, 75, "idle inside DATA: that message is not delivered, exit 75");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    tmp = tu_tmpdir("smtpd");
    rcfile = tu_write_file(tmp, "smtprc",
                           "account default\nhost 127.0.0.1\nport 1\ntls off\n"
                           "from me@x.test\ndomain bs.test\ntimeout 1\nqueue off\n", 0600);
    test_parse();
    test_sessions();
    free(rcfile);
    tu_rmtree(tmp);
    return tap_done();
}
