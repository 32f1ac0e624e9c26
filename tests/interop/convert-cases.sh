# tests/interop/convert-cases.sh - the conversion cases of the delivery
# matrix: real servers that do not offer 8BITMIME (or SMTPUTF8) receive the
# messages of tests/data/convert/, store them, and what they stored must
# decode to what was sent (tests/mime-compare.py, Python's email package).
#
# Owns: those cases and what each checks; not the servers' setup (each
# tests/interop/NAME.sh configures its own ports). Sourced by matrix.sh;
# run_matrix calls iop_convert_cases, and a server script that cannot run
# the whole matrix may call it itself (after iop_case's directory
# $iop_mdir exists).
#
# The server script's side (besides matrix.sh's):
#   IOP_NO8BIT_PORT     a port where the server offers neither 8BITMIME
#                       nor SMTPUTF8, STARTTLS and AUTH as on the
#                       submission port; empty when the server cannot be
#                       configured so, IOP_NO8BIT_WHY saying why (a TAP
#                       skip with that reason)
#   IOP_NOUTF8_PORT     optional: a port where it offers 8BITMIME but not
#                       SMTPUTF8 (IOP_NOUTF8_WHY when there is none)
#   iop_convert_account PORT
#                       optional function: the case's smtprc for PORT
#                       (default: iop_account PORT)
#   IOP_QUALIFIED_BY    optional: the domain the server gives header
#                       addresses that have none ("To: root"), when it
#                       cannot be told not to (mime-compare.py
#                       --qualified-by)
#
# For each message M of tests/data/convert/ but the refuse-* ones, with a
# header line "X-Smtpfwd-Interop: MARKER" put first (iop_fetch finds it):
#   convert-M        on IOP_NO8BIT_PORT: exit 0; the EHLO reply lists
#                    neither 8BITMIME nor SMTPUTF8 (the server is
#                    configured as the case says); MAIL FROM declares
#                    neither; stored once; the stored message is 7-bit
#                    ASCII without a line over 998 octets and decodes to
#                    M (mime-compare.py --expect-7bit)
#   convert-8bit-M   on IOP_NOUTF8_PORT: exit 0; no SMTPUTF8 offered or
#                    declared; stored once; no line over 998 octets, no
#                    8-bit octet in a header section, decodes to M
# and refuse-dkim / refuse-signed (a DKIM-Signature, a multipart/signed
# with an 8-bit part) on IOP_NO8BIT_PORT: exit 65, the error names the
# signature, no MAIL sent, nothing stored (checked at the end).
# POSIX sh.

iop_conv_data=$iop_here/data/convert
iop_conv_mc=$iop_here/mime-compare.py

iop_convert_default_account() {
    iop_account "$1"
}

# iop_conv_message FILE: the case's message ($iop_cdir/in): the marker
# line, then FILE; $iop_marker becomes that line.
iop_conv_message() {
    iop_marker="X-Smtpfwd-Interop: $iop_marker"
    { printf '%s\n' "$iop_marker"; cat "$1"; } >"$iop_cdir/in"
}

# iop_conv_stored RCPT FORM...: stored once for RCPT, and it decodes to
# the message sent (mime-compare.py with the FORM options).
iop_conv_stored() {
    iop_r=$1
    shift
    iop_f=$iop_cdir/got.$iop_r
    iop_fetch "$iop_r" "$iop_marker" >"$iop_f" 2>"$iop_f.err"
    case $? in
    0) tap_ok "$(iop_t "stored once for $iop_r")" ;;
    2) tap_not_ok "$(iop_t "stored once for $iop_r")"; tap_file "$iop_f.err"; return ;;
    *) tap_not_ok "$(iop_t "stored for $iop_r")"; tap_file "$iop_f.err"; return ;;
    esac
    if "$PYTHON" "$iop_conv_mc" -q ${IOP_QUALIFIED_BY:+--qualified-by "$IOP_QUALIFIED_BY"} \
        "$@" "$iop_cdir/in" "$iop_f" >"$iop_cdir/compare" 2>&1; then
        tap_ok "$(iop_t "what $IOP_NAME stored decodes to the message sent")"
    else
        tap_not_ok "$(iop_t "what $IOP_NAME stored decodes to the message sent")"
        tap_file "$iop_cdir/compare"
    fi
}

iop_convert_cases() {
    command -v iop_convert_account >/dev/null 2>&1 ||
        iop_convert_account() { iop_convert_default_account "$@"; }
    : "${IOP_NO8BIT_PORT:=}" "${IOP_NOUTF8_PORT:=}"
    if [ -z "$IOP_NO8BIT_PORT" ]; then
        tap_skip "${IOP_NO8BIT_WHY:-the server always offers 8BITMIME}" \
            "$IOP_NAME: conversion for a server without 8BITMIME"
    fi
    if [ -z "$IOP_NOUTF8_PORT" ]; then
        tap_skip "${IOP_NOUTF8_WHY:-no port offers 8BITMIME without SMTPUTF8}" \
            "$IOP_NAME: conversion for a server with 8BITMIME and without SMTPUTF8"
    fi
    for iop_ce in "$iop_conv_data"/*.eml; do
        iop_cn=$(basename "$iop_ce" .eml)
        case $iop_cn in refuse-*) continue ;; esac
        if [ -n "$IOP_NO8BIT_PORT" ]; then
            iop_case "convert-$iop_cn"
            iop_convert_account "$IOP_NO8BIT_PORT"
            iop_conv_message "$iop_ce"
            iop_run -v -i "$IOP_RCPT"
            iop_status 0
            if iop_ehlo_has 8BITMIME || iop_ehlo_has SMTPUTF8; then
                tap_not_ok "$(iop_t "the server offers neither 8BITMIME nor SMTPUTF8 there")"
            else
                tap_ok "$(iop_t "the server offers neither 8BITMIME nor SMTPUTF8 there")"
            fi
            iop_not_sent '^--> MAIL FROM:.*( BODY=8BITMIME| SMTPUTF8)' \
                "MAIL FROM declares neither BODY=8BITMIME nor SMTPUTF8"
            iop_conv_stored "$IOP_RCPT" --expect-7bit
        fi
        if [ -n "$IOP_NOUTF8_PORT" ]; then
            iop_case "convert-8bit-$iop_cn"
            iop_convert_account "$IOP_NOUTF8_PORT"
            iop_conv_message "$iop_ce"
            iop_run -v -i "$IOP_RCPT"
            iop_status 0
            if iop_ehlo_has 8BITMIME && ! iop_ehlo_has SMTPUTF8; then
                tap_ok "$(iop_t "the server offers 8BITMIME and not SMTPUTF8 there")"
            else
                tap_not_ok "$(iop_t "the server offers 8BITMIME and not SMTPUTF8 there")"
            fi
            iop_not_sent '^--> MAIL FROM:.* SMTPUTF8' "MAIL FROM does not declare SMTPUTF8"
            iop_conv_stored "$IOP_RCPT" --expect-short-lines --expect-ascii-headers
        fi
    done
    [ -n "$IOP_NO8BIT_PORT" ] || return 0
    for iop_cn in refuse-dkim refuse-signed; do
        case $iop_cn in
        refuse-dkim) iop_sig=DKIM-Signature ;;
        *) iop_sig=multipart/signed ;;
        esac
        iop_case "convert-$iop_cn"
        iop_convert_account "$IOP_NO8BIT_PORT"
        iop_conv_message "$iop_conv_data/$iop_cn.eml"
        iop_run -v -i "$IOP_RCPT"
        iop_status 65
        iop_sent "^smtpfwd: .*$iop_sig" "the error names the signature ($iop_sig)"
        iop_not_sent '^--> (MAIL|DATA|BDAT)' "no transaction started"
        iop_not_stored "$IOP_RCPT"
    done
}
