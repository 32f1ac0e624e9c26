/*
 * tests/bench/timer.c - runs one command and reports what it cost, for
 * tests/bench/bench.py.
 *
 * Owns: fork + exec + wait4 of one client run from a process small enough
 * that its own pre-exec memory does not inflate the child's ru_maxrss (a
 * Python parent would add its ~12 MiB: exec records the old image's peak).
 *
 * Usage: timer REPORTFILE SECONDS COMMAND [ARG...]
 * Writes "WALL_S CPU_S MAXRSS_KIB EXIT" to REPORTFILE. Wall time is
 * CLOCK_MONOTONIC around fork..wait4. The child gets SIGKILL after
 * SECONDS (every run is bounded); its stdin, stdout and stderr are the
 * timer's.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    if (child > 0)
        kill(child, SIGKILL);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: timer REPORTFILE SECONDS COMMAND [ARG...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    child = fork();
    if (child < 0) {
        perror("timer: fork");
        return 2;
    }
    if (child == 0) {
        execv(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    signal(SIGALRM, on_alarm);
    alarm((unsigned)atoi(argv[2]));
    int status;
    struct rusage ru;
    while (wait4(child, &status, 0, &ru) < 0)
        ;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *report = fopen(argv[1], "w");
    if (!report) {
        perror(argv[1]);
        return 2;
    }
    fprintf(report, "%.6f %.6f %ld %d\n", wall, cpu, ru.ru_maxrss, code);
    return fclose(report) == 0 ? 0 : 2;
}
