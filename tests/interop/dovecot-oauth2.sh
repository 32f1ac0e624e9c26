#!/bin/sh
# tests/interop/dovecot-oauth2.sh - XOAUTH2 and OAUTHBEARER against a real
# server that validates bearer tokens: Dovecot's submission service with
# an `oauth2` passdb, which asks the fake authorization server
# (tests/oauth2-server.py) about every token by RFC 7662 introspection
# over HTTPS (the test CA), and relays accepted mail to a private Postfix
# that stores it (tests/interop/postfix-backend.sh), from where it is read
# back.
#
# Owns: that Dovecot instance, the fake provider it trusts, and the cases:
#  (1) tokens fetched by curl (the whole PKCE flow, no smtpfwd) and given
#      to smtpfwd through `passwordeval`: XOAUTH2 and OAUTHBEARER deliver
#      (Dovecot logs the mechanism, the provider counts the
#      introspection); a token the provider revoked: 77, nothing stored.
#  (2) smtpfwd's own OAuth2 (`oauth2_provider generic`; the refresh token
#      file written by hand in the documented format): the first delivery
#      refreshes once and caches the token (0600), the next ones use the
#      cache (no /token request), with both mechanisms; an expired cached
#      token: exactly one refresh, delivered; a cached token the provider
#      revoked (the cache says it is valid): Dovecot refuses it, smtpfwd
#      refreshes and authenticates again in the same session, delivered
#      once; an access token of 2000 characters (a JWT) is delivered with
#      both mechanisms (no AUTH line longer than Dovecot takes); a revoked
#      refresh token: 77 with the --authorize hint, nothing
#      stored or queued; the token endpoint down: queue on-failure spools
#      (exit 0, one entry), queue off exits 75; the endpoint back, -qf
#      delivers the entry once. No token appears in -v output or log.
# TAP; skipped ("1..0 # SKIP") when not root, or Postfix, Dovecot, its
# submission service, certtool, python3 or curl are missing; the part
# (2) is skipped when smtpfwd is built without OAuth2.
set -u
IOP_NAME=dovecot-oauth2
iop_dir=${top_srcdir:+$top_srcdir/tests/interop}
iop_dir=${iop_dir:-$(dirname "$0")}
. "$iop_dir/lib.sh"
. "$iop_dir/matrix.sh"
. "$iop_dir/postfix-backend.sh"
. "$iop_dir/../oauth2-lib.sh"

iop_need_root
iop_need_program postfix dovecot certtool curl "$PYTHON"
id dovecot >/dev/null 2>&1 && id dovenull >/dev/null 2>&1 ||
    skip "$IOP_NAME: the dovecot/dovenull users are missing"
dv_libexec=
for d in /usr/lib/dovecot /usr/libexec/dovecot; do
    [ -x "$d/submission" ] && [ -x "$d/submission-login" ] && { dv_libexec=$d; break; }
done
[ -n "$dv_libexec" ] || skip "$IOP_NAME: Dovecot's submission service is not installed (dovecot-submissiond)"

iop_tmpdir
iop_certs
CERTS=$IOP_CERTS
PF_DIR=$IOP_DIR/pf
PF_CERT=$IOP_CERTS/server.pem PF_KEY=$IOP_CERTS/server-key.pem PF_CA=$IOP_CERTS/ca.pem
pf_prepare
iop_on_exit pf_halt

ports=$(iop_free_ports 2) || exit 99
set -- $ports
relay=$1 sub=$2

# The backend: plain SMTP on loopback, mail from 127.0.0.1 only.
pfb_setup
{
    pf_main_cf
    pfb_main_cf
    cat <<EOC
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = $PFB_RCPT_ACCESS,
    permit_mynetworks, reject
EOC
} >"$PF_DIR/etc/main.cf"
{
    cat <<EOC
127.0.0.1:$relay inet n - n - - smtpd
  -o smtpd_tls_security_level=none
EOC
    pf_master_cf
} >"$PF_DIR/etc/master.cf"
pf_launch "$relay"

# The provider. Its tokens: P-access-N, P-refresh-N.
OAUTH2_STATE=$IOP_DIR/oauth2
P=dvo$$
oauth2_server_start --prefix "$P"
iop_on_exit oauth2_server_stop

# Dovecot: submission only, XOAUTH2 and OAUTHBEARER through the oauth2
# passdb, whose token check is the provider's introspection (POST
# token=...; "active": true required; the user is its "username").
IOP_USER=alice
dv=$IOP_DIR/dovecot
mkdir -p "$dv/home" "$dv/state" || exit 99
chown nobody "$dv/home"
cat >"$dv/oauth2.conf.ext" <<EOC
introspection_mode = post
introspection_url = $OAUTH2_URL/introspect
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $IOP_CERTS/ca.pem
EOC
chmod 644 "$dv/oauth2.conf.ext"
cat >"$dv/dovecot.conf" <<EOC
base_dir = $PF_DIR/dovecot
state_dir = $dv/state
log_path = $dv/dovecot.log
instance_name = smtpfwd-iop-oauth2-$$
protocols = submission
hostname = submit.x.test
ssl = yes
ssl_cert = <$IOP_CERTS/server.pem
ssl_key = <$IOP_CERTS/server-key.pem
disable_plaintext_auth = yes
auth_mechanisms = xoauth2 oauthbearer
auth_verbose = yes
auth_debug = yes
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dv/oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dv/home/%n
}
mail_location = maildir:~/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = $relay
submission_relay_ssl = no
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $sub
  }
}
default_login_user = dovenull
default_internal_user = dovecot
EOC
dovecot -c "$dv/dovecot.conf" 2>"$dv/start.err" ||
    { cat "$dv/start.err" "$dv/dovecot.log" 2>/dev/null; exit 99; }
iop_wait_listen "$sub" || { cat "$dv/dovecot.log"; exit 99; }

IOP_HOST=localhost
IOP_CA=$IOP_CERTS/ca.pem
IOP_RCPT=alice@x.test
IOP_FROM=sender@x.test
iop_mdir=$IOP_DIR/cases

# dvo_case NAME: a case (iop_case's variables) in the current client
# environment $dvo_env, which the cases of one part share (the token
# files live there).
dvo_case() {
    iop_c=$1
    iop_cdir=$iop_mdir/$iop_c
    mkdir -p "$iop_cdir" || exit 99
    iop_marker="smtpfwd-interop $IOP_NAME $iop_c $$"
    iop_rcfile=$iop_cdir/smtprc
}
# dvo_env DIR: a fresh client environment, and the XDG directories of
# oauth2-lib.sh's token-file helpers pointing into it.
dvo_env() {
    iop_client_env "$1"
    XDG_DATA_HOME=$1/home/.data XDG_CACHE_HOME=$1/home/.cache
    dvo_cache=$XDG_CACHE_HOME/smtpfwd/oauth2/$(oauth2_key)
}
# dvo_account MECH LINES...: the case's smtprc: STARTTLS to Dovecot with
# the test CA, AUTH MECH as alice, then LINES.
dvo_account() {
    {
        echo "account default"
        echo "host $IOP_HOST"
        echo "port $sub"
        echo "from $IOP_FROM"
        echo "domain client.example.test"
        echo "timeout 60"
        echo "queue off"
        echo "queue_dir $iop_cdir/spool"
        echo "logfile $iop_cdir/log"
        echo "tls on"
        echo "tls_trust_file $IOP_CA"
        echo "auth $1"
        echo "user $IOP_USER"
        shift
        for l in "$@"; do echo "$l"; done
    } >"$iop_rcfile"
    chmod 600 "$iop_rcfile"
}
# dvo_builtin MECH LINES...: dvo_account with smtpfwd's own OAuth2.
dvo_builtin() {
    dvo_m=$1
    shift
    dvo_account "$dvo_m" "oauth2_provider generic" "oauth2_client_id $OAUTH2_CLIENT_ID" \
        "oauth2_scope mail" "oauth2_auth_endpoint $OAUTH2_URL/authorize" \
        "oauth2_token_endpoint $OAUTH2_URL/token" "oauth2_tls_trust_file $IOP_CA" \
        "oauth2_token_store file" "$@"
}
# dvo_count KEY: the provider's count, as a number ("?" unreachable).
dvo_count() {
    oauth2_count "$1"
}
# dvo_no_token TOKEN...: no TOKEN appears in smtpfwd's stdout, -v
# transcript or log file, nor the base64 form of the XOAUTH2 / OAUTHBEARER
# message that carries it.
dvo_no_token() {
    for t in "$@"; do
        for form in "$t" \
            "$(printf 'user=%s\001auth=Bearer %s\001\001' "$IOP_USER" "$t" | base64 -w0)" \
            "$(printf 'n,a=%s,\001host=%s\001port=%s\001auth=Bearer %s\001\001' "$IOP_USER" \
                "$IOP_HOST" "$sub" "$t" | base64 -w0)" \
            "$(printf 'n,a=%s,\001host=%s\001auth=Bearer %s\001\001' "$IOP_USER" "$IOP_HOST" "$t" |
                base64 -w0)"; do
            if grep -q -F -e "$form" "$iop_cdir/err" "$iop_cdir/out" "$iop_cdir/log" \
                "$iop_cdir/flush.err" 2>/dev/null; then
                tap_not_ok "$(iop_t "no token in the output or log ($t found)")"
                return
            fi
        done
    done
    tap_ok "$(iop_t "no token in the output or log")"
}
# dvo_logged MECH: Dovecot logged a login of alice with MECH for the
# session that relayed the case's message.
dvo_logged() {
    dvo_id=$(awk '$0 == "" { exit }
        /^Received: / { r = 0 } /^[ \t]+by submit\.x\.test with ESMTPSA$/ { r = 1; next }
        r && /^[ \t]+id [^ ]+$/ { print $2; exit }' "$iop_cdir/got.$IOP_RCPT" 2>/dev/null)
    dvo_s=$(grep -F -e "Successfully relayed message: " "$dv/dovecot.log" | grep -F -e " id=$dvo_id," |
        sed -n 's/^.* submission([^)]*)<[0-9]*><\([^>]*\)>: .*$/\1/p' | head -1)
    if [ -n "$dvo_id" ] && [ -n "$dvo_s" ] &&
        grep -F -e "Login: user=<$IOP_USER>, method=$1, " "$dv/dovecot.log" | grep -q -F -e "session=<$dvo_s>"; then
        tap_ok "$(iop_t "Dovecot logged method=$1 for the session")"
    else
        tap_not_ok "$(iop_t "Dovecot logged method=$1 for the session (id '$dvo_id', session '$dvo_s')")"
    fi
}
# dvo_auths N: the -v transcript has N AUTH commands over one connection
# (one greeting).
dvo_auths() {
    dvo_na=$(grep -c -E '^--> AUTH ' "$iop_err")
    dvo_ng=$(grep -c -E '^<-- 220[ -]' "$iop_err")
    # The greeting and STARTTLS's "220 ready" both start with 220.
    if [ "$dvo_na" -eq "$1" ] && [ "$dvo_ng" -le 2 ]; then
        tap_ok "$(iop_t "$1 AUTH command(s) in one session")"
    else
        tap_not_ok "$(iop_t "$1 AUTH command(s) in one session (saw $dvo_na AUTH, $dvo_ng 220 replies)")"
        grep -E '^(-->|<--|smtpfwd:)' "$iop_err" | head -40 | sed 's/^/#   /'
    fi
}
# dvo_expect_count KEY WANT TEXT
dvo_expect_count() {
    dvo_got=$(dvo_count "$1")
    if [ "$dvo_got" = "$2" ]; then tap_ok "$(iop_t "$3")"; else
        tap_not_ok "$(iop_t "$3 (the provider counted $dvo_got, expected $2)")"
    fi
}
# dvo_nothing_queued
dvo_nothing_queued() {
    dvo_n=$(count_in "$iop_cdir/spool/new")
    if [ "$dvo_n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
        tap_not_ok "$(iop_t "nothing queued ($dvo_n entries)")"
    fi
}

# ---- (1) tokens from curl, through passwordeval ----
dvo_env "$IOP_DIR/client-eval"
oauth2_curl_tokens >"$IOP_DIR/curl-tokens.json" 2>"$IOP_DIR/curl-tokens.err" ||
    { tap_not_ok "$IOP_NAME: curl fetches tokens from the provider"; tap_file "$IOP_DIR/curl-tokens.err"; tap_done; }
at=$(oauth2_json access_token <"$IOP_DIR/curl-tokens.json")
tap_check "$IOP_NAME: curl fetches tokens from the provider ($at)" [ "$at" = "$P-access-1" ]
printf '%s\n' "$at" >"$IOP_DIR/token"
chmod 644 "$IOP_DIR/token"
for m in XOAUTH2 OAUTHBEARER; do
    lm=$(echo "$m" | tr A-Z a-z)
    dvo_case "eval-$lm"
    n0=$(dvo_count introspect:active)
    dvo_account "$lm" "passwordeval cat $IOP_DIR/token"
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 0
    iop_stored "$IOP_RCPT"
    dvo_logged "$m"
    dvo_expect_count introspect:active $((n0 + 1)) "Dovecot asked the provider once"
done
oauth2_ctl revoke-access >/dev/null
dvo_case eval-revoked
dvo_account xoauth2 "passwordeval cat $IOP_DIR/token"
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 77
iop_sent '^<-- 5[0-9][0-9] ' "Dovecot refuses the revoked token with a 5xx"
iop_not_stored "$IOP_RCPT"

# ---- (2) smtpfwd's own OAuth2 ----
if ! "$SMTPFWD" --version 2>/dev/null | grep -q 'OAuth2 ('; then
    tap_skip "smtpfwd is built without OAuth2 support" "$IOP_NAME: smtpfwd's own OAuth2"
    iop_check_not_stored
    tap_done
fi
dvo_env "$IOP_DIR/client-builtin"
oauth2_ctl reset-counts >/dev/null
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
oauth2_store_refresh "$rt"
tokens_seen="$rt"

# b-first: no cache: one refresh, then delivered; the cache is 0600.
dvo_case b-first
dvo_builtin xoauth2
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 0
iop_stored "$IOP_RCPT"
dvo_logged XOAUTH2
dvo_expect_count token:refresh_token 1 "exactly one refresh"
at1=$(oauth2_ctl tokens | oauth2_json last_access)
tokens_seen="$tokens_seen $at1"
if [ -f "$dvo_cache" ] && [ "$(stat -c %a "$dvo_cache")" = 600 ] &&
    [ "$(oauth2_json access_token <"$dvo_cache")" = "$at1" ]; then
    tap_ok "$(iop_t "the cache (0600) holds the token the provider issued")"
else
    tap_not_ok "$(iop_t "the cache (0600) holds the token the provider issued ($at1)")"
    ls -l "$dvo_cache" 2>&1 | sed 's/^/#   /'
fi
dvo_no_token $tokens_seen

# b-cached-*: the cache serves both mechanisms; no /token request.
for m in XOAUTH2 OAUTHBEARER; do
    lm=$(echo "$m" | tr A-Z a-z)
    dvo_case "b-cached-$lm"
    dvo_builtin "$lm"
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 0
    iop_stored "$IOP_RCPT"
    dvo_logged "$m"
    dvo_expect_count token:refresh_token 1 "the cached token is used (no refresh)"
    dvo_no_token $tokens_seen
done

# b-expired: the cached token expired (its expires_at passed; the provider
# expired it too): exactly one refresh, delivered.
dvo_case b-expired
oauth2_ctl expire-access >/dev/null
oauth2_store_cache "$at1" $(( $(date +%s) - 10 ))
dvo_builtin xoauth2
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 0
iop_stored "$IOP_RCPT"
dvo_expect_count token:refresh_token 2 "exactly one refresh"
dvo_auths 1
at2=$(oauth2_ctl tokens | oauth2_json last_access)
tokens_seen="$tokens_seen $at2"
dvo_no_token $tokens_seen

# b-refused: the provider revoked the cached token, the cache still says
# it is valid for an hour: Dovecot refuses it (introspection inactive),
# smtpfwd refreshes once and authenticates again in the same session.
for m in XOAUTH2 OAUTHBEARER; do
    lm=$(echo "$m" | tr A-Z a-z)
    dvo_case "b-refused-$lm"
    oauth2_ctl revoke-access >/dev/null
    n0=$(dvo_count token:refresh_token)
    dvo_builtin "$lm"
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 0
    iop_stored "$IOP_RCPT"
    dvo_logged "$m"
    dvo_expect_count token:refresh_token $((n0 + 1)) "exactly one refresh"
    dvo_auths 2
    iop_sent '^<-- 334 ' "Dovecot's error challenge (334) for the refused token"
    tokens_seen="$tokens_seen $(oauth2_ctl tokens | oauth2_json last_access)"
    dvo_no_token $tokens_seen
done

# b-long-*: access tokens as long as the JWTs Microsoft issues (2000
# characters): the AUTH command line must stay within SMTP's limit (RFC
# 4954 section 4: then no initial response; the token follows the 334),
# which Dovecot enforces ("500 5.5.2 Line too long").
oauth2_ctl set access_pad=2000 >/dev/null
for m in XOAUTH2 OAUTHBEARER; do
    lm=$(echo "$m" | tr A-Z a-z)
    dvo_case "b-long-$lm"
    oauth2_store_cache "$P-none" $(( $(date +%s) - 10 ))
    dvo_builtin "$lm"
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 0
    iop_not_sent '^<-- 500 5\.5\.2' "Dovecot does not find the AUTH line too long"
    iop_sent '^--> AUTH '"$m"'$' "AUTH $m without an initial response (the token follows the 334)"
    iop_stored "$IOP_RCPT"
    dvo_logged "$m"
    tokens_seen="$tokens_seen $(oauth2_ctl tokens | oauth2_json last_access)"
    dvo_no_token $tokens_seen
done
oauth2_ctl set access_pad=0 >/dev/null

# b-revoked: the refresh token revoked, the cache expired: 77 with the
# --authorize hint; nothing sent to Dovecot's AUTH, stored or queued.
dvo_case b-revoked
oauth2_ctl revoke-refresh >/dev/null
oauth2_store_cache "$P-none" $(( $(date +%s) - 10 ))
dvo_builtin xoauth2 "queue on-failure"
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 77
iop_sent '^smtpfwd: .*smtpfwd --authorize default' "the message says to run smtpfwd --authorize default"
dvo_nothing_queued
iop_not_stored "$IOP_RCPT"

# b-down: a new refresh token, the cache expired, the provider stopped:
# queue off: 75, nothing queued; queue on-failure: 0 and one entry; the
# provider back, -qf delivers it once and empties the spool.
rt=$(oauth2_ctl issue | oauth2_json refresh_token)
tokens_seen="$tokens_seen $rt"
oauth2_store_refresh "$rt"
oauth2_store_cache "$P-none" $(( $(date +%s) - 10 ))
oauth2_server_stop
dvo_case b-down
dvo_builtin xoauth2
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 75
dvo_nothing_queued
iop_not_stored "$IOP_RCPT"
dvo_case b-down-queue
dvo_builtin xoauth2 "queue on-failure"
iop_message "$IOP_RCPT"
iop_run -v -i "$IOP_RCPT"
iop_status 0
e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
if [ "$(count_in "$iop_cdir/spool/new")" -eq 1 ] && grep -q -x -F "rcpt: pending $IOP_RCPT" "$e"; then
    tap_ok "$(iop_t "queued for $IOP_RCPT")"
else
    tap_not_ok "$(iop_t "queued for $IOP_RCPT ($(count_in "$iop_cdir/spool/new") entries)")"
    tap_file "$iop_err"
fi
oauth2_server_start
iop_flush_all
iop_stored "$IOP_RCPT"
tokens_seen="$tokens_seen $(oauth2_ctl tokens | oauth2_json last_access)"
dvo_no_token $tokens_seen

iop_check_not_stored
tap_done
