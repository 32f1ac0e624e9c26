#!/bin/sh
# core-secrets.sh - a crash never writes the password to a core file.
#
# smtpfwd reads passwords (the configuration file, passwordeval, the
# keyring) and holds TLS session secrets; a core dump would leave them in
# a file. It makes itself non-dumpable (PR_SET_DUMPABLE 0) with a core
# size limit of 0 before it reads any of them.
#
# The check forces the dump: with `ulimit -c unlimited`, smtpfwd waits for
# the server's answer to AUTH PLAIN (the password is in memory, in the
# configuration and in the AUTH line), then receives SIGSEGV. There must
# be no core file. A control process in the same conditions (a shell
# sending itself SIGSEGV) must leave one, else this machine writes no
# core files where this test can see them (core_pattern is a pipe, or
# cores are disabled) and the test is skipped (77).
# TAP (tests/lib.sh); 99 on a setup error.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null) || skip "no /proc/sys/kernel/core_pattern"
case $pattern in
'|'*) skip "core files go to a program ($pattern)" ;;
'') skip "empty core_pattern" ;;
esac
ulimit -c unlimited 2>/dev/null || skip "cannot raise the core size limit"

lib_tmpdir
lib_private_env
work=$TESTDIR/cwd
mkdir -p "$work"
cd "$work" || exit 99

# Where a core of a process started here would be: core_pattern relative
# to the process's directory (a new, empty one), or absolute. cores_now
# lists the candidates; the cores of a run are the ones not listed
# before it (not found by time stamps: a core can be written within the
# same clock tick as a file made just before).
cores_now() {
    case $pattern in
    /*) dir=$(dirname "$pattern") ;;
    *) dir=$work ;;
    esac
    find "$dir" -maxdepth 1 -type f -name "$(basename "$pattern" | sed 's/%.*//')*" 2>/dev/null |
        LC_ALL=C sort
}
new_cores() {   # the cores that appeared since cores_now wrote $TESTDIR/before
    cores_now | LC_ALL=C comm -13 "$TESTDIR/before" -
}

cores_now > "$TESTDIR/before"
sh -c 'kill -SEGV $$' 2>/dev/null
control=$(new_cores)
[ -n "$control" ] || skip "a crashing shell leaves no core file here (core_pattern $pattern)"
rm -f $control

secret=S3cret-only-in-memory-4f2a9c
smtpd_start 'ehlo 250-x.test\n250 AUTH PLAIN
silent-after AUTH'
cfg=$(write_config "auth plain
user alice
password $secret
allow_plaintext_auth on
timeout 60")

# Under AddressSanitizer the signal must kill the process, as in a normal
# build, not be reported by ASan's handler (exit status 1).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0
export ASAN_OPTIONS
cores_now > "$TESTDIR/before"
"$SMTPFWD" -C "$cfg" -i rcpt@x.test <<EOM 2>"$TESTDIR/stderr" &
From: me@x.test
Subject: core

body
EOM
pid=$!
# Wait until the AUTH line has reached the server: smtpfwd now waits for
# the reply, with the password in memory.
n=0
until grep -q '^AUTH PLAIN' "$TESTDIR/server.log" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -lt 1000 ] || { kill "$pid" 2>/dev/null; echo "smtpfwd never sent AUTH"; cat "$TESTDIR/stderr"; exit 99; }
    sleep 0.01
done
kill -SEGV "$pid"
wait "$pid"
status=$?
[ "$status" -eq 139 ] && ok "smtpfwd died of SIGSEGV" || fail "exit status $status, not 139 (SIGSEGV)"

found=$(new_cores)
if [ -z "$found" ]; then
    ok "no core file"
else
    if grep -a -q "$secret" $found; then
        fail "a core file with the password: $found"
    else
        fail "a core file: $found"
    fi
    rm -f $found
fi

done_testing
