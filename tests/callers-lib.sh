# tests/callers-lib.sh - shared helpers for the callers-*.sh integration tests,
# which run real programs (mutt, git send-email, s-nail, php mail(), Symfony
# Mailer, Alpine) with smtpfwd as their sendmail against tests/smtpd-script.
#
# Sourced by the tests, never run. It owns: skipping with 77 when a caller is
# not installed, the private temporary directory and HOME, starting and
# stopping the scripted server (readiness = its --port-file appears), the
# smtprc and the `sendmail` wrapper that records each invocation's argv,
# stderr and exit status, splitting the server's byte log into SMTP
# transactions, and the assertions. Every check is one TAP line
# (tests/lib.sh: "ok N - ..." / "not ok N - ..."); cl_finish adds what helps
# to read a failure and ends the TAP output (exit 0 pass, 1 fail); a caller
# that is not installed skips the test ("1..0 # SKIP"). It must not touch anything
# outside its temporary directory. CL_KEEP=1 keeps that directory;
# CL_VALGRIND=1 runs smtpfwd under valgrind.
#
# Files in $tmp after a run (kept when CL_KEEP=1 is set, for debugging):
#   sendmail            the wrapper the caller runs
#   smtprc              smtpfwd's configuration (tls off, 127.0.0.1:PORT)
#   call.N.argv         argv of the Nth wrapper invocation, one per line
#   call.N.stderr       smtpfwd's stderr of that invocation
#   call.N.status       smtpfwd's exit status of that invocation
#   server.log          every byte the server received (all connections)
#   events              the server's events ("connection N", ...)
#   commands            every SMTP command line received, CR removed
#   txn.N.env           MAIL FROM / RCPT TO lines of the Nth transaction
#   txn.N.data          the Nth message exactly as received (dot-stuffed,
#                       CRLF), without the terminating "."
#   txn.N.end           exists when the Nth message's "." arrived
#   txn.N.headers       its header section, CR removed (folded lines kept)
#   txn.N.body          its body, CR removed and dot-unstuffed

set -u
. "${here:-$(dirname "$0")}/lib.sh"

cl_failures=0
cl_server_pid=
cl_calls_seen=0
cl_cr=$(printf '\r')

cl_fail() {
    not_ok "$@"
    cl_failures=$((cl_failures + 1))
}
cl_ok() {
    ok "$@"
}
# cl_check OK-TEXT FAIL-TEXT COMMAND...: one check of the current case
# ($cl_desc): ok with OK-TEXT when COMMAND succeeds, else failed with
# FAIL-TEXT.
cl_check() {
    cc_ok=$1 cc_fail=$2
    shift 2
    if "$@"; then cl_ok "$cl_desc: $cc_ok"; else cl_fail "$cl_desc: $cc_fail"; fi
}

cl_note() {
    echo "# $*"
}

cl_cleanup() {
    if [ -n "$cl_server_pid" ]; then
        kill -TERM "$cl_server_pid" 2>/dev/null
        wait "$cl_server_pid" 2>/dev/null
        cl_server_pid=
    fi
    if [ "${CL_KEEP:-0}" = 1 ]; then
        echo "# kept $tmp"
    else
        rm -rf "$tmp"
    fi
}

# cl_init PROGRAM...: skip unless every PROGRAM is installed; the test
# binaries must be built (exit 99); make $tmp and a private $HOME; scrub the
# environment the callers read.
cl_init() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || skip_all "$p is not installed"
    done
    need_built "$SMTPD"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/callers.XXXXXX") || exit 99
    trap cl_cleanup EXIT
    trap 'exit 1' HUP INT TERM
    # The same private environment as tests/runcases.py: no system smtprc,
    # spool and temporary files inside $tmp.
    HOME=$tmp/home
    mkdir -p "$HOME/.config" "$HOME/.local/state" "$HOME/.local/share" \
        "$HOME/.cache" "$tmp/run" "$tmp/tmp" || exit 99
    XDG_CONFIG_HOME=$HOME/.config
    XDG_STATE_HOME=$HOME/.local/state
    XDG_DATA_HOME=$HOME/.local/share
    XDG_CACHE_HOME=$HOME/.cache
    XDG_RUNTIME_DIR=$tmp/run
    TMPDIR=$tmp/tmp
    SMTPFWD_SYSCONF=
    LANG=C
    LC_ALL=C
    TZ=UTC
    export HOME XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME XDG_CACHE_HOME \
        XDG_RUNTIME_DIR TMPDIR SMTPFWD_SYSCONF LANG LC_ALL TZ
    unset MAILRC EMAIL REPLYTO NAME MAIL MBOX DEAD LANGUAGE \
        GIT_DIR GIT_WORK_TREE GIT_CONFIG GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME \
        GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL 2>/dev/null
    GIT_CONFIG_NOSYSTEM=1
    export GIT_CONFIG_NOSYSTEM
}

# cl_need_bs: skip the test (77-style "1..0 # SKIP") when this smtpfwd has
# no SMTP on standard input: `smtpfwd -bs` then exits 64 saying it is "not
# available". Any other answer means -bs exists and the test runs.
cl_need_bs() {
    "$SMTPFWD" -bs </dev/null >"$tmp/bs-probe.out" 2>"$tmp/bs-probe.err"
    st=$?
    if [ "$st" -eq 64 ] && grep -q 'not available' "$tmp/bs-probe.err"; then
        skip_all "smtpfwd -bs is not available in this build: $(head -n 1 "$tmp/bs-probe.err")"
    fi
}

# cl_server: start the scripted server with the script read from stdin;
# wait for its port file (the readiness signal), set $port and write the
# smtprc and the wrapper for it.
cl_server() {
    cat >"$tmp/server.script" || exit 99
    rm -f "$tmp/port" "$tmp/server.log" "$tmp/events" "$tmp/server.stderr"
    "$SMTPD" --script "$tmp/server.script" --log "$tmp/server.log" \
        --port-file "$tmp/port" --events "$tmp/events" 2>"$tmp/server.stderr" &
    cl_server_pid=$!
    i=0
    while [ ! -s "$tmp/port" ]; do
        if ! kill -0 "$cl_server_pid" 2>/dev/null; then
            wait "$cl_server_pid" 2>/dev/null
            cl_server_pid=
            echo "Bail out! smtpd-script did not start: $(cat "$tmp/server.stderr")"
            exit 99
        fi
        i=$((i + 1))
        if [ $i -gt 200 ]; then
            echo "Bail out! smtpd-script wrote no port file in 10 s"
            exit 99
        fi
        sleep 0.05
    done
    port=$(cat "$tmp/port")
    cl_smtprc
    cl_wrapper
}

# cl_server_stop: stop the server (it finishes the connection in progress,
# so the log is complete afterwards), then split its log.
cl_server_stop() {
    if [ -n "$cl_server_pid" ]; then
        kill -TERM "$cl_server_pid" 2>/dev/null
        wait "$cl_server_pid" 2>/dev/null
        cl_server_pid=
    fi
    if [ -s "$tmp/server.stderr" ]; then
        cl_fail "${cl_desc:-server}: smtpd-script complained: $(cat "$tmp/server.stderr")"
    else
        cl_ok "${cl_desc:-server}: smtpd-script did not complain"
    fi
    cl_split_log
}

# cl_server_down: point the smtprc at a loopback port where nothing listens
# (a server is started and stopped to learn a free port).
cl_server_down() {
    cl_server </dev/null
    kill -TERM "$cl_server_pid" 2>/dev/null
    wait "$cl_server_pid" 2>/dev/null
    cl_server_pid=
    rm -f "$tmp/server.log" "$tmp/events"
}

# cl_smtprc: smtpfwd's configuration. CL_FROM is the account's from.
cl_smtprc() {
    cat >"$tmp/smtprc" <<EOF
# written by tests/callers-lib.sh
defaults
tls off
auth off
queue off
timeout 10

account test
host 127.0.0.1
port $port
from ${CL_FROM:-me@x.test}
domain client.x.test

account default : test
EOF
    chmod 600 "$tmp/smtprc"
}

# cl_wrapper: $tmp/sendmail records its argv, runs smtpfwd with our smtprc
# and records smtpfwd's stderr (passed on) and exit status (returned).
# CL_VALGRIND=1 runs smtpfwd under valgrind (errors or leaks: status 99).
cl_wrapper() {
    vg=
    if [ "${CL_VALGRIND:-0}" = 1 ]; then
        vg='valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect'
    fi
    cat >"$tmp/sendmail" <<EOF
#!/bin/sh
# sendmail wrapper written by tests/callers-lib.sh
dir='$tmp'
n=1
while [ -e "\$dir/call.\$n.argv" ]; do n=\$((n + 1)); done
printf '%s\n' "\$@" >"\$dir/call.\$n.argv"
$vg '$SMTPFWD' -C "\$dir/smtprc" "\$@" 2>"\$dir/call.\$n.stderr"
st=\$?
echo \$st >"\$dir/call.\$n.status"
cat "\$dir/call.\$n.stderr" >&2
exit \$st
EOF
    chmod 755 "$tmp/sendmail"
}

# cl_run DESC COMMAND...: run a caller with a time limit, output in
# $tmp/out, status in $cl_status.
cl_run() {
    cl_desc=$1
    shift
    timeout 20 "$@" >"$tmp/out" 2>&1
    cl_status=$?
    if [ $cl_status -eq 124 ]; then
        cl_fail "$cl_desc: timed out after 20 s"
    else
        cl_ok "$cl_desc: the caller ends (no 20 s timeout)"
    fi
}

# cl_calls N: exactly N wrapper invocations since the last cl_calls.
cl_calls() {
    n=0
    while [ -e "$tmp/call.$((cl_calls_seen + n + 1)).argv" ]; do n=$((n + 1)); done
    if [ "$n" -ne "$1" ]; then
        cl_fail "$cl_desc: the caller ran sendmail $n times, expected $1"
    else
        cl_ok "$cl_desc: the caller runs sendmail $1 time(s)"
    fi
    cl_calls_seen=$((cl_calls_seen + n))
}

# cl_argv N ARG...: the Nth invocation's argv was exactly ARG...
cl_argv() {
    n=$1
    shift
    printf '%s\n' "$@" >"$tmp/expected.argv"
    if [ ! -e "$tmp/call.$n.argv" ]; then
        cl_fail "$cl_desc: sendmail invocation $n did not happen"
    elif ! cmp -s "$tmp/expected.argv" "$tmp/call.$n.argv"; then
        cl_fail "$cl_desc: argv of invocation $n is [$(tr '\n' ' ' <"$tmp/call.$n.argv")], expected [$*]"
    else
        cl_ok "$cl_desc: argv of invocation $n is [$*]"
    fi
}

# cl_smtpfwd_status N STATUS: smtpfwd exited STATUS in the Nth invocation.
cl_smtpfwd_status() {
    got=$(cat "$tmp/call.$1.status" 2>/dev/null)
    if [ "$got" != "$2" ]; then
        cl_fail "$cl_desc: smtpfwd exited '$got' in invocation $1, expected $2; its stderr: $(cat "$tmp/call.$1.stderr" 2>/dev/null)"
    else
        cl_ok "$cl_desc: smtpfwd exits $2 in invocation $1"
    fi
}

# cl_smtpfwd_quiet N: smtpfwd printed nothing on stderr in invocation N.
cl_smtpfwd_quiet() {
    if [ -s "$tmp/call.$1.stderr" ]; then
        cl_fail "$cl_desc: smtpfwd printed on stderr: $(cat "$tmp/call.$1.stderr")"
    else
        cl_ok "$cl_desc: smtpfwd prints nothing on stderr in invocation $1"
    fi
}

# cl_split_log: split server.log into commands and per-transaction files.
cl_split_log() {
    rm -f "$tmp"/txn.* "$tmp/commands"
    : >"$tmp/commands"
    [ -f "$tmp/server.log" ] || return 0
    awk -v dir="$tmp" '
        BEGIN { n = 0; indata = 0 }
        indata {
            if ($0 == ".\r") { indata = 0; print "" > (dir "/txn." n ".end"); next }
            print > (dir "/txn." n ".data")
            next
        }
        {
            cmd = $0
            sub(/\r$/, "", cmd)
            print cmd > (dir "/commands")
            up = toupper(cmd)
            # verbs are case-insensitive; what follows the colon is kept as is
            if (up ~ /^MAIL FROM:/) { n++; print "MAIL FROM:" substr(cmd, 11) > (dir "/txn." n ".env") }
            else if (up ~ /^RCPT TO:/ && n > 0) print "RCPT TO:" substr(cmd, 9) > (dir "/txn." n ".env")
            else if (up == "DATA" && n > 0) { indata = 1; printf "" > (dir "/txn." n ".data") }
        }
    ' "$tmp/server.log"
    i=1
    while [ -e "$tmp/txn.$i.env" ]; do
        if [ -e "$tmp/txn.$i.data" ]; then
            tr -d '\r' <"$tmp/txn.$i.data" | awk -v h="$tmp/txn.$i.headers" -v b="$tmp/txn.$i.body" '
                BEGIN { inbody = 0; printf "" > h; printf "" > b }
                !inbody && $0 == "" { inbody = 1; next }
                !inbody { print > h; next }
                { line = $0; if (substr(line, 1, 1) == ".") line = substr(line, 2); print line > b }
            '
        fi
        i=$((i + 1))
    done
}

# cl_txn_count N: the server saw exactly N transactions (MAIL FROM commands).
cl_txn_count() {
    n=0
    while [ -e "$tmp/txn.$((n + 1)).env" ]; do n=$((n + 1)); done
    if [ "$n" -ne "$1" ]; then
        cl_fail "$cl_desc: the server saw $n transactions (MAIL FROM), expected $1"
    else
        cl_ok "$cl_desc: the server sees $1 transaction(s)"
    fi
}

# cl_envelope N FROM RCPT...: transaction N had exactly this MAIL FROM and
# these RCPT TO, in this order (ESMTP parameters after the address ignored).
cl_envelope() {
    n=$1
    shift
    {
        printf 'MAIL FROM:<%s>\n' "$1"
        shift
        for a in "$@"; do printf 'RCPT TO:<%s>\n' "$a"; done
    } >"$tmp/expected.env"
    if [ ! -e "$tmp/txn.$n.env" ]; then
        cl_fail "$cl_desc: transaction $n did not reach the server"
        return
    fi
    sed 's/> .*$/>/' "$tmp/txn.$n.env" >"$tmp/got.env"
    if ! cmp -s "$tmp/expected.env" "$tmp/got.env"; then
        cl_fail "$cl_desc: envelope of transaction $n is [$(tr '\n' ' ' <"$tmp/got.env")], expected [$(tr '\n' ' ' <"$tmp/expected.env")]"
    else
        cl_ok "$cl_desc: envelope of transaction $n is [$(tr '\n' ' ' <"$tmp/expected.env")]"
    fi
}

# cl_mail_param N PARAM: the MAIL FROM of transaction N carries the ESMTP
# parameter PARAM (e.g. BODY=8BITMIME; case-insensitive).
cl_mail_param() {
    if ! grep -i -q -E "^MAIL FROM:<[^>]*>(.* )?$2( |\$)" "$tmp/txn.$1.env" 2>/dev/null; then
        cl_fail "$cl_desc: MAIL FROM of transaction $1 lacks $2: $(grep -i '^MAIL' "$tmp/txn.$1.env" 2>/dev/null)"
    else
        cl_ok "$cl_desc: MAIL FROM of transaction $1 has $2"
    fi
}

# cl_rcpt_param N ADDR PARAM: RCPT TO:<ADDR> of transaction N carries PARAM.
cl_rcpt_param() {
    if ! grep -F "RCPT TO:<$2>" "$tmp/txn.$1.env" 2>/dev/null |
        grep -i -q -E "^RCPT TO:<[^>]*>(.* )?$3( |\$)"; then
        cl_fail "$cl_desc: RCPT TO:<$2> of transaction $1 lacks $3: $(grep -F "<$2>" "$tmp/txn.$1.env" 2>/dev/null)"
    else
        cl_ok "$cl_desc: RCPT TO:<$2> of transaction $1 has $3"
    fi
}

# cl_complete N: the Nth message was sent up to its terminating ".".
cl_complete() {
    if [ ! -e "$tmp/txn.$1.end" ]; then
        cl_fail "$cl_desc: message $1 has no end of data (CRLF.CRLF) on the wire"
    else
        cl_ok "$cl_desc: message $1 ends with CRLF.CRLF on the wire"
    fi
}

# cl_header N LINE: the header section of message N holds the line LINE
# exactly, once.
cl_header() {
    c=$(grep -c -x -F -e "$2" "$tmp/txn.$1.headers" 2>/dev/null)
    if [ "${c:-0}" -ne 1 ]; then
        cl_fail "$cl_desc: message $1 has header line '$2' ${c:-0} times, expected once; headers: $(tr '\n' '|' <"$tmp/txn.$1.headers" 2>/dev/null)"
    else
        cl_ok "$cl_desc: message $1 has header line '$2' once"
    fi
}

# cl_header_count N NAME COUNT: message N has COUNT fields named NAME
# (case-insensitive).
cl_header_count() {
    c=$(grep -c -i "^$2:" "$tmp/txn.$1.headers" 2>/dev/null)
    if [ "${c:-0}" -ne "$3" ]; then
        cl_fail "$cl_desc: message $1 has ${c:-0} '$2:' fields, expected $3"
    else
        cl_ok "$cl_desc: message $1 has $3 '$2:' field(s)"
    fi
}

# cl_header_value N NAME: print the unfolded value of field NAME.
cl_header_value() {
    awk -v name="$2" '
        BEGIN { want = tolower(name) ":" }
        /^[ \t]/ { if (grab) { v = v $0 }; next }
        { grab = 0 }
        tolower(substr($0, 1, length(want))) == want && !done {
            v = substr($0, length(want) + 1); grab = 1; done = 1
        }
        END { sub(/^[ \t]+/, "", v); print v }
    ' "$tmp/txn.$1.headers"
}

# cl_body N FILE: the body of message N (dot-unstuffed, CR removed) equals FILE.
cl_body() {
    if ! cmp -s "$2" "$tmp/txn.$1.body"; then
        cl_fail "$cl_desc: body of message $1 differs from what the caller gave:"
        diff "$2" "$tmp/txn.$1.body" | sed 's/^/#   /'
    else
        cl_ok "$cl_desc: body of message $1 is what the caller gave"
    fi
}

# cl_data_line N LINE: message N on the wire holds LINE (without CRLF).
cl_data_line() {
    if ! tr -d '\r' <"$tmp/txn.$1.data" 2>/dev/null | grep -q -x -F -e "$2"; then
        cl_fail "$cl_desc: message $1 on the wire lacks the line '$2'"
    else
        cl_ok "$cl_desc: message $1 on the wire has the line '$2'"
    fi
}

# cl_crlf: every line the server received ends in CRLF, no bare CR or LF,
# and the log ends with a line end.
cl_crlf() {
    if [ ! -s "$tmp/server.log" ]; then
        cl_fail "$cl_desc: the server received nothing"
        return
    fi
    bad=$(awk -v cr="$cl_cr" '
        { s = $0
          if (substr(s, length(s)) != cr) { bad++; if (!first) first = NR }
          else s = substr(s, 1, length(s) - 1)
          if (index(s, cr)) { bad++; if (!first) first = NR } }
        END { if (bad) print bad " (first at line " first ")" }
    ' "$tmp/server.log")
    if [ -n "$bad" ]; then
        cl_fail "$cl_desc: lines on the wire without CRLF or with a bare CR: $bad"
    else
        cl_ok "$cl_desc: every line on the wire ends in CRLF, no bare CR"
    fi
    last=$(tail -c 1 "$tmp/server.log" | od -An -c | tr -d ' ')
    if [ "$last" != '\n' ]; then
        cl_fail "$cl_desc: the last bytes on the wire do not end a line"
    else
        cl_ok "$cl_desc: the last bytes on the wire end a line"
    fi
}

# cl_command_seen WORD: some command line began with WORD.
cl_command_seen() {
    if ! grep -q -i "^$1" "$tmp/commands"; then
        cl_fail "$cl_desc: the server never received $1"
    else
        cl_ok "$cl_desc: the server receives $1"
    fi
}

# cl_output_has TEXT: the caller's output contains TEXT.
cl_output_has() {
    if ! grep -q -F -e "$1" "$tmp/out"; then
        cl_fail "$cl_desc: the caller's output lacks '$1'; it was: $(cat "$tmp/out")"
    else
        cl_ok "$cl_desc: the caller's output has '$1'"
    fi
}

# cl_finish: what helps to read a failure, then the plan (done_testing).
cl_finish() {
    if [ "$cl_failures" -gt 0 ]; then
        echo "# smtpfwd stderr per call:"
        for f in "$tmp"/call.*.stderr; do
            [ -s "$f" ] && sed "s|^|#   $(basename "$f"): |" "$f"
        done
        if [ -s "$tmp/events" ]; then
            echo "# server events:"
            sed 's/^/#   /' "$tmp/events"
        fi
    fi
    done_testing
}
