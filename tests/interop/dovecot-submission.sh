#!/bin/sh
# tests/interop/dovecot-submission.sh - the delivery matrix (matrix.sh)
# against Dovecot's submission service (dovecot-submissiond), which
# authenticates the client and relays each command to a backend SMTP
# server.
#
# Owns: the Dovecot submission instance and its backend. A private dovecot
# (`dovecot -c`, base_dir, state_dir and log under the temporary
# directory; nothing of /etc/dovecot is read) offers submission with
# STARTTLS and submissions (implicit TLS) on random loopback ports; its
# user alice has a passwd-file password in the {PLAIN} scheme, so every
# mechanism Dovecot has is usable. It relays to a private Postfix
# (tests/postfix-lib.sh) on a plain loopback port, which stores mail for
# alice@, bob@ and sender@x.test in one maildir each (read back from
# there), refuses nobody@x.test with 550 and defers later@x.test with 450
# at RCPT, and refuses or defers chosen messages at the end of their data
# (tests/interop/postfix-backend.sh): Dovecot passes these replies on, and
# the end-of-data cases run with DATA and BDAT (iop_server_checks).
# Dovecot offers no way to leave PIPELINING out of its EHLO, nor a second
# certificate per port: no such ports here. The SIZE it announces is
# submission_max_mail_size (30000000, so that 20 MB fits); the matrix
# checks the CHUNKING and DSN it offers against what its EHLO shows.
# Dovecot 2.3 offers no SMTPUTF8, and 8BITMIME only when its relay does
# (submission_backend_capabilities unset: it asks the relay): its
# submission port is the conversion cases' port with 8BITMIME and without
# SMTPUTF8 (convert-cases.sh). A second dovecot with the same
# configuration but submission_backend_capabilities set empty (none of
# the relay's capabilities offered: no 8BITMIME), its own base_dir, state
# and log, listens on two more ports for the cases without 8BITMIME.
#
# IOP_HOLD=SECONDS waits that long before the matrix (to try the server by
# hand: the temporary directory is printed), IOP_KEEP=1 keeps it.
# TAP; skipped ("1..0 # SKIP") when not root, or Postfix, Dovecot, its submission
# service (dovecot-submissiond) or certtool are missing.
set -u
IOP_NAME=dovecot-submission
iop_dir=${top_srcdir:+$top_srcdir/tests/interop}
iop_dir=${iop_dir:-$(dirname "$0")}
. "$iop_dir/lib.sh"
. "$iop_dir/matrix.sh"
. "$iop_dir/postfix-backend.sh"

iop_need_root
iop_need_program postfix dovecot certtool
id dovecot >/dev/null 2>&1 && id dovenull >/dev/null 2>&1 ||
    skip "$IOP_NAME: the dovecot/dovenull users are missing"
# The submission binary is in the package's libexec directory.
dv_libexec=
for d in /usr/lib/dovecot /usr/libexec/dovecot; do
    [ -x "$d/submission" ] && [ -x "$d/submission-login" ] && { dv_libexec=$d; break; }
done
[ -n "$dv_libexec" ] || skip "$IOP_NAME: Dovecot's submission service is not installed (dovecot-submissiond)"

iop_tmpdir
iop_certs
PF_DIR=$IOP_DIR/pf
PF_CERT=$IOP_CERTS/server.pem PF_KEY=$IOP_CERTS/server-key.pem PF_CA=$IOP_CERTS/ca.pem
pf_prepare
# pf_halt stops Postfix and the dovecot whose base_dir is $PF_DIR/dovecot;
# iop_cleanup then removes both with $IOP_DIR (unless IOP_KEEP is set).
iop_on_exit pf_halt

ports=$(iop_free_ports 5) || exit 99
set -- $ports
relay=$1 sub=$2 subs=$3 no8bit=$4 no8bits=$5
size=30000000

# The backend: plain SMTP on loopback, mail from 127.0.0.1 only; header
# addresses left as they are ("To: root" is not made root@mx.test), so
# that what it stores can be compared with what was sent.
pfb_setup
{
    pf_main_cf
    pfb_main_cf
    cat <<EOC
message_size_limit = $((size + 1000000))
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = $PFB_RCPT_ACCESS,
    permit_mynetworks, reject
EOC
} >"$PF_DIR/etc/main.cf"
{
    cat <<EOC
127.0.0.1:$relay inet n - n - - smtpd
  -o smtpd_tls_security_level=none
  -o local_header_rewrite_clients=
EOC
    pf_master_cf
} >"$PF_DIR/etc/master.cf"
pf_launch "$relay"

# Dovecot: submission only. Its mail processes run as nobody (above
# first_valid_uid); mail_location must be set although nothing is stored.
IOP_USER=alice IOP_PASS='dove s3cret'
# Its base_dir is $PF_DIR/dovecot, where pf_halt finds master.pid.
dv=$IOP_DIR/dovecot
mkdir -p "$dv/home" "$dv/state" || exit 99
chown nobody "$dv/home"
printf '%s:{PLAIN}%s\n' "$IOP_USER" "$IOP_PASS" >"$dv/users"
chmod 644 "$dv/users"
cat >"$dv/dovecot.conf" <<EOC
base_dir = $PF_DIR/dovecot
state_dir = $dv/state
log_path = $dv/dovecot.log
instance_name = smtpfwd-iop-$$
protocols = submission
hostname = submit.x.test
ssl = yes
ssl_cert = <$IOP_CERTS/server.pem
ssl_key = <$IOP_CERTS/server-key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256
auth_verbose = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $dv/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dv/home/%n
}
mail_location = maildir:~/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = $relay
submission_relay_ssl = no
submission_max_mail_size = $size
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $sub
  }
  inet_listener submissions {
    address = 127.0.0.1
    port = $subs
    ssl = yes
  }
}
default_login_user = dovenull
default_internal_user = dovecot
EOC
dovecot -c "$dv/dovecot.conf" 2>"$dv/start.err" ||
    { cat "$dv/start.err" "$dv/dovecot.log" 2>/dev/null; exit 99; }
mkdir -p "$dv/base2" "$dv/state2" || exit 99
sed -e "s|^base_dir = .*|base_dir = $dv/base2|" -e "s|^state_dir = .*|state_dir = $dv/state2|" \
    -e "s|^log_path = .*|log_path = $dv/dovecot2.log|" \
    -e "s|^instance_name = .*|instance_name = smtpfwd-iop2-$$|" \
    -e "s|^    port = $sub\$|    port = $no8bit|" -e "s|^    port = $subs\$|    port = $no8bits|" \
    "$dv/dovecot.conf" >"$dv/dovecot2.conf" || exit 99
echo "submission_backend_capabilities =" >>"$dv/dovecot2.conf"
grep -q -x "    port = $no8bits" "$dv/dovecot2.conf" || { echo "cannot write dovecot2.conf"; exit 99; }
iop_on_exit 'kill $(cat "$dv/base2/master.pid")'
dovecot -c "$dv/dovecot2.conf" 2>"$dv/start2.err" ||
    { cat "$dv/start2.err" "$dv/dovecot2.log" 2>/dev/null; exit 99; }
iop_wait_listen "$sub" "$subs" "$no8bit" "$no8bits" ||
    { cat "$dv/dovecot.log" "$dv/dovecot2.log"; exit 99; }

# iop_server_checks: Dovecot's own view of the matrix (its log).
#  - Each AUTH case: Dovecot's Received header in the stored message says
#    "with ESMTPSA" and its id; the log line "Successfully relayed
#    message: ... id=ID" names the session, whose "Login:" line gives the
#    mechanism: the forced one, SCRAM-SHA-256 for `auth on` (Dovecot 2.3
#    has no -PLUS mechanisms).
#  - The three certificate failures (unknown-ca-system, unknown-ca-other,
#    wrong-name) reach Dovecot as TLS alerts (RFC 8446 section 6.2: the
#    side that detects the error sends one): OpenSSL's "SSL alert number
#    N" in the login process's "Disconnected" line; a connection merely
#    dropped shows as "Connection reset by peer".
# dv_relay_down: with Postfix, Dovecot's relay, stopped, Dovecot answers
# the MAIL group with 421 ("Failed to connect to relay server") and
# closes. queue off: 75, nothing queued; queue on-failure: 0, one entry
# for alice. With Postfix started again, smtpfwd -qf delivers that entry
# (exactly once) and the spool is empty. Runs last: it stops Postfix.
dv_relay_down() {
    postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1
    for cc in relay-down relay-down-queue; do
        iop_case "$cc"
        if [ "$cc" = relay-down ]; then iop_submission; else
            iop_submission "queue on-failure"
        fi
        iop_message "$IOP_RCPT"
        iop_run -v -i "$IOP_RCPT"
        iop_sent '^<-- 421 4\.4\.0 .*Failed to connect to relay server' \
            "Dovecot answers 421 without its relay"
        n=$(count_in "$iop_cdir/spool/new")
        if [ "$cc" = relay-down ]; then
            iop_status 75
            if [ "$n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
                tap_not_ok "$(iop_t "nothing queued ($n entries)")"
            fi
            dv_down_marker=$iop_marker
        else
            iop_status 0
            e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
            if [ "$n" -eq 1 ] && grep -q -x -F "rcpt: pending $IOP_RCPT" "$e"; then
                tap_ok "$(iop_t "queued for $IOP_RCPT")"
            else
                tap_not_ok "$(iop_t "queued for $IOP_RCPT ($n entries)")"
            fi
        fi
    done
    postfix -c "$PF_DIR/etc" start >/dev/null 2>&1 && iop_wait_listen "$relay" ||
        { tap_not_ok "$IOP_NAME: relay-down: Postfix starts again"; return; }
    iop_flush_all
    iop_stored "$IOP_RCPT"
    if IOP_FETCH_TIMEOUT=0 iop_fetch "$IOP_RCPT" "$dv_down_marker" >/dev/null 2>&1; then
        tap_not_ok "$IOP_NAME: relay-down: nothing stored for $IOP_RCPT"
    else
        tap_ok "$IOP_NAME: relay-down: nothing stored for $IOP_RCPT"
    fi
}

iop_server_checks() {
    pfb_eod_cases iop_submission Dovecot
    dv_log=$dv/dovecot.log
    for m in $IOP_MECHS on; do
        lm=$(echo "$m" | tr A-Z a-z)
        want=$m
        [ "$m" = on ] && want=SCRAM-SHA-256
        t="$IOP_NAME: auth-$lm: Dovecot"
        id=$(awk '$0 == "" { exit }
            /^Received: / { r = 0 } /^[ \t]+by submit\.x\.test with ESMTPSA$/ { r = 1; next }
            r && /^[ \t]+id [^ ]+$/ { print $2; exit }' "$IOP_DIR/matrix/auth-$lm/got.$IOP_RCPT" 2>/dev/null)
        if [ -z "$id" ]; then
            tap_not_ok "$t received the message with ESMTPSA (TLS and AUTH)"
            continue
        fi
        tap_ok "$t received the message with ESMTPSA (TLS and AUTH)"
        session=$(grep -F -e "Successfully relayed message: " "$dv_log" | grep -F -e " id=$id," |
            sed -n 's/^.* submission([^)]*)<[0-9]*><\([^>]*\)>: .*$/\1/p' | head -1)
        if [ -n "$session" ] &&
            grep -q -F -e "Login: user=<$IOP_USER>, method=$want, " "$dv_log" &&
            grep -F -e "Login: user=<$IOP_USER>, method=$want, " "$dv_log" | grep -q -F -e "session=<$session>"; then
            tap_ok "$t logged method=$want for the session"
        else
            tap_not_ok "$t logged method=$want for the session"
            grep -F -e "session=<${session:-?}>" "$dv_log" | sed 's/^/#   /'
        fi
    done
    # Without a system trust store unknown-ca-system is a configuration
    # error (78) found before the handshake: one alert fewer.
    want=3
    [ "$(system_trust_anchors)" -gt 0 ] || want=2
    n=$(grep -c 'TLS handshaking: SSL_accept() failed: .*SSL alert number' "$dv_log")
    if [ "$n" -eq "$want" ]; then
        tap_ok "$IOP_NAME: certificate failures: Dovecot received $want TLS alerts"
    else
        tap_not_ok "$IOP_NAME: certificate failures: Dovecot received $n TLS alerts, expected $want"
        grep 'TLS handshaking: ' "$dv_log" | sed 's/^.*TLS handshaking: /#   /'
    fi
    dv_relay_down
}

IOP_HOST=localhost
IOP_STARTTLS_PORT=$sub
IOP_TLS_PORT=$subs
IOP_NOPIPE_PORT=
IOP_WRONGNAME_PORT=
IOP_NO8BIT_PORT=$no8bit
IOP_NOUTF8_PORT=$sub
IOP_CA=$PF_CA
IOP_MECHS="PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256"
IOP_RCPT=alice@x.test
IOP_RCPT2=bob@x.test
IOP_FROM=sender@x.test
IOP_REFUSED_RCPT=nobody@x.test
IOP_TEMPFAIL_RCPT=later@x.test
IOP_SIZE_LIMIT=$size
IOP_CHUNKING=yes
IOP_DSN=no
[ -n "${IOP_HOLD:-}" ] && { echo "# holding: $IOP_DIR"; sleep "$IOP_HOLD"; }
run_matrix
