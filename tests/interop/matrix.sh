# tests/interop/matrix.sh - the delivery matrix every interoperability test
# (tests/interop/NAME.sh) runs against its private server.
#
# Owns: the cases and what each checks. Source it after tests/interop/lib.sh;
# the server script starts its server, sets the variables below, defines
# iop_fetch, and calls run_matrix, which prints TAP (the plan last) and
# exits 0, or 1 when a check failed.
#
# The server script's side of the contract:
#   IOP_NAME            name in the test descriptions (exim, opensmtpd...)
#   IOP_HOST            host name the server certificate is valid for
#   IOP_STARTTLS_PORT   submission with STARTTLS (empty if none)
#   IOP_TLS_PORT        implicit TLS (empty if none)
#   IOP_NOPIPE_PORT     a port without PIPELINING (empty if none)
#   IOP_NOPIPE_TLS      starttls: STARTTLS and AUTH there as on the
#                       submission port; off: neither TLS nor AUTH there
#   IOP_CA              the CA that signed the server certificate
#   IOP_OTHER_CA        optional: a CA that did not (default: otherca.pem
#                       next to IOP_CA, else one made here)
#   IOP_WRONGNAME_PORT  optional: a port presenting a certificate for
#                       another name
#   IOP_USER IOP_PASS   the server's test account
#   IOP_MECHS           every SASL mechanism the server offers (uppercase)
#   IOP_FROM            optional envelope sender (default: sender@ the
#                       domain of IOP_RCPT; notifications may go there)
#   IOP_RCPT IOP_RCPT2  deliverable recipients (read back with iop_fetch)
#   IOP_REFUSED_RCPT    refused permanently (5xx) at RCPT
#   IOP_TEMPFAIL_RCPT   refused temporarily (4xx) at RCPT (empty if the
#                       server cannot; IOP_TEMPFAIL_WHY says why)
#   IOP_SIZE_LIMIT      the SIZE the server announces (bytes; 0 if none)
#   IOP_BIG_PORT        optional: a port (STARTTLS and AUTH as on the
#                       submission port) that takes 20 MB when
#                       IOP_SIZE_LIMIT is smaller
#   IOP_CHUNKING        yes|no: the server offers CHUNKING
#   IOP_DSN             yes|no: the server offers DSN
#   iop_fetch RCPT MARKER
#                       waits (bounded: ${IOP_FETCH_TIMEOUT:-20} seconds,
#                       0 = look once; iop_poll does this) for the message
#                       for RCPT whose body has the line MARKER and prints
#                       it exactly as stored; returns 1 when there is none,
#                       2 when there are several (iop_maildir_fetch of
#                       lib.sh implements this for a maildir)
#   iop_server_checks   optional: the server's own checks (its logs of
#                       the cases in $IOP_DIR/matrix/CASE), run last,
#                       printing with tap_ok / tap_not_ok
#   (nothing for the SOCKS5 case: matrix.sh starts its own Dante, see
#   iop_dante_start in lib.sh, and skips the case when there is none)
#   IOP_NO8BIT_PORT, IOP_NOUTF8_PORT (and their _WHY), iop_convert_account
#                       the ports without 8BITMIME and without SMTPUTF8
#                       for the conversion cases (tests/interop/
#                       convert-cases.sh, which matrix.sh sources)
#
# Each case has its own directory $IOP_DIR/matrix/CASE: a fresh client
# environment (iop_client_env), its smtprc (queue off unless the case says
# otherwise, a per-case queue_dir and logfile), the message, smtpfwd's
# stdout/stderr (-v transcript) and what was read back. Every case checks
# smtpfwd's exit status and what the server stored, or that it stored
# nothing: those checks run at the end, after a last good delivery has
# arrived (whatever a failed case might have let through would be there
# by then).

iop_mdir=
iop_not_stored=          # lines "CASE RCPT MARKER" checked at the end

. "$iop_here/interop/convert-cases.sh"

# iop_case NAME: start a case: $iop_c (name), $iop_cdir, a fresh client
# environment, $iop_marker (the body line that identifies its message).
iop_case() {
    iop_c=$1
    iop_cdir=$iop_mdir/$iop_c
    iop_client_env "$iop_cdir"
    iop_marker="smtpfwd-interop $IOP_NAME $iop_c $$"
    iop_rcfile=$iop_cdir/smtprc
}

# iop_account PORT LINES...: the case's smtprc, with TLS trusting IOP_CA,
# AUTH on with the test account, and the given lines last (later lines
# win).
iop_account() {
    iop_port=$1
    shift
    {
        echo "account default"
        echo "host $IOP_HOST"
        echo "port $iop_port"
        echo "from $IOP_FROM"
        echo "domain client.example.test"
        echo "timeout 60"
        echo "queue off"
        echo "queue_dir $iop_cdir/spool"
        echo "logfile $iop_cdir/log"
        echo "tls on"
        echo "tls_trust_file $IOP_CA"
        echo "auth on"
        echo "user $IOP_USER"
        echo "password \"$IOP_PASS\""
        for iop_line in "$@"; do echo "$iop_line"; done
    } >"$iop_rcfile"
    chmod 600 "$iop_rcfile"
}

# iop_submission LINES...: iop_account on the STARTTLS port, or on the
# implicit TLS port when there is none.
iop_submission() {
    if [ -n "$IOP_STARTTLS_PORT" ]; then
        iop_account "$IOP_STARTTLS_PORT" "$@"
    else
        iop_account "$IOP_TLS_PORT" "tls_starttls off" "$@"
    fi
}

# iop_message RCPTS [BODY-FILE]: the case's message in $iop_cdir/in, its body
# in $iop_cdir/body: a short body with a line that starts with a dot, a lone
# dot and 8-bit UTF-8 text, or BODY-FILE; the marker line first.
iop_message() {
    {
        printf 'From: Interop Sender <%s>\n' "$IOP_FROM"
        printf 'To: %s\n' "$1"
        printf 'Subject: smtpfwd interop %s %s\n' "$IOP_NAME" "$iop_c"
        printf 'Message-ID: <%s.%s.%s@client.example.test>\n' "$iop_c" "$IOP_NAME" "$$"
        printf 'Date: Mon, 02 Nov 2026 10:00:00 +0000\n'
        printf 'MIME-Version: 1.0\n'
        printf 'Content-Type: text/plain; charset=utf-8\n'
        printf 'Content-Transfer-Encoding: 8bit\n'
        printf '\n'
    } >"$iop_cdir/in"
    {
        printf '%s\n' "$iop_marker"
        if [ -n "${2:-}" ]; then
            cat "$2"
        else
            printf 'Case %s against %s.\n' "$iop_c" "$IOP_NAME"
            printf '.a line that starts with a dot\n'
            printf '.\n'
            printf 'Gr\303\274\303\237e, 8-bit text \342\202\254\n'
            printf '\n'
            printf 'last line\n'
        fi
    } >"$iop_cdir/body"
    cat "$iop_cdir/body" >>"$iop_cdir/in"
}

# iop_run ARGS...: smtpfwd -C smtprc ARGS < in, in the case's client
# environment; $iop_rs, $iop_err (stderr, the -v transcript), $iop_cdir/out.
iop_run() {
    # shellcheck disable=SC2086
    env -u DBUS_SESSION_BUS_ADDRESS $IOP_CLIENT_ENV timeout 600 \
        "$SMTPFWD" -C "$iop_rcfile" "$@" <"$iop_cdir/in" >"$iop_cdir/out" 2>"$iop_cdir/err"
    iop_rs=$?
    iop_err=$iop_cdir/err
}

# iop_flush_all: `smtpfwd -qf -v` with the case's configuration (its
# transcript in $iop_cdir/flush.err; the case's own run's is kept): it must
# exit 0 and leave the spool empty.
iop_flush_all() {
    # shellcheck disable=SC2086
    env -u DBUS_SESSION_BUS_ADDRESS $IOP_CLIENT_ENV timeout 120 \
        "$SMTPFWD" -C "$iop_rcfile" -qf -v >"$iop_cdir/flush.out" 2>"$iop_cdir/flush.err"
    iop_frs=$?
    if [ "$iop_frs" -eq 0 ]; then tap_ok "$(iop_t "the flush exits 0")"; else
        tap_not_ok "$(iop_t "the flush exits $iop_frs")"
        tap_file "$iop_cdir/flush.err"
    fi
    iop_left=$(count_in "$iop_cdir/spool/new")
    if [ "$iop_left" -eq 0 ]; then tap_ok "$(iop_t "the spool is empty after the flush")"; else
        tap_not_ok "$(iop_t "the spool is empty after the flush ($iop_left entries)")"
    fi
}

iop_t() {
    echo "$IOP_NAME: $iop_c: $*"
}

# iop_status N: smtpfwd exited N.
iop_status() {
    if [ "$iop_rs" -eq "$1" ]; then
        tap_ok "$(iop_t "exit status $1")"
    else
        tap_not_ok "$(iop_t "exit status $iop_rs, expected $1")"
        tap_file "$iop_err"
    fi
}

# iop_sent REGEX TEXT / iop_not_sent REGEX TEXT: the -v transcript has / has
# not a line matching the extended regular expression.
iop_sent() {
    if grep -q -E -e "$1" "$iop_err"; then tap_ok "$(iop_t "$2")"; else
        tap_not_ok "$(iop_t "$2")"
        tap_diag "no line matching /$1/ in the transcript:"
        grep -E '^(-->|<--|smtpfwd:)' "$iop_err" | head -30 | sed 's/^/#   /'
    fi
}
iop_not_sent() {
    if grep -q -E -e "$1" "$iop_err"; then
        tap_not_ok "$(iop_t "$2")"
        grep -E -e "$1" "$iop_err" | head -5 | sed 's/^/#   /'
    else tap_ok "$(iop_t "$2")"; fi
}

# iop_no_secret: the password is not in smtpfwd's output or log file.
iop_no_secret() {
    if grep -q -F -e "$IOP_PASS" "$iop_err" "$iop_cdir/out" "$iop_cdir/log" 2>/dev/null; then
        tap_not_ok "$(iop_t "the password is not shown")"
    else tap_ok "$(iop_t "the password is not shown")"; fi
}

# iop_stored RCPT [sum]: the server stored the case's message for RCPT
# exactly once, and its body (after the header section, which the server
# extends) is the body sent, byte for byte (or by SHA-256 with "sum").
iop_stored() {
    iop_r=$1
    iop_f=$iop_cdir/got.$iop_r
    iop_fetch "$iop_r" "$iop_marker" >"$iop_f" 2>"$iop_f.err"
    iop_frc=$?
    if [ "$iop_frc" -eq 2 ]; then
        tap_not_ok "$(iop_t "stored once for $iop_r")"
        tap_file "$iop_f.err"
        return
    elif [ "$iop_frc" -ne 0 ]; then
        tap_not_ok "$(iop_t "stored for $iop_r")"
        tap_file "$iop_f.err"
        return
    fi
    tap_ok "$(iop_t "stored once for $iop_r")"
    awk 'body { print } $0 == "" && !body { body = 1 }' "$iop_f" >"$iop_f.body"
    # awk adds a final newline the stored body might lack; the sent body
    # always ends with one, so compare the stored file's last byte too.
    if [ "$(tail -c 1 "$iop_f" | od -An -c | tr -d ' ')" != '\n' ]; then
        tap_not_ok "$(iop_t "the stored message ends with a newline")"
    fi
    if [ "${2:-}" = sum ]; then
        iop_s1=$(sha256sum <"$iop_cdir/body" | cut -d' ' -f1)
        iop_s2=$(sha256sum <"$iop_f.body" | cut -d' ' -f1)
        if [ "$iop_s1" = "$iop_s2" ]; then
            tap_ok "$(iop_t "body intact for $iop_r ($(wc -c <"$iop_cdir/body") bytes, SHA-256)")"
        else
            tap_not_ok "$(iop_t "body intact for $iop_r (SHA-256)")"
            tap_diag "sent $(wc -c <"$iop_cdir/body") bytes, stored $(wc -c <"$iop_f.body")"
            cmp "$iop_cdir/body" "$iop_f.body" 2>&1 | sed 's/^/#   /'
        fi
    elif cmp -s "$iop_cdir/body" "$iop_f.body"; then
        tap_ok "$(iop_t "body intact for $iop_r")"
    else
        tap_not_ok "$(iop_t "body intact for $iop_r")"
        diff "$iop_cdir/body" "$iop_f.body" | head -20 | sed 's/^/#   /'
    fi
    iop_n=$(awk '$0 == "" { exit } { print }' "$iop_f" |
        grep -c -x -F -e "Subject: smtpfwd interop $IOP_NAME $iop_c")
    if [ "$iop_n" -eq 1 ]; then tap_ok "$(iop_t "the Subject header once for $iop_r")"; else
        tap_not_ok "$(iop_t "the Subject header once for $iop_r (found $iop_n)")"
    fi
}

# iop_not_stored RCPT...: checked at the end (iop_check_not_stored).
iop_not_stored() {
    for iop_r in "$@"; do
        iop_not_stored="$iop_not_stored
$iop_c $iop_r $iop_marker"
    done
}

iop_check_not_stored() {
    while read -r iop_nc iop_nr iop_nm; do
        [ -n "$iop_nc" ] || continue
        IOP_FETCH_TIMEOUT=0 iop_fetch "$iop_nr" "$iop_nm" </dev/null >/dev/null 2>&1
        case $? in
        1) tap_ok "$IOP_NAME: $iop_nc: nothing stored for $iop_nr" ;;
        *) tap_not_ok "$IOP_NAME: $iop_nc: nothing stored for $iop_nr" ;;
        esac
    done <<EOF
$iop_not_stored
EOF
}

# iop_ehlo_has KEYWORD: the server's EHLO reply in the transcript (the
# last one, after STARTTLS) lists KEYWORD.
iop_ehlo_has() {
    grep -q -E -e "^<-- 250[- ]$1( |\$)" "$iop_err"
}

# iop_lockstep: in the -v transcript, every command after the greeting
# follows the last line of the reply to the one before it (nothing is sent
# ahead without PIPELINING: RFC 5321 section 4.1.4 / RFC 2920). QUIT
# comes after the reply to the final dot.
iop_lockstep() {
    awk '/^--> / { if (pend) print NR ": " last " ... " $0; pend = 1; last = $0; next }
         /^<-- [0-9][0-9][0-9]( |$)/ { pend = 0 }' "$iop_err" >"$iop_cdir/lockstep"
    if [ -s "$iop_cdir/lockstep" ]; then
        tap_not_ok "$(iop_t "each command waits for the reply to the one before")"
        tap_diag "sent before the reply to the previous command (line: previous ... next):"
        tap_file "$iop_cdir/lockstep"
    else
        tap_ok "$(iop_t "each command waits for the reply to the one before")"
    fi
}

# The no-PIPELINING port's account.
iop_nopipe_account() {
    if [ "${IOP_NOPIPE_TLS:-off}" = starttls ]; then
        iop_account "$IOP_NOPIPE_PORT" "$@"
    else
        iop_account "$IOP_NOPIPE_PORT" "tls off" "auth off" "$@"
    fi
}

# iop_gen_body KIB FILE: about KIB KiB of text lines, every seventh starts
# with a dot, every fifth has 8-bit UTF-8 text, some lines are 998 bytes.
iop_gen_body() {
    awk -v kib="$1" 'BEGIN {
        want = kib * 1024; n = 0; i = 0
        long = ""; for (k = 0; k < 99; k++) long = long "0123456789"
        long = long "abcdefgh"
        while (n < want) {
            i++
            if (i % 7 == 0) line = ".dot line " i " .. ."
            else if (i % 5 == 0) line = "line " i " Gr\303\274\303\237e \342\202\254 \303\251t\303\251 \360\237\223\247"
            else if (i % 997 == 0) line = long
            else if (i % 1009 == 0) line = "."
            else if (i % 211 == 0) line = ""
            else line = "line " i " of the generated body: the quick brown fox jumps over"
            print line
            n += length(line) + 1
        }
    }' >"$2"
}

# iop_socks_case HOST ACCOUNT-COMMAND [ARGS...]: the case socks-dante: one
# message through a SOCKS5 proxy (Dante, when it can be had: iop_dante_find)
# with the account ACCOUNT-COMMAND ARGS makes (the server's usual TLS mode;
# its host is HOST) plus the proxy: the smarthost sent to the proxy as
# written (a name is never resolved here), the certificate verified against
# it, the message stored. Skipped when there is no danted. Returns 0 when
# the message was sent, 1 when not (skipped, or Dante did not start).
iop_socks_case() {
    iop_sh=$1
    shift
    iop_case socks-dante
    if ! iop_dante_find; then
        tap_skip "no danted (dante-server is neither installed nor cached)" \
            "$(iop_t "through a SOCKS5 proxy")"
        return 1
    fi
    if ! iop_dante_start "$iop_cdir/dante" none; then
        tap_not_ok "$(iop_t "danted listens")"
        tap_file "$iop_cdir/dante/danted.log"
        return 1
    fi
    "$@" "proxy_host 127.0.0.1" "proxy_port $IOP_DANTE_PORT"
    iop_message "$IOP_RCPT"
    iop_run -v -v -i "$IOP_RCPT"
    iop_status 0
    iop_sent "^smtpfwd: SOCKS5: CONNECT $iop_sh port [0-9]+" "the smarthost sent to the proxy as written"
    iop_sent "^smtpfwd: SOCKS5: connected to $iop_sh port" "the proxy connected"
    iop_no_secret
    iop_stored "$IOP_RCPT"
    # The TLS session cache is keyed by the smarthost's name and port,
    # never the proxy's address: a second delivery through another Dante
    # (another port) offers the session the first one kept, when the
    # server gave one to keep (whether the server resumes it is its
    # choice: -v -v says "resumed from the cache" or "not resumed", both
    # only for a session that was offered).
    if ! find "$iop_cdir/home/.cache/smtpfwd/tls-sessions" -type f 2>/dev/null | grep -q .; then
        tap_skip "the server gave no TLS session to resume" \
            "$(iop_t "the kept TLS session offered through another proxy")"
        return 0
    fi
    iop_dante_start "$iop_cdir/dante2" none || {
        tap_not_ok "$(iop_t "a second danted listens")"
        return 0
    }
    "$@" "proxy_host 127.0.0.1" "proxy_port $IOP_DANTE_PORT"
    iop_marker="$iop_marker second"
    iop_message "$IOP_RCPT"
    iop_run -v -v -i "$IOP_RCPT"
    iop_status 0
    iop_sent "^smtpfwd: TLS session with $iop_sh (resumed from the cache|not resumed: full handshake)\$" \
        "the kept TLS session offered through another proxy"
    iop_stored "$IOP_RCPT"
    return 0
}

run_matrix() {
    : "${IOP_NAME:?}" "${IOP_HOST:=localhost}" "${IOP_CA:?}" "${IOP_USER:?}" "${IOP_PASS:?}"
    : "${IOP_RCPT:?}" "${IOP_RCPT2:?}" "${IOP_REFUSED_RCPT:?}"
    : "${IOP_STARTTLS_PORT:=}" "${IOP_TLS_PORT:=}" "${IOP_NOPIPE_PORT:=}" "${IOP_NOPIPE_TLS:=off}"
    : "${IOP_WRONGNAME_PORT:=}" "${IOP_TEMPFAIL_RCPT:=}" "${IOP_SIZE_LIMIT:=0}" "${IOP_BIG_PORT:=}"
    : "${IOP_CHUNKING:=no}" "${IOP_DSN:=no}" "${IOP_MECHS:=}"
    : "${IOP_FROM:=sender@${IOP_RCPT#*@}}"
    [ -n "$IOP_STARTTLS_PORT$IOP_TLS_PORT" ] || { echo "run_matrix: no TLS port" >&2; exit 99; }
    [ -x "$SMTPFWD" ] || { echo "run_matrix: $SMTPFWD is not built" >&2; exit 99; }
    iop_mdir=$IOP_DIR/matrix
    mkdir -p "$iop_mdir" || exit 99
    if [ -z "${IOP_OTHER_CA:-}" ]; then
        IOP_OTHER_CA=$(dirname "$IOP_CA")/otherca.pem
        if [ ! -f "$IOP_OTHER_CA" ]; then
            sh "$iop_here/certs.sh" "$iop_mdir/certs" >/dev/null 2>&1 || exit 99
            IOP_OTHER_CA=$iop_mdir/certs/otherca.pem
        fi
    fi
    # The mechanism for the CHUNKING cases: AUTH PLAIN is pipelined with
    # the MAIL group, which keeps DATA; any other mechanism does not.
    iop_chunk_mech=
    for iop_m in $IOP_MECHS; do
        [ "$iop_m" = PLAIN ] || { iop_chunk_mech=$iop_m; break; }
    done

    # 1. Every mechanism forced, and auth on, over STARTTLS (or implicit
    #    TLS when the server has no STARTTLS port).
    for iop_m in $IOP_MECHS on; do
        iop_lm=$(echo "$iop_m" | tr A-Z a-z)
        iop_case "auth-$iop_lm"
        iop_submission "auth $iop_lm"
        iop_message "$IOP_RCPT"
        iop_run -v -i "$IOP_RCPT"
        iop_status 0
        if [ "$iop_m" = on ]; then
            iop_sent '^--> AUTH [A-Z0-9-]+' "AUTH sent"
        else
            iop_sent "^--> AUTH $iop_m( |\$)" "AUTH $iop_m sent"
        fi
        iop_sent '^<-- 235' "the server accepted the credentials"
        [ -n "$IOP_STARTTLS_PORT" ] && iop_sent '^--> STARTTLS$' "STARTTLS used"
        iop_no_secret
        iop_stored "$IOP_RCPT"
    done

    # 2. Implicit TLS.
    iop_case implicit-tls
    if [ -n "$IOP_TLS_PORT" ]; then
        iop_account "$IOP_TLS_PORT" "tls_starttls off"
        iop_message "$IOP_RCPT"
        iop_run -v -i "$IOP_RCPT"
        iop_status 0
        iop_not_sent '^--> STARTTLS' "no STARTTLS on the implicit TLS port"
        iop_stored "$IOP_RCPT"
    else
        tap_skip "the server has no implicit TLS port" "$(iop_t "implicit TLS")"
    fi

    # 3. The port without PIPELINING: a delivery to two recipients, and a
    #    partial refusal (queue off: 67, the good recipient gets it once).
    #    The transcript must show each command after the reply to the one
    #    before (OpenSMTPD also refuses commands sent ahead; Exim lets a
    #    QUIT sent with the final dot through).
    for iop_cc in nopipe nopipe-partial; do
        iop_case "$iop_cc"
        if [ -z "$IOP_NOPIPE_PORT" ]; then
            tap_skip "the server has no port without PIPELINING" "$(iop_t "delivery without PIPELINING")"
            continue
        fi
        iop_nopipe_account
        if [ "$iop_cc" = nopipe ]; then
            iop_message "$IOP_RCPT, $IOP_RCPT2"
            iop_run -v -i "$IOP_RCPT" "$IOP_RCPT2"
            iop_status 0
            if iop_ehlo_has PIPELINING; then
                tap_not_ok "$(iop_t "the server does not offer PIPELINING there")"
            else
                tap_ok "$(iop_t "the server does not offer PIPELINING there")"
            fi
            iop_lockstep
            iop_stored "$IOP_RCPT"
            iop_stored "$IOP_RCPT2"
        else
            iop_message "$IOP_RCPT, $IOP_REFUSED_RCPT"
            iop_run -v -i "$IOP_RCPT" "$IOP_REFUSED_RCPT"
            iop_status 67
            iop_sent "^smtpfwd: .*$IOP_REFUSED_RCPT.*5[0-9][0-9]" "the refusal is reported with the server's reply"
            iop_lockstep
            iop_stored "$IOP_RCPT"
            iop_not_stored "$IOP_REFUSED_RCPT"
        fi
    done

    # 4. Wrong password: 77, nothing delivered.
    iop_case wrong-password
    iop_submission "password \"not-$IOP_PASS\""
    iop_message "$IOP_RCPT"
    iop_run -v -i "$IOP_RCPT"
    iop_status 77
    iop_sent '^smtpfwd: .*5[0-9][0-9]' "the server's refusal is quoted"
    iop_not_sent '^--> BDAT|bytes of message data' "no message data sent"
    iop_not_stored "$IOP_RCPT"

    # 5. Certificates that must not be accepted: 77 before AUTH, nothing
    #    delivered. Unknown CA: the system store (no tls_trust_file), and
    #    another CA; a name the certificate does not carry. A machine
    #    without a system store (a fresh Debian without ca-certificates)
    #    makes the first a configuration error: 78, saying what to set.
    iop_store_cas=$(system_trust_anchors) || exit 99
    for iop_cc in unknown-ca-system unknown-ca-other wrong-name wrong-name-port; do
        iop_want=77
        iop_case "$iop_cc"
        case $iop_cc in
        unknown-ca-system)
            iop_submission "tls_trust_file system"
            [ "$iop_store_cas" -gt 0 ] || iop_want=78 ;;
        unknown-ca-other) iop_submission "tls_trust_file $IOP_OTHER_CA" ;;
        wrong-name) iop_submission "host 127.0.0.1" "tls_host_override mx.other.example" ;;
        wrong-name-port)
            if [ -z "$IOP_WRONGNAME_PORT" ]; then
                tap_skip "no port with a certificate for another name" "$(iop_t "wrong certificate name")"
                continue
            fi
            iop_account "$IOP_WRONGNAME_PORT" ;;
        esac
        iop_message "$IOP_RCPT"
        iop_run -v -i "$IOP_RCPT"
        iop_status "$iop_want"
        iop_sent '^smtpfwd: .*(certificate|trust|issuer|host ?name)' "the certificate problem is named"
        iop_not_sent '^--> AUTH' "no AUTH sent"
        iop_not_sent '^--> MAIL' "no MAIL sent"
        iop_no_secret
        iop_not_stored "$IOP_RCPT"
    done

    # 6. 200 KB with dot lines and 8-bit text, compared byte for byte.
    iop_case body-200k
    iop_gen_body 200 "$iop_cdir/gen"
    iop_submission
    iop_message "$IOP_RCPT" "$iop_cdir/gen"
    iop_run -i "$IOP_RCPT"
    iop_status 0
    iop_stored "$IOP_RCPT"

    # 7. Partial refusal with queue off: 67, the good recipient gets it
    #    exactly once, the refusal is reported.
    iop_case partial-refusal
    iop_submission
    iop_message "$IOP_RCPT, $IOP_REFUSED_RCPT"
    iop_run -v -i "$IOP_REFUSED_RCPT" "$IOP_RCPT"
    iop_status 67
    iop_sent "^smtpfwd: .*$IOP_REFUSED_RCPT.*5[0-9][0-9]" "the refusal is reported with the server's reply"
    iop_stored "$IOP_RCPT"
    iop_not_stored "$IOP_REFUSED_RCPT"

    # 8. Above the announced SIZE: 65, nothing sent.
    iop_case too-big
    if [ "$IOP_SIZE_LIMIT" -gt 0 ]; then
        iop_gen_body $((IOP_SIZE_LIMIT / 1024 + 8)) "$iop_cdir/gen"
        iop_submission
        iop_message "$IOP_RCPT" "$iop_cdir/gen"
        iop_run -v -i "$IOP_RCPT"
        iop_status 65
        iop_sent "^<-- 250[- ]SIZE $IOP_SIZE_LIMIT\$" "the server announces SIZE $IOP_SIZE_LIMIT"
        iop_not_sent '^--> (MAIL|DATA|BDAT)' "no transaction started"
        iop_not_stored "$IOP_RCPT"
    else
        tap_skip "the server announces no SIZE limit" "$(iop_t "message above SIZE")"
    fi

    # 9. CHUNKING on (BDAT when the server offers it) and off (DATA).
    for iop_cc in chunking-on chunking-off; do
        iop_case "$iop_cc"
        if [ -z "$iop_chunk_mech" ] && [ "$IOP_CHUNKING" = yes ]; then
            tap_skip "only AUTH PLAIN, which keeps DATA" "$(iop_t "CHUNKING")"
            continue
        fi
        iop_m=$(echo "${iop_chunk_mech:-on}" | tr A-Z a-z)
        if [ "$iop_cc" = chunking-on ]; then iop_submission "auth $iop_m" "chunking on"; else
            iop_submission "auth $iop_m" "chunking off"
        fi
        iop_message "$IOP_RCPT"
        iop_run -v -i "$IOP_RCPT"
        iop_status 0
        if iop_ehlo_has CHUNKING; then iop_offered=yes; else iop_offered=no; fi
        if [ "$iop_offered" = "$IOP_CHUNKING" ]; then
            tap_ok "$(iop_t "CHUNKING offered: $iop_offered")"
        else
            tap_not_ok "$(iop_t "CHUNKING offered: $iop_offered, expected $IOP_CHUNKING")"
        fi
        if [ "$iop_cc" = chunking-on ] && [ "$IOP_CHUNKING" = yes ]; then
            iop_sent '^--> BDAT [0-9]+ LAST$' "BDAT LAST sent"
            iop_not_sent '^--> DATA$' "no DATA"
        else
            iop_sent '^--> DATA$' "DATA sent"
            iop_not_sent '^--> BDAT' "no BDAT"
        fi
        iop_stored "$IOP_RCPT"
    done

    # 10. DSN parameters: accepted and delivered when offered, else 69
    #     before any transaction.
    iop_case dsn
    iop_submission
    iop_message "$IOP_RCPT"
    iop_run -v -i -N success,failure -R hdrs -V "iop.$IOP_NAME.$$" "$IOP_RCPT"
    if [ "$IOP_DSN" = yes ]; then
        iop_status 0
        iop_sent "^--> MAIL FROM:<$IOP_FROM>.* RET=HDRS" "MAIL FROM with RET=HDRS"
        iop_sent "^--> MAIL FROM:<$IOP_FROM>.* ENVID=iop\\.$IOP_NAME\\.$$" "MAIL FROM with ENVID"
        iop_sent "^--> RCPT TO:<$IOP_RCPT>.* NOTIFY=SUCCESS,FAILURE" "RCPT TO with NOTIFY"
        iop_stored "$IOP_RCPT"
    else
        iop_status 69
        iop_not_sent '^--> MAIL' "no MAIL sent"
        iop_not_stored "$IOP_RCPT"
    fi

    # 11. 4xx at RCPT (with a good recipient): queue off exits 75 and
    #     queues nothing; queue on-failure exits 0 with the message in the
    #     spool for the deferred recipient only. The good one gets it once.
    for iop_cc in tempfail-queue-off tempfail-queue-on; do
        iop_case "$iop_cc"
        if [ -z "$IOP_TEMPFAIL_RCPT" ]; then
            tap_skip "${IOP_TEMPFAIL_WHY:-the server cannot defer a recipient}" "$(iop_t "4xx at RCPT")"
            continue
        fi
        if [ "$iop_cc" = tempfail-queue-off ]; then iop_submission; else
            iop_submission "queue on-failure"
        fi
        iop_message "$IOP_RCPT, $IOP_TEMPFAIL_RCPT"
        iop_run -v -i "$IOP_TEMPFAIL_RCPT" "$IOP_RCPT"
        iop_sent "^<-- 4[0-9][0-9]" "the server answers 4xx"
        iop_n=$(count_in "$iop_cdir/spool/new")
        if [ "$iop_cc" = tempfail-queue-off ]; then
            iop_status 75
            iop_sent "^smtpfwd: .*$IOP_TEMPFAIL_RCPT.*4[0-9][0-9]" "the deferral is reported"
            if [ "$iop_n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
                tap_not_ok "$(iop_t "nothing queued ($iop_n entries)")"
            fi
        else
            iop_status 0
            if [ "$iop_n" -eq 1 ]; then
                tap_ok "$(iop_t "one entry in the spool")"
                iop_e=$(find "$iop_cdir/spool/new" -type f | head -1)
                if [ "$(grep -c '^rcpt: ' "$iop_e")" -eq 1 ] &&
                    grep -q -x -F "rcpt: pending $IOP_TEMPFAIL_RCPT" "$iop_e"; then
                    tap_ok "$(iop_t "the entry waits for $IOP_TEMPFAIL_RCPT only")"
                else
                    tap_not_ok "$(iop_t "the entry waits for $IOP_TEMPFAIL_RCPT only")"
                    sed -n '1,/^$/p' "$iop_e" | sed 's/^/#   /'
                fi
            else
                tap_not_ok "$(iop_t "one entry in the spool ($iop_n)")"
            fi
        fi
        iop_stored "$IOP_RCPT"
        iop_not_stored "$IOP_TEMPFAIL_RCPT"
    done

    # 12. 20 MB, compared by checksum.
    iop_case big-20m
    iop_big_port=
    if [ -n "$IOP_BIG_PORT" ]; then iop_big_port=$IOP_BIG_PORT
    elif [ "$IOP_SIZE_LIMIT" -eq 0 ] || [ "$IOP_SIZE_LIMIT" -gt 22000000 ]; then
        iop_big_port=${IOP_STARTTLS_PORT:-}
    fi
    if [ -n "$iop_big_port" ]; then
        iop_gen_body 20480 "$iop_cdir/gen"
        iop_account "$iop_big_port"
        iop_message "$IOP_RCPT" "$iop_cdir/gen"
        rm -f "$iop_cdir/gen"
        iop_run -i "$IOP_RCPT"
        iop_status 0
        iop_stored "$IOP_RCPT" sum
        rm -f "$iop_cdir"/got.* "$iop_cdir/in" "$iop_cdir/body"
    else
        tap_skip "no port takes 20 MB" "$(iop_t "20 MB message")"
    fi

    # 13. Conversion for a server without 8BITMIME or SMTPUTF8: what it
    #     stores decodes to what was sent (convert-cases.sh).
    iop_convert_cases

    # 14. Through a SOCKS5 proxy (Dante): iop_socks_case.
    iop_socks_case "$IOP_HOST" iop_submission || :

    # 15. A last delivery; then nothing of the failed cases may be stored.
    iop_case final
    iop_submission
    iop_message "$IOP_RCPT"
    iop_run -i "$IOP_RCPT"
    iop_status 0
    iop_stored "$IOP_RCPT"
    iop_check_not_stored
    if command -v iop_server_checks >/dev/null 2>&1; then
        iop_server_checks
    fi
    tap_done
}
