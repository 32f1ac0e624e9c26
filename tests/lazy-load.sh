#!/bin/sh
# lazy-load.sh - GnuTLS is loaded only when a connection uses TLS (issue 5,
# "load only what a run needs"; src/gnutls-dl.c).
#
# With LD_DEBUG=files (glibc's loader logs every object it maps, to
# LD_DEBUG_OUTPUT.PID) it checks that these do NOT load libgnutls:
#   --version, -bp (mailq), a `queue always` enqueue, a configuration
#   error, and a plain (tls off) delivery to tests/smtpd-script;
# and that a STARTTLS delivery and an implicit-TLS delivery DO load it and
# succeed. Then, with a fake library of GnuTLS' file name (built here from
# an empty C file) first on LD_LIBRARY_PATH: a TLS delivery fails with a
# message naming the library and a non-zero exit status, with the
# default spool setting too (then the message must be in the spool or the
# exit status must tell the caller), and a plain delivery still succeeds.
# Exit 0 pass, 1 fail, 77 prerequisites missing (glibc's LD_DEBUG, a C
# compiler, certtool).
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

[ -x "$SMTPFWD" ] || skip "no smtpfwd at $SMTPFWD"
[ -x "$SMTPD" ] || skip "no smtpd-script at $SMTPD"
need_program timeout

lib_tmpdir
fails=0
passes=0
T=20

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
ok() {
    echo "ok: $*"
    passes=$((passes + 1))
}

lib_private_env

# The library's file name, as --version prints it ("..., libgnutls.so.N
# loaded when a connection uses TLS").
SONAME=$("$SMTPFWD" --version | sed -n 's/.*GnuTLS [^,]*, \(libgnutls[^ ]*\) .*/\1/p')
[ -n "$SONAME" ] || { "$SMTPFWD" --version; echo "FAIL: --version names no GnuTLS library"; exit 1; }

# LD_DEBUG must work here (glibc; not a set-id program).
LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/probe" "$SMTPFWD" --version >/dev/null 2>&1
grep -q 'file=' "$TESTDIR"/probe.* 2>/dev/null || skip "the dynamic loader does not honour LD_DEBUG=files"

if ldd "$SMTPFWD" 2>/dev/null | grep -q libgnutls; then
    fail "smtpfwd is linked against libgnutls"
else
    ok "smtpfwd is not linked against libgnutls"
fi

msg() {
    printf 'From: me@x.test\nTo: a@x.test\nSubject: lazy %s\n\nbody\n' "$1"
}

# run NAME STDIN-TEXT ARGS...: run smtpfwd under LD_DEBUG=files; exit
# status in $rc, stderr in $TESTDIR/NAME.err (LD_LIBRARY_PATH=$RUN_LIBPATH
# when that is set), loader logs in
# $TESTDIR/NAME.ld.PID (one per process, children included).
run() {
    name=$1 input=$2
    shift 2
    rm -f "$TESTDIR/$name".ld.*
    printf '%s' "$input" | env ${RUN_LIBPATH:+LD_LIBRARY_PATH="$RUN_LIBPATH"} \
        LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/$name.ld" \
        timeout $T "$SMTPFWD" "$@" >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err"
    rc=$?
}

# loaded NAME: true when a process of run NAME mapped libgnutls.
loaded() {
    cat "$TESTDIR/$1".ld.* 2>/dev/null | grep -q "file=[^ ]*libgnutls"
}

# expect_not_loaded NAME WHAT EXPECTED-RC
expect_not_loaded() {
    if [ "$rc" -ne "$3" ]; then
        fail "$2: exit status $rc, expected $3"; cat "$TESTDIR/$1.err"
    elif loaded "$1"; then
        fail "$2 loaded libgnutls"
    else
        ok "$2 does not load libgnutls"
    fi
}

# plain account: the scripted server, no TLS
smtpd_start ""
cat > "$TESTDIR/plain.rc" <<EOF
account default
host 127.0.0.1
port $SMTPD_PORT
tls off
from me@x.test
timeout 10
queue_dir $TESTDIR/spool
EOF
chmod 600 "$TESTDIR/plain.rc"

run version "" --version
expect_not_loaded version "--version" 0

run plain "$(msg plain)" -C "$TESTDIR/plain.rc" -i a@x.test
expect_not_loaded plain "a plain (tls off) delivery" 0
grep -q "lazy plain" "$TESTDIR/server.log" || fail "the plain message did not arrive"

sed 's/^timeout 10$/queue always/' "$TESTDIR/plain.rc" > "$TESTDIR/always.rc"
chmod 600 "$TESTDIR/always.rc"
run enqueue "$(msg queued)" -C "$TESTDIR/always.rc" -i a@x.test
expect_not_loaded enqueue "a queue always enqueue" 0

run mailq "" -C "$TESTDIR/plain.rc" -bp
expect_not_loaded mailq "-bp" 0
grep -q "a@x.test" "$TESTDIR/mailq.out" || fail "-bp does not list the queued message"

printf 'account default\nhost\nbogus_keyword 1\n' > "$TESTDIR/bad.rc"
chmod 600 "$TESTDIR/bad.rc"
run badconf "$(msg bad)" -C "$TESTDIR/bad.rc" -i a@x.test
expect_not_loaded badconf "a configuration error" 78
smtpd_stop

# TLS deliveries: they load it and succeed.
certs_make
tls_rc() {
    cat > "$TESTDIR/$1.rc" <<EOF
account default
host 127.0.0.1
port $SMTPD_PORT
tls on
tls_starttls $2
tls_trust_file $CERTS/ca.pem
tls_host_override localhost
from me@x.test
timeout 10
queue ${3:-off}
queue_dir $TESTDIR/spool-$1
EOF
    chmod 600 "$TESTDIR/$1.rc"
}

for kind in starttls implicit-tls; do
    smtpd_start_tls "$kind"
    if [ "$kind" = starttls ]; then tls_rc "$kind" on; else tls_rc "$kind" off; fi
    run "$kind" "$(msg "$kind")" -C "$TESTDIR/$kind.rc" -i a@x.test
    if [ "$rc" -ne 0 ]; then
        fail "$kind delivery: exit status $rc"; cat "$TESTDIR/$kind.err"
    elif ! loaded "$kind"; then
        fail "$kind delivery did not load libgnutls"
    elif ! grep -q "lazy $kind" "$TESTDIR/server.log"; then
        fail "$kind delivery: the message did not arrive"
    else
        ok "$kind delivery loads libgnutls and succeeds"
    fi
    smtpd_stop
done

# A library of GnuTLS' file name that is not GnuTLS.
CC=${CC:-cc}
mkdir "$TESTDIR/fake"
: > "$TESTDIR/fake/empty.c"
if ! $CC -shared -fPIC -o "$TESTDIR/fake/$SONAME" "$TESTDIR/fake/empty.c" 2>"$TESTDIR/fake/cc.err"; then
    cat "$TESTDIR/fake/cc.err"
    echo "no C compiler for the fake library: the failure path is not tested"
    [ "$fails" -eq 0 ] || exit 1
    echo "$passes passed, 0 failed"
    exit 0
fi
# Only smtpfwd gets it (run() passes it): the server links GnuTLS itself.
RUN_LIBPATH="$TESTDIR/fake${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

smtpd_start_tls starttls
tls_rc fake-off on off
run fake-off "$(msg fake-off)" -C "$TESTDIR/fake-off.rc" -i a@x.test
if [ "$rc" -eq 0 ]; then
    fail "TLS delivery with a fake $SONAME succeeded"
elif ! grep -q "$SONAME" "$TESTDIR/fake-off.err"; then
    fail "TLS delivery with a fake $SONAME: message does not name it"; cat "$TESTDIR/fake-off.err"
elif ! grep -q "no symbol gnutls_" "$TESTDIR/fake-off.err"; then
    fail "TLS delivery with a fake $SONAME: message does not name the symbol"; cat "$TESTDIR/fake-off.err"
else
    ok "TLS delivery with a fake $SONAME fails (exit $rc): $(head -1 "$TESTDIR/fake-off.err")"
fi
grep -q "lazy fake-off" "$TESTDIR/server.log" && fail "the message was sent in clear text"

# Default spool setting (queue on-failure): either the message waits in
# the spool (exit 0) or the exit status tells the caller (non-zero).
tls_rc fake-spool on on-failure
run fake-spool "$(msg fake-spool)" -C "$TESTDIR/fake-spool.rc" -i a@x.test
queued=$(find "$TESTDIR/spool-fake-spool" -type f 2>/dev/null | xargs grep -l "lazy fake-spool" 2>/dev/null | wc -l)
if [ "$rc" -eq 0 ] && [ "$queued" -eq 0 ]; then
    fail "queue on-failure: exit 0 and the message is not in the spool (lost)"
elif grep -q "lazy fake-spool" "$TESTDIR/server.log"; then
    fail "queue on-failure: the message was sent in clear text"
else
    ok "queue on-failure with a fake $SONAME: exit $rc, $queued spool file(s) hold the message"
fi
smtpd_stop

smtpd_start ""
sed -i "s/^port .*/port $SMTPD_PORT/" "$TESTDIR/plain.rc"
run fake-plain "$(msg fake-plain)" -C "$TESTDIR/plain.rc" -i a@x.test
if [ "$rc" -ne 0 ]; then
    fail "plain delivery with a fake $SONAME: exit $rc"; cat "$TESTDIR/fake-plain.err"
elif ! grep -q "lazy fake-plain" "$TESTDIR/server.log"; then
    fail "plain delivery with a fake $SONAME: the message did not arrive"
else
    ok "plain delivery with a fake $SONAME still succeeds"
fi
smtpd_stop

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
