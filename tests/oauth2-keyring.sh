#!/bin/sh
# oauth2-keyring.sh - the OAuth2 refresh token in the Secret Service
# keyring (libsecret), against a real gnome-keyring-daemon on a private
# D-Bus session bus, the fake authorization server
# (tests/oauth2-server.py) and the scripted SMTP server:
#  (a) a refresh token stored with secret-tool (host = the token endpoint's
#      host, service oauth2, user alice) serves a delivery with
#      oauth2_token_store keyring: one refresh with it, AUTH XOAUTH2 with
#      the token the provider issued, no token file written;
#  (b) --authorize with oauth2_token_store keyring stores the new refresh
#      token there (secret-tool lookup shows it, with smtpfwd's label) and
#      writes no file; with oauth2_token_store auto the same;
#  (c) rotation replaces the keyring's refresh token;
#  (d) a revoked refresh token from the keyring: 77 with the --authorize hint;
#  (e) auto without a reachable keyring (no session bus): --authorize
#      writes the 0600 file instead.
# Nothing outside a private HOME/XDG_*/XDG_RUNTIME_DIR is touched. TAP
# (tests/lib.sh); skipped when dbus-run-session, gnome-keyring-daemon,
# secret-tool, python3, curl, keyring or OAuth2 support in smtpfwd is
# missing.
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"
. "$here/oauth2-lib.sh"

need_program dbus-run-session
need_program gnome-keyring-daemon
need_program secret-tool
need_program base64
need_built "$SMTPD"
"$SMTPFWD" --version 2>/dev/null | grep -q keyring || skip "smtpfwd built without keyring support"
oauth2_need_builtin

if [ "${OAUTH2_KEYRING_INNER:-}" = 1 ]; then
    trap 'smtpd_stop; oauth2_server_stop' EXIT
    eval "$(printf %s keyring-test-pw | gnome-keyring-daemon --unlock --components=secrets)" ||
        skip "gnome-keyring-daemon did not start"
    export GNOME_KEYRING_CONTROL 2>/dev/null
    n=0
    until printf %s probe | secret-tool store --label=probe service probe 2>"$TESTDIR/st.err"; do
        n=$((n + 1))
        [ "$n" -lt 50 ] || skip "no Secret Service on the private bus: $(cat "$TESTDIR/st.err")"
        sleep 0.1
    done
    secret-tool clear service probe
    certs_make
    P=o2k$$
    oauth2_server_start --prefix "$P"
    KEY=$(oauth2_key)
    RT_FILE=$XDG_DATA_HOME/smtpfwd/oauth2/$KEY
    CACHE_FILE=$XDG_CACHE_HOME/smtpfwd/oauth2/$KEY

    # lookup: the refresh token the keyring holds for alice at the provider.
    lookup() {
        secret-tool lookup host 127.0.0.1 service oauth2 user alice 2>/dev/null
    }
    # next KIND: the next token of KIND the provider will issue.
    next() {
        n_n=$(oauth2_ctl state | oauth2_json "seq.$1")
        echo "$P-$1-$(( ${n_n:-0} + 1 ))"
    }
    # account STORE: the smtprc for the scripted server, XOAUTH2 with the
    # provider, oauth2_token_store STORE; its name in $RC.
    account() {
        RC=$TESTDIR/smtprc
        cat >"$RC" <<EOF
account default
host 127.0.0.1
port ${SMTPD_PORT:-9}
tls off
allow_plaintext_auth on
from me@x.test
auth xoauth2
queue off
queue_dir $TESTDIR/spool
$(oauth2_account "oauth2_token_store $1")
EOF
        chmod 600 "$RC"
    }
    # deliver NAME STORE TOKEN: a delivery to a server that takes TOKEN;
    # status in $st, stderr in $TESTDIR/NAME.err, the server's files
    # $TESTDIR/NAME.*.
    deliver() {
        SMTPD_NAME=$1
        smtpd_start "auth XOAUTH2
require-auth
user alice $3"
        account "$2"
        printf 'Subject: %s\n\nbody\n' "$1" |
            "$SMTPFWD" -C "$RC" -v rcpt@x.test >"$TESTDIR/$1.out" 2>"$TESTDIR/$1.err"
        st=$?
        smtpd_stop
        ERR=$TESTDIR/$1.err
    }
    show() {
        [ -f "$1" ] && head -30 "$1" | sed 's/^/#   /'
    }
    # authorize NAME STORE [ENV-ARGS]: --authorize through the scripted
    # browser; status in $st.
    authorize() {
        account "$2"
        a_name=$1
        shift 2
        env "$@" "$SMTPFWD" -C "$RC" --authorize default </dev/null \
            >"$TESTDIR/$a_name.out" 2>"$TESTDIR/$a_name.err" &
        a_pid=$!
        a_url=$(oauth2_wait_output "$TESTDIR/$a_name.out" "$OAUTH2_URL/authorize\\?" 20 |
            grep -o 'https://[^ ]*')
        [ -n "$a_url" ] && oauth2_browser "$a_url"
        a_t=300
        while kill -0 "$a_pid" 2>/dev/null && [ "$a_t" -gt 0 ]; do sleep 0.1; a_t=$((a_t - 1)); done
        kill "$a_pid" 2>/dev/null
        wait "$a_pid"
        st=$?
        ERR=$TESTDIR/$a_name.err
    }

    # (a) stored by secret-tool, used by a delivery.
    rt=$(oauth2_ctl issue | oauth2_json refresh_token)
    printf %s "$rt" | secret-tool store --label='test refresh token' host 127.0.0.1 service oauth2 user alice
    check "(a) secret-tool stores the refresh token $rt" [ "$(lookup)" = "$rt" ]
    oauth2_ctl reset-counts >/dev/null
    at=$(next access)
    deliver a-keyring keyring "$at"
    check "(a) a delivery with oauth2_token_store keyring exits 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
    auth=$(tr -d '\r' <"$TESTDIR/a-keyring.log" | sed -n 's/^AUTH XOAUTH2 //p' | base64 -d | tr '\001' '|')
    check "(a) ... AUTH XOAUTH2 carries the token refreshed with the keyring's ($auth)" \
        [ "$auth" = "user=alice|auth=Bearer $at||" ]
    n=$(oauth2_count token:refresh_token)
    check "(a) ... one refresh ($n)" [ "$n" = 1 ]
    check "(a) ... no refresh token file" [ ! -e "$RT_FILE" ]
    check "(a) ... the access token cached in the 0600 file" \
        [ "$(stat -c %a "$CACHE_FILE" 2>/dev/null)" = 600 -a "$(oauth2_json access_token <"$CACHE_FILE")" = "$at" ]

    # (b) --authorize into the keyring, explicitly and by auto.
    for store in keyring auto; do
        rm -f "$CACHE_FILE"
        rt=$(next refresh)
        authorize "b-$store" "$store"
        check "(b) --authorize with oauth2_token_store $store exits 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
        check "(b) ... the keyring holds the new refresh token $rt (it holds '$(lookup)')" [ "$(lookup)" = "$rt" ]
        check "(b) ... no refresh token file" [ ! -e "$RT_FILE" ]
        secret-tool search --all host 127.0.0.1 service oauth2 user alice >"$TESTDIR/search" 2>&1
        check "(b) ... under smtpfwd's label" \
            grep -q 'label = smtpfwd OAuth2 refresh token for alice at 127.0.0.1' "$TESTDIR/search" ||
            show "$TESTDIR/search"
        # The item secret-tool stored in (a) is replaced, not kept beside
        # it (a lookup matches both and may return either).
        n=$(grep -c '^label = ' "$TESTDIR/search")
        check "(b) ... the only keyring item for alice at 127.0.0.1 ($n)" [ "$n" = 1 ] ||
            show "$TESTDIR/search"
        check "(b) ... the token is not in the output" not grep -q -F "$rt" "$TESTDIR/b-$store.out" "$ERR"
    done

    # (c) rotation replaces it.
    oauth2_ctl set rotate=1 >/dev/null
    oauth2_store_cache "$P-none" $(( $(date +%s) - 10 ))
    rt=$(next refresh)
    deliver c-rotate keyring "$(next access)"
    oauth2_ctl set rotate=0 >/dev/null
    check "(c) a delivery with rotation exits 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
    check "(c) ... the keyring holds the rotated refresh token $rt (it holds '$(lookup)')" [ "$(lookup)" = "$rt" ]

    # (d) revoked.
    oauth2_ctl revoke-refresh >/dev/null
    oauth2_store_cache "$P-none" $(( $(date +%s) - 10 ))
    deliver d-revoked keyring "$P-none"
    check "(d) a revoked refresh token from the keyring: exit 77 (exit $st)" [ "$st" -eq 77 ] || show "$ERR"
    check "(d) ... the message says to run smtpfwd --authorize default" \
        grep -q '^smtpfwd: .*smtpfwd --authorize default' "$ERR" || show "$ERR"

    # (e) auto without a session bus: the file.
    secret-tool clear host 127.0.0.1 service oauth2 user alice
    rt=$(next refresh)
    authorize e-auto-nobus auto -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR=$TESTDIR/nobus
    check "(e) --authorize, auto, no session bus: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
    check "(e) ... the refresh token $rt in the 0600 file" \
        [ "$(oauth2_json refresh_token <"$RT_FILE" 2>/dev/null)" = "$rt" -a "$(stat -c %a "$RT_FILE" 2>/dev/null)" = 600 ]
    check "(e) ... not in the keyring" [ -z "$(lookup)" ]

    done_testing
fi

lib_tmpdir
mkdir -p "$TESTDIR/home" "$TESTDIR/data" "$TESTDIR/run" "$TESTDIR/config" "$TESTDIR/cache" \
    "$TESTDIR/nobus"
chmod 700 "$TESTDIR/run" "$TESTDIR/nobus"
HOME=$TESTDIR/home XDG_DATA_HOME=$TESTDIR/data XDG_RUNTIME_DIR=$TESTDIR/run \
XDG_CONFIG_HOME=$TESTDIR/config XDG_CACHE_HOME=$TESTDIR/cache XDG_STATE_HOME=$TESTDIR/state \
SMTPFWD_SYSCONF= LC_ALL=C OAUTH2_KEYRING_INNER=1 TESTDIR=$TESTDIR \
SMTPFWD=$SMTPFWD SMTPD=$SMTPD \
    dbus-run-session -- sh "$here/oauth2-keyring.sh"
exit $?
