/* SPDX-License-Identifier: MIT */
/* daemon/store-runner.c with a real event loop: work runs on the runner's
 * threads, done on the loop thread; a job blocked in one runner holds up
 * neither another runner nor the worker pool; freeing a runner finishes the
 * running job and hands queued ones to done without their work. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "store-runner.h"
#include "workers.h"

struct loop {
        struct event_base *base;
        struct workers *pool;
        pthread_t thread;
        int done_count, done_wanted;
        bool done_off_loop; /* a done ran elsewhere */
};

/* A gate a job waits at until the test opens it. */
struct gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool entered, open;
};

struct job {
        struct loop *l;
        struct gate *gate; /* NULL: do not wait */
        int n;
        int result;         /* -ECANCELED until work ran */
        pthread_t work_thread;
        bool done;
};

static void loop_init(struct loop *l, unsigned pool_threads)
{
        evthread_use_pthreads();
        l->base = event_base_new();
        cr_assert_not_null(l->base);
        l->thread = pthread_self();
        cr_assert_eq(workers_new(l->base, pool_threads, &l->pool), 0);
}

static void loop_done(struct loop *l)
{
        workers_free(l->pool);
        event_base_free(l->base);
}

/* Run the loop until done_wanted done callbacks ran (10 s at most). */
static void loop_run_until(struct loop *l, int wanted)
{
        struct timeval tv = {10, 0};

        l->done_wanted = wanted;
        if (l->done_count >= wanted)
                return;
        event_base_loopexit(l->base, &tv);
        event_base_dispatch(l->base);
        cr_assert_geq(l->done_count, wanted, "only %d of %d jobs done", l->done_count, wanted);
}

static void gate_init(struct gate *g)
{
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->cond, NULL);
        g->entered = g->open = false;
}

static void gate_open(struct gate *g)
{
        pthread_mutex_lock(&g->lock);
        g->open = true;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static void gate_wait_entered(struct gate *g)
{
        pthread_mutex_lock(&g->lock);
        while (!g->entered)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
}

static void job_work(void *arg)
{
        struct job *j = arg;

        j->work_thread = pthread_self();
        if (j->gate) {
                pthread_mutex_lock(&j->gate->lock);
                j->gate->entered = true;
                pthread_cond_broadcast(&j->gate->cond);
                while (!j->gate->open)
                        pthread_cond_wait(&j->gate->cond, &j->gate->lock);
                pthread_mutex_unlock(&j->gate->lock);
        }
        j->result = j->n;
}

static void job_done(void *arg)
{
        struct job *j = arg;
        struct loop *l = j->l;

        cr_assert(!j->done, "done twice for job %d", j->n);
        j->done = true;
        if (!pthread_equal(pthread_self(), l->thread))
                l->done_off_loop = true;
        if (++l->done_count == l->done_wanted)
                event_base_loopexit(l->base, NULL);
}

static void job_init(struct job *j, struct loop *l, int n, struct gate *g)
{
        *j = (struct job){.l = l, .n = n, .gate = g, .result = -ECANCELED};
}

Test(store_runner, work_off_loop_done_on_loop)
{
        struct loop l = {0};
        struct store_runner *r;
        struct job jobs[50];

        loop_init(&l, 1);
        cr_assert_eq(store_runner_new(l.pool, "test", 3, &r), 0);
        for (int i = 0; i < 50; i++) {
                job_init(&jobs[i], &l, i, NULL);
                cr_assert_eq(store_runner_submit(r, job_work, job_done, &jobs[i]), 0);
        }
        loop_run_until(&l, 50);
        cr_assert(!l.done_off_loop, "a done callback ran off the loop thread");
        for (int i = 0; i < 50; i++) {
                cr_assert(jobs[i].done);
                cr_assert_eq(jobs[i].result, i);
                cr_assert(!pthread_equal(jobs[i].work_thread, l.thread), "job %d ran on the loop", i);
        }
        cr_assert_eq(store_runner_queued(r), 0);
        store_runner_free(r);
        loop_done(&l);
}

static void pool_work(void *arg)
{
        atomic_int *ran = arg;
        atomic_fetch_add(ran, 1);
}

static void pool_done(void *arg)
{
        (void)arg;
}

Test(store_runner, blocked_store_blocks_nobody_else)
{
        struct loop l = {0};
        struct store_runner *slow, *fast;
        struct gate g;
        struct job stuck, others[20];
        atomic_int pool_ran = 0;

        loop_init(&l, 1);
        gate_init(&g);
        cr_assert_eq(store_runner_new(l.pool, "slow", 1, &slow), 0);
        cr_assert_eq(store_runner_new(l.pool, "fast", 1, &fast), 0);
        job_init(&stuck, &l, 99, &g);
        cr_assert_eq(store_runner_submit(slow, job_work, job_done, &stuck), 0);
        gate_wait_entered(&g);

        /* The other store's jobs all complete while the slow one hangs. */
        for (int i = 0; i < 20; i++) {
                job_init(&others[i], &l, i, NULL);
                cr_assert_eq(store_runner_submit(fast, job_work, job_done, &others[i]), 0);
        }
        loop_run_until(&l, 20);
        for (int i = 0; i < 20; i++)
                cr_assert(others[i].done);
        cr_assert(!stuck.done);
        cr_assert_eq(store_runner_queued(slow), 1);

        /* So does the (one-thread) worker pool's own work. */
        cr_assert_eq(workers_submit(l.pool, pool_work, pool_done, &pool_ran), 0);
        for (int i = 0; i < 1000 && atomic_load(&pool_ran) == 0; i++)
                usleep(1000);
        cr_assert_eq(atomic_load(&pool_ran), 1, "the worker pool is held up by a store");

        gate_open(&g);
        loop_run_until(&l, 21);
        cr_assert(stuck.done);
        cr_assert_eq(stuck.result, 99);
        cr_assert(!l.done_off_loop);
        store_runner_free(slow);
        store_runner_free(fast);
        loop_done(&l);
}

struct opener {
        struct store_runner *r;
        struct gate *g;
};

/* Opens the gate once free has taken the queued jobs (only the running one counts). */
static void *open_when_drained(void *arg)
{
        struct opener *o = arg;

        while (store_runner_queued(o->r) > 1)
                usleep(1000);
        gate_open(o->g);
        return NULL;
}

Test(store_runner, free_hands_queued_jobs_to_done)
{
        struct loop l = {0};
        struct store_runner *r;
        struct gate g;
        struct job running, queued[4];
        struct opener o;
        pthread_t t;

        loop_init(&l, 1);
        gate_init(&g);
        cr_assert_eq(store_runner_new(l.pool, "a-long-store-name", 1, &r), 0);
        job_init(&running, &l, 7, &g);
        cr_assert_eq(store_runner_submit(r, job_work, job_done, &running), 0);
        gate_wait_entered(&g);
        for (int i = 0; i < 4; i++) {
                job_init(&queued[i], &l, i, NULL);
                cr_assert_eq(store_runner_submit(r, job_work, job_done, &queued[i]), 0);
        }
        cr_assert_eq(store_runner_queued(r), 5);

        o = (struct opener){.r = r, .g = &g};
        cr_assert_eq(pthread_create(&t, NULL, open_when_drained, &o), 0);
        store_runner_free(r); /* returns once the running job's work is over */
        pthread_join(t, NULL);

        /* Queued jobs: done already, on this (the loop) thread, work never ran. */
        cr_assert_eq(l.done_count, 4);
        for (int i = 0; i < 4; i++) {
                cr_assert(queued[i].done);
                cr_assert_eq(queued[i].result, -ECANCELED);
        }
        /* The running job finished its work; its done comes through the loop. */
        cr_assert_eq(running.result, 7);
        cr_assert(!running.done);
        loop_run_until(&l, 5);
        cr_assert(running.done);
        cr_assert(!l.done_off_loop);
        loop_done(&l);
}

Test(store_runner, bad_arguments)
{
        struct loop l = {0};
        struct store_runner *r = NULL;

        loop_init(&l, 1);
        cr_assert_eq(store_runner_new(l.pool, "x", 0, &r), -EINVAL);
        cr_assert_eq(store_runner_new(l.pool, "x", 65, &r), -EINVAL);
        cr_assert_eq(store_runner_new(NULL, "x", 1, &r), -EINVAL);
        cr_assert_null(r);
        cr_assert_eq(store_runner_new(l.pool, "x", 1, &r), 0);
        cr_assert_eq(store_runner_submit(r, NULL, job_done, NULL), -EINVAL);
        store_runner_free(r);
        store_runner_free(NULL);
        loop_done(&l);
}
