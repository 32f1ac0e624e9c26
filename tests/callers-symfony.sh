#!/bin/sh
# callers-symfony.sh - Symfony Mailer's SendmailTransport sends through
# smtpfwd (Debian's php-symfony-mailer, run by php-cli).
#
# The transport speaks SMTP to "sendmail -bs" (its default command; Laravel
# configures "sendmail -bs -i") over one process for all the messages a
# script sends (HELO, MAIL, RCPT, DATA per message, RSET after a failure,
# QUIT when the transport goes away), and in "-t" mode drops the -t and runs
# "sendmail -i -fFROM -- RCPT..." once per message with the message on stdin.
# Each case sends real messages (To, Cc, Bcc, a UTF-8 subject, a text with a
# lone "." and a leading dot, a binary attachment) and checks: the argv
# smtpfwd gets; the number of processes; what the PHP side saw (sent, or the
# TransportException's words); the envelope the smarthost gets (every RCPT,
# Bcc included); the message there (no Bcc header, the subject, the text and
# the attachment's bytes intact, CRLF everywhere). Failure paths: the
# smarthost refuses the recipient with 550 (an exception quoting the
# server, and the next message of the same script still goes out); the
# smarthost is down with the queue off (an exception) and with the queue
# on (sent, and the message is in the spool).
# TAP (tests/callers-lib.sh); skipped when php or php-symfony-mailer is
# absent, or when this smtpfwd has no -bs.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init php python3
symfony_autoload=/usr/share/php/Symfony/Component/Mailer/autoload.php
[ -r "$symfony_autoload" ] || skip_all "php-symfony-mailer is not installed ($symfony_autoload)"
cl_need_bs

# send.php COMMAND COUNT [RCPT]: COUNT messages through one
# SendmailTransport(COMMAND) ("DEFAULT": the transport's own default,
# printed and not run), one output line per message: "sent N" or
# "exception N CLASS: MESSAGE" (on one line). RCPT replaces To/Cc/Bcc by
# that one recipient. Message N: subject "Grüße aus München №N", the text
# of $tmp/body, $tmp/attachment as data.bin.
cat >"$tmp/send.php" <<EOF
<?php
require '$symfony_autoload';
use Symfony\\Component\\Mailer\\Mailer;
use Symfony\\Component\\Mailer\\Transport\\SendmailTransport;
use Symfony\\Component\\Mime\\Email;
use Symfony\\Component\\Mime\\Address;

\$command = \$argv[1];
\$count = (int) \$argv[2];
\$rcpt = \$argv[3] ?? null;
if (\$command === 'DEFAULT') {
    \$p = new ReflectionProperty(SendmailTransport::class, 'command');
    \$p->setAccessible(true);
    echo 'default ', \$p->getValue(new SendmailTransport()), "\\n";
    exit(0);
}
\$transport = new SendmailTransport(\$command);
\$mailer = new Mailer(\$transport);
\$body = file_get_contents('$tmp/body');
\$attachment = file_get_contents('$tmp/attachment');
for (\$i = 1; \$i <= \$count; \$i++) {
    \$email = (new Email())
        ->from(new Address('me@x.test', 'Me Myself'))
        ->subject("Grüße aus München №\$i")
        ->text(\$body)
        ->attach(\$attachment, 'data.bin', 'application/octet-stream');
    if (\$rcpt !== null) {
        \$email->to(\$rcpt);
    } else {
        \$email->to('to@x.test')->cc('cc@x.test')->bcc('bcc@x.test');
    }
    try {
        \$mailer->send(\$email);
        echo "sent \$i\\n";
    } catch (Throwable \$e) {
        echo "exception \$i ", get_class(\$e), ': ', str_replace(["\\r", "\\n"], ' ', \$e->getMessage()), "\\n";
    }
}
// The transport's destructor ends the -bs session with QUIT.
unset(\$mailer, \$transport);
echo "done\\n";
EOF

# A text with lines SMTP must protect (a lone ".", a leading dot) and a
# binary attachment holding every byte value, CR and LF among them.
printf '%s\n' "Hello from Symfony." "." ".leading dot" "" "last line" >"$tmp/body"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 8 + b"\r\n.\r\n\n.\n")' >"$tmp/attachment"

# sf_parse N: facts about message N as the smarthost got it, one per line
# in $tmp/txn.N.facts: "subject: ...", "bcc-headers: N", "text: ok|...",
# "attachment: ok|...", "filename: ...".
sf_parse() {
    python3 - "$tmp/txn.$1.data" "$tmp/body" "$tmp/attachment" >"$tmp/txn.$1.facts" 2>&1 <<'EOF'
import sys, email, email.policy
data, body, att = sys.argv[1:4]
raw = open(data, 'rb').read()
# dot-unstuff the wire form
lines = raw.split(b'\r\n')
raw = b'\r\n'.join(l[1:] if l.startswith(b'.') else l for l in lines)
msg = email.message_from_bytes(raw, policy=email.policy.default)
print('subject:', msg['Subject'])
print('bcc-headers:', len(msg.get_all('Bcc') or []))
want_text = open(body, encoding='utf-8').read()
text = [p for p in msg.walk() if p.get_content_type() == 'text/plain']
got = text[0].get_content().replace('\r\n', '\n') if text else None
print('text:', 'ok' if got == want_text else repr(got))
files = [p for p in msg.walk() if p.get_filename()]
want = open(att, 'rb').read()
got = files[0].get_payload(decode=True) if files else None
print('attachment:', 'ok' if got == want else 'differs (%s bytes)' % (len(got) if got is not None else 'no'))
print('filename:', files[0].get_filename() if files else '')
EOF
}

# sf_fact N LINE: message N's facts hold LINE.
sf_fact() {
    if grep -q -x -F -e "$2" "$tmp/txn.$1.facts" 2>/dev/null; then
        cl_ok "$cl_desc: message $1: $2"
    else
        cl_fail "$cl_desc: message $1: expected '$2'; got: $(tr '\n' '|' <"$tmp/txn.$1.facts" 2>/dev/null)"
    fi
}

# sf_message N: the checks of a message sent with To, Cc and Bcc.
sf_message() {
    cl_envelope "$1" me@x.test to@x.test cc@x.test bcc@x.test
    cl_complete "$1"
    sf_parse "$1"
    sf_fact "$1" "subject: Grüße aus München №$2"
    sf_fact "$1" "bcc-headers: 0"
    sf_fact "$1" "text: ok"
    sf_fact "$1" "attachment: ok"
    sf_fact "$1" "filename: data.bin"
    cl_header "$1" "To: to@x.test"
    cl_header "$1" "Cc: cc@x.test"
    cl_header "$1" "From: Me Myself <me@x.test>"
    if grep -q 'bcc@x.test' "$tmp/txn.$1.headers" "$tmp/txn.$1.body" 2>/dev/null; then
        cl_fail "$cl_desc: the Bcc address appears in message $1"
    else
        cl_ok "$cl_desc: the Bcc address is not in message $1"
    fi
}

# sf_output_line LINE: the PHP script printed exactly LINE.
sf_output_line() {
    if grep -q -x -F -e "$1" "$tmp/out"; then
        cl_ok "$cl_desc: PHP prints '$1'"
    else
        cl_fail "$cl_desc: PHP did not print '$1'; it printed: $(tr '\n' '|' <"$tmp/out")"
    fi
}

# sf_output_has REGEX OK FAIL: a line the PHP script printed matches REGEX
# (grep's basic syntax); FAIL is followed by what it printed.
sf_output_has() {
    if grep -q -e "$1" "$tmp/out"; then
        cl_ok "$cl_desc: $2"
    else
        cl_fail "$cl_desc: $3: $(tr '\n' '|' <"$tmp/out")"
    fi
}

# 0. The shape exercised below is the installed Symfony's default command.
cl_run "Symfony's default command" php "$tmp/send.php" DEFAULT 0
sf_output_line "default /usr/sbin/sendmail -bs"

# 1. The default command shape, "sendmail -bs": two messages over one
#    process (one SMTP session), each with To, Cc, Bcc and an attachment.
cl_server <<'EOF'
# defaults: everything accepted
EOF
cl_run "symfony -bs" php "$tmp/send.php" "$tmp/sendmail -bs" 2
cl_server_stop
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_line "sent 1"
sf_output_line "sent 2"
sf_output_line "done"
cl_calls 1
cl_argv 1 -bs
cl_smtpfwd_status 1 0
cl_smtpfwd_quiet 1
cl_txn_count 2
sf_message 1 1
sf_message 2 2
cl_crlf

# 2. Laravel's command, "sendmail -bs -i".
cl_server <<'EOF'
EOF
cl_run "symfony -bs -i (Laravel)" php "$tmp/send.php" "$tmp/sendmail -bs -i" 2
cl_server_stop
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_line "sent 1"
sf_output_line "sent 2"
cl_calls 1
cl_argv 2 -bs -i
cl_smtpfwd_status 2 0
cl_smtpfwd_quiet 2
cl_txn_count 2
sf_message 1 1
sf_message 2 2
cl_crlf

# 3. "-t -i": Symfony drops -t, adds -f and the recipients, and runs one
#    process per message with the message (LF line ends, no Bcc) on stdin.
cl_server <<'EOF'
EOF
cl_run "symfony -t -i" php "$tmp/send.php" "$tmp/sendmail -t -i" 2
cl_server_stop
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_line "sent 1"
sf_output_line "sent 2"
cl_calls 2
cl_argv 3 -i -fme@x.test -- to@x.test cc@x.test bcc@x.test
cl_argv 4 -i -fme@x.test -- to@x.test cc@x.test bcc@x.test
cl_smtpfwd_status 3 0
cl_smtpfwd_status 4 0
cl_txn_count 2
sf_message 1 1
sf_message 2 2
cl_crlf

# 4. The smarthost refuses the first message's recipient: Symfony throws a
#    TransportException that carries the smarthost's words; the second
#    message of the same script (same -bs process) is delivered.
cl_server <<'EOF'
reply RCPT#1@1 550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown in virtual mailbox table
EOF
cl_run "symfony -bs, recipient refused" php "$tmp/send.php" "$tmp/sendmail -bs" 2 nobody@x.test
cl_server_stop
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_has '^exception 1 Symfony\\Component\\Mailer\\Exception\\TransportException: .*User unknown in virtual mailbox table' \
    "message 1 throws a TransportException quoting the smarthost" \
    "message 1 did not throw a TransportException quoting the smarthost"
sf_output_has '^exception 1 .*550' \
    "the exception carries a 550 (permanent) code" \
    "the exception does not carry a 550"
sf_output_line "sent 2"
cl_calls 1
cl_argv 5 -bs
if grep -q '^RCPT TO:<nobody@x.test>' "$tmp/txn.1.env" 2>/dev/null; then
    cl_ok "$cl_desc: the smarthost gets RCPT TO:<nobody@x.test> for message 1"
else
    cl_fail "$cl_desc: the smarthost never got RCPT TO:<nobody@x.test> for message 1"
fi
# Symfony writes the subject as encoded words: "...M=C3=BCnchen_=E2=84=961?=".
if grep -q -F '=E2=84=961?=' "$tmp/server.log"; then
    cl_fail "$cl_desc: message 1 reached the smarthost although its only recipient was refused"
else
    cl_ok "$cl_desc: message 1 (recipient refused) does not reach the smarthost"
fi
cl_txn_count 2
cl_envelope 2 me@x.test nobody@x.test
cl_complete 2
sf_parse 2
sf_fact 2 "subject: Grüße aus München №2"
sf_fact 2 "text: ok"
sf_fact 2 "attachment: ok"

# 5. The smarthost is down, the queue off: an exception, nothing sent.
cl_server_down
cl_run "symfony -bs, smarthost down, queue off" php "$tmp/send.php" "$tmp/sendmail -bs" 1
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_has '^exception 1 Symfony\\Component\\Mailer\\Exception\\TransportException: ' \
    "the message throws a TransportException" \
    "no TransportException although nothing was delivered"
sf_output_has '^exception 1 .*got code "4[0-9][0-9]"' \
    "the exception carries a 4xx (temporary) code" \
    "the exception does not carry a 4xx code"
cl_calls 1
spool=$XDG_STATE_HOME/smtpfwd/queue
cl_check "nothing in the spool" "the spool has $(count_in "$spool/new") entries with the queue off" \
    [ "$(count_in "$spool/new")" -eq 0 ]

# 6. The smarthost is down, the queue on: sent (durably queued), and the
#    message waits in the spool with every recipient.
sed -i 's/^queue off$/queue on-failure/' "$tmp/smtprc"
cl_run "symfony -bs, smarthost down, queue on" php "$tmp/send.php" "$tmp/sendmail -bs" 1
cl_check "php exits 0" "php exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
sf_output_line "sent 1"
cl_calls 1
cl_smtpfwd_status 7 0
cl_check "one message in the spool" "the spool has $(count_in "$spool/new") entries, expected 1" \
    [ "$(count_in "$spool/new")" -eq 1 ]
for a in to@x.test cc@x.test bcc@x.test; do
    cl_check "the spooled entry has recipient $a" "the spooled entry lacks $a" \
        grep -q -r -F "$a" "$spool/new"
done
cl_check "the spooled message has the attachment" "the spooled message lacks the attachment" \
    grep -q -r -F 'filename=data.bin' "$spool/new"

cl_finish
