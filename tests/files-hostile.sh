#!/bin/sh
# files-hostile.sh - files smtpfwd reads whole that are not regular files,
# and symbolic links: what the data-file cases cannot make (FIFOs, links).
#
# A FIFO as -C FILE, as ~/.smtprc, as the aliases file and as ~/.netrc is
# refused at once with "PATH: not a regular file" (the configuration and
# aliases: exit 78; the netrc file: a warning, then the run goes on
# without it) and nothing is sent; before, open() blocked forever on a
# FIFO nobody writes to. Symbolic links are followed (a dotfiles
# repository links ~/.smtprc, ~/.netrc and the aliases file), so a link
# to a regular file works, a link to a FIFO is refused like the FIFO, and
# the permission check of a file holding a password is made on the file
# the link leads to. A logfile that is a FIFO nobody reads loses the log
# line with a warning instead of blocking.
#
# Every run has a `timeout` as a safety net, so that a regression fails
# (exit 124) instead of hanging the suite; no timing is asserted.
# TAP (tests/lib.sh); 99 on a setup error.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_program timeout
need_program setsid
need_program mkfifo
lib_tmpdir
lib_private_env
unset DBUS_SESSION_BUS_ADDRESS
T=20

smtpd_start 'auth PLAIN
user alice secret'
CONF=$(write_config 'set_date_header off
set_msgid_header off')
mkfifo "$TESTDIR/fifo" || exit 99

# run NAME ARGS...: smtpfwd with a small message on stdin, stdout and
# stderr in $TESTDIR/NAME.out / NAME.err, the exit status in $rc.
# smtpfwd runs in a session of its own (setsid), without a controlling
# terminal: when the suite runs on a terminal, a missing password would
# otherwise be asked for on it (and the run stopped by SIGTTIN, since
# timeout(1) puts it in a background process group).
run() {
    name=$1
    shift
    printf 'From: me@x.test\nTo: a@x.test\nSubject: hi\n\nbody\n' |
        timeout "$T" setsid -w "$SMTPFWD" "$@" >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err"
    rc=$?
}

# expect NAME STATUS TEXT: the last run exited STATUS and its stderr
# contains TEXT.
expect() {
    if [ "$rc" -eq 124 ]; then
        fail "$1: smtpfwd hung (killed after ${T}s)"
    elif [ "$rc" -ne "$2" ]; then
        fail "$1: exit $rc, expected $2; stderr: $(cat "$TESTDIR/$1.err")"
    elif ! grep -qF -- "$3" "$TESTDIR/$1.err"; then
        fail "$1: stderr lacks \"$3\": $(cat "$TESTDIR/$1.err")"
    else
        ok "$1: exit $2, \"$3\""
    fi
}

# nothing_sent NAME: the server received no byte so far.
nothing_sent() {
    if [ -s "$TESTDIR/server.log" ]; then
        fail "$1: the server received something: $(cat "$TESTDIR/server.log")"
    else
        ok "$1: nothing sent"
    fi
}

# 1. -C FIFO
run c-fifo -C "$TESTDIR/fifo" -i a@x.test
expect c-fifo 78 "smtpfwd: $TESTDIR/fifo: not a regular file"
nothing_sent c-fifo

# 2. ~/.smtprc is a FIFO (the lookup without -C)
mkfifo "$HOME/.smtprc" || exit 99
run home-fifo -i a@x.test
expect home-fifo 78 "smtpfwd: $HOME/.smtprc: not a regular file"
rm -f "$HOME/.smtprc"

# 3. ~/.smtprc is a symbolic link to a FIFO: refused like the FIFO.
ln -s "$TESTDIR/fifo" "$HOME/.smtprc" || exit 99
run home-link-fifo -i a@x.test
expect home-link-fifo 78 "smtpfwd: $HOME/.smtprc: not a regular file"
rm -f "$HOME/.smtprc"
nothing_sent "FIFO configurations"

# 4. The aliases file is a FIFO.
CONF_ALIASES=$TESTDIR/smtprc-aliases
{ cat "$CONF"; echo "aliases $TESTDIR/fifo"; } > "$CONF_ALIASES"
chmod 600 "$CONF_ALIASES"
run aliases-fifo -C "$CONF_ALIASES" -i root
expect aliases-fifo 78 "smtpfwd: $TESTDIR/fifo: not a regular file"
nothing_sent aliases-fifo

# 5. ~/.netrc is a FIFO: a warning, then no password (no terminal): 78.
CONF_AUTH=$TESTDIR/smtprc-auth
{ cat "$CONF"; printf 'auth plain\nuser alice\nallow_plaintext_auth on\n'; } > "$CONF_AUTH"
chmod 600 "$CONF_AUTH"
mkfifo "$HOME/.netrc" || exit 99
run netrc-fifo -C "$CONF_AUTH" -i a@x.test </dev/null
expect netrc-fifo 78 "smtpfwd: warning: ignoring the netrc file: $HOME/.netrc: not a regular file"
expect netrc-fifo 78 "no password for account default"
nothing_sent netrc-fifo
rm -f "$HOME/.netrc"

# 5b. The logfile is a FIFO nobody reads (it is written, not read): the
#     message is delivered, the log line is lost with a warning; before,
#     open() waited for a reader forever after the delivery.
CONF_LOG=$TESTDIR/smtprc-log
{ cat "$CONF"; echo "logfile $TESTDIR/fifo"; } > "$CONF_LOG"
chmod 600 "$CONF_LOG"
run logfile-fifo -C "$CONF_LOG" -i a@x.test
expect logfile-fifo 0 "smtpfwd: warning: cannot write log file $TESTDIR/fifo"
if grep -q '^body' "$TESTDIR/server.log"; then
    ok "logfile-fifo: the message was delivered"
else
    fail "logfile-fifo: the message was not delivered"
fi

# 6. Symbolic links to regular files are followed: ~/.smtprc into a
#    dotfiles directory, the aliases file, ~/.netrc. One delivery with
#    the alias expanded and the password from the linked netrc.
mkdir -p "$TESTDIR/dotfiles" || exit 99
printf 'root: alias-target@x.test\n' > "$TESTDIR/dotfiles/aliases"
ln -s "$TESTDIR/dotfiles/aliases" "$HOME/aliases" || exit 99
{ cat "$CONF_AUTH"; echo "aliases ~/aliases"; } > "$TESTDIR/dotfiles/smtprc"
chmod 600 "$TESTDIR/dotfiles/smtprc"
ln -s "$TESTDIR/dotfiles/smtprc" "$HOME/.smtprc" || exit 99
printf 'machine 127.0.0.1 login alice password secret\n' > "$TESTDIR/dotfiles/netrc"
chmod 600 "$TESTDIR/dotfiles/netrc"
ln -s "$TESTDIR/dotfiles/netrc" "$HOME/.netrc" || exit 99
run links -i root
if [ "$rc" -ne 0 ]; then
    fail "links: exit $rc; stderr: $(cat "$TESTDIR/links.err")"
elif ! grep -q 'RCPT TO:<alias-target@x.test>' "$TESTDIR/server.log"; then
    fail "links: the alias was not used: $(cat "$TESTDIR/server.log")"
elif ! grep -q 'AUTH PLAIN ok' "$TESTDIR/server.events"; then
    fail "links: no AUTH PLAIN with the netrc password: $(cat "$TESTDIR/server.events")"
else
    ok "links: ~/.smtprc, aliases and ~/.netrc through symbolic links"
fi

# 7. The permission check follows the link: a linked configuration that
#    holds a password and that others can read is refused (the link's
#    own mode, always 0777, does not count).
{ cat "$CONF"; echo "password secret"; } > "$TESTDIR/dotfiles/smtprc"
chmod 644 "$TESTDIR/dotfiles/smtprc"
run link-perm -i a@x.test
expect link-perm 78 "smtpfwd: $HOME/.smtprc: contains a password but is readable by others"
chmod 600 "$TESTDIR/dotfiles/smtprc"
run link-perm-ok --pretend
if [ "$rc" -ne 0 ] || ! grep -qx 'password = \*\*\*\*\*' "$TESTDIR/link-perm-ok.out"; then
    fail "link-perm-ok: exit $rc; stdout: $(cat "$TESTDIR/link-perm-ok.out")"
else
    ok "link-perm-ok: the same file with mode 0600 is used"
fi

done_testing
