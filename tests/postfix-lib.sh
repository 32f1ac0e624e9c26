# postfix-lib.sh - start a private Postfix smarthost for the integration
# tests, on random loopback ports, with its own config directory, queue,
# certificates and maildirs; by default with Dovecot SASL. Source it, then:
#   pf_start        sets PF_DIR, PF_SUB (submission, STARTTLS required),
#                   PF_SMTPS (implicit TLS), PF_CA (CA certificate that
#                   signed the server's "localhost" certificate),
#                   PF_USER / PF_PASS (a Dovecot passwd-file user).
#                   Exits 77 when Postfix, Dovecot or root are missing.
#   pf_wait_mail N  waits (bounded) until N messages are in the maildir.
#   pf_messages     prints the paths of delivered messages, oldest first.
#   pf_stop         stops both and removes everything (also on EXIT).
#   pf_halt         stops both, keeps $PF_DIR.
# Mail for any address @x.test lands in one maildir, $PF_DIR/mail/box.
#
# The pieces of pf_start, for a Postfix with another SASL or other ports
# (tests/interop/postfix-cyrus.sh, tests/interop/dovecot-submission.sh):
#   pf_prepare      checks (77), makes $PF_DIR (a fresh temporary directory,
#                   removed by pf_stop at exit; or the given $PF_DIR, which
#                   the caller removes) with its queue, data and mail
#                   directories; certificates: $PF_CERT/$PF_KEY/$PF_CA when
#                   set, else a test CA and a "localhost" certificate made
#                   here in $PF_DIR/tls
#   pf_maildir NAME a maildir $PF_DIR/mail/NAME owned by postfix
#   pf_main_cf      prints the main.cf lines every instance has (paths,
#                   loopback only, TLS certificate, virtual delivery to the
#                   maildirs under $PF_DIR/mail); the caller adds
#                   virtual_mailbox_domains/_maps, SASL and restrictions
#   pf_master_cf    prints master.cf's internal services (none chrooted);
#                   the caller adds its smtpd listeners before them
#   pf_launch PORT.. writes the queue directories, starts Postfix, waits
#                   until each PORT listens; exits 99 with Postfix's error

# pf_skip REASON: tests/lib.sh's skip_all when it is loaded (TAP "1..0 #
# SKIP"), else "SKIP: REASON" and exit 77.
pf_skip() {
    if command -v skip_all >/dev/null 2>&1; then skip_all "$@"; fi
    echo "SKIP: $*"
    exit 77
}

# pf_free_ports N: N distinct free loopback ports on one line (one Python
# start: it costs most of a second on slow machines).
pf_free_ports() {
    "${PYTHON:-python3}" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# pf_wait_listen PORT...: wait (bounded: $PF_WAIT_S seconds, default 10)
# until every PORT accepts connections on 127.0.0.1.
pf_wait_listen() {
    "${PYTHON:-python3}" -c '
import socket, sys, time
deadline = time.time() + float(sys.argv.pop(1))
for port in map(int, sys.argv[1:]):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("nothing listens on 127.0.0.1:%d" % port)
            time.sleep(0.05)' "${PF_WAIT_S:-10}" "$@"
}

pf_prepare() {
    [ "$(id -u)" -eq 0 ] || pf_skip "the Postfix tests need root (private instance with its own queue)"
    command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || pf_skip "postfix is not installed"
    command -v certtool >/dev/null 2>&1 || pf_skip "certtool (gnutls-bin) is not installed"
    id postfix >/dev/null 2>&1 || pf_skip "the postfix user is missing"
    PATH=$PATH:/usr/sbin:/sbin

    if [ -z "${PF_DIR:-}" ]; then
        PF_DIR=$(mktemp -d /tmp/smtpfwd-pf.XXXXXX) || exit 99
        trap pf_stop EXIT
        trap 'exit 1' HUP INT TERM PIPE
    fi
    mkdir -p "$PF_DIR" || exit 99
    chmod 755 "$PF_DIR"
    mkdir -p "$PF_DIR/etc" "$PF_DIR/queue/private" "$PF_DIR/data" "$PF_DIR/mail" \
        "$PF_DIR/dovecot" "$PF_DIR/tls"
    chown postfix "$PF_DIR/data" "$PF_DIR/queue/private"
    chmod 700 "$PF_DIR/queue/private"
    chown postfix:postfix "$PF_DIR/mail"

    if [ -n "${PF_CERT:-}" ]; then
        return 0
    fi
    (
        cd "$PF_DIR/tls" || exit 1
        certtool --generate-privkey --key-type=ecdsa --outfile ca.key 2>/dev/null &&
        printf 'cn = smtpfwd test CA\nca\ncert_signing_key\nexpiration_days = 30\n' >ca.tmpl &&
        certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem 2>/dev/null &&
        certtool --generate-privkey --key-type=ecdsa --outfile server.key 2>/dev/null &&
        printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 30\n' >server.tmpl &&
        certtool --generate-certificate --load-privkey server.key --load-ca-certificate ca.pem \
            --load-ca-privkey ca.key --template server.tmpl --outfile server.pem 2>/dev/null
    ) || { echo "certificate generation failed"; exit 99; }
    chmod 644 "$PF_DIR"/tls/*.pem
    chgrp postfix "$PF_DIR/tls/server.key"; chmod 640 "$PF_DIR/tls/server.key"
    PF_CA=$PF_DIR/tls/ca.pem PF_CERT=$PF_DIR/tls/server.pem PF_KEY=$PF_DIR/tls/server.key
}

pf_maildir() {
    mkdir -p "$PF_DIR/mail/$1/new" "$PF_DIR/mail/$1/cur" "$PF_DIR/mail/$1/tmp" || exit 99
    chown -R postfix:postfix "$PF_DIR/mail/$1"
}

pf_main_cf() {
    cat <<EOC
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test
mydestination =
mynetworks = 127.0.0.0/8
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
alias_maps =
alias_database =
virtual_mailbox_base = $PF_DIR/mail
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
smtpd_tls_cert_file = $PF_CERT
smtpd_tls_key_file = $PF_KEY
EOC
}

pf_master_cf() {
    cat <<EOC
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOC
}

pf_launch() {
    # The queue directories of postfix-files, made here so that the start
    # can skip "postfix check" (the "quick-start" file), which takes
    # seconds. If the quick start fails, the full one runs.
    for d in active bounce corrupt defer deferred flush hold incoming saved trace; do
        mkdir -p "$PF_DIR/queue/$d"; chown postfix "$PF_DIR/queue/$d"; chmod 700 "$PF_DIR/queue/$d"
    done
    mkdir -p "$PF_DIR/queue/maildrop" "$PF_DIR/queue/public" "$PF_DIR/queue/pid"
    chown postfix:postdrop "$PF_DIR/queue/maildrop" "$PF_DIR/queue/public"
    chmod 730 "$PF_DIR/queue/maildrop"; chmod 710 "$PF_DIR/queue/public"
    touch "$PF_DIR/queue/quick-start"
    # No change to the system's /etc/postfix: as root, `postfix -c DIR`
    # needs no alternate_config_directories entry (only the set-gid
    # postdrop/postqueue of other users would).
    postfix -c "$PF_DIR/etc" start >/dev/null 2>&1 ||
        postfix -c "$PF_DIR/etc" start >/dev/null 2>&1 ||
        { script -qc "postfix -c $PF_DIR/etc start" /dev/null; cat "$PF_DIR/maillog" 2>/dev/null; exit 99; }
    # Ready when every port accepts connections (bounded wait).
    pf_wait_listen "$@" || { tail -20 "$PF_DIR/maillog" 2>/dev/null; exit 99; }
}

pf_start() {
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || pf_skip "dovecot is not installed"
    id dovecot >/dev/null 2>&1 || pf_skip "the dovecot user is missing"
    pf_prepare
    pf_maildir box

    PF_USER=alice PF_PASS='s3cret pass'
    printf '%s:{PLAIN}%s\n' "$PF_USER" "$PF_PASS" >"$PF_DIR/users"
    chmod 644 "$PF_DIR/users"
    ports=$(pf_free_ports 2) || exit 99
    PF_SUB=${ports% *} PF_SMTPS=${ports#* }

    cat >"$PF_DIR/dovecot.conf" <<EOC
base_dir = $PF_DIR/dovecot
state_dir = $PF_DIR/dovecot
log_path = $PF_DIR/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $PF_DIR/users
}
userdb {
  driver = static
  args = uid=postfix gid=postfix home=$PF_DIR/mail
}
service auth {
  unix_listener $PF_DIR/queue/private/auth {
    mode = 0666
  }
}
service anvil {
  chroot =
}
default_login_user = dovecot
default_internal_user = dovecot
EOC
    dovecot -c "$PF_DIR/dovecot.conf" || { cat "$PF_DIR/dovecot.log" 2>/dev/null; exit 99; }

    {
        pf_main_cf
        cat <<EOC
virtual_mailbox_domains = x.test
virtual_mailbox_maps = static:box/
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_tls_auth_only = yes
EOC
    } >"$PF_DIR/etc/main.cf"
    {
        cat <<EOC
127.0.0.1:$PF_SUB inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:$PF_SMTPS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
EOC
        pf_master_cf
    } >"$PF_DIR/etc/master.cf"
    pf_launch "$PF_SUB" "$PF_SMTPS"
}

pf_messages() {
    ls -tr "$PF_DIR"/mail/box/new/* 2>/dev/null
}

pf_wait_mail() {
    i=0
    while [ "$(pf_messages | wc -l)" -lt "$1" ]; do
        i=$((i + 1))
        [ $i -lt 150 ] || { echo "timed out waiting for $1 message(s) in the maildir"; tail -20 "$PF_DIR/maillog"; return 1; }
        postfix -c "$PF_DIR/etc" flush >/dev/null 2>&1
        sleep 0.2
    done
}

pf_halt() {
    [ -n "${PF_DIR:-}" ] && [ -d "$PF_DIR" ] || return 0
    postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1
    [ -f "$PF_DIR/dovecot/master.pid" ] && kill "$(cat "$PF_DIR/dovecot/master.pid")" 2>/dev/null
    return 0
}

pf_stop() {
    pf_halt
    [ -n "${PF_DIR:-}" ] && [ -d "$PF_DIR" ] || return 0
    rm -rf "$PF_DIR"
    PF_DIR=
}
