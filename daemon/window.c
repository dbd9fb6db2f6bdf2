/* SPDX-License-Identifier: MIT */
/* A job's window on the worker pool (see window.h): a workers_group, a
 * mutex-guarded list of finished items, and the held list. */

#include "window.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "workers.h"

struct window {
        struct workers_group *group;
        size_t size;
        window_fn work, done;
        void *userdata;
        pthread_mutex_t lock;
        struct window_item *finished; /* newest first */
        bool hold;
        struct window_item *held, **held_tail;
};

int window_new(struct workers *w, window_fn work, window_fn done, void *userdata, bool hold, struct window **ret)
{
        struct window *win = calloc(1, sizeof(*win));
        if (!win)
                return -ENOMEM;
        int r = workers_group_new(w, &win->group);
        if (r < 0) {
                free(win);
                return r;
        }
        win->size = workers_window(w);
        win->work = work;
        win->done = done;
        win->userdata = userdata;
        win->hold = hold;
        win->held_tail = &win->held;
        pthread_mutex_init(&win->lock, NULL);
        *ret = win;
        return 0;
}

/* On a pool thread (or here, when the pool is out of memory): run the
 * item, put it on the finished list. */
static void run_one(void *arg)
{
        struct window_item *it = arg;
        struct window *win = it->win;
        win->work(it, win->userdata);
        pthread_mutex_lock(&win->lock);
        it->next = win->finished;
        win->finished = it;
        pthread_mutex_unlock(&win->lock);
}

static struct window_item *grab_finished(struct window *win)
{
        pthread_mutex_lock(&win->lock);
        struct window_item *list = win->finished;
        win->finished = NULL;
        pthread_mutex_unlock(&win->lock);
        return list;
}

static void take_finished(struct window *win)
{
        struct window_item *list = grab_finished(win);
        while (list) {
                struct window_item *it = list;
                list = it->next;
                win->done(it, win->userdata);
        }
}

void window_add(struct window *win, struct window_item *it)
{
        it->win = win;
        it->next = NULL;
        if (win->hold) {
                *win->held_tail = it;
                win->held_tail = &it->next;
                return;
        }
        workers_group_add(win->group, run_one, it);
        if (workers_group_pending(win->group) >= win->size)
                workers_group_wait(win->group, win->size / 2);
        take_finished(win);
}

bool window_holding(const struct window *win) { return win->hold; }

void window_finish(struct window *win)
{
        win->hold = false;
        while (win->held) {
                struct window_item *it = win->held;
                win->held = it->next;
                workers_group_add(win->group, run_one, it);
        }
        win->held_tail = &win->held;
        workers_group_wait(win->group, 0);
        take_finished(win);
}

void window_free(struct window *win, window_fn drop)
{
        if (!win)
                return;
        workers_group_free(win->group); /* the items running end first */
        struct window_item *list = grab_finished(win);
        while (win->held) { /* never ran */
                struct window_item *it = win->held;
                win->held = it->next;
                if (drop)
                        drop(it, win->userdata);
        }
        while (list) {
                struct window_item *it = list;
                list = it->next;
                if (drop)
                        drop(it, win->userdata);
        }
        pthread_mutex_destroy(&win->lock);
        free(win);
}
