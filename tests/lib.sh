# tests/lib.sh - shell helpers for the integration tests (tests/*.sh):
# a temporary directory, starting and stopping the scripted SMTP server
# (tests/smtpd-script) on a random port, with TLS certificates from
# tests/certs.sh, skipping with status 77.
# Source it: . "$top_srcdir/tests/lib.sh". POSIX sh.

: "${SMTPD:=${top_builddir:-.}/tests/smtpd-script}"
: "${SMTPFWD:=${top_builddir:-.}/src/smtpfwd}"

# skip REASON: exit 77 (automake's "skipped").
skip() {
    echo "SKIP: $*"
    exit 77
}

# need_program NAME: skip unless NAME is on PATH.
need_program() {
    command -v "$1" >/dev/null 2>&1 || skip "$1 not installed"
}

# lib_tmpdir: make $TESTDIR (removed on exit, along with the server).
lib_tmpdir() {
    TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/smtpfwd-test.XXXXXX") || exit 99
    trap 'smtpd_stop; rm -rf "$TESTDIR"' EXIT
    trap 'exit 1' INT TERM
}

# lib_private_env: a scrubbed environment like the data-file cases': HOME
# and the XDG directories inside $TESTDIR (spool, session cache), no
# system configuration file, the C locale, umask 022 (smtpfwd refuses a
# spool directory that its group may write, as "mkdir" makes one under
# the umask 002 some systems give their users).
lib_private_env() {
    umask 022
    HOME=$TESTDIR/home
    XDG_STATE_HOME=$HOME/.local/state
    XDG_CONFIG_HOME=$HOME/.config
    XDG_CACHE_HOME=$HOME/.cache
    SMTPFWD_SYSCONF=
    LC_ALL=C
    export HOME XDG_STATE_HOME XDG_CONFIG_HOME XDG_CACHE_HOME SMTPFWD_SYSCONF LC_ALL
    mkdir -p "$XDG_STATE_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" || exit 99
}

# system_trust_anchors: how many trust anchors GnuTLS finds in this
# machine's system store (what smtpfwd uses without tls_trust_file); 0
# when there is none, as on a fresh Debian without ca-certificates.
# Without a store smtpfwd exits 78 (configuration), with one that does not
# know the server's CA 77 (certificate refused). Exits 99 when it cannot
# ask (no python3 or no libgnutls).
system_trust_anchors() {
    "${PYTHON:-python3}" -c '
import ctypes, ctypes.util
g = ctypes.CDLL(ctypes.util.find_library("gnutls") or "libgnutls.so.30")
cred = ctypes.c_void_p()
if g.gnutls_certificate_allocate_credentials(ctypes.byref(cred)) < 0:
    raise SystemExit(1)
print(max(g.gnutls_certificate_set_x509_system_trust(cred), 0))' || exit 99
}

# Counting checks: fail MSG / ok MSG print a line and count it in $fails
# and $passes (a test ends with: echo "$passes passed, $fails failed").
fails=0
passes=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
ok() {
    echo "ok: $*"
    passes=$((passes + 1))
}

# count_in DIR: the number of entries in a directory (0 if it is missing),
# e.g. a spool's new/ or failed/.
count_in() {
    if [ -d "$1" ]; then
        find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l
    else
        echo 0
    fi
}

# smtpd_start [SCRIPT-TEXT]: start the server with that script in $TESTDIR;
# sets SMTPD_PORT and SMTPD_PID. Its files are $TESTDIR/NAME.script, .log,
# .events, .port and .stderr, NAME being $SMTPD_NAME (default "server");
# $SMTPD_EXTRA adds arguments (--address ADDR --port N ...). Waits for the
# port file (no sleeps on a fixed time: polls for the file the server
# renames into place).
smtpd_start() {
    sf=$TESTDIR/${SMTPD_NAME:-server}
    printf '%s\n' "${1:-}" > "$sf.script"
    rm -f "$sf.port"
    # shellcheck disable=SC2086
    "$SMTPD" --script "$sf.script" --log "$sf.log" --events "$sf.events" \
        --port-file "$sf.port" ${SMTPD_EXTRA:-} 2> "$sf.stderr" &
    SMTPD_PID=$!
    n=0
    while [ ! -f "$sf.port" ]; do
        if ! kill -0 "$SMTPD_PID" 2>/dev/null; then
            cat "$sf.stderr" >&2
            echo "smtpd-script ${SMTPD_EXTRA:-} failed to start" >&2
            exit 99
        fi
        n=$((n + 1))
        [ "$n" -lt 2000 ] || { echo "smtpd-script ${SMTPD_EXTRA:-} not ready" >&2; exit 99; }
        sleep 0.01 2>/dev/null || sleep 1
    done
    SMTPD_PORT=$(cat "$sf.port")
}

# smtpd_stop: SIGTERM the server and wait for it (it logs everything first).
smtpd_stop() {
    if [ -n "${SMTPD_PID:-}" ]; then
        kill -TERM "$SMTPD_PID" 2>/dev/null
        wait "$SMTPD_PID" 2>/dev/null
        SMTPD_PID=
    fi
}

# write_config [EXTRA-LINES]: a plain account for the running server in
# $TESTDIR/smtprc (mode 0600); prints its path.
write_config() {
    cat > "$TESTDIR/smtprc" <<EOF
account default
host 127.0.0.1
port $SMTPD_PORT
tls off
from me@x.test
${1:-}
EOF
    chmod 600 "$TESTDIR/smtprc"
    echo "$TESTDIR/smtprc"
}

# certs_make: generate the test certificates (tests/certs.sh) into
# $TESTDIR/certs; sets CERTS. Skips (77) when certtool is missing.
certs_make() {
    CERTS="$TESTDIR/certs"
    sh "${top_srcdir:-.}/tests/certs.sh" "$CERTS" >/dev/null 2>"$TESTDIR/certs.stderr"
    rc=$?
    [ "$rc" -eq 77 ] && skip "certtool not installed"
    [ "$rc" -eq 0 ] || { cat "$TESTDIR/certs.stderr" >&2; exit 99; }
}

# smtpd_start_tls [SCRIPT-TEXT]: smtpd_start with the server certificate
# from certs_make (for scripts with starttls / implicit-tls).
smtpd_start_tls() {
    SMTPD_EXTRA="--tls-cert $CERTS/server.pem --tls-key $CERTS/server-key.pem"
    smtpd_start "$@"
    SMTPD_EXTRA=
}
