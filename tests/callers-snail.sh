#!/bin/sh
# callers-snail.sh - real s-nail sends through smtpfwd (-S mta=...).
#
# Checks s-nail's argv shape (doc/callers.md: -i [-f FROM] -- RCPT...), the
# envelope (Bcc only on the command line, delivered with its own RCPT), that
# s-nail's headers arrive and no Bcc header does, the body intact (a lone "."
# and a leading dot dot-stuffed on the wire), CRLF everywhere; and that a
# server refusing every RCPT makes smtpfwd exit 67 and s-nail (with sendwait)
# exit non-zero.
# TAP (tests/callers-lib.sh); skipped when s-nail is absent.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init s-nail

# s-nail finds ~/.mailrc and dead.letter through the password database, not
# $HOME: name both explicitly so nothing outside $tmp is read or written.
MAILRC=$tmp/mailrc
DEAD=$tmp/dead.letter
export MAILRC DEAD
cat >"$MAILRC" <<EOF
set from="me@x.test"
set hostname=x.test
set DEAD="$tmp/dead.letter"
set MBOX="$tmp/mbox"
unset record
EOF

printf '%s\n' "Hello from s-nail." ".a line that starts with a dot" "." \
    "after the lone dot" "last line" >"$tmp/body"

# 1. Delivery with To, Cc and Bcc.
cl_server <<'EOF'
# defaults: everything accepted
EOF
cl_run "s-nail delivery" s-nail -S mta="$tmp/sendmail" -S sendwait \
    -s "Snail subject" -c cc@x.test -b bcc@x.test to@x.test <"$tmp/body"
cl_server_stop
cl_check "s-nail exits 0" "s-nail exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 1 -i -- to@x.test cc@x.test bcc@x.test
cl_smtpfwd_status 1 0
cl_smtpfwd_quiet 1
cl_txn_count 1
cl_envelope 1 me@x.test to@x.test cc@x.test bcc@x.test
cl_complete 1
cl_header 1 "From: me@x.test"
cl_header 1 "To: to@x.test"
cl_header 1 "Cc: cc@x.test"
cl_header 1 "Subject: Snail subject"
cl_header_count 1 Date 1
cl_header_count 1 Message-ID 1
cl_header_count 1 Bcc 0
cl_data_line 1 ".."
cl_data_line 1 "..a line that starts with a dot"
cl_body 1 "$tmp/body"
cl_crlf

# 2. With -r the envelope sender is passed as -f and used for MAIL FROM.
cl_server <<'EOF'
EOF
cl_run "s-nail -r" s-nail -S mta="$tmp/sendmail" -S sendwait \
    -r other@x.test -s "With -r" to@x.test <"$tmp/body"
cl_server_stop
cl_check "s-nail exits 0" "s-nail exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 2 -i -f other@x.test -- to@x.test
cl_smtpfwd_status 2 0
cl_envelope 1 other@x.test to@x.test
cl_header 1 "From: other@x.test"
cl_body 1 "$tmp/body"
cl_crlf

# 3. Every recipient refused: smtpfwd exits 67, s-nail exits non-zero.
cl_server <<'EOF'
reply RCPT 550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown
reply DATA 554 5.5.1 Error: no valid recipients
EOF
cl_run "s-nail with RCPT refused" s-nail -S mta="$tmp/sendmail" -S sendwait \
    -s "Refused" nobody@x.test <"$tmp/body"
cl_server_stop
cl_check "s-nail exits non-zero" "s-nail exited 0 although the recipient was refused" [ "$cl_status" -ne 0 ]
cl_calls 1
cl_smtpfwd_status 3 67
cl_check "the server's reply is shown" "the server's reply was not shown: $(cat "$tmp/out")" \
    grep -q 'User unknown' "$tmp/out"
cl_envelope 1 me@x.test nobody@x.test

cl_finish
