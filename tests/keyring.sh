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
# TAP (tests/lib.sh); skipped when dbus-run-session, gnome-keyring-daemon,
# secret-tool or keyring support in smtpfwd is missing.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_program dbus-run-session
need_program gnome-keyring-daemon
need_program secret-tool
need_program base64
need_built "$SMTPD"
"$SMTPFWD" --version 2>/dev/null | grep -q keyring || skip "smtpfwd built without keyring support"

# Inside the private session bus (re-executed by dbus-run-session below).
if [ "${KEYRING_SH_INNER:-}" = 1 ]; then

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
    check "secret-tool reads back its own item" \
        [ "$(secret-tool lookup host 127.0.0.1 service smtp user alice)" = 's3cret pass' ]

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
    check "(a) delivery exits 0" [ "$status" -eq 0 ] || sed 's/^/#   /' "$TESTDIR/err"
    auth=$(tr -d '\r' <"$TESTDIR/server.log" | sed -n 's/^AUTH PLAIN //p')
    if [ -z "$auth" ]; then
        not_ok "(a) AUTH PLAIN with an initial response reaches the server"
    else
        ok "(a) AUTH PLAIN with an initial response reaches the server"
        # PLAIN: authzid NUL authcid NUL password.
        decoded=$(printf %s "$auth" | base64 -d | tr '\000' '|')
        check "(a) AUTH PLAIN carries the keyring's password (it carries '$decoded')" \
            [ "$decoded" = '|alice|s3cret pass' ]
    fi
    check "(a) the password is not in the -v output" not grep -q 's3cret' "$TESTDIR/err" "$TESTDIR/out"

    # (b) --store-password with the password on standard input (a pipe).
    secret-tool clear host 127.0.0.1 service smtp user alice
    printf 'stored-by-smtpfwd\n' | "$SMTPFWD" -C "$rc" --store-password default \
        >"$TESTDIR/out" 2>"$TESTDIR/err"
    status=$?
    check "(b) --store-password exits 0 (exit $status)" [ "$status" -eq 0 ] || sed 's/^/#   /' "$TESTDIR/err"
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    check "(b) secret-tool lookup shows the password stored (it shows '$got')" [ "$got" = stored-by-smtpfwd ]
    secret-tool search --all host 127.0.0.1 service smtp user alice >"$TESTDIR/search" 2>&1
    check "(b) the stored item carries smtpfwd's label" \
        grep -q 'label = smtpfwd password for alice at 127.0.0.1' "$TESTDIR/search"

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
        check "(b2) --store-password does not wait for the terminal (killed after 30 s)" [ "$status" -ne 124 ]
        check "(b2) --store-password under a terminal exits 0 (exit $status)" [ "$status" -eq 0 ] ||
            tr -d '\r' <"$TESTDIR/out" | sed 's/^/#   /'
        check "(b2) no prompt appears on the terminal" not grep -q -i 'password' "$TESTDIR/out" ||
            tr -d '\r' <"$TESTDIR/out" | sed 's/^/#   /'
        got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
        check "(b2) secret-tool lookup shows the piped password (it shows '$got')" [ "$got" = piped-under-a-tty ]
    else
        for w in "does not wait for the terminal" "under a terminal exits 0" "no prompt appears" \
                "secret-tool lookup shows the piped password"; do
            skip_check "script(1) or timeout is missing" "(b2) $w"
        done
    fi

    # (b3) Empty standard input (nothing, or an empty first line): 64 and a
    # message; the stored password is left alone.
    for input in '' '\n' '\nsecond line\n'; do
        printf "$input" | "$SMTPFWD" -C "$rc" --store-password default >"$TESTDIR/out" 2>"$TESTDIR/err"
        status=$?
        check "(b3) empty input '$input': exit 64 (exit $status)" [ "$status" -eq 64 ]
        check "(b3) empty input '$input': a clear message" grep -q '^smtpfwd: .*empty password' "$TESTDIR/err" ||
            sed 's/^/#   /' "$TESTDIR/err"
    done
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    check "(b3) the stored password is left alone (it is '$got')" \
        [ "$got" = piped-under-a-tty -o "$got" = stored-by-smtpfwd ]

    # (c) --forget-password removes it.
    "$SMTPFWD" -C "$rc" --forget-password default >"$TESTDIR/out" 2>"$TESTDIR/err"
    status=$?
    check "(c) --forget-password exits 0 (exit $status)" [ "$status" -eq 0 ] || sed 's/^/#   /' "$TESTDIR/err"
    got=$(secret-tool lookup host 127.0.0.1 service smtp user alice)
    check "(c) the password is no longer in the keyring (lookup shows '$got')" [ -z "$got" ]

    done_testing
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
