#!/bin/sh
# The README's Quick start on a freshly made Debian 12: builds a minimal
# root with `mmdebstrap --variant=minbase bookworm` (no git, no sudo, no CA
# certificates, no recommended packages), puts what is committed in this
# repository into it (git archive HEAD: the root has no git), and runs
# there, as root, the commands of the README's Quick start, in order:
#   1. without a terminal (standard input /dev/null, output to a log);
#   2. with a terminal (script(1); standard input a pipe that never ends
#      and never types anything, so a prompt blocks until the time limit).
# Each run is in its own mount and PID namespace (unshare), chrooted into
# the root bind-mounted on itself (so that / is a mount point there), with
# /proc, /sys, /dev and /dev/pts mounted; what a run leaves running is
# killed when it ends. Prints each command's exit status and its last
# "N passed, N failed, N skipped" line, and the tests skipped there with
# their reasons; exits 0 when every command exits 0.
#
# Run by `make check-fresh`, not by `make check`. Needs root, mmdebstrap,
# unshare, chroot, script, git, and Debian's archive (the mirror is the
# machine's own, from /etc/apt/sources.list and sources.list.d). Exit 77
# when something is missing.
#
# Environment:
#   FRESH_ROOT_CACHE    where the base root (a tarball, rebuilt after 7
#                       days) and the downloaded packages are kept
#                       (default /var/cache/smtpfwd-fresh-root; "" = none)
#   FRESH_ROOT_MIRROR   the Debian mirror (default: from the machine's
#                       apt sources, else http://deb.debian.org/debian)
#   FRESH_ROOT_KEEP=1   keep the root (its path is printed)
#   FRESH_ROOT_LOGS     where the commands' logs go (default
#                       ./fresh-root-logs, emptied first)
#   FRESH_ROOT_TIMEOUT  seconds each command may take (default 7200)
#   FRESH_ROOT_TTY      what runs with a terminal: "all" (default) or the
#                       command names to run, e.g. "quickstart"
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, chroot, mounts)"
for p in mmdebstrap unshare chroot script git tar mount timeout; do
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
done
git -C "$top" rev-parse --verify -q HEAD >/dev/null 2>&1 || skip "$top is not a git checkout"

# The README's Quick start commands: the indented "./..." lines of that
# section, in order.
cmds=$(git -C "$top" show HEAD:README |
    awk '/^Quick start$/ { q = 1; next } q && /^-+$/ && u++ { exit }
         q && /^    \.\// { sub(/^ +/, ""); print }')
n=$(printf '%s\n' "$cmds" | grep -c .)
[ "$n" -ge 1 ] || { echo "FAIL: no commands found in the README's Quick start"; exit 1; }
echo "README Quick start commands ($n):"
printf '%s\n' "$cmds" | sed 's/^/    /'

# The mirrors: the machine's Debian sources (deb822 or one-line format).
if [ -n "${FRESH_ROOT_MIRROR:-}" ]; then
    mirror=$FRESH_ROOT_MIRROR
else
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                 /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n -e 's/^URIs: *//p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' |
        tr ' ' '\n' | grep -E '^https?://.*/debian/?$' | head -n 1)
    mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}
security=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
               /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -e 's/^URIs: *//p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' |
    tr ' ' '\n' | grep -E '^https?://.*/debian-security/?$' | head -n 1)
security=${security:-${mirror}-security}
security=${security%/}
echo "mirror: $mirror, security: $security"

cache=${FRESH_ROOT_CACHE-/var/cache/smtpfwd-fresh-root}
timeout=${FRESH_ROOT_TIMEOUT:-7200}
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/smtpfwd-fresh-root.XXXXXX") || exit 1
root=$work/root
logs=${FRESH_ROOT_LOGS:-$PWD/fresh-root-logs}
rm -rf "$logs" && mkdir -p "$logs" && logs=$(cd "$logs" && pwd) || exit 1
cleanup() {
    if [ "${FRESH_ROOT_KEEP:-}" = 1 ]; then
        echo "kept: $work (the root is $root)"
    else
        # The mounts were private to the runs' namespaces; never cross into
        # anything still mounted.
        if grep -q " $root/" /proc/self/mounts; then
            echo "something is still mounted under $root: left in place"
        else
            rm -rf --one-file-system "$work"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The base root (cached as a tarball).
base=""
if [ -n "$cache" ]; then
    mkdir -p "$cache/archives/partial" || exit 1
    base=$cache/bookworm-minbase.tar
    [ -f "$base" ] && [ -n "$(find "$base" -mtime -7)" ] || base_new=1
fi
if [ -z "$base" ] || [ "${base_new:-0}" = 1 ]; then
    out=${base:-$work/base.tar}
    echo "== mmdebstrap --variant=minbase bookworm (to $out)"
    if ! mmdebstrap --quiet --variant=minbase --mode=root bookworm "$out.new.tar" \
            "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
            "deb $security bookworm-security main" >"$work/mmdebstrap.log" 2>&1; then
        cat "$work/mmdebstrap.log"
        rm -f "$out.new.tar"
        echo "FAIL: mmdebstrap failed (is $mirror reachable?)"
        exit 1
    fi
    mv "$out.new.tar" "$out"
    echo "   made in $(($(date +%s) - started)) s"
    base=$out
fi
mkdir "$root" && tar -C "$root" -xf "$base" || { echo "FAIL: cannot unpack $base"; exit 1; }

# What every installed system (or container runtime) provides and a bare
# chroot does not: name resolution for apt-get, /etc/hosts for localhost.
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -f "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# 2. The committed tree, as a user who unpacked it would have it.
mkdir "$root/src" && git -C "$top" archive HEAD | tar -C "$root/src" -xf - ||
    { echo "FAIL: git archive HEAD failed"; exit 1; }
echo "testing commit $(git -C "$top" rev-parse --short HEAD) in $root/src"

# run_in_root LOG TTY COMMAND: run COMMAND in /src of the root, as root, in
# private mount and PID namespaces. TTY=1: on a pseudo-terminal made by
# script(1) inside the root, standard input a pipe that stays open.
run_in_root() {
    log=$1 tty=$2 cmd=$3
    inner="cd /src && $cmd"
    if [ "$tty" = 1 ]; then
        inner="script -qec '$(printf '%s' "$inner" | sed "s/'/'\\\\''/g")' /dev/null"
    fi
    set -- unshare --mount --pid --fork --propagation private sh -c '
        root=$1 cache=$2 inner=$3
        # The root a mount point, as / is on a machine (unshare -m in the
        # root changes the propagation of /, which needs a mount point).
        mount --bind "$root" "$root" &&
        mount -t proc proc "$root/proc" &&
        mount --rbind /sys "$root/sys" &&
        mount --rbind /dev "$root/dev" || exit 125
        if [ -n "$cache" ]; then
            mount --bind "$cache/archives" "$root/var/cache/apt/archives" || exit 125
        fi
        exec chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-xterm}" \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            LOGNAME=root USER=root /bin/sh -c "$inner"
    ' sh "$root" "$cache" "$inner"
    if [ "$tty" = 1 ]; then
        # A terminal nobody types on: the pipe never ends.
        rm -f "$work/stdin"; mkfifo "$work/stdin"
        sleep "$((timeout + 60))" >"$work/stdin" &
        feeder=$!
        timeout -k 30 "$timeout" "$@" <"$work/stdin" >"$log" 2>&1
        status=$?
        kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
    else
        timeout -k 30 "$timeout" "$@" </dev/null >"$log" 2>&1
        status=$?
    fi
    return "$status"
}

# 3. The commands, without then with a terminal.
failed=0
summary=""
for tty in 0 1; do
    i=0
    printf '%s\n' "$cmds" >"$work/cmds"
    while IFS= read -r cmd; do
        i=$((i + 1))
        name=$(basename "${cmd%% *}")
        if [ "$tty" = 1 ] && [ "${FRESH_ROOT_TTY:-all}" != all ]; then
            case " $FRESH_ROOT_TTY " in *" $name "*) ;; *) continue ;; esac
        fi
        how="no terminal"; [ "$tty" = 1 ] && how="terminal"
        log=$logs/$i-$name$( [ "$tty" = 1 ] && echo -tty).log
        echo "== [$how] $cmd (log: $log)"
        t0=$(date +%s)
        run_in_root "$log" "$tty" "$cmd"
        status=$?
        secs=$(($(date +%s) - t0))
        note=""
        [ "$status" -eq 124 ] && note=" (timed out after ${timeout} s)"
        totals=$(tr -d '\r' <"$log" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' | tail -n 1)
        line="[$how] $cmd: exit $status$note, ${secs} s${totals:+, $totals}"
        echo "   $line"
        summary="$summary$line
"
        if [ "$status" -ne 0 ]; then
            failed=$((failed + 1))
            echo "   --- last lines of the log:"
            tr -d '\r' <"$log" | tail -n 40 | sed 's/^/   | /'
        fi
    done <"$work/cmds"
done

# What the last run of the suite skipped there, and why.
for trs in $(find "$root/src" -path "$root/src/_build*/tests/*" -name '*.trs' 2>/dev/null | LC_ALL=C sort); do
    grep -q '^:global-test-result: SKIP' "$trs" || continue
    t=${trs#"$root/src/"}
    why=$(grep -m 1 -E '^(SKIP|# SKIP|1\.\.0)' "${trs%.trs}.log" 2>/dev/null)
    echo "skipped in the root: ${t%.trs}: ${why:-no reason given}"
done

echo "== fresh root summary ($(($(date +%s) - started)) s in all):"
printf '%s' "$summary" | sed 's/^/   /'
if [ "$failed" -ne 0 ]; then
    echo "FAIL: $failed command(s) failed on a fresh Debian 12 root"
    [ "${FRESH_ROOT_KEEP:-}" = 1 ] || echo "(FRESH_ROOT_KEEP=1 keeps the root and the logs)"
    exit 1
fi
echo "PASS"
