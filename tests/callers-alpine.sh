#!/bin/sh
# callers-alpine.sh - Alpine, driven through tmux, sends through smtpfwd.
#
# With no smtp-server and no sendmail-path, Alpine runs its built-in
# "/usr/sbin/sendmail -bs -odb -oem" and speaks SMTP to it over a pipe
# (EHLO, MAIL, RCPT, DATA, QUIT). The test shows Alpine our wrapper as
# /usr/sbin/sendmail in a private mount namespace (unshare -m as root, or
# unshare -r -m in a user namespace; that part is skipped when neither is
# allowed). With sendmail-path set, Alpine instead writes the message on
# the program's standard input in the style of "sendmail -t" and shows its
# standard error on a "POSTING ERRORS" screen when it exits non-zero: the
# documented shape for smtpfwd there is "smtpfwd -t -oi".
#
# Alpine runs in a detached tmux session of fixed size on a private socket,
# with a private HOME and a .pinerc that configures its first-run screens
# and the Fcc prompt away. Each step waits for what the screen shows
# (tmux capture-pane; timeouts are only a safety net) and prints the screen
# as TAP diagnostics when it does not come. Checks: the argv, what Alpine
# says, the envelope and message at the scripted smarthost, the body byte
# for byte, CRLF; a recipient refused with 550: Alpine says the mail was
# not sent and nothing is delivered; "-bs" put into sendmail-path by
# mistake: smtpfwd exits 64 with an explanation that Alpine shows, nothing
# is delivered and Alpine does not say "Message sent"; Alpine quits.
# TAP (tests/callers-lib.sh); skipped when alpine or tmux is missing, or
# when this smtpfwd has no -bs.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init alpine tmux
cl_need_bs

alp_cleanup() {
    tmux -S "$tmp/tmux.sock" kill-server 2>/dev/null
    cl_cleanup
}
trap alp_cleanup EXIT

alp_tmux() {
    tmux -S "$tmp/tmux.sock" "$@"
}
alp_screen() {
    alp_tmux capture-pane -p -t alp 2>/dev/null
}
# alp_poll COMMAND...: run COMMAND every 0.1 s until it succeeds; give up
# after 30 s (a safety net: every wait is for something Alpine shows).
alp_poll() {
    i=0
    until "$@"; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || return 1
        sleep 0.1
    done
}
alp_shows() {
    alp_screen | grep -q -F -e "$1"
}
# alp_cursor_on LABEL: the line with the cursor starts with LABEL.
alp_cursor_on() {
    y=$(alp_tmux display -p -t alp '#{cursor_y}' 2>/dev/null) || return 1
    alp_screen | sed -n "$((y + 1))p" | grep -q "^$1"
}
alp_cursor_row() {
    [ "$(alp_tmux display -p -t alp '#{cursor_y}' 2>/dev/null)" = "$1" ]
}
alp_gone() {
    ! alp_tmux has-session -t alp 2>/dev/null
}
# alp_step DESC COMMAND...: one step of the dialogue; when it does not
# happen, a failed check with the screen as diagnostics.
alp_step() {
    as_desc=$1
    shift
    if alp_poll "$@"; then
        return 0
    fi
    cl_fail "$cl_desc: $as_desc (not within 30 s); the screen:
$(alp_screen)"
    return 1
}
alp_type() {
    alp_tmux send-keys -t alp -l "$1"
}
alp_key() {
    alp_tmux send-keys -t alp "$@"
}

# alp_pinerc [SETTINGS...]: a .pinerc for a fresh HOME: the From address,
# no Fcc (default-fcc="" means none; empty would ask to create sent-mail),
# no postponed folder, a private empty inbox, no confirmation to quit, and
# the first-run greeting and the monthly pruning question marked as seen.
alp_pinerc() {
    rm -rf "$HOME"
    mkdir -p "$HOME/mail" "$HOME/.local/state" "$HOME/.config" "$HOME/.cache" || exit 99
    : >"$HOME/inbox"
    {
        echo "personal-name=Test User"
        echo "user-domain=x.test"
        echo "customized-hdrs=From: Test User <tester@x.test>"
        echo 'default-fcc=""'
        echo "postponed-folder="
        echo "inbox-path=$HOME/inbox"
        echo "feature-list=quit-without-confirm"
        echo "last-version-used=6.26"
        echo "last-time-prune-questioned=$(($(date +%Y) - 1900)).$(date +%-m)"
        for s in "$@"; do echo "$s"; done
    } >"$HOME/.pinerc"
}

# alp_start [PREFIX...]: start Alpine (through PREFIX, a command that ends
# by running its arguments) in a detached 100x30 tmux session; wait for
# the main menu.
alp_runs=0
alp_start() {
    alp_runs=$((alp_runs + 1))
    alp_tmux -f /dev/null new-session -d -s alp -x 100 -y 30 \
        "$* alpine -p '$HOME/.pinerc' -P /dev/null 2>'$tmp/alpine.$alp_runs.stderr'" || exit 99
    alp_step "Alpine shows its main menu" alp_shows "MAIN MENU"
}

# alp_compose TO SUBJECT BODY-FILE [CC]: compose a message and send it
# (c, the header fields, the body lines, ^X, y).
alp_compose() {
    alp_key c
    alp_step "the composer opens on To" alp_cursor_on "To      :" || return 1
    alp_type "$1"
    alp_step "To shows $1" alp_shows "To      : $1" || return 1
    alp_key Enter
    alp_step "the cursor moves to Cc" alp_cursor_on "Cc      :" || return 1
    if [ -n "${4:-}" ]; then
        alp_type "$4"
        alp_step "Cc shows $4" alp_shows "Cc      : $4" || return 1
    fi
    alp_key Enter
    alp_step "the cursor moves to Attchmnt" alp_cursor_on "Attchmnt:" || return 1
    alp_key Enter
    alp_step "the cursor moves to Subject" alp_cursor_on "Subject :" || return 1
    alp_type "$2"
    alp_step "Subject shows $2" alp_shows "Subject : $2" || return 1
    alp_key Enter
    alp_step "the cursor moves into the text" not alp_cursor_on "[A-Z][a-z]* *:" || return 1
    first=1
    while IFS= read -r line; do
        if [ "$first" = 0 ]; then
            y=$(alp_tmux display -p -t alp '#{cursor_y}')
            alp_key Enter
            alp_step "the cursor moves to the next line of the text" alp_cursor_row "$((y + 1))" || return 1
        fi
        first=0
        [ -z "$line" ] || alp_type "$line"
    done <"$3"
    alp_step "the last line of the text is shown" alp_shows "$(tail -n 1 "$3")" || return 1
    alp_key C-x
    alp_step "Alpine asks 'Send message?'" alp_shows "Send message?" || return 1
    alp_key y
}

# alp_quit: q quits (quit-without-confirm); the session ends with Alpine.
alp_quit() {
    alp_key q
    if alp_poll alp_gone; then
        cl_ok "$cl_desc: Alpine quits on q"
    else
        cl_fail "$cl_desc: Alpine did not quit on q; the screen:
$(alp_screen)"
        alp_tmux kill-server 2>/dev/null
    fi
}

# alp_stderr_clean: nothing reached Alpine's standard error (the terminal
# Alpine draws on) in its last run.
alp_stderr_clean() {
    if [ -s "$tmp/alpine.$alp_runs.stderr" ]; then
        cl_fail "$cl_desc: output reached Alpine's terminal: $(cat "$tmp/alpine.$alp_runs.stderr")"
    else
        cl_ok "$cl_desc: nothing reaches Alpine's terminal (its standard error)"
    fi
}

# alp_composing: the composer's title is on the screen.
alp_composing() {
    alp_screen | head -n 1 | grep -q 'COMPOSE MESSAGE'
}

# alp_journal: from the main menu, J shows the journal of every status
# message of this session (status lines themselves are transient: a busy
# cue can stay drawn over them); saved in $tmp/journal, then E goes back.
alp_journal() {
    : >"$tmp/journal"
    alp_step "Alpine is at its main menu" alp_shows "MAIN MENU" || return 1
    alp_key J
    alp_step "Alpine shows its journal" alp_shows "of journal]" || return 1
    alp_screen >"$tmp/journal"
    alp_key E
    alp_step "Alpine goes back to its main menu" alp_shows "MAIN MENU"
}
# alp_journal_has TEXT: the journal shows TEXT.
alp_journal_has() {
    grep -q -F -e "$1" "$tmp/journal"
}

# alp_check_sent N: after invocation N of the wrapper has exited, Alpine's
# journal says the message was sent.
alp_check_sent() {
    alp_smtpfwd_done "$1"
    alp_journal
    cl_check "Alpine says the message was sent" \
        "Alpine does not say the message was sent; its journal:
$(cat "$tmp/journal")" alp_journal_has "Message sent"
}

# alp_smtpfwd_done N: wait until invocation N of the wrapper has exited
# (its status file), so the server's log of that connection is complete.
alp_smtpfwd_done() {
    alp_step "smtpfwd (invocation $1) ends" test -e "$tmp/call.$1.status"
}

printf '%s\n' "Hello from Alpine." "." ".a line that starts with a dot" "" "last line" >"$tmp/body"

# How to make Alpine's built-in /usr/sbin/sendmail our wrapper: $tmp/in-ns
# bind-mounts it there (over the file when it exists, else over the
# directory, with a link to the wrapper in it), then runs its arguments; it
# runs in a private mount namespace ($alp_ns).
cl_wrapper
mkdir -p "$tmp/sbin" && ln -s "$tmp/sendmail" "$tmp/sbin/sendmail" || exit 99
if [ -e /usr/sbin/sendmail ]; then
    alp_mount="mount --bind '$tmp/sendmail' /usr/sbin/sendmail"
else
    alp_mount="mount --bind '$tmp/sbin' /usr/sbin"
fi
printf '#!/bin/sh\n# written by tests/callers-alpine.sh: /usr/sbin/sendmail is the wrapper\n%s || exit 99\nexec "$@"\n' \
    "$alp_mount" >"$tmp/in-ns"
alp_ns=
for ns in "unshare -m" "unshare -r -m"; do
    if $ns sh "$tmp/in-ns" grep -q 'callers-lib.sh' /usr/sbin/sendmail 2>/dev/null; then
        alp_ns=$ns
        break
    fi
done

# 1. Alpine's default: SMTP over a pipe to "/usr/sbin/sendmail -bs -odb -oem".
cl_desc="alpine default sendmail -bs"
if [ -z "$alp_ns" ]; then
    skip_check "no private mount namespace here (unshare -m / unshare -r -m refused)" \
        "$cl_desc: Alpine's built-in sendmail command runs smtpfwd"
else
    cl_server <<'EOF'
# defaults: PIPELINING, 8BITMIME, SIZE, DSN; everything accepted
EOF
    alp_pinerc
    alp_start "$alp_ns sh '$tmp/in-ns'"
    if alp_compose rcpt@x.test "Alpine subject" "$tmp/body" cc@x.test; then
        alp_check_sent 1
    fi
    alp_quit
    cl_server_stop
    cl_calls 1
    cl_argv 1 -bs -odb -oem
    cl_smtpfwd_status 1 0
    cl_smtpfwd_quiet 1
    alp_stderr_clean
    cl_txn_count 1
    cl_envelope 1 tester@x.test rcpt@x.test cc@x.test
    cl_complete 1
    cl_header 1 "From: Test User <tester@x.test>"
    cl_header 1 "To: rcpt@x.test"
    cl_header 1 "cc: cc@x.test"
    cl_header 1 "Subject: Alpine subject"
    cl_header_count 1 Date 1
    cl_header_count 1 Message-ID 1
    cl_data_line 1 ".."
    cl_data_line 1 "..a line that starts with a dot"
    cl_body 1 "$tmp/body"
    cl_crlf
    cl_command_seen QUIT

    # 2. The smarthost refuses the recipient: smtpfwd refuses the message
    #    at the end of data (Alpine's c-client then sends RSET and shows
    #    that last reply: "Mail not sent. Sending error: 250 ..."), nothing
    #    is delivered, the composition stays open and can be cancelled.
    cl_desc="alpine default sendmail -bs, recipient refused"
    cl_server <<'EOF'
reply RCPT 550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown in local table
EOF
    alp_pinerc
    alp_start "$alp_ns sh '$tmp/in-ns'"
    if alp_compose nobody@x.test "Refused" "$tmp/body"; then
        alp_smtpfwd_done "$((cl_calls_seen + 1))"
        # ^C cancels the composition, C confirms.
        alp_key C-c
        alp_step "Alpine asks to confirm the cancel" alp_shows "Cancel message" && alp_key C
        alp_journal
        cl_check "Alpine says the mail was not sent" \
            "Alpine does not say the mail was not sent; its journal:
$(cat "$tmp/journal")" alp_journal_has "Mail not sent"
        diag "$(grep -F 'not sent' "$tmp/journal")"
        cl_check "Alpine does not say the message was sent" \
            "Alpine says the message was sent" not alp_journal_has "Message sent"
    fi
    alp_quit
    cl_server_stop
    k=$((cl_calls_seen + 1))
    cl_calls 1
    cl_argv "$k" -bs -odb -oem
    alp_stderr_clean
    cl_check "smtpfwd's diagnostic quotes the smarthost" \
        "smtpfwd's diagnostic does not quote the smarthost: $(cat "$tmp/call.$k.stderr")" \
        grep -q '550 5.1.1 <nobody@x.test>: Recipient address rejected: User unknown in local table' "$tmp/call.$k.stderr"
    cl_envelope 1 tester@x.test nobody@x.test
    cl_check "no message data reaches the smarthost" \
        "message data reached the smarthost although its recipient was refused" \
        not grep -q -F 'Subject: Refused' "$tmp/server.log"
fi

# 3. sendmail-path set: Alpine writes the message on standard input in the
#    style of "sendmail -t"; "smtpfwd -t -oi" is the shape for it. The
#    envelope sender is then the account's (me@x.test), as for any -t.
cl_desc="alpine sendmail-path -t -oi"
cl_server <<'EOF'
EOF
alp_pinerc "sendmail-path=$tmp/sendmail -t -oi"
alp_start
k=$((cl_calls_seen + 1))
if alp_compose rcpt@x.test "Alpine via sendmail-path" "$tmp/body" cc@x.test; then
    alp_check_sent "$k"
fi
alp_quit
cl_server_stop
cl_calls 1
cl_argv "$k" -t -oi
cl_smtpfwd_status "$k" 0
cl_smtpfwd_quiet "$k"
alp_stderr_clean
cl_txn_count 1
cl_envelope 1 me@x.test rcpt@x.test cc@x.test
cl_header 1 "From: Test User <tester@x.test>"
cl_header 1 "Subject: Alpine via sendmail-path"
cl_body 1 "$tmp/body"
cl_crlf

# 4. The wrong shape: "-bs" in sendmail-path. Alpine then writes a plain
#    message (not SMTP) to "smtpfwd -bs", which answers each header line
#    with 500, delivers nothing, and exits non-zero saying so: Alpine shows
#    that on its POSTING ERRORS screen and does not say "Message sent".
cl_desc="alpine sendmail-path -bs (a mistake)"
cl_server <<'EOF'
EOF
alp_pinerc "sendmail-path=$tmp/sendmail -bs -odb -oem"
alp_start
k=$((cl_calls_seen + 1))
if alp_compose rcpt@x.test "Alpine with -bs in sendmail-path" "$tmp/body"; then
    alp_smtpfwd_done "$k"
    if alp_step "Alpine shows its POSTING ERRORS screen" alp_shows "POSTING ERRORS"; then
        cl_ok "$cl_desc: Alpine shows its POSTING ERRORS screen"
        cl_check "the screen has smtpfwd's explanation" \
            "the screen lacks smtpfwd's explanation:
$(alp_screen)" alp_shows "smtpfwd: -bs: the input was not an SMTP session"
        # E leaves the viewer, back to the composition; ^C and C cancel it.
        alp_key E
        alp_step "Alpine goes back to the composer" alp_composing &&
            alp_key C-c
        alp_step "Alpine asks to confirm the cancel" alp_shows "Cancel message" && alp_key C
    fi
    alp_journal
    cl_check "Alpine does not say the message was sent" \
        "Alpine says 'Message sent' although nothing was delivered" not alp_journal_has "Message sent"
fi
alp_quit
cl_server_stop
cl_calls 1
cl_argv "$k" -bs -odb -oem
cl_smtpfwd_status "$k" 64
cl_txn_count 0

cl_finish
