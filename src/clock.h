/*
 * clock.h - time for the waits of conn.c and tls.c: the monotonic clock
 * in milliseconds, the time left before a deadline, one poll() on one fd
 * until a deadline, and the "N seconds" text of timeout messages.
 *
 * A deadline is a point on the monotonic clock (clock_now_ms() plus a
 * timeout), computed once per reply or handshake, so that a peer that
 * trickles bytes cannot stretch a wait (doc/ARCHITECTURE.md, contract 8).
 *
 * Must not: know about sockets beyond the fd it polls, or about TLS or
 * SMTP; keep any state.
 */
#ifndef SMTPFWD_CLOCK_H
#define SMTPFWD_CLOCK_H

/* Now on the monotonic clock, in milliseconds (unrelated to the wall
 * clock: only differences mean something). Never fails. */
long long clock_now_ms(void);

/* Milliseconds from now until deadline_ms (a clock_now_ms() value), as a
 * poll() timeout: 0 when the deadline has passed, at most INT_MAX. */
int clock_ms_left(long long deadline_ms);

/* Wait until fd is ready for events (POLLIN/POLLOUT) or until
 * deadline_ms, whichever comes first; EINTR and early wake-ups are
 * retried against the same deadline. Returns 1 ready, 0 the deadline
 * passed, -1 poll() failed (errno set). */
int clock_wait_fd(int fd, short events, long long deadline_ms);

/* A timeout for messages: "1 second", "N seconds", or "N milliseconds"
 * when it is not a whole number of seconds; translated. The caller
 * frees it. */
char *clock_describe_ms(int timeout_ms);

#endif
