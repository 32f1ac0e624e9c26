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
# TAP (tests/lib.sh): one result per check; a failed build step ends the
# test.
set -u
: "${top_srcdir:?}"
. "$top_srcdir/tests/lib.sh"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

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
        cp -pR "$f" "$src/" || fail_stop "copy $f"
    done
    (cd "$src" && make -s distclean >"$tmp/distclean.out" 2>&1) ||
        { cat "$tmp/distclean.out"; fail_stop "make distclean in the copy"; }
    ok "make distclean in the copy"
    check "make distclean leaves no config.status in the copy" [ ! -f "$src/config.status" ]
fi
mkdir "$tmp/build" && cd "$tmp/build" || exit 99
"$src/configure" --prefix=/opt/sf --enable-sendmail-links \
    ${CC:+CC="$CC"} ${CFLAGS:+CFLAGS="$CFLAGS"} ${CPPFLAGS:+CPPFLAGS="$CPPFLAGS"} \
    ${LDFLAGS:+LDFLAGS="$LDFLAGS"} >configure.out 2>&1 ||
    { sed 's/^/# /' configure.out; fail_stop "configure"; }
ok "configure"
check "configure summary says 'sendmail links: yes'" grep -q "sendmail links: *yes" configure.out
check "configure summary says 'TLS (GnuTLS): yes'" grep -q "TLS (GnuTLS): *yes" configure.out
make -s -j2 >make.out 2>&1 || { sed 's/^/# /' make.out; fail_stop "make"; }
ok "make"
make -s install DESTDIR="$tmp/root" >install.out 2>&1 ||
    { sed 's/^/# /' install.out; fail_stop "make install"; }
ok "make install"

r="$tmp/root/opt/sf"
check "bin/smtpfwd is installed" [ -x "$r/bin/smtpfwd" ]
for l in sbin/sendmail bin/mailq bin/newaliases; do
    check "$l is a symbolic link" [ -L "$r/$l" ]
done
t=$(readlink "$r/sbin/sendmail")
check "the sendmail link points to /opt/sf/bin/smtpfwd (it points to '$t')" [ "$t" = /opt/sf/bin/smtpfwd ]
check "smtpfwd.1 is installed" [ -f "$r/share/man/man1/smtpfwd.1" ]
check "smtprc.5 is installed" [ -f "$r/share/man/man5/smtprc.5" ]
# The translations: each po/LANG.po of po/LINGUAS as a catalog (with
# NLS), the man pages in German when configure found po4a.
if grep -q '^#define ENABLE_NLS 1' config.h; then
    for l in $(sed 's/#.*//' "$src/po/LINGUAS"); do
        check "the $l message catalog is installed" \
            [ -f "$r/share/locale/$l/LC_MESSAGES/smtpfwd.mo" ]
    done
fi
if grep -q "translated man pages: *yes" configure.out; then
    check "the German smtpfwd.1 is installed" [ -f "$r/share/man/de/man1/smtpfwd.1" ]
    check "the German smtprc.5 is installed" [ -f "$r/share/man/de/man5/smtprc.5" ]
    if command -v man >/dev/null 2>&1; then
        MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$r/share/man/de/man1/smtpfwd.1" >man-de.out 2>&1
        check "the German smtpfwd(1) has its German NAME line" \
            grep -q "smtpfwd - eine Nachricht an einen Smarthost weiterleiten" man-de.out ||
            sed -n '1,10s/^/#   /p' man-de.out
    fi
else
    diag "no po4a: the translated man pages are not built"
fi

"$r/bin/smtpfwd" --version >version.out 2>&1
check "--version exits 0" [ $? -eq 0 ]
check "--version's first line begins with 'smtpfwd '" grep -q "^smtpfwd " version.out
check "--version lists TLS (GnuTLS)" grep -q "GnuTLS" version.out
"$r/bin/newaliases"
check "newaliases exits 0" [ $? -eq 0 ]
"$r/bin/mailq" >mailq.out 2>&1 </dev/null
check "mailq acts as -bp (says 'queue')" grep -q "queue" mailq.out ||
    sed 's/^/#   /' mailq.out

make -s uninstall DESTDIR="$tmp/root" >/dev/null 2>&1
check "make uninstall" [ $? -eq 0 ]
check "make uninstall removes bin/smtpfwd" [ ! -e "$r/bin/smtpfwd" ]
check "make uninstall removes the sendmail link" [ ! -L "$r/sbin/sendmail" ]
check "make uninstall removes the German man pages" [ ! -e "$r/share/man/de/man1/smtpfwd.1" ]
done_testing
