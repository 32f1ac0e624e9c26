#!/bin/sh
# check-report.sh - scripts/check names every failed test.
#
# Runs the real scripts/check (--quick) on a small automake project with
# the same layout (configure at the top, the suite in tests/, TAP through
# build-aux/tap-driver.sh) whose suite has one test of each outcome, run
# with make -j: a failure whose result line make's output glues to stray
# output of the test, an error (99), an unexpected pass, an expected
# failure, a skip, a TAP test with one failed result, and a failure in a
# subdirectory. Each FAIL/ERROR/XPASS must be named on its own line (a TAP
# test's failed result too), nothing else named, and the totals exact.
# Tests written with tests/lib.sh's TAP helpers run there too (as the
# integration tests do, under the TAP driver with --ignore-exit): each
# check is counted, a failed check is named, skip_all and skip_check count
# as skipped, need_built without smtpfwd is an error.
# Then TESTS=... runs one passing test: no failure is named from the
# earlier run and the status is 0.
# TAP (tests/lib.sh); skipped without autoconf/automake.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
need_program autoreconf
need_program automake
lib_tmpdir
p=$TESTDIR/proj
mkdir -p "$p/scripts" "$p/tests/sub" "$p/build-aux" || exit 99
cp "$src/scripts/check" "$p/scripts/check" && cp "$src/build-aux/tap-driver.sh" "$p/build-aux/" &&
    cp "$src/tests/lib.sh" "$p/tests/lib.sh" ||
    exit 99

cat >"$p/configure.ac" <<'EOF'
AC_INIT([report], [1])
AC_CONFIG_AUX_DIR([build-aux])
AM_INIT_AUTOMAKE([foreign subdir-objects])
AC_PROG_AWK
AC_CONFIG_FILES([Makefile tests/Makefile])
AC_OUTPUT
EOF
printf 'SUBDIRS = tests\n' >"$p/Makefile.am"
cat >"$p/tests/Makefile.am" <<'EOF'
TESTS = pass.sh glued.sh error.sh xpass.sh xfail.sh skip.sh results.tap sub/deep.sh \
	lib-pass.tap lib-fail.tap lib-skip.tap lib-built.tap
XFAIL_TESTS = xpass.sh xfail.sh
TEST_EXTENSIONS = .sh .tap
SH_LOG_COMPILER = $(SHELL)
TAP_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
AM_TAP_LOG_DRIVER_FLAGS = --ignore-exit
TAP_LOG_COMPILER = $(SHELL)
EOF
t=$p/tests
printf 'exit 0\n' >"$t/pass.sh"
# Stray output without a newline on the harness's own output (as a
# background process left by a test can produce), then a failure: the
# console line "FAIL: glued.sh" comes right after it.
printf 'printf "stray output from a test" >/proc/$PPID/fd/1\nexit 1\n' >"$t/glued.sh"
printf 'exit 99\n' >"$t/error.sh"
printf 'exit 0\n' >"$t/xpass.sh"
printf 'exit 1\n' >"$t/xfail.sh"
printf 'exit 77\n' >"$t/skip.sh"
printf 'echo 1..3\necho ok 1 - first\necho not ok 2 - second result\necho ok 3 - third\n' >"$t/results.tap"
printf 'exit 1\n' >"$t/sub/deep.sh"
# With tests/lib.sh: 2 passed and 1 skipped; 1 passed and 1 failed (exit
# 1, not counted again); skipped as a whole; an error (smtpfwd not built).
lib='. "$(dirname "$0")/lib.sh"'
printf '%s\nok "first"\ncheck "second" true\nskip_check "no reason" "third"\ndone_testing\n' "$lib" >"$t/lib-pass.tap"
printf '%s\nok "first"\ncheck "second check" false\ndone_testing\n' "$lib" >"$t/lib-fail.tap"
printf '%s\nskip_all "nothing to test here"\nok "never"\ndone_testing\n' "$lib" >"$t/lib-skip.tap"
printf '%s\nSMTPFWD=/nonexistent/smtpfwd need_built\nok "never"\ndone_testing\n' "$lib" >"$t/lib-built.tap"

# Under make check, make's variables (TEST_LOGS=... among them) would pass
# to the small project's make through MAKEFLAGS.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES 2>/dev/null
(cd "$p" && autoreconf -i >autoreconf.out 2>&1) || { cat "$p/autoreconf.out"; exit 99; }

# 1. The whole suite.
(cd "$p" && unset TESTS && sh scripts/check --quick >"$TESTDIR/out" 2>&1)
status=$?
out=$TESTDIR/out
check "scripts/check exits non-zero when tests failed" [ "$status" -ne 0 ]
grep -q 'stray output from a testFAIL' "$p/_build/check.out" ||
    echo "# (make's output did not glue the line this time)"
for want in "_build: FAIL: glued.sh (log: _build/tests/glued.log)" \
            "_build: ERROR: error.sh (log: _build/tests/error.log)" \
            "_build: XPASS: xpass.sh (log: _build/tests/xpass.log)" \
            "_build: FAIL: results.tap (log: _build/tests/results.log)" \
            "_build:     FAIL: results.tap 2 - second result" \
            "_build: FAIL: sub/deep.sh (log: _build/tests/sub/deep.log)" \
            "_build: FAIL: lib-fail.tap (log: _build/tests/lib-fail.log)" \
            "_build:     FAIL: lib-fail.tap 2 - second check" \
            "_build: ERROR: lib-built.tap (log: _build/tests/lib-built.log)" \
            "_build: 6 passed, 7 failed, 3 skipped" \
            "6 passed, 7 failed, 3 skipped"; do
    if grep -q -x -F -e "$want" "$out"; then ok "$want"; else fail "no line '$want' in: $(cat "$out")"; fi
done
check "need_built's error is named" grep -q -x -F -e \
    "_build:     ERROR: lib-built.tap - Bail out! /nonexistent/smtpfwd is not built (make check builds it; or set SMTPFWD and SMTPD)" "$out"
n=$(grep -c -E '^_build: (FAIL|ERROR|XPASS): ' "$out")
check "7 tests named as failed ($n)" [ "$n" -eq 7 ]
for name in pass.sh xfail.sh skip.sh lib-pass.tap lib-skip.tap; do
    check "$name is not named" not grep -q -F ": $name" "$out"
done
check "the last line is the totals ('$(tail -n 1 "$out")')" [ "$(tail -n 1 "$out")" = "6 passed, 7 failed, 3 skipped" ]

# 2. Only pass.sh: nothing named from the run before, status 0.
(cd "$p" && TESTS=pass.sh sh scripts/check --quick >"$out" 2>&1)
status=$?
check "TESTS=pass.sh: scripts/check exits 0 (exit $status)" [ "$status" -eq 0 ]
check "TESTS=pass.sh: output is the totals only: $(cat "$out")" [ "$(cat "$out")" = "_build: 1 passed, 0 failed, 0 skipped
1 passed, 0 failed, 0 skipped" ]

done_testing
