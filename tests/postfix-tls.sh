#!/bin/sh
# postfix-tls.sh - smtpfwd delivers through a real Postfix smarthost with
# Dovecot SASL (tests/postfix-lib.sh) over TLS with authentication, and
# every message is read back from Postfix's maildir.
#
# Owns: the end-to-end TLS + AUTH cases against real servers.
#  - STARTTLS on the submission port (host 127.0.0.1 + tls_host_override
#    localhost, and host localhost) and implicit TLS on the smtps port
#    (tls_starttls off), each with every mechanism Dovecot offers here
#    (plain, login, cram-md5, scram-sha-1, scram-sha-256) forced with
#    `auth MECH`, and with `auth on` (which must pick SCRAM-SHA-256, the
#    strongest both offer). Each message is compared in the maildir (body,
#    From/To/Subject/Message-ID/Date, Return-Path, Delivered-To), Postfix
#    must have received it "with ESMTPSA" (TLS + AUTH) and logged the
#    mechanism, smtpfwd must exit 0 and write "tls=on auth=on user=alice"
#    to its logfile, and the -v transcript must not show the password.
#  - passwordeval as the password source.
#  - CHUNKING: Postfix offers it, so a delivery uses BDAT LAST (the -v
#    transcript shows it, no DATA); with `chunking off` it uses DATA. Both
#    messages are read back intact from the maildir. (Every `auth plain`
#    case above pipelines AUTH with the group and so still uses DATA.)
#  - TLS session resumption: the second delivery resumes the session the
#    first one kept (cache file mode 0600), `tls_session_cache off` does not
#    resume; most cases above share settings and so resume too, while every
#    failure case below has other settings and gets a full handshake.
#  - --serverinfo shows the certificate fingerprint, subject, issuer and
#    the AUTH mechanisms of both ports.
#  - Failure paths: wrong password (77, the server's 535 quoted), no trust
#    file (system store lacks the test CA: 77; no system store at all: 78),
#    a host name the
#    certificate does not match (77), a wrong tls_fingerprint (77), the
#    right fingerprint without a trust file (delivered), `tls off` on the
#    submission port, where Postfix offers no AUTH without TLS (69). None
#    of the failures may deliver anything or send AUTH before the
#    certificate is accepted.
# TAP (tests/lib.sh), one result per check, named "CASE: what"; skipped
# when not root, Postfix/Dovecot are missing or smtpfwd is built without
# GNU SASL; 99 on a setup error.
set -u
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"
need_built
"$SMTPFWD" --version 2>/dev/null | grep -q 'SASL' || skip_all "smtpfwd was built without GNU SASL"
. "$here/postfix-lib.sh"

pf_start
client=$PF_DIR/client
mkdir -m 700 "$client" "$client/home" "$client/tmp" || exit 99
# The same private environment as the other tests: no system smtprc, no
# keyring, no ~/.netrc, no terminal to prompt on.
HOME=$client/home XDG_CONFIG_HOME=$client/home/.config XDG_STATE_HOME=$client/home/.state
XDG_DATA_HOME=$client/home/.data XDG_CACHE_HOME=$client/home/.cache XDG_RUNTIME_DIR=$client/tmp
TMPDIR=$client/tmp SMTPFWD_SYSCONF= LANG=C LC_ALL=C TZ=UTC
export HOME XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR \
    TMPDIR SMTPFWD_SYSCONF LANG LC_ALL TZ
unset DBUS_SESSION_BUS_ADDRESS 2>/dev/null

delivered=0          # messages that must be in the maildir by now
# pass WHAT / fail WHAT: one TAP result for the current case.
pass() { ok "$case_name: $*"; }
fail() { not_ok "$case_name: $*"; }
note() { echo "# $*"; }

# The server certificate's SHA-256 fingerprint, "AA:BB:..." as msmtp
# prints it.
fingerprint=$("${PYTHON:-python3}" -c '
import hashlib, ssl, sys
der = ssl.PEM_cert_to_DER_cert(open(sys.argv[1]).read())
h = hashlib.sha256(der).hexdigest().upper()
print(":".join(h[i:i + 2] for i in range(0, len(h), 2)))' "$PF_DIR/tls/server.pem") || exit 99
# How many trust anchors this machine's system store has (tests/lib.sh).
system_cas=$(system_trust_anchors) || exit 99
if [ "$system_cas" -gt 0 ]; then
    # The store does not know the test CA: the certificate is refused.
    nostore_status=77 nostore_exitcode=EX_NOPERM
else
    # No store at all: a configuration error that says what to set.
    note "this machine has no system trust store: without tls_trust_file, 78 is expected"
    nostore_status=78 nostore_exitcode=EX_CONFIG
fi

# What AUTH PLAIN would send for the right password (must never be shown).
plain_b64=$(printf '\000%s\000%s' "$PF_USER" "$PF_PASS" | base64 | tr -d '\n')

# account NAME LINES...: write $client/NAME.rc (mode 600) with the common
# settings and the given lines.
account() {
    rc=$client/$1.rc
    shift
    {
        echo "account default"
        echo "from me@x.test"
        echo "domain client.x.test"
        echo "timeout 20"
        echo "queue off"
        echo "logfile $client/$case_name.log"
        for line in "$@"; do echo "$line"; done
    } >"$rc"
    chmod 600 "$rc"
}

# message TAG: the input message of a case in $client/TAG.in, its body in
# $client/TAG.body.
message() {
    {
        printf 'From: Me <me@x.test>\n'
        printf 'To: rcpt@x.test\n'
        printf 'Subject: smtpfwd postfix-tls %s\n' "$1"
        printf 'Message-ID: <%s.postfix-tls@client.x.test>\n' "$1"
        printf 'Date: Mon, 02 Nov 2026 10:00:00 +0000\n'
        printf 'MIME-Version: 1.0\n'
        printf 'Content-Type: text/plain; charset=utf-8\n'
        printf 'Content-Transfer-Encoding: 8bit\n'
        printf '\n'
    } >"$client/$1.in"
    {
        printf 'Case %s through a real Postfix.\n' "$1"
        printf '.a line that starts with a dot\n'
        printf '.\n'
        printf 'Gr\303\274\303\237e, 8-bit text \342\202\254\n'
        printf '\n'
        printf 'last line\n'
    } >"$client/$1.body"
    cat "$client/$1.body" >>"$client/$1.in"
}

# run ARGS...: run smtpfwd with $rc, stdin $client/$case_name.in; output in
# $client/$case_name.out/.err, status in $status.
run() {
    timeout 60 "$SMTPFWD" -C "$rc" "$@" <"$client/$case_name.in" \
        >"$client/$case_name.out" 2>"$client/$case_name.err"
    status=$?
    err=$client/$case_name.err
}

expect_status() {
    if [ "$status" -eq "$1" ]; then pass "smtpfwd exits $1"; else
        fail "smtpfwd exited $status, expected $1; stderr:"
        sed 's/^/#   /' "$err"
    fi
}

# no_secret: neither the password nor its AUTH PLAIN encoding appears in
# smtpfwd's output or log file.
no_secret() {
    for f in "$err" "$client/$case_name.out" "$client/$case_name.log"; do
        [ -f "$f" ] || continue
        if grep -q -F -e "$PF_PASS" -e "$plain_b64" "$f"; then
            fail "the password appears in $(basename "$f")"
        else pass "the password is not in $(basename "$f")"; fi
    done
}

# no_auth_sent: the -v transcript shows no AUTH command.
no_auth_sent() {
    if grep -q -i '^--> AUTH' "$err"; then fail "AUTH was sent: $(grep -i '^--> AUTH' "$err")"; else pass "no AUTH sent"; fi
    if grep -q -i '^--> MAIL FROM' "$err"; then fail "MAIL FROM was sent"; else pass "no MAIL FROM sent"; fi
}

# log_line PATTERN: the case's logfile has exactly one line, matching the
# extended regular expression PATTERN.
log_line() {
    lf=$client/$case_name.log
    n=$(wc -l <"$lf" 2>/dev/null || echo 0)
    if [ "$n" -ne 1 ]; then
        fail "logfile has $n lines, expected 1: $(cat "$lf" 2>/dev/null)"
    elif ! grep -q -E -e "$1" "$lf"; then
        fail "logfile line does not match /$1/: $(cat "$lf")"
    else pass "one logfile line, matching /$1/"; fi
}

# header_once FILE LINE: FILE's header section holds LINE exactly once.
header_once() {
    c=$(awk '$0 == "" { exit } { print }' "$1" | grep -c -x -F -e "$2")
    if [ "$c" -eq 1 ]; then pass "delivered message has '$2' once"; else fail "delivered message has '$2' $c times"; fi
}

# check_delivered MECH: the message of this case is in the maildir, intact,
# received over TLS with AUTH (Postfix: "with ESMTPSA"), and Postfix logged
# the SASL mechanism MECH for user alice.
check_delivered() {
    # Only wait for the maildir when smtpfwd says it was accepted (a
    # failure is reported already, and waiting would just time out).
    [ "$status" -eq 0 ] || return
    delivered=$((delivered + 1))
    pf_wait_mail "$delivered" || { fail "message not delivered to the maildir"; return; }
    subject="Subject: smtpfwd postfix-tls $case_name"
    msg=
    for f in $(pf_messages); do
        if awk '$0 == "" { exit } { print }' "$f" | grep -q -x -F -e "$subject"; then
            [ -z "$msg" ] || fail "delivered twice: $msg and $f"
            msg=$f
        fi
    done
    [ -n "$msg" ] || { fail "no message with '$subject' in the maildir"; return; }
    pass "the message is in the maildir"
    header_once "$msg" "Return-Path: <me@x.test>"
    header_once "$msg" "Delivered-To: rcpt@x.test"
    header_once "$msg" "From: Me <me@x.test>"
    header_once "$msg" "To: rcpt@x.test"
    header_once "$msg" "$subject"
    header_once "$msg" "Message-ID: <$case_name.postfix-tls@client.x.test>"
    header_once "$msg" "Date: Mon, 02 Nov 2026 10:00:00 +0000"
    awk 'body { print } $0 == "" { body = 1 }' "$msg" >"$client/$case_name.got"
    if cmp -s "$client/$case_name.body" "$client/$case_name.got"; then pass "the body is what was sent"; else
        fail "body differs from what was sent:"
        diff "$client/$case_name.body" "$client/$case_name.got" | sed 's/^/#   /'
    fi
    # Postfix's Received: header: "with ESMTPSA id QUEUEID" = TLS + AUTH.
    received=$(awk '$0 == "" { exit } /^Received:/ { r = 1 } r && /^[^ \t]/ && !/^Received:/ { exit } r { printf "%s ", $0 }' "$msg")
    case $received in
    *" with ESMTPSA id "*) pass "Postfix received it with TLS and AUTH (ESMTPSA)" ;;
    *) fail "Postfix did not receive it with TLS and AUTH (ESMTPSA): $received" ;;
    esac
    qid=$(printf '%s\n' "$received" | sed -n 's/.* with ESMTPSA id \([0-9A-Za-z]*\).*/\1/p')
    if [ -n "$qid" ] && [ -n "$1" ]; then
        if grep -q -E -e "$qid: client=[^ ]*\[127\.0\.0\.1\], sasl_method=$1, sasl_username=$PF_USER\$" "$PF_DIR/maillog"; then
            pass "Postfix logged sasl_method=$1 for $qid"
        else
            fail "Postfix did not log sasl_method=$1 for $qid: $(grep -F "$qid: client=" "$PF_DIR/maillog")"
        fi
    fi
}

# not_delivered: nothing for this case reached the maildir (checked again
# at the end, after later messages have gone through the queue).
undelivered_cases=
not_delivered() {
    undelivered_cases="$undelivered_cases $case_name"
}

# auth_shown MECH: the -v transcript shows "--> AUTH MECH" (initial
# response masked or absent) and, when there is a terminal SMTP success,
# the server's 235.
auth_shown() {
    if grep -q -i -E "^--> AUTH $1( |\$)" "$err"; then pass "the transcript shows AUTH $1"; else
        fail "the transcript does not show AUTH $1: $(grep -i '^--> AUTH' "$err")"
    fi
    if grep -q '^<-- 235' "$err"; then pass "the transcript shows the server's 235"; else fail "the transcript does not show the server's 235"; fi
}

# success_case NAME MECH(uppercase, for checks) ACCOUNT-LINES...: deliver
# with -v and check everything.
success_case() {
    case_name=$1
    want_mech=$2
    shift 2
    message "$case_name"
    account "$case_name" "$@"
    run -v -i rcpt@x.test
    expect_status 0
    auth_shown "$want_mech"
    no_secret
    log_line "(^| )host=[^ ]+ tls=on auth=on user=$PF_USER from=me@x.test recipients=rcpt@x.test .*exitcode=EX_OK\$"
    check_delivered "$want_mech"
}

# 1. Every mechanism, and auth on, over each way of doing TLS.
pw="password \"$PF_PASS\""
for mech in plain login cram-md5 scram-sha-1 scram-sha-256 on; do
    if [ "$mech" = on ]; then MECH=SCRAM-SHA-256; else MECH=$(echo "$mech" | tr a-z A-Z); fi
    success_case "starttls-ip-$mech" "$MECH" "host 127.0.0.1" "port $PF_SUB" \
        "tls_host_override localhost" "tls_trust_file $PF_CA" "auth $mech" "user $PF_USER" "$pw"
    success_case "starttls-name-$mech" "$MECH" "host localhost" "port $PF_SUB" \
        "tls_trust_file $PF_CA" "auth $mech" "user $PF_USER" "$pw"
    success_case "smtps-$mech" "$MECH" "host localhost" "port $PF_SMTPS" "tls_starttls off" \
        "tls_trust_file $PF_CA" "auth $mech" "user $PF_USER" "$pw"
done
# STARTTLS was really used on the submission port, and not on smtps.
case_name=starttls-name-on
if grep -q '^--> STARTTLS' "$client/starttls-name-on.err"; then pass "STARTTLS in the transcript"; else fail "no STARTTLS in the transcript"; fi
# After STARTTLS the capabilities come from a second EHLO.
c=$(grep -c '^--> EHLO client.x.test' "$client/starttls-name-on.err")
if [ "$c" -eq 2 ]; then pass "EHLO sent twice (before and after STARTTLS)"; else fail "EHLO sent $c times, expected 2 (before and after STARTTLS)"; fi
case_name=smtps-on
if grep -q '^--> STARTTLS' "$client/smtps-on.err"; then fail "STARTTLS sent on the implicit TLS port"; else pass "no STARTTLS on the implicit TLS port"; fi

# 2. The password from passwordeval (quoted command, trailing newline of
#    echo removed); without -v smtpfwd prints nothing.
for how in printf echo; do
    case_name=passwordeval-$how
    message "$case_name"
    if [ $how = printf ]; then
        account "$case_name" "host localhost" "port $PF_SUB" "tls_trust_file $PF_CA" "auth on" \
            "user $PF_USER" "passwordeval \"printf '%s' '$PF_PASS'\""
    else
        account "$case_name" "host localhost" "port $PF_SMTPS" "tls_starttls off" \
            "tls_trust_file $PF_CA" "auth plain" "user $PF_USER" "passwordeval \"echo '$PF_PASS'\""
    fi
    run -i rcpt@x.test
    expect_status 0
    if [ -s "$err" ]; then fail "smtpfwd printed on stderr: $(cat "$err")"; else pass "nothing on stderr"; fi
    no_secret
    log_line "(^| )host=localhost tls=on auth=on user=$PF_USER .*exitcode=EX_OK\$"
    if [ $how = printf ]; then check_delivered SCRAM-SHA-256; else check_delivered PLAIN; fi
done

# 3. Wrong password: 77, the server's 535 quoted, nothing delivered.
for mech in plain on; do
    case_name=wrong-password-$mech
    message "$case_name"
    account "$case_name" "host localhost" "port $PF_SUB" "tls_trust_file $PF_CA" "auth $mech" \
        "user $PF_USER" "password \"not $PF_PASS\""
    run -i rcpt@x.test
    expect_status 77
    if grep -q '^smtpfwd: .*535' "$err"; then pass "the server's 535 is quoted"; else fail "the server's 535 is not quoted: $(cat "$err")"; fi
    if grep -q -i 'authentication failed' "$err"; then pass "the server's words are quoted"; else
        fail "the server's words are not quoted: $(cat "$err")"
    fi
    if grep -q -F -e "not $PF_PASS" "$err" "$client/$case_name.log"; then fail "the wrong password is shown"; else pass "the wrong password is not shown"; fi
    log_line "(^| )host=localhost tls=on auth=on user=$PF_USER .*smtpstatus=535 .*exitcode=EX_NOPERM\$"
    not_delivered
done

# Without a system store the message says so and what to set instead.
no_store_diagnostic() {
    if grep -q "^smtpfwd: .*system's trusted certificates.*tls_trust_file" "$err"; then pass "a clear message about the missing system trust store"; else
        fail "no clear message about the missing system trust store: $(grep '^smtpfwd: ' "$err")"
    fi
}

# 4. Certificate failures: 77 before any AUTH or MAIL, nothing delivered.
#    a) no trust file: the system store does not know the test CA (78 and
#       a message saying what to set when the machine has no store);
#    b) a name the certificate does not carry;
#    c) a wrong fingerprint (the right one with its last byte changed), no
#       trust file.
last=${fingerprint##*:}
if [ "$last" = 00 ]; then wrong_fp=${fingerprint%:*}:01; else wrong_fp=${fingerprint%:*}:00; fi
for c in no-trust-file wrong-name wrong-fingerprint; do
    case_name=$c
    message "$case_name"
    case $c in
    no-trust-file) extra="host localhost" ;;
    wrong-name) extra="tls_trust_file $PF_CA" ;;
    wrong-fingerprint) extra="tls_fingerprint $wrong_fp" ;;
    esac
    if [ $c = wrong-name ]; then
        account "$case_name" "host 127.0.0.1" "tls_host_override mx.other.test" "port $PF_SUB" \
            "$extra" "auth on" "user $PF_USER" "$pw"
    else
        account "$case_name" "host localhost" "port $PF_SUB" "$extra" "auth on" "user $PF_USER" "$pw"
    fi
    run -v -i rcpt@x.test
    want=77 exitcode=EX_NOPERM
    [ $c = no-trust-file ] && want=$nostore_status exitcode=$nostore_exitcode
    expect_status $want
    if grep -q '^smtpfwd: ' "$err"; then pass "a diagnostic"; else fail "no diagnostic: $(cat "$err")"; fi
    if grep -q -i -E 'certificate|fingerprint|trust|issuer|host ?name' "$err"; then pass "the diagnostic says what was wrong with the certificate"; else
        fail "the diagnostic does not say what was wrong with the certificate: $(grep '^smtpfwd: ' "$err")"
    fi
    if [ "$want" = 78 ]; then no_store_diagnostic; fi
    if grep -q '^--> STARTTLS' "$err"; then pass "STARTTLS was tried"; else fail "STARTTLS was not even tried"; fi
    no_auth_sent
    no_secret
    log_line "exitcode=$exitcode\$"
    not_delivered
done
# The same with the real server's name and implicit TLS: unknown issuer.
case_name=smtps-no-trust-file
message "$case_name"
account "$case_name" "host localhost" "port $PF_SMTPS" "tls_starttls off" "auth on" "user $PF_USER" "$pw"
run -v -i rcpt@x.test
expect_status $nostore_status
[ "$nostore_status" = 78 ] && no_store_diagnostic
no_auth_sent
not_delivered

# 5. The right fingerprint and no trust file: delivered (STARTTLS and
#    implicit TLS); lowercase hex is accepted as msmtp does.
case_name=right-fingerprint
success_case "$case_name" SCRAM-SHA-256 "host localhost" "port $PF_SUB" \
    "tls_fingerprint $fingerprint" "auth on" "user $PF_USER" "$pw"
success_case "smtps-right-fingerprint" PLAIN "host localhost" "port $PF_SMTPS" "tls_starttls off" \
    "tls_fingerprint $(echo "$fingerprint" | tr A-F a-f)" "auth plain" "user $PF_USER" "$pw"

# 6. tls off against the submission port with auth on: Postfix offers no
#    AUTH without TLS (smtpd_tls_auth_only), so 69 and nothing sent.
case_name=tls-off-auth-on
message "$case_name"
account "$case_name" "host localhost" "port $PF_SUB" "tls off" "auth on" "user $PF_USER" "$pw"
run -v -i rcpt@x.test
expect_status 69
if grep -q -i -E '^smtpfwd: .*(AUTH|authentication)' "$err"; then pass "the diagnostic says that AUTH is not offered"; else
    fail "the diagnostic does not say that AUTH is not offered: $(grep '^smtpfwd: ' "$err")"
fi
no_auth_sent
no_secret
log_line "(^| )host=localhost tls=off .*exitcode=EX_UNAVAILABLE\$"
not_delivered

# 7. --serverinfo against the real server (STARTTLS and implicit TLS): the
#    certificate's fingerprint as computed here, its subject and issuer,
#    and the AUTH mechanisms offered after STARTTLS. Nothing is delivered.
for c in serverinfo-starttls serverinfo-smtps; do
    case_name=$c
    : >"$client/$case_name.in"
    if [ $c = serverinfo-starttls ]; then
        account "$case_name" "host localhost" "port $PF_SUB" "tls_trust_file $PF_CA"
    else
        account "$case_name" "host localhost" "port $PF_SMTPS" "tls_starttls off" "tls_trust_file $PF_CA"
    fi
    run --serverinfo
    expect_status 0
    cat "$client/$case_name.out" "$err" >"$client/$case_name.all"
    for want in "SHA256: $fingerprint" "CN=localhost" "CN=smtpfwd test CA" "mx.test ESMTP Postfix" \
        "SCRAM-SHA-256"; do
        if grep -q -F -e "$want" "$client/$case_name.all"; then pass "--serverinfo shows '$want'"; else
            fail "--serverinfo does not show '$want':"
            sed 's/^/#   /' "$client/$case_name.all"
        fi
    done
done

# 7b. CHUNKING: Postfix offers it, so the message goes out as BDAT LAST
#     (SCRAM: AUTH is done before the MAIL group; behind a pipelined AUTH
#     PLAIN smtpfwd keeps DATA); `chunking off` goes back to DATA. Both
#     arrive intact (success_case reads them back from the maildir).
success_case chunking-on SCRAM-SHA-256 "host 127.0.0.1" "port $PF_SUB" \
    "tls_host_override localhost" "tls_trust_file $PF_CA" "auth scram-sha-256" "user $PF_USER" "$pw"
if grep -q -E '^<-- 250[- ]CHUNKING$' "$err"; then pass "Postfix offers CHUNKING"; else fail "Postfix does not offer CHUNKING here"; fi
if grep -q -E '^--> BDAT [0-9]+ LAST$' "$err"; then pass "the transcript shows BDAT ... LAST"; else
    fail "the transcript does not show BDAT: $(grep '^--> ' "$err" | tr '\n' ' ')"
fi
if grep -q -E '^--> (DATA|\.)$' "$err"; then fail "DATA or a final dot was sent with CHUNKING"; else pass "no DATA or final dot with CHUNKING"; fi
success_case chunking-off SCRAM-SHA-256 "host 127.0.0.1" "port $PF_SUB" \
    "tls_host_override localhost" "tls_trust_file $PF_CA" "auth scram-sha-256" "user $PF_USER" \
    "$pw" "chunking off"
if grep -q '^--> DATA$' "$err"; then pass "the transcript shows DATA with chunking off"; else fail "the transcript does not show DATA with chunking off"; fi
if grep -q '^--> BDAT' "$err"; then fail "BDAT was sent with chunking off"; else pass "no BDAT with chunking off"; fi

# 7c. TLS session resumption: the first delivery with a fresh cache does a
#     full handshake and keeps the session Postfix offers (TLS 1.3 ticket)
#     in $XDG_CACHE_HOME/smtpfwd/tls-sessions (one file, mode 0600); the
#     second resumes it (-v -v says so) and is delivered all the same;
#     with `tls_session_cache off` nothing is resumed. (--serverinfo in 7
#     ran with sessions of the same settings already cached and still
#     showed the certificate: it never resumes.)
XDG_CACHE_HOME=$client/home/.cache-7c
export XDG_CACHE_HOME
for rcase in resume-first resume-second resume-off; do
    extra="tls_session_cache on"
    [ $rcase = resume-off ] && extra="tls_session_cache off"
    case_name=$rcase
    message "$case_name"
    account "$case_name" "host 127.0.0.1" "port $PF_SUB" "tls_host_override localhost" \
        "tls_trust_file $PF_CA" "auth plain" "user $PF_USER" "$pw" "$extra"
    run -v -v -i rcpt@x.test
    expect_status 0
    no_secret
    check_delivered PLAIN
    resumed=no
    grep -q 'TLS session with localhost resumed from the cache' "$err" && resumed=yes
    case $rcase in
    resume-second) want=yes ;;
    *) want=no ;;
    esac
    if [ $resumed = $want ]; then pass "resumed: $want"; else fail "resumed: $resumed, expected $want"; fi
    files=$(find "$XDG_CACHE_HOME/smtpfwd/tls-sessions" -type f 2>/dev/null | wc -l)
    if [ "$files" -eq 1 ]; then pass "one file in the session cache"; else fail "$files files in the session cache, expected 1"; fi
    mode=$(find "$XDG_CACHE_HOME/smtpfwd/tls-sessions" -type f -perm 600 2>/dev/null | wc -l)
    if [ "$mode" -eq 1 ]; then pass "the cached session is mode 0600"; else fail "the cached session is not mode 0600"; fi
done
XDG_CACHE_HOME=$client/home/.cache
export XDG_CACHE_HOME

# 8. A last good delivery: once it is in the maildir, whatever a failed case
#    might have queued would be there too. Nothing of theirs may be.
success_case final PLAIN "host 127.0.0.1" "port $PF_SUB" "tls_host_override localhost" \
    "tls_trust_file $PF_CA" "auth plain" "user $PF_USER" "$pw"
for c in $undelivered_cases; do
    case_name=$c
    if grep -l -x -F -e "Subject: smtpfwd postfix-tls $c" $(pf_messages) >/dev/null 2>&1; then
        fail "delivered although smtpfwd failed"
    else pass "not delivered"; fi
done
case_name=all
n=$(pf_messages | wc -l)
if [ "$n" -eq "$delivered" ]; then pass "$delivered messages in the maildir"; else fail "$n messages in the maildir, expected $delivered"; fi

done_testing
