#!/bin/sh
# callers-php.sh - PHP's mail() sends through smtpfwd
# (sendmail_path="WRAPPER -t -i", run by PHP through sh -c).
#
# PHP hands over mixed line endings (headers CRLF, body bare LF, CRLF at the
# very end) and a Bcc header. Checks: argv -t -i; mail() returns true;
# envelope from the headers (To, then Bcc) with the account's sender; Bcc
# removed from the header but delivered; Date and Message-ID added once;
# every line on the wire ends in CRLF; the lone "." arrives dot-stuffed as
# ".."; the body is intact. A body full of end-of-data lookalikes (bare CR,
# bare LF, mixed) followed by fake commands stays one transaction. With
# nothing listening, smtpfwd exits 75 and mail() returns false.
# TAP (tests/callers-lib.sh); skipped when php is absent.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init php

php_code='exit(mail("to@x.test", "Subj", "line1\nline2\n.\nline4", "From: me@x.test\r\nBcc: hidden@x.test") ? 0 : 1);'

printf '%s\n' line1 line2 . line4 >"$tmp/body"

# 1. Delivery.
cl_server <<'EOF'
# defaults: everything accepted
EOF
cl_run "php mail()" php -n -d sendmail_path="$tmp/sendmail -t -i" -r "$php_code"
cl_server_stop
cl_check "mail() returns true" "mail() returned false (php exit $cl_status): $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 1 -t -i
cl_smtpfwd_status 1 0
cl_smtpfwd_quiet 1
cl_txn_count 1
cl_envelope 1 me@x.test to@x.test hidden@x.test
cl_complete 1
cl_header 1 "To: to@x.test"
cl_header 1 "Subject: Subj"
cl_header 1 "From: me@x.test"
cl_header_count 1 Bcc 0
cl_header_count 1 Date 1
cl_header_count 1 Message-ID 1
if grep -q 'hidden@x.test' "$tmp/txn.1.headers" "$tmp/txn.1.body" 2>/dev/null; then
    cl_fail "$cl_desc: the Bcc address appears in the message"
else
    cl_ok "$cl_desc: the Bcc address is not in the message"
fi
cl_crlf
cl_data_line 1 ".."
# The message's last lines on the wire, exactly: no line lost or added.
if ! tail -n 4 "$tmp/txn.1.data" 2>/dev/null | od -An -c | tr -s ' \n' ' ' |
    grep -q -F 'l i n e 1 \r \n l i n e 2 \r \n . . \r \n l i n e 4 \r \n'; then
    cl_fail "$cl_desc: the body on the wire is not line1 line2 .. line4 with CRLF: $(tail -n 4 "$tmp/txn.1.data" | od -An -c | tr -s ' \n' ' ')"
else
    cl_ok "$cl_desc: the body on the wire ends line1 line2 .. line4, each with CRLF"
fi
cl_body 1 "$tmp/body"

# 2. A web form puts end-of-data lookalikes with every line-ending mix into
#    the body, followed by a second transaction: all of them must arrive as
#    dot-stuffed body lines; the server sees ONE transaction (no smuggling).
cl_server <<'EOF'
EOF
# shellcheck disable=SC2016 # PHP code: $evil and $body are PHP variables
cl_run "php mail() with smuggling attempts" \
    php -n -d sendmail_path="$tmp/sendmail -t -i" -r '
    $evil = "MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\nsmuggled\r\n";
    $body = "a\n.\n" . $evil . "b\r.\r" . $evil . "c\n.\r\n" . $evil . "d\r\n.\n" . $evil . "e\r\n.\r\n" . $evil . "end";
    exit(mail("to@x.test", "Smuggle", $body, "From: me@x.test") ? 0 : 1);'
cl_server_stop
cl_check "mail() returns true" "mail() returned false (php exit $cl_status): $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_smtpfwd_status 2 0
cl_txn_count 1
cl_envelope 1 me@x.test to@x.test
cl_complete 1
cl_crlf
if grep -q -i 'evil\|victim' "$tmp/commands"; then
    cl_fail "$cl_desc: text from the body reached the server as a command"
else
    cl_ok "$cl_desc: no text from the body reaches the server as a command"
fi
c=$(tr -d '\r' <"$tmp/txn.1.data" | grep -c -x '\.\.')
cl_check "5 dot-stuffed '..' lines on the wire" "expected 5 dot-stuffed '..' lines on the wire, saw $c" [ "$c" -eq 5 ]
c=$(tr -d '\r' <"$tmp/txn.1.data" | grep -c -x 'MAIL FROM:<evil@x.test>')
cl_check "the 5 fake MAIL lines are inside the body" "expected the 5 fake MAIL lines inside the body, saw $c" [ "$c" -eq 5 ]
cl_data_line 1 "end"

# 3. Nothing listens: smtpfwd exits 75 (EX_TEMPFAIL, not queued with
#    `queue off`) and mail() returns false.
cl_server_down
cl_run "php mail() with the server down" \
    php -n -d sendmail_path="$tmp/sendmail -t -i" -r "$php_code"
cl_check "mail() returns false" "mail() returned true (php exit $cl_status) although nothing was delivered" \
    [ "$cl_status" -eq 1 ]
cl_calls 1
cl_smtpfwd_status 3 75
cl_check "smtpfwd prints a 'smtpfwd: ' diagnostic" \
    "smtpfwd printed no 'smtpfwd: ' diagnostic: $(cat "$tmp/call.3.stderr")" grep -q '^smtpfwd: ' "$tmp/call.3.stderr"

cl_finish
