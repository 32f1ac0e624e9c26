#!/bin/sh
# tests/interop/opensmtpd.sh - smtpfwd against a private OpenSMTPD, the
# server that offers no PIPELINING anywhere and answers a client that
# writes ahead of its replies with "500 5.5.1 Invalid command: Pipelining
# not supported" (throwing the transaction away).
#
# Owns: the OpenSMTPD instance and the cases only it needs.
#
# OpenSMTPD conflicts with Postfix as a Debian package, so it is not
# installed: the opensmtpd .deb is fetched into the cache directory
# (lib.sh's iop_debs_get) and unpacked under the temporary directory. smtpd
# insists on fixed paths and on its privilege separation users, so it runs
# as `smtpd -d -f CONF` in a private mount namespace (lib.sh's iop_unshare_bg)
# in which only smtpd sees these bind mounts:
#   /etc/passwd, /etc/group   copies with the users opensmtpd, opensmtpq
#                             (unless the system has them) and
#                             smtpfwd-iop, the one local user all mail is
#                             delivered as
#   /var/spool                a directory holding its spool, smtpd/
#   /var/lib                  a directory holding its chroot,
#                             opensmtpd/empty
#   /run                      a directory for its control socket
#   /usr/libexec              the package's, for mail.maildir
# (when the system has /var/spool/smtpd, /var/lib/opensmtpd/empty or
# /usr/libexec/opensmtpd, that directory is covered instead of its parent).
# Nothing of the system's configuration or services is read or changed.
#
# Listeners (random loopback ports), all with max-message-size 25M
# (SIZE 26214400), DSN, no CHUNKING, no PIPELINING:
#   plain     no TLS, no AUTH (OpenSMTPD offers AUTH only under TLS)
#   starttls  STARTTLS, AUTH with a credentials table (alice)
#   smtps     implicit TLS, the same AUTH
# Recipients alice@ and bob@example.test map (virtual table) to the local
# user and are delivered to the maildirs mail/alice and mail/bob;
# nobody@example.test is not in the table, which OpenSMTPD refuses
# permanently ("524 5.2.4 Mailing list expansion problem"); a builtin
# rcpt-to filter defers later@example.test with 451. Builtin filters of
# the commit phase answer the final dot of mail from defer@example.test
# with "451 4.3.0" and of mail from refuse@example.test with "554 5.7.1"
# (a content check refusing the message itself), for the cases of what
# smtpfwd keeps in its spool then.
#
# Debian 12's OpenSMTPD 6.8.0p2 cannot do TLS as a server: its privilege
# separated signing does not work with OpenSSL 3 (every handshake ends
# with an "internal error" alert and smtpd logs "missing private key").
# The script probes a handshake. When it fails, the TLS cases check what
# smtpfwd does with such a server (exit 76, no AUTH or MAIL sent in clear,
# nothing stored) and the delivery cases of the matrix run on the plain
# port; when it works (a fixed package), the whole matrix runs (run_matrix)
# over STARTTLS and implicit TLS, with the plain port as the
# no-PIPELINING port.
#
# OpenSMTPD always offers 8BITMIME (its EHLO reply is fixed; smtpd.conf
# has no setting for it, and its filters see the client's commands, not
# the server's replies) and never SMTPUTF8: the conversion cases
# (convert-cases.sh) run only for a server with 8BITMIME and without
# SMTPUTF8, and say why the others are skipped.
#
# After each session with a refused recipient, smtpd's smtp process
# ("pony express") must still be alive and its log must show no crash;
# after every session on the plain port smtpd must have logged it as ended
# by QUIT and logged no bad input (what it says about a command written
# ahead of a reply). Also: a flush of three queued messages over one
# connection, and what smtpfwd queues when the server refuses the message
# itself at the end of data.
#
# TAP; skipped ("1..0 # SKIP") when not root, unshare or dpkg-deb are missing, the
# package cannot be had, or its libraries are not installed.
set -u
IOP_NAME=opensmtpd
iop_dir=${top_srcdir:+$top_srcdir/tests/interop}
iop_dir=${iop_dir:-$(dirname "$0")}
. "$iop_dir/lib.sh"
. "$iop_dir/matrix.sh"

iop_need_root
iop_need_program certtool dpkg-deb ldd
iop_unshare_works
iop_tmpdir
iop_debs_get opensmtpd
osd=$IOP_DIR/pkg
iop_debs_unpack "$osd" opensmtpd
smtpd_bin=$osd/usr/sbin/smtpd
[ -x "$smtpd_bin" ] || { echo "no usr/sbin/smtpd in the opensmtpd package" >&2; exit 99; }
missing=$(ldd "$smtpd_bin" 2>/dev/null | awk '/not found/ { print $1 }' | tr '\n' ' ')
[ -z "$missing" ] || skip "$IOP_NAME: the libraries smtpd needs are not installed: $missing"

# --- Users: a copy of passwd and group with what smtpd needs. ---
mkdir -p "$IOP_DIR/etc" "$IOP_DIR/spool/smtpd" "$IOP_DIR/varlib/opensmtpd/empty" \
    "$IOP_DIR/run" "$IOP_DIR/mail" || exit 99
chmod 711 "$IOP_DIR/spool/smtpd"
cp /etc/passwd "$IOP_DIR/etc/passwd" && cp /etc/group "$IOP_DIR/etc/group" || exit 99
next_id=60900
# add_user NAME HOME: append NAME (and its group) unless it exists.
add_user() {
    getent passwd "$1" >/dev/null 2>&1 && return
    while getent passwd "$next_id" >/dev/null 2>&1 || getent group "$next_id" >/dev/null 2>&1; do
        next_id=$((next_id + 1))
    done
    echo "$1:x:$next_id:$next_id:smtpfwd interop test:$2:/usr/sbin/nologin" >>"$IOP_DIR/etc/passwd"
    getent group "$1" >/dev/null 2>&1 || echo "$1:x:$next_id:" >>"$IOP_DIR/etc/group"
    next_id=$((next_id + 1))
}
add_user opensmtpd /var/lib/opensmtpd/empty
add_user opensmtpq /var/lib/opensmtpd/empty
add_user smtpfwd-iop "$IOP_DIR/mail"
# user_id NAME: uid and gid "U:G" from the copy (the namespace's view).
user_id() {
    awk -F: -v u="$1" '$1 == u { print $3 ":" $4 }' "$IOP_DIR/etc/passwd"
}
chown "$(user_id smtpfwd-iop)" "$IOP_DIR/mail" && chmod 700 "$IOP_DIR/mail" || exit 99

# --- Certificates, credentials, tables, configuration. ---
iop_certs
IOP_CA=$IOP_CERTS/ca.pem
IOP_HOST=localhost
cp "$IOP_CERTS/server-key.pem" "$IOP_DIR/server-key.pem" && chmod 600 "$IOP_DIR/server-key.pem" || exit 99
IOP_USER=alice
IOP_PASS="open sesame 7"
# The credentials table holds crypt(3) hashes (what `smtpctl encrypt`
# prints; the package's encrypt helper is that command).
hash=$(printf '%s' "$IOP_PASS" | "$osd/usr/libexec/opensmtpd/encrypt") || exit 99
case $hash in '$'*) ;; *) echo "cannot encrypt the password: $hash" >&2; exit 99 ;; esac
printf '%s %s\n' "$IOP_USER" "$hash" >"$IOP_DIR/creds"
chown "root:$(user_id opensmtpd | cut -d: -f2)" "$IOP_DIR/creds" && chmod 640 "$IOP_DIR/creds" || exit 99
printf '%s smtpfwd-iop\n' alice@example.test bob@example.test sender@example.test >"$IOP_DIR/vusers"

# shellcheck disable=SC2046
set -- $(iop_free_ports 3)
port_plain=$1 port_starttls=$2 port_smtps=$3
IOP_SIZE_LIMIT=26214400
cat >"$IOP_DIR/smtpd.conf" <<EOF
pki localhost cert "$IOP_CERTS/server.pem"
pki localhost key "$IOP_DIR/server-key.pem"
table creds file:$IOP_DIR/creds
table vusers file:$IOP_DIR/vusers
table later { "later@example.test" }
smtp max-message-size $IOP_SIZE_LIMIT
table defer { "defer@example.test" }
table refuse { "refuse@example.test" }
filter "later" phase rcpt-to match rcpt-to <later> reject "451 4.7.1 later@example.test: try again later"
filter "defer" phase commit match mail-from <defer> reject "451 4.3.0 content check failed, try later"
filter "refuse" phase commit match mail-from <refuse> reject "554 5.7.1 message refused by content check"
filter "checks" chain { "later", "defer", "refuse" }
listen on 127.0.0.1 port $port_plain hostname mx.opensmtpd.test filter "checks"
listen on 127.0.0.1 port $port_starttls tls pki localhost auth <creds> hostname mx.opensmtpd.test filter "checks"
listen on 127.0.0.1 port $port_smtps smtps pki localhost auth <creds> hostname mx.opensmtpd.test filter "checks"
action "local" maildir "$IOP_DIR/mail/%{rcpt.user}" virtual <vusers>
match from any for domain "example.test" action "local"
EOF

# --- The mounts and the server. ---
binds="$IOP_DIR/etc/passwd:/etc/passwd $IOP_DIR/etc/group:/etc/group"
if [ -d /var/spool/smtpd ]; then binds="$binds $IOP_DIR/spool/smtpd:/var/spool/smtpd"
else binds="$binds $IOP_DIR/spool:/var/spool"; fi
if [ -d /var/lib/opensmtpd/empty ]; then :; else binds="$binds $IOP_DIR/varlib:/var/lib"; fi
binds="$binds $IOP_DIR/run:$(readlink -f /var/run)"
if [ -d /usr/libexec/opensmtpd ]; then binds="$binds $osd/usr/libexec/opensmtpd:/usr/libexec/opensmtpd"
else binds="$binds $osd/usr/libexec:/usr/libexec"; fi

# osd_start: start smtpd (its log in $log, a new file each time); sets
# smtpd_pid (the smtpd parent process; killed at exit).
osd_n=0
osd_start() {
    osd_n=$((osd_n + 1))
    log=$IOP_DIR/smtpd.$osd_n.log
    # shellcheck disable=SC2086
    iop_unshare_bg "$log" $binds -- "$smtpd_bin" -d -v -f "$IOP_DIR/smtpd.conf"
    smtpd_pid=$IOP_BG_PID
    if ! iop_wait_listen "$port_plain" "$port_starttls" "$port_smtps" 2>"$IOP_DIR/wait.err"; then
        cat "$IOP_DIR/wait.err" >&2
        tail -20 "$log" >&2
        exit 99
    fi
}
osd_stop() {
    kill "$smtpd_pid" 2>/dev/null
    wait "$smtpd_pid" 2>/dev/null
}
osd_start

iop_fetch() {
    iop_maildir_fetch "$IOP_DIR/mail/${1%@*}" "$2"
}

IOP_RCPT=alice@example.test
IOP_RCPT2=bob@example.test
IOP_FROM=sender@example.test
IOP_REFUSED_RCPT=nobody@example.test
IOP_TEMPFAIL_RCPT=later@example.test
IOP_CHUNKING=no
IOP_DSN=yes
IOP_NOPIPE_PORT=$port_plain
IOP_NOPIPE_TLS=off
IOP_NO8BIT_PORT=
IOP_NO8BIT_WHY="OpenSMTPD always offers 8BITMIME (no smtpd.conf setting turns it off)"
# It qualifies header addresses without a domain ("To: root") with the
# listener's host name.
IOP_QUALIFIED_BY=mx.opensmtpd.test

# osd_alive: smtpd and its smtp process ("pony express") are running, and
# its log shows no crash (a process that died, a fatal error).
osd_crash='fatal|lost child|terminated|exiting|socket closed|pipe closed'
osd_alive() {
    kill -0 "$smtpd_pid" 2>/dev/null &&
        ps -o args= --ppid "$smtpd_pid" 2>/dev/null | grep -q -x 'smtpd: pony express' &&
        ! grep -q -E "$osd_crash" "$log"
}
# osd_check_alive CASE: a TAP line for osd_alive; a dead server is
# restarted (the later cases test their own things).
osd_check_alive() {
    if osd_alive; then tap_ok "$IOP_NAME: $1: the smtp process is still alive"; else
        tap_not_ok "$IOP_NAME: $1: the smtp process is still alive"
        ps -o pid=,args= --ppid "$smtpd_pid" 2>/dev/null | sed 's/^/#   /'
        grep -E "$osd_crash" "$log" | head -10 | sed 's/^/#   /'
        osd_stop
        osd_start
    fi
}
tap_check "$IOP_NAME: smtpd is up with its smtp process" osd_alive

# osd_mark: remember how many sessions smtpd has logged as ended by QUIT
# and how many bad-input lines it has logged (before a case's run).
osd_mark() {
    osd_quits=$(grep -c 'smtp disconnected reason=quit$' "$log")
    osd_bad=$(grep -c 'smtp bad-input ' "$log")
}
osd_quit_logged() {
    [ "$(grep -c 'smtp disconnected reason=quit$' "$log")" -gt "$osd_quits" ] || return 1
}
# osd_clean_session: since osd_mark, smtpd logged the session as ended by
# QUIT (smtpfwd does not wait for the 221, so this is how QUIT is seen to
# arrive as a command of its own), and no bad input (such as a command
# written ahead of a reply).
osd_clean_session() {
    if iop_poll osd_quit_logged; then tap_ok "$(iop_t "smtpd logged the session as ended by QUIT")"; else
        tap_not_ok "$(iop_t "smtpd logged the session as ended by QUIT")"
        grep 'smtp disconnected' "$log" | tail -3 | sed 's/^/#   /'
    fi
    if [ "$(grep -c 'smtp bad-input ' "$log")" -eq "$osd_bad" ]; then
        tap_ok "$(iop_t "smtpd logged no bad input")"
    else
        tap_not_ok "$(iop_t "smtpd logged no bad input")"
        grep 'smtp bad-input ' "$log" | tail -3 | sed 's/^/#   /'
    fi
}

# Does the server's TLS work? One handshake on the implicit TLS port.
tls_works=no
if "$PYTHON" -c '
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10) as s:
    with ctx.wrap_socket(s, server_hostname="localhost") as t:
        t.recv(100)' "$port_smtps" "$IOP_CA" >"$IOP_DIR/probe.err" 2>&1; then
    tls_works=yes
else
    tap_diag "OpenSMTPD's TLS does not work here: $(tail -1 "$IOP_DIR/probe.err")"
    grep 'SSL library error' "$log" | head -3 | sed 's/^/#   /'
fi

iop_mdir=$IOP_DIR/matrix
mkdir -p "$iop_mdir" || exit 99

# plain_account LINES...: an account on the plain port (no TLS, no AUTH);
# osd_mark for osd_clean_session.
plain_account() {
    iop_account "$port_plain" "host 127.0.0.1" "tls off" "auth off" "$@"
    osd_mark
}

# 1. No PIPELINING: every command waits for its reply, QUIT included.
#    MAIL, RCPT, DATA and the message with its final dot go one at a
#    time; the server refuses anything written ahead with 500 and drops
#    the transaction. A delivery to two recipients, and one with a refused
#    recipient (the smtp process must survive it).
for cc in nopipe nopipe-partial nopipe-refused-first; do
    iop_case "$cc"
    plain_account
    case $cc in
    nopipe)
        iop_message "$IOP_RCPT, $IOP_RCPT2"
        iop_run -v -i "$IOP_RCPT" "$IOP_RCPT2"
        iop_status 0
        if iop_ehlo_has PIPELINING; then tap_not_ok "$(iop_t "no PIPELINING offered")"; else
            tap_ok "$(iop_t "no PIPELINING offered")"
        fi
        iop_stored "$IOP_RCPT"
        iop_stored "$IOP_RCPT2"
        ;;
    *)
        if [ "$cc" = nopipe-partial ]; then
            iop_message "$IOP_RCPT, $IOP_REFUSED_RCPT"
            iop_run -v -i "$IOP_RCPT" "$IOP_REFUSED_RCPT"
        else
            iop_message "$IOP_REFUSED_RCPT, $IOP_RCPT"
            iop_run -v -i "$IOP_REFUSED_RCPT" "$IOP_RCPT"
        fi
        iop_status 67
        iop_sent "^smtpfwd: .*$IOP_REFUSED_RCPT.*524 5\\.2\\.4" "the refusal is reported with the server's reply"
        iop_stored "$IOP_RCPT"
        iop_not_stored "$IOP_REFUSED_RCPT"
        ;;
    esac
    iop_lockstep
    iop_not_sent '^<-- 500 ' "no 500 from the server (nothing written ahead of a reply)"
    osd_clean_session
    osd_check_alive "$cc"
done

# 2. Every recipient refused: 67, no DATA, QUIT answered.
iop_case all-refused
plain_account
iop_message "$IOP_REFUSED_RCPT"
iop_run -v -i "$IOP_REFUSED_RCPT"
iop_status 67
iop_not_sent '^--> DATA' "no DATA"
iop_lockstep
iop_not_sent '^<-- 500 ' "no 500 from the server"
osd_clean_session
iop_not_stored "$IOP_REFUSED_RCPT"
osd_check_alive all-refused

if [ "$tls_works" = yes ]; then
    # A fixed OpenSMTPD: the whole matrix (it ends the script), and then
    # smtpd must still be whole and have seen nothing written ahead.
    iop_server_checks() {
        if [ "$(grep -c 'smtp bad-input ' "$log")" -eq 0 ]; then
            tap_ok "$IOP_NAME: smtpd logged no bad input in the matrix"
        else
            tap_not_ok "$IOP_NAME: smtpd logged no bad input in the matrix"
            grep 'smtp bad-input ' "$log" | head -5 | sed 's/^/#   /'
        fi
        osd_check_alive matrix
    }
    IOP_STARTTLS_PORT=$port_starttls
    IOP_TLS_PORT=$port_smtps
    IOP_MECHS="PLAIN LOGIN"
    IOP_NOUTF8_PORT=$port_starttls
    run_matrix
fi

# 3. The server's TLS is broken: on its STARTTLS port and its implicit TLS
#    port the handshake ends with the server's alert; smtpfwd exits 76
#    (protocol error) without sending AUTH or MAIL, in clear or otherwise,
#    and nothing is stored. With `tls off` and `auth on`: the server offers
#    no AUTH without TLS, so 69 before MAIL.
for cc in broken-tls-starttls broken-tls-smtps tls-off-auth-on; do
    iop_case "$cc"
    case $cc in
    broken-tls-starttls) iop_account "$port_starttls" ;;
    broken-tls-smtps) iop_account "$port_smtps" "tls_starttls off" ;;
    tls-off-auth-on) iop_account "$port_starttls" "tls off" ;;
    esac
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    if [ "$cc" = tls-off-auth-on ]; then
        iop_status 69
        iop_sent '^smtpfwd: .*(AUTH|authentication)' "the missing AUTH is named"
    else
        iop_status 76
        iop_sent '^smtpfwd: TLS handshake with localhost failed: .*alert' "the server's alert is named"
    fi
    [ "$cc" = broken-tls-starttls ] && iop_sent '^--> STARTTLS$' "STARTTLS tried"
    iop_not_sent '^--> AUTH' "no AUTH sent"
    iop_not_sent '^--> MAIL' "no MAIL sent"
    iop_no_secret
    iop_not_stored "$IOP_RCPT"
done

# 4. The delivery cases of the matrix, on the plain port.
#    200 KB with dot lines and 8-bit text, compared byte for byte.
iop_case body-200k
iop_gen_body 200 "$iop_cdir/gen"
plain_account
iop_message "$IOP_RCPT" "$iop_cdir/gen"
iop_run -i "$IOP_RCPT"
iop_status 0
osd_clean_session
iop_stored "$IOP_RCPT"

#    Above the announced SIZE: 65, no transaction.
iop_case too-big
iop_gen_body $((IOP_SIZE_LIMIT / 1024 + 8)) "$iop_cdir/gen"
plain_account
iop_message "$IOP_RCPT" "$iop_cdir/gen"
rm -f "$iop_cdir/gen"
iop_run -v -i "$IOP_RCPT"
iop_status 65
iop_sent "^<-- 250[- ]SIZE $IOP_SIZE_LIMIT\$" "the server announces SIZE $IOP_SIZE_LIMIT"
iop_not_sent '^--> (MAIL|DATA|BDAT)' "no transaction started"
osd_clean_session
iop_not_stored "$IOP_RCPT"
rm -f "$iop_cdir/in" "$iop_cdir/body"

#    CHUNKING on and off: OpenSMTPD does not offer it, DATA both times.
for cc in chunking-on chunking-off; do
    iop_case "$cc"
    plain_account "chunking ${cc#chunking-}"
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 0
    if iop_ehlo_has CHUNKING; then tap_not_ok "$(iop_t "no CHUNKING offered")"; else
        tap_ok "$(iop_t "no CHUNKING offered")"
    fi
    iop_sent '^--> DATA$' "DATA sent"
    iop_not_sent '^--> BDAT' "no BDAT"
    osd_clean_session
    iop_stored "$IOP_RCPT"
done

#    DSN parameters accepted, the message delivered.
iop_case dsn
plain_account
iop_message "$IOP_RCPT"
iop_run -v -i -N success,failure -R hdrs -V "iop.$IOP_NAME.$$" "$IOP_RCPT"
iop_status 0
iop_sent '^<-- 250[- ]DSN$' "the server offers DSN"
iop_sent "^--> MAIL FROM:<$IOP_FROM>.* RET=HDRS" "MAIL FROM with RET=HDRS"
iop_sent "^--> MAIL FROM:<$IOP_FROM>.* ENVID=iop\\.$IOP_NAME\\.$$" "MAIL FROM with ENVID"
iop_sent "^--> RCPT TO:<$IOP_RCPT>.* NOTIFY=SUCCESS,FAILURE" "RCPT TO with NOTIFY"
osd_clean_session
iop_stored "$IOP_RCPT"

#    451 at RCPT: queue off exits 75 and queues nothing; queue on-failure
#    exits 0 with the entry in the spool waiting for the deferred
#    recipient only. The good recipient gets it once.
for cc in tempfail-queue-off tempfail-queue-on; do
    iop_case "$cc"
    if [ "$cc" = tempfail-queue-off ]; then plain_account; else plain_account "queue on-failure"; fi
    iop_message "$IOP_RCPT, $IOP_TEMPFAIL_RCPT"
    iop_run -v -i "$IOP_TEMPFAIL_RCPT" "$IOP_RCPT"
    iop_sent '^<-- 451 4\.7\.1 later@example\.test: try again later$' "the server answers 451"
    n=$(count_in "$iop_cdir/spool/new")
    if [ "$cc" = tempfail-queue-off ]; then
        iop_status 75
        iop_sent "^smtpfwd: .*$IOP_TEMPFAIL_RCPT.*451" "the deferral is reported"
        if [ "$n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
            tap_not_ok "$(iop_t "nothing queued ($n entries)")"
        fi
    else
        iop_status 0
        e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
        # (a recipient delivered directly is not written to the entry)
        if [ "$n" -eq 1 ] && grep -q -x -F "rcpt: pending $IOP_TEMPFAIL_RCPT" "$e" &&
            ! grep -q -E "^rcpt: [a-z]+ $IOP_RCPT\$" "$e"; then
            tap_ok "$(iop_t "one entry in the spool, waiting for $IOP_TEMPFAIL_RCPT only")"
        else
            tap_not_ok "$(iop_t "one entry in the spool, waiting for $IOP_TEMPFAIL_RCPT only ($n entries)")"
            [ -n "$e" ] && sed -n '1,/^$/p' "$e" | sed 's/^/#   /'
        fi
    fi
    iop_lockstep
    iop_not_sent '^<-- 500 ' "no 500 from the server"
    osd_clean_session
    iop_stored "$IOP_RCPT"
    iop_not_stored "$IOP_TEMPFAIL_RCPT"
    osd_check_alive "$cc"
done

#    20 MB (under the 25 MB limit), compared by checksum.
iop_case big-20m
iop_gen_body 20480 "$iop_cdir/gen"
plain_account
iop_message "$IOP_RCPT" "$iop_cdir/gen"
rm -f "$iop_cdir/gen"
iop_run -i "$IOP_RCPT"
iop_status 0
osd_clean_session
iop_stored "$IOP_RCPT" sum
rm -f "$iop_cdir"/got.* "$iop_cdir/in" "$iop_cdir/body"

#    Refusals of the message itself, at the end of data (builtin filters
#    of the commit phase: mail from defer@ is answered "451 4.3.0", from
#    refuse@ "554 5.7.1"), with the spool on (queue on-failure).
#    - 451 for alice: queued for alice, and what the entry (and -bp)
#      records as alice's error is not the 250 her RCPT got;
#    - 554 for alice alone (65, nothing queued), with nobody@ refused at
#      RCPT (every recipient refused permanently: nothing queued, 65 or
#      67), with later@ deferred at RCPT (later@ may be kept for a retry):
#      alice was refused permanently and must never be retried, and no
#      2xx reply is recorded as an error (smtpfwd(1), "Permanent
#      refusals" and EXIT STATUS).
for cc in eod-451 eod-554 eod-554-refused eod-554-deferred; do
    iop_case "$cc"
    case $cc in
    eod-451)
        plain_account "from defer@example.test" "queue on-failure"
        set -- "$IOP_RCPT" ;;
    eod-554)
        plain_account "from refuse@example.test" "queue on-failure"
        set -- "$IOP_RCPT" ;;
    eod-554-refused)
        plain_account "from refuse@example.test" "queue on-failure"
        set -- "$IOP_RCPT" "$IOP_REFUSED_RCPT" ;;
    eod-554-deferred)
        plain_account "from refuse@example.test" "queue on-failure"
        set -- "$IOP_RCPT" "$IOP_TEMPFAIL_RCPT" ;;
    esac
    iop_message "$(echo "$@" | sed 's/ /, /g')"
    iop_run -v -i "$@"
    n=$(count_in "$iop_cdir/spool/new")
    e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
    if [ "$cc" = eod-451 ]; then
        iop_sent '^<-- 451 4\.3\.0 content check failed, try later$' "the server answers the final dot with 451"
        iop_status 0
        if [ "$n" -eq 1 ] && grep -q -x -F "rcpt: pending $IOP_RCPT" "$e"; then
            tap_ok "$(iop_t "queued for $IOP_RCPT")"
        else
            tap_not_ok "$(iop_t "queued for $IOP_RCPT ($n entries)")"
        fi
        if [ -n "$e" ] && grep -q -E '^rcpt-error: [^ ]+ 2[0-9][0-9]' "$e"; then
            tap_not_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
            grep '^rcpt-error: ' "$e" | sed 's/^/#   /'
        else
            tap_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
        fi
        # shellcheck disable=SC2086
        env -u DBUS_SESSION_BUS_ADDRESS $IOP_CLIENT_ENV "$SMTPFWD" -C "$iop_rcfile" -bp \
            >"$iop_cdir/bp" 2>&1
        if grep -q -F "$IOP_RCPT" "$iop_cdir/bp" && ! grep -q -E '> +2[0-9][0-9] ' "$iop_cdir/bp"; then
            tap_ok "$(iop_t "-bp does not show a 2xx reply as the reason")"
        else
            tap_not_ok "$(iop_t "-bp does not show a 2xx reply as the reason")"
            tap_file "$iop_cdir/bp"
        fi
    else
        iop_sent '^<-- 554 5\.7\.1 message refused by content check$' "the server answers the final dot with 554"
        # Refused permanently: never retried.
        if [ -n "$e" ] && grep -q -x -F "rcpt: pending $IOP_RCPT" "$e"; then
            tap_not_ok "$(iop_t "$IOP_RCPT is not kept for a retry")"
            sed -n '/^rcpt/p' "$e" | sed 's/^/#   /'
        else
            tap_ok "$(iop_t "$IOP_RCPT is not kept for a retry")"
        fi
        case $cc in
        eod-554)
            iop_status 65 ;;
        eod-554-refused)
            # Every recipient refused permanently: nothing queued, 65 (the
            # message) or 67 (every recipient) as smtpfwd(1) says.
            if [ "$n" -eq 0 ] && { [ "$iop_rs" -eq 65 ] || [ "$iop_rs" -eq 67 ]; }; then
                tap_ok "$(iop_t "nothing queued, exit status $iop_rs")"
            else
                tap_not_ok "$(iop_t "nothing queued ($n entries), exit status 65 or 67 ($iop_rs)")"
            fi ;;
        eod-554-deferred)
            # later@ may be kept for a retry (exit 0), or nothing is
            # queued because the message itself was refused (65).
            if { [ "$n" -eq 0 ] && [ "$iop_rs" -eq 65 ]; } ||
                { [ "$n" -eq 1 ] && [ "$iop_rs" -eq 0 ] &&
                    grep -q -x -F "rcpt: pending $IOP_TEMPFAIL_RCPT" "$e"; }; then
                tap_ok "$(iop_t "exit status $iop_rs with $n entries")"
            else
                tap_not_ok "$(iop_t "exit status $iop_rs with $n entries (0 with later@ pending, or 65 with none)")"
            fi ;;
        esac
        if [ -n "$e" ] && grep -q -E '^rcpt-error: [^ ]+ 2[0-9][0-9]' "$e"; then
            tap_not_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
            grep '^rcpt-error: ' "$e" | sed 's/^/#   /'
        else
            tap_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
        fi
    fi
    iop_lockstep
    osd_clean_session
    iop_not_stored "$IOP_RCPT"
done

#    A flush of three queued messages (the third with nobody@ refused)
#    over one connection, without PIPELINING: each transaction waits for
#    the reply to the final dot of the one before; then the delivery
#    status notification for nobody@ goes to the sender, the entry moves
#    to failed/, and every message arrives once.
flush_spool=$IOP_DIR/flush-spool
flush_saved=
for i in 1 2 3; do
    iop_case "flush-$i"
    plain_account "queue_dir $flush_spool"
    case $i in
    1) set -- "$IOP_RCPT" ;;
    2) set -- "$IOP_RCPT2" ;;
    3) set -- "$IOP_REFUSED_RCPT" "$IOP_RCPT" ;;
    esac
    iop_message "$(echo "$@" | sed 's/ /, /g')"
    iop_run -odq "$@"
    iop_status 0
    flush_saved="$flush_saved $iop_c:$iop_cdir:$(echo "$iop_marker" | tr ' ' '+')"
done
iop_case flush
plain_account "queue_dir $flush_spool"
: >"$iop_cdir/in"
iop_run -qf -v
iop_status 0
awk '/^--> QUIT$/ { exit } /^--> MAIL FROM:/ { n++ } END { print n + 0 }' "$iop_err" >"$iop_cdir/mails"
if [ "$(cat "$iop_cdir/mails")" -eq 3 ]; then tap_ok "$(iop_t "three transactions in the first session")"; else
    tap_not_ok "$(iop_t "three transactions in the first session ($(cat "$iop_cdir/mails"))")"
    tap_file "$iop_err"
fi
iop_lockstep
osd_clean_session
if [ "$(count_in "$flush_spool/new")" -eq 0 ] && [ "$(count_in "$flush_spool/failed")" -eq 1 ]; then
    tap_ok "$(iop_t "the spool is empty but for the refused message in failed/")"
else
    tap_not_ok "$(iop_t "the spool is empty but for the refused message in failed/")"
    ls -R "$flush_spool" | sed 's/^/#   /'
fi
if iop_poll grep -r -q -x -F "Subject: smtpfwd interop $IOP_NAME flush-3" "$IOP_DIR/mail/sender/new"; then
    tap_ok "$(iop_t "the notification reached the sender")"
else
    tap_not_ok "$(iop_t "the notification reached the sender")"
fi
for saved in $flush_saved; do
    iop_c=${saved%%:*}
    saved=${saved#*:}
    iop_cdir=${saved%%:*}
    iop_marker=$(echo "${saved#*:}" | tr '+' ' ')
    if [ "$iop_c" = flush-2 ]; then iop_stored "$IOP_RCPT2"; else iop_stored "$IOP_RCPT"; fi
done
iop_c=flush-3
iop_not_stored "$IOP_REFUSED_RCPT"

#    The conversion cases (convert-cases.sh) on the plain port, which
#    offers 8BITMIME and not SMTPUTF8.
iop_convert_account() {
    plain_account
}
IOP_NOUTF8_PORT=$port_plain
iop_convert_cases

#    Through a SOCKS5 proxy (Dante) on the plain port (this OpenSMTPD's
#    usual mode: see above).
iop_socks_case 127.0.0.1 plain_account && osd_clean_session

# 5. A last delivery; then nothing of the failed cases may be stored, and
#    smtpd is still whole.
iop_case final
plain_account
iop_message "$IOP_RCPT"
iop_run -i "$IOP_RCPT"
iop_status 0
osd_clean_session
iop_stored "$IOP_RCPT"
iop_check_not_stored
osd_check_alive final
tap_done
