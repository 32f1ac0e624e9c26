#!/bin/sh
# queue-hostile.sh - the spool trusts nothing it finds. Things another user
# (or a mistake) can leave in a spool must never hang a run, never be
# delivered with this user's account, never be listed as ours and never be
# removed; the good entries next to them are still delivered.
#
#  (a) a FIFO in new/: -q and -bp finish (exit 78, the FIFO named), the
#      good entry is delivered, the FIFO is left alone
#  (b) the same FIFO and the detached flush started after a delivered
#      message: the flush finishes and delivers the queued entry
#  (c) a symbolic link in new/ to a valid entry elsewhere: refused, the
#      entry it points to is not delivered, link and target are left alone
#  (d) root only: an entry owned by another user (uid 65534): refused by
#      -q, -bp and --queue-remove, never delivered, never removed
#  (e) an unsafe spool directory: queue_dir group-writable, world-writable
#      with the sticky bit, new/ group-writable, and (root only) owned by
#      another user: -q, -bp, --queue-remove and queueing refuse it (78)
#      and touch nothing;
#      once repaired, the entries in it are delivered
#
# Every smtpfwd run is under timeout(1) (a safety net: a run that hangs
# fails its check with status 124); nothing measures time.
# TAP (tests/lib.sh); skipped when prerequisites are missing.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_program timeout
need_program mkfifo
need_built "$SMTPD"

lib_tmpdir
lib_private_env
T=20        # seconds any single smtpfwd run may take
root=no
[ "$(id -u)" = 0 ] && root=yes

# A FIFO left by a run before the fix has readers blocked on it: open it
# for writing once on exit so that they end.
release_fifos() {
    for f in "$TESTDIR"/q*/new/*fifo*; do
        [ -p "$f" ] && timeout 2 sh -c ': > "$1"' sh "$f" 2>/dev/null
    done
}
trap 'release_fifos; smtpd_stop; rm -rf "$TESTDIR"' EXIT

# config QUEUEDIR [PORT]: $TESTDIR/rc, an account for that spool (port 1:
# nothing listens there, so messages are queued).
config() {
    cat > "$TESTDIR/rc" <<EOF
account default
host 127.0.0.1
port ${2:-1}
tls off
from me@x.test
timeout 10
queue_dir $1
EOF
    chmod 600 "$TESTDIR/rc"
}

# queue QUEUEDIR TAG: queue one message with Message-ID <TAG@hostile.test>
# (-odq: no connection); prints its id.
queue() {
    config "$1"
    printf 'From: me@x.test\nTo: a@x.test\nSubject: %s\nMessage-ID: <%s@hostile.test>\n\nbody\n' \
        "$2" "$2" | timeout $T "$SMTPFWD" -C "$TESTDIR/rc" -odq -i a@x.test ||
        { echo "cannot queue $2 (exit $?)"; exit 99; }
    # The newest entry (ids sort by time).
    for f in "$1"/new/*; do :; done
    basename "$f"
}

# run NAME ARGS...: smtpfwd under timeout with $TESTDIR/rc; status in $rc,
# output in $TESTDIR/NAME.out and .err.
run() {
    name=$1
    shift
    timeout $T "$SMTPFWD" -C "$TESTDIR/rc" "$@" > "$TESTDIR/$name.out" 2> "$TESTDIR/$name.err"
    rc=$?
}

# expect_status NAME WANT: check $rc.
expect_status() {
    if [ "$rc" = "$2" ]; then
        ok "$1: exit $rc"
    else
        fail "$1: exit $rc, expected $2; stderr: $(cat "$TESTDIR/$1.err")"
    fi
}

# expect_err NAME TEXT: TEXT (fixed string) in NAME's stderr.
expect_err() {
    if grep -qF -- "$2" "$TESTDIR/$1.err"; then
        ok "$1: says \"$2\""
    else
        fail "$1: stderr lacks \"$2\": $(cat "$TESTDIR/$1.err")"
    fi
}

# delivered TAG: how many times the server received <TAG@hostile.test>.
delivered() {
    if [ -f "$TESTDIR/server.log" ]; then
        grep -c "^Message-ID: <$1@hostile.test>" "$TESTDIR/server.log"
    else
        echo 0
    fi
}

# expect_delivered TAG N WHAT
expect_delivered() {
    n=$(delivered "$1")
    if [ "$n" = "$2" ]; then
        ok "$3: <$1> delivered $n time(s)"
    else
        fail "$3: <$1> delivered $n time(s), expected $2"
    fi
}

server_up() {
    rm -f "$TESTDIR/server.log" "$TESTDIR/server.events"
    smtpd_start ""
    config "$1" "$SMTPD_PORT"
}

############################################################################
echo "# (a) a FIFO in new/"
Q=$TESTDIR/qa
mkdir -p "$Q"
good=$(queue "$Q" a-good)
mkfifo "$Q/new/00000000fifo"           # sorts before every real id
server_up "$Q"
run a-flush -q
smtpd_stop
expect_status a-flush 78
expect_err a-flush "refusing the spool entry $Q/new/00000000fifo: it is a named pipe (FIFO), not a regular file"
expect_delivered a-good 1 "(a) -q"
[ -p "$Q/new/00000000fifo" ] && ok "(a) the FIFO is left alone" || fail "(a) the FIFO is gone"
[ ! -e "$Q/new/$good" ] && ok "(a) the good entry is gone from new/" || fail "(a) $good still in new/"

run a-list -bp
expect_status a-list 78
expect_err a-list "refusing the spool entry $Q/new/00000000fifo: it is a named pipe (FIFO)"
grep -q "fifo" "$TESTDIR/a-list.out" && fail "(a) -bp lists the FIFO" || ok "(a) -bp does not list the FIFO"

############################################################################
echo "# (b) the detached flush after a delivered message, with a FIFO in new/"
Q=$TESTDIR/qb
mkdir -p "$Q"
queue "$Q" b-queued > /dev/null
mkfifo "$Q/new/00000000fifo"
server_up "$Q"
printf 'From: me@x.test\nTo: a@x.test\nMessage-ID: <b-direct@hostile.test>\n\nnow\n' |
    timeout $T "$SMTPFWD" -C "$TESTDIR/rc" -i a@x.test 2> "$TESTDIR/b-send.err"
rc=$?
expect_status b-send 0
# The detached flush runs on its own: wait (bounded) until it has emptied
# new/ of everything but the FIFO.
n=0
while [ "$(count_in "$Q/new")" -gt 1 ] && [ "$n" -lt 200 ]; do
    n=$((n + 1))
    sleep 0.1
done
smtpd_stop
expect_delivered b-direct 1 "(b) direct"
expect_delivered b-queued 1 "(b) detached flush"
[ -p "$Q/new/00000000fifo" ] && ok "(b) the FIFO is left alone" || fail "(b) the FIFO is gone"

############################################################################
echo "# (c) a symbolic link in new/"
Q=$TESTDIR/qc
mkdir -p "$Q"
good=$(queue "$Q" c-good)
lid=000000001link
# A valid entry whose id is the link's name, outside the spool.
queue "$TESTDIR/qc-other" c-linked > /dev/null
other=$(ls "$TESTDIR/qc-other/new")
sed "s/^id: .*/id: $lid/" "$TESTDIR/qc-other/new/$other" > "$TESTDIR/linked-entry"
chmod 600 "$TESTDIR/linked-entry"
ln -s "$TESTDIR/linked-entry" "$Q/new/$lid"
server_up "$Q"
run c-flush -q
smtpd_stop
expect_status c-flush 78
expect_err c-flush "refusing the spool entry $Q/new/$lid: it is a symbolic link"
expect_delivered c-good 1 "(c)"
expect_delivered c-linked 0 "(c) through the link"
[ -L "$Q/new/$lid" ] && [ -f "$TESTDIR/linked-entry" ] && ok "(c) link and target left alone" ||
    fail "(c) the link or its target is gone"
run c-list -bp
expect_status c-list 78
grep -q "$lid" "$TESTDIR/c-list.out" && fail "(c) -bp lists the link" || ok "(c) -bp does not list the link"

############################################################################
echo "# (d) an entry owned by another user"
if [ "$root" = yes ]; then
    Q=$TESTDIR/qd
    mkdir -p "$Q"
    foreign=$(queue "$Q" d-foreign)
    good=$(queue "$Q" d-good)
    chown 65534 "$Q/new/$foreign"
    server_up "$Q"
    run d-flush -q
    smtpd_stop
    expect_status d-flush 78
    expect_err d-flush "refusing the spool entry $Q/new/$foreign: it belongs to uid 65534, not to you (uid 0)"
    expect_delivered d-good 1 "(d)"
    expect_delivered d-foreign 0 "(d) foreign"
    [ -f "$Q/new/$foreign" ] && ok "(d) the foreign entry is left in new/" || fail "(d) the foreign entry is gone"
    [ "$(count_in "$Q/failed")" = 0 ] && ok "(d) nothing moved to failed/" || fail "(d) something in failed/"
    run d-list -bp
    expect_status d-list 78
    grep -q "$foreign" "$TESTDIR/d-list.out" && fail "(d) -bp lists it" || ok "(d) -bp does not list it"
    run d-remove --queue-remove "$foreign"
    expect_status d-remove 78
    [ -f "$Q/new/$foreign" ] && ok "(d) --queue-remove leaves it" || fail "(d) --queue-remove removed it"
    run d-retry --queue-retry "$foreign"
    expect_status d-retry 78
    [ "$(stat -c %u "$Q/new/$foreign")" = 65534 ] && ok "(d) --queue-retry does not rewrite it" ||
        fail "(d) --queue-retry rewrote it"
else
    skip_check "needs root to give an entry to another user" "(d) an entry of another user"
fi

############################################################################
echo "# (e) unsafe spool directories"
# unsafe NAME SETUP-COMMAND REPAIR-COMMAND SUBDIR MESSAGE: a spool $Q with
# one queued entry made unsafe by SETUP-COMMAND (SUBDIR: "" for the spool
# itself, "/new"), refused with MESSAGE, then repaired.
unsafe() {
    Q=$TESTDIR/qe-$1
    mkdir -p "$Q"
    id=$(queue "$Q" "e-$1")
    eval "$2"
    server_up "$Q"
    run "e-$1-flush" -q
    smtpd_stop
    expect_status "e-$1-flush" 78
    expect_err "e-$1-flush" "refusing the spool directory $Q$4: $5"
    expect_delivered "e-$1" 0 "(e) $1"
    [ "$(count_in "$Q/new")" = 1 ] && ok "(e) $1: the entry is left alone" || fail "(e) $1: new/ changed"
    run "e-$1-list" -bp
    expect_status "e-$1-list" 78
    expect_err "e-$1-list" "refusing the spool directory $Q$4: $5"
    run "e-$1-remove" --queue-remove "$id"
    expect_status "e-$1-remove" 78
    expect_err "e-$1-remove" "no queued message with id $id in the spools that could be used"
    [ -f "$Q/new/$id" ] && ok "(e) $1: --queue-remove leaves it" || fail "(e) $1: --queue-remove removed it"
    config "$Q"
    printf 'From: me@x.test\n\nx\n' |
        timeout $T "$SMTPFWD" -C "$TESTDIR/rc" -odq -i a@x.test 2> "$TESTDIR/e-$1-queue.err"
    rc=$?
    expect_status "e-$1-queue" 78
    [ "$(count_in "$Q/new")" = 1 ] && ok "(e) $1: nothing queued" || fail "(e) $1: a message was queued"
    eval "$3"
    server_up "$Q"
    run "e-$1-repaired" -q
    smtpd_stop
    expect_status "e-$1-repaired" 0
    expect_delivered "e-$1" 1 "(e) $1 repaired"
}
unsafe gw 'chmod 0770 "$Q"' 'chmod 0700 "$Q"' '' \
    "it is writable by its group or by others (mode 0770)"
unsafe sticky 'chmod 1777 "$Q"' 'chmod 0700 "$Q"' '' \
    "it is writable by its group or by others (mode 1777)"
unsafe new 'chmod 0720 "$Q/new"' 'chmod 0700 "$Q/new"' /new \
    "it is writable by its group or by others (mode 0720)"
if [ "$root" = yes ]; then
    unsafe owner 'chown 65534 "$Q"' 'chown 0 "$Q"' '' \
        "it belongs to uid 65534, neither to you (uid 0) nor to root"
else
    skip_check "needs root to give a directory to another user" "(e) a directory of another owner"
fi

done_testing
