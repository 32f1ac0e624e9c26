/*
 * tap.h - a tiny TAP producer for the unit tests. Each check prints
 * "ok N - what" or "not ok N - what" with the values that differed;
 * tap_done() prints the plan and returns the exit status.
 */
#ifndef SMTPFWD_TAP_H
#define SMTPFWD_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_ok(int cond, const char *what)
{
    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
    fflush(stdout);
}

static inline void tap_str(const char *got, const char *want, const char *what)
{
    int same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    tap_ok(same, what);
    if (!same)
        printf("#   got:  %s%s%s\n#   want: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
               got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
}

static inline void tap_int(long long got, long long want, const char *what)
{
    tap_ok(got == want, what);
    if (got != want)
        printf("#   got:  %lld\n#   want: %lld\n", got, want);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
