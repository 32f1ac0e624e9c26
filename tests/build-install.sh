#!/bin/sh
# build-install.sh - configure with --prefix and --enable-sendmail-links in a
# scratch directory, install with DESTDIR, and check what landed: the
# program, the sendmail/mailq/newaliases links and that they behave as
# those names, the man pages, and that --version lists the features.
#
# The tree under test is never touched: the build is in a temporary
# directory, configured from the source tree (VPATH) when that is not
# configured itself, else from a copy of it cleaned with make distclean
# (an in-tree build, `./configure && make check`, as packagers do).
# The compiler and flags are those of the build under test (CC, CFLAGS,
# CPPFLAGS, LDFLAGS from make check's environment).
set -u
: "${top_srcdir:?}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

src=$top_srcdir
if [ -f "$top_srcdir/config.status" ]; then
    # configure refuses a source directory that is configured in place.
    src=$tmp/src
    mkdir "$src" || exit 99
    for f in "$top_srcdir"/* "$top_srcdir"/.[!.]*; do
        [ -e "$f" ] || continue
        case ${f##*/} in .git|autom4te.cache) continue ;; esac
        # Other build directories inside the tree are not sources.
        [ -d "$f" ] && [ -f "$f/config.status" ] && continue
        cp -pR "$f" "$src/" || fail "cannot copy $f"
    done
    (cd "$src" && make -s distclean >"$tmp/distclean.out" 2>&1) ||
        { cat "$tmp/distclean.out"; fail "make distclean in the copy"; }
    [ ! -f "$src/config.status" ] || fail "make distclean left config.status in the copy"
fi
mkdir "$tmp/build" && cd "$tmp/build" || exit 99
"$src/configure" --prefix=/opt/sf --enable-sendmail-links \
    ${CC:+CC="$CC"} ${CFLAGS:+CFLAGS="$CFLAGS"} ${CPPFLAGS:+CPPFLAGS="$CPPFLAGS"} \
    ${LDFLAGS:+LDFLAGS="$LDFLAGS"} >configure.out 2>&1 ||
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
