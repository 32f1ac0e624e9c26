#!/bin/sh
# tests/interop/exim.sh - smtpfwd against a private Exim 4 (Debian's
# exim4-daemon-light), through the delivery matrix of tests/interop/matrix.sh.
#
# Owns: starting and stopping that Exim and reading its deliveries back.
# Debian's exim4 packages conflict with Postfix, which the other tests
# need, so they are not installed: exim4-base, exim4-config and
# exim4-daemon-light are fetched into the .deb cache (scripts/install-deps
# does that; iop_debs_get otherwise) and unpacked into the temporary
# directory. The binary looks up its compiled-in user Debian-exim, which
# the system does not have: it runs in a private mount namespace with
# copies of /etc/passwd and /etc/group that add it. It reads only its own
# configuration (-C, owned by root, not writable by others) and keeps its
# spool, logs and pid file in the temporary directory. Ports and paths
# are written into that file (no -oX or -D macros). The daemon runs as
# root only to start; as that file is not in Debian's TRUSTED_CONFIG_LIST
# (/etc/exim4/trusted_configs), Exim drops root for everything else and
# delivers as Debian-exim ("exim user lost privilege for using -C option"
# in its log), which owns the maildirs.
#
# The configuration: every port on 127.0.0.1, STARTTLS everywhere but on
# the implicit TLS port (tls_on_connect_ports), AUTH only under TLS with
# PLAIN, LOGIN (plaintext driver) and CRAM-MD5 (the light daemon has no
# SCRAM: no GNU SASL, Cyrus or Dovecot authenticators), CHUNKING, DSN,
# PIPELINING except on one port, SIZE 1 MiB except on the big port
# (30 MiB), a certificate for another name on one port. The RCPT ACL
# refuses nobody@ with 550 and defers later@ with 451; it accepts the
# other local parts of example.test from an authenticated client only.
# Accepted mail goes to one maildir per recipient (appendfile).
# SMTPUTF8 (this Exim has I18N) is offered everywhere but on one port,
# which offers 8BITMIME without it. Exim offers 8BITMIME on all of a
# daemon's ports or on none (accept_8bitmime is not expanded per
# connection): a second daemon with the same configuration but
# accept_8bitmime = false and smtputf8_advertise_hosts empty, its own
# spool, log and pid file, listens on one more port, delivering into the
# same maildirs. Both serve the conversion cases (convert-cases.sh).
#
# Besides the matrix (iop_server_checks): a flush of three queued messages
# (one refused) over one connection, on the submission port and on the
# port without PIPELINING, with the sender's notification read back; and
# Exim's log of the four certificate failures, which must name smtpfwd's
# TLS alert.
#
# Exit 77 (skipped) when not root, when the packages are neither cached
# nor downloadable, or when private mount namespaces are not allowed.
set -u
here=${top_srcdir:+$top_srcdir/tests/interop}
here=${here:-$(cd "$(dirname "$0")" && pwd)}
. "$here/lib.sh"
. "$here/matrix.sh"

IOP_NAME=exim
iop_need_root
iop_need_program dpkg-deb certtool
need_built
iop_unshare_works
iop_tmpdir
iop_debs_get exim4-base exim4-config exim4-daemon-light
iop_debs_unpack "$IOP_DIR/root" exim4-base exim4-config exim4-daemon-light
EXIM=$IOP_DIR/root/usr/sbin/exim4
[ -x "$EXIM" ] || { echo "no exim4 binary in the packages"; exit 99; }
iop_certs

# The Exim user, in the namespace only: a uid and gid no one has (or the
# real Debian-exim if this machine has one).
binds=
if getent passwd Debian-exim >/dev/null 2>&1; then
    uid=$(id -u Debian-exim) gid=$(id -g Debian-exim)
else
    uid=64990
    while getent passwd "$uid" >/dev/null 2>&1 || getent group "$uid" >/dev/null 2>&1; do
        uid=$((uid - 1))
    done
    gid=$uid
    mkdir -p "$IOP_DIR/etc" || exit 99
    cp /etc/passwd /etc/group "$IOP_DIR/etc/" || exit 99
    echo "Debian-exim:x:$uid:$gid:Exim test instance:/nonexistent:/usr/sbin/nologin" >>"$IOP_DIR/etc/passwd"
    echo "Debian-exim:x:$gid:" >>"$IOP_DIR/etc/group"
    chmod 644 "$IOP_DIR/etc/passwd" "$IOP_DIR/etc/group"
    binds="$IOP_DIR/etc/passwd:/etc/passwd $IOP_DIR/etc/group:/etc/group"
fi

# A missing library: Exim cannot run here (install-deps installs them).
if ldd "$EXIM" 2>/dev/null | grep -q 'not found'; then
    skip "exim4 lacks libraries: $(ldd "$EXIM" | grep 'not found' | tr -s ' \t\n' ' ')"
fi

ports=$(iop_free_ports 7) || exit 99
set -- $ports
P_SUB=$1 P_TLS=$2 P_NOPIPE=$3 P_BIG=$4 P_WRONG=$5 P_NO8BIT=$6 P_NOUTF8=$7
EX_USER=alice EX_PASS='Ex1m pass-word'
D=$IOP_DIR
for d in spool log mail spool2 log2; do
    mkdir -p "$D/$d" || exit 99
    chown "$uid:$gid" "$D/$d" || exit 99
    chmod 750 "$D/$d"
done
chmod 755 "$D/mail"

cat >"$D/exim.conf" <<EOF
# Exim configuration of smtpfwd's interoperability test.
keep_environment =
primary_hostname = mx.exim.test
qualify_domain = example.test
domainlist local_domains = example.test
spool_directory = $D/spool
log_file_path = $D/log/%slog
pid_file_path = $D/exim.pid
exim_path = $EXIM
log_selector = +all -arguments

local_interfaces = <; 127.0.0.1.$P_SUB; 127.0.0.1.$P_TLS; 127.0.0.1.$P_NOPIPE; 127.0.0.1.$P_BIG; 127.0.0.1.$P_WRONG; 127.0.0.1.$P_NOUTF8
smtputf8_advertise_hosts = \${if eq{\$received_port}{$P_NOUTF8}{}{*}}
tls_on_connect_ports = $P_TLS
tls_advertise_hosts = *
tls_certificate = \${if eq{\$received_port}{$P_WRONG}{$IOP_CERTS/wrongname.pem}{$IOP_CERTS/server.pem}}
tls_privatekey = \${if eq{\$received_port}{$P_WRONG}{$IOP_CERTS/wrongname-key.pem}{$IOP_CERTS/server-key.pem}}
pipelining_advertise_hosts = \${if eq{\$received_port}{$P_NOPIPE}{}{*}}
chunking_advertise_hosts = *
dsn_advertise_hosts = *
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}
message_size_limit = \${if eq{\$received_port}{$P_BIG}{30M}{1M}}
smtp_enforce_sync = true
acl_smtp_rcpt = acl_rcpt
host_lookup =
rfc1413_hosts =
received_header_text = Received: from \$sender_rcvhost by \$primary_hostname \
  with \$received_protocol (Exim \$version_number) id \$message_exim_id \
  for \$received_for; \$tod_full

begin acl

acl_rcpt:
  deny    local_parts = nobody
          message = 5.1.1 <\$local_part@\$domain>: no such user here
  defer   local_parts = later
          message = 4.2.0 <\$local_part@\$domain>: mailbox busy, try later
  accept  domains = +local_domains
          authenticated = *
  deny    message = 5.7.1 authentication required

begin routers

local:
  driver = accept
  domains = +local_domains
  local_parts = alice : bob : sender : postmaster
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = $D/mail/\${local_part_data}
  maildir_format
  create_directory
  delivery_date_add
  envelope_to_add
  return_path_add
  mode = 0644

begin retry

*  *  F,1h,1m

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$EX_USER}}{eq{\$auth3}{$EX_PASS}}}}
  server_set_id = \$auth2

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{$EX_USER}}{eq{\$auth2}{$EX_PASS}}}}
  server_set_id = \$auth1

cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{\$auth1}{$EX_USER}{$EX_PASS}fail}
  server_set_id = \$auth1
EOF
chmod 644 "$D/exim.conf"
# The second daemon's: one port, no 8BITMIME, no SMTPUTF8.
sed -e "s|^local_interfaces = .*|local_interfaces = <; 127.0.0.1.$P_NO8BIT|" \
    -e "s|^spool_directory = .*|spool_directory = $D/spool2|" \
    -e "s|^log_file_path = .*|log_file_path = $D/log2/%slog|" \
    -e "s|^pid_file_path = .*|pid_file_path = $D/exim2.pid|" \
    -e "s|^smtputf8_advertise_hosts = .*|smtputf8_advertise_hosts =\\
accept_8bitmime = false|" "$D/exim.conf" >"$D/exim-no8bit.conf" || exit 99
grep -q -x 'accept_8bitmime = false' "$D/exim-no8bit.conf" || { echo "cannot write exim-no8bit.conf"; exit 99; }
chmod 644 "$D/exim-no8bit.conf"

# shellcheck disable=SC2086
iop_unshare_bg "$D/exim.out" $binds -- "$EXIM" -C "$D/exim.conf" -bdf
# shellcheck disable=SC2086
iop_unshare_bg "$D/exim2.out" $binds -- "$EXIM" -C "$D/exim-no8bit.conf" -bdf
if ! iop_wait_listen "$P_SUB" "$P_TLS" "$P_NOPIPE" "$P_BIG" "$P_WRONG" "$P_NOUTF8" "$P_NO8BIT"; then
    cat "$D/exim.out" "$D/exim2.out" "$D"/log/* "$D"/log2/* 2>/dev/null | sed 's/^/# /'
    exit 99
fi

# iop_server_checks: flushes of several queued messages over one
# connection (ex_flush), and Exim's view of the certificate failures
# (ex_alerts): smtpfwd must end the handshake
# with a TLS alert (RFC 8446 section 6.2: the party that detects an error
# sends one), which Exim logs by its name ("Certificate is bad"), not drop
# the connection ("Error in the pull function"): one line for each of the
# matrix's four cases unknown-ca-system, unknown-ca-other, wrong-name,
# wrong-name-port (Exim writes it when the connection ends).
iop_server_checks() {
    ex_flush flush-submission "$P_SUB"
    ex_flush flush-nopipe "$P_NOPIPE"
    ex_alerts
}

# ex_flush NAME PORT: three messages queued (queue always) on PORT, one
# for alice, one for nobody (refused), one for alice and bob, then one
# flush: the three over one connection, two delivered intact, the refused one
# moved to failed/ and its notification delivered to the sender with the
# null sender. On the port without PIPELINING each command waits for its
# reply.
ex_flush() {
    q=$IOP_DIR/matrix/$1-spool
    for k in 1 2 3; do
        iop_case "$1-m$k"
        iop_account "$2" "queue always" "queue_dir $q"
        case $k in
        1) set -- "$1" "$2" "$IOP_RCPT" ;;
        2) set -- "$1" "$2" "$IOP_REFUSED_RCPT" ;;
        3) set -- "$1" "$2" "$IOP_RCPT" "$IOP_RCPT2" ;;
        esac
        iop_message "$(echo "$3${4:+, $4}")"
        iop_run -i "$3" ${4:-}
        iop_status 0
        set -- "$1" "$2"
    done
    iop_case "$1"
    iop_account "$2" "queue_dir $q"
    : >"$iop_cdir/in"
    iop_run -q -v
    iop_status 0
    # The three go over the first connection (the notification may
    # follow on another).
    n=$(awk -v from="--> MAIL FROM:<$IOP_FROM> " '/^--> QUIT$/ { exit }
        index($0, from) == 1 { n++ } END { print n + 0 }' "$iop_err")
    if [ "$n" -eq 3 ]; then tap_ok "exim: $1: the three messages over one connection"; else
        tap_not_ok "exim: $1: $n messages before the first QUIT, expected 3"
    fi
    iop_sent 'flushed 3 messages for account default: 2 delivered, 0 deferred, 1 failed' \
        "the summary counts 2 delivered, 1 failed"
    iop_sent '^--> MAIL FROM:<> ' "the notification is sent with the null sender"
    [ "$2" = "$P_NOPIPE" ] && iop_lockstep
    if [ "$(count_in "$q/new")" -eq 0 ] && [ "$(count_in "$q/failed")" -eq 1 ]; then
        tap_ok "exim: $1: nothing left in new/, one entry in failed/"
    else
        tap_not_ok "exim: $1: $(count_in "$q/new") in new/, $(count_in "$q/failed") in failed/"
    fi
    for k in 1 3; do
        iop_c=$1-m$k
        iop_cdir=$IOP_DIR/matrix/$iop_c
        iop_marker="smtpfwd-interop $IOP_NAME $iop_c $$"
        iop_stored "$IOP_RCPT"
        [ "$k" -eq 3 ] && iop_stored "$IOP_RCPT2"
    done
    # The notification quotes the refused message's headers.
    iop_c=$1-m2
    if iop_fetch "$IOP_FROM" "Message-ID: <$iop_c.$IOP_NAME.$$@client.example.test>" \
        >"$IOP_DIR/matrix/$iop_c/dsn" 2>&1 &&
        grep -q -x -F "Final-Recipient: rfc822; $IOP_REFUSED_RCPT" "$IOP_DIR/matrix/$iop_c/dsn"; then
        tap_ok "exim: $1: the sender got one notification for $IOP_REFUSED_RCPT"
    else
        tap_not_ok "exim: $1: the sender got one notification for $IOP_REFUSED_RCPT"
        tap_file "$IOP_DIR/matrix/$iop_c/dsn"
    fi
    if IOP_FETCH_TIMEOUT=0 iop_fetch "$IOP_REFUSED_RCPT" "smtpfwd-interop $IOP_NAME $iop_c $$" \
        >/dev/null 2>&1; then
        tap_not_ok "exim: $iop_c: nothing stored for $IOP_REFUSED_RCPT"
    else
        tap_ok "exim: $iop_c: nothing stored for $IOP_REFUSED_RCPT"
    fi
}

# ex_alerts: see above.
ex_alerts() {
    i=0
    while :; do
        grep -F 'TLS error on connection from (client.example.test)' "$D/log/mainlog" \
            >"$D/tls-errors"
        [ "$(wc -l <"$D/tls-errors")" -ge 4 ] || [ "$i" -ge 100 ] && break
        i=$((i + 1))
        sleep 0.1
    done
    n=$(wc -l <"$D/tls-errors")
    if [ "$n" -eq 4 ]; then tap_ok "exim: certificate failures: four TLS errors logged"; else
        tap_not_ok "exim: certificate failures: $n TLS errors logged, expected 4"
        tap_file "$D/tls-errors"
    fi
    # Without a system trust store (a fresh Debian without ca-certificates)
    # the unknown-ca-system case is a configuration error (78) found after
    # STARTTLS, before the handshake: no alert, the connection just ends.
    ok_errors='\(gnutls_handshake\): (Certificate is bad|CA is unknown|Unknown certificate)\.?$'
    [ "$(system_trust_anchors)" -gt 0 ] ||
        ok_errors="$ok_errors|\\(gnutls_handshake\\): The TLS connection was non-properly terminated\\.\$"
    if grep -v -E "$ok_errors" "$D/tls-errors" >"$D/tls-errors.bad"; then
        tap_not_ok "exim: certificate failures: Exim received smtpfwd's TLS alert"
        tap_file "$D/tls-errors.bad"
    else
        tap_ok "exim: certificate failures: Exim received smtpfwd's TLS alert"
    fi
}

# iop_fetch RCPT MARKER: the message in RCPT's maildir.
iop_fetch() {
    iop_maildir_fetch "$D/mail/${1%@*}" "$2"
}

IOP_HOST=localhost
IOP_STARTTLS_PORT=$P_SUB
IOP_TLS_PORT=$P_TLS
IOP_NOPIPE_PORT=$P_NOPIPE
IOP_NOPIPE_TLS=starttls
IOP_BIG_PORT=$P_BIG
IOP_WRONGNAME_PORT=$P_WRONG
IOP_NO8BIT_PORT=$P_NO8BIT
IOP_NOUTF8_PORT=$P_NOUTF8
IOP_CA=$IOP_CERTS/ca.pem
IOP_USER=$EX_USER IOP_PASS=$EX_PASS
IOP_MECHS="PLAIN LOGIN CRAM-MD5"
IOP_FROM=sender@example.test
IOP_RCPT=alice@example.test
IOP_RCPT2=bob@example.test
IOP_REFUSED_RCPT=nobody@example.test
IOP_TEMPFAIL_RCPT=later@example.test
IOP_SIZE_LIMIT=1048576
IOP_CHUNKING=yes
IOP_DSN=yes
run_matrix
