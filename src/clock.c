/*
 * clock.c - the monotonic clock, deadlines and the one-fd wait shared by
 * conn.c and tls.c (see clock.h).
 *
 * Owns: clock_gettime(CLOCK_MONOTONIC) and the poll() loop that waits
 * for one fd until a deadline. Must not: read or write the fd.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include "clock.h"
#include "i18n.h"
#include "util.h"

long long clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int clock_ms_left(long long deadline_ms)
{
    long long left = deadline_ms - clock_now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

int clock_wait_fd(int fd, short events, long long deadline_ms)
{
    for (;;) {
        int left = clock_ms_left(deadline_ms);
        if (left == 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
        /* n == 0 or EINTR: re-check the deadline */
    }
}

char *clock_describe_ms(int timeout_ms)
{
    if (timeout_ms % 1000 != 0)
        return xasprintf(ngettext("%d millisecond", "%d milliseconds", (unsigned long)timeout_ms),
                         timeout_ms);
    int s = timeout_ms / 1000;
    return xasprintf(ngettext("%d second", "%d seconds", (unsigned long)s), s);
}
