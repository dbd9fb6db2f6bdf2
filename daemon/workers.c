/* SPDX-License-Identifier: MIT */
/* A fixed pool of pthreads with one job queue. Finished jobs go onto a done
 * list and an eventfd wakes the loop, which runs their done callbacks. The
 * pool owns no job data: the submitter's userdata carries everything. A
 * group's queued items are linked in its own list too, so that a caller
 * taking one back (or helping) looks at the group's items only. */
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "cleanup.h"

struct job {
        workers_work_fn work;
        workers_done_fn done;
        void *userdata;
        TAILQ_ENTRY(job) queued; /* in the queue */
        struct job *next;        /* on the done or dropped list */
        /* for a group's items: its counter and condition to wake the
         * waiter, and its own list of queued items */
        struct parallel *parallel;
        TAILQ_ENTRY(job) in_group;
};

TAILQ_HEAD(job_list, job);

struct parallel {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t left;
        struct job_list queued; /* its items queued, in queue order (the pool's lock) */
};

struct workers {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct job_list queue;
        struct job *done_head;     /* finished, waiting for the loop */
        struct job *dropped;       /* never started (stopping), newest first */
        unsigned running, queued;
        int stopping;
        pthread_t *threads;
        unsigned n_threads;
        int efd;
        struct event *ev;
};

/* Take j off the queue, and off its group's list (w->lock held). */
static void queue_unlink(struct workers *w, struct job *j)
{
        TAILQ_REMOVE(&w->queue, j, queued);
        if (j->parallel)
                TAILQ_REMOVE(&j->parallel->queued, j, in_group);
        w->queued--;
}

static void *worker_main(void *arg)
{
        struct workers *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (TAILQ_EMPTY(&w->queue) && !w->stopping)
                        pthread_cond_wait(&w->cond, &w->lock);
                struct job *j = TAILQ_FIRST(&w->queue);
                if (!j)
                        break;
                queue_unlink(w, j);
                w->running++;
                pthread_mutex_unlock(&w->lock);

                j->work(j->userdata);

                if (j->parallel) {
                        struct parallel *p = j->parallel;
                        free(j);
                        pthread_mutex_lock(&p->lock);
                        p->left--;
                        pthread_cond_broadcast(&p->cond); /* waiters wait for "at most max left" */
                        pthread_mutex_unlock(&p->lock);
                        pthread_mutex_lock(&w->lock);
                        w->running--;
                        continue;
                }
                pthread_mutex_lock(&w->lock);
                w->running--;
                j->next = w->done_head;
                w->done_head = j;
                uint64_t one = 1;
                ssize_t n = write(w->efd, &one, sizeof(one));
                (void)n; /* eventfd write fails only on overflow: the loop is awake then */
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Run the done callbacks in submission order. */
static void run_done(struct workers *w)
{
        pthread_mutex_lock(&w->lock);
        struct job *list = w->done_head, *rev = NULL;
        w->done_head = NULL;
        pthread_mutex_unlock(&w->lock);
        while (list) {
                struct job *next = list->next;
                list->next = rev;
                rev = list;
                list = next;
        }
        while (rev) {
                struct job *next = rev->next;
                if (rev->done)
                        rev->done(rev->userdata);
                free(rev);
                rev = next;
        }
}

static void on_eventfd(evutil_socket_t fd, short what, void *arg)
{
        uint64_t v;
        ssize_t n = read(fd, &v, sizeof(v));
        (void)n;
        run_done(arg);
}

int workers_new(struct event_base *base, unsigned n, struct workers **ret)
{
        struct workers *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        if (n == 0) {
                long c = sysconf(_SC_NPROCESSORS_ONLN);
                n = c > 0 ? (unsigned)c : 1;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        TAILQ_INIT(&w->queue);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0) {
                int r = -errno;
                free(w);
                return r;
        }
        w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_eventfd, w);
        if (!w->ev || event_add(w->ev, NULL) < 0) {
                workers_free(w);
                return -ENOMEM;
        }
        w->threads = calloc(n, sizeof(pthread_t));
        if (!w->threads) {
                workers_free(w);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < n; i++) {
                int r = pthread_create(&w->threads[i], NULL, worker_main, w);
                if (r != 0) {
                        workers_free(w);
                        return -r;
                }
                w->n_threads++;
        }
        *ret = w;
        return 0;
}

/* Queue j at the tail, or at the head (front); a group's item in its own
 * list the same way, so that its list keeps the queue's order. */
static void enqueue(struct workers *w, struct job *j, bool front)
{
        struct parallel *p = j->parallel;
        pthread_mutex_lock(&w->lock);
        if (front) {
                TAILQ_INSERT_HEAD(&w->queue, j, queued);
                if (p)
                        TAILQ_INSERT_HEAD(&p->queued, j, in_group);
        } else {
                TAILQ_INSERT_TAIL(&w->queue, j, queued);
                if (p)
                        TAILQ_INSERT_TAIL(&p->queued, j, in_group);
        }
        w->queued++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

int workers_submit(struct workers *w, workers_work_fn work, workers_done_fn done, void *userdata)
{
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->work = work;
        j->done = done;
        j->userdata = userdata;
        pthread_mutex_lock(&w->lock);
        if (w->stopping) { /* never started, like the jobs workers_free found queued */
                j->next = w->dropped;
                w->dropped = j;
                pthread_mutex_unlock(&w->lock);
                return 0;
        }
        pthread_mutex_unlock(&w->lock);
        enqueue(w, j, false);
        return 0;
}

int workers_call_on_loop(struct workers *w, workers_done_fn fn, void *userdata)
{
        struct job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->done = fn;
        j->userdata = userdata;
        pthread_mutex_lock(&w->lock);
        j->next = w->done_head;
        w->done_head = j;
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof(one));
        (void)n;
        pthread_mutex_unlock(&w->lock);
        return 0;
}

struct workers_group {
        struct workers *w;
        struct parallel p;
};

int workers_group_new(struct workers *w, struct workers_group **ret)
{
        struct workers_group *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->w = w;
        pthread_mutex_init(&g->p.lock, NULL);
        pthread_cond_init(&g->p.cond, NULL);
        TAILQ_INIT(&g->p.queued);
        *ret = g;
        return 0;
}

static void group_add(struct workers_group *g, workers_work_fn fn, void *item, bool front)
{
        struct job *j = calloc(1, sizeof(*j));
        if (!j) { /* run it here */
                fn(item);
                return;
        }
        j->work = fn;
        j->userdata = item;
        j->parallel = &g->p;
        pthread_mutex_lock(&g->p.lock);
        g->p.left++;
        pthread_mutex_unlock(&g->p.lock);
        enqueue(g->w, j, front);
}

void workers_group_add(struct workers_group *g, workers_work_fn fn, void *item) { group_add(g, fn, item, false); }

void workers_group_push(struct workers_group *g, workers_work_fn fn, void *item) { group_add(g, fn, item, true); }

/* Take one of the group's queued items (item, or the first when NULL)
 * off the queue; NULL if none is queued. Looks through the group's own
 * list only, not the whole queue. */
static struct job *take_own(struct workers *w, struct parallel *p, const void *item)
{
        struct job *mine = NULL;
        pthread_mutex_lock(&w->lock);
        struct job *j;
        TAILQ_FOREACH(j, &p->queued, in_group)
                if (!item || j->userdata == item) {
                        mine = j;
                        queue_unlink(w, j);
                        break;
                }
        pthread_mutex_unlock(&w->lock);
        return mine;
}

void workers_group_wait(struct workers_group *g, size_t max)
{
        struct parallel *p = &g->p;
        for (;;) {
                pthread_mutex_lock(&p->lock);
                size_t left = p->left;
                pthread_mutex_unlock(&p->lock);
                if (left <= max)
                        return;
                /* Help: run our own queued items here rather than just
                 * wait, so that callers on pool threads cannot deadlock
                 * the pool. */
                struct job *mine = take_own(g->w, p, NULL);
                if (!mine)
                        break;
                mine->work(mine->userdata);
                free(mine);
                pthread_mutex_lock(&p->lock);
                p->left--;
                pthread_mutex_unlock(&p->lock);
        }
        pthread_mutex_lock(&p->lock);
        while (p->left > max)
                pthread_cond_wait(&p->cond, &p->lock);
        pthread_mutex_unlock(&p->lock);
}

bool workers_group_take(struct workers_group *g, void *item)
{
        struct job *mine = take_own(g->w, &g->p, item);
        if (!mine)
                return false;
        free(mine);
        pthread_mutex_lock(&g->p.lock);
        g->p.left--;
        pthread_cond_broadcast(&g->p.cond);
        pthread_mutex_unlock(&g->p.lock);
        return true;
}

void workers_group_help(struct workers_group *g)
{
        struct job *mine;
        while ((mine = take_own(g->w, &g->p, NULL))) {
                mine->work(mine->userdata);
                free(mine);
                pthread_mutex_lock(&g->p.lock);
                g->p.left--;
                pthread_cond_broadcast(&g->p.cond);
                pthread_mutex_unlock(&g->p.lock);
        }
}

size_t workers_group_pending(struct workers_group *g)
{
        pthread_mutex_lock(&g->p.lock);
        size_t left = g->p.left;
        pthread_mutex_unlock(&g->p.lock);
        return left;
}

void workers_group_free(struct workers_group *g)
{
        if (!g)
                return;
        workers_group_wait(g, 0);
        pthread_mutex_destroy(&g->p.lock);
        pthread_cond_destroy(&g->p.cond);
        free(g);
}

int workers_run_parallel(struct workers *w, workers_work_fn fn, void **items, size_t n)
{
        struct workers_group *g;
        if (workers_group_new(w, &g) < 0) {
                for (size_t i = 0; i < n; i++)
                        fn(items[i]);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                workers_group_add(g, fn, items[i]);
        workers_group_free(g);
        return (int)MIN(n, (size_t)INT32_MAX);
}

unsigned workers_count(const struct workers *w) { return w->n_threads; }

size_t workers_window(const struct workers *w) { return MAX((size_t)64, (size_t)w->n_threads * 16); }

unsigned workers_busy(const struct workers *w)
{
        struct workers *m = (struct workers *)w;
        pthread_mutex_lock(&m->lock);
        unsigned n = m->running + m->queued;
        pthread_mutex_unlock(&m->lock);
        return n;
}

void workers_free(struct workers *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = 1;
        /* Jobs that never started are handed to done as if finished. Items
         * of a running job's run_parallel stay queued: the job waits for
         * them, and the threads (or the job itself) run them before the
         * threads exit; dropping them would leave the job, and us joining
         * its thread, waiting forever. */
        for (struct job *j = TAILQ_FIRST(&w->queue), *next; j; j = next) {
                next = TAILQ_NEXT(j, queued);
                if (!j->parallel) {
                        queue_unlink(w, j);
                        j->next = w->dropped;
                        w->dropped = j;
                }
        }
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->threads[i], NULL);
        /* Dropped jobs' done callbacks run after the finished ones', in
         * submission order (both lists are newest first). */
        struct job *q = w->dropped, *rev = NULL;
        while (q) {
                struct job *next = q->next;
                q->next = rev;
                rev = q;
                q = next;
        }
        while (rev) {
                struct job *next = rev->next;
                rev->next = w->done_head;
                w->done_head = rev;
                rev = next;
        }
        run_done(w);
        if (w->ev)
                event_free(w->ev);
        if (w->efd >= 0)
                close(w->efd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w->threads);
        free(w);
}
