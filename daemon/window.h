/* SPDX-License-Identifier: MIT */
/* A job's window on the worker pool: its items run on the pool, at most
 * workers_window() of them in flight; each one finished goes on a list
 * that the job's own thread takes back, running the done callback there
 * (so the job's structures need no lock). Held (a test hook armed), the
 * items wait until window_finish. A snapshot's file reads (assemble.c)
 * and a restore's file writes (restore.c) go through one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct workers;
struct window;

/* Embedded in the caller's item; window_entry() gets the item back. */
struct window_item {
        struct window_item *next;
        struct window *win;
};

#define window_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* work runs on a pool thread, done and drop on the job's thread. */
typedef void (*window_fn)(struct window_item *it, void *userdata);

/* A new window; hold: items wait for window_finish. -ENOMEM. */
int window_new(struct workers *w, window_fn work, window_fn done, void *userdata, bool hold, struct window **ret);
/* Queue it (or hold it). When the window is full, wait until half of it
 * is done; then run done for every item finished so far. */
void window_add(struct window *win, struct window_item *it);
/* Are items held (until window_finish)? */
bool window_holding(const struct window *win);
/* Start the held items, wait for every item, run done for each. */
void window_finish(struct window *win);
/* Wait for the items running, then free the window; drop gets each item
 * not taken back (held, or finished since the last take). NULL is fine. */
void window_free(struct window *win, window_fn drop);
