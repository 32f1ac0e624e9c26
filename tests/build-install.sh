#!/bin/sh
# build-install.sh - configure with --prefix and --enable-sendmail-links in a
# scratch directory, install with DESTDIR, and check what landed: the
# program, the sendmail/mailq/newaliases links and that they behave as
# those names, the man pages, and that --version lists the features.
set -u
: "${top_srcdir:?}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cd "$tmp" || exit 99
"$top_srcdir/configure" --prefix=/opt/sf --enable-sendmail-links >configure.out 2>&1 ||
    { cat configure.out; fail "configure"; }
grep -q "sendmail links: *yes" configure.out || fail "configure summary lacks 'sendmail links: yes'"
grep -q "TLS (GnuTLS): *yes" configure.out || fail "configure summary lacks TLS"
make -s -j2 >make.out 2>&1 || { cat make.out; fail "make"; }
make -s install DESTDIR="$tmp/root" >install.out 2>&1 || { cat install.out; fail "make install"; }

r="$tmp/root/opt/sf"
[ -x "$r/bin/smtpfwd" ] || fail "bin/smtpfwd not installed"
for l in sbin/sendmail bin/mailq bin/newaliases; do
    [ -L "$r/$l" ] || fail "$l is not a symbolic link"
done
[ "$(readlink "$r/sbin/sendmail")" = /opt/sf/bin/smtpfwd ] || fail "sendmail link target: $(readlink "$r/sbin/sendmail")"
[ -f "$r/share/man/man1/smtpfwd.1" ] || fail "smtpfwd.1 not installed"
[ -f "$r/share/man/man5/smtprc.5" ] || fail "smtprc.5 not installed"

"$r/bin/smtpfwd" --version >version.out 2>&1 || fail "--version exit status"
grep -q "^smtpfwd " version.out || fail "--version first line"
grep -q "GnuTLS" version.out || fail "--version does not list TLS"
"$r/bin/newaliases"; [ $? -eq 0 ] || fail "newaliases must exit 0"
"$r/bin/mailq" >mailq.out 2>&1 </dev/null
grep -q "queue" mailq.out || fail "mailq did not act as -bp: $(cat mailq.out)"

make -s uninstall DESTDIR="$tmp/root" >/dev/null 2>&1 || fail "make uninstall"
[ ! -e "$r/bin/smtpfwd" ] || fail "uninstall left bin/smtpfwd"
[ ! -L "$r/sbin/sendmail" ] || fail "uninstall left the sendmail link"
echo "PASS"
