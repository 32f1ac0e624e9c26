#!/bin/sh
# callers-mutt.sh - real mutt sends through smtpfwd (set sendmail=...).
#
# Checks mutt's argv shape (doc/callers.md: -oem -oi -f FROM -- RCPT...), the
# envelope (Bcc only on the command line, delivered with its own RCPT), that
# mutt's headers arrive and no Bcc header does, the body byte for byte
# (including a lone "." and a leading dot, dot-stuffed on the wire), CRLF
# everywhere; an 8-bit body with mutt's DSN options (-B8BITMIME -N -R) turned
# into ESMTP parameters; and that a server refusing every RCPT with 550 makes
# smtpfwd exit 67 and mutt report the failure with a non-zero exit.
# TAP (tests/callers-lib.sh); skipped when mutt is absent.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init mutt

mutt_rc() {
    cat >"$tmp/muttrc" <<EOF
set sendmail="$tmp/sendmail -oem -oi"
set from="Me <me@x.test>"
set use_from=yes
set use_envelope_from=yes
set hostname=x.test
set copy=no
set record=""
set postponed="$tmp/postponed"
set folder="$tmp/Mail"
set spoolfile="$tmp/Mail/inbox"
set charset=us-ascii
set send_charset=us-ascii
EOF
}

printf '%s\n' "Hello from mutt." ".a line that starts with a dot" "." \
    "after the lone dot" "" "last line" >"$tmp/body"

# 1. Delivery with To, Cc and Bcc.
cl_server <<'EOF'
# defaults: PIPELINING, 8BITMIME, SIZE, DSN; everything accepted
EOF
mutt_rc
cl_run "mutt delivery" mutt -n -F "$tmp/muttrc" -s "Mutt subject" \
    -c cc@x.test -b bcc@x.test to@x.test <"$tmp/body"
cl_server_stop
cl_check "mutt exits 0" "mutt exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 1 -oem -oi -f me@x.test -- to@x.test cc@x.test bcc@x.test
cl_smtpfwd_status 1 0
cl_smtpfwd_quiet 1
cl_txn_count 1
cl_envelope 1 me@x.test to@x.test cc@x.test bcc@x.test
cl_complete 1
cl_header 1 "From: Me <me@x.test>"
cl_header 1 "To: to@x.test"
cl_header 1 "Cc: cc@x.test"
cl_header 1 "Subject: Mutt subject"
cl_header_count 1 Date 1
cl_header_count 1 Message-ID 1
cl_header_count 1 Bcc 0
cl_data_line 1 ".."
cl_data_line 1 "..a line that starts with a dot"
cl_body 1 "$tmp/body"
cl_crlf
cl_command_seen QUIT

# 2. 8-bit body and DSN settings: mutt passes -B8BITMIME -N -R, which must
#    become BODY=8BITMIME, RET=HDRS and NOTIFY=FAILURE,DELAY (the server
#    offers 8BITMIME and DSN); the UTF-8 body arrives untouched.
printf 'Gr\303\274\303\237e aus M\303\274nchen\n\nZeile zwei \342\202\254\n' >"$tmp/body8"
cat >>"$tmp/muttrc" <<'EOF'
set use_8bitmime=yes
set dsn_notify="failure,delay"
set dsn_return=hdrs
set charset=utf-8
set send_charset=utf-8
EOF
cl_server <<'EOF'
EOF
LC_ALL=C.UTF-8 cl_run "mutt 8-bit with DSN" mutt -n -F "$tmp/muttrc" \
    -s "Eight bit" to@x.test <"$tmp/body8"
cl_server_stop
cl_check "mutt exits 0" "mutt exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 2 -oem -oi -B8BITMIME -f me@x.test -N failure,delay -R hdrs -- to@x.test
cl_smtpfwd_status 2 0
cl_smtpfwd_quiet 2
cl_txn_count 1
cl_envelope 1 me@x.test to@x.test
cl_mail_param 1 BODY=8BITMIME
cl_mail_param 1 RET=HDRS
cl_rcpt_param 1 to@x.test NOTIFY=FAILURE,DELAY
cl_header 1 "Content-Transfer-Encoding: 8bit"
cl_body 1 "$tmp/body8"
cl_crlf
mutt_rc

# 3. Every recipient refused: smtpfwd exits 67 (EX_NOUSER) quoting the
#    server, mutt says so and exits non-zero.
cl_server <<'EOF'
reply RCPT 550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown
reply DATA 554 5.5.1 Error: no valid recipients
EOF
cl_run "mutt with RCPT refused" mutt -n -F "$tmp/muttrc" -s "Refused" \
    nobody@x.test <"$tmp/body"
cl_server_stop
cl_check "mutt exits non-zero" "mutt exited 0 although the recipient was refused" [ "$cl_status" -ne 0 ]
cl_calls 1
cl_argv 3 -oem -oi -f me@x.test -- nobody@x.test
cl_smtpfwd_status 3 67
cl_output_has "exited 67"
cl_check "smtpfwd's diagnostic starts with 'smtpfwd: '" \
    "smtpfwd's diagnostic does not start with 'smtpfwd: '" grep -q '^smtpfwd: ' "$tmp/call.3.stderr"
cl_check "smtpfwd's diagnostic quotes the server's reply" \
    "smtpfwd's diagnostic does not quote the server's reply: $(cat "$tmp/call.3.stderr")" \
    grep -q 'User unknown' "$tmp/call.3.stderr"
cl_envelope 1 me@x.test nobody@x.test
cl_check "no message body is sent" "a message body was sent although no recipient was accepted" \
    [ ! -e "$tmp/txn.1.end" ]
cl_crlf

cl_finish
