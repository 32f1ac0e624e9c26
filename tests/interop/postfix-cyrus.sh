#!/bin/sh
# tests/interop/postfix-cyrus.sh - the delivery matrix (matrix.sh) against a
# private Postfix that authenticates with Cyrus SASL (sasldb), the other
# SASL implementation Postfix offers (tests/postfix-tls.sh covers Dovecot
# SASL).
#
# Owns: the Postfix + Cyrus SASL instance. Postfix runs with `postfix -c`
# on its own config directory, queue and maildirs under the temporary
# directory (tests/postfix-lib.sh), no smtpd chrooted; Cyrus SASL reads
# $PF_DIR/etc/sasl/smtpd.conf (cyrus_sasl_config_path upstream; Debian's
# Postfix always looks in $config_directory/sasl), which checks passwords
# against its own sasldb made with saslpasswd2 (realm x.test, which is
# smtpd_sasl_local_domain). Nothing of the system's Postfix, Cyrus or
# /etc/sasldb2 is read or changed.
#
# Ports (random, loopback):
#   submission  STARTTLS required, AUTH after TLS only
#   smtps       implicit TLS
#   nopipe      as submission, without PIPELINING (smtpd_discard_ehlo_keywords)
#   wrongname   as submission, with a certificate for wrong.example
#   big         as submission, message_size_limit 30 MB (smtpd and cleanup)
#   limit       as submission, at most 2 recipients per message
#               (smtpd_recipient_limit: "452 4.5.3 Error: too many
#               recipients" to the third)
#   no8bit      as submission, without 8BITMIME and SMTPUTF8
#               (smtpd_discard_ehlo_keywords, smtputf8_enable = no), for
#               the conversion cases (convert-cases.sh)
#   noutf8      as submission, 8BITMIME without SMTPUTF8
# (these two with local_header_rewrite_clients empty: Postfix leaves the
# header addresses alone, "To: root" included, so that what it stores
# can be compared with what was sent)
# The others announce SIZE 1048576. Postfix offers CHUNKING and DSN.
# Mechanisms: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256
# NTLM, those of them that both Cyrus's plugins and smtpfwd's GNU SASL have.
# Recipients alice@x.test and bob@x.test (and sender@x.test, where the
# delivery notifications go) have their own maildirs; check_recipient_access
# refuses nobody@x.test with 550 and defers later@x.test with 450; chosen
# messages are refused (550) or deferred (451) at the end of their data,
# after DATA and after BDAT LAST (tests/interop/postfix-backend.sh, run
# from iop_server_checks).
#
# IOP_HOLD=SECONDS waits that long before the matrix (to try the server by
# hand: the temporary directory is printed), IOP_KEEP=1 keeps it.
# TAP; skipped ("1..0 # SKIP") when not root, or Postfix, saslpasswd2 (sasl2-bin),
# Cyrus's sasldb plugin (libsasl2-modules-db) or certtool are missing.
set -u
IOP_NAME=postfix-cyrus
iop_dir=${top_srcdir:+$top_srcdir/tests/interop}
iop_dir=${iop_dir:-$(dirname "$0")}
. "$iop_dir/lib.sh"
. "$iop_dir/matrix.sh"
. "$iop_dir/postfix-backend.sh"

iop_need_root
iop_need_program postfix saslpasswd2 certtool
# The plugins live in the multiarch directory libsasl2 was built for.
sasl_plugins=
for d in /usr/lib/*/sasl2 /usr/lib/sasl2; do
    ls "$d"/libsasldb.so* >/dev/null 2>&1 && { sasl_plugins=$d; break; }
done
[ -n "$sasl_plugins" ] ||
    skip "$IOP_NAME: Cyrus SASL's sasldb plugin is not installed (libsasl2-modules-db)"
postconf -a 2>/dev/null | grep -q -x cyrus || skip "$IOP_NAME: this Postfix has no Cyrus SASL support"

iop_tmpdir
iop_certs
PF_DIR=$IOP_DIR/pf
PF_CERT=$IOP_CERTS/server.pem PF_KEY=$IOP_CERTS/server-key.pem PF_CA=$IOP_CERTS/ca.pem
pf_prepare
# iop_cleanup removes $PF_DIR with $IOP_DIR (unless IOP_KEEP is set).
iop_on_exit pf_halt

# The mechanisms: those of libsasl2-modules that GNU SASL (smtpfwd) also
# speaks (DIGEST-MD5 and NTLM depend on how it was built: asked of the
# library smtpfwd loads). Cyrus offers only those in mech_list.
want_mechs="PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 NTLM"
gsasl_has=$("$PYTHON" -c '
import ctypes, ctypes.util, sys
lib = ctypes.CDLL(ctypes.util.find_library("gsasl") or "libgsasl.so.18")
ctx = ctypes.c_void_p()
if lib.gsasl_init(ctypes.byref(ctx)) != 0:
    sys.exit(1)
print(" ".join(m for m in sys.argv[1:] if lib.gsasl_client_support_p(ctx, m.encode())))
' $want_mechs 2>/dev/null) || gsasl_has="PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256"
IOP_MECHS=
for m in $want_mechs; do
    case $m in
    PLAIN) lib=plain ;; LOGIN) lib=login ;; CRAM-MD5) lib=crammd5 ;;
    DIGEST-MD5) lib=digestmd5 ;; SCRAM-*) lib=scram ;; NTLM) lib=ntlm ;;
    esac
    case " $gsasl_has " in *" $m "*) ;; *) continue ;; esac
    ls "$sasl_plugins/lib$lib.so"* >/dev/null 2>&1 && IOP_MECHS="$IOP_MECHS $m"
done
IOP_MECHS=${IOP_MECHS# }
[ -n "$IOP_MECHS" ] || skip "$IOP_NAME: no Cyrus SASL mechanism plugins (libsasl2-modules)"

IOP_USER=alice IOP_PASS='cyrus s3cret'
mkdir -p "$PF_DIR/etc/sasl" || exit 99
# saslpasswd2 reads the password from standard input with -p; it stores it
# as the plain userPassword (CRAM-MD5 and DIGEST-MD5 need it) and the
# SCRAM secrets.
printf '%s' "$IOP_PASS" |
    saslpasswd2 -f "$PF_DIR/etc/sasldb2" -p -c -u x.test "$IOP_USER" 2>"$IOP_DIR/saslpasswd2.err" ||
    { cat "$IOP_DIR/saslpasswd2.err"; echo "saslpasswd2 failed"; exit 99; }
chown postfix:postfix "$PF_DIR/etc/sasldb2"
chmod 640 "$PF_DIR/etc/sasldb2"
cat >"$PF_DIR/etc/sasl/smtpd.conf" <<EOC
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $PF_DIR/etc/sasldb2
mech_list: $IOP_MECHS
EOC
chmod 755 "$PF_DIR/etc/sasl"
chmod 644 "$PF_DIR/etc/sasl/smtpd.conf"

pfb_setup

ports=$(iop_free_ports 8) || exit 99
set -- $ports
sub=$1 smtps=$2 nopipe=$3 wrongname=$4 big=$5 limit=$6 no8bit=$7 noutf8=$8
size=1048576 big_size=30000000
{
    pf_main_cf
    pfb_main_cf
    cat <<EOC
message_size_limit = $size
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $PF_DIR/etc/sasl
smtpd_sasl_local_domain = x.test
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = $PFB_RCPT_ACCESS,
    permit_sasl_authenticated, reject
EOC
} >"$PF_DIR/etc/main.cf"
{
    cat <<EOC
127.0.0.1:$sub inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:$smtps inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:$nopipe inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_discard_ehlo_keywords=pipelining
127.0.0.1:$wrongname inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_cert_file=$IOP_CERTS/wrongname.pem
  -o smtpd_tls_key_file=$IOP_CERTS/wrongname-key.pem
127.0.0.1:$big inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o message_size_limit=$big_size
  -o cleanup_service_name=bigcleanup
127.0.0.1:$limit inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_recipient_limit=2
127.0.0.1:$no8bit inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_discard_ehlo_keywords=8bitmime,smtputf8
  -o smtputf8_enable=no
  -o local_header_rewrite_clients=
127.0.0.1:$noutf8 inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_discard_ehlo_keywords=smtputf8
  -o smtputf8_enable=no
  -o local_header_rewrite_clients=
bigcleanup unix n - n - 0 cleanup
  -o message_size_limit=$big_size
EOC
    pf_master_cf
} >"$PF_DIR/etc/master.cf"
pf_launch "$sub" "$smtps" "$nopipe" "$wrongname" "$big" "$limit" "$no8bit" "$noutf8"

# iop_server_checks: Postfix's own view of the matrix (its maillog).
#  - Each AUTH case: the message was received "with ESMTPSA" (TLS and
#    AUTH), and Postfix logged the mechanism for its queue id: the forced
#    one, SCRAM-SHA-256 for `auth on` (the strongest both have; Postfix
#    gives Cyrus no channel binding, so no -PLUS).
#  - No "improper command pipelining" anywhere: Postfix logs it when a
#    client sends ahead of a reply where it may not (on the port without
#    PIPELINING, any command).
#  - The four certificate failures (unknown-ca-system, unknown-ca-other,
#    wrong-name, wrong-name-port) reach Postfix as TLS alerts (RFC 8446
#    section 6.2: the side that detects the error sends one), which its
#    OpenSSL logs as "SSL alert number N"; a connection merely dropped
#    shows as "SSL_accept error ...: Connection reset by peer".
#  - The DSN case (-N success,failure -R hdrs -V ENVID): Postfix honoured
#    the parameters: a success notification in the sender's maildir with
#    that Original-Envelope-Id, "Action: delivered" for the recipient, and
#    the headers only (text/rfc822-headers, not the body's marker line).
# pf_rcpt_limit: three recipients on the port that takes two per message:
# the third gets 452 (RFC 5321 section 4.5.3.1.10: to be retried); with
# queue on-failure smtpfwd exits 0 and keeps an entry for the third only;
# a forced flush (-qf: its next attempt is not due yet) then delivers it. Each recipient gets the message
# exactly once, and the spool is empty afterwards.
pf_rcpt_limit() {
    iop_case rcpt-limit
    iop_account "$limit" "queue on-failure"
    iop_message "$IOP_RCPT, $IOP_RCPT2, $IOP_FROM"
    iop_run -v -i "$IOP_RCPT" "$IOP_RCPT2" "$IOP_FROM"
    iop_status 0
    iop_sent '^<-- 452 4\.5\.3 ' "Postfix answers the third RCPT with 452"
    e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
    if [ "$(count_in "$iop_cdir/spool/new")" -eq 1 ] &&
        grep -q -x -F "rcpt: pending $IOP_FROM" "$e" &&
        ! grep -q -E "^rcpt: pending ($IOP_RCPT|$IOP_RCPT2)\$" "$e"; then
        tap_ok "$(iop_t "one entry, pending for $IOP_FROM only")"
    else
        tap_not_ok "$(iop_t "one entry, pending for $IOP_FROM only")"
        [ -n "$e" ] && sed -n '/^rcpt/p' "$e" | sed 's/^/#   /'
    fi
    iop_stored "$IOP_RCPT"
    iop_stored "$IOP_RCPT2"
    iop_flush_all
    if grep -q -E "^--> RCPT TO:<$IOP_FROM>" "$iop_cdir/flush.err" &&
        ! grep -q -E "^--> RCPT TO:<($IOP_RCPT|$IOP_RCPT2)>" "$iop_cdir/flush.err"; then
        tap_ok "$(iop_t "the flush sends to $IOP_FROM only")"
    else
        tap_not_ok "$(iop_t "the flush sends to $IOP_FROM only")"
        grep '^--> RCPT' "$iop_cdir/flush.err" | sed 's/^/#   /'
    fi
    iop_stored "$IOP_FROM"
    # Nothing more for the first two (exactly once: iop_stored fails on
    # a second copy).
    iop_stored "$IOP_RCPT"
    iop_stored "$IOP_RCPT2"
}

iop_server_checks() {
    pfb_eod_cases iop_submission Postfix
    pf_rcpt_limit
    pf_log=$PF_DIR/maillog
    for m in $IOP_MECHS on; do
        lm=$(echo "$m" | tr A-Z a-z)
        want=$m
        [ "$m" = on ] && want=SCRAM-SHA-256
        t="$IOP_NAME: auth-$lm: Postfix"
        qid=$(sed -n 's/^[[:space:]]*by mx\.test (Postfix) with ESMTPSA id \([0-9A-Za-z]*\)$/\1/p' \
            "$IOP_DIR/matrix/auth-$lm/got.$IOP_RCPT" 2>/dev/null | head -1)
        if [ -z "$qid" ]; then
            tap_not_ok "$t received the message with ESMTPSA (TLS and AUTH)"
            continue
        fi
        tap_ok "$t received the message with ESMTPSA (TLS and AUTH)"
        line="$qid: client=localhost[127.0.0.1], sasl_method=$want, sasl_username=$IOP_USER@x.test"
        if grep -q -F -e "$line" "$pf_log"; then tap_ok "$t logged sasl_method=$want"; else
            tap_not_ok "$t logged sasl_method=$want"
            grep -F -e "$qid: client=" "$pf_log" | sed 's/^/#   /'
        fi
    done
    if grep -q 'improper command pipelining' "$pf_log"; then
        tap_not_ok "$IOP_NAME: Postfix saw no improper command pipelining"
        grep 'improper command pipelining' "$pf_log" | head -5 | sed 's/^/#   /'
    else
        tap_ok "$IOP_NAME: Postfix saw no improper command pipelining"
    fi
    t="$IOP_NAME: dsn: Postfix"
    if iop_maildir_fetch "$PF_DIR/mail/${IOP_FROM%@*}" "Original-Envelope-Id: iop.$IOP_NAME.$$" \
        >"$IOP_DIR/dsn-notice" 2>&1; then
        tap_ok "$t sent a notification with the ENVID"
        dsn_marker=$(head -1 "$IOP_DIR/matrix/dsn/body")
        if grep -q -x -F -e "Action: delivered" "$IOP_DIR/dsn-notice" &&
            grep -q -x -F -e "Final-Recipient: rfc822; $IOP_RCPT" "$IOP_DIR/dsn-notice"; then
            tap_ok "$t reports the success for $IOP_RCPT (NOTIFY=SUCCESS)"
        else
            tap_not_ok "$t reports the success for $IOP_RCPT (NOTIFY=SUCCESS)"
            tap_file "$IOP_DIR/dsn-notice"
        fi
        if grep -q -F -e "Content-Type: text/rfc822-headers" "$IOP_DIR/dsn-notice" &&
            grep -q -x -F -e "Subject: smtpfwd interop $IOP_NAME dsn" "$IOP_DIR/dsn-notice" &&
            ! grep -q -x -F -e "$dsn_marker" "$IOP_DIR/dsn-notice"; then
            tap_ok "$t returns the headers only (RET=HDRS)"
        else
            tap_not_ok "$t returns the headers only (RET=HDRS)"
            tap_file "$IOP_DIR/dsn-notice"
        fi
    else
        tap_not_ok "$t sent a notification with the ENVID"
        tap_file "$IOP_DIR/dsn-notice"
    fi
    # Without a system trust store unknown-ca-system is a configuration
    # error (78) found before the handshake: one alert fewer.
    want=4
    [ "$(system_trust_anchors)" -gt 0 ] || want=3
    n=$(grep -c 'SSL alert number' "$pf_log")
    if [ "$n" -eq "$want" ]; then
        tap_ok "$IOP_NAME: certificate failures: Postfix received $want TLS alerts"
    else
        tap_not_ok "$IOP_NAME: certificate failures: Postfix received $n TLS alerts, expected $want"
        grep -E 'SSL_accept error|SSL alert number' "$pf_log" | sed 's/^[^]]*]: /#   /'
    fi
}

IOP_HOST=localhost
IOP_STARTTLS_PORT=$sub
IOP_TLS_PORT=$smtps
IOP_NOPIPE_PORT=$nopipe
IOP_NOPIPE_TLS=starttls
IOP_WRONGNAME_PORT=$wrongname
IOP_BIG_PORT=$big
IOP_NO8BIT_PORT=$no8bit
IOP_NOUTF8_PORT=$noutf8
IOP_CA=$PF_CA
IOP_RCPT=alice@x.test
IOP_RCPT2=bob@x.test
IOP_FROM=sender@x.test
IOP_REFUSED_RCPT=nobody@x.test
IOP_TEMPFAIL_RCPT=later@x.test
IOP_SIZE_LIMIT=$size
IOP_CHUNKING=yes
IOP_DSN=yes
[ -n "${IOP_HOLD:-}" ] && { echo "# holding: $IOP_DIR"; sleep "$IOP_HOLD"; }
run_matrix
