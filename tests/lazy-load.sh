#!/bin/sh
# lazy-load.sh - GnuTLS, GNU SASL, libidn2, libunistring, libcurl,
# json-c and libxml2 are loaded only when a run needs them (src/dl.c and
# its users gnutls-dl.c, gsasl-dl.c, idn.c, unistring-dl.c, curl-dl.c,
# json-dl.c, xml-dl.c),
# and a library that cannot be loaded keeps the message.
#
# With LD_DEBUG=files (glibc's loader logs every object it maps, to
# LD_DEBUG_OUTPUT.PID) it checks that these load NONE of the seven (libcurl
# and json-c are for OAuth2 tokens and --configure only, libxml2 for
# --configure only, never for these runs;
# libunistring is for non-ASCII addresses only):
#   --version, -bp (mailq), a `queue always` enqueue, a configuration
#   error, a plain (tls off) delivery to tests/smtpd-script, and an
#   XOAUTH2 delivery (built into sasl.c);
# that an AUTH PLAIN delivery loads libgsasl (not libidn2, not GnuTLS), a
# delivery to a non-ASCII domain through a server without SMTPUTF8 loads
# libidn2 (not libgsasl), a delivery to a UTF-8 address through a server
# with SMTPUTF8 loads libunistring (for NFC; not libidn2), and that a
# STARTTLS delivery and an implicit-TLS
# delivery load GnuTLS; all of them succeed. Then, with fake libraries of
# the three file names (built here from an empty C file) first on
# LD_LIBRARY_PATH: a TLS delivery, an AUTH PLAIN delivery and an IDN
# delivery each fail with a message naming the library and a non-zero
# exit status (75 with `queue off`: the system's fault); with the
# default spool setting the TLS delivery's message is queued (exit 0,
# silent, the reason and queued=ID in the log line) and `-q` delivers it
# once the fake is gone; a plain delivery and an XOAUTH2 delivery still
# succeed; a UTF-8 delivery with a fake libunistring (alone on the path)
# fails with 75 naming it.
# TAP (tests/lib.sh); skipped when prerequisites are missing (glibc's LD_DEBUG, a C
# compiler, certtool).
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_built "$SMTPD"
need_program timeout

lib_tmpdir
T=20

lib_private_env

# The library's file name, as --version prints it ("..., libgnutls.so.N
# loaded when a connection uses TLS").
SONAME=$("$SMTPFWD" --version | sed -n 's/.*GnuTLS [^,]*, \(libgnutls[^ ]*\) .*/\1/p')
check "--version names the GnuTLS library" [ -n "$SONAME" ] || { "$SMTPFWD" --version | sed 's/^/#   /'; done_testing; }

# GNU SASL's and libidn2's file names ("SASL (GNU SASL V, libgsasl.so.N
# loaded ...", "IDN (libidn2 V, libidn2.so.N loaded ..."); empty when
# built without them.
GSASL_SONAME=$("$SMTPFWD" --version | sed -n 's/.*GNU SASL [^,]*, \(libgsasl[^ ]*\) .*/\1/p')
IDN2_SONAME=$("$SMTPFWD" --version | sed -n 's/.*libidn2 [^,]*, \(libidn2[^ ]*\) .*/\1/p')
# libunistring's ("NFC (libunistring, libunistring.so.N loaded ...").
UNISTRING_SONAME=$("$SMTPFWD" --version | sed -n 's/.*NFC (libunistring, \(libunistring[^ ]*\) .*/\1/p')
if "$SMTPFWD" --version | grep -q 'SASL (GNU SASL'; then
    check "--version names the GNU SASL library" [ -n "$GSASL_SONAME" ] ||
        { "$SMTPFWD" --version | sed 's/^/#   /'; done_testing; }
fi
if "$SMTPFWD" --version | grep -q 'IDN (libidn2'; then
    check "--version names the libidn2 library" [ -n "$IDN2_SONAME" ] ||
        { "$SMTPFWD" --version | sed 's/^/#   /'; done_testing; }
fi

# LD_DEBUG must work here (glibc; not a set-id program).
LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/probe" "$SMTPFWD" --version >/dev/null 2>&1
grep -q 'file=' "$TESTDIR"/probe.* 2>/dev/null || skip "the dynamic loader does not honour LD_DEBUG=files"

# configure --disable-dlopen links the libraries ("FILE linked" in
# --version): then they are mapped at start and what is loaded when is
# not checked, but the same loader (src/dl.c) must still fail cleanly on a
# fake library and keep the message.
LINKED=
if "$SMTPFWD" --version | grep -q ' linked)'; then
    LINKED=yes
    diag "built with --disable-dlopen: the libraries are linked; loading on demand is not checked"
fi

for lib in libgnutls libgsasl libidn2 libunistring libcurl libjson-c libxml2; do
    if [ -n "$LINKED" ]; then
        if ldd "$SMTPFWD" 2>/dev/null | grep -q "$lib" ||
           ! "$SMTPFWD" --version | grep -q "$lib"; then
            ok "smtpfwd is linked against $lib (or built without it)"
        else
            fail "--disable-dlopen, but smtpfwd is not linked against $lib"
        fi
    elif ldd "$SMTPFWD" 2>/dev/null | grep -q "$lib"; then
        fail "smtpfwd is linked against $lib"
    else
        ok "smtpfwd is not linked against $lib"
    fi
done

msg() {
    printf 'From: me@x.test\nTo: a@x.test\nSubject: lazy %s\n\nbody\n' "$1"
}

# run NAME STDIN-TEXT ARGS...: run smtpfwd under LD_DEBUG=files; exit
# status in $rc and $TESTDIR/NAME.exit, stderr in $TESTDIR/NAME.err (LD_LIBRARY_PATH=$RUN_LIBPATH
# when that is set), loader logs in
# $TESTDIR/NAME.ld.PID (one per process, children included).
run() {
    name=$1 input=$2
    shift 2
    rm -f "$TESTDIR/$name".ld.*
    printf '%s' "$input" | env ${RUN_LIBPATH:+LD_LIBRARY_PATH="$RUN_LIBPATH"} \
        LD_DEBUG=files LD_DEBUG_OUTPUT="$TESTDIR/$name.ld" \
        timeout $T "$SMTPFWD" "$@" >"$TESTDIR/$name.out" 2>"$TESTDIR/$name.err"
    rc=$?
    echo "$rc" > "$TESTDIR/$name.exit"
}

# loaded NAME [LIB]: true when a process of run NAME mapped LIB (default
# libgnutls).
loaded() {
    cat "$TESTDIR/$1".ld.* 2>/dev/null | grep -q "file=[^ ]*${2:-libgnutls}"
}

# expect_not_loaded NAME WHAT EXPECTED-RC: none of the seven is mapped.
expect_not_loaded() {
    if [ "$rc" -ne "$3" ]; then
        fail "$2: exit status $rc, expected $3"; sed "s/^/#   /" "$TESTDIR/$1.err"
        return
    fi
    if [ -n "$LINKED" ]; then
        ok "$2 exits $3 (linked build: loading not checked)"
        return
    fi
    for lib in libgnutls libgsasl libidn2 libunistring libcurl libjson-c libxml2; do
        if loaded "$1" $lib; then
            fail "$2 loaded $lib"
            return
        fi
    done
    ok "$2 loads none of libgnutls, libgsasl, libidn2, libunistring, libcurl, libjson-c, libxml2"
}

# expect_loads NAME WHAT LIB NOT-LIB...: exit 0, LIB mapped, the others not.
expect_loads() {
    name=$1 what=$2 lib=$3
    shift 3
    if [ "$rc" -ne 0 ]; then
        fail "$what: exit status $rc"; cat "$TESTDIR/$name.err"; return
    fi
    if [ -n "$LINKED" ]; then
        ok "$what succeeds (linked build: loading not checked)"; return
    fi
    if ! loaded "$name" "$lib"; then
        fail "$what did not load $lib"; return
    fi
    for other in "$@"; do
        if loaded "$name" "$other"; then
            fail "$what loaded $other"; return
        fi
    done
    ok "$what loads $lib${*:+, not $*}"
}

# expect_fails NAME WHAT SONAME SYMBOL-PREFIX: non-zero exit, a message
# naming the library file and the missing symbol, the message not sent
# (in clear text, or at all) according to $TESTDIR/NAME.server.log.
expect_fails() {
    if [ "$rc" -eq 0 ]; then
        fail "$2 with a fake $3 succeeded"
    elif ! grep -q "$3" "$TESTDIR/$1.err"; then
        fail "$2 with a fake $3: message does not name it"; sed "s/^/#   /" "$TESTDIR/$1.err"
    elif ! grep -q "no symbol $4" "$TESTDIR/$1.err"; then
        fail "$2 with a fake $3: message does not name the symbol"; sed "s/^/#   /" "$TESTDIR/$1.err"
    elif grep -q "lazy $1" "$TESTDIR/$1.server.log"; then
        fail "$2 with a fake $3: the message was sent"
    else
        ok "$2 with a fake $3 fails (exit $rc): $(head -1 "$TESTDIR/$1.err")"
    fi
}

# expect_delivered NAME WHAT: exit 0 and the message in
# $TESTDIR/NAME.server.log.
expect_delivered() {
    if [ "$rc" -ne 0 ]; then
        fail "$2: exit $rc"; sed "s/^/#   /" "$TESTDIR/$1.err"
    elif ! grep -q "lazy $1" "$TESTDIR/$1.server.log"; then
        fail "$2: the message did not arrive"
    else
        ok "$2 still succeeds"
    fi
}

# auth_rc NAME MECH USER SECRET: a tls off account authenticating with MECH.
auth_rc() {
    printf '%s\n' "account default" "host 127.0.0.1" "port $SMTPD_PORT" "tls off" \
        "from me@x.test" "timeout 10" "queue off" "auth $2" "user $3" "password $4" \
        "allow_plaintext_auth on" > "$TESTDIR/$1.rc"
    chmod 600 "$TESTDIR/$1.rc"
}

# The scripted server for AUTH: PLAIN (alice) and XOAUTH2 (bob).
AUTH_SCRIPT='auth PLAIN XOAUTH2
user alice secret
user bob tok-123.abc'
IDN_RCPT=$(printf 'a@b\303\274cher.example')
IDN_ACE=a@xn--bcher-kva.example

# auth_run NAME MECH USER SECRET: a delivery authenticating with MECH, to a
# server of its own (its log in $TESTDIR/NAME.server.log).
auth_run() {
    smtpd_start "$AUTH_SCRIPT"
    auth_rc "$1" "$2" "$3" "$4"
    run "$1" "$(msg "$1")" -C "$TESTDIR/$1.rc" -i a@x.test
    smtpd_stop
    cp "$TESTDIR/server.log" "$TESTDIR/$1.server.log"
}

# idn_run NAME: a delivery to a non-ASCII domain through a server without
# SMTPUTF8 (its log in $TESTDIR/NAME.server.log).
idn_run() {
    smtpd_start ""
    sed "s/^port .*/port $SMTPD_PORT/; s/^timeout 10$/queue off/" "$TESTDIR/plain.rc" \
        > "$TESTDIR/$1.rc"
    chmod 600 "$TESTDIR/$1.rc"
    run "$1" "$(msg "$1")" -C "$TESTDIR/$1.rc" -i "$IDN_RCPT"
    smtpd_stop
    cp "$TESTDIR/server.log" "$TESTDIR/$1.server.log"
}

# utf8_run NAME: a delivery to a UTF-8 address through a server with
# SMTPUTF8 (its log in $TESTDIR/NAME.server.log).
UTF8_RCPT=$(printf 'j\303\266rg@x.test')
utf8_run() {
    smtpd_start "$(printf 'ehlo 250-mx.test\\n250 SMTPUTF8')"
    sed "s/^port .*/port $SMTPD_PORT/; s/^timeout 10$/queue off/" "$TESTDIR/plain.rc" \
        > "$TESTDIR/$1.rc"
    chmod 600 "$TESTDIR/$1.rc"
    run "$1" "$(msg "$1")" -C "$TESTDIR/$1.rc" -i "$UTF8_RCPT"
    smtpd_stop
    cp "$TESTDIR/server.log" "$TESTDIR/$1.server.log"
}

# plain account: the scripted server, no TLS
smtpd_start ""
cat > "$TESTDIR/plain.rc" <<EOF
account default
host 127.0.0.1
port $SMTPD_PORT
tls off
from me@x.test
timeout 10
queue_dir $TESTDIR/spool
EOF
chmod 600 "$TESTDIR/plain.rc"

run version "" --version
expect_not_loaded version "--version" 0

run plain "$(msg plain)" -C "$TESTDIR/plain.rc" -i a@x.test
expect_not_loaded plain "a plain (tls off) delivery" 0
check "the plain message arrives" grep -q "lazy plain" "$TESTDIR/server.log"

sed 's/^timeout 10$/queue always/' "$TESTDIR/plain.rc" > "$TESTDIR/always.rc"
chmod 600 "$TESTDIR/always.rc"
run enqueue "$(msg queued)" -C "$TESTDIR/always.rc" -i a@x.test
expect_not_loaded enqueue "a queue always enqueue" 0

run mailq "" -C "$TESTDIR/plain.rc" -bp
expect_not_loaded mailq "-bp" 0
check "-bp lists the queued message" grep -q "a@x.test" "$TESTDIR/mailq.out"

printf 'account default\nhost\nbogus_keyword 1\n' > "$TESTDIR/bad.rc"
chmod 600 "$TESTDIR/bad.rc"
run badconf "$(msg bad)" -C "$TESTDIR/bad.rc" -i a@x.test
expect_not_loaded badconf "a configuration error" 78
smtpd_stop

# AUTH: PLAIN needs GNU SASL, XOAUTH2 is built in.
if [ -n "$GSASL_SONAME" ]; then
    auth_run auth-plain plain alice secret
    expect_loads auth-plain "an AUTH PLAIN delivery" libgsasl libidn2 libgnutls libcurl libjson-c libxml2
    check "the AUTH PLAIN message arrives" grep -q "lazy auth-plain" "$TESTDIR/auth-plain.server.log"
    auth_run auth-xoauth2 xoauth2 bob tok-123.abc
    expect_not_loaded auth-xoauth2 "an XOAUTH2 delivery" 0
    check "the XOAUTH2 message arrives" grep -q "lazy auth-xoauth2" "$TESTDIR/auth-xoauth2.server.log"
else
    skip_check "built without GNU SASL" "the AUTH cases"
fi

# A non-ASCII domain through a server without SMTPUTF8: libidn2.
if [ -n "$IDN2_SONAME" ]; then
    idn_run idn
    expect_loads idn "a delivery to a non-ASCII domain" libidn2 libgsasl libgnutls libcurl libjson-c libxml2
    check "the IDN recipient is sent as $IDN_ACE" grep -q "RCPT TO:<$IDN_ACE>" "$TESTDIR/idn.server.log" ||
        sed 's/^/#   /' "$TESTDIR/idn.server.log"
else
    skip_check "built without libidn2" "the IDN case"
fi

# A UTF-8 address through a server with SMTPUTF8: libunistring (NFC).
if [ -n "$UNISTRING_SONAME" ]; then
    utf8_run utf8
    expect_loads utf8 "a delivery to a UTF-8 address with SMTPUTF8" libunistring libidn2 libgsasl libgnutls libcurl libjson-c libxml2
    check "the UTF-8 recipient is sent as it is with SMTPUTF8" grep -q "RCPT TO:<$UTF8_RCPT>" "$TESTDIR/utf8.server.log" ||
        sed 's/^/#   /' "$TESTDIR/utf8.server.log"
else
    skip_check "built without libunistring" "the NFC case"
fi

# TLS deliveries: they load it and succeed.
certs_make
tls_rc() {
    cat > "$TESTDIR/$1.rc" <<EOF
account default
host 127.0.0.1
port $SMTPD_PORT
tls on
tls_starttls $2
tls_trust_file $CERTS/ca.pem
tls_host_override localhost
from me@x.test
timeout 10
queue ${3:-off}
queue_dir $TESTDIR/spool-$1
EOF
    chmod 600 "$TESTDIR/$1.rc"
}

for kind in starttls implicit-tls; do
    smtpd_start_tls "$kind"
    if [ "$kind" = starttls ]; then tls_rc "$kind" on; else tls_rc "$kind" off; fi
    run "$kind" "$(msg "$kind")" -C "$TESTDIR/$kind.rc" -i a@x.test
    if [ "$rc" -ne 0 ]; then
        fail "$kind delivery: exit status $rc"; sed "s/^/#   /" "$TESTDIR/$kind.err"
    elif ! loaded "$kind"; then
        fail "$kind delivery did not load libgnutls"
    elif [ -z "$LINKED" ] && { loaded "$kind" libcurl || loaded "$kind" libjson-c || loaded "$kind" libxml2; }; then
        fail "$kind delivery loaded libcurl, json-c or libxml2"
    elif ! grep -q "lazy $kind" "$TESTDIR/server.log"; then
        fail "$kind delivery: the message did not arrive"
    else
        ok "$kind delivery loads libgnutls (not libcurl, json-c or libxml2) and succeeds"
    fi
    smtpd_stop
done

# A library of GnuTLS' file name that is not GnuTLS.
CC=${CC:-cc}
mkdir "$TESTDIR/fake"
: > "$TESTDIR/fake/empty.c"
if ! $CC -shared -fPIC -o "$TESTDIR/fake/$SONAME" "$TESTDIR/fake/empty.c" 2>"$TESTDIR/fake/cc.err"; then
    sed 's/^/# /' "$TESTDIR/fake/cc.err"
    skip_check "no C compiler for the fake library" "the failure path with a fake library"
    done_testing
fi
for f in $GSASL_SONAME $IDN2_SONAME; do
    cp "$TESTDIR/fake/$SONAME" "$TESTDIR/fake/$f"
done
# Only smtpfwd gets them (run() passes it): the server links GnuTLS itself.
RUN_LIBPATH="$TESTDIR/fake${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A build with --disable-dlopen also links libcurl-gnutls (OAuth2), which
# itself needs the real GnuTLS and libidn2 (versioned symbols): with the
# fakes first on the path the dynamic loader stops the program before it
# starts (127). That is what linking means; dl.c's failure path is
# checked by the build that loads on demand.
if [ -n "$LINKED" ] && ldd "$SMTPFWD" 2>/dev/null | grep -q libcurl; then
    env LD_LIBRARY_PATH="$RUN_LIBPATH" "$SMTPFWD" --version >/dev/null 2>&1
    if [ $? -eq 127 ]; then
        skip_check "the linked libcurl needs the real GnuTLS and libidn2" \
            "the failure paths with fake libraries"
        done_testing
    fi
fi

smtpd_start_tls starttls
tls_rc fake-off on off
run fake-off "$(msg fake-off)" -C "$TESTDIR/fake-off.rc" -i a@x.test
cp "$TESTDIR/server.log" "$TESTDIR/fake-off.server.log"
expect_fails fake-off "TLS delivery" "$SONAME" gnutls_
# queue off: the caller keeps the message and may call again once the
# system is repaired: 75, as for any failure a retry may cure.
check "queue off with a fake $SONAME: exit 75 (exit $rc)" [ "$rc" -eq 75 ]

# The default spool setting (queue on-failure): a library that cannot be
# loaded is the system's problem, not the message's. The message waits in
# the spool (exit 0, silent without a terminal), the log line says why
# and names the entry; once the library is back, -q delivers it.
tls_rc fake-spool on on-failure
echo "logfile $TESTDIR/fake-spool.log" >> "$TESTDIR/fake-spool.rc"
run fake-spool "$(msg fake-spool)" -C "$TESTDIR/fake-spool.rc" -i a@x.test
cp "$TESTDIR/server.log" "$TESTDIR/fake-spool.server.log"
entries=$(ls "$TESTDIR/spool-fake-spool/new" 2>/dev/null | wc -l)
qid=$(ls "$TESTDIR/spool-fake-spool/new" 2>/dev/null | head -1)
if [ "$rc" -ne 0 ]; then
    fail "queue on-failure with a fake $SONAME: exit $rc, expected 0 (queued)"; sed "s/^/#   /" "$TESTDIR/fake-spool.err"
elif [ "$entries" -ne 1 ]; then
    fail "queue on-failure with a fake $SONAME: $entries entries in new/, expected 1"
elif [ -s "$TESTDIR/fake-spool.err" ]; then
    fail "queue on-failure with a fake $SONAME: stderr is not empty"; sed "s/^/#   /" "$TESTDIR/fake-spool.err"
elif grep -q "lazy fake-spool" "$TESTDIR/fake-spool.server.log"; then
    fail "queue on-failure with a fake $SONAME: the message was sent in clear text"
elif ! grep -q "errormsg='cannot initialize TLS: $SONAME has no symbol gnutls_.*queued=$qid exitcode=EX_TEMPFAIL\$" \
        "$TESTDIR/fake-spool.log"; then
    fail "queue on-failure with a fake $SONAME: the log line lacks the reason or queued=$qid"
    sed "s/^/#   /" "$TESTDIR/fake-spool.log"
elif ! grep -q "^last-error: cannot initialize TLS: $SONAME has no symbol" \
        "$TESTDIR/spool-fake-spool/new/$qid"; then
    fail "queue on-failure with a fake $SONAME: the entry does not record the reason"
else
    ok "queue on-failure with a fake $SONAME: queued as $qid, silent, reason in the log"
fi
smtpd_stop

# The library is back (no fake on the path): -q delivers the entry.
smtpd_start_tls starttls
sed -i "s/^port .*/port $SMTPD_PORT/" "$TESTDIR/fake-spool.rc"
saved_libpath=$RUN_LIBPATH
RUN_LIBPATH=
run fake-spool-q "" -C "$TESTDIR/fake-spool.rc" -q
RUN_LIBPATH=$saved_libpath
left=$(ls "$TESTDIR/spool-fake-spool/new" 2>/dev/null | wc -l)
if [ "$rc" -ne 0 ]; then
    fail "-q after the repair: exit $rc"; sed "s/^/#   /" "$TESTDIR/fake-spool-q.err"
elif [ "$(grep -c "Subject: lazy fake-spool" "$TESTDIR/server.log")" -ne 1 ]; then
    fail "-q after the repair: the message did not arrive exactly once"
elif [ "$left" -ne 0 ]; then
    fail "-q after the repair: $left entries left in new/"
elif ! grep -q "queued=$qid exitcode=EX_TEMPFAIL\$" "$TESTDIR/fake-spool.log" ||
     [ "$(tail -1 "$TESTDIR/fake-spool.log" | grep -c "tls=on .*exitcode=EX_OK\$")" -ne 1 ]; then
    fail "-q after the repair: no EX_OK log line"; sed "s/^/#   /" "$TESTDIR/fake-spool.log"
else
    ok "-q after the repair delivers the queued message over TLS"
fi
smtpd_stop

smtpd_start ""
sed -i "s/^port .*/port $SMTPD_PORT/" "$TESTDIR/plain.rc"
run fake-plain "$(msg fake-plain)" -C "$TESTDIR/plain.rc" -i a@x.test
cp "$TESTDIR/server.log" "$TESTDIR/fake-plain.server.log"
expect_delivered fake-plain "plain delivery with fake libraries"
smtpd_stop

if [ -n "$GSASL_SONAME" ]; then
    auth_run fake-auth plain alice secret
    expect_fails fake-auth "AUTH PLAIN delivery" "$GSASL_SONAME" gsasl_
    check "queue off with a fake $GSASL_SONAME: exit 75 (exit $rc)" [ "$rc" -eq 75 ]
    auth_run fake-xoauth2 xoauth2 bob tok-123.abc
    expect_delivered fake-xoauth2 "XOAUTH2 delivery with a fake $GSASL_SONAME"
fi
if [ -n "$IDN2_SONAME" ]; then
    idn_run fake-idn
    expect_fails fake-idn "IDN delivery" "$IDN2_SONAME" idn2_
    # Not the address's fault (that would be 65, and a bounce from a
    # flush): the system's, like GnuTLS above.
    check "queue off with a fake $IDN2_SONAME: exit 75 (exit $rc)" [ "$rc" -eq 75 ]
fi
# A fake libunistring alone on the path (libidn2, GnuTLS and GNU SASL
# need the real one).
if [ -n "$UNISTRING_SONAME" ]; then
    mkdir "$TESTDIR/fake-nfc"
    cp "$TESTDIR/fake/$SONAME" "$TESTDIR/fake-nfc/$UNISTRING_SONAME"
    RUN_LIBPATH="$TESTDIR/fake-nfc${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    utf8_run fake-nfc
    expect_fails fake-nfc "UTF-8 delivery" "$UNISTRING_SONAME" u8_
    check "queue off with a fake $UNISTRING_SONAME: exit 75 (exit $rc)" [ "$rc" -eq 75 ]
fi

done_testing
