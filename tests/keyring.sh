#!/bin/sh
# keyring.sh - the Secret Service keyring through libsecret, against a real
# gnome-keyring-daemon on a private D-Bus session bus.
#
# (a) a password stored the way msmtp users do (secret-tool store ... host H
#     service smtp user U) is found by a delivery: smtpfwd sends AUTH PLAIN
#     to the scripted server and the credentials decode to that password;
# (b) smtpfwd --store-password ACCOUNT with the password on standard input
#     (no terminal) stores it: secret-tool lookup shows it; the same with a
#     terminal present but standard input a pipe (no prompt, no waiting);
#     an empty standard input is refused with 64;
# (c) smtpfwd --forget-password ACCOUNT removes it again.
# Nothing outside a private HOME/XDG_DATA_HOME/XDG_RUNTIME_DIR is touched.
# Exit 0 pass, 1 fail, 77 when dbus-run-session, gnome-keyring-daemon,
# secret-tool or keyring support in smtpfwd is missing.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_program dbus-run-session
need_program gnome-keyring-daemon
need_program secret-tool
need_program base64
"$SMTPFWD" --version 2>/dev/null | grep -q keyring || skip "smtpfwd built without keyring support"

# Inside the private session bus (re-executed by dbus-run-session below).
if [ "${KEYRING_SH_INNER:-}" = 1 ]; then
    fail=0
    failed() { echo "FAIL: $*"; fail=1; }

    # gnome-keyring prints GNOME_KEYRING_CONTROL=... lines: export them.
    eval "$(printf %s keyring-test-pw | gnome-keyring-daemon --unlock --components=secrets)" ||
        skip "gnome-keyring-daemon did not start"
    export GNOME_KEYRING_CONTROL 2>/dev/null
    # The daemon may need a moment to claim its bus name: secret-tool waits
    # for it through D-Bus activation or fails; retry a few times.
    n=0
    until printf %s 's3cret pass' | secret-tool store --label=t host 127.0.0.1 service smtp \
            user alice 2>"$TESTDIR/st.err"; do
        n=$((n + 1))
        [ "$n" -lt 50 ] || skip "no Secret Service on the private bus: $(cat "$TESTDIR/st.err")"
        sleep 0.1
    done
    [ "$(secret-tool lookup host 127.0.0.1 service smtp user alice)" = 's3cret pass' ] ||
        failed "secret-tool cannot read back its own item"

    # (a) a delivery finds it.
    smtpd_start 'ehlo 250-mx.test\n250-AUTH PLAIN\n250 8BITMIME
reply AUTH 235 2.7.0 ok'
    rc=$(write_config 'auth plain
user alice
allow_plaintext_auth on
set_date_header off
set_msgid_header off')
    printf 'Subject: keyring\n\nbody\n' |
        "$SMTPFWD" -C "$rc" -v rcpt@x.test >"$TESTDIR/out" 2>"$TESTDIR/err"
    status=$?
    smtpd_stop
    [ "$status" -eq 0 ] || failed "(a) delivery exited $status: $(cat "$TESTDIR/err")"
    auth=$(tr -d '\r' <"$TESTDIR/server.log" | sed -n 's/^AUTH PLAIN //p')
    if [ -z "$auth" ]; then
        failed "(a) no AUTH PLAIN with an initial response reached the server"
    else
        # PLAIN: authzid NUL authcid NUL password.
        decoded=$(printf %s "$auth" | base64 -d | tr '\000' '|')
        [ "$decoded" = '|alice|s3cret pass' ] ||
            failed "(a) AUTH PLAIN carries '$decoded', not the keyring's password"
    fi
    grep -q 's3cret' "$TESTDIR/err" "$TESTDIR/out" && failed "(a) the password appears in the -v output"

    # (b) --store-password with the password on standard input (a pipe).
    secret-tool clear host 127.0.0.1 service smtp user alice
    printf 'stored-by-smtpfwd\n' | "$SMTPFWD" -C "$rc" --store-password default \
        >"$TESTDIR/out" 2>"$TESTDIR/err"
    status=$?
    [ "$status" -eq 0 ] || failed "(b) --store-password exited $status: $(cat "$TESTDIR/err")"
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    [ "$got" = stored-by-smtpfwd ] || failed "(b) secret-tool lookup shows '$got'"
    secret-tool search --all host 127.0.0.1 service smtp user alice 2>&1 |
        grep -q 'label = smtpfwd password for alice at 127.0.0.1' ||
        failed "(b) the stored item does not carry smtpfwd's label"

    # (b2) The same from a terminal: a controlling terminal is present (a
    # pseudo-terminal made by script(1), on which nobody types) but standard
    # input is a pipe. The password comes from the pipe; /dev/tty is not
    # opened, so nothing waits for the terminal (timeout: a safety net).
    if command -v script >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
        secret-tool clear host 127.0.0.1 service smtp user alice
        rm -f "$TESTDIR/never"; mkfifo "$TESTDIR/never"
        sleep 120 >"$TESTDIR/never" &
        holder=$!
        timeout -k 5 30 script -qec "printf 'piped-under-a-tty\\n' | '$SMTPFWD' -C '$rc' --store-password default" \
            /dev/null <"$TESTDIR/never" >"$TESTDIR/out" 2>&1
        status=$?
        kill "$holder" 2>/dev/null
        wait "$holder" 2>/dev/null
        [ "$status" -ne 124 ] || failed "(b2) --store-password waited for the terminal (killed after 30 s)"
        [ "$status" -eq 0 ] || failed "(b2) --store-password under a terminal exited $status: $(tr -d '\r' <"$TESTDIR/out")"
        grep -q -i 'password' "$TESTDIR/out" && failed "(b2) a prompt appeared on the terminal: $(tr -d '\r' <"$TESTDIR/out")"
        got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
        [ "$got" = piped-under-a-tty ] || failed "(b2) secret-tool lookup shows '$got'"
    else
        echo "# (b2) not run: script(1) or timeout is missing"
    fi

    # (b3) Empty standard input (nothing, or an empty first line): 64 and a
    # message; the stored password is left alone.
    for input in '' '\n' '\nsecond line\n'; do
        printf "$input" | "$SMTPFWD" -C "$rc" --store-password default >"$TESTDIR/out" 2>"$TESTDIR/err"
        status=$?
        [ "$status" -eq 64 ] || failed "(b3) empty input '$input': exit $status, not 64"
        grep -q '^smtpfwd: .*empty password' "$TESTDIR/err" ||
            failed "(b3) empty input '$input': no clear message: $(cat "$TESTDIR/err")"
    done
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    [ "$got" = piped-under-a-tty ] || [ "$got" = stored-by-smtpfwd ] ||
        failed "(b3) the stored password changed to '$got'"

    # (c) --forget-password removes it.
    "$SMTPFWD" -C "$rc" --forget-password default >"$TESTDIR/out" 2>"$TESTDIR/err"
    status=$?
    [ "$status" -eq 0 ] || failed "(c) --forget-password exited $status: $(cat "$TESTDIR/err")"
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    [ -z "$got" ] || failed "(c) the password is still in the keyring: '$got'"

    [ "$fail" -eq 0 ] && echo "PASS: keyring"
    exit "$fail"
fi

lib_tmpdir
mkdir -p "$TESTDIR/home" "$TESTDIR/data" "$TESTDIR/run" "$TESTDIR/config"
chmod 700 "$TESTDIR/run"
HOME=$TESTDIR/home XDG_DATA_HOME=$TESTDIR/data XDG_RUNTIME_DIR=$TESTDIR/run \
XDG_CONFIG_HOME=$TESTDIR/config SMTPFWD_SYSCONF= KEYRING_SH_INNER=1 TESTDIR=$TESTDIR \
SMTPFWD=$SMTPFWD SMTPD=$SMTPD \
    dbus-run-session -- sh "${here:-$(dirname "$0")}/keyring.sh"
status=$?
# Whatever the inner script started on the private bus ended with it.
exit "$status"
