# tests/lib.sh - shell helpers for the integration tests (tests/*.sh):
# TAP output (one line per check, as automake's tap-driver.sh reads it),
# a temporary directory, starting and stopping the scripted SMTP server
# (tests/smtpd-script) on a random port, with TLS certificates from
# tests/certs.sh, skipping.
# Source it: . "$top_srcdir/tests/lib.sh". POSIX sh.
#
# A test prints one TAP line per check and ends with done_testing:
#   ok DESC / not_ok DESC (fail DESC is the same)   "ok N - DESC" / "not ok N - DESC";
#                       lines after the first line of DESC become "#" comments
#   check DESC COMMAND...   ok DESC when COMMAND succeeds, else not_ok DESC
#                       and return 1
#   not COMMAND...      succeeds when COMMAND fails: check DESC not grep -q ...
#   skip_check REASON DESC  "ok N - DESC # SKIP REASON" (a check that cannot run here)
#   fail_stop DESC      not_ok DESC, then done_testing (nothing after it can run)
#   diag TEXT           TEXT as "# " comment lines
#   plan N              the plan first (otherwise done_testing prints it last)
#   done_testing        the plan (unless given), exit 1 when a check failed, else 0
#   skip_all REASON     skip the whole test: "1..0 # SKIP REASON", exit 0
#                       (after some checks: one skipped check and done_testing)
#   need_built [PROG..] smtpfwd ($SMTPFWD) and each PROG must be built:
#                       "Bail out!" and exit 99 (a hard error, not a skip)
#                       when one is missing
# Other exits: 99 (or any non-zero status without a plan) is an error.

: "${SMTPD:=${top_builddir:-.}/tests/smtpd-script}"
: "${SMTPFWD:=${top_builddir:-.}/src/smtpfwd}"

tap_n=0
tap_failed=0
tap_planned=
tap_nl='
'
# Kept for the tests that count: $passes and $fails.
passes=0
fails=0

# tap_result STATUS TEXT: one TAP line, the rest of TEXT as comments.
tap_result() {
    tap_n=$((tap_n + 1))
    printf '%s %d - %s\n' "$1" "$tap_n" "${2%%"$tap_nl"*}"
    case $2 in
    *"$tap_nl"*) printf '%s\n' "${2#*"$tap_nl"}" | sed 's/^/#   /' ;;
    esac
}
ok() {
    passes=$((passes + 1))
    tap_result ok "$*"
}
not_ok() {
    fails=$((fails + 1))
    tap_failed=$((tap_failed + 1))
    tap_result "not ok" "$*"
}
fail() {
    not_ok "$@"
}
# not COMMAND...: succeeds when COMMAND fails (for check).
not() {
    ! "$@"
}
fail_stop() {
    not_ok "$@"
    done_testing
}
check() {
    c_desc=$1
    shift
    if "$@"; then ok "$c_desc"; else not_ok "$c_desc"; return 1; fi
}
skip_check() {
    tap_n=$((tap_n + 1))
    c_reason=$1
    shift
    printf 'ok %d - %s # SKIP %s\n' "$tap_n" "$*" "$c_reason"
}
diag() {
    printf '%s\n' "$*" | sed 's/^/# /'
}
plan() {
    tap_planned=$1
    echo "1..$1"
}
done_testing() {
    [ -n "$tap_planned" ] || echo "1..$tap_n"
    if [ "$tap_failed" -gt 0 ]; then
        echo "# $tap_failed of $tap_n failed"
        exit 1
    fi
    exit 0
}
skip_all() {
    if [ "$tap_n" -eq 0 ] && [ -z "$tap_planned" ]; then
        echo "1..0 # SKIP $*"
        exit 0
    fi
    skip_check "$*" "the remaining checks"
    done_testing
}
# skip REASON: the same as skip_all.
skip() {
    skip_all "$@"
}

need_built() {
    for b in "$SMTPFWD" "$@"; do
        if [ ! -x "$b" ]; then
            echo "Bail out! $b is not built (make check builds it; or set SMTPFWD and SMTPD)"
            exit 99
        fi
    done
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
# and the XDG directories inside $TESTDIR (spool, session cache, OAuth2
# token files; without XDG_*_HOME smtpfwd would use the home directory of
# the user database, not $HOME), no
# system configuration file, the C locale, umask 022 (smtpfwd refuses a
# spool directory that its group may write, as "mkdir" makes one under
# the umask 002 some systems give their users).
lib_private_env() {
    umask 022
    HOME=$TESTDIR/home
    XDG_STATE_HOME=$HOME/.local/state
    XDG_CONFIG_HOME=$HOME/.config
    XDG_CACHE_HOME=$HOME/.cache
    XDG_DATA_HOME=$HOME/.local/share
    SMTPFWD_SYSCONF=
    LC_ALL=C
    export HOME XDG_STATE_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME SMTPFWD_SYSCONF LC_ALL
    mkdir -p "$XDG_STATE_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME" || exit 99
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
    [ "$rc" -eq 77 ] && skip_all "certtool not installed"
    [ "$rc" -eq 0 ] || { cat "$TESTDIR/certs.stderr" >&2; exit 99; }
}

# smtpd_start_tls [SCRIPT-TEXT]: smtpd_start with the server certificate
# from certs_make (for scripts with starttls / implicit-tls).
smtpd_start_tls() {
    SMTPD_EXTRA="--tls-cert $CERTS/server.pem --tls-key $CERTS/server-key.pem"
    smtpd_start "$@"
    SMTPD_EXTRA=
}
