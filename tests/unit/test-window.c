/* SPDX-License-Identifier: MIT */
/* daemon/window.c: every item runs once on the pool and comes back once,
 * done on the adding thread; never more than the window in flight; held
 * items wait for window_finish; window_free drops the held ones. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "window.h"
#include "workers.h"

#define ITEMS 500

struct item {
        int n;
        atomic_int ran;
        int done;
        int dropped;
        struct window_item link;
};

struct ctx {
        struct item items[ITEMS];
        atomic_int in_flight, max_in_flight;
        pthread_t owner;
        bool done_on_owner;
        int n_done, n_dropped;
};

static void work(struct window_item *link, void *userdata)
{
        struct ctx *c = userdata;
        struct item *it = window_entry(link, struct item, link);
        int now = atomic_fetch_add(&c->in_flight, 1) + 1;
        int max = atomic_load(&c->max_in_flight);
        while (now > max && !atomic_compare_exchange_weak(&c->max_in_flight, &max, now))
                ;
        usleep(100);
        atomic_fetch_add(&it->ran, 1);
        atomic_fetch_sub(&c->in_flight, 1);
}

static void done(struct window_item *link, void *userdata)
{
        struct ctx *c = userdata;
        struct item *it = window_entry(link, struct item, link);
        c->done_on_owner = c->done_on_owner && pthread_equal(pthread_self(), c->owner);
        it->done++;
        c->n_done++;
}

static void drop(struct window_item *link, void *userdata)
{
        struct ctx *c = userdata;
        window_entry(link, struct item, link)->dropped++;
        c->n_dropped++;
}

static struct workers *pool(struct event_base **base)
{
        struct workers *w;
        evthread_use_pthreads();
        *base = event_base_new();
        cr_assert_not_null(*base);
        cr_assert_eq(workers_new(*base, 4, &w), 0);
        return w;
}

Test(window, every_item_once_and_bounded, .timeout = 60)
{
        static struct ctx c;
        struct event_base *base;
        struct workers *w = pool(&base);
        struct window *win;
        c.owner = pthread_self();
        c.done_on_owner = true;
        cr_assert_eq(window_new(w, work, done, &c, false, &win), 0);
        cr_assert(!window_holding(win));
        /* not yet taken back (queued, running or finished): at most the
         * window once an add returns, and the window is used */
        size_t most = 0;
        for (int i = 0; i < ITEMS; i++) {
                c.items[i].n = i;
                window_add(win, &c.items[i].link);
                size_t out = (size_t)(i + 1 - c.n_done);
                cr_assert_leq(out, workers_window(w), "%zu items out after add %d", out, i);
                if (out > most)
                        most = out;
        }
        cr_assert_geq(most, workers_window(w) / 2, "the window was filled (%zu at most)", most);
        window_finish(win);
        cr_assert_eq(c.n_done, ITEMS);
        for (int i = 0; i < ITEMS; i++) {
                cr_assert_eq(atomic_load(&c.items[i].ran), 1, "item %d ran once", i);
                cr_assert_eq(c.items[i].done, 1, "item %d came back once", i);
        }
        cr_assert(c.done_on_owner, "done ran on the adding thread");
        cr_assert_leq((size_t)atomic_load(&c.max_in_flight), 5, "at most the pool's threads (and the adding thread, helping) run at once");
        window_free(win, drop);
        cr_assert_eq(c.n_dropped, 0);
        workers_free(w);
        event_base_free(base);
}

Test(window, held_items_wait_for_finish_or_are_dropped, .timeout = 60)
{
        static struct ctx c, d;
        struct event_base *base;
        struct workers *w = pool(&base);
        struct window *win;
        c.owner = d.owner = pthread_self();
        c.done_on_owner = d.done_on_owner = true;

        cr_assert_eq(window_new(w, work, done, &c, true, &win), 0);
        cr_assert(window_holding(win));
        for (int i = 0; i < 100; i++)
                window_add(win, &c.items[i].link);
        usleep(20 * 1000);
        for (int i = 0; i < 100; i++)
                cr_assert_eq(atomic_load(&c.items[i].ran), 0, "held item %d did not run", i);
        window_finish(win);
        cr_assert(!window_holding(win));
        cr_assert_eq(c.n_done, 100);
        window_free(win, drop);

        /* freed while holding: nothing runs, everything is dropped once */
        cr_assert_eq(window_new(w, work, done, &d, true, &win), 0);
        for (int i = 0; i < 50; i++)
                window_add(win, &d.items[i].link);
        window_free(win, drop);
        cr_assert_eq(d.n_dropped, 50);
        cr_assert_eq(d.n_done, 0);
        for (int i = 0; i < 50; i++) {
                cr_assert_eq(atomic_load(&d.items[i].ran), 0);
                cr_assert_eq(d.items[i].dropped, 1);
        }
        workers_free(w);
        event_base_free(base);
}
