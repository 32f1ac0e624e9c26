#!/bin/sh
# happy-eyeballs.sh - a smarthost name with an IPv6 and an IPv4 address,
# one of which silently drops every packet (a network without a working
# IPv6 route): smtpfwd must connect through the other one without waiting
# for the broken one to time out (Happy Eyeballs, RFC 8305, src/conn.c).
#
# Runs in a private network and mount namespace (unshare -n -m): lo is up
# with fd00::25 and a second IPv4 address (so that getaddrinfo's
# AI_ADDRCONFIG sees both families configured), a private /etc/hosts maps
# smarthost.test to fd00::25 and 127.0.0.1, a private /etc/nsswitch.conf
# looks names up in that file only, and a private /etc/gai.conf decides
# which family sorts first. Two scripted servers (tests/smtpd-script)
# listen on the same port, one on each address; a firewall rule (nft, or
# ip6tables/iptables) drops the TCP packets to one address, or no server
# listens there (connection refused).
#
# Cases (every smtpfwd run is wrapped in `timeout 60`; being killed by it
# fails the case, nothing asserts how long a run takes):
#   v6 first, v6 dropped: exit 0, the message is at the IPv4 server, and
#     -v shows the attempt to fd00::25 before the connection to 127.0.0.1
#   v6 first, v4 dropped: exit 0 through fd00::25
#   v4 first (gai.conf), v4 dropped: exit 0 through fd00::25, after the
#     attempt to 127.0.0.1
#   v6 refused (no server), v4 works: exit 0 through 127.0.0.1
#   v4 refused, v6 works: exit 0 through fd00::25
#   both dropped, timeout 3: exit 75, the error names both addresses as
#     timed out; nothing reached either server
#   v4 refused, v6 dropped: exit 75 naming each address with its reason
#   both refused: exit 75, the exact error line
#   source_ip 127.0.0.1 (v6 working): the IPv6 address is skipped, the
#     message goes through 127.0.0.1; source_ip fd00::25: through fd00::25
#   two addresses of each family, all refusing: tried with the families
#     alternating, the error lists all four in that order (exit 75)
#   a name that does not resolve: exit 68
# TAP (tests/lib.sh); skipped when not root or unshare/ip/nft+iptables/getent
# are missing or namespaces are not allowed, 99 setup error.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

V6=fd00::25
V4=127.0.0.1
NAME=smarthost.test

if [ -z "${HE_IN_NAMESPACE:-}" ]; then
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, firewall rules, bind mounts)"
    need_built "$SMTPD"
    need_program unshare
    need_program ip
    need_program getent
    need_program timeout
    if ! command -v nft >/dev/null 2>&1; then
        command -v iptables >/dev/null 2>&1 && command -v ip6tables >/dev/null 2>&1 ||
            skip "neither nft nor iptables and ip6tables installed"
    fi
    unshare -n -m true 2>/dev/null || skip "unshare -n -m is not allowed here"
    HE_IN_NAMESPACE=1 exec unshare -n -m sh "$0" "$@"
fi

# ---- inside the private namespaces ----

lib_tmpdir
lib_private_env
trap 'servers_stop; rm -rf "$TESTDIR"' EXIT

ip link set lo up || skip "cannot bring up lo in a network namespace"
ip -6 addr add "$V6/128" dev lo nodad 2>/dev/null || skip "no IPv6 in this kernel"
ip -6 addr add fd00::26/128 dev lo nodad || exit 99
# AI_ADDRCONFIG ignores 127.0.0.1: another IPv4 address makes IPv4 count.
ip addr add 192.0.2.25/32 dev lo || exit 99

printf '127.0.0.1 localhost\n::1 localhost\n%s %s\n%s %s\n' \
    "$V6" "$NAME" "$V4" "$NAME" > "$TESTDIR/hosts"
printf '%s multi.test\n' fd00::25 fd00::26 127.0.0.1 127.0.0.2 >> "$TESTDIR/hosts"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$TESTDIR/nsswitch.conf"
mount --bind "$TESTDIR/hosts" /etc/hosts || exit 99
mount --bind "$TESTDIR/nsswitch.conf" /etc/nsswitch.conf || exit 99
# glibc reads /etc/gai.conf afresh in every process; it is rewritten in
# place (the bind mount holds the inode) to change the order.
GAI=
if [ -f /etc/gai.conf ]; then
    : > "$TESTDIR/gai.conf"
    mount --bind "$TESTDIR/gai.conf" /etc/gai.conf || exit 99
    GAI=$TESTDIR/gai.conf
fi

# gai_order 6|4: which family getaddrinfo returns first (glibc's default
# table, with IPv4-mapped addresses at 10 or at 100).
gai_order() {
    [ -n "$GAI" ] || return 0
    v4prec=10
    [ "$1" = 4 ] && v4prec=100
    printf 'precedence ::1/128 50\nprecedence ::/0 40\nprecedence 2002::/16 30\nprecedence ::/96 20\nprecedence ::ffff:0:0/96 %s\n' \
        "$v4prec" > "$GAI"
}

# resolved [NAME]: the addresses of NAME ($NAME) as getaddrinfo returns
# them (getent asks with AI_ADDRCONFIG, as smtpfwd does), one line.
resolved() {
    getent ahosts "${1:-$NAME}" | awk '$2 == "STREAM" { printf "%s ", $1 }'
}

gai_order 6
got=$(resolved)
[ "$got" = "$V6 $V4 " ] || {
    echo "setup: getaddrinfo in the namespace returns '$got', expected '$V6 $V4 '" >&2
    exit 99
}

# ---- firewall: drop everything sent to one address and the port ----

FW=
if command -v nft >/dev/null 2>&1 && nft add table inet he 2>/dev/null &&
    nft add chain inet he out '{ type filter hook output priority 0; }'; then
    FW=nft
elif command -v iptables >/dev/null 2>&1 && iptables -L OUTPUT >/dev/null 2>&1 &&
    command -v ip6tables >/dev/null 2>&1 && ip6tables -L OUTPUT >/dev/null 2>&1; then
    FW=iptables
else
    skip "neither nft nor iptables/ip6tables can add rules in the namespace"
fi

# drop ADDR: packets to ADDR port $PORT vanish (connect hangs).
drop() {
    if [ "$FW" = nft ]; then
        case $1 in
            *:*) nft add rule inet he out ip6 daddr "$1" tcp dport "$PORT" drop ;;
            *) nft add rule inet he out ip daddr "$1" tcp dport "$PORT" drop ;;
        esac
    else
        case $1 in
            *:*) ip6tables -A OUTPUT -d "$1" -p tcp --dport "$PORT" -j DROP ;;
            *) iptables -A OUTPUT -d "$1" -p tcp --dport "$PORT" -j DROP ;;
        esac
    fi || exit 99
}

undrop_all() {
    if [ "$FW" = nft ]; then
        nft flush chain inet he out
    else
        iptables -F OUTPUT && ip6tables -F OUTPUT
    fi || exit 99
}

# ---- the two servers ----

# server_start 4|6: a scripted server on $V4 or $V6, port $PORT (0 = any;
# the first one chooses the port that both use).
server_start() {
    if [ "$1" = 6 ]; then addr=$V6; else addr=$V4; fi
    SMTPD_NAME=srv$1
    SMTPD_EXTRA="--address $addr --port ${PORT:-0}"
    smtpd_start ""
    SMTPD_NAME= SMTPD_EXTRA=
    eval "PID$1=\$SMTPD_PID"
    SMTPD_PID=
    PORT=$SMTPD_PORT
}

servers_stop() {
    for v in 4 6; do
        pid=$(eval echo "\${PID$v:-}")
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            eval "PID$v="
        fi
    done
}

PORT=
server_start 4
server_start 6
servers_stop

# ---- one case ----

# run CASE SERVERS [CONFIG-LINES]: start the servers named in SERVERS
# ("4 6", "4", "6" or ""), with fresh logs, deliver a message whose
# subject is CASE (in $tc) with -v, then stop the servers. Sets $status and
# $out (smtpfwd's stderr and stdout).
run() {
    tc=$1 servers=$2 extra=${3:-}
    rm -f "$TESTDIR"/srv4.log "$TESTDIR"/srv6.log "$TESTDIR"/srv4.events "$TESTDIR"/srv6.events
    touch "$TESTDIR"/srv4.log "$TESTDIR"/srv6.log "$TESTDIR"/srv4.events "$TESTDIR"/srv6.events
    for v in $servers; do server_start "$v"; done
    cat > "$TESTDIR/smtprc" <<EOF
account default
host ${HOST:-$NAME}
port $PORT
tls off
queue off
from me@x.test
timeout 30
$extra
EOF
    chmod 600 "$TESTDIR/smtprc"
    printf 'From: me@x.test\nTo: a@x.test\nSubject: %s\n\nbody\n' "$tc" |
        timeout 60 "$SMTPFWD" -C "$TESTDIR/smtprc" -v -i a@x.test > "$TESTDIR/out" 2>&1
    status=$?
    servers_stop
    out=$(cat "$TESTDIR/out")
    if [ "$status" -eq 124 ]; then
        fail "$tc: smtpfwd was still running after 60 seconds"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

# show: smtpfwd's output, indented (after a failure).
show() {
    printf '%s\n' "$out" | sed 's/^/    /'
}

expect_status() {
    if [ "$status" -eq "$1" ]; then ok "$tc: exit $1"; else
        fail "$tc: exit $status, expected $1"
        show
    fi
}

# arrived_at 4|6: the message is at that server (its log holds the data)
# and the other server received nothing at all.
arrived_at() {
    other=4
    [ "$1" = 4 ] && other=6
    if grep -q "^Subject: $tc" "$TESTDIR/srv$1.log" && grep -q '^DATA' "$TESTDIR/srv$1.log"; then
        ok "$tc: the message arrived at the IPv$1 server"
    else
        fail "$tc: the message is not at the IPv$1 server"
        show
    fi
    if [ ! -s "$TESTDIR/srv$other.log" ] && [ ! -s "$TESTDIR/srv$other.events" ]; then
        ok "$tc: no connection reached the IPv$other server"
    else
        fail "$tc: the IPv$other server got: $(cat "$TESTDIR/srv$other.events" "$TESTDIR/srv$other.log")"
    fi
}

nothing_arrived() {
    if [ ! -s "$TESTDIR/srv4.log" ] && [ ! -s "$TESTDIR/srv6.log" ]; then
        ok "$tc: nothing reached either server"
    else
        fail "$tc: a server received: $(cat "$TESTDIR/srv4.log" "$TESTDIR/srv6.log")"
    fi
}

# line_no TEXT: the number of the first output line holding TEXT (0: none).
line_no() {
    printf '%s\n' "$out" | grep -n -F -- "$1" | head -n 1 | cut -d: -f1 | grep . || echo 0
}

# in_order TEXT...: each TEXT is in the output, each on a later line than
# the one before.
in_order() {
    prev=0
    for t in "$@"; do
        n=$(line_no "$t")
        if [ "$n" -eq 0 ]; then
            fail "$tc: no line '$t'"
            show
            return
        fi
        if [ "$n" -le "$prev" ]; then
            fail "$tc: '$t' is not after the line before it"
            show
            return
        fi
        prev=$n
    done
    ok "$tc: the -v lines, in order: $(printf '[%s] ' "$@")"
}

contains() {
    if printf '%s\n' "$out" | grep -q -F -- "$1"; then ok "$tc: says '$1'"; else
        fail "$tc: does not say '$1'"
        show
    fi
}

lacks() {
    if printf '%s\n' "$out" | grep -q -F -- "$1"; then
        fail "$tc: says '$1'"
        show
    else
        ok "$tc: does not say '$1'"
    fi
}

try6="connecting to $NAME ($V6 port"
try4="connecting to $NAME ($V4 port"

# 1. IPv6 first and dropped, IPv4 works.
gai_order 6
undrop_all
drop "$V6"
run v6-dropped "4 6"
expect_status 0
arrived_at 4
# The IPv4 attempt starts while the IPv6 one is still pending (not after
# it failed: it never does).
in_order "$try6" "no answer from $V6 port $PORT yet; trying the next address as well" \
    "$try4" "connected to $V4 port $PORT"
lacks "connected to $V6"
lacks "cannot connect to $V6"

# 2. IPv6 first and works, IPv4 dropped.
undrop_all
drop "$V4"
run v4-dropped "4 6"
expect_status 0
arrived_at 6
in_order "$try6" "connected to $V6 port $PORT"

# 3. IPv4 first (gai.conf) and dropped, IPv6 works.
if [ -n "$GAI" ]; then
    gai_order 4
    got=$(resolved)
    if [ "$got" != "$V4 $V6 " ]; then
        echo "setup: with IPv4 first in gai.conf getaddrinfo returns '$got'" >&2
        exit 99
    fi
    run v4-first-dropped "4 6"
    expect_status 0
    arrived_at 6
    in_order "$try4" "no answer from $V4 port $PORT yet; trying the next address as well" \
        "$try6" "connected to $V6 port $PORT"
    gai_order 6
else
    skip_check "no /etc/gai.conf to bind over" "IPv4 first (gai.conf), IPv4 dropped"
fi

# 4. IPv6 refuses (nothing listens there), IPv4 works.
undrop_all
run v6-refused "4"
expect_status 0
arrived_at 4
in_order "$try6" "cannot connect to $V6 port $PORT: Connection refused" "$try4" \
    "connected to $V4 port $PORT"

# 5. IPv4 refuses, IPv6 works (first anyway).
run v4-refused "6"
expect_status 0
arrived_at 6
in_order "$try6" "connected to $V6 port $PORT"

# 6. Both dropped: one deadline for all, both named in the error.
drop "$V6"
drop "$V4"
run both-dropped "4 6" "timeout 3"
expect_status 75
nothing_arrived
in_order "$try6" "no answer from $V6 port $PORT yet" "$try4" \
    "smtpfwd: cannot connect to $NAME port $PORT: $V6: timed out after 3 seconds; $V4: timed out after 3 seconds"

# 7. IPv4 refuses, IPv6 dropped: each address with its own reason.
undrop_all
drop "$V6"
run refused-and-dropped "6" "timeout 3"
expect_status 75
nothing_arrived
contains "smtpfwd: cannot connect to $NAME port $PORT: $V6: timed out after 3 seconds; $V4: Connection refused"

# 8. Both refuse.
undrop_all
run both-refused "" "timeout 3"
expect_status 75
contains "smtpfwd: cannot connect to $NAME port $PORT: $V6: Connection refused; $V4: Connection refused"

# 9. source_ip 127.0.0.1: the IPv6 address (working) cannot be used.
run source-v4 "4 6" "source_ip $V4"
expect_status 0
arrived_at 4
lacks "$try6"
contains "connected to $V4 port $PORT"

# 10. source_ip fd00::25: through IPv6 only.
run source-v6 "4 6" "source_ip $V6"
expect_status 0
arrived_at 6
lacks "$try4"

# 11. source_ip 127.0.0.1 with only the IPv6 server: the IPv4 address
#     refuses, the IPv6 one is not usable from that source.
run source-v4-refused "6" "source_ip $V4"
expect_status 75
contains "smtpfwd: cannot connect to $NAME port $PORT: $V6: cannot use source address $V4; $V4: Connection refused"

# 12. Two addresses of each family, all refusing at once: they are tried
#     in the resolver's order with the families alternating, starting
#     with the first one's (v6 v4 v6 v4 for v6 v6 v4 v4), and the error
#     lists them in that order.
got=$(resolved multi.test)
v6s= v4s=
for a in $got; do
    case $a in
        *:*) v6s="$v6s $a" ;;
        *) v4s="$v4s $a" ;;
    esac
done
set -- $v4s
order=
for a in $v6s; do
    order="$order $a"
    [ $# -gt 0 ] && { order="$order $1"; shift; }
done
order="$order $*"
case ${got%% *} in
    *:*) ;;
    *) echo "setup: multi.test resolves to '$got', IPv6 not first" >&2; exit 99 ;;
esac
[ "$(echo $v6s | wc -w)" -eq 2 ] && [ "$(echo $v4s | wc -w)" -eq 2 ] || {
    echo "setup: multi.test resolves to '$got', not two addresses of each family" >&2
    exit 99
}
HOST=multi.test
run interleaved ""
HOST=
expect_status 75
prev=0 why= bad=
for a in $order; do
    n=$(line_no "connecting to multi.test ($a port $PORT)")
    [ "$n" -gt "$prev" ] || bad="$bad $a"
    prev=$n
    why="$why$a: Connection refused; "
done
if [ -z "$bad" ]; then ok "$tc: tried in the order$order"; else
    fail "$tc: not tried in the order$order (out of place:$bad)"
    show
fi
contains "smtpfwd: cannot connect to multi.test port $PORT: ${why%; }"

# 13. A name that is not in /etc/hosts (files only): EX_NOHOST.
HOST=nosuch.test
run no-such-host "4 6"
HOST=
expect_status 68
contains "smtpfwd: cannot resolve host nosuch.test"
nothing_arrived

done_testing
