#!/bin/sh
# po-check.sh - the message catalogs of po/ are complete and current:
# for each language in po/LINGUAS, po/LANG.po exists, passes
# "msgfmt -c --check-format" (header, plural forms, every format
# directive of the msgid in the msgstr, in order and type), has no fuzzy
# and no untranslated entry, and stays so when merged with a template
# made now from the sources (po/POTFILES.in, with the xgettext options
# of po/Makevars): a message added or changed in the code without its
# translation fails here.
# TAP (tests/lib.sh); skipped without the gettext tools.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"

for p in msgfmt msgmerge msgattrib xgettext; do
    need_program "$p"
done
lib_tmpdir
po=$top_srcdir/po

langs=$(sed 's/#.*//' "$po/LINGUAS")
[ -n "$(printf '%s' "$langs" | tr -d ' \n\t')" ] || skip_all "no language in po/LINGUAS"

# The template as "make update-po" makes it (po/Makefile.in.in runs
# xgettext from the source directory on the files of POTFILES.in).
opts=$(sed -n 's/^XGETTEXT_OPTIONS *= *//p' "$po/Makevars")
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$po/POTFILES.in" > "$TESTDIR/files"
# shellcheck disable=SC2086
if (cd "$top_srcdir" && xgettext --default-domain=smtpfwd --add-comments=TRANSLATORS: \
        $opts --files-from="$TESTDIR/files" -o "$TESTDIR/fresh.pot") 2> "$TESTDIR/xgettext.err"; then
    ok "xgettext makes a template from po/POTFILES.in"
else
    diag "$(cat "$TESTDIR/xgettext.err")"
    fail_stop "xgettext makes a template from po/POTFILES.in"
fi

# entries FILE: the msgids of a catalog's entries (one line each), none
# for an empty catalog.
entries() {
    grep -c '^msgid ' "$1" | awk '{ print ($1 > 0 ? $1 - 1 : 0) }'
}

for lang in $langs; do
    f=$po/$lang.po
    if [ ! -f "$f" ]; then
        not_ok "po/$lang.po exists (po/LINGUAS lists $lang)"
        continue
    fi
    if msgfmt -c --check-format --statistics -o /dev/null "$f" 2> "$TESTDIR/stats"; then
        ok "$lang.po: msgfmt -c --check-format ($(cat "$TESTDIR/stats"))"
    else
        not_ok "$lang.po: msgfmt -c --check-format
$(cat "$TESTDIR/stats")"
    fi
    # msgattrib writes no file when nothing is selected: remove the
    # previous language's first, so that an empty selection reads empty.
    rm -f "$TESTDIR/fuzzy.po" "$TESTDIR/untr.po"
    msgattrib --only-fuzzy --no-obsolete "$f" -o "$TESTDIR/fuzzy.po"
    msgattrib --untranslated --no-obsolete "$f" -o "$TESTDIR/untr.po"
    touch "$TESTDIR/fuzzy.po" "$TESTDIR/untr.po"
    check "$lang.po: no fuzzy entry ($(entries "$TESTDIR/fuzzy.po"))" \
        test "$(entries "$TESTDIR/fuzzy.po")" -eq 0 ||
        diag "$(grep '^msgid ' "$TESTDIR/fuzzy.po" | sed 1d | head -20)"
    check "$lang.po: no untranslated entry ($(entries "$TESTDIR/untr.po"))" \
        test "$(entries "$TESTDIR/untr.po")" -eq 0 ||
        diag "$(grep '^msgid ' "$TESTDIR/untr.po" | sed 1d | head -20)"

    # Merged with the template of the sources as they are now: a new or
    # changed message comes out untranslated or fuzzy.
    if ! msgmerge -q "$f" "$TESTDIR/fresh.pot" -o "$TESTDIR/merged.po" 2> "$TESTDIR/merge.err"; then
        not_ok "$lang.po: msgmerge with the sources' template
$(cat "$TESTDIR/merge.err")"
        continue
    fi
    rm -f "$TESTDIR/mfuzzy.po" "$TESTDIR/muntr.po"
    msgattrib --only-fuzzy --no-obsolete "$TESTDIR/merged.po" -o "$TESTDIR/mfuzzy.po"
    msgattrib --untranslated --no-obsolete "$TESTDIR/merged.po" -o "$TESTDIR/muntr.po"
    touch "$TESTDIR/mfuzzy.po" "$TESTDIR/muntr.po"
    n=$(( $(entries "$TESTDIR/mfuzzy.po") + $(entries "$TESTDIR/muntr.po") ))
    check "$lang.po is up to date with the sources ($n message(s) of the code without a translation; make update-po)" \
        test "$n" -eq 0 ||
        diag "$(cat "$TESTDIR/mfuzzy.po" "$TESTDIR/muntr.po" | grep '^msgid ' | grep -v '^msgid ""$' | head -20)"
done
done_testing
