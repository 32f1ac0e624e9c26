#!/bin/sh
# oauth2.sh - smtpfwd's own OAuth2 end to end, against the fake
# authorization server (tests/oauth2-server.py) and, for deliveries, the
# scripted SMTP server (tests/smtpd-script), which takes XOAUTH2 and
# OAUTHBEARER for user alice with the tokens the test expects the
# provider to issue next (the provider's tokens are predictable:
# PREFIX-access-N, PREFIX-refresh-N).
#
#  (a) smtpfwd --authorize ACCOUNT: the URL on standard output is a PKCE
#      S256 authorization request with a loopback redirect; a request to
#      the listener with a wrong or missing state gets 400 and the flow
#      keeps waiting; the scripted browser (curl: the authorization URL,
#      then the 302 to the listener) completes it: exit 0, the refresh
#      token the provider issued in $XDG_DATA_HOME/smtpfwd/oauth2/KEY
#      (0600, directories 0700, the documented JSON); error=access_denied
#      in the redirect: 77, nothing stored; nobody answers:
#      --authorize-timeout ends it with 75 and the listener is closed.
#  (b) --device: the user code and verification URI on standard output;
#      the provider says slow_down once and authorization_pending until
#      the test approves: exit 0, the token stored, never polled sooner
#      than the interval (with the 5 s slow_down adds); a denial: 77; an
#      expired device code: 75.
#  (c) deliveries: the AUTH XOAUTH2 / OAUTHBEARER line decodes to the
#      token the provider issued; the first delivery refreshes once and
#      caches (0600, under $XDG_CACHE_HOME), the second asks the provider
#      nothing; a cached token that expires within a minute: exactly one
#      refresh; two deliveries at once with an expired cache: one refresh
#      (the lock); rotation: the new refresh token replaces the stored
#      one and is the one used next; a revoked refresh token: 77 with the
#      --authorize hint, no AUTH sent; the token endpoint down: queue off
#      75, queue on-failure 0 and one entry, which -q delivers once the
#      endpoint is back; the endpoint answering 500, or not at all: 75; a
#      cached token the server refuses: one refresh and AUTH again in the
#      session (75 when that refresh gets a 500).
#  (f) the failure classes: an answer that is not JSON 76, invalid_client
#      78, an untrusted certificate at the token endpoint 77, a missing
#      trust file 78; a token without expires_in cached for 600 s; -q with
#      two messages refreshes once; a 3000-character access token (a JWT)
#      goes whole, with an AUTH command line of at most 512 octets (RFC
#      4954 section 4), under umask 000 the files are still 0600/0700.
#  (d) token files that are group/other readable, symbolic links, not
#      regular files, or (as root) another user's are refused (78, the file named, the chmod to run)
#      and not used (no request with their token).
#  (h) the presets with their endpoints pointed at the fake provider:
#      microsoft asks for its scope with a http://localhost redirect, sends
#      the scope with a refresh, and its device flow's denial
#      (authorization_declined) is 77; gmail sends no scope with a refresh
#      and refuses --device at once; a device answer shaped as Google's
#      (verification_url) works.
#  (g) a confidential client (a provider that requires a client secret):
#      oauth2_client_secret and oauth2_client_secret_eval work, none or a
#      wrong one is invalid_client (78).
#  (e) no access token, refresh token, authorization code, device code or
#      client secret appears in smtpfwd's standard output, -v output or logfile
#      (nor the base64 XOAUTH2/OAUTHBEARER messages carrying one).
# The keyring as token store: tests/oauth2-keyring.sh.
# TAP (tests/lib.sh); skipped without python3, curl or certtool, or when
# smtpfwd is built without OAuth2.
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"
. "$here/oauth2-lib.sh"

need_built "$SMTPD"
oauth2_need_builtin
need_program base64
lib_tmpdir
BG_PIDS=
trap 'for p in $BG_PIDS; do kill "$p" 2>/dev/null; done; smtpd_stop; oauth2_server_stop; rm -rf "$TESTDIR"' EXIT
lib_private_env
unset DBUS_SESSION_BUS_ADDRESS
certs_make
P=o2t$$
oauth2_server_start --prefix "$P"
RUNS=$TESTDIR/runs
mkdir -p "$RUNS"
KEY=$(oauth2_key)

# use_env NAME: a fresh HOME and XDG directories for a part of the test
# (its own token files); sets RT_FILE and CACHE_FILE.
use_env() {
    HOME=$TESTDIR/env-$1
    XDG_DATA_HOME=$HOME/.local/share XDG_CACHE_HOME=$HOME/.cache
    XDG_STATE_HOME=$HOME/.local/state XDG_CONFIG_HOME=$HOME/.config
    export HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME XDG_CONFIG_HOME
    mkdir -p "$HOME" || exit 99
    RT_FILE=$XDG_DATA_HOME/smtpfwd/oauth2/$KEY
    CACHE_FILE=$XDG_CACHE_HOME/smtpfwd/oauth2/$KEY
    ENV_NAME=$1
}
# rc MECH [LINES]: the account in $HOME/smtprc, its name in $RC: the
# scripted server (port 9 when none runs), the provider, then LINES.
# smtpd_tokens writes it again for the new server's port.
rc() {
    RC_MECH=$1 RC_EXTRA=${2:-}
    RC=$HOME/smtprc
    rc_f=$RC
    cat >"$rc_f" <<EOF
account default
host 127.0.0.1
port ${SMTPD_PORT:-9}
tls off
allow_plaintext_auth on
from me@x.test
auth $1
set_date_header off
set_msgid_header off
queue off
queue_dir $HOME/spool
logfile $HOME/smtpfwd.log
$(oauth2_account)
${2:-}
EOF
    chmod 600 "$rc_f"
}
# smtpd_tokens NAME TOKEN...: the scripted server (files $TESTDIR/NAME.*)
# taking XOAUTH2 and OAUTHBEARER for alice with these tokens, and no mail
# before AUTH.
smtpd_tokens() {
    SMTPD_NAME=$1
    shift
    s_script='auth XOAUTH2 OAUTHBEARER
require-auth'
    for t in "$@"; do s_script="$s_script
user alice ${t:-$P-none}"; done
    smtpd_start "$s_script"
    SF=$TESTDIR/$SMTPD_NAME
    [ -z "${RC_MECH:-}" ] || rc "$RC_MECH" "$RC_EXTRA"
}
# run NAME ARGS...: smtpfwd -C $RC ARGS, a message on standard input;
# $RUNS/NAME.out/.err, the status in $st.
run() {
    r_name=$1
    shift
    printf 'Subject: oauth2 %s\n\nbody of %s\n' "$r_name" "$r_name" |
        "$SMTPFWD" -C "$RC" "$@" >"$RUNS/$r_name.out" 2>"$RUNS/$r_name.err"
    st=$?
    ERR=$RUNS/$r_name.err
}
# deliver NAME [ARGS...]: run NAME -v ARGS rcpt@x.test, then stop the
# scripted server (so that its log is complete).
deliver() {
    d_name=$1
    shift
    run "$d_name" -v "$@" rcpt@x.test
    smtpd_stop
}
# show FILE: FILE as TAP comments (at most 30 lines).
show() {
    [ -f "$1" ] && head -30 "$1" | sed 's/^/#   /'
}
# next KIND: the name of the next token of KIND (access, refresh) the
# provider will issue.
next() {
    if [ "$1" = access ]; then
        oauth2_ctl tokens | oauth2_json next_access
        return
    fi
    oauth2_ctl state >"$TESTDIR/state.now"
    n_n=$(oauth2_json "seq.$1" <"$TESTDIR/state.now")
    echo "$(oauth2_json prefix <"$TESTDIR/state.now")-$1-$(( ${n_n:-0} + 1 ))"
}
# auth_msgs MECH: each AUTH MECH's message (the initial response, else the
# next line) the scripted server received, decoded, ^A as '|'.
auth_msgs() {
    tr -d '\r' <"$SF.log" | awk -v m="AUTH $1" '
        want { print; want = 0; next }
        $0 == m { want = 1; next }
        index($0, m " ") == 1 { print substr($0, length(m) + 2) }' |
    while read -r a_b64; do
        printf '%s' "$a_b64" | base64 -d 2>/dev/null | tr '\001' '|'
        echo
    done
}
# auth_token MSG: the bearer token in a decoded XOAUTH2/OAUTHBEARER message.
auth_token() {
    printf '%s\n' "$1" | sed -n 's/^.*|auth=Bearer \([^|]*\)|.*$/\1/p'
}
# mode FILE: its permission bits (octal), or "missing".
mode() {
    stat -c %a "$1" 2>/dev/null || echo missing
}
# counted KEY WANT DESC: the provider counted WANT for KEY.
counted() {
    c_got=$(oauth2_count "$1")
    check "$3 (the provider counted $c_got $1, expected $2)" [ "$c_got" = "$2" ]
}
# set_cache TOKEN SECONDS-FROM-NOW
set_cache() {
    oauth2_store_cache "$1" $(( $(date +%s) + $2 ))
}
# bg_wait PID SECONDS: wait for a background smtpfwd, at most SECONDS
# (a safety net: then it is killed, status 124); status in $st.
bg_wait() {
    w_t=$(( $2 * 10 ))
    while kill -0 "$1" 2>/dev/null && [ "$w_t" -gt 0 ]; do
        sleep 0.1
        w_t=$((w_t - 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        st=124
    else
        wait "$1"
        st=$?
    fi
}
# url_param URL NAME: the decoded query parameter NAME of URL.
url_param() {
    "$PYTHON" -c '
import sys, urllib.parse
q = urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query)
print(q.get(sys.argv[2], [""])[0])' "$1" "$2"
}
# page_fails: the page the listener answered says it failed.
page_fails() {
    grep -q -i 'refused\|denied\|fail' "$TESTDIR/browser.page"
}
# closed URL: URL names a listener (not empty) and nothing answers there.
closed() {
    [ -n "$1" ] && ! curl -s --max-time 5 -o /dev/null "$1"
}
# authorize NAME ARGS...: smtpfwd -C $RC ARGS --authorize default in the
# background ($RUNS/NAME.out/.err, pid in $APID).
authorize() {
    a_name=$1
    shift
    "$SMTPFWD" -C "$RC" "$@" --authorize default </dev/null >"$RUNS/$a_name.out" 2>"$RUNS/$a_name.err" &
    APID=$!
    BG_PIDS="$BG_PIDS $APID"
    AOUT=$RUNS/$a_name.out
    ERR=$RUNS/$a_name.err
}

# ---------------------------------------------------------------- (a)
use_env authorize
rc xoauth2
oauth2_ctl reset-counts >/dev/null
authorize auth-code -v
url=$(oauth2_wait_output "$AOUT" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
if [ -z "$url" ]; then
    not_ok "(a) --authorize prints the authorization URL"
    show "$AOUT"; show "$ERR"
else
    ok "(a) --authorize prints the authorization URL"
    ru=$(url_param "$url" redirect_uri)
    state=$(url_param "$url" state)
    check "(a) the request: response_type code, our client, scope mail, S256 challenge, a state" \
        [ "$(url_param "$url" response_type)" = code -a "$(url_param "$url" client_id)" = "$OAUTH2_CLIENT_ID" \
          -a "$(url_param "$url" scope)" = mail -a "$(url_param "$url" code_challenge_method)" = S256 \
          -a "$(url_param "$url" code_challenge | wc -c)" -eq 44 -a -n "$state" ]
    case $ru in
    http://127.0.0.1:[0-9]*) ok "(a) the redirect_uri is loopback http on 127.0.0.1 ($ru)" ;;
    *) not_ok "(a) the redirect_uri is loopback http on 127.0.0.1 ($ru)" ;;
    esac
    sep='?'
    case $ru in *'?'*) sep='&' ;; esac
    oauth2_get "$ru${sep}code=stolen&state=not-$state"
    check "(a) a redirect with a wrong state gets 400 (got $BROWSER_STATUS)" [ "$BROWSER_STATUS" = 400 ]
    oauth2_get "$ru${sep}code=stolen"
    check "(a) a redirect without state gets 400 (got $BROWSER_STATUS)" [ "$BROWSER_STATUS" = 400 ]
    oauth2_get "$ru${sep}error=access_denied&state=not-$state"
    check "(a) an error redirect with a wrong state gets 400 too (got $BROWSER_STATUS)" [ "$BROWSER_STATUS" = 400 ]
    check "(a) smtpfwd keeps waiting after them" kill -0 "$APID"
    rt=$(next refresh)
    at=$(next access)
    oauth2_browser "$url"
    check "(a) the scripted browser: the provider redirects (302), the listener answers 200 (got $BROWSER_AUTH_STATUS, $BROWSER_STATUS)" \
        [ "$BROWSER_AUTH_STATUS" = 302 -a "$BROWSER_STATUS" = 200 ]
    bg_wait "$APID" 30
    check "(a) --authorize exits 0 (exit $st)" [ "$st" -eq 0 ] || { show "$AOUT"; show "$ERR"; }
    counted token:authorization_code 1 "(a) one code exchange, its PKCE verifier accepted"
    counted token:error 0 "(a) no error answer from the provider"
    check "(a) the refresh token file holds the issued refresh token $rt" \
        [ "$(oauth2_json refresh_token <"$RT_FILE" 2>/dev/null)" = "$rt" ]
    check "(a) ... with the token endpoint and the client id" \
        [ "$(oauth2_json token_endpoint <"$RT_FILE" 2>/dev/null)" = "$OAUTH2_URL/token" \
          -a "$(oauth2_json client_id <"$RT_FILE" 2>/dev/null)" = "$OAUTH2_CLIENT_ID" ]
    stored=$(oauth2_json stored <"$RT_FILE" 2>/dev/null)
    now=$(date +%s)
    recent() { [ -n "$1" ] && [ "$1" -le "$now" ] && [ "$1" -gt $((now - 600)) ]; }
    check "(a) ... and when it was stored ($stored)" recent "$stored"
    check "(a) the file is 0600 (it is $(mode "$RT_FILE")), its directories 0700" \
        [ "$(mode "$RT_FILE")" = 600 -a "$(mode "$(dirname "$RT_FILE")")" = 700 \
          -a "$(mode "$XDG_DATA_HOME/smtpfwd")" = 700 ]
    if [ -e "$CACHE_FILE" ]; then
        check "(a) the access token of the exchange is cached, 0600" \
            [ "$(mode "$CACHE_FILE")" = 600 -a "$(oauth2_json access_token <"$CACHE_FILE")" = "$at" ]
    fi
    check "(a) the listener is closed afterwards" closed "$ru"
fi

# The stored token serves a delivery.
smtpd_tokens deliver-after-authorize "$(next access)" "$at"
rc xoauth2
deliver after-authorize
check "(a) a delivery with the authorized account exits 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(a) ... and authenticates" grep -q '^AUTH XOAUTH2 ok' "$SF.events"

# access_denied.
use_env denied
rc xoauth2
oauth2_ctl set authorize_mode=deny >/dev/null
authorize auth-denied
url=$(oauth2_wait_output "$AOUT" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
oauth2_browser "$url"
bg_wait "$APID" 30
oauth2_ctl set authorize_mode=approve >/dev/null
check "(a) error=access_denied in the redirect: exit 77 (exit $st)" [ "$st" -eq 77 ] || show "$ERR"
check "(a) ... with a message" grep -q '^smtpfwd: .*access_denied' "$ERR" || show "$ERR"
check "(a) ... and the browser page says it failed" page_fails
check "(a) ... nothing stored" [ ! -e "$RT_FILE" ]

# Authorizing again replaces the stored token; -a ACCOUNT --authorize
# names another account (same user and endpoint, so the same KEY).
use_env again
rc xoauth2
printf '\naccount work : default\n' >>"$RC"
for form in "--authorize default" "-a work --authorize"; do
    rt=$(next refresh)
    # shellcheck disable=SC2086
    "$SMTPFWD" -C "$RC" $form </dev/null >"$RUNS/again.out" 2>"$RUNS/again.err" &
    APID=$!
    BG_PIDS="$BG_PIDS $APID"
    url=$(oauth2_wait_output "$RUNS/again.out" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
    oauth2_browser "$url"
    bg_wait "$APID" 30
    check "(a) $form: exit 0 (exit $st), the new refresh token $rt stored" \
        [ "$st" -eq 0 -a "$(oauth2_json refresh_token <"$RT_FILE" 2>/dev/null)" = "$rt" ] ||
        show "$RUNS/again.err"
done
check "(a) ... the output names account work" grep -q 'work' "$RUNS/again.out"

# The code exchange fails: a code the provider does not know (invalid_grant:
# 77), the token endpoint answering 500 (75); nothing stored either time.
for c in bogus:77 500:75; do
    use_env "exchange-${c%%:*}"
    rc xoauth2
    authorize "auth-exchange-${c%%:*}"
    url=$(oauth2_wait_output "$AOUT" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
    ru=$(url_param "$url" redirect_uri)
    sep='?'
    case $ru in *'?'*) sep='&' ;; esac
    if [ "${c%%:*}" = bogus ]; then
        oauth2_get "$ru${sep}code=bogus&state=$(url_param "$url" state)"
        what="a code the provider does not know"
    else
        oauth2_ctl set token_fail=500 >/dev/null
        oauth2_browser "$url"
        what="the token endpoint answering 500 to the exchange"
    fi
    bg_wait "$APID" 60
    oauth2_ctl set token_fail=0 >/dev/null
    check "(a) $what: exit ${c#*:} (exit $st)" [ "$st" -eq "${c#*:}" ] || show "$ERR"
    check "(a) ... the browser is told it failed (HTTP $BROWSER_STATUS)" page_fails
    check "(a) ... nothing stored" [ ! -e "$RT_FILE" ]
done

# An account without oauth2_provider: nothing to authorize.
use_env noprovider
printf 'account default\nhost 127.0.0.1\nfrom me@x.test\nauth plain\nuser alice\n' >"$HOME/smtprc"
chmod 600 "$HOME/smtprc"
"$SMTPFWD" -C "$HOME/smtprc" --authorize default </dev/null >"$RUNS/noprovider.out" 2>"$RUNS/noprovider.err"
st=$?
check "(a) --authorize for an account without oauth2_provider: exit 78 (exit $st)" [ "$st" -eq 78 ] ||
    show "$RUNS/noprovider.err"
check "(a) ... the message names oauth2_provider" grep -q '^smtpfwd: .*oauth2_provider' "$RUNS/noprovider.err"

# Nobody answers.
use_env timeout
rc xoauth2
authorize auth-timeout --authorize-timeout=2
url=$(oauth2_wait_output "$AOUT" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
ru=$(url_param "$url" redirect_uri)
bg_wait "$APID" 30
check "(a) --authorize-timeout=2 without an answer: exit 75 (exit $st)" [ "$st" -eq 75 ] || show "$ERR"
check "(a) ... with a message about the wait that says to run --authorize again" \
    grep -q -E '^smtpfwd: .*(second|time).*--authorize' "$ERR" ||
    show "$ERR"
check "(a) ... the listener is closed" closed "$ru"
check "(a) ... nothing stored" [ ! -e "$RT_FILE" ]

# ---------------------------------------------------------------- (b)
use_env device
rc oauthbearer
oauth2_ctl reset-counts >/dev/null
oauth2_ctl set device_slow_down=1 device_interval=1 device_expires_in=120 >/dev/null
rt=$(next refresh)
authorize dev-approve -v --device
oauth2_wait_output "$AOUT" "$OAUTH2_URL/device" 20 >/dev/null
uc=$(oauth2_ctl tokens | oauth2_json last_user_code)
check "(b) --device prints the verification URI and the user code ($uc)" \
    grep -q -F "$uc" "$AOUT" || show "$AOUT"
# Approve once smtpfwd has been told slow_down (its first poll) and then
# authorization_pending (the second).
n=0
while [ "$(oauth2_count token:device_code)" -lt 2 ] && [ "$n" -lt 300 ] && kill -0 "$APID" 2>/dev/null; do
    sleep 0.1
    n=$((n + 1))
done
oauth2_get "$OAUTH2_URL/device/approve?user_code=$uc"
check "(b) the test approves the code (HTTP $BROWSER_STATUS)" [ "$BROWSER_STATUS" = 200 ]
bg_wait "$APID" 60
check "(b) --device exits 0 after the approval (exit $st)" [ "$st" -eq 0 ] || { show "$AOUT"; show "$ERR"; }
counted device:slow_down 1 "(b) slow_down was answered once"
n=$(oauth2_count device:pending)
check "(b) authorization_pending was answered (the provider counted $n)" [ "$n" -ge 1 ]
counted device:too_fast 0 "(b) smtpfwd never polled sooner than the interval (+5 s after slow_down)"
check "(b) the refresh token $rt is stored" [ "$(oauth2_json refresh_token <"$RT_FILE" 2>/dev/null)" = "$rt" ]
check "(b) the file is 0600 (it is $(mode "$RT_FILE"))" [ "$(mode "$RT_FILE")" = 600 ]

use_env device-denied
rc oauthbearer
authorize dev-deny --device
oauth2_wait_output "$AOUT" "$OAUTH2_URL/device" 20 >/dev/null
uc=$(oauth2_ctl tokens | oauth2_json last_user_code)
oauth2_get "$OAUTH2_URL/device/approve?user_code=$uc&deny=1"
bg_wait "$APID" 30
check "(b) a denied device code: exit 77 (exit $st)" [ "$st" -eq 77 ] || show "$ERR"
check "(b) ... nothing stored" [ ! -e "$RT_FILE" ]

use_env device-expired
rc oauthbearer
oauth2_ctl set device_expires_in=2 >/dev/null
authorize dev-expire --device
bg_wait "$APID" 30
oauth2_ctl set device_expires_in=600 >/dev/null
check "(b) an expired device code: exit 75 (exit $st)" [ "$st" -eq 75 ] || show "$ERR"
check "(b) ... with a message" grep -q '^smtpfwd: .*expired' "$ERR" || show "$ERR"
check "(b) ... nothing stored" [ ! -e "$RT_FILE" ]

# ---------------------------------------------------------------- (c)
use_env deliver
oauth2_ctl reset-counts >/dev/null
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"

at=$(next access)
smtpd_tokens c-first "$at"
rc xoauth2
deliver c-first
check "(c) XOAUTH2, first delivery: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
msg=$(auth_msgs XOAUTH2)
check "(c) ... the AUTH XOAUTH2 line decodes to user=alice, the issued token $at" \
    [ "$msg" = "user=alice|auth=Bearer $at||" ] || diag "it decodes to '$msg'"
check "(c) ... the server took it" grep -q '^AUTH XOAUTH2 ok' "$SF.events"
counted token:refresh_token 1 "(c) ... one refresh"
exp=$(oauth2_json expires_at <"$CACHE_FILE" 2>/dev/null)
check "(c) ... cached (0600: $(mode "$CACHE_FILE")) with its expiry in about an hour ($exp)" \
    [ "$(mode "$CACHE_FILE")" = 600 -a "$(oauth2_json access_token <"$CACHE_FILE")" = "$at" \
      -a "${exp:-0}" -gt $(( $(date +%s) + 3000 )) -a "${exp:-0}" -le $(( $(date +%s) + 3600 )) ]
check "(c) ... the logfile has the delivery" grep -q 'rcpt@x.test' "$HOME/smtpfwd.log"
check "(c) ... -v names the token endpoint it asked" grep -q -F "$OAUTH2_URL/token" "$ERR"
check "(c) ... the cache directory is 0700 ($(mode "$(dirname "$CACHE_FILE")"))" \
    [ "$(mode "$(dirname "$CACHE_FILE")")" = 700 ]
listing() {
    (cd "$1" && ls -A | tr '\n' ' ')
}
check "(c) ... nothing but KEY and KEY.lock in the cache directory ($(listing "$(dirname "$CACHE_FILE")"))" \
    [ "$(listing "$(dirname "$CACHE_FILE")")" = "$KEY $KEY.lock " ]
check "(c) ... nothing but KEY in the data directory ($(listing "$(dirname "$RT_FILE")"))" \
    [ "$(listing "$(dirname "$RT_FILE")")" = "$KEY " ]

smtpd_tokens c-cached "$at"
rc oauthbearer
deliver c-cached
check "(c) OAUTHBEARER from the cache: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
msg=$(auth_msgs OAUTHBEARER)
bearer_ok() {
    case $msg in "n,a=alice,|"*"||") [ "$(auth_token "$msg")" = "$at" ] ;; *) false ;; esac
}
check "(c) ... the AUTH OAUTHBEARER line: gs2 header for alice, the cached token $at" bearer_ok ||
    diag "it decodes to '$msg'"
counted token:refresh_token 1 "(c) ... no request to the token endpoint"

# A cached token valid for another 90 s is used as it is.
set_cache "$at" 90
smtpd_tokens c-valid90 "$at"
deliver c-valid90
check "(c) a token valid for 90 more seconds: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
counted token:refresh_token 1 "(c) ... used without a refresh"
check "(c) ... the lock file beside the cache is writable by the user only ($(mode "$CACHE_FILE.lock"))" \
    [ "$(mode "$CACHE_FILE.lock")" = 600 ]

# A cached token valid for less than a minute: exactly one refresh.
set_cache "$at" 30
at2=$(next access)
smtpd_tokens c-expiring "$at2"
rc xoauth2
deliver c-expiring
check "(c) a token expiring within 60 s: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... AUTH with the new token $at2" [ "$(auth_token "$(auth_msgs XOAUTH2)")" = "$at2" ]
counted token:refresh_token 2 "(c) ... exactly one refresh"
check "(c) ... the new token is cached" [ "$(oauth2_json access_token <"$CACHE_FILE")" = "$at2" ]

# Two deliveries at once, the cache expired: one refresh (the lock).
set_cache "$at2" -10
at3=$(next access)
smtpd_tokens c-parallel "$at3"
rc xoauth2
(run c-par1 -v rcpt@x.test; exit "$st") &
p1=$!
run c-par2 -v rcpt@x.test
st2=$st
wait "$p1"
st1=$?
smtpd_stop
check "(c) two deliveries at once with an expired cache: both exit 0 ($st1, $st2)" [ "$st1" -eq 0 -a "$st2" -eq 0 ]
counted token:refresh_token 3 "(c) ... exactly one refresh between them"
check "(c) ... both authenticated with $at3" [ "$(grep -c '^AUTH XOAUTH2 ok' "$SF.events")" -eq 2 ]

# Rotation: the refresh grant returns a new refresh token; it is stored
# and used the next time (the old one is retired at the provider).
oauth2_ctl set rotate=1 >/dev/null
set_cache "$at3" -10
at4=$(next access)
rt2=$(next refresh)
smtpd_tokens c-rotate "$at4"
deliver c-rotate
check "(c) rotation: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... the new refresh token $rt2 is stored" [ "$(oauth2_json refresh_token <"$RT_FILE")" = "$rt2" ]
check "(c) ... still 0600 ($(mode "$RT_FILE"))" [ "$(mode "$RT_FILE")" = 600 ]
check "(c) ... written through a rename: nothing else in its directory ($(listing "$(dirname "$RT_FILE")"))" \
    [ "$(listing "$(dirname "$RT_FILE")")" = "$KEY " ]
oauth2_ctl set rotate=0 >/dev/null
set_cache "$at4" -10
at5=$(next access)
smtpd_tokens c-rotated "$at5"
deliver c-rotated
check "(c) the next refresh uses the rotated token: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
counted token:error 0 "(c) ... no refresh was refused"

# A cached token the server refuses: one refresh, AUTH again in the session.
at6=$(next access)
smtpd_tokens c-refused "$at6"
deliver c-refused
check "(c) the cached token refused: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
used=$(auth_msgs XOAUTH2 | while read -r m; do auth_token "$m"; done | tr '\n' ' ')
check "(c) ... AUTH with $at5, then $at6, in one connection (AUTH with: $used)" \
    [ "$used" = "$at5 $at6 " -a "$(grep -c '^connection ' "$SF.events")" -eq 1 ]
counted token:refresh_token 6 "(c) ... one refresh"
check "(c) ... the new token is cached" [ "$(oauth2_json access_token <"$CACHE_FILE")" = "$at6" ]

# The endpoint answers 500.
set_cache "$at6" -10
oauth2_ctl set token_fail=500 >/dev/null
smtpd_tokens c-500 "$at6"
deliver c-500
oauth2_ctl set token_fail=0 >/dev/null
check "(c) the token endpoint answers 500: exit 75 (exit $st)" [ "$st" -eq 75 ] || show "$ERR"
check "(c) ... no AUTH sent" not grep -q '^AUTH' "$SF.log"

# After the error challenge (334) the client ends the exchange: with an
# empty line for XOAUTH2, with ^A (AQ==) for OAUTHBEARER (RFC 7628 3.2.3).
# answer_after_334 MECH: the line the server received after the first
# AUTH MECH line.
answer_after_334() {
    tr -d '\r' <"$SF.log" | awk -v m="AUTH $1 " 'f { print; exit } index($0, m) == 1 { f = 1 }'
}
SF=$TESTDIR/c-refused
check "(c) the refused cached token, XOAUTH2: after the error challenge an empty line ('$(answer_after_334 XOAUTH2)')" \
    [ "$(answer_after_334 XOAUTH2)" = "" -a "$(grep -c '^AUTH XOAUTH2 fail' "$SF.events")" -eq 1 ]
rc oauthbearer
set_cache "$at6" 3000
at7=$(next access)
smtpd_tokens c-refused-bearer "$at7"
deliver c-refused-bearer
check "(c) OAUTHBEARER, the cached token refused: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... after the error challenge: AQ== ('$(answer_after_334 OAUTHBEARER)')" \
    [ "$(answer_after_334 OAUTHBEARER)" = AQ== ]
check "(c) ... then AUTH with $at7" [ "$(auth_token "$(auth_msgs OAUTHBEARER | tail -1)")" = "$at7" ]

# A plain 5xx to AUTH, without an error challenge (as Exchange Online
# answers an expired token: 535 5.7.3): refresh and AUTH again too.
rc xoauth2
at8=$(next access)
SMTPD_NAME=c-refused-plain
smtpd_start "auth XOAUTH2 OAUTHBEARER
reply AUTH#1 535 5.7.3 Authentication unsuccessful
user alice $at8"
SF=$TESTDIR/c-refused-plain
rc xoauth2
deliver c-refused-plain
check "(c) a cached token refused with a plain 535 5.7.3: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... AUTH again with $at8 in the same connection" \
    [ "$(auth_token "$(auth_msgs XOAUTH2 | tail -1)")" = "$at8" -a "$(grep -c '^connection ' "$SF.events")" -eq 1 ]
at6=$at8

# The server refuses the cached token and the refresh fails (500):
# temporary, not a refused authentication.
set_cache "$at6" 3000
oauth2_ctl set token_fail=500 >/dev/null
smtpd_tokens c-refused-500 "$P-never"
deliver c-refused-500
oauth2_ctl set token_fail=0 >/dev/null
check "(c) the cached token refused, the refresh answered 500: exit 75 (exit $st)" [ "$st" -eq 75 ] ||
    show "$ERR"
check "(c) ... one AUTH, with the cached token" [ "$(auth_token "$(auth_msgs XOAUTH2)")" = "$at6" ]

# The token endpoint hangs: smtpfwd gives up (its own timeout), 75.
set_cache "$at6" -10
oauth2_ctl set token_hang=120 >/dev/null
smtpd_tokens c-hang "$at6"
deliver c-hang
oauth2_ctl set token_hang=0 >/dev/null
check "(c) the token endpoint does not answer: exit 75 (exit $st)" [ "$st" -eq 75 ] || show "$ERR"
check "(c) ... no AUTH sent" not grep -q '^AUTH' "$SF.log"

# A revoked refresh token, the error answer shaped as Microsoft's (extra
# members of other types: error_codes, trace_id, timestamp).
oauth2_ctl set token_fail=400 token_fail_count=1 \
    token_fail_body='{"error": "invalid_grant", "error_description": "AADSTS70000: revoked", "error_codes": [70000], "timestamp": "2026-12-07 05:00:00Z", "trace_id": "t", "correlation_id": "c"}' >/dev/null
set_cache "$at6" -10
smtpd_tokens c-revoked-ms "$at6"
deliver c-revoked-ms
check "(c) invalid_grant with Microsoft's extra members: exit 77 (exit $st)" [ "$st" -eq 77 ] || show "$ERR"
check "(c) ... the message says to run smtpfwd --authorize default" \
    grep -q '^smtpfwd: .*smtpfwd --authorize default' "$ERR" || show "$ERR"

# A revoked refresh token.
oauth2_ctl revoke-refresh >/dev/null
smtpd_tokens c-revoked "$at6"
deliver c-revoked
check "(c) a revoked refresh token: exit 77 (exit $st)" [ "$st" -eq 77 ] || show "$ERR"
check "(c) ... the message says to run smtpfwd --authorize default" \
    grep -q '^smtpfwd: .*smtpfwd --authorize default' "$ERR" || show "$ERR"
check "(c) ... no AUTH sent" not grep -q '^AUTH' "$SF.log"

# The endpoint down: 75, or spooled; -q delivers once it is back.
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
set_cache "$at6" -10
oauth2_server_stop
smtpd_tokens c-down "$at6"
deliver c-down
check "(c) the token endpoint down, queue off: exit 75 (exit $st)" [ "$st" -eq 75 ] || show "$ERR"
check "(c) ... nothing queued" [ "$(count_in "$HOME/spool/new")" -eq 0 ]
smtpd_tokens c-down-queue "$at6"
rc xoauth2 'queue on-failure'
deliver c-down-queue
check "(c) the token endpoint down, queue on-failure: exit 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... one entry in the spool" [ "$(count_in "$HOME/spool/new")" -eq 1 ]
oauth2_server_start
at7=$(next access)
smtpd_tokens c-flush "$at7"
run c-flush -v -q
smtpd_stop
check "(c) the endpoint back: -q exits 0 (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... the message delivered" grep -q '^body of c-down-queue' "$SF.log"
check "(c) ... with $at7" [ "$(auth_token "$(auth_msgs XOAUTH2)")" = "$at7" ]
check "(c) ... the spool empty" [ "$(count_in "$HOME/spool/new")" -eq 0 ]

# A user name with bytes outside [A-Za-z0-9._@+-]: its files are under
# the %XX-escaped KEY.
use_env escaped
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt" 'bob%2Fx+y'
at=$(next access)
SMTPD_NAME=c-escaped
smtpd_start "auth XOAUTH2 OAUTHBEARER
user bob/x+y $at"
SF=$TESTDIR/c-escaped
rc xoauth2 'user bob/x+y'
deliver c-escaped
check "(c) user 'bob/x+y': the refresh token file bob%2Fx+y@127.0.0.1 serves the delivery (exit $st)" \
    [ "$st" -eq 0 ] || show "$ERR"
check "(c) ... the token cached under the same KEY" \
    [ "$(oauth2_json access_token <"$XDG_CACHE_HOME/smtpfwd/oauth2/bob%2Fx+y@127.0.0.1" 2>/dev/null)" = "$at" ]

# ---------------------------------------------------------------- (d)
use_env modes
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
at=$(oauth2_ctl tokens | oauth2_json last_access)
rc xoauth2
# refused CASE FILE: smtpfwd exits 78 naming FILE, without asking the
# provider with the refresh token, nor sending AUTH.
refused() {
    n0=$(oauth2_count token:refresh_token)
    r_case=d-$(echo "$1" | tr -c 'a-z0-9\n' -)
    smtpd_tokens "$r_case" "$at"
    deliver "$r_case"
    check "(d) $1: no AUTH sent" not grep -q '^AUTH' "$SF.log"
    check "(d) $1: exit 78 (exit $st)" [ "$st" -eq 78 ] || show "$ERR"
    check "(d) $1: the message names the file" grep -q -F "$2" "$ERR" || show "$ERR"
    counted token:refresh_token "$n0" "(d) $1: no refresh"
}
oauth2_store_refresh "$rt"
chmod 644 "$RT_FILE"
refused "refresh token file 0644" "$RT_FILE"
check "(d) ... and says to chmod 600 it" grep -q 'chmod 600' "$ERR"
chmod 600 "$RT_FILE"
mv "$RT_FILE" "$HOME/real"
ln -s "$HOME/real" "$RT_FILE"
refused "refresh token file a symbolic link" "$RT_FILE"
rm -f "$RT_FILE"
mkfifo "$RT_FILE"
refused "refresh token file a FIFO" "$RT_FILE"
rm -f "$RT_FILE"
mv "$HOME/real" "$RT_FILE"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$RT_FILE"
    refused "refresh token file owned by another user" "$RT_FILE"
    chown 0 "$RT_FILE"
else
    skip_check "not root: cannot give the file to another user" "(d) refresh token file owned by another user"
fi
set_cache "$at" 3000
chmod 640 "$CACHE_FILE"
refused "cache file 0640" "$CACHE_FILE"

# ---------------------------------------------------------------- (f)
use_env classes
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
# f_case NAME WANT DESC [LINES]: a delivery with an expired cache; exit WANT, no AUTH.
f_case() {
    set_cache "$P-none" -10
    smtpd_tokens "$1" "$P-none"
    rc xoauth2 "${4:-}"
    deliver "$1"
    check "(f) $3: exit $2 (exit $st)" [ "$st" -eq "$2" ] || show "$ERR"
    check "(f) ... no AUTH sent" not grep -q '^AUTH' "$SF.log"
}
oauth2_ctl set token_fail=200 token_fail_body='this is not JSON' >/dev/null
f_case f-garbage 76 "the token endpoint answers 200 with a body that is not JSON"
oauth2_ctl set token_fail=0 >/dev/null
f_case f-client 78 "the provider does not know the client (invalid_client)" "oauth2_client_id someone-else"
check "(f) ... the message names the client problem" grep -q '^smtpfwd: .*invalid_client' "$ERR" || show "$ERR"
f_case f-untrusted 77 "the token endpoint's certificate is from a CA not trusted" \
    "oauth2_tls_trust_file $CERTS/otherca.pem"
f_case f-notrust 78 "oauth2_tls_trust_file names a missing file" "oauth2_tls_trust_file $TESTDIR/missing.pem"
rc xoauth2

# Tokens without expires_in are cached for 600 s.
oauth2_ctl set lifetime=0 >/dev/null
set_cache "$P-none" -10
at=$(next access)
smtpd_tokens f-noexp "$at"
deliver f-noexp
oauth2_ctl set lifetime=3600 >/dev/null
exp=$(oauth2_json expires_at <"$CACHE_FILE" 2>/dev/null)
now=$(date +%s)
check "(f) a token without expires_in: delivered (exit $st), cached for 600 s (expires_at $exp, now $now)" \
    [ "$st" -eq 0 -a "${exp:-0}" -gt $((now + 500)) -a "${exp:-0}" -le $((now + 600)) ]

# Two queued messages, the cache expired: one -q, one refresh, both sent.
rc xoauth2 'queue always'
run f-q1 rcpt@x.test
run f-q2 rcpt@x.test
check "(f) two messages queued (queue always)" [ "$(count_in "$HOME/spool/new")" -eq 2 ]
set_cache "$at" -10
n0=$(oauth2_count token:refresh_token)
at=$(next access)
smtpd_tokens f-flush "$at"
run f-flush -v -q
smtpd_stop
check "(f) -q delivers both (exit $st)" [ "$st" -eq 0 -a "$(grep -c '^body of f-q' "$SF.log")" -eq 2 ] ||
    show "$ERR"
counted token:refresh_token $((n0 + 1)) "(f) ... with one refresh"

# Access tokens as long as a JWT (3000 characters), both mechanisms: the
# token reaches the server whole, the AUTH command line stays within
# SMTP's limit; the files written under umask 000 are still 0600 in 0700
# directories.
use_env long
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
oauth2_ctl set access_pad=3000 rotate=1 >/dev/null
for m in XOAUTH2 OAUTHBEARER; do
    rm -rf "$XDG_CACHE_HOME/smtpfwd"
    at=$(next access)
    smtpd_tokens "f-long-$m" "$at"
    rc "$(echo "$m" | tr A-Z a-z)"
    umask 000
    deliver "f-long-$m"
    umask 022
    check "(f) a 3000-character token, $m, under umask 000: exit 0 (exit $st)" [ "$st" -eq 0 ] ||
        show "$RUNS/f-long-$m.err"
    check "(f) ... the AUTH exchange carries it whole" [ "$(auth_token "$(auth_msgs "$m")")" = "$at" ]
    # RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its
    # CRLF; RFC 4954 section 4: an initial response that would make AUTH
    # longer MUST NOT be used (the response follows the 334 instead).
    n=$(awk 'index($0, "AUTH ") == 1 { print length($0) + 1 }' "$SF.log" | sort -n | tail -1)
    check "(f) ... the AUTH command line is at most 512 octets ($n with its CRLF)" [ "${n:-0}" -le 512 ]
    check "(f) ... the cache is 0600 in a 0700 directory ($(mode "$CACHE_FILE"), $(mode "$(dirname "$CACHE_FILE")"))" \
        [ "$(mode "$CACHE_FILE")" = 600 -a "$(mode "$(dirname "$CACHE_FILE")")" = 700 ]
    check "(f) ... the rotated refresh token file is 0600 ($(mode "$RT_FILE"))" [ "$(mode "$RT_FILE")" = 600 ]
done
oauth2_ctl set access_pad=0 rotate=0 >/dev/null

# ---------------------------------------------------------------- (h)
# The presets, their endpoints pointed at the fake provider.
# preset_rc PROVIDER: the account with oauth2_provider PROVIDER (its scope,
# redirect host and refresh rules), our endpoints, in $RC.
preset_rc() {
    RC_MECH=
    RC=$HOME/smtprc
    cat >"$RC" <<EOF
account default
host 127.0.0.1
port ${SMTPD_PORT:-9}
tls off
allow_plaintext_auth on
from me@x.test
auth xoauth2
queue off
queue_dir $HOME/spool
logfile $HOME/smtpfwd.log
user alice
oauth2_provider $1
oauth2_client_id $OAUTH2_CLIENT_ID
oauth2_auth_endpoint $OAUTH2_URL/authorize
oauth2_token_endpoint $OAUTH2_URL/token
oauth2_tls_trust_file $CERTS/ca.pem
oauth2_token_store file
EOF
    # Google's desktop clients have a secret (the public client of the
    # fake provider ignores it); Microsoft's have none.
    if [ "$1" = gmail ]; then
        echo "oauth2_client_secret $GSECRET" >>"$RC"
    else
        echo "oauth2_device_endpoint $OAUTH2_URL/device" >>"$RC"
    fi
    chmod 600 "$RC"
}
# refresh_params: the form of the provider's last refresh request (JSON).
refresh_params() {
    grep -F '"grant_type": "refresh_token"' "$OAUTH2_STATE/server.log" | tail -1 | sed 's/^.* params //'
}
MS_SCOPE='https://outlook.office.com/SMTP.Send offline_access'
GSECRET=gs-$$-secret
use_env microsoft
preset_rc microsoft
authorize h-ms
url=$(oauth2_wait_output "$AOUT" "$OAUTH2_URL/authorize\\?" 20 | grep -o 'https://[^ ]*')
ru=$(url_param "$url" redirect_uri)
case $ru in
http://localhost:[0-9]*) ok "(h) microsoft: the redirect_uri is http://localhost:PORT ($ru)" ;;
*) not_ok "(h) microsoft: the redirect_uri is http://localhost:PORT ($ru)" ;;
esac
check "(h) microsoft: the preset's scope is asked for ($(url_param "$url" scope))" \
    [ "$(url_param "$url" scope)" = "$MS_SCOPE" ]
oauth2_browser "$url"
bg_wait "$APID" 30
check "(h) microsoft: the browser comes back through localhost, --authorize exits 0 (exit $st)" \
    [ "$st" -eq 0 -a "$BROWSER_STATUS" = 200 ] || show "$ERR"
set_cache "$P-none" -10
at=$(next access)
SMTPD_NAME=h-ms-deliver
smtpd_start "auth XOAUTH2
user alice $at"
SF=$TESTDIR/h-ms-deliver
preset_rc microsoft
deliver h-ms-deliver
check "(h) microsoft: a delivery refreshes and authenticates (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(h) microsoft: the refresh sends the scope" \
    [ "$(refresh_params | oauth2_json scope)" = "$MS_SCOPE" ]
oauth2_ctl set device_shape=microsoft >/dev/null
authorize h-ms-device --device
oauth2_wait_output "$AOUT" "$OAUTH2_URL/device" 20 >/dev/null
uc=$(oauth2_ctl tokens | oauth2_json last_user_code)
check "(h) microsoft --device (no verification_uri_complete): the user code is shown ($uc)" grep -q -F "$uc" "$AOUT"
oauth2_get "$OAUTH2_URL/device/approve?user_code=$uc&deny=1"
bg_wait "$APID" 30
check "(h) microsoft --device declined (authorization_declined): exit 77 (exit $st)" [ "$st" -eq 77 ] ||
    show "$ERR"

use_env gmail
preset_rc gmail
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
at=$(next access)
SMTPD_NAME=h-gmail
smtpd_start "auth XOAUTH2
user alice $at"
SF=$TESTDIR/h-gmail
preset_rc gmail
deliver h-gmail
check "(h) gmail: a delivery refreshes and authenticates (exit $st)" [ "$st" -eq 0 ] || show "$ERR"
check "(h) gmail: the refresh sends no scope" \
    [ -n "$(refresh_params)" -a -z "$(refresh_params | oauth2_json scope)" ]
n0=$(oauth2_count device)
"$SMTPFWD" -C "$RC" --device --authorize default </dev/null >"$RUNS/h-gmail-device.out" 2>"$RUNS/h-gmail-device.err"
st=$?
check "(h) gmail --device: refused at once (exit $st)" [ "$st" -ne 0 -a "$st" -ne 124 ]
check "(h) ... with a message about the device flow" grep -q '^smtpfwd: .*device' "$RUNS/h-gmail-device.err" ||
    show "$RUNS/h-gmail-device.err"
counted device "$n0" "(h) ... without asking the provider"

# A device answer shaped as Google's (verification_url).
use_env google-device
rc xoauth2
oauth2_ctl set device_shape=google >/dev/null
rt=$(next refresh)
authorize h-google-device --device
oauth2_wait_output "$AOUT" "$OAUTH2_URL/device" 20 >/dev/null
uc=$(oauth2_ctl tokens | oauth2_json last_user_code)
check "(h) a device answer with verification_url: the URL and the user code are shown" \
    grep -q -F "$uc" "$AOUT"
oauth2_get "$OAUTH2_URL/device/approve?user_code=$uc"
bg_wait "$APID" 60
oauth2_ctl set device_shape=rfc >/dev/null
check "(h) ... approved: exit 0 (exit $st), $rt stored" \
    [ "$st" -eq 0 -a "$(oauth2_json refresh_token <"$RT_FILE" 2>/dev/null)" = "$rt" ] || show "$ERR"

# ---------------------------------------------------------------- (g)
# A confidential client: a second provider that requires a client secret.
oauth2_server_stop
CSECRET=cs-$$-secret
OAUTH2_STATE=$TESTDIR/oauth2-secret OAUTH2_PORT= OAUTH2_ARGS=
oauth2_server_start --prefix "${P}s" --client-secret "$CSECRET"
use_env secret
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
for g in "eval:oauth2_client_secret_eval echo $CSECRET:0" "inline:oauth2_client_secret $CSECRET:0" \
    "none::78" "wrong:oauth2_client_secret_eval echo not-$CSECRET:78"; do
    g_name=${g%%:*} g_rest=${g#*:}
    set_cache "$P-none" -10
    at=$(next access)
    smtpd_tokens "g-$g_name" "$at"
    rc xoauth2 "${g_rest%:*}"
    deliver "g-$g_name"
    check "(g) client secret $g_name: exit ${g##*:} (exit $st)" [ "$st" -eq "${g##*:}" ] || show "$ERR"
done
counted token:refresh_token 4 "(g) ... four refresh requests"
counted token:error 2 "(g) ... two refused (invalid_client)"

# ---------------------------------------------------------------- (e)
"$PYTHON" -c '
import json, sys
for f in sys.argv[1:]:
    st = json.load(open(f))
    for kind in ("access", "refresh", "codes", "devices"):
        for t in st[kind]:
            print(t)' "$TESTDIR"/oauth2*/state.json >"$TESTDIR/secrets"
printf '%s\n' "$CSECRET" "$GSECRET" >>"$TESTDIR/secrets"
: >"$TESTDIR/forms"
while read -r t; do
    printf '%s\n' "$t" >>"$TESTDIR/forms"
    printf 'user=alice\001auth=Bearer %s\001\001' "$t" | base64 -w0 >>"$TESTDIR/forms"
    echo >>"$TESTDIR/forms"
    printf 'n,a=alice,\001host=127.0.0.1\001auth=Bearer %s\001\001' "$t" | base64 -w0 >>"$TESTDIR/forms"
    echo >>"$TESTDIR/forms"
done <"$TESTDIR/secrets"
found=$(cat "$RUNS"/*.out "$RUNS"/*.err "$TESTDIR"/env-*/smtpfwd.log 2>/dev/null | grep -F -f "$TESTDIR/forms")
check "(e) none of the $(wc -l <"$TESTDIR/secrets") tokens, codes and the client secret appears in smtpfwd's output or logfile" \
    [ -z "$found" ] || diag "$found"

done_testing
