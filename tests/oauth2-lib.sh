# tests/oauth2-lib.sh - shell helpers for the OAuth2 tests (tests/oauth2*.sh,
# tests/interop/dovecot-oauth2.sh): the fake authorization server
# (tests/oauth2-server.py) started, stopped, started again on its port and
# steered through its control interface, and a scripted browser.
#
# Source it after tests/lib.sh, once $TESTDIR exists and certs_make has
# set $CERTS (the server's certificate is $CERTS/server.pem, valid for
# 127.0.0.1; smtpfwd trusts it with oauth2_tls_trust_file $CERTS/ca.pem).
# Needs python3 and curl (oauth2_need skips without them). POSIX sh.
#
#   oauth2_need              skip (77) unless python3 and curl are there
#   oauth2_need_builtin      oauth2_need, and skip (77) unless $SMTPFWD has
#                            OAuth2 built in (its --version says so)
#   oauth2_server_start [ARG..]
#                            start the server (ARGs: tests/oauth2-server.py's
#                            options, e.g. --rotate --lifetime 600) with its
#                            state in $OAUTH2_STATE (default $TESTDIR/oauth2);
#                            sets OAUTH2_PORT, OAUTH2_PID, OAUTH2_URL
#                            (https://127.0.0.1:PORT). Waits for its port
#                            file (bounded), exit 99 if it does not start.
#                            Started again after oauth2_server_stop it keeps
#                            its port, arguments and state.
#   oauth2_server_stop       SIGTERM it and wait ("the endpoint is down")
#   oauth2_ctl ACTION [NAME=VALUE..]
#                            a control request (/control/ACTION, the values
#                            form-encoded); prints the answer; 1 when the
#                            server answers an error or cannot be reached
#   oauth2_count KEY         the server's count KEY (0 when it never saw one)
#   oauth2_json FIELD        FIELD of the JSON object on standard input
#                            (nothing when absent; FIELD a.b for nesting)
#   oauth2_browser URL       the scripted browser: GET URL (the authorization
#                            URL smtpfwd printed) at the fake server, which
#                            must answer with a redirect; then GET the
#                            redirect's Location (smtpfwd's loopback
#                            listener). Sets BROWSER_AUTH_STATUS (the
#                            server's HTTP status), BROWSER_REDIRECT (the
#                            Location), BROWSER_STATUS (the listener's
#                            status, 000 when none answered); the page in
#                            $TESTDIR/browser.page. Returns 0 when both
#                            answered (302, then 200).
#   oauth2_get URL           one plain GET (no redirects followed): sets
#                            BROWSER_STATUS, the page in $TESTDIR/browser.page
#   oauth2_wait_output FILE REGEX [SECONDS]
#                            wait (at most SECONDS, default 20) until a line
#                            of FILE matches the extended REGEX; prints the
#                            first such line; 1 on timeout
#   oauth2_curl_tokens [REDIRECT_URI]
#                            the whole authorization-code flow with PKCE,
#                            done by curl (no smtpfwd involved): prints the
#                            token endpoint's JSON answer (access_token,
#                            refresh_token, expires_in)
#   oauth2_account [EXTRA-LINES]
#                            smtprc lines of an account with
#                            oauth2_provider generic for the fake server
#                            (client smtpfwd-test, user alice, the test CA,
#                            oauth2_token_store file unless EXTRA says
#                            otherwise); printed, for write_config
#   oauth2_key [USER]        the file name KEY of USER (default alice) at
#                            the fake server: USER@127.0.0.1
#   oauth2_store_refresh TOKEN [USER]
#                            write the refresh token file by hand
#                            ($XDG_DATA_HOME/smtpfwd/oauth2/KEY, 0600, dirs
#                            0700) in the format smtpfwd reads
#   oauth2_store_cache TOKEN EXPIRES_AT [USER]
#                            write the access token cache by hand
#                            ($XDG_CACHE_HOME/smtpfwd/oauth2/KEY, 0600)

: "${PYTHON:=python3}"
oauth2_here=${top_srcdir:+$top_srcdir/tests}
oauth2_here=${oauth2_here:-$(cd "$(dirname "$0")" && pwd)}
case $oauth2_here in
*/interop) oauth2_here=${oauth2_here%/interop} ;;
esac
OAUTH2_SERVER=$oauth2_here/oauth2-server.py
OAUTH2_CLIENT_ID=smtpfwd-test
OAUTH2_USER=alice
OAUTH2_PID=
OAUTH2_PORT=
OAUTH2_ARGS=

oauth2_need() {
    command -v "$PYTHON" >/dev/null 2>&1 || skip_all "python3 is not installed (the fake OAuth2 server)"
    command -v curl >/dev/null 2>&1 || skip_all "curl is not installed (the scripted browser)"
}

oauth2_need_builtin() {
    "$SMTPFWD" --version 2>/dev/null | grep -q 'OAuth2 (' ||
        skip_all "smtpfwd is built without OAuth2"
    oauth2_need
}

oauth2_server_start() {
    : "${OAUTH2_STATE:=$TESTDIR/oauth2}"
    [ $# -gt 0 ] && OAUTH2_ARGS="$*"
    mkdir -p "$OAUTH2_STATE" || exit 99
    rm -f "$OAUTH2_STATE/port"
    # shellcheck disable=SC2086
    "$PYTHON" "$OAUTH2_SERVER" --state "$OAUTH2_STATE" --cert "$CERTS/server.pem" \
        --key "$CERTS/server-key.pem" --port "${OAUTH2_PORT:-0}" $OAUTH2_ARGS \
        2>>"$OAUTH2_STATE/stderr" &
    OAUTH2_PID=$!
    o_n=0
    while [ ! -s "$OAUTH2_STATE/port" ]; do
        if ! kill -0 "$OAUTH2_PID" 2>/dev/null; then
            cat "$OAUTH2_STATE/stderr" >&2
            echo "tests/oauth2-server.py failed to start" >&2
            exit 99
        fi
        o_n=$((o_n + 1))
        [ "$o_n" -lt 1000 ] || { echo "tests/oauth2-server.py not ready" >&2; exit 99; }
        sleep 0.02 2>/dev/null || sleep 1
    done
    OAUTH2_PORT=$(cat "$OAUTH2_STATE/port")
    OAUTH2_URL=https://127.0.0.1:$OAUTH2_PORT
}

oauth2_server_stop() {
    if [ -n "${OAUTH2_PID:-}" ]; then
        kill -TERM "$OAUTH2_PID" 2>/dev/null
        wait "$OAUTH2_PID" 2>/dev/null
        OAUTH2_PID=
    fi
}

oauth2_ctl() {
    o_action=$1
    shift
    # Each NAME=VALUE becomes "--data-urlencode NAME=VALUE" (values may
    # hold spaces); without any, an empty body.
    o_n=$#
    for o_kv in "$@"; do
        set -- "$@" --data-urlencode "$o_kv"
    done
    shift "$o_n"
    [ $# -gt 0 ] || set -- --data ''
    curl -sS --fail-with-body --max-time 20 --cacert "$CERTS/ca.pem" \
        -X POST "$@" "$OAUTH2_URL/control/$o_action"
}

oauth2_count() {
    oauth2_ctl count "key=$1" || echo "?"
}

oauth2_json() {
    "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
if v is not None:
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)' "$1"
}

oauth2_browser() {
    BROWSER_REDIRECT=
    BROWSER_STATUS=000
    o_out=$(curl -sS --max-time 20 --cacert "$CERTS/ca.pem" -o "$TESTDIR/browser.auth" \
        -w '%{http_code} %{redirect_url}' "$1" 2>"$TESTDIR/browser.err")
    BROWSER_AUTH_STATUS=${o_out%% *}
    BROWSER_REDIRECT=${o_out#* }
    [ "$BROWSER_AUTH_STATUS" = 302 ] && [ -n "$BROWSER_REDIRECT" ] || return 1
    oauth2_get "$BROWSER_REDIRECT"
    [ "$BROWSER_STATUS" = 200 ]
}

oauth2_get() {
    BROWSER_STATUS=$(curl -s --max-time 20 --cacert "$CERTS/ca.pem" -o "$TESTDIR/browser.page" -w '%{http_code}' "$1" \
        2>>"$TESTDIR/browser.err")
    [ -n "$BROWSER_STATUS" ] || BROWSER_STATUS=000
}

oauth2_wait_output() {
    o_t=$(( ${3:-20} * 10 ))
    while :; do
        if [ -f "$1" ] && grep -E -m1 -e "$2" "$1"; then
            return 0
        fi
        [ "$o_t" -gt 0 ] || return 1
        o_t=$((o_t - 1))
        sleep 0.1
    done
}

oauth2_curl_tokens() {
    o_redirect=${1:-http://127.0.0.1:9/callback}
    o_verifier=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')
    o_challenge=$(printf %s "$o_verifier" | "$PYTHON" -c '
import base64, hashlib, sys
print(base64.urlsafe_b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode().rstrip("="))')
    o_loc=$(curl -sS --max-time 20 --cacert "$CERTS/ca.pem" -o /dev/null -w '%{redirect_url}' -G \
        --data-urlencode response_type=code --data-urlencode "client_id=$OAUTH2_CLIENT_ID" \
        --data-urlencode "redirect_uri=$o_redirect" --data-urlencode state=curl-state \
        --data-urlencode "code_challenge=$o_challenge" --data-urlencode code_challenge_method=S256 \
        --data-urlencode scope=mail "$OAUTH2_URL/authorize") || return 1
    o_code=$(printf %s "$o_loc" | sed -n 's/^.*[?&]code=\([^&]*\).*$/\1/p')
    [ -n "$o_code" ] || { echo "no code in the redirect: $o_loc" >&2; return 1; }
    curl -sS --fail-with-body --max-time 20 --cacert "$CERTS/ca.pem" \
        --data-urlencode grant_type=authorization_code --data-urlencode "code=$o_code" \
        --data-urlencode "redirect_uri=$o_redirect" --data-urlencode "client_id=$OAUTH2_CLIENT_ID" \
        --data-urlencode "code_verifier=$o_verifier" "$OAUTH2_URL/token"
}

oauth2_account() {
    cat <<EOF
user $OAUTH2_USER
oauth2_provider generic
oauth2_client_id $OAUTH2_CLIENT_ID
oauth2_scope mail
oauth2_auth_endpoint $OAUTH2_URL/authorize
oauth2_token_endpoint $OAUTH2_URL/token
oauth2_device_endpoint $OAUTH2_URL/device
oauth2_tls_trust_file $CERTS/ca.pem
EOF
    case ${1:-} in
    *oauth2_token_store*) ;;
    *) echo "oauth2_token_store file" ;;
    esac
    [ -z "${1:-}" ] || printf '%s\n' "$1"
}

oauth2_key() {
    echo "${1:-$OAUTH2_USER}@127.0.0.1"
}

# o_write_private FILE TEXT: FILE (0600, dirs 0700) written through a
# temporary name and a rename.
o_write_private() {
    o_dir=$(dirname "$1")
    mkdir -p "$o_dir" && chmod 700 "$o_dir" "$(dirname "$o_dir")" || exit 99
    (umask 077 && printf '%s\n' "$2" >"$1.tmp") && mv "$1.tmp" "$1" || exit 99
}

oauth2_store_refresh() {
    o_write_private "${XDG_DATA_HOME:-$HOME/.local/share}/smtpfwd/oauth2/$(oauth2_key "${2:-}")" \
        "{\"refresh_token\": \"$1\", \"token_endpoint\": \"$OAUTH2_URL/token\", \"client_id\": \"$OAUTH2_CLIENT_ID\", \"stored\": $(date +%s)}"
}

oauth2_store_cache() {
    o_write_private "${XDG_CACHE_HOME:-$HOME/.cache}/smtpfwd/oauth2/$(oauth2_key "${3:-}")" \
        "{\"access_token\": \"$1\", \"expires_at\": $2}"
}
