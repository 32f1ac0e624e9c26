/*
 * convert-tool.c - a check program for message conversion: what smtpfwd
 * would send to a server that offers what the options say, for tests
 * that decode the result with other software (round trips) and compare.
 * It owns nothing of the product and must never be installed.
 *
 * Usage:  convert-tool [--8bitmime] [--smtputf8] [--force-7bit] < MESSAGE > DATA
 *
 *   --8bitmime     the server offers 8BITMIME (else it does not)
 *   --smtputf8     the server offers SMTPUTF8 (else it does not)
 *   --force-7bit   -B 7BIT: pure 7-bit ASCII whatever the server offers
 *
 * The message is read from standard input through intake, as smtpfwd
 * reads it (line ends made CRLF, NUL octets dropped; no header field is
 * added or removed), so the message facts are the real ones; then
 * convert_for_server() gives the data to send.
 *
 * Standard output: exactly the octets that would follow DATA (before
 * dot-stuffing), CRLF line ends.
 * Standard error: when something was converted, a line "summary: TEXT";
 * its last line is always
 *     body_8bit=yes|no header_utf8=yes|no converted=yes|no
 * When the message is refused (or cannot be read), standard error holds
 * the sentence saying why and the exit status is that of the failure
 * class (65 for a message that cannot be converted); nothing is written
 * on standard output. A wrong option exits 64.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "intake.h"
#include "message.h"
#include "result.h"

static int fail(struct result *r)
{
    fprintf(stderr, "%s\n", r->msg ? r->msg : "failed");
    int status = result_exit_status(r->cls);
    result_clear(r);
    return status;
}

int main(int argc, char **argv)
{
    struct convert_target t = { false, false };
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--8bitmime")) {
            t.eightbitmime = true;
        } else if (!strcmp(argv[i], "--smtputf8")) {
            t.smtputf8 = true;
        } else if (!strcmp(argv[i], "--force-7bit")) {
            force = true;
        } else {
            fprintf(stderr, "usage: convert-tool [--8bitmime] [--smtputf8] [--force-7bit] "
                    "< MESSAGE\n");
            return result_exit_status(RC_USAGE);
        }
    }
    if (force)
        t.eightbitmime = t.smtputf8 = false;

    struct result r = RESULT_INIT;
    struct message m = { .fd = -1 };
    if (intake_read(0, NULL, &m, &r) != 0)
        return fail(&r);
    m.force_7bit = force;

    struct convert_output out = CONVERT_OUTPUT_INIT;
    if (convert_for_server(&m, &t, NULL, &out, &r) != 0) {
        message_free(&m);
        return fail(&r);
    }
    char block[65536];
    long long done = 0;
    while (done < out.size) {
        size_t want = out.size - done < (long long)sizeof block ? (size_t)(out.size - done)
                                                                : sizeof block;
        ssize_t got = pread(out.fd, block, want, (off_t)(out.offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            fprintf(stderr, "cannot read the data to send: %s\n",
                    got < 0 ? strerror(errno) : "unexpected end of file");
            convert_output_free(&out);
            message_free(&m);
            return result_exit_status(RC_IOERR);
        }
        if (fwrite(block, 1, (size_t)got, stdout) != (size_t)got)
            break;
        done += got;
    }
    if (fflush(stdout) != 0 || done != out.size) {
        fprintf(stderr, "cannot write standard output\n");
        convert_output_free(&out);
        message_free(&m);
        return result_exit_status(RC_IOERR);
    }
    if (out.summary)
        fprintf(stderr, "summary: %s\n", out.summary);
    fprintf(stderr, "body_8bit=%s header_utf8=%s converted=%s\n", out.body_8bit ? "yes" : "no",
            out.header_utf8 ? "yes" : "no", out.converted ? "yes" : "no");
    convert_output_free(&out);
    message_free(&m);
    return 0;
}
