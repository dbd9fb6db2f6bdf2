/* SPDX-License-Identifier: MIT */
/* daemon/workers.c: jobs run off the loop, done callbacks run on the loop in
 * submission order, run_parallel (also nested, from a pool thread) runs every
 * item exactly once, call_on_loop reaches the loop from any thread; a
 * group's pushed items run before those added, and help runs them here. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "workers.h"

struct ctx {
        struct event_base *base;
        struct workers *w;
        pthread_t loop_thread;
        atomic_int work_count;
        int done_order[64];
        int n_done;
        int expected;
        bool done_on_loop;
};

struct job {
        struct ctx *c;
        int n;
        bool work_off_loop;
};

static void job_work(void *arg)
{
        struct job *j = arg;
        j->work_off_loop = !pthread_equal(pthread_self(), j->c->loop_thread);
        atomic_fetch_add(&j->c->work_count, 1);
}

static void job_done(void *arg)
{
        struct job *j = arg;
        struct ctx *c = j->c;
        c->done_on_loop = c->done_on_loop && pthread_equal(pthread_self(), c->loop_thread);
        c->done_order[c->n_done++] = j->n;
        if (c->n_done == c->expected)
                event_base_loopexit(c->base, NULL);
}

static void setup(struct ctx *c, unsigned threads)
{
        evthread_use_pthreads();
        c->base = event_base_new();
        cr_assert_not_null(c->base);
        c->loop_thread = pthread_self();
        c->done_on_loop = true;
        cr_assert_eq(workers_new(c->base, threads, &c->w), 0);
        cr_assert_eq(workers_count(c->w), threads);
}

static void teardown_ctx(struct ctx *c)
{
        workers_free(c->w);
        event_base_free(c->base);
}

Test(workers, jobs_and_done_order)
{
        struct ctx c = {0};
        struct job jobs[40];
        setup(&c, 3);
        c.expected = 40;
        for (int i = 0; i < 40; i++) {
                jobs[i] = (struct job){.c = &c, .n = i};
                cr_assert_eq(workers_submit(c.w, job_work, job_done, &jobs[i]), 0);
        }
        struct timeval tv = {10, 0};
        event_base_loopexit(c.base, &tv);
        event_base_dispatch(c.base);
        cr_assert_eq(c.n_done, 40);
        cr_assert_eq(atomic_load(&c.work_count), 40);
        cr_assert(c.done_on_loop, "done callbacks run on the loop thread");
        for (int i = 0; i < 40; i++)
                cr_assert(jobs[i].work_off_loop, "work runs on a pool thread");
        teardown_ctx(&c);
}

struct item {
        atomic_int runs;
};

static void item_run(void *arg)
{
        struct item *it = arg;
        atomic_fetch_add(&it->runs, 1);
}

struct nested {
        struct ctx *c;
        struct item items[200];
};

/* A job that fans out on the same pool: must not deadlock even when every
 * thread is such a job. */
static void nested_work(void *arg)
{
        struct nested *n = arg;
        void *ptrs[200];
        for (int i = 0; i < 200; i++)
                ptrs[i] = &n->items[i];
        workers_run_parallel(n->c->w, item_run, ptrs, 200);
}

static void nested_done(void *arg)
{
        struct nested *n = arg;
        struct ctx *c = n->c;
        if (++c->n_done == c->expected)
                event_base_loopexit(c->base, NULL);
}

Test(workers, nested_run_parallel_on_a_busy_pool)
{
        struct ctx c = {0};
        static struct nested n[4];
        setup(&c, 2); /* fewer threads than fanning-out jobs */
        c.expected = 4;
        for (int i = 0; i < 4; i++) {
                n[i].c = &c;
                for (int k = 0; k < 200; k++)
                        atomic_store(&n[i].items[k].runs, 0);
                cr_assert_eq(workers_submit(c.w, nested_work, nested_done, &n[i]), 0);
        }
        struct timeval tv = {20, 0};
        event_base_loopexit(c.base, &tv);
        event_base_dispatch(c.base);
        cr_assert_eq(c.n_done, 4, "every job finished (no deadlock)");
        for (int i = 0; i < 4; i++)
                for (int k = 0; k < 200; k++)
                        cr_assert_eq(atomic_load(&n[i].items[k].runs), 1, "item %d/%d ran once", i, k);
        teardown_ctx(&c);
}

static struct ctx *posted_ctx;

static void posted(void *arg)
{
        struct ctx *c = arg;
        c->done_on_loop = c->done_on_loop && pthread_equal(pthread_self(), c->loop_thread);
        if (++c->n_done == c->expected)
                event_base_loopexit(c->base, NULL);
}

static void post_from_pool(void *arg)
{
        (void)arg;
        workers_call_on_loop(posted_ctx->w, posted, posted_ctx);
}

Test(workers, call_on_loop_from_a_pool_thread)
{
        struct ctx c = {0};
        setup(&c, 2);
        posted_ctx = &c;
        c.expected = 5 + 5; /* five posted calls and five done callbacks */
        for (int i = 0; i < 5; i++)
                cr_assert_eq(workers_submit(c.w, post_from_pool, posted, &c), 0);
        struct timeval tv = {10, 0};
        event_base_loopexit(c.base, &tv);
        event_base_dispatch(c.base);
        cr_assert_eq(c.n_done, 10);
        cr_assert(c.done_on_loop);
        teardown_ctx(&c);
}

Test(workers, free_runs_done_of_queued_jobs)
{
        struct ctx c = {0};
        struct job jobs[10];
        setup(&c, 1);
        c.expected = 1000; /* never reached: the loop is not run */
        for (int i = 0; i < 10; i++) {
                jobs[i] = (struct job){.c = &c, .n = i};
                workers_submit(c.w, job_work, job_done, &jobs[i]);
        }
        workers_free(c.w); /* waits for the running one, hands back the rest */
        c.w = NULL;
        cr_assert_eq(c.n_done, 10, "every job's done callback ran");
        event_base_free(c.base);
}

/* A job fanning out slow items is running when the pool is freed (SIGTERM
 * during a snapshot): the items it still has queued must run (they are
 * quick once cancelled), not be dropped, or the job never returns and
 * workers_free waits for its thread forever. */
#define FAN_ITEMS 60
static struct {
        struct workers *w;
        struct item items[FAN_ITEMS];
        atomic_int first_ran;
        atomic_int returned;
        int done_ran;
} fan;

static void slow_item(void *arg)
{
        struct item *it = arg;
        atomic_fetch_add(&it->runs, 1);
        atomic_store(&fan.first_ran, 1);
        usleep(10 * 1000);
}

static void fan_work(void *arg)
{
        void *ptrs[FAN_ITEMS];
        for (int i = 0; i < FAN_ITEMS; i++)
                ptrs[i] = &fan.items[i];
        workers_run_parallel(fan.w, slow_item, ptrs, FAN_ITEMS);
        atomic_store(&fan.returned, 1);
}

static void fan_done(void *arg)
{
        fan.done_ran++;
}

Test(workers, free_while_a_job_waits_for_its_parallel_items, .timeout = 30)
{
        struct ctx c = {0};
        setup(&c, 2);
        fan.w = c.w;
        cr_assert_eq(workers_submit(c.w, fan_work, fan_done, NULL), 0);
        while (!atomic_load(&fan.first_ran)) /* the items are queued now */
                usleep(1000);
        workers_free(c.w); /* hung here when it dropped the queued items */
        c.w = NULL;
        cr_assert_eq(atomic_load(&fan.returned), 1, "the job's run_parallel returned");
        cr_assert_eq(fan.done_ran, 1, "the job's done callback ran");
        for (int i = 0; i < FAN_ITEMS; i++)
                cr_assert_eq(atomic_load(&fan.items[i].runs), 1, "item %d ran once", i);
        event_base_free(c.base);
}

/* workers_group_push queues at the head: the newest pushed runs first,
 * before items added earlier; workers_group_help runs the group's queued
 * items on the calling thread, in queue order. One worker, held by a gate
 * item of the same group while they are queued. */
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool open, holding;
        int order[8];
        pthread_t ran_on[8];
        int n;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void gate_item(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&gate.lock);
        gate.holding = true;
        pthread_cond_broadcast(&gate.cond);
        while (!gate.open)
                pthread_cond_wait(&gate.cond, &gate.lock);
        pthread_mutex_unlock(&gate.lock);
}

static void order_item(void *arg)
{
        pthread_mutex_lock(&gate.lock);
        gate.ran_on[gate.n] = pthread_self();
        gate.order[gate.n++] = (int)(intptr_t)arg;
        pthread_mutex_unlock(&gate.lock);
}

Test(workers, group_push_runs_first_and_help_runs_here, .timeout = 30)
{
        struct ctx c = {0};
        struct workers_group *g;
        setup(&c, 1);
        cr_assert_eq(workers_group_new(c.w, &g), 0);
        workers_group_add(g, gate_item, NULL);
        pthread_mutex_lock(&gate.lock);
        while (!gate.holding)
                pthread_cond_wait(&gate.cond, &gate.lock);
        pthread_mutex_unlock(&gate.lock);
        workers_group_add(g, order_item, (void *)(intptr_t)1);
        workers_group_add(g, order_item, (void *)(intptr_t)2);
        workers_group_push(g, order_item, (void *)(intptr_t)3);
        workers_group_push(g, order_item, (void *)(intptr_t)4);
        cr_assert_eq(workers_group_pending(g), 5);
        workers_group_help(g); /* the worker is held: all four run here */
        cr_assert_eq(gate.n, 4);
        int want[4] = {4, 3, 1, 2};
        for (int i = 0; i < 4; i++) {
                cr_assert_eq(gate.order[i], want[i], "item %d ran %d-th", want[i], i + 1);
                cr_assert(pthread_equal(gate.ran_on[i], pthread_self()), "help ran it on this thread");
        }
        cr_assert_eq(workers_group_pending(g), 1, "only the running gate item is left");
        pthread_mutex_lock(&gate.lock);
        gate.open = true;
        pthread_cond_broadcast(&gate.cond);
        pthread_mutex_unlock(&gate.lock);
        workers_group_free(g);
        teardown_ctx(&c);
}
