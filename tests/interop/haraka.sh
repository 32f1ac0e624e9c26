#!/bin/sh
# tests/interop/haraka.sh - smtpfwd against a private Haraka (the Node.js
# SMTP server), through the delivery matrix of tests/interop/matrix.sh,
# and a direct check of what matters most against Haraka: it answers 503
# to every command a client sends behind the end of a message (the final
# dot) before the reply to it, a defence against SMTP smuggling, so a QUIT
# written with the final dot is refused and logged.
#
# Owns: installing, configuring, starting and stopping that Haraka and
# reading its deliveries back.
#
# Haraka is an npm package, not a Debian one: it is installed (pinned,
# below) into a cache directory, ${SMTPFWD_INTEROP_NPM:-/var/cache/
# smtpfwd-interop/npm}, by scripts/install-deps, or here when it is not
# there, npm is available and the directory is writable. 3.3.4 is the
# first release that refuses commands pipelined after the end of DATA; its
# own engines field asks for Node 20, one dependency's for Node 22 (its
# CommonJS build runs on 20); nopt and node-gyp are pinned (overrides) to
# releases that support Node 20.
#
# The server runs as the invoking user (no root needed: random loopback
# ports, everything under the temporary directory), from a configuration
# directory made by `haraka -i` and rewritten: three listeners on
# 127.0.0.1, STARTTLS (tls plugin, tests/certs.sh certificates) on the
# submission port and on the port without PIPELINING, implicit TLS on
# smtps_port; AUTH PLAIN LOGIN CRAM-MD5 (auth/flat_file); SIZE 25 MiB
# (max.bytes; one limit for all ports, so the 20 MB case runs on the
# submission port); DATA lines up to the 1000 octets of RFC 5321 (Haraka's
# default, 992, would fold the matrix's 998-character lines). Three small
# plugins of ours, in the configuration directory's plugins/:
#   iop_conn    skips the reverse DNS lookup of the client, and removes
#               PIPELINING from the EHLO reply on one port (Haraka always
#               offers it; this is the port without it), 8BITMIME and
#               SMTPUTF8 on another, SMTPUTF8 on a third (the conversion
#               cases' ports, convert-cases.sh: Haraka has no setting for
#               either, but its capabilities hook may change the list)
#   iop_rcpt    refuses nobody@ with 550 and defers later@ with 450; accepts
#               alice, bob, sender and postmaster @example.test from an
#               authenticated client only
#   iop_queue   stores each accepted message (as the queue and, for
#               authenticated clients, the outbound queue hook) in a
#               maildir per recipient: mail/LOCALPART/new/, LF line ends,
#               dots unstuffed, as Haraka received it plus its headers
# Haraka offers no CHUNKING and no DSN.
#
# Exit 77 (skipped) when node (20 or later), openssl (Haraka reads its
# certificates with it) or certtool is missing, or Haraka is neither in
# the cache nor installable there.
set -u
here=${top_srcdir:+$top_srcdir/tests/interop}
here=${here:-$(cd "$(dirname "$0")" && pwd)}
. "$here/lib.sh"
. "$here/matrix.sh"

IOP_NAME=haraka
# The pinned release and its install recipe (scripts/install-deps has the
# same; keep them equal).
HARAKA_VERSION=3.3.4
HK_NPM=${SMTPFWD_INTEROP_NPM:-/var/cache/smtpfwd-interop/npm}
HARAKA=$HK_NPM/node_modules/.bin/haraka

need_built
iop_need_program node openssl certtool
node -e 'process.exit(parseInt(process.versions.node, 10) >= 20 ? 0 : 1)' ||
    skip "haraka: Haraka $HARAKA_VERSION needs Node.js 20 or later, this is $(node --version)"

# hk_version: the version of the Haraka in the cache, or nothing.
hk_version() {
    node -e 'try { console.log(require(process.argv[1]).version) } catch (e) {}' \
        "$HK_NPM/node_modules/Haraka/package.json" 2>/dev/null
}

iop_tmpdir
if [ "$(hk_version)" != "$HARAKA_VERSION" ] || [ ! -x "$HARAKA" ]; then
    command -v npm >/dev/null 2>&1 ||
        skip "haraka: Haraka $HARAKA_VERSION is not in $HK_NPM and npm is missing (scripts/install-deps installs it)"
    mkdir -p "$HK_NPM" 2>/dev/null && [ -w "$HK_NPM" ] ||
        skip "haraka: Haraka $HARAKA_VERSION is not in $HK_NPM, which is not writable (run scripts/install-deps)"
    cat >"$HK_NPM/package.json" <<EOF
{
  "name": "smtpfwd-interop-haraka",
  "private": true,
  "dependencies": { "Haraka": "$HARAKA_VERSION" },
  "overrides": { "nopt": "9.0.0", "node-gyp": "12.3.0" }
}
EOF
    npm install --prefix "$HK_NPM" --omit=optional --no-audit --no-fund >"$IOP_DIR/npm.log" 2>&1
    [ "$(hk_version)" = "$HARAKA_VERSION" ] && [ -x "$HARAKA" ] ||
        skip "haraka: cannot install Haraka $HARAKA_VERSION into $HK_NPM: $(tail -1 "$IOP_DIR/npm.log")"
fi
iop_certs

ports=$(iop_free_ports 5) || exit 99
set -- $ports
P_SUB=$1 P_TLS=$2 P_NOPIPE=$3 P_NO8BIT=$4 P_NOUTF8=$5
HK_USER=alice HK_PASS='Har4ka pass-word'
D=$IOP_DIR
H=$D/haraka
"$HARAKA" -i "$H" >"$D/haraka-init.log" 2>&1 ||
    { cat "$D/haraka-init.log"; echo "haraka -i failed"; exit 99; }
mkdir -p "$D/mail/tmp" || exit 99

echo mx.haraka.test >"$H/config/me"
cat >"$H/config/smtp.ini" <<EOF
; smtpfwd's interoperability test: loopback only, one process, foreground.
[main]
listen=127.0.0.1:$P_SUB,127.0.0.1:$P_TLS,127.0.0.1:$P_NOPIPE,127.0.0.1:$P_NO8BIT,127.0.0.1:$P_NOUTF8
smtps_port=$P_TLS
nodes=0
inactivity_timeout=120
force_shutdown_timeout=3
EOF
# connection.ini as `haraka -i` made it, with the two limits set.
sed -i -e 's/^bytes=.*/bytes=26214400/' -e 's/^data_line_length=.*/data_line_length=1000/' \
    "$H/config/connection.ini"
grep -q -x 'bytes=26214400' "$H/config/connection.ini" &&
    grep -q -x 'data_line_length=1000' "$H/config/connection.ini" ||
    { echo "cannot set the limits in $H/config/connection.ini"; exit 99; }
cat >"$H/config/log.ini" <<EOF
[main]
level=info
timestamps=true
format=default
EOF
# The DH group of RFC 7919 (ffdhe2048): Haraka would otherwise spend
# seconds generating one with openssl dhparam.
certtool --get-dh-params --bits 2048 2>/dev/null |
    sed -n '/BEGIN DH PARAMETERS/,/END DH PARAMETERS/p' >"$H/config/dhparams.pem"
[ -s "$H/config/dhparams.pem" ] || { echo "certtool --get-dh-params failed"; exit 99; }
cat >"$H/config/tls.ini" <<EOF
key=$IOP_CERTS/server-key.pem
cert=$IOP_CERTS/server.pem
dhparam=dhparams.pem
requestCert=false
rejectUnauthorized=false
EOF
cat >"$H/config/auth_flat_file.ini" <<EOF
[core]
methods=PLAIN,LOGIN,CRAM-MD5
constrain_sender=false

[users]
$HK_USER=$HK_PASS
EOF
cat >"$H/config/plugins" <<EOF
iop_conn
tls
auth/flat_file
iop_rcpt
iop_queue
EOF

cat >"$H/plugins/iop_conn.js" <<EOF
// smtpfwd's interoperability test: no reverse DNS lookup (the client is
// on loopback; the machine may have no resolver), and no PIPELINING in
// the EHLO reply on port $P_NOPIPE (Haraka itself offers it everywhere),
// no 8BITMIME and no SMTPUTF8 on port $P_NO8BIT, no SMTPUTF8 on $P_NOUTF8.
exports.hook_lookup_rdns = function (next, connection) {
    next(OK, 'localhost')
}
const drop = {
    $P_NOPIPE: ['PIPELINING'],
    $P_NO8BIT: ['8BITMIME', 'SMTPUTF8'],
    $P_NOUTF8: ['SMTPUTF8'],
}
exports.hook_capabilities = function (next, connection) {
    for (const cap of drop[connection.local.port] || []) {
        const i = connection.capabilities.indexOf(cap)
        if (i >= 0) connection.capabilities.splice(i, 1)
    }
    next()
}
EOF
cat >"$H/plugins/iop_rcpt.js" <<'EOF'
// smtpfwd's interoperability test: which recipients are accepted.
const known = ['alice', 'bob', 'sender', 'postmaster']
exports.hook_rcpt = function (next, connection, params) {
    const rcpt = params[0]
    const user = String(rcpt.user || '').toLowerCase()
    const host = String(rcpt.host || '').toLowerCase()
    const addr = `<${user}@${host}>`
    if (host !== 'example.test') return next(DENY, `5.7.1 ${addr}: relaying denied`)
    if (user === 'nobody') return next(DENY, `5.1.1 ${addr}: no such user here`)
    if (user === 'later') return next(DENYSOFT, `4.2.0 ${addr}: mailbox busy, try later`)
    if (!connection.notes.auth_user) return next(DENY, '5.7.1 authentication required')
    if (known.includes(user)) return next(OK)
    next(DENY, `5.1.1 ${addr}: no such user here`)
}
EOF
cat >"$H/plugins/iop_queue.js" <<EOF
// smtpfwd's interoperability test: each accepted message into a maildir
// per recipient ($D/mail/LOCALPART/new/), written to tmp/ first and
// linked into place, with LF line ends and dot-stuffing removed.
const fs = require('node:fs')
const path = require('node:path')
const top = '$D/mail'

function store(next, connection) {
    const txn = connection.transaction
    const name = \`\${Date.now()}.\${txn.uuid}.haraka\`
    const tmp = path.join(top, 'tmp', name)
    const ws = fs.createWriteStream(tmp, { mode: 0o644 })
    let done = false
    const fail = (err) => {
        if (done) return
        done = true
        connection.logerror(\`iop_queue: \${err.message}\`)
        next(DENYSOFT, '4.3.0 cannot store the message')
    }
    ws.on('error', fail)
    ws.on('close', () => {
        if (done) return
        try {
            for (const r of txn.rcpt_to) {
                const dir = path.join(top, String(r.user).toLowerCase())
                fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true })
                fs.mkdirSync(path.join(dir, 'new'), { recursive: true })
                fs.linkSync(tmp, path.join(dir, 'new', name))
            }
            fs.unlinkSync(tmp)
        } catch (err) {
            return fail(err)
        }
        done = true
        connection.loginfo(\`iop_queue: stored \${name} for \${txn.rcpt_to.length} recipient(s)\`)
        next(OK, \`stored as \${name}\`)
    })
    txn.message_stream.pipe(ws, { line_endings: '\n' })
}
exports.hook_queue = store
exports.hook_queue_outbound = store
EOF

"$HARAKA" -c "$H" >"$D/haraka.log" 2>&1 &
HK_PID=$!
iop_on_exit "kill $HK_PID; wait $HK_PID"
if ! iop_wait_listen "$P_SUB" "$P_TLS" "$P_NOPIPE" "$P_NO8BIT" "$P_NOUTF8"; then
    sed 's/^/# /' "$D/haraka.log"
    exit 99
fi

# iop_fetch RCPT MARKER: the message in RCPT's maildir.
iop_fetch() {
    iop_maildir_fetch "$D/mail/${1%@*}" "$2"
}

# hk_conn_lines FILE: Haraka's log lines of the connection whose greeting
# is the first 220 line of the transcript FILE (the greeting ends with the
# first characters of the connection's id, which starts its log lines),
# once its "disconnect" line is there (bounded wait); 1 when it is not.
hk_conn_lines_once() {
    grep -F -e "[$hk_id" "$D/haraka.log" >"$1.log" 2>/dev/null
    grep -q -F -e '[core] disconnect ' "$1.log" || return 1
    cat "$1.log"
}
hk_conn_lines() {
    hk_id=$(sed -n '/^<-- 220 /{s/^<-- 220 .* ready (\([0-9A-F]\{6\}\))\r\{0,1\}$/\1/p;q;}' "$1")
    [ -n "$hk_id" ] || { echo "no Haraka greeting with a connection id in $1" >&2; return 1; }
    iop_poll hk_conn_lines_once "$1"
}

# 1. Directly: one delivery on the submission port (which offers
#    PIPELINING) exits 0, is stored exactly once, sends nothing between
#    the final dot and its reply (Haraka answers such a command 503 and
#    logs "command pipelined after end of DATA - refused"), and Haraka's
#    log of the connection has no complaint about pipelining.
cdir=$D/direct
iop_client_env "$cdir"
marker="smtpfwd-interop haraka direct $$"
{
    echo "account default"
    echo "host localhost"
    echo "port $P_SUB"
    echo "from sender@example.test"
    echo "domain client.example.test"
    echo "timeout 60"
    echo "queue off"
    echo "queue_dir $cdir/spool"
    echo "tls on"
    echo "tls_trust_file $IOP_CERTS/ca.pem"
    echo "auth on"
    echo "user $HK_USER"
    echo "password \"$HK_PASS\""
} >"$cdir/smtprc"
chmod 600 "$cdir/smtprc"
printf 'From: sender@example.test\nTo: alice@example.test\nSubject: direct\n\n%s\n.\n..two dots\nlast line\n' \
    "$marker" >"$cdir/in"
# shellcheck disable=SC2086
env -u DBUS_SESSION_BUS_ADDRESS $IOP_CLIENT_ENV timeout 120 \
    "$SMTPFWD" -C "$cdir/smtprc" -v -i alice@example.test <"$cdir/in" >"$cdir/out" 2>"$cdir/err"
st=$?
if [ "$st" -eq 0 ]; then tap_ok "haraka: direct: exit status 0"; else
    tap_not_ok "haraka: direct: exit status $st, expected 0"
    tap_file "$cdir/err"
fi
iop_maildir_fetch "$D/mail/alice" "$marker" >"$cdir/got" 2>"$cdir/got.err"
case $? in
0) tap_ok "haraka: direct: stored exactly once" ;;
2) tap_not_ok "haraka: direct: stored exactly once (several copies)"; tap_file "$cdir/got.err" ;;
*) tap_not_ok "haraka: direct: stored exactly once (not stored)" ;;
esac
if awk '/^--> \.$/ { dot = 1; next }
        dot && /^<-- [0-9][0-9][0-9] / { replied = 1 }
        dot && /^--> / && !replied { bad = 1 }
        END { exit !(dot && !bad) }' "$cdir/err"; then
    tap_ok "haraka: direct: nothing sent between the final dot and its reply"
else
    tap_not_ok "haraka: direct: nothing sent between the final dot and its reply"
    grep -E '^(<--|-->)' "$cdir/err" | tail -6 | sed 's/^/#   /'
fi
if grep -q '^<-- 503' "$cdir/err"; then
    tap_not_ok "haraka: direct: no 503 from Haraka"
    grep -E '^(<--|-->)' "$cdir/err" | tail -6 | sed 's/^/#   /'
else
    tap_ok "haraka: direct: no 503 from Haraka"
fi
if ! hk_conn_lines "$cdir/err" >"$cdir/conn"; then
    tap_not_ok "haraka: direct: Haraka's log has no complaint about pipelining (no log of the connection)"
elif grep -q -i pipelin "$cdir/conn"; then
    tap_not_ok "haraka: direct: Haraka's log has no complaint about pipelining"
    grep -i pipelin "$cdir/conn" | sed 's/^/#   /'
else
    tap_ok "haraka: direct: Haraka's log has no complaint about pipelining"
fi

# 2. The same checks can fail: a client that writes QUIT in one write with
#    the final dot gets 503 for it, and Haraka's log of that connection
#    says why (python3: a raw SMTP session, AUTH in clear on loopback).
pdir=$D/probe
mkdir -p "$pdir" || exit 99
"$PYTHON" - "$P_SUB" "$HK_USER" "$HK_PASS" "smtpfwd-interop haraka probe $$" \
    >"$pdir/err" 2>&1 <<'EOF'
import base64, socket, sys
port, user, password, marker = sys.argv[1:5]
s = socket.create_connection(("127.0.0.1", int(port)), 20)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline().decode("ascii", "replace").rstrip("\r\n")
        print("<-- " + line, flush=True)
        if line[3:4] != "-":
            return line
def send(text):
    for line in text.split("\r\n")[:-1]:
        print("--> " + line, flush=True)
    s.sendall(text.encode())
reply()
plain = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
for cmd in ["EHLO probe.example.test", "AUTH PLAIN " + plain,
            "MAIL FROM:<sender@example.test>", "RCPT TO:<alice@example.test>", "DATA"]:
    send(cmd + "\r\n")
    reply()
send("Subject: probe\r\n\r\n%s\r\n.\r\nQUIT\r\n" % marker)
reply()
reply()
EOF
if grep -q '^<-- 503 .*pipelined after end of DATA' "$pdir/err"; then
    tap_ok "haraka: probe: QUIT written with the final dot is answered 503"
else
    tap_not_ok "haraka: probe: QUIT written with the final dot is answered 503"
    tap_file "$pdir/err"
fi
if hk_conn_lines "$pdir/err" >"$pdir/conn" && grep -q -i 'pipelined after end of DATA' "$pdir/conn"; then
    tap_ok "haraka: probe: Haraka's log of that connection complains about pipelining"
else
    tap_not_ok "haraka: probe: Haraka's log of that connection complains about pipelining"
    tap_file "$pdir/conn"
fi
hk_probe_id=${hk_id:-none}

# 3. The matrix (tests/interop/matrix.sh), in a subshell so that one more
#    check follows it: in all of Haraka's log, no complaint about
#    pipelining but the probe's. (run_matrix prints the plan and exits; its
#    results are counted here and the plan printed once at the end.)
IOP_HOST=localhost
IOP_STARTTLS_PORT=$P_SUB
IOP_TLS_PORT=$P_TLS
IOP_NOPIPE_PORT=$P_NOPIPE
IOP_NOPIPE_TLS=starttls
IOP_NO8BIT_PORT=$P_NO8BIT
IOP_NOUTF8_PORT=$P_NOUTF8
IOP_CA=$IOP_CERTS/ca.pem
IOP_USER=$HK_USER IOP_PASS=$HK_PASS
IOP_MECHS="PLAIN LOGIN CRAM-MD5"
IOP_FROM=sender@example.test
IOP_RCPT=alice@example.test
IOP_RCPT2=bob@example.test
IOP_REFUSED_RCPT=nobody@example.test
IOP_TEMPFAIL_RCPT=later@example.test
IOP_SIZE_LIMIT=26214400
IOP_CHUNKING=no
IOP_DSN=no
{
    (run_matrix)
    echo $? >"$D/matrix.rc"
} | tee "$D/matrix.tap" | grep -v -E '^1\.\.[0-9]+$|^# [0-9]+ of [0-9]+ failed$'
case $(cat "$D/matrix.rc" 2>/dev/null) in
0 | 1) ;;
*) echo "# the matrix did not finish (status $(cat "$D/matrix.rc" 2>/dev/null))"; exit 99 ;;
esac
tap_n=$((tap_n + $(grep -c -E '^(not )?ok ' "$D/matrix.tap")))
tap_failed=$((tap_failed + $(grep -c '^not ok ' "$D/matrix.tap")))
grep -i pipelin "$D/haraka.log" | grep -v -F -e "[$hk_probe_id" >"$D/complaints"
if [ -s "$D/complaints" ]; then
    tap_not_ok "haraka: Haraka's log has no complaint about pipelining but the probe's"
    tap_file "$D/complaints"
else
    tap_ok "haraka: Haraka's log has no complaint about pipelining but the probe's"
fi
tap_done
