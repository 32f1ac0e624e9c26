#!/bin/sh
# oauth2-retry.sh - a delivery with smtpfwd's own OAuth2 token against the
# fake authorization server (tests/oauth2-server.py) and the scripted SMTP
# server (tests/smtpd-script), which takes one token for user alice: the
# cached access token is refused (an XOAUTH2/OAUTHBEARER error report in
# the 334, then 535), smtpfwd refreshes it with the stored refresh token
# and tries AUTH once more on the same connection with the new token,
# which the server accepts, and the message is delivered. Checked for a
# message on standard input (XOAUTH2), -bs (OAUTHBEARER) and -q (the
# spool): exactly one connection, the AUTH lines in order, exactly one
# refresh grant at the token endpoint, the new token in the cache, no
# token in -v output or the log. Then the failures: a revoked refresh
# token after the refusal (77, the --authorize hint, not spooled), the
# token endpoint answering 500 (spooled, delivered by -q once it works),
# a token that did not come from the cache refused (no second refresh,
# one AUTH), a fresh cached token used without asking the endpoint, and
# the new token refused as well (no third AUTH, no second refresh).
# TAP (tests/lib.sh); skipped without python3, curl or certtool, or when
# smtpfwd is built without OAuth2.
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"
. "$here/oauth2-lib.sh"

need_built "$SMTPD"
oauth2_need_builtin
lib_tmpdir
trap 'smtpd_stop; oauth2_server_stop; rm -rf "$TESTDIR"' EXIT
lib_private_env
certs_make
oauth2_server_start --prefix R --lifetime 3600
KEY=$(oauth2_key)
CACHE=$XDG_CACHE_HOME/smtpfwd/oauth2/$KEY
FAR=4102444800                          # 2100-01-01: "valid" for the cache
LOG=$TESTDIR/smtpfwd.log

# The tokens the fake server issues, in order: R-access-N, R-refresh-N.
PAIR=$(oauth2_ctl issue) || fail_stop "the fake server issues a token pair"
RT=$(printf '%s' "$PAIR" | oauth2_json refresh_token)
check "the fake server issued R-access-1 / R-refresh-1" [ "$RT" = R-refresh-1 ] || done_testing
oauth2_store_refresh "$RT"

# b64 TEXT: base64 of TEXT (with \001 as ^A).
b64() {
    printf "$1" | base64 | tr -d '\n'
}
# xoauth2 TOKEN / oauthbearer TOKEN: the initial response smtpfwd sends.
xoauth2() {
    b64 "user=alice\001auth=Bearer $1\001\001"
}
oauthbearer() {
    b64 "n,a=alice,\001host=127.0.0.1\001auth=Bearer $1\001\001"
}
# count KEY: the fake server's count since the last reset.
refreshes() {
    oauth2_count token:refresh_token
}
# cache_has TOKEN: the cache file holds TOKEN.
cache_has() {
    grep -q "\"access_token\": *\"$1\"" "$CACHE"
}
# no_tokens FILE...: no token of the fake server in the files.
no_tokens() {
    ! grep -q 'R-access-\|R-refresh-' "$@"
}
# one_auth: the server saw exactly one AUTH.
one_auth() {
    [ "$(grep -c '^AUTH' "$TESTDIR/server.log")" -eq 1 ]
}
# server_for TOKEN [MECHS]: a fresh smtpd-script that accepts TOKEN for
# alice (anything else: the error report, then 535).
server_for() {
    smtpd_stop
    rm -f "$TESTDIR/server.log" "$TESTDIR/server.events"
    smtpd_start "auth ${2:-XOAUTH2 OAUTHBEARER}
user alice $1"
}
# config [EXTRA]: the account for the running servers.
config() {
    write_config "auth ${AUTH:-xoauth2}
allow_plaintext_auth on
set_date_header off
set_msgid_header off
logfile $LOG
$(oauth2_account)
${1:-}" >/dev/null
}
MSG='From: me@x.test
To: a@x.test
Subject: hi

body'
# setup CACHED-TOKEN EXPIRES-AT SERVER-TOKEN CONFIG-EXTRA: the cache holds
# that token, a fresh server takes SERVER-TOKEN, the account has EXTRA.
setup() {
    oauth2_store_cache "$1" "$2"
    server_for "$3"
    config "$4"
}
# send N [ARG...]: the message on standard input to smtpfwd with ARGs
# and a@x.test, the fake server's counts reset first; its status in st,
# stdout and stderr in $TESTDIR/outN, errN; the SMTP server stopped.
send() {
    s_n=$1
    shift
    oauth2_ctl reset-counts >/dev/null
    printf '%s\n' "$MSG" | "$SMTPFWD" -C "$TESTDIR/smtprc" "$@" -i a@x.test \
        >"$TESTDIR/out$s_n" 2>"$TESTDIR/err$s_n"
    st=$?
    smtpd_stop
}

# ---- 1. standard input, XOAUTH2: refused, refreshed, accepted ----
setup R-access-1 "$FAR" R-access-2 "queue off"
send 1 -v
check "stdin: the cached token refused, refreshed, delivered (exit 0)" [ "$st" -eq 0 ] ||
    diag "$(cat "$TESTDIR/err1")"
printf '%s\r\n' "EHLO localhost" "AUTH XOAUTH2 $(xoauth2 R-access-1)" "" \
    "AUTH XOAUTH2 $(xoauth2 R-access-2)" "MAIL FROM:<me@x.test> SIZE=52" >"$TESTDIR/want1"
head -n 5 "$TESTDIR/server.log" >"$TESTDIR/got1"
check "stdin: AUTH with the cached token, the empty answer to the error report, AUTH with the new token, then MAIL" \
    cmp -s "$TESTDIR/want1" "$TESTDIR/got1" || diag "$(cat -A "$TESTDIR/server.log")"
check "stdin: one connection, the first AUTH refused and the second accepted" \
    [ "$(cat "$TESTDIR/server.events")" = "connection 1
AUTH XOAUTH2 fail
AUTH XOAUTH2 ok" ] || diag "$(cat "$TESTDIR/server.events")"
check "stdin: the message went out once" [ "$(grep -c '^body' "$TESTDIR/server.log")" -eq 1 ]
check "stdin: exactly one refresh grant" [ "$(refreshes)" = 1 ]
check "stdin: the new token is in the cache" cache_has R-access-2
check "stdin: -v says why it asked for a new token" \
    grep -q 'authentication failed: 535 5.7.8 .*(the server reports the token as "401"); fetching a new token' "$TESTDIR/err1"
check "stdin: no token in -v output or the log" no_tokens "$TESTDIR/err1" "$TESTDIR/out1" "$LOG"

# ---- 2. -bs, OAUTHBEARER: the same within the session of -bs ----
oauth2_store_cache R-access-1 "$FAR"
server_for R-access-3 OAUTHBEARER
AUTH=oauthbearer config "queue off
domain bs.test"
oauth2_ctl reset-counts >/dev/null
printf '%s\r\n' "EHLO c.test" "MAIL FROM:<me@x.test>" "RCPT TO:<a@x.test>" "DATA" \
    "Subject: hi" "" "body" "." "QUIT" |
    "$SMTPFWD" -C "$TESTDIR/smtprc" -bs >"$TESTDIR/out2" 2>"$TESTDIR/err2"
st=$?
smtpd_stop
check "-bs: refused, refreshed, delivered (exit 0)" [ "$st" -eq 0 ] || diag "$(cat "$TESTDIR/err2")"
check "-bs: the end of data answered 250" grep -q '^250 2.0.0 delivered to 1 recipient' "$TESTDIR/out2" ||
    diag "$(cat "$TESTDIR/out2")"
printf '%s\r\n' "EHLO bs.test" "AUTH OAUTHBEARER $(oauthbearer R-access-1)" "AQ==" \
    "AUTH OAUTHBEARER $(oauthbearer R-access-3)" >"$TESTDIR/want2"
head -n 4 "$TESTDIR/server.log" >"$TESTDIR/got2"
check "-bs: AUTH, %x01 to the error report, AUTH with the new token" \
    cmp -s "$TESTDIR/want2" "$TESTDIR/got2" || diag "$(cat -A "$TESTDIR/server.log")"
check "-bs: one connection" [ "$(grep -c '^connection' "$TESTDIR/server.events")" -eq 1 ]
check "-bs: exactly one refresh grant" [ "$(refreshes)" = 1 ]
check "-bs: no token on stdout or stderr" no_tokens "$TESTDIR/out2" "$TESTDIR/err2"

# ---- 3. the spool (-q): refused, refreshed, delivered ----
oauth2_store_cache R-access-1 "$FAR"
server_for R-access-4
config "queue on-failure"
printf '%s\n' "$MSG" | "$SMTPFWD" -C "$TESTDIR/smtprc" -odq -i a@x.test 2>"$TESTDIR/err3"
check "-q: the message is in the spool" [ "$(count_in "$XDG_STATE_HOME/smtpfwd/queue/new")" -eq 1 ]
oauth2_ctl reset-counts >/dev/null
"$SMTPFWD" -C "$TESTDIR/smtprc" -q >"$TESTDIR/out3" 2>>"$TESTDIR/err3"
st=$?
smtpd_stop
check "-q: refused, refreshed, delivered (exit 0)" [ "$st" -eq 0 ] || diag "$(cat "$TESTDIR/err3")"
check "-q: the spool is empty" [ "$(count_in "$XDG_STATE_HOME/smtpfwd/queue/new")" -eq 0 ]
check "-q: one connection, two AUTH, the second accepted" \
    [ "$(cat "$TESTDIR/server.events")" = "connection 1
AUTH XOAUTH2 fail
AUTH XOAUTH2 ok" ] || diag "$(cat "$TESTDIR/server.events")"
check "-q: exactly one refresh grant" [ "$(refreshes)" = 1 ]
check "-q: the new token is in the cache" cache_has R-access-4

# ---- 4. a fresh token in the cache: no refresh at all ----
setup R-access-4 "$FAR" R-access-4 "queue off"
send 4
check "cache: delivered with the cached token (exit 0)" [ "$st" -eq 0 ] || diag "$(cat "$TESTDIR/err4")"
check "cache: the token endpoint was not asked" [ "$(oauth2_count token)" = 0 ]
check "cache: one AUTH" one_auth

# ---- 5. a token that did not come from the cache is refused: no retry ----
setup R-access-4 1700000000 never-this-token "queue off"      # expired in 2023
send 5
check "fresh token refused: 77" [ "$st" -eq 77 ] || diag "$(cat "$TESTDIR/err5")"
check "fresh token refused: one refresh (before connecting), none after the refusal" \
    [ "$(refreshes)" = 1 ]
check "fresh token refused: one AUTH" one_auth

# ---- 6. the refresh token revoked after the refusal: 77, not spooled ----
setup R-access-1 "$FAR" R-access-9 "queue on-failure"
oauth2_ctl revoke-refresh >/dev/null
send 6
check "revoked: 77" [ "$st" -eq 77 ] || diag "$(cat "$TESTDIR/err6")"
check "revoked: the message says to authorize again" \
    grep -q 'a new token could not be fetched: .*smtpfwd --authorize default' "$TESTDIR/err6" ||
    diag "$(cat "$TESTDIR/err6")"
check "revoked: not spooled" [ "$(count_in "$XDG_STATE_HOME/smtpfwd/queue/new")" -eq 0 ]
check "revoked: one AUTH" one_auth

# ---- 7. the token endpoint answers 500 after the refusal: spooled; -qf later ----
# Access tokens so far: R-access-1 (issued), 2, 3, 4, 5 (refreshes); the
# pair issued now is R-access-6, and the refresh of -qf gives R-access-7.
PAIR=$(oauth2_ctl issue) || fail_stop "the fake server issues a second pair"
RT=$(printf '%s' "$PAIR" | oauth2_json refresh_token)
oauth2_store_refresh "$RT"
setup R-access-1 "$FAR" R-access-7 "queue on-failure"
oauth2_ctl set token_fail=500 >/dev/null
send 7
check "endpoint 500: spooled (exit 0)" [ "$st" -eq 0 ] || diag "$(cat "$TESTDIR/err7")"
check "endpoint 500: one entry in the spool" [ "$(count_in "$XDG_STATE_HOME/smtpfwd/queue/new")" -eq 1 ]
check "endpoint 500: one AUTH" one_auth
check "endpoint 500: the reason in the log line" \
    grep -q 'a new token could not be fetched' "$LOG"
oauth2_ctl set token_fail=0 >/dev/null
oauth2_ctl reset-counts >/dev/null
server_for R-access-7
config "queue on-failure"
"$SMTPFWD" -C "$TESTDIR/smtprc" -qf 2>"$TESTDIR/err7q"
smtpd_stop
check "endpoint back: -qf delivers it" [ "$(count_in "$XDG_STATE_HOME/smtpfwd/queue/new")" -eq 0 ] ||
    diag "$(cat "$TESTDIR/err7q")"
check "endpoint back: one refresh" [ "$(refreshes)" = 1 ]

# ---- 8. the new token refused too: no third AUTH, no second refresh ----
setup R-access-1 "$FAR" never-this-token "queue off"
send 8
check "both refused: 77" [ "$st" -eq 77 ] || diag "$(cat "$TESTDIR/err8")"
check "both refused: two AUTH on one connection" \
    [ "$(cat "$TESTDIR/server.events")" = "connection 1
AUTH XOAUTH2 fail
AUTH XOAUTH2 fail" ] || diag "$(cat "$TESTDIR/server.events")"
check "both refused: exactly one refresh grant" [ "$(refreshes)" = 1 ]
check "both refused: the message quotes the second refusal" \
    [ "$(cat "$TESTDIR/err8")" = 'smtpfwd: authentication failed: 535 5.7.8 authentication credentials invalid (the server reports the token as "401")' ] ||
    diag "$(cat "$TESTDIR/err8")"
check "no token in any log line" no_tokens "$LOG"

done_testing
