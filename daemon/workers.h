/* SPDX-License-Identifier: MIT */
/* The worker pool: threads that run CPU and disk heavy jobs (reading,
 * chunking, hashing, compressing, encrypting, restoring) off the event loop,
 * and hand each finished job back to the loop thread through an eventfd. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>

struct workers;

/* Runs on a worker thread. */
typedef void (*workers_work_fn)(void *userdata);
/* Runs on the loop thread after the work function returned (may be NULL). */
typedef void (*workers_done_fn)(void *userdata);

/* Start n threads (0 = number of online cores) reporting back to base. */
int workers_new(struct event_base *base, unsigned n, struct workers **ret);
/* Queue a job; work runs on some thread, then done on the loop thread. */
int workers_submit(struct workers *w, workers_work_fn work, workers_done_fn done, void *userdata);
/* From any thread: run fn(userdata) on the loop thread soon. */
int workers_call_on_loop(struct workers *w, workers_done_fn fn, void *userdata);
/* Run fn(userdata) on a pool thread and wait for it (for callers that are
 * themselves on a worker thread and want to fan out; never from the loop). */
int workers_run_parallel(struct workers *w, workers_work_fn fn, void **items, size_t n);
/* A group of items run on the pool, for a caller (often on a pool thread
 * itself) that bounds and waits for them, helping with the group's queued
 * items meanwhile so that the pool cannot deadlock. */
struct workers_group;
/* A new, empty group. */
int workers_group_new(struct workers *w, struct workers_group **ret);
/* Queue fn(item) in the group (run at once, here, when out of memory). */
void workers_group_add(struct workers_group *g, workers_work_fn fn, void *item);
/* The same at the head of the pool's queue: run before anything queued,
 * for items the caller will need soonest. */
void workers_group_push(struct workers_group *g, workers_work_fn fn, void *item);
/* Wait until at most max of the group's items are queued or running. */
void workers_group_wait(struct workers_group *g, size_t max);
/* Take item off the queue if no thread started it yet: true, and the
 * caller runs it (or not) itself; false when it is running or done. */
bool workers_group_take(struct workers_group *g, void *item);
/* Run here every item of the group still queued (not those running). */
void workers_group_help(struct workers_group *g);
/* The group's items queued or running. */
size_t workers_group_pending(struct workers_group *g);
/* Wait for every item of the group, then free it. */
void workers_group_free(struct workers_group *g);
/* How many items a job keeps in flight on the pool (files being read or
 * written): 16 per thread, at least 64. */
size_t workers_window(const struct workers *w);
/* Number of threads. */
unsigned workers_count(const struct workers *w);
/* Jobs queued or running. */
unsigned workers_busy(const struct workers *w);
/* Stop: wait for running jobs, run done callbacks of finished ones, free.
 * Queued jobs that never started get their done callback too. */
void workers_free(struct workers *w);
