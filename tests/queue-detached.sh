#!/bin/sh
# queue-detached.sh - after a successful direct delivery, smtpfwd flushes
# the account's spool in a detached process that the caller never waits
# for (cron reads the caller's stdout and stderr until EOF, so the
# detached process must not hold them).
#
# 1. A server that answers the greeting with 421: message A is kept in
#    the spool (default queue on-failure, exit 0, one entry in new/).
# 2. Another server accepts everything but holds every greeting for
#    3 seconds. Message B is delivered directly, inside $( ... 2>&1): the
#    substitution ends when the caller's pipe reaches EOF. It must exit 0,
#    print nothing, and B must be at the server; A must NOT be there yet:
#    the flush's connection still waits for its greeting, so had the
#    detached process kept the pipe, the substitution would still be
#    waiting. (An ordering check with a 3-second margin, not a timing
#    assertion.)
# 3. Then, within 30 seconds, the detached flush delivers A exactly once
#    and the spool is empty (new/ and failed/).
# TAP (tests/lib.sh); 99 on a setup error.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

lib_tmpdir
lib_private_env
T=20
SPOOL=$TESTDIR/spool

# message ID: a small message with that Message-ID.
message() {
    printf 'From: me@x.test\nTo: a@x.test\nSubject: detached %s\nMessage-ID: <%s@detached.test>\n\nbody %s\n' \
        "$1" "$1" "$1"
}

# received ID: how many times the server received the message with that id.
received() {
    grep -c "^Message-ID: <$1@detached.test>" "$TESTDIR/server.log" 2>/dev/null || true
}

# 1. Temporary failure at the greeting: A goes to the spool.
smtpd_start 'greeting 421 4.3.2 try again later'
rc=$(write_config "queue_dir $SPOOL
timeout 10")
message A | timeout $T "$SMTPFWD" -C "$rc" -i a@x.test >"$TESTDIR/a.out" 2>&1
status=$?
if [ "$status" -eq 0 ]; then ok "A: exit 0 when the server says 421"; else
    fail "A: exit $status: $(cat "$TESTDIR/a.out")"
fi
n=$(count_in "$SPOOL/new")
if [ "$n" -eq 1 ]; then ok "A is in the spool"; else fail "$n entries in new/, expected 1"; fi
smtpd_stop

# 2. A server holding each greeting for 3 s: B direct, A by the detached flush.
smtpd_start 'delay-reply CONNECT 3000'
rc=$(write_config "queue_dir $SPOOL
timeout 10")
out=$(message B | timeout $T "$SMTPFWD" -C "$rc" -i a@x.test 2>&1)
status=$?
a_then=$(received A)
b_then=$(received B)
if [ "$status" -eq 0 ]; then ok "B: exit 0"; else fail "B: exit $status: $out"; fi
if [ -z "$out" ]; then ok "B: nothing printed"; else fail "B printed: $out"; fi
if [ "$b_then" -eq 1 ]; then ok "B was delivered directly"; else
    fail "B received $b_then times when the caller returned"
fi
if [ "$a_then" -eq 0 ]; then
    ok "the caller's output ended before the detached flush was done"
else
    fail "A was already delivered when the caller's output ended: the caller waited for the flush"
fi

# 3. The detached flush delivers A (bounded wait for the event).
i=0
while [ "$(received A)" -eq 0 ] || [ "$(count_in "$SPOOL/new")" -ne 0 ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || break
    sleep 0.1 2>/dev/null || sleep 1
done
a_now=$(received A)
if [ "$a_now" -eq 1 ]; then ok "the detached flush delivered A once"; else
    fail "A received $a_now times by the detached flush"
fi
n=$(count_in "$SPOOL/new")
if [ "$n" -eq 0 ]; then ok "new/ is empty afterwards"; else fail "$n entries left in new/"; fi
n=$(count_in "$SPOOL/failed")
if [ "$n" -eq 0 ]; then ok "nothing in failed/"; else fail "$n entries in failed/"; fi
smtpd_stop
b_end=$(received B)
if [ "$b_end" -eq 1 ]; then ok "B was not sent again"; else fail "B received $b_end times"; fi

done_testing
