#!/bin/sh
# queue-faults.sh - fault tests for the spool: what a crash,
# a full disk or concurrency can do to queued mail.
#
#  (a) SIGKILL of a flushing process at random points: 5 messages queued
#      (-odq), "smtpfwd -q" against a slow server (delay-reply . 30), kill -9
#      after a random 0-300 ms, then "smtpfwd -q" against a fast server.
#      Every message must arrive; a message may arrive twice only when it is
#      the last one whose final "." the slow server received before the kill
#      (the kill fell between that "." and the entry's removal); nothing is
#      left in new/ or failed/.
#  (b) SIGKILL during intake: standard input fed slowly through a FIFO, the
#      process killed midway: nothing in new/, and a flush sends nothing.
#  (c) full disk (root only: a 1 MiB tmpfs as queue_dir; skipped when the
#      mount fails): a 2 MiB message -> exit 73 or 74, nothing in new/,
#      tmp/ empty; a small one still queues.
#  (d) 20 concurrent submitters with the server down (queue on-failure),
#      then 4 concurrent flushers: every message delivered exactly once.
#
# Bounded in time: (a) runs QF_ITER iterations (default 20) but stops
# starting new ones after QF_BUDGET seconds (default 35; at least 5 run),
# so a sanitizer or valgrind build stays near a minute; every smtpfwd run
# that is not killed on purpose runs under timeout(1). TAP (tests/lib.sh); skipped
# when prerequisites are missing.
# Message-IDs are set by the test ("<KIND-N@fault.test>") and counted in
# the server's log of received bytes.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_program timeout
need_program mkfifo
need_built "$SMTPD"

lib_tmpdir
QF_ITER=${QF_ITER:-20}
QF_BUDGET=${QF_BUDGET:-35}      # seconds for (a): fewer kills on slow builds
T=20        # seconds any single smtpfwd run may take

# Scrubbed environment like the data-file cases: HOME and XDG_STATE_HOME in
# $TESTDIR; the spool is always an explicit queue_dir.
lib_private_env

# config FILE PORT QUEUEDIR: an account for that port and spool.
config() {
    cat > "$1" <<EOF
account default
host 127.0.0.1
port $2
tls off
from me@x.test
timeout 10
queue_dir $3
EOF
    chmod 600 "$1"
}

# message ID [BODY-LINES]: a message with that Message-ID on stdout.
message() {
    printf 'From: me@x.test\nTo: a@x.test\nSubject: fault %s\nMessage-ID: <%s@fault.test>\n\n' "$1" "$1"
    printf 'line %s\n' 1 2 3 "${2:-}"
}

# completed LOG: the Message-IDs of the messages whose final "." the server
# received, in order (a message cut by EOF in DATA has no ".").
completed() {
    tr -d '\r' < "$1" | awk '
        /^Message-ID: </ { cur = $2 }
        /^\.$/ { if (cur != "") print cur; cur = "" }'
}

# server_up SCRIPT: a fresh server (its own empty server.log).
server_up() {
    rm -f "$TESTDIR/server.log" "$TESTDIR/server.events"
    smtpd_start "$1"
}

# server_down LOG: stop the server and keep what it received in LOG.
server_down() {
    smtpd_stop
    if [ -f "$TESTDIR/server.log" ]; then
        mv "$TESTDIR/server.log" "$1"
    else
        : > "$1"
    fi
}

# A port with nothing listening: start a server, note its port, stop it.
dead_port() {
    server_up ""
    dead=$SMTPD_PORT
    server_down "$TESTDIR/dead.log"
}

# random_ms MAX: a pseudo-random number 0..MAX-1 (no $RANDOM in POSIX sh).
random_ms() {
    od -An -N2 -tu2 /dev/urandom | awk -v m="$1" '{ print $1 % m }'
}

msleep() {
    sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"
}

############################################################################
echo "# (a) SIGKILL of a flushing process, $QF_ITER times"
kills=0
dups_total=0
i=0
started=$(date +%s)
while [ "$i" -lt "$QF_ITER" ]; do
    if [ "$i" -ge 5 ] && [ $(($(date +%s) - started)) -ge "$QF_BUDGET" ]; then
        echo "# (a) time budget reached after $i iterations"
        break
    fi
    i=$((i + 1))
    Q=$TESTDIR/qa$i
    mkdir -p "$Q"
    # Queue five messages without connecting.
    config "$TESTDIR/rc-a" 1 "$Q"
    n=0
    while [ "$n" -lt 5 ]; do
        n=$((n + 1))
        message "a$i-$n" | timeout $T "$SMTPFWD" -C "$TESTDIR/rc-a" -odq -i a@x.test
        rc=$?
        check "(a) $i: -odq of message $n exits 0 (exit $rc)" [ "$rc" -eq 0 ]
    done
    check "(a) $i: 5 entries queued ($(count_in "$Q/new"))" [ "$(count_in "$Q/new")" -eq 5 ]

    # A slow flush, killed at a random point.
    server_up "delay-reply . 30"
    config "$TESTDIR/rc-a" "$SMTPD_PORT" "$Q"
    # Not under timeout(1): $! must be smtpfwd itself, which is always
    # killed below (or has finished).
    "$SMTPFWD" -C "$TESTDIR/rc-a" -q >/dev/null 2>&1 &
    fpid=$!
    msleep "$(random_ms 300)"
    kill -KILL "$fpid" 2>/dev/null
    wait "$fpid" 2>/dev/null
    # 137 = killed by SIGKILL (not finished before the kill).
    [ $? -eq 137 ] && kills=$((kills + 1))
    server_down "$TESTDIR/a$i-slow.log"

    # The flush to completion.
    server_up ""
    config "$TESTDIR/rc-a" "$SMTPD_PORT" "$Q"
    timeout $T "$SMTPFWD" -C "$TESTDIR/rc-a" -q >/dev/null 2>"$TESTDIR/a$i-fast.err"
    rc=$?
    check "(a) $i: the second -q exits 0 (exit $rc)" [ "$rc" -eq 0 ] || sed 's/^/#   /' "$TESTDIR/a$i-fast.err"
    server_down "$TESTDIR/a$i-fast.log"

    completed "$TESTDIR/a$i-slow.log" > "$TESTDIR/a$i-slow.ids"
    completed "$TESTDIR/a$i-fast.log" > "$TESTDIR/a$i-fast.ids"
    last_slow=$(tail -n 1 "$TESTDIR/a$i-slow.ids")
    n=0
    while [ "$n" -lt 5 ]; do
        n=$((n + 1))
        id="<a$i-$n@fault.test>"
        c=$(cat "$TESTDIR/a$i-slow.ids" "$TESTDIR/a$i-fast.ids" | grep -cFx "$id")
        if [ "$c" -eq 0 ]; then
            fail "(a) $i: $id lost"
        elif [ "$c" -gt 1 ] && { [ "$c" -gt 2 ] || [ "$id" != "$last_slow" ]; }; then
            dups_total=$((dups_total + c - 1))
            fail "(a) $i: $id delivered $c times (last completed before the kill: ${last_slow:-none})"
        else
            [ "$c" -gt 1 ] && dups_total=$((dups_total + c - 1))
            ok "(a) $i: $id delivered once (or twice as the message in flight at the kill): $c"
        fi
    done
    check "(a) $i: no entry left in new/ ($(count_in "$Q/new"))" [ "$(count_in "$Q/new")" -eq 0 ]
    check "(a) $i: no entry in failed/ ($(count_in "$Q/failed"))" [ "$(count_in "$Q/failed")" -eq 0 ]
done
echo "# (a) $kills kills, $dups_total duplicate deliveries (all of a message in flight)"

############################################################################
echo "# (b) SIGKILL during intake"
Q=$TESTDIR/qb
mkdir -p "$Q"
dead_port
config "$TESTDIR/rc-b" "$dead" "$Q"
i=0
while [ "$i" -lt 10 ]; do
    i=$((i + 1))
    rm -f "$TESTDIR/fifo"
    mkfifo "$TESTDIR/fifo"
    # Alternate -odq and on-failure (server down).
    if [ $((i % 2)) -eq 0 ]; then mode=-odq; else mode=-i; fi
    "$SMTPFWD" -C "$TESTDIR/rc-b" $mode a@x.test < "$TESTDIR/fifo" >/dev/null 2>&1 &
    spid=$!
    exec 3> "$TESTDIR/fifo"
    message "b$i" "first part" >&3
    msleep "$(random_ms 100)"
    printf 'more %s\n' 1 2 3 >&3
    msleep "$(random_ms 50)"
    kill -KILL "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    exec 3>&-
    check "(b) $i: no half-read message in new/" [ "$(count_in "$Q/new")" -eq 0 ]
done
server_up ""
config "$TESTDIR/rc-b" "$SMTPD_PORT" "$Q"
timeout $T "$SMTPFWD" -C "$TESTDIR/rc-b" -qf >/dev/null 2>&1
server_down "$TESTDIR/b.log"
check "(b) a flush after the kills sends no message" not grep -q 'fault.test' "$TESTDIR/b.log"

############################################################################
echo "# (c) full disk"
if [ "$(id -u)" != 0 ]; then
    skip_check "not root" "(c) full disk"
else
    Q=$TESTDIR/qc
    mkdir -p "$Q"
    if mount -t tmpfs -o size=1m,mode=0700 smtpfwd-fault "$Q" 2>/dev/null; then
        trap 'umount "$TESTDIR/qc" 2>/dev/null; smtpd_stop; rm -rf "$TESTDIR"' EXIT
        dead_port
        config "$TESTDIR/rc-c" "$dead" "$Q"
        # A message bigger than the file system.
        awk 'BEGIN { printf "From: me@x.test\nTo: a@x.test\nSubject: big\n\n";
                     for (i = 0; i < 30000; i++) printf "%070d\n", i }' > "$TESTDIR/big"
        timeout $T "$SMTPFWD" -C "$TESTDIR/rc-c" -odq -i a@x.test < "$TESTDIR/big" \
            >/dev/null 2>"$TESTDIR/c.err"
        rc=$?
        check "(c) a message bigger than the spool: exit 73 or 74 (exit $rc)" [ "$rc" -eq 73 -o "$rc" -eq 74 ]
        check "(c) a message on stderr" grep -q 'smtpfwd: ' "$TESTDIR/c.err"
        check "(c) no entry in new/" [ "$(count_in "$Q/new")" -eq 0 ]
        check "(c) tmp/ is empty: $(ls "$Q/tmp")" [ "$(count_in "$Q/tmp")" -eq 0 ]
        # The spool still works for a message that fits.
        message c1 | timeout $T "$SMTPFWD" -C "$TESTDIR/rc-c" -odq -i a@x.test
        rc=$?
        check "(c) a small message queues after the full-disk failure (exit $rc)" [ "$rc" -eq 0 ]
        check "(c) the small message is in new/" [ "$(count_in "$Q/new")" -eq 1 ]
        check "(c) the tmpfs unmounts" umount "$Q"
        trap 'smtpd_stop; rm -rf "$TESTDIR"' EXIT
    else
        skip_check "cannot mount a tmpfs here" "(c) full disk"
    fi
fi

############################################################################
echo "# (d) 20 concurrent submitters, then 4 concurrent flushers"
Q=$TESTDIR/qd
mkdir -p "$Q"
dead_port
config "$TESTDIR/rc-d" "$dead" "$Q"
pids=
i=0
while [ "$i" -lt 20 ]; do
    i=$((i + 1))
    ( message "d$i" | timeout $T "$SMTPFWD" -C "$TESTDIR/rc-d" -i a@x.test \
          >/dev/null 2>"$TESTDIR/d$i.err"
      echo $? > "$TESTDIR/d$i.rc" ) &
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
i=0
while [ "$i" -lt 20 ]; do
    i=$((i + 1))
    rc=$(cat "$TESTDIR/d$i.rc")
    check "(d) submitter $i exits 0 (exit $rc)" [ "$rc" = 0 ] || sed 's/^/#   /' "$TESTDIR/d$i.err"
done
check "(d) 20 entries queued ($(count_in "$Q/new"))" [ "$(count_in "$Q/new")" -eq 20 ]
server_up ""
config "$TESTDIR/rc-d" "$SMTPD_PORT" "$Q"
pids=
for f in 1 2 3 4; do
    timeout $T "$SMTPFWD" -C "$TESTDIR/rc-d" -q >/dev/null 2>"$TESTDIR/f$f.err" &
    pids="$pids $!"
done
for p in $pids; do
    wait "$p"
    rc=$?
    check "(d) a flusher exits 0 (exit $rc)" [ "$rc" -eq 0 ]
done
server_down "$TESTDIR/d.log"
completed "$TESTDIR/d.log" > "$TESTDIR/d.ids"
i=0
while [ "$i" -lt 20 ]; do
    i=$((i + 1))
    c=$(grep -cFx "<d$i@fault.test>" "$TESTDIR/d.ids")
    check "(d) <d$i@fault.test> delivered once ($c times)" [ "$c" -eq 1 ]
done
check "(d) no entry left in new/ ($(count_in "$Q/new"))" [ "$(count_in "$Q/new")" -eq 0 ]
done_testing
