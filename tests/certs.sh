#!/bin/sh
# tests/certs.sh - generates the certificates the TLS test cases use, with
# certtool (gnutls-bin). Owns nothing else: runcases.py calls it once per
# test run (and tests/lib.sh's certs_make for the shell tests) and removes
# the directory afterwards.
#
# Usage: sh tests/certs.sh DIR
#
# Writes into DIR (ECDSA P-256 keys, so it takes well under a second):
#   ca.pem ca-key.pem                 the test CA ("smtpfwd test CA")
#   server.pem server-key.pem         CN/SAN localhost + IP 127.0.0.1, by ca
#   expired.pem expired-key.pem       the same names, valid 2001-2002, by ca
#   wrongname.pem wrongname-key.pem   CN/SAN wrong.example, by ca
#   otherca.pem otherca-key.pem       another CA nobody trusts
#   untrusted.pem untrusted-key.pem   localhost + 127.0.0.1, by otherca
#   client.pem client-key.pem         a client certificate (CN alice), by ca
#   autoconfig.pem autoconfig-key.pem the autoconfig test domains of
#                                     tests/configure.sh (DOMAIN and
#                                     autoconfig.DOMAIN for each), by ca
#   server.sha256 untrusted.sha256    SHA-256 fingerprints, "AA:BB:..." form
# Exit status 77 when certtool is missing, 99 on any other failure.
set -eu

dir=${1:?usage: certs.sh DIR}
command -v certtool >/dev/null 2>&1 || { echo "certtool not installed" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"

key() {
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
        --outfile "$1" >/dev/null 2>&1 || {
        # certtool before 3.6 spells it differently
        certtool --generate-privkey --ecc --outfile "$1" >/dev/null 2>&1
    }
}

# tmpl NAME LINES...: a certtool template in NAME.tmpl
tmpl() {
    name=$1
    shift
    printf '%s\n' "$@" > "$name.tmpl"
}

fail() {
    echo "certs.sh: $*" >&2
    exit 99
}

# The CA and another CA.
for ca in ca otherca; do
    key "$ca-key.pem" || fail "cannot generate a key"
    tmpl "$ca" "cn = \"smtpfwd test $ca\"" "organization = \"smtpfwd tests\"" \
        "serial = 1" "expiration_days = 3650" "ca" "cert_signing_key" "crl_signing_key"
    certtool --generate-self-signed --load-privkey "$ca-key.pem" \
        --template "$ca.tmpl" --outfile "$ca.pem" >/dev/null 2>&1 \
        || fail "cannot make $ca.pem"
done

# leaf NAME SIGNER TEMPLATE-LINES...
leaf() {
    name=$1
    signer=$2
    shift 2
    key "$name-key.pem" || fail "cannot generate a key"
    tmpl "$name" "$@"
    certtool --generate-certificate --load-privkey "$name-key.pem" \
        --load-ca-certificate "$signer.pem" --load-ca-privkey "$signer-key.pem" \
        --template "$name.tmpl" --outfile "$name.pem" >/dev/null 2>&1 \
        || fail "cannot make $name.pem"
}

leaf server ca 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
    'serial = 2' 'expiration_days = 3650' tls_www_server signing_key encryption_key
leaf expired ca 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
    'serial = 3' 'activation_date = "2001-01-01 00:00:00"' \
    'expiration_date = "2002-01-01 00:00:00"' tls_www_server signing_key encryption_key
leaf wrongname ca 'cn = "wrong.example"' 'dns_name = "wrong.example"' \
    'serial = 4' 'expiration_days = 3650' tls_www_server signing_key encryption_key
leaf untrusted otherca 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
    'serial = 5' 'expiration_days = 3650' tls_www_server signing_key encryption_key
leaf client ca 'cn = "alice"' 'email = "alice@x.test"' \
    'serial = 6' 'expiration_days = 3650' tls_www_client signing_key
# tests/configure.sh's HTTPS server: each test domain and its autoconfig host.
ac_names=
for d in example.test acfg.test wk.test dnswins.test badxml.test nosmtp.test oauth.test \
         plain.test servfail.test badcert.test doctype.test redir.test; do
    ac_names="$ac_names dns_name=\"$d\" dns_name=\"autoconfig.$d\""
done
# shellcheck disable=SC2086
eval "set -- $ac_names"
leaf autoconfig ca 'cn = "autoconfig.example.test"' "$@" \
    'serial = 7' 'expiration_days = 3650' tls_www_server signing_key encryption_key

# fingerprint CERT: SHA-256 of the DER, "AA:BB:..."
fingerprint() {
    certtool --certificate-info --infile "$1" --outder 2>/dev/null \
        | sha256sum | cut -d' ' -f1 | tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//'
}
for c in server untrusted; do
    fingerprint "$c.pem" > "$c.sha256"
    [ -s "$c.sha256" ] || fail "cannot compute the fingerprint of $c.pem"
done
rm -f ./*.tmpl
exit 0
