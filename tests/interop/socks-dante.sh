#!/bin/sh
# tests/interop/socks-dante.sh - smtpfwd through a real SOCKS5 proxy: Dante
# (Debian's dante-server, binary danted) on a random loopback port, with
# its configuration, log and pid file in the temporary directory, in front
# of the scripted test server (tests/smtpd-script).
#
# Owns: the checks of smtpfwd against Dante. Without authentication
# (socksmethod none): a delivery with the exact bytes received, the
# smarthost asked for by name (Dante's log names the target it connected
# to), STARTTLS and implicit TLS verified against the smarthost's name,
# --serverinfo naming the proxy. With username/password (socksmethod
# username: Dante checks the system's user database) Dante runs in a
# private mount namespace whose /etc/passwd and /etc/shadow are copies
# with one test user added, so no system user is ever created: a delivery
# with the right password (and none of it in the -v transcript), 77 for a
# wrong password and for no proxy_user at all.
#
# Dante is the installed danted, else the one in the cached dante-server
# .deb (scripts/install-deps downloads it; installing the package would
# start a system service), unpacked here. Exit 77 (skipped) when not root
# (the private namespace and Dante's privileged user), when neither is
# there and it cannot be downloaded, or without certtool. The part with
# authentication is skipped alone when private mount namespaces are not
# allowed.
set -u
here=${top_srcdir:+$top_srcdir/tests/interop}
here=${here:-$(cd "$(dirname "$0")" && pwd)}
. "$here/lib.sh"
: "${SMTPD:=${top_builddir:-.}/tests/smtpd-script}"

IOP_NAME=socks-dante
iop_need_root
iop_need_program certtool openssl
need_built "$SMTPD"
iop_tmpdir
if ! iop_dante_find; then
    iop_debs_get dante-server
    iop_dante_find || skip "danted cannot be unpacked from $(iop_deb dante-server)"
fi
iop_certs

D=$IOP_DIR

# srv NAME SCRIPT-LINES [TLS]: start smtpd-script for one check; $srv_port.
srv() {
    srv_dir=$D/$1
    mkdir -p "$srv_dir"
    printf '%s\n' "$2" >"$srv_dir/server.script"
    srv_tls=
    [ -n "${3:-}" ] && srv_tls="--tls-cert $IOP_CERTS/server.pem --tls-key $IOP_CERTS/server-key.pem"
    # shellcheck disable=SC2086
    "$SMTPD" --script "$srv_dir/server.script" --log "$srv_dir/server.log" \
        --events "$srv_dir/server.events" --port-file "$srv_dir/port" $srv_tls \
        2>"$srv_dir/server.stderr" &
    srv_pid=$!
    iop_on_exit "kill $srv_pid"
    i=0
    while [ ! -s "$srv_dir/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    srv_port=$(cat "$srv_dir/port" 2>/dev/null) || { echo "Bail out! smtpd-script did not start"; exit 99; }
}

# run NAME LINES...: smtpfwd -v through the proxy on port $proxy_port to
# localhost:$srv_port, the account's extra lines last; $rs, $err, $out.
run() {
    run_dir=$D/$1
    shift
    iop_client_env "$run_dir/client"
    {
        echo "account default"
        echo "host localhost"
        echo "port $srv_port"
        echo "from me@x.test"
        echo "set_date_header off"
        echo "set_msgid_header off"
        echo "timeout 20"
        echo "queue off"
        echo "tls_trust_file $IOP_CERTS/ca.pem"
        echo "proxy_host 127.0.0.1"
        echo "proxy_port $proxy_port"
        for l in "$@"; do echo "$l"; done
    } >"$run_dir/smtprc"
    chmod 600 "$run_dir/smtprc"
    printf 'From: me@x.test\nTo: a@x.test\nSubject: through dante\n\nbody\n' >"$run_dir/in"
    # shellcheck disable=SC2086
    env $IOP_CLIENT_ENV timeout 60 "$SMTPFWD" -C "$run_dir/smtprc" $RUN_ARGS \
        <"$run_dir/in" >"$run_dir/out" 2>"$run_dir/err"
    rs=$?
    err=$run_dir/err
    out=$run_dir/out
}
RUN_ARGS="-v -i a@x.test"

status() {
    if [ "$rs" -eq "$1" ]; then tap_ok "$2: exit status $1"; else
        tap_not_ok "$2: exit status $rs, expected $1"
        tap_file "$err"
    fi
}

# has FILE TEXT DESCRIPTION: FILE has the fixed string TEXT.
has() {
    if grep -q -F -e "$2" "$1" 2>/dev/null; then tap_ok "$3"; else
        tap_not_ok "$3"
        tap_diag "no \"$2\" in $1:"
        tap_file "$1"
    fi
}

# ---- without authentication ----
iop_dante_start "$D/dante" none || { tap_file "$D/dante/danted.log"; echo "Bail out! danted does not listen"; exit 99; }
proxy_port=$IOP_DANTE_PORT

srv plain ''
run plain "tls off"
status 0 "plain delivery through Dante"
has "$srv_dir/server.log" "MAIL FROM:<me@x.test>" "plain: the server received the envelope"
has "$srv_dir/server.log" "Subject: through dante" "plain: the server received the message"
has "$err" "SOCKS5: CONNECT localhost port $srv_port (the proxy resolves the name)" \
    "plain: the name is sent to the proxy"
has "$D/dante/danted.log" "127.0.0.1.$srv_port" "plain: Dante connected to the server's port"

srv starttls starttls tls
run starttls "tls on"
status 0 "STARTTLS through Dante"
has "$err" "--> STARTTLS" "STARTTLS: used"
has "$srv_dir/server.events" "TLS established" "STARTTLS: the certificate for localhost verified"

srv implicit implicit-tls tls
run implicit "tls on" "tls_starttls off"
status 0 "implicit TLS through Dante"
has "$srv_dir/server.events" "TLS established" "implicit TLS: the certificate for localhost verified"

srv serverinfo starttls tls
RUN_ARGS=--serverinfo
run serverinfo "tls on"
RUN_ARGS="-v -i a@x.test"
status 0 "--serverinfo through Dante"
has "$out" "via SOCKS5 proxy 127.0.0.1 port $proxy_port" "--serverinfo names the proxy"

# ---- with username/password ----
if ! unshare -m --propagation private true 2>/dev/null; then
    tap_skip "private mount namespaces are not available (unshare -m)" "Dante with username authentication"
    tap_done
    exit $?
fi
mkdir -p "$D/dante-auth"
cp /etc/passwd "$D/dante-auth/passwd"
cp /etc/shadow "$D/dante-auth/shadow" 2>/dev/null || : >"$D/dante-auth/shadow"
PROXY_PASS='pr0xy pass#1'
echo "smtpfwdproxy:x:64123:64123:smtpfwd test:/nonexistent:/usr/sbin/nologin" >>"$D/dante-auth/passwd"
echo "smtpfwdproxy:$(openssl passwd -6 "$PROXY_PASS"):20000:0:99999:7:::" >>"$D/dante-auth/shadow"
chmod 640 "$D/dante-auth/shadow"
iop_dante_start "$D/dante-auth" username || { tap_file "$D/dante-auth/danted.log"; echo "Bail out! danted does not listen"; exit 99; }
proxy_port=$IOP_DANTE_PORT

srv auth ''
run auth "tls off" "proxy_user smtpfwdproxy" "proxy_password \"$PROXY_PASS\""
status 0 "username authentication with Dante"
has "$err" "SOCKS5: authenticating as smtpfwdproxy" "auth: -v names the user"
if grep -q -F -e "$PROXY_PASS" "$err" "$out"; then
    tap_not_ok "auth: the password is not shown"
else tap_ok "auth: the password is not shown"; fi
has "$srv_dir/server.log" "Subject: through dante" "auth: the server received the message"
has "$D/dante-auth/danted.log" "username%smtpfwdproxy@" "auth: Dante logged the user"

srv badpass ''
run badpass "tls off" "proxy_user smtpfwdproxy" "proxy_password wrong"
status 77 "a wrong proxy password"
has "$err" "refused user smtpfwdproxy" "wrong password: the message names the user"

srv nouser ''
run nouser "tls off"
status 77 "no proxy_user for a Dante that wants one"
has "$err" "set proxy_user" "no proxy_user: the hint"

tap_done
