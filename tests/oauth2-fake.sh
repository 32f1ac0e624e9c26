#!/bin/sh
# oauth2-fake.sh - the fake OAuth2 authorization server (tests/oauth2-server.py)
# does what the OAuth2 tests rely on, checked with curl alone (no smtpfwd):
# the authorization-code grant with PKCE S256 refuses a wrong verifier, a
# wrong redirect_uri, a wrong client and a used code; /authorize refuses
# unknown clients and non-loopback redirects without redirecting; refresh,
# rotation, revocation, expiry (seen by introspection), the failure modes
# of /token (500 a given number of times, hanging until released), the
# device grant (pending, slow_down, approval, denial, expiry), the
# authorize modes (deny, wrong_state, no_state), the counters, and that a
# server started again on its state keeps its port and tokens.
# TAP (tests/lib.sh); skipped without python3, curl or certtool.
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"
. "$here/oauth2-lib.sh"

oauth2_need
lib_tmpdir
trap 'oauth2_server_stop; rm -rf "$TESTDIR"' EXIT
certs_make
oauth2_server_start --prefix T
CA=$CERTS/ca.pem
TOK=$OAUTH2_URL/token
DEV=urn:ietf:params:oauth:grant-type:device_code
ok "the server listens on 127.0.0.1:$OAUTH2_PORT"

# post URL ARGS...: POST, the answer in $TESTDIR/ans, prints the status.
post() {
    p_url=$1
    shift
    p_args=
    for p_kv in "$@"; do p_args="$p_args --data-urlencode $p_kv"; done
    # shellcheck disable=SC2086
    curl -sS --max-time 20 --cacert "$CA" -o "$TESTDIR/ans" -w '%{http_code}' $p_args "$p_url"
}
# field NAME: NAME of the last answer.
field() {
    oauth2_json "$1" <"$TESTDIR/ans"
}
# authz [client_id=C] [redirect_uri=R] [code_challenge_method=M]: GET
# /authorize with the usual parameters, those given changed; sets
# A_STATUS and A_LOC.
VERIFIER=abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDEFG
CHALLENGE=$(printf %s "$VERIFIER" | "$PYTHON" -c '
import base64, hashlib, sys
print(base64.urlsafe_b64encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode().rstrip("="))')
RU=http://127.0.0.1:9/cb
authz() {
    a_client=$OAUTH2_CLIENT_ID a_ru=$RU a_method=S256
    for a_kv in "$@"; do
        case $a_kv in
        client_id=*) a_client=${a_kv#*=} ;;
        redirect_uri=*) a_ru=${a_kv#*=} ;;
        code_challenge_method=*) a_method=${a_kv#*=} ;;
        esac
    done
    a_out=$(curl -sS --max-time 20 --cacert "$CA" -o "$TESTDIR/page" -G -w '%{http_code} %{redirect_url}' \
        --data-urlencode response_type=code --data-urlencode "client_id=$a_client" \
        --data-urlencode "redirect_uri=$a_ru" --data-urlencode state=st1 \
        --data-urlencode "code_challenge=$CHALLENGE" --data-urlencode "code_challenge_method=$a_method" \
        --data-urlencode scope=mail "$OAUTH2_URL/authorize")
    A_STATUS=${a_out%% *}
    A_LOC=${a_out#* }
}

# /authorize refusals without a redirect.
authz client_id=nobody
check "an unknown client gets 400 and no redirect (got $A_STATUS '$A_LOC')" \
    [ "$A_STATUS" = 400 -a -z "$A_LOC" ]
authz redirect_uri=https://evil.example/cb
check "a redirect_uri that is not loopback http gets 400 and no redirect (got $A_STATUS)" \
    [ "$A_STATUS" = 400 -a -z "$A_LOC" ]
authz code_challenge_method=plain
check "a plain PKCE challenge: redirect with error=invalid_request and the state (got $A_LOC)" \
    [ "$A_STATUS" = 302 -a "$A_LOC" = "$RU?error=invalid_request&error_description=PKCE+S256+code_challenge+required&state=st1" ]

# The code grant.
authz
check "approval: 302 to the redirect_uri with the first code and the state ($A_LOC)" \
    [ "$A_STATUS" = 302 -a "$A_LOC" = "$RU?code=T-code-1&state=st1" ]
st=$(post "$TOK" grant_type=authorization_code code=T-code-1 redirect_uri=$RU client_id=$OAUTH2_CLIENT_ID \
    code_verifier=${VERIFIER}x)
check "a wrong code_verifier: 400 invalid_grant (got $st $(field error))" \
    [ "$st" = 400 -a "$(field error)" = invalid_grant ]
st=$(post "$TOK" grant_type=authorization_code code=T-code-1 redirect_uri=http://127.0.0.1:10/cb \
    client_id=$OAUTH2_CLIENT_ID code_verifier=$VERIFIER)
check "another redirect_uri: 400 invalid_grant (got $st $(field error))" \
    [ "$st" = 400 -a "$(field error)" = invalid_grant ]
st=$(post "$TOK" grant_type=authorization_code code=T-code-1 redirect_uri=$RU client_id=other \
    code_verifier=$VERIFIER)
check "another client: 401 invalid_client (got $st $(field error))" \
    [ "$st" = 401 -a "$(field error)" = invalid_client ]
st=$(post "$TOK" grant_type=authorization_code code=T-code-1 redirect_uri=$RU client_id=$OAUTH2_CLIENT_ID \
    code_verifier=$VERIFIER)
check "the right verifier: 200 with T-access-1, T-refresh-1, expires_in 3600 (got $st)" \
    [ "$st" = 200 -a "$(field access_token)" = T-access-1 -a "$(field refresh_token)" = T-refresh-1 -a \
    "$(field expires_in)" = 3600 -a "$(field token_type)" = Bearer ]
st=$(post "$TOK" grant_type=authorization_code code=T-code-1 redirect_uri=$RU client_id=$OAUTH2_CLIENT_ID \
    code_verifier=$VERIFIER)
check "a code works once: 400 invalid_grant the second time (got $st)" [ "$st" = 400 ]
check "counted: 5 code grants, 4 errors" \
    [ "$(oauth2_count token:authorization_code)" = 5 -a "$(oauth2_count token:error)" = 4 ]

# Introspection, refresh, expiry, revocation, rotation.
post "$OAUTH2_URL/introspect" token=T-access-1 >/dev/null
check "introspection: T-access-1 is active for alice" \
    [ "$(field active)" = true -a "$(field username)" = alice ]
st=$(post "$TOK" grant_type=refresh_token refresh_token=T-refresh-1 client_id=$OAUTH2_CLIENT_ID)
check "a refresh grant gives T-access-2 and no new refresh token (got $st $(field access_token))" \
    [ "$st" = 200 -a "$(field access_token)" = T-access-2 -a -z "$(field refresh_token)" ]
oauth2_ctl expire-access >/dev/null
post "$OAUTH2_URL/introspect" token=T-access-2 >/dev/null
check "expire-access: introspection says inactive" [ "$(field active)" = false ]
post "$OAUTH2_URL/introspect" token=T-refresh-1 >/dev/null
check "a refresh token is no access token for introspection" [ "$(field active)" = false ]
oauth2_ctl set rotate=1 lifetime=0 >/dev/null
st=$(post "$TOK" grant_type=refresh_token refresh_token=T-refresh-1 client_id=$OAUTH2_CLIENT_ID)
check "rotation: T-access-3 with T-refresh-2, no expires_in (lifetime 0)" \
    [ "$st" = 200 -a "$(field access_token)" = T-access-3 -a "$(field refresh_token)" = T-refresh-2 -a \
    -z "$(field expires_in)" ]
st=$(post "$TOK" grant_type=refresh_token refresh_token=T-refresh-1 client_id=$OAUTH2_CLIENT_ID)
check "the rotated refresh token is invalid_grant (got $st $(field error))" \
    [ "$st" = 400 -a "$(field error)" = invalid_grant ]
oauth2_ctl revoke-refresh >/dev/null
st=$(post "$TOK" grant_type=refresh_token refresh_token=T-refresh-2 client_id=$OAUTH2_CLIENT_ID)
check "revoke-refresh: invalid_grant (got $st $(field error))" \
    [ "$st" = 400 -a "$(field error)" = invalid_grant ]
oauth2_ctl revoke-access >/dev/null
post "$OAUTH2_URL/introspect" token=T-access-3 >/dev/null
check "revoke-access: introspection says inactive" [ "$(field active)" = false ]

# Failure modes of /token.
oauth2_ctl set rotate=0 lifetime=3600 >/dev/null
pair=$(oauth2_ctl issue)
rt=$(printf %s "$pair" | oauth2_json refresh_token)
oauth2_ctl set token_fail=500 token_fail_count=1 >/dev/null
st1=$(post "$TOK" grant_type=refresh_token refresh_token=$rt client_id=$OAUTH2_CLIENT_ID)
st2=$(post "$TOK" grant_type=refresh_token refresh_token=$rt client_id=$OAUTH2_CLIENT_ID)
check "token_fail=500 once: 500, then 200 (got $st1 $st2)" [ "$st1" = 500 -a "$st2" = 200 ]
oauth2_ctl set token_hang=60 >/dev/null
post "$TOK" grant_type=refresh_token refresh_token=$rt client_id=$OAUTH2_CLIENT_ID >"$TESTDIR/hung" &
hung=$!
oauth2_wait_output "$OAUTH2_STATE/server.log" 'hanging for 60 s' >/dev/null
oauth2_ctl set token_hang=0 >/dev/null
wait "$hung"
check "token_hang: the request waits until released, then 503 (got $(cat "$TESTDIR/hung"))" \
    [ "$(cat "$TESTDIR/hung")" = 503 ]
check "token:failed counts both" [ "$(oauth2_count token:failed)" = 2 ]

# The device grant.
st=$(post "$OAUTH2_URL/device" client_id=$OAUTH2_CLIENT_ID scope=mail)
dc=$(field device_code)
uc=$(field user_code)
check "/device: a device code, a user code, interval 1 (got $st $dc $uc)" \
    [ "$st" = 200 -a "$dc" = T-device-1 -a -n "$uc" -a "$(field interval)" = 1 -a \
    "$(field verification_uri)" = "$OAUTH2_URL/device" ]
st=$(post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID)
check "pending: authorization_pending (got $(field error))" [ "$(field error)" = authorization_pending ]
oauth2_ctl set device_slow_down=1 >/dev/null
sleep 1
st=$(post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID)
check "device_slow_down=1: slow_down (got $(field error))" [ "$(field error)" = slow_down ]
st=$(post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID)
check "a poll sooner than interval+5 s: slow_down again, counted as too fast (got $(field error))" \
    [ "$(field error)" = slow_down -a "$(oauth2_count device:too_fast)" = 1 ]
oauth2_get "$OAUTH2_URL/device/approve?user_code=nope"
check "approving an unknown user code: 404 (got $BROWSER_STATUS)" [ "$BROWSER_STATUS" = 404 ]
curl -sS --max-time 20 --cacert "$CA" -o /dev/null -w '%{http_code}' \
    "$OAUTH2_URL/device/approve?user_code=$uc" >"$TESTDIR/appr"
check "approving the user code: 200" [ "$(cat "$TESTDIR/appr")" = 200 ]
# Approved: the next poll gets the tokens even though it is too soon.
st=$(post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID)
check "approved: tokens (got $st $(field access_token))" \
    [ "$st" = 200 -a -n "$(field access_token)" -a -n "$(field refresh_token)" ]
st=$(post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID)
check "a used device code: invalid_grant (got $(field error))" [ "$(field error)" = invalid_grant ]
post "$OAUTH2_URL/device" client_id=$OAUTH2_CLIENT_ID >/dev/null
dc=$(field device_code)
uc=$(field user_code)
curl -sS --max-time 20 --cacert "$CA" -o /dev/null "$OAUTH2_URL/device/approve?user_code=$uc&deny=1"
post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID >/dev/null
check "denied: access_denied (got $(field error))" [ "$(field error)" = access_denied ]
oauth2_ctl set device_expires_in=1 >/dev/null
post "$OAUTH2_URL/device" client_id=$OAUTH2_CLIENT_ID >/dev/null
dc=$(field device_code)
sleep 1.2
post "$TOK" grant_type=$DEV device_code=$dc client_id=$OAUTH2_CLIENT_ID >/dev/null
check "expired: expired_token (got $(field error))" [ "$(field error)" = expired_token ]

# Authorize modes.
for m in deny:"$RU?error=access_denied&error_description=the+user+said+no&state=st1" \
    wrong_state:"$RU?code=T-code-2&state=st1-tampered" no_state:"$RU?code=T-code-3"; do
    oauth2_ctl set authorize_mode="${m%%:*}" >/dev/null
    authz
    check "authorize_mode ${m%%:*}: $A_STATUS $A_LOC" [ "$A_STATUS" = 302 -a "$A_LOC" = "${m#*:}" ]
done
oauth2_ctl set authorize_mode=approve >/dev/null
ctl_fails() { ! oauth2_ctl "$@" >/dev/null 2>&1; }
check "a control request with an unknown setting fails" ctl_fails set nonsense=1

# Started again: same port, same tokens.
port=$OAUTH2_PORT
oauth2_server_stop
st=$(curl -s --max-time 5 --cacert "$CA" -o /dev/null -w '%{http_code}' "$OAUTH2_URL/device")
check "stopped: nothing answers (got '$st')" [ "$st" = 000 ]
oauth2_server_start
check "started again on the same port ($port, now $OAUTH2_PORT)" [ "$port" = "$OAUTH2_PORT" ]
st=$(post "$TOK" grant_type=refresh_token refresh_token=$rt client_id=$OAUTH2_CLIENT_ID)
check "the refresh token of before works (got $st)" [ "$st" = 200 ]
check "the server log has every request" grep -q 'POST /token' "$OAUTH2_STATE/server.log"
done_testing
