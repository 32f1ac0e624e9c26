# tests/interop/postfix-backend.sh - what the interoperability tests with a
# private Postfix as the mail store share (postfix-cyrus.sh, where Postfix
# is the server smtpfwd talks to, and dovecot-submission.sh, where Dovecot
# relays to it).
#
# Owns: the recipients and their maildirs, the refusals Postfix makes on
# purpose, iop_fetch for them, and the cases of a message refused or
# deferred at the end of its data. Source it after tests/interop/lib.sh
# and matrix.sh, then after pf_prepare (tests/postfix-lib.sh):
#   pfb_setup       maildirs for alice@, bob@ and sender@x.test, the maps
#                   below; defines iop_fetch (the recipient's maildir)
#   pfb_main_cf     prints the main.cf lines that use them:
#                   - virtual mailboxes for the three recipients (anyone
#                     else @x.test is unknown: 550 at RCPT)
#                   - check_recipient_access (put $PFB_RCPT_ACCESS first
#                     in smtpd_recipient_restrictions): nobody@x.test is
#                     refused with 550, later@x.test deferred with 450
#                   - header_checks: a Subject with "eod-refuse" is refused
#                     with 550 at the end of data, one with "eod-defer"
#                     deferred with 451 (cleanup answers for the message,
#                     after DATA's final dot or BDAT LAST)
#   pfb_eod_cases ACCOUNT-FN SERVER
#                   the end-of-data cases (TAP), each with DATA and with
#                   BDAT: ACCOUNT-FN LINES... writes the case's smtprc
#                   (iop_submission); SERVER names who answers in the
#                   test names
# POSIX sh.

pfb_setup() {
    for u in alice bob sender; do pf_maildir "$u"; done
    printf '%s@x.test %s/\n' alice alice bob bob sender sender >"$PF_DIR/etc/mailboxes"
    cat >"$PF_DIR/etc/rcpt-access" <<EOC
nobody@x.test 550 5.1.1 <nobody@x.test>: no such mailbox here
later@x.test 450 4.2.1 <later@x.test>: mailbox busy, try again later
EOC
    cat >"$PF_DIR/etc/header-checks" <<'EOC'
/^Subject: .* eod-refuse/ REJECT message refused by content check
/^Subject: .* eod-defer/ REJECT 4.7.1 content check failed, try later
EOC
    PFB_RCPT_ACCESS="check_recipient_access texthash:$PF_DIR/etc/rcpt-access"
}

pfb_main_cf() {
    cat <<EOC
virtual_mailbox_domains = x.test
virtual_mailbox_maps = texthash:$PF_DIR/etc/mailboxes
header_checks = regexp:$PF_DIR/etc/header-checks
EOC
}

# iop_fetch RCPT MARKER: the recipient's maildir (the local part names it).
iop_fetch() {
    iop_maildir_fetch "$PF_DIR/mail/${1%@*}" "$2"
}

# pfb_eod_cases ACCOUNT-FN SERVER: for DATA (chunking off) and BDAT
# (chunking on, a mechanism other than PLAIN, whose AUTH is not pipelined
# with the MAIL group):
#  - eod-refuse: 550 to the end of data; queue off and on-failure alike:
#    exit 65, nothing queued, nothing stored (smtpfwd(1), "Permanent
#    refusals": the message itself was refused).
#  - eod-defer: 451 to the end of data: queue off exits 75 and queues
#    nothing; queue on-failure exits 0 with one entry for alice, and the
#    entry records no 2xx reply (her RCPT's) as her error.
#  - eod-refuse-partial: nobody@ refused at RCPT, then 550 to the end of
#    data for alice: 65 or 67 (smtpfwd(1): every recipient refused
#    permanently), nothing queued, no 2xx reply recorded as an error.
pfb_eod_cases() {
    pfb_acct=$1 pfb_srv=$2
    : >"$IOP_DIR/pfb-unstored"
    pfb_mech=
    for m in $IOP_MECHS; do
        [ "$m" = PLAIN ] || { pfb_mech=$(echo "$m" | tr A-Z a-z); break; }
    done
    for pfb_chunk in off on; do
        [ "$pfb_chunk" = on ] && [ -z "$pfb_mech" ] && continue
        for pfb_c in eod-refuse eod-refuse-queue eod-defer eod-defer-queue eod-refuse-partial; do
            iop_case "$pfb_c-chunking-$pfb_chunk"
            queue=off
            case $pfb_c in *-queue|*-partial) queue=on-failure ;; esac
            "$pfb_acct" "chunking $pfb_chunk" "queue $queue" ${pfb_mech:+"auth $pfb_mech"}
            if [ "$pfb_c" = eod-refuse-partial ]; then
                set -- "$IOP_RCPT" "$IOP_REFUSED_RCPT"
            else
                set -- "$IOP_RCPT"
            fi
            iop_message "$(echo "$@" | sed 's/ /, /g')"
            iop_run -v -i "$@"
            if [ "$pfb_chunk" = on ]; then
                iop_sent '^--> BDAT [0-9]+ LAST$' "BDAT LAST sent"
            else
                iop_sent '^--> DATA$' "DATA sent"
            fi
            n=$(count_in "$iop_cdir/spool/new")
            e=$(find "$iop_cdir/spool/new" -type f 2>/dev/null | head -1)
            case $pfb_c in
            eod-refuse*)
                iop_sent '^<-- 550 5\.7\.1 message refused by content check$' \
                    "$pfb_srv answers the end of data with 550"
                if [ "$pfb_c" = eod-refuse-partial ]; then
                    if [ "$iop_rs" -eq 65 ] || [ "$iop_rs" -eq 67 ]; then
                        tap_ok "$(iop_t "exit status $iop_rs (65 or 67)")"
                    else
                        tap_not_ok "$(iop_t "exit status $iop_rs, expected 65 or 67")"
                        tap_file "$iop_err"
                    fi
                else
                    iop_status 65
                fi
                if [ "$n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
                    tap_not_ok "$(iop_t "nothing queued ($n entries)")"
                    sed -n '/^rcpt/p' "$e" | sed 's/^/#   /'
                fi
                iop_sent "^smtpfwd: .*550 5\\.7\\.1 message refused by content check" \
                    "the refusal is reported with the server's reply"
                ;;
            eod-defer*)
                iop_sent '^<-- 4[0-9][0-9] 4\.7\.1 content check failed, try later$' \
                    "$pfb_srv answers the end of data with 4xx"
                if [ "$queue" = off ]; then
                    iop_status 75
                    if [ "$n" -eq 0 ]; then tap_ok "$(iop_t "nothing queued")"; else
                        tap_not_ok "$(iop_t "nothing queued ($n entries)")"
                    fi
                else
                    iop_status 0
                    if [ "$n" -eq 1 ] && grep -q -x -F "rcpt: pending $IOP_RCPT" "$e"; then
                        tap_ok "$(iop_t "queued for $IOP_RCPT")"
                    else
                        tap_not_ok "$(iop_t "queued for $IOP_RCPT ($n entries)")"
                        [ -n "$e" ] && sed -n '/^rcpt/p' "$e" | sed 's/^/#   /'
                    fi
                fi
                ;;
            esac
            if [ -n "$e" ] && grep -q -E '^rcpt-error: [^ ]+ 2[0-9][0-9]' "$e"; then
                tap_not_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
                grep '^rcpt-error: ' "$e" | sed 's/^/#   /'
            else
                tap_ok "$(iop_t "no 2xx reply recorded as a recipient's error")"
            fi
            for r in "$@"; do
                printf '%s %s %s\n' "$iop_c" "$r" "$iop_marker" >>"$IOP_DIR/pfb-unstored"
            done
        done
    done
    # Postfix answers for the message only after cleanup has kept or
    # dropped it: by now, none of these may have been stored.
    while read -r c r m; do
        IOP_FETCH_TIMEOUT=0 iop_fetch "$r" "$m" >/dev/null 2>&1
        case $? in
        1) tap_ok "$IOP_NAME: $c: nothing stored for $r" ;;
        *) tap_not_ok "$IOP_NAME: $c: nothing stored for $r" ;;
        esac
    done <"$IOP_DIR/pfb-unstored"
}
