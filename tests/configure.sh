#!/bin/sh
# configure.sh - `smtpfwd --configure ADDRESS [--write]` end to end, in a
# private network and mount namespace (unshare -n -m; unshare -r -n -m
# when not root; skipped, 77, when neither can be had): a DNS responder
# on 127.0.0.1:53 (tests/dns-server.py, answering SRV and A records from
# a table) with its own resolv.conf bind-mounted over /etc/resolv.conf,
# and an HTTPS server of autoconfig documents on 127.0.0.1:443
# (tests/autoconfig-server.py, certificates from tests/certs.sh), its CA
# made libcurl's CA bundle inside the namespace only (a tmpfs over
# /etc/ssl/certs). Nothing of the real system changes.
#
# Each shape of answer: SRV _submissions only; _submission only; both
# (submissions wins, the lower priority first, the others as comments);
# a "." target (that service skipped, the user told); SERVFAIL (75 when
# nothing else is found); a malformed DNS answer; autoconfig from
# autoconfig.DOMAIN (SSL preferred over STARTTLS, the username's
# placeholders replaced, the address escaped in the query); from
# .well-known; DNS and autoconfig both (DNS wins, no HTTPS request);
# nothing (69, every attempt listed); malformed XML; a document without
# an smtp outgoingServer; a DOCTYPE (refused); a certificate from a CA
# nobody trusts (refused); an HTTP 500 (75); OAuth2 (auth xoauth2,
# oauth2_provider gmail, the --authorize hint); a plain-text server (the
# warning); --write to a new file (0600), to an existing file (appended,
# FILE~ holds the old content, the mode kept when stricter), an account
# of the same name (73, the file unchanged), through a symbolic link
# (the target written, the link kept), a file that does not parse (78,
# unchanged); a redirect to http:// (not followed); every file written passes
# `smtpfwd -C FILE --pretend`.
here=${top_srcdir:+$top_srcdir/tests}
here=${here:-$(dirname "$0")}
. "$here/lib.sh"

need_built
need_program "${PYTHON:-python3}"
need_program unshare
need_program mount

if [ -z "${SMTPFWD_CONFIGURE_NS:-}" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        set -- unshare -n -m
    else
        set -- unshare -r -n -m
    fi
    "$@" true 2>/dev/null || skip_all "no private network and mount namespaces ($*)"
    SMTPFWD_CONFIGURE_NS=1 exec "$@" sh "$here/configure.sh"
fi

"$SMTPFWD" --version | grep -q 'autoconfig (libxml2' || skip_all "built without libxml2"
grep -q '^#define HAVE_LIBCURL 1' "${top_builddir:-.}/config.h" 2>/dev/null \
    || skip_all "built without libcurl"

lib_tmpdir
BG_PIDS=
trap 'for p in $BG_PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TESTDIR"' EXIT
lib_private_env
certs_make

# The namespace's own resolver configuration and CA bundle.
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' > "$TESTDIR/resolv.conf"
mount --bind "$TESTDIR/resolv.conf" /etc/resolv.conf 2>/dev/null \
    || skip_all "cannot bind-mount over /etc/resolv.conf in the namespace"
if [ -d /etc/ssl/certs ]; then
    mount -t tmpfs -o mode=0755 tmpfs /etc/ssl/certs || skip_all "cannot mount a tmpfs"
elif [ -d /etc/ssl ]; then
    mount -t tmpfs -o mode=0755 tmpfs /etc/ssl && mkdir /etc/ssl/certs \
        || skip_all "cannot mount a tmpfs"
else
    skip_all "no /etc/ssl to hold the test CA bundle"
fi
cp "$CERTS/ca.pem" /etc/ssl/certs/ca-certificates.crt || exit 99

# The DNS table.
cat > "$TESTDIR/dns.json" <<'JSON'
{
 "_submissions._tcp.srvs.test": {"SRV": [[0, 1, 465, "mail.srvs.test"]]},
 "_submission._tcp.srv.test": {"SRV": [[0, 1, 587, "smtp.srv.test"]]},
 "_submissions._tcp.both.test": {"SRV": [[20, 5, 465, "backup.both.test"],
                                        [10, 0, 4650, "primary.both.test"],
                                        [10, 7, 465, "heavy.both.test"]]},
 "_submission._tcp.both.test": {"SRV": [[0, 1, 587, "starttls.both.test"]]},
 "_submissions._tcp.dot.test": {"SRV": [[0, 0, 0, "."]]},
 "_submission._tcp.dot.test": {"SRV": [[0, 1, 587, "smtp.dot.test"]]},
 "_submissions._tcp.servfail.test": {"rcode": "SERVFAIL"},
 "_submission._tcp.servfail.test": {"rcode": "SERVFAIL"},
 "_submissions._tcp.broken.test": {"malformed": "loop"},
 "_submission._tcp.broken.test": {"malformed": "badrdlen"},
 "_submissions._tcp.dnswins.test": {"SRV": [[0, 1, 465, "smtp.dnswins.test"]]},
 "autoconfig.acfg.test": {"A": ["127.0.0.1"]},
 "wk.test": {"A": ["127.0.0.1"]},
 "autoconfig.dnswins.test": {"A": ["127.0.0.1"]},
 "autoconfig.badxml.test": {"A": ["127.0.0.1"]},
 "autoconfig.nosmtp.test": {"A": ["127.0.0.1"]},
 "autoconfig.doctype.test": {"A": ["127.0.0.1"]},
 "autoconfig.oauth.test": {"A": ["127.0.0.1"]},
 "autoconfig.plain.test": {"A": ["127.0.0.1"]},
 "autoconfig.badcert.test": {"A": ["127.0.0.1"]},
 "autoconfig.servfail.test": {"A": ["127.0.0.1"]},
 "autoconfig.redir.test": {"A": ["127.0.0.1"]},
 "_submissions._tcp.xn--bcher-kva.test": {"SRV": [[0, 1, 465, "smtp.xn--bcher-kva.test"]]},
 "none.test": {}
}
JSON

# The autoconfig documents, by host.
D=$TESTDIR/docroot
doc() {   # doc HOST PATH DOMAIN SERVERS-XML
    mkdir -p "$D/$1/$(dirname "$2")"
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">\n <emailProvider id="%s">\n  <domain>%s</domain>\n  <incomingServer type="imap"><hostname>imap.%s</hostname><port>993</port><socketType>SSL</socketType></incomingServer>\n%s\n </emailProvider>\n</clientConfig>\n' \
        "$3" "$3" "$3" "$4" > "$D/$1/$2"
}
AC=mail/config-v1.1.xml
WK=.well-known/autoconfig/mail/config-v1.1.xml
doc autoconfig.acfg.test "$AC" acfg.test '
  <outgoingServer type="smtp"><hostname>starttls.acfg.test</hostname><port>587</port>
   <socketType>STARTTLS</socketType><authentication>password-cleartext</authentication>
   <username>%EMAILADDRESS%</username></outgoingServer>
  <outgoingServer type="smtp"><hostname>ssl.acfg.test</hostname><port>465</port>
   <socketType>SSL</socketType><authentication>password-cleartext</authentication>
   <username>%EMAILLOCALPART%+smtp@%EMAILDOMAIN%</username></outgoingServer>'
doc wk.test "$WK" wk.test '
  <outgoingServer type="smtp"><hostname>smtp.wk.test</hostname><port>587</port>
   <socketType>STARTTLS</socketType><authentication>password-encrypted</authentication>
   <username>%EMAILLOCALPART%</username></outgoingServer>'
doc autoconfig.dnswins.test "$AC" dnswins.test '
  <outgoingServer type="smtp"><hostname>http.dnswins.test</hostname><port>465</port>
   <socketType>SSL</socketType><authentication>password-cleartext</authentication></outgoingServer>'
mkdir -p "$D/autoconfig.badxml.test/mail"
printf '<clientConfig><emailProvider><domain>badxml.test</domain><outgoingServer type="smtp">' \
    > "$D/autoconfig.badxml.test/$AC"
doc autoconfig.nosmtp.test "$AC" nosmtp.test '
  <outgoingServer type="exchange"><hostname>ews.nosmtp.test</hostname></outgoingServer>'
mkdir -p "$D/autoconfig.doctype.test/mail"
printf '<?xml version="1.0"?>\n<!DOCTYPE clientConfig [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<clientConfig><emailProvider><domain>doctype.test</domain><outgoingServer type="smtp"><hostname>&x;</hostname><port>465</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>\n' \
    > "$D/autoconfig.doctype.test/$AC"
doc autoconfig.oauth.test "$AC" oauth.test '
  <outgoingServer type="smtp"><hostname>smtp.gmail.com</hostname><port>465</port>
   <socketType>SSL</socketType><authentication>OAuth2</authentication>
   <authentication>password-cleartext</authentication>
   <username>%EMAILADDRESS%</username></outgoingServer>'
doc autoconfig.plain.test "$AC" plain.test '
  <outgoingServer type="smtp"><hostname>smtp.plain.test</hostname><port>25</port>
   <socketType>plain</socketType><authentication>password-cleartext</authentication>
   <username>%EMAILADDRESS%</username></outgoingServer>'
doc autoconfig.badcert.test "$AC" badcert.test '
  <outgoingServer type="smtp"><hostname>smtp.badcert.test</hostname><port>465</port>
   <socketType>SSL</socketType><authentication>password-cleartext</authentication></outgoingServer>'
mkdir -p "$D/autoconfig.redir.test"
: > "$D/autoconfig.redir.test/redirect"
mkdir -p "$D/autoconfig.servfail.test"
: > "$D/autoconfig.servfail.test/500"

# Start the servers and wait for their ready files (no fixed sleeps).
"${PYTHON:-python3}" "$here/dns-server.py" "$TESTDIR/dns.json" "$TESTDIR/dns.ready" \
    2> "$TESTDIR/dns.stderr" &
BG_PIDS="$BG_PIDS $!"
"${PYTHON:-python3}" "$here/autoconfig-server.py" "$D" "$CERTS/autoconfig.pem" \
    "$CERTS/autoconfig-key.pem" "$CERTS/untrusted.pem" "$CERTS/untrusted-key.pem" \
    "$TESTDIR/https.ready" "$TESTDIR/https.log" 2> "$TESTDIR/https.stderr" &
BG_PIDS="$BG_PIDS $!"
n=0
while [ ! -e "$TESTDIR/dns.ready" ] || [ ! -e "$TESTDIR/https.ready" ]; do
    n=$((n + 1))
    if [ "$n" -gt 300 ]; then
        cat "$TESTDIR/dns.stderr" "$TESTDIR/https.stderr" >&2
        echo "Bail out! the test servers did not start"
        exit 99
    fi
    sleep 0.1
done

OUT=$TESTDIR/out
ERR=$TESTDIR/err
# run ADDRESS [ARGS...]: smtpfwd --configure; sets RC.
run() {
    a=$1
    shift
    : > "$TESTDIR/https.log"
    "$SMTPFWD" --configure "$a" "$@" > "$OUT" 2> "$ERR"
    RC=$?
}
has() { grep -qxF -- "$1" "$OUT"; }
says() { grep -qF -- "$1" "$ERR"; }
rc_is() { [ "$RC" -eq "$1" ] || { diag "exit $RC, expected $1"; sed 's/^/  /' "$ERR" >&2; false; }; }
parses() {   # parses FILE ACCOUNT: the block reads back as that account
    "$SMTPFWD" -C "$1" -a "$2" --pretend > "$TESTDIR/pretend" 2>&1 \
        || { cat "$TESTDIR/pretend" >&2; return 1; }
}

# ---- DNS ----
run alice@srvs.test
check "SRV _submissions only: exit 0" rc_is 0
check "SRV _submissions only: host, port 465, implicit TLS" \
    sh -c "grep -qx 'host mail.srvs.test' '$OUT' && grep -qx 'port 465' '$OUT' && grep -qx 'tls on' '$OUT' && grep -qx 'tls_starttls off' '$OUT'"
check "SRV: the source in a comment" has "# DNS SRV _submissions._tcp.srvs.test"
check "SRV: account, auth on, user and from are the address" \
    sh -c "grep -qx 'account srvs.test' '$OUT' && grep -qx 'auth on' '$OUT' && grep -qx 'user alice@srvs.test' '$OUT' && grep -qx 'from alice@srvs.test' '$OUT'"
check "SRV: no HTTPS request when DNS answered" test ! -s "$TESTDIR/https.log"
diag "$(cat "$OUT")"
cp "$OUT" "$TESTDIR/srvs.rc"
chmod 600 "$TESTDIR/srvs.rc"
check "SRV: the block printed parses (--pretend)" parses "$TESTDIR/srvs.rc" srvs.test

run bob@srv.test
check "SRV _submission only: exit 0, port 587 with STARTTLS" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'port 587' '$OUT' && grep -qx 'tls_starttls on' '$OUT' && grep -qx 'host smtp.srv.test' '$OUT'"

run carol@both.test
check "both: _submissions wins, lowest priority then highest weight" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'host heavy.both.test' '$OUT' && grep -qx 'port 465' '$OUT'"
check "both: the other records as alternatives" \
    sh -c "grep -q '^# alternative: 10 0 4650 primary.both.test.' '$OUT' && grep -q '^# alternative: 20 5 465 backup.both.test.' '$OUT'"
check "both: nothing from _submission" not grep -q starttls.both.test "$OUT"

run dave@dot.test
check "\".\" target: _submissions skipped, _submission used" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'host smtp.dot.test' '$OUT' && grep -qx 'tls_starttls on' '$OUT'"
check "\".\" target: the user is told" says "not offered"

run erin@servfail.test
check "SERVFAIL and an autoconfig server answering 500: 75" rc_is 75
check "SERVFAIL: said, with the attempts" \
    sh -c "grep -q 'SERVFAIL' '$ERR' && grep -q 'HTTP status 500' '$ERR' && grep -q 'try again later' '$ERR'"

run frank@broken.test
check "malformed DNS answers: 75, said" \
    sh -c "[ $RC -eq 75 ] && grep -q 'malformed' '$ERR'"

run "jörg@bücher.test"
check "IDN domain: the SRV name in A-labels, the account named by it" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'account xn--bcher-kva.test' '$OUT' && grep -qx 'host smtp.xn--bcher-kva.test' '$OUT' && grep -q '_submissions._tcp.xn--bcher-kva.test' '$OUT'"

# ---- autoconfig ----
run "g.x+tag@acfg.test"
check "autoconfig host: exit 0" rc_is 0
check "autoconfig: SSL preferred over STARTTLS" \
    sh -c "grep -qx 'host ssl.acfg.test' '$OUT' && grep -qx 'port 465' '$OUT' && grep -qx 'tls_starttls off' '$OUT'"
check "autoconfig: %EMAILLOCALPART% and %EMAILDOMAIN% replaced" has "user g.x+tag+smtp@acfg.test"
check "autoconfig: the source URL in a comment" \
    grep -q '^# from https://autoconfig.acfg.test/mail/config-v1.1.xml?emailaddress=g.x%2Btag%40acfg.test$' "$OUT"
check "autoconfig: the address escaped in the query" \
    grep -qxF 'autoconfig.acfg.test /mail/config-v1.1.xml?emailaddress=g.x%2Btag%40acfg.test' "$TESTDIR/https.log"
diag "$(cat "$OUT")"
cp "$OUT" "$TESTDIR/acfg.rc"
chmod 600 "$TESTDIR/acfg.rc"
check "autoconfig: the block parses" parses "$TESTDIR/acfg.rc" acfg.test

run hank@wk.test
check ".well-known: exit 0, STARTTLS, %EMAILLOCALPART%" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'host smtp.wk.test' '$OUT' && grep -qx 'tls_starttls on' '$OUT' && grep -qx 'user hank' '$OUT'"
check ".well-known: the source URL" has "# from https://wk.test/.well-known/autoconfig/mail/config-v1.1.xml"

run ida@dnswins.test
check "DNS and autoconfig: DNS wins, no HTTPS request" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'host smtp.dnswins.test' '$OUT' && [ ! -s '$TESTDIR/https.log' ]"

run jo@none.test
check "nothing anywhere: 69" rc_is 69
check "nothing: the four attempts listed" \
    sh -c "[ \$(grep -c '^  - ' '$ERR') -eq 4 ] && grep -q '_submissions._tcp.none.test' '$ERR' && grep -q '_submission._tcp.none.test' '$ERR' && grep -q 'https://autoconfig.none.test/' '$ERR' && grep -q 'https://none.test/.well-known/' '$ERR'"
check "nothing: no account block on stdout" test ! -s "$OUT"
diag "$(cat "$ERR")"

run kim@badxml.test
check "malformed XML: 69, said" sh -c "[ $RC -eq 69 ] && grep -q 'not well-formed' '$ERR'"
run lea@nosmtp.test
check "no smtp outgoingServer: 69, said" sh -c "[ $RC -eq 69 ] && grep -q 'no smtp outgoing server' '$ERR'"
run max@doctype.test
check "a DOCTYPE with an external entity: refused (69), /etc/passwd nowhere" \
    sh -c "[ $RC -eq 69 ] && grep -q 'DOCTYPE' '$ERR' && ! grep -q root: '$OUT' '$ERR'"
run ned@badcert.test
check "untrusted certificate: refused, 69, said" \
    sh -c "[ $RC -eq 69 ] && grep -q 'certificate' '$ERR' && [ ! -s '$OUT' ]"

run rex@redir.test
check "a redirect to http:// is not followed: 69, the 301 said, one request" \
    sh -c "[ $RC -eq 69 ] && grep -q 'HTTP status 301' '$ERR' && [ \$(wc -l < '$TESTDIR/https.log') -eq 1 ]"

run olga@oauth.test
check "OAuth2: exit 0, auth xoauth2, oauth2_provider gmail" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'auth xoauth2' '$OUT' && grep -qx 'oauth2_provider gmail' '$OUT' && grep -qx 'host smtp.gmail.com' '$OUT'"
diag "$(cat "$OUT")"
check "OAuth2: the --authorize hint" grep -q '^#   smtpfwd --authorize oauth.test$' "$OUT"
cp "$OUT" "$TESTDIR/oauth.rc"
chmod 600 "$TESTDIR/oauth.rc"
check "OAuth2: the block parses" parses "$TESTDIR/oauth.rc" oauth.test

run pia@plain.test
check "plain server: used with tls off and a loud warning" \
    sh -c "[ $RC -eq 0 ] && grep -qx 'tls off' '$OUT' && grep -q 'WITHOUT TLS' '$OUT'"
check "plain server: allow_plaintext_auth is not set, only explained" \
    sh -c "grep -q '^# .*allow_plaintext_auth' '$OUT' && ! grep -q '^allow_plaintext_auth' '$OUT'"
cp "$OUT" "$TESTDIR/plain.rc"
chmod 600 "$TESTDIR/plain.rc"
check "plain server: the block parses" parses "$TESTDIR/plain.rc" plain.test

# ---- usage ----
"$SMTPFWD" --configure > "$OUT" 2> "$ERR"; RC=$?
check "--configure without an address: 64" rc_is 64
run not-an-address
check "not an address: 64" rc_is 64
"$SMTPFWD" --write > "$OUT" 2> "$ERR"; RC=$?
check "--write without --configure: 64" rc_is 64

# ---- --write ----
F=$HOME/.smtprc
run alice@srvs.test --write
check "--write to a new ~/.smtprc: exit 0, said on stderr" \
    sh -c "[ $RC -eq 0 ] && grep -q 'wrote account srvs.test to the new file $F' '$ERR' && [ ! -s '$OUT' ]"
check "--write: the new file is 0600" sh -c "[ \$(stat -c %a '$F') = 600 ]"
check "--write: the new file parses" parses "$F" srvs.test
cp "$F" "$TESTDIR/before"
run bob@srv.test --write
check "--write to an existing file: appended, FILE~ holds the old content" \
    sh -c "[ $RC -eq 0 ] && cmp -s '$TESTDIR/before' '$F~' && grep -qx 'account srv.test' '$F' && grep -qx 'account srvs.test' '$F'"
check "--write: both accounts parse" sh -c "'$SMTPFWD' -C '$F' -a srvs.test --pretend >/dev/null && '$SMTPFWD' -C '$F' -a srv.test --pretend >/dev/null"
cp "$F" "$TESTDIR/before"
run alice@srvs.test --write
check "--write of an account that exists: 73, the file unchanged" \
    sh -c "[ $RC -eq 73 ] && cmp -s '$TESTDIR/before' '$F' && grep -q 'has an account srvs.test already' '$ERR'"
chmod 400 "$F"
run hank@wk.test --write
check "--write keeps a stricter mode (0400)" \
    sh -c "[ $RC -eq 0 ] && [ \$(stat -c %a '$F') = 400 ]"
B=$TESTDIR/broken.rc
printf 'account x\nbogus_keyword 1\n' > "$B"
chmod 600 "$B"
cp "$B" "$TESTDIR/before"
run alice@srvs.test --write -C "$B"
check "--write to a file that does not parse: 78, the file unchanged, no FILE~" \
    sh -c "[ $RC -eq 78 ] && cmp -s '$TESTDIR/before' '$B' && [ ! -e '$B~' ]"
mkdir -p "$TESTDIR/dotfiles"
L=$TESTDIR/link.rc
printf 'account old\nhost old.test\n' > "$TESTDIR/dotfiles/real.rc"
chmod 600 "$TESTDIR/dotfiles/real.rc"
ln -s "$TESTDIR/dotfiles/real.rc" "$L"
run carol@both.test --write -C "$L"
check "--write through a symbolic link: the target written, the link kept" \
    sh -c "[ $RC -eq 0 ] && [ -L '$L' ] && grep -qx 'account both.test' '$TESTDIR/dotfiles/real.rc' && [ -e '$TESTDIR/dotfiles/real.rc~' ]"
check "--write -C: the file parses" parses "$L" both.test
check "--write: no temporary file left" \
    sh -c "! ls -a '$TESTDIR/dotfiles' '$HOME' | grep -q '\\.rc\\.\\|smtprc\\.'"

done_testing
