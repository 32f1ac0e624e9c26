# tests/interop/lib.sh - shell helpers shared by the interoperability
# tests (tests/interop/NAME.sh): each starts a private instance of a real
# SMTP server (Exim, OpenSMTPD, Postfix, Dovecot submission...) and runs
# the delivery matrix of tests/interop/matrix.sh against it.
#
# Owns: skipping (root, programs, unshare), the temporary directory and its
# cleanup, free loopback ports, waiting for a port to listen, fetching and
# unpacking .deb files of servers that are not installed, running a command
# in a private mount namespace, reading messages back from a maildir, the
# private client environment, and TAP output.
#
# Source it (it sources tests/lib.sh and tests/postfix-lib.sh for their
# generic helpers), then:
#   skip REASON              (tests/lib.sh) "1..0 # SKIP REASON", exit 0
#   iop_need_root            skip unless root
#   iop_need_program NAME..  skip unless every NAME is on PATH (+ /usr/sbin)
#   iop_tmpdir               make $IOP_DIR (mode 0755), removed at exit;
#                            every command in $IOP_CLEANUP runs first
#                            (add yours: iop_on_exit "kill $pid"), then
#                            what still runs from $IOP_DIR is ended
#   iop_free_ports N         N distinct free loopback ports on one line
#   iop_wait_listen PORT..   wait (bounded) until each accepts connections
#   iop_certs                test certificates (tests/certs.sh) in
#                            $IOP_DIR/certs; sets IOP_CERTS
#   iop_debs_get PKG..       make sure PKG_*.deb is in $IOP_DEBS (the cache,
#                            ${SMTPFWD_INTEROP_DEBS:-/var/cache/smtpfwd-interop});
#                            skip when it is not there and cannot be fetched
#   iop_debs_unpack DIR PKG.. unpack the cached .deb files into DIR
#   iop_unshare BIND.. -- CMD ARGS..
#                            run CMD in a private mount namespace in which
#                            each BIND "SRC:DST" is bind-mounted (DST must
#                            exist), in the foreground
#   iop_unshare_bg LOG BIND.. -- CMD ARGS..
#                            the same in the background, output to LOG;
#                            IOP_BG_PID is CMD's pid (a child of this
#                            shell: unshare and sh exec into it), killed
#                            and waited for at exit. (`iop_unshare ... &`
#                            would give the pid of a subshell, whose
#                            death leaves CMD running.)
#   iop_poll CMD ARGS..      run CMD while it returns 1, at most
#                            ${IOP_FETCH_TIMEOUT:-20} seconds (0: once);
#                            returns CMD's last status
#   iop_maildir_fetch DIR MARKER
#                            the iop_fetch of a maildir DIR (new/ and cur/):
#                            waits (iop_poll) for the message with the line
#                            MARKER, prints it as stored; returns 1 when
#                            there is none, 2 when there are several
#   iop_client_env DIR       a fresh private client environment under DIR:
#                            sets IOP_CLIENT_ENV for `env` (HOME, XDG_*,
#                            TMPDIR, SMTPFWD_SYSCONF=, C locale, UTC)
#   tap_ok / tap_not_ok / tap_skip / tap_check / tap_diag / tap_file / tap_done
#
# Contract of the server scripts with matrix.sh: tests/interop/matrix.sh.
# POSIX sh.

iop_here=${top_srcdir:+$top_srcdir/tests}
iop_here=${iop_here:-$(cd "$(dirname "$0")/.." && pwd)}
: "${SMTPFWD:=${top_builddir:-.}/src/smtpfwd}"
: "${PYTHON:=python3}"
. "$iop_here/lib.sh"
. "$iop_here/postfix-lib.sh"
PATH=$PATH:/usr/sbin:/sbin
export PATH

IOP_DEBS=${SMTPFWD_INTEROP_DEBS:-/var/cache/smtpfwd-interop}

iop_need_root() {
    [ "$(id -u)" -eq 0 ] ||
        skip "${IOP_NAME:-interop}: needs root (a private server instance with its own spool)"
}

iop_need_program() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || skip "${IOP_NAME:-interop}: $p is not installed"
    done
}

# Cleanup: the commands in $IOP_CLEANUP (newest first), then $IOP_DIR.
IOP_CLEANUP=
iop_on_exit() {
    IOP_CLEANUP="$*; $IOP_CLEANUP"
}
# iop_reap: end what still runs from $IOP_DIR (a server's children that
# outlive it, e.g. Exim's connection and delivery processes, which would
# write into the directory while it is removed): the processes whose
# command line names the directory, by pid, TERM and after 3 s KILL.
iop_reap() {
    [ -d /proc ] || return 0
    iop_sig=TERM
    for iop_i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31; do
        iop_pids=
        for f in $(grep -l -a -F -e "$IOP_DIR/" /proc/[0-9]*/cmdline 2>/dev/null); do
            iop_p=${f#/proc/}
            iop_p=${iop_p%/cmdline}
            [ "$iop_p" != "$$" ] && [ -e "/proc/$iop_p" ] && iop_pids="$iop_pids $iop_p"
        done
        [ -n "$iop_pids" ] || return 0
        [ "$iop_i" -lt 30 ] || iop_sig=KILL
        kill -s "$iop_sig" $iop_pids 2>/dev/null
        sleep 0.1
    done
}

iop_cleanup() {
    trap - EXIT
    eval "$IOP_CLEANUP" >/dev/null 2>&1
    IOP_CLEANUP=
    [ -n "${IOP_DIR:-}" ] && iop_reap
    if [ -n "${IOP_DIR:-}" ] && [ -d "$IOP_DIR" ]; then
        if [ -n "${IOP_KEEP:-}" ]; then
            echo "# kept $IOP_DIR"
        else
            rm -rf "$IOP_DIR"
        fi
    fi
}

iop_tmpdir() {
    IOP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/smtpfwd-iop.XXXXXX") || exit 99
    chmod 755 "$IOP_DIR"
    TESTDIR=$IOP_DIR        # for tests/lib.sh's helpers (certs_make)
    trap 'iop_cleanup' EXIT
    trap 'exit 1' HUP INT TERM PIPE
}

iop_free_ports() {
    pf_free_ports "$1"
}

iop_wait_listen() {
    PF_WAIT_S=20 pf_wait_listen "$@"
}

iop_certs() {
    certs_make
    IOP_CERTS=$CERTS
    chmod 755 "$IOP_CERTS"
    chmod 644 "$IOP_CERTS"/*.pem
}

# iop_debs_get PKG...: the newest cached PKG_*.deb is used; only a missing
# one is downloaded (apt-get download, in the cache directory).
iop_debs_get() {
    mkdir -p "$IOP_DEBS" 2>/dev/null
    for pkg in "$@"; do
        set -- "$IOP_DEBS/${pkg}"_*.deb
        [ -f "$1" ] && continue
        command -v apt-get >/dev/null 2>&1 || skip "$pkg.deb is not in $IOP_DEBS and apt-get is missing"
        (cd "$IOP_DEBS" && apt-get download -q "$pkg") >"$IOP_DIR/apt-$pkg.log" 2>&1
        set -- "$IOP_DEBS/${pkg}"_*.deb
        [ -f "$1" ] || skip "$pkg.deb is not in $IOP_DEBS and cannot be downloaded: $(tail -1 "$IOP_DIR/apt-$pkg.log")"
    done
}

# iop_deb PKG: the path of the cached .deb (the last in version order).
iop_deb() {
    ls "$IOP_DEBS/${1}"_*.deb 2>/dev/null | sort -V | tail -1
}

iop_debs_unpack() {
    dest=$1
    shift
    mkdir -p "$dest" || exit 99
    command -v dpkg-deb >/dev/null 2>&1 || skip "dpkg-deb is missing"
    for pkg in "$@"; do
        deb=$(iop_deb "$pkg")
        dpkg-deb -x "$deb" "$dest" || { echo "cannot unpack $deb" >&2; exit 99; }
    done
}

# What runs inside the new mount namespace: the SRC:DST bind mounts up
# to "--", then the command in place of this shell.
iop_unshare_script='
    while [ "$1" != -- ]; do
        mount --bind "${1%%:*}" "${1#*:}" || exit 99
        shift
    done
    shift
    exec "$@"'

iop_unshare() {
    command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
    unshare -m --propagation private sh -c "$iop_unshare_script" iop_unshare "$@"
}

# (unshare itself goes to the background, not a subshell running a
# function: $! is then the pid that must be killed.)
iop_unshare_bg() {
    command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
    iop_log=$1
    shift
    unshare -m --propagation private sh -c "$iop_unshare_script" iop_unshare "$@" \
        >"$iop_log" 2>&1 &
    IOP_BG_PID=$!
    iop_on_exit "kill $IOP_BG_PID; wait $IOP_BG_PID"
}

# iop_unshare_works: skip when private mount namespaces are not allowed
# (a container without CAP_SYS_ADMIN).
iop_unshare_works() {
    command -v unshare >/dev/null 2>&1 || skip "unshare (util-linux) is missing"
    unshare -m --propagation private true 2>/dev/null ||
        skip "private mount namespaces are not available here (unshare -m fails)"
}

iop_poll() {
    iop_t=$(( ${IOP_FETCH_TIMEOUT:-20} * 10 ))
    while :; do
        "$@"
        iop_rc=$?
        [ "$iop_rc" -eq 1 ] && [ "$iop_t" -gt 0 ] || return "$iop_rc"
        iop_t=$((iop_t - 1))
        sleep 0.1
    done
}

# One look into a maildir: 0 and the message when exactly one file holds
# the line MARKER, 1 when none does, 2 (and the file names on stderr) when
# several do. Files in tmp/ are still being written.
iop_maildir_once() {
    iop_found=$(find "$1/new" "$1/cur" -type f 2>/dev/null | while read -r f; do
        grep -l -x -F -e "$2" "$f" 2>/dev/null
    done)
    [ -n "$iop_found" ] || return 1
    if [ "$(printf '%s\n' "$iop_found" | wc -l)" -gt 1 ]; then
        echo "several messages hold '$2':" $iop_found >&2
        return 2
    fi
    cat "$iop_found"
}

iop_maildir_fetch() {
    iop_poll iop_maildir_once "$1" "$2"
}

# iop_client_env DIR: HOME and the XDG directories under DIR (made fresh),
# no system smtprc, no keyring or D-Bus session, C locale, UTC. Use as
#   env -u DBUS_SESSION_BUS_ADDRESS $IOP_CLIENT_ENV "$SMTPFWD" ...
# (DIR must not contain spaces).
iop_client_env() {
    rm -rf "$1"
    mkdir -p -m 700 "$1" "$1/home" "$1/home/.config" "$1/home/.state" "$1/home/.data" \
        "$1/home/.cache" "$1/tmp" || exit 99
    IOP_CLIENT_ENV="HOME=$1/home XDG_CONFIG_HOME=$1/home/.config XDG_STATE_HOME=$1/home/.state
XDG_DATA_HOME=$1/home/.data XDG_CACHE_HOME=$1/home/.cache XDG_RUNTIME_DIR=$1/tmp TMPDIR=$1/tmp
SMTPFWD_SYSCONF= LANG=C LC_ALL=C TZ=UTC"
}

# TAP output: the names these tests use for tests/lib.sh's helpers (ok,
# not_ok, skip_check, check, diag, done_testing); tap_file is their own.
tap_ok() { ok "$@"; }
tap_not_ok() { not_ok "$@"; }
# tap_skip REASON TEXT
tap_skip() { skip_check "$@"; }
# tap_check TEXT COMMAND...: ok when COMMAND succeeds.
tap_check() { check "$@"; }
tap_diag() { diag "$@"; }
# tap_file FILE: FILE's lines as diagnostics (at most 40).
tap_file() {
    [ -f "$1" ] && head -40 "$1" | sed 's/^/#   /'
}
tap_done() { done_testing; }

# ---- a SOCKS5 proxy: Dante (dante-server) ----
#   iop_dante_find           $IOP_DANTED: the installed danted, else the one
#                            of the cached dante-server .deb (scripts/
#                            install-deps keeps it there: installing the
#                            package would start a system service),
#                            unpacked into $IOP_DIR/dante-root; returns 1
#                            when there is neither (nothing is downloaded)
#   iop_dante_start DIR [none|username]
#                            write DIR/danted.conf (clients from loopback
#                            only, CONNECT to anywhere, the given method)
#                            and run danted in the foreground, in the
#                            background of this shell, killed at exit;
#                            with "username", in a private mount namespace
#                            where DIR/passwd and DIR/shadow (made by the
#                            caller: the system's own files plus a test
#                            user) are /etc/passwd and /etc/shadow, so that
#                            no system user is added. Sets IOP_DANTE_PORT;
#                            returns 1 (DIR/danted.log says why) when it
#                            does not listen.
iop_dante_find() {
    IOP_DANTED=$(PATH=$PATH:/usr/sbin command -v danted 2>/dev/null)
    [ -n "$IOP_DANTED" ] && return 0
    [ -n "$(iop_deb dante-server)" ] || return 1
    command -v dpkg-deb >/dev/null 2>&1 || return 1
    if [ ! -x "$IOP_DIR/dante-root/usr/sbin/danted" ]; then
        mkdir -p "$IOP_DIR/dante-root" &&
            dpkg-deb -x "$(iop_deb dante-server)" "$IOP_DIR/dante-root" || return 1
    fi
    IOP_DANTED=$IOP_DIR/dante-root/usr/sbin/danted
}

iop_dante_start() {
    iop_dd=$1
    iop_dm=${2:-none}
    mkdir -p "$iop_dd" || exit 99
    IOP_DANTE_PORT=$(iop_free_ports 1)
    cat >"$iop_dd/danted.conf" <<DANTE
logoutput: $iop_dd/danted.log
internal: 127.0.0.1 port = $IOP_DANTE_PORT
external: lo
clientmethod: none
socksmethod: $iop_dm
user.privileged: root
user.unprivileged: nobody
client pass {
    from: 127.0.0.0/8 to: 0.0.0.0/0
}
socks pass {
    from: 127.0.0.0/8 to: 0.0.0.0/0
    command: connect
    log: connect disconnect error
}
DANTE
    if [ "$iop_dm" = username ]; then
        iop_unshare_bg "$iop_dd/danted.out" "$iop_dd/passwd:/etc/passwd" \
            "$iop_dd/shadow:/etc/shadow" -- \
            "$IOP_DANTED" -f "$iop_dd/danted.conf" -p "$iop_dd/danted.pid" -N 1
    else
        "$IOP_DANTED" -f "$iop_dd/danted.conf" -p "$iop_dd/danted.pid" -N 1 \
            >"$iop_dd/danted.out" 2>&1 &
        iop_on_exit "kill $!; wait $!"
    fi
    iop_wait_listen "$IOP_DANTE_PORT" >/dev/null 2>&1
}
