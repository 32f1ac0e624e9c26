/*
 * testutil.h - helpers the unit tests share (tests/unit/libtestutil.a):
 * a private temporary directory, removing a directory tree, writing a
 * file. Test code only: on a failure that makes the test meaningless they
 * print "Bail out! ..." (TAP) and exit 99 (a hard error); they use only
 * the C library, never smtpfwd's own code, which the tests check.
 */
#ifndef SMTPFWD_TESTUTIL_H
#define SMTPFWD_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Make a fresh directory /tmp/test-NAME-XXXXXX (mode 0700) and return its
 * path (static storage, valid until the program ends). Bails out (exit
 * 99) when it cannot be made. */
const char *tu_tmpdir(const char *name);

/* Remove PATH and everything under it, not following symbolic links
 * (nothing to do when PATH does not exist). Returns 0, or -1 after printing a "# cannot remove ..." comment line
 * (a leftover is not a test failure). */
int tu_rmtree(const char *path);

/* Write the N bytes DATA to DIR/NAME (created or truncated), then give it
 * MODE. Returns the path (malloc'd; the caller frees). Bails out (exit
 * 99) when the file cannot be written. */
char *tu_write_bytes(const char *dir, const char *name, const void *data, size_t n, mode_t mode);

/* tu_write_bytes() of the string TEXT (without its NUL). */
char *tu_write_file(const char *dir, const char *name, const char *text, mode_t mode);

#endif
