/* SPDX-License-Identifier: MIT */
/* daemon/job-error.c: the first error of a job wins even when every worker
 * fails at once, and the message always belongs to the error that won (run
 * under ThreadSanitizer, a check-then-store slot is reported as a race). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "job-error.h"

#define THREADS 8
#define ROUNDS 2000

struct slot {
        int error;
        char text[64];
};

struct racer {
        struct slot *slot;
        pthread_barrier_t *start, *end;
        int id;
        int wins;
};

static bool fail(struct slot *s, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(struct slot *s, int error, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bool won = job_error_set(&s->error, s->text, sizeof(s->text), error, fmt, ap);
        va_end(ap);
        return won;
}

static void *race(void *arg)
{
        struct racer *r = arg;
        for (int i = 0; i < ROUNDS; i++) {
                pthread_barrier_wait(r->start);
                if (fail(r->slot, -(100 + r->id), "worker %d failed", r->id))
                        r->wins++;
                pthread_barrier_wait(r->end);
        }
        return NULL;
}

Test(job_error, first_error_wins)
{
        struct slot s = {0};
        cr_assert_eq(job_error_get(&s.error), 0);
        cr_assert(fail(&s, -ENOSPC, "disk full on %s", "a"));
        cr_assert_not(fail(&s, -EIO, "later %s", "b"));
        cr_assert_eq(job_error_get(&s.error), -ENOSPC);
        cr_assert_str_eq(s.text, "disk full on a");
}

Test(job_error, zero_counts_as_an_error)
{
        struct slot s = {0};
        cr_assert(fail(&s, 0, "no code"));
        cr_assert_eq(job_error_get(&s.error), -EIO);
}

Test(job_error, concurrent_failures_have_one_winner_and_its_message)
{
        struct slot s;
        pthread_barrier_t start, end;
        pthread_barrier_init(&start, NULL, THREADS + 1);
        pthread_barrier_init(&end, NULL, THREADS + 1);
        struct racer r[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
                r[i] = (struct racer){.slot = &s, .start = &start, .end = &end, .id = i};
                cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        int bad = 0;
        for (int round = 0; round < ROUNDS; round++) {
                memset(&s, 0, sizeof(s));
                pthread_barrier_wait(&start);
                pthread_barrier_wait(&end);
                int id = -job_error_get(&s.error) - 100;
                char want[64];
                snprintf(want, sizeof(want), "worker %d failed", id);
                if (id < 0 || id >= THREADS || strcmp(s.text, want))
                        bad++;
        }
        int wins = 0;
        for (int i = 0; i < THREADS; i++) {
                pthread_join(t[i], NULL);
                wins += r[i].wins;
        }
        pthread_barrier_destroy(&start);
        pthread_barrier_destroy(&end);
        cr_assert_eq(bad, 0, "%d rounds where the message is not the winning error's", bad);
        cr_assert_eq(wins, ROUNDS, "%d winners in %d rounds", wins, ROUNDS);
}
