/* SPDX-License-Identifier: MIT */
/* The store worker bridge (see store-runner.h): one job queue and a few
 * pthreads per store. A job's record travels to the loop with its done
 * callback and is freed there, so a runner may be freed while completions
 * are still on their way. */
#include "store-runner.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "workers.h"

#define STORE_RUNNER_MAX_THREADS 64

struct runner_job {
        void (*work)(void *);
        void (*done)(void *);
        void *userdata;
        struct runner_job *next;
};

struct store_runner {
        struct workers *bridge;
        char thread_name[16];

        pthread_mutex_t lock; /* the queue, counters, stopping */
        pthread_cond_t cond;  /* a job was queued, or stopping */
        struct runner_job *head, *tail;
        unsigned queued, running;
        bool stopping;

        pthread_t *threads;
        unsigned n_threads;
};

/* On the loop thread: the job's done, then its record goes. */
static void job_deliver(void *arg)
{
        struct runner_job *j = arg;

        if (j->done)
                j->done(j->userdata);
        free(j);
}

static void *runner_main(void *arg)
{
        struct store_runner *r = arg;

        pthread_mutex_lock(&r->lock);
        for (;;) {
                while (!r->head && !r->stopping)
                        pthread_cond_wait(&r->cond, &r->lock);
                if (!r->head) /* stopping, and nothing left that we own */
                        break;
                struct runner_job *j = r->head;
                r->head = j->next;
                if (!r->head)
                        r->tail = NULL;
                r->queued--;
                r->running++;
                pthread_mutex_unlock(&r->lock);

                j->work(j->userdata);

                /* The work is over before its done can run. */
                pthread_mutex_lock(&r->lock);
                r->running--;
                pthread_mutex_unlock(&r->lock);
                /* The bridge allocates one small record; wait out a
                 * shortage rather than lose the completion. */
                while (workers_call_on_loop(r->bridge, job_deliver, j) < 0) {
                        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
                pthread_mutex_lock(&r->lock);
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int store_runner_new(struct workers *loop_bridge, const char *name, unsigned n_threads,
                     struct store_runner **ret)
{
        struct store_runner *r;

        if (!loop_bridge || !name || !ret || n_threads == 0 || n_threads > STORE_RUNNER_MAX_THREADS)
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->bridge = loop_bridge;
        /* "st-" + name: the kernel keeps 15 characters */
        snprintf(r->thread_name, sizeof(r->thread_name), "st-%.11s", name);
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->cond, NULL);
        r->threads = calloc(n_threads, sizeof(*r->threads));
        if (!r->threads) {
                store_runner_free(r);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n_threads; i++) {
                int k = pthread_create(&r->threads[i], NULL, runner_main, r);
                if (k != 0) {
                        store_runner_free(r);
                        return -k;
                }
                (void)pthread_setname_np(r->threads[i], r->thread_name);
                r->n_threads++;
        }
        *ret = r;
        return 0;
}

int store_runner_submit(struct store_runner *r, void (*work)(void *), void (*done)(void *),
                        void *userdata)
{
        struct runner_job *j;

        if (!r || !work)
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->work = work;
        j->done = done;
        j->userdata = userdata;
        pthread_mutex_lock(&r->lock);
        if (r->stopping) {
                pthread_mutex_unlock(&r->lock);
                free(j);
                return -ESHUTDOWN;
        }
        if (r->tail)
                r->tail->next = j;
        else
                r->head = j;
        r->tail = j;
        r->queued++;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        return 0;
}

unsigned store_runner_queued(const struct store_runner *r)
{
        struct store_runner *m = (struct store_runner *)r;

        pthread_mutex_lock(&m->lock);
        unsigned n = m->queued + m->running;
        pthread_mutex_unlock(&m->lock);
        return n;
}

void store_runner_free(struct store_runner *r)
{
        struct runner_job *dropped;

        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        dropped = r->head;
        r->head = r->tail = NULL;
        r->queued = 0;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
        for (unsigned i = 0; i < r->n_threads; i++)
                pthread_join(r->threads[i], NULL);
        /* Never started: done only, in submission order. */
        while (dropped) {
                struct runner_job *next = dropped->next;
                job_deliver(dropped);
                dropped = next;
        }
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r->threads);
        free(r);
}
