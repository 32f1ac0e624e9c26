#!/bin/sh
# i18n.sh - smtpfwd speaks the languages of its catalogs: run under
# LANGUAGE=de and LANGUAGE=fr (LC_ALL=C.UTF-8: glibc ignores LANGUAGE in
# the "C" locale) with SMTPFWD_LOCALEDIR naming a tree made from the
# build's po/LANG.gmo, a usage error, a configuration error, the first
# line of --help and the mailq summary with one and with two queued
# messages (ngettext's two forms) come out as the catalog translates
# them, and differ from the English; every --help line stays within 80
# columns. German and French are also checked against fixed sentences,
# so that a catalog which is there but not loaded cannot pass. A language whose
# po/LANG.po is not in the source tree is skipped with a note.
# TAP (tests/lib.sh); skipped without NLS, the C.UTF-8 locale or the
# gettext program.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=.}"

need_built
need_program gettext
need_program python3
grep -q '^#define ENABLE_NLS 1' "$top_builddir/config.h" 2>/dev/null ||
    skip_all "built without NLS (configure --disable-nls)"
[ "$(LC_ALL=C.UTF-8 locale charmap 2>/dev/null)" = UTF-8 ] ||
    skip_all "no C.UTF-8 locale on this system"

lib_tmpdir
lib_private_env
SMTPFWD_LOCALEDIR=$TESTDIR/locale
export SMTPFWD_LOCALEDIR
unset LANG LC_MESSAGES

# The account: a port nothing listens on; -odq only queues.
cat > "$TESTDIR/rc" <<RC
account default
host 127.0.0.1
port 1
from sender@example.org
RC
# The same without the spool: a refused connection is an error.
{ cat "$TESTDIR/rc"; echo "queue off"; } > "$TESTDIR/rc-noqueue"
printf 'bogus line\n' > "$TESTDIR/bad"
chmod 600 "$TESTDIR/rc" "$TESTDIR/rc-noqueue" "$TESTDIR/bad"

# run_in LANG COMMAND...: COMMAND in that language.
run_in() {
    in_lang=$1
    shift
    LANGUAGE=$in_lang LC_ALL=C.UTF-8 "$@"
}
# tr_ LANG MSGID: the catalog's translation of MSGID (MSGID itself when
# the catalog lacks it).
tr_() {
    LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$SMTPFWD_LOCALEDIR gettext -d smtpfwd -- "$2"
}
# trn LANG SINGULAR PLURAL N
trn() {
    LANGUAGE=$1 LC_ALL=C.UTF-8 TEXTDOMAINDIR=$SMTPFWD_LOCALEDIR ngettext -d smtpfwd -- "$2" "$3" "$4"
}
# same DESC EXPECTED ACTUAL: one check, both shown when they differ.
same() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1
expected: $2
actual:   $3"
    fi
}

# The catalogs: LANG/LC_MESSAGES/smtpfwd.mo under $SMTPFWD_LOCALEDIR for
# each language whose po/LANG.po is there; $langs lists them.
langs=
for l in de fr; do
    if [ ! -f "$top_srcdir/po/$l.po" ]; then
        skip_check "po/$l.po is not in the source tree" "messages in $l"
        continue
    fi
    mkdir -p "$TESTDIR/locale/$l/LC_MESSAGES"
    mo=$TESTDIR/locale/$l/LC_MESSAGES/smtpfwd.mo
    # The build's catalog: po/LANG.gmo (made in the source tree's po/,
    # or the build tree's when the source tree is read-only).
    gmo=
    for g in "$top_builddir/po/$l.gmo" "$top_srcdir/po/$l.gmo"; do
        [ -f "$g" ] && [ ! "$top_srcdir/po/$l.po" -nt "$g" ] && { gmo=$g; break; }
    done
    if [ -n "$gmo" ]; then
        cp "$gmo" "$mo"
    elif command -v msgfmt >/dev/null 2>&1; then
        # Not in po/LINGUAS (not built), or older than the .po (make
        # remakes it only with the template): made from the .po here.
        diag "$l: no po/$l.gmo as new as po/$l.po; made from po/$l.po"
        msgfmt -o "$mo" "$top_srcdir/po/$l.po" || { not_ok "msgfmt po/$l.po"; continue; }
    else
        skip_check "po/$l.gmo is not built and there is no msgfmt" "messages in $l"
        continue
    fi
    langs="$langs $l"
done

# Two messages in the queue, one at a time: mailq after each.
queue_one() {
    printf 'Subject: i18n\n\nhello\n' |
        "$SMTPFWD" -C "$TESTDIR/rc" -odq rcpt@example.org 2>> "$TESTDIR/queue.err"
}
queue_one || fail_stop "smtpfwd -odq queues a message
$(cat "$TESTDIR/queue.err")"
for l in de fr; do
    run_in "$l" "$SMTPFWD" -C "$TESTDIR/rc" -bp > "$TESTDIR/mailq1.$l" 2>&1
done
queue_one || fail_stop "smtpfwd -odq queues a second message"
for l in de fr; do
    run_in "$l" "$SMTPFWD" -C "$TESTDIR/rc" -bp > "$TESTDIR/mailq2.$l" 2>&1
done

for l in $langs; do
    # A usage error.
    m='unknown option "%s"; see smtpfwd --help'
    t=$(tr_ "$l" "$m")
    check "$l: the catalog translates \"$m\"" test "$t" != "$m"
    # shellcheck disable=SC2059
    same "$l: usage error" "smtpfwd: $(printf "$t" --bogus)" \
        "$(run_in "$l" "$SMTPFWD" --bogus 2>&1 </dev/null)"

    # A configuration error.
    m='%s:%d: unknown command "%s"'
    t=$(tr_ "$l" "$m")
    check "$l: the catalog translates '$m'" test "$t" != "$m"
    # shellcheck disable=SC2059
    same "$l: configuration error" "smtpfwd: $(printf "$t" "$TESTDIR/bad" 1 bogus)" \
        "$(run_in "$l" "$SMTPFWD" -C "$TESTDIR/bad" -bp 2>&1)"

    # A refused connection (port 1 on the loopback: nobody listens
    # there); the reason after the last ": " is the C library's.
    m='cannot connect to %s port %d: %s'
    t=$(tr_ "$l" "$m")
    check "$l: the catalog translates '$m'" test "$t" != "$m"
    # shellcheck disable=SC2059
    want="smtpfwd: $(printf "${t%\%s*}" 127.0.0.1 1)"
    printf 'Subject: i18n\n\nhello\n' |
        run_in "$l" "$SMTPFWD" -C "$TESTDIR/rc-noqueue" rcpt@example.org > "$TESTDIR/refused.$l" 2>&1
    got=$(head -n 1 "$TESTDIR/refused.$l")
    case $got in
    "$want"*) ok "$l: connection refused" ;;
    *) not_ok "$l: connection refused
expected: $want...
actual:   $got" ;;
    esac

    # --help: its first line, and no line wider than 80 columns.
    run_in "$l" "$SMTPFWD" --help > "$TESTDIR/help.$l" 2>&1
    m='Usage: %s [OPTION]... [--] [RECIPIENT]...
  or:  mailq, newaliases
Read a message on standard input, as sendmail(8) does, and forward it to the
smarthost of an account in ~/.smtprc.
'
    t=$(tr_ "$l" "$m" | head -n 1)
    check "$l: the catalog translates the --help text" test "$t" != "$(printf '%s' "$m" | head -n 1)"
    # shellcheck disable=SC2059
    same "$l: --help" "$(printf "$t" smtpfwd)" "$(head -n 1 "$TESTDIR/help.$l")"
    wide=$(python3 -c '
import sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if len(line.rstrip("\n")) > 80:
        print("line %d: %s" % (n, line.rstrip()))' "$TESTDIR/help.$l")
    same "$l: every --help line within 80 columns" "" "$wide"

    # The summary of mailq: ngettext's singular and plural.
    for n in 1 2; do
        t=$(trn "$l" '%zu message queued
' '%zu messages queued
' "$n" | sed 's/%zu/%d/')
        # shellcheck disable=SC2059
        check "$l: the catalog translates the mailq summary for $n" \
            test "$(printf "$t" "$n")" != "$n message queued" -a "$(printf "$t" "$n")" != "$n messages queued"
        # shellcheck disable=SC2059
        same "$l: mailq with $n queued message(s)" "$(printf "$t" "$n")" \
            "$(tail -n 1 "$TESTDIR/mailq$n.$l")"
    done
done

# Against fixed sentences, so that the catalog is known to be the one
# loaded: fixed LANG USAGE-ERROR HELP-LINE MAILQ-ONE MAILQ-TWO.
fixed() {
    [ -f "$SMTPFWD_LOCALEDIR/$1/LC_MESSAGES/smtpfwd.mo" ] || return 0
    same "$1: usage error, as written" "$2" "$(run_in "$1" "$SMTPFWD" --bogus 2>&1 </dev/null)"
    same "$1: --help, as written" "$3" "$(head -n 1 "$TESTDIR/help.$1")"
    same "$1: mailq with one message, as written" "$4" "$(tail -n 1 "$TESTDIR/mailq1.$1")"
    same "$1: mailq with two messages, as written" "$5" "$(tail -n 1 "$TESTDIR/mailq2.$1")"
}
fixed de 'smtpfwd: unbekannte Option „--bogus“; siehe smtpfwd --help' \
    'Aufruf: smtpfwd [OPTION]... [--] [EMPFÄNGER]...' \
    '1 Nachricht in der Warteschlange' '2 Nachrichten in der Warteschlange'
fixed fr 'smtpfwd: option « --bogus » inconnue ; voir smtpfwd --help' \
    'Utilisation : smtpfwd [OPTION]... [--] [DESTINATAIRE]...' \
    "1 message en file d'attente" "2 messages en file d'attente"
done_testing
