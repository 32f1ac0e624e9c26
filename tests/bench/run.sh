#!/bin/sh
# tests/bench/run.sh - `make bench`: smtpfwd against msmtp, same run, same
# servers, one table.
#
# Owns: finding the programs, building the sink and the delaying proxy
# when make has not, starting the private Postfix + Dovecot of
# tests/postfix-lib.sh when root (for the TLS + AUTH figures), running
# tests/bench/bench.py, and cleaning everything up on exit. Only loopback
# is used; every server and every client run is bounded in time.
#
# Environment: SMTPFWD (default $top_builddir/src/smtpfwd), MSMTP (default
# `command -v msmtp`; empty: smtpfwd only), SINK / PROXY (the built
# helpers), TIMER, BENCH_QUICK=1 (fewer repetitions), BENCH_NO_POSTFIX=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-$(pwd)/..}
: "${SMTPFWD:=$top_builddir/src/smtpfwd}"
: "${PYTHON:=python3}"
[ -x "$SMTPFWD" ] || { echo "bench: $SMTPFWD is not built (run make first)" >&2; exit 1; }
MSMTP=${MSMTP-$(command -v msmtp 2>/dev/null)}
[ -n "$MSMTP" ] || echo "bench: msmtp is not installed; its column stays empty" >&2

BENCH_DIR=$(mktemp -d /tmp/smtpfwd-bench.XXXXXX) || exit 1
cleanup() {
    [ -n "${bench_pid:-}" ] && kill "$bench_pid" 2>/dev/null
    command -v pf_stop >/dev/null 2>&1 && pf_stop
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The helpers: built by `make bench` (tests/Makefile.am), else here.
for prog in sink delay-proxy timer; do
    var=$(echo "$prog" | tr 'a-z-' 'A-Z_')
    [ "$var" = DELAY_PROXY ] && var=PROXY
    eval "path=\${$var:-}"
    if [ -z "$path" ]; then
        if [ -x "$(pwd)/bench/$prog" ]; then
            path=$(pwd)/bench/$prog
        else
            path=$BENCH_DIR/$prog
            ${CC:-cc} -std=gnu11 -O2 -o "$path" "$here/$prog.c" || exit 1
        fi
    fi
    eval "$var=\$path"
done

# Postfix + Dovecot for the TLS + AUTH figures (root only; skipped otherwise).
if [ "${BENCH_NO_POSTFIX:-}" != 1 ] && [ "$(id -u)" -eq 0 ]; then
    . "$here/../postfix-lib.sh"
    # pf_start exits 77 when something is missing; run it in a subshell
    # first to find out without ending the benchmark.
    if (pf_skip() { exit 77; }; command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ]) &&
       { command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; } &&
       command -v certtool >/dev/null 2>&1; then
        pf_start
        trap cleanup EXIT    # pf_start set its own
        export PF_SUB PF_SMTPS PF_CA PF_USER PF_PASS
    else
        echo "bench: Postfix/Dovecot/certtool missing: no TLS + AUTH figures" >&2
    fi
else
    echo "bench: not root (or BENCH_NO_POSTFIX=1): no TLS + AUTH figures" >&2
fi

export SMTPFWD MSMTP SINK PROXY TIMER BENCH_DIR
# Bounded as a whole (the 135 MB runs of msmtp take longest).
timeout 1800 "$PYTHON" "$here/bench.py" &
bench_pid=$!
wait "$bench_pid"
status=$?
bench_pid=
[ -s "$BENCH_DIR/client.err" ] && { echo "client diagnostics:" >&2; tail -20 "$BENCH_DIR/client.err" >&2; }
exit $status
