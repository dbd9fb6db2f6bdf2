/* SPDX-License-Identifier: MIT */
/* The store worker bridge: store calls block (disk, network), so each store
 * gets its own few threads here, never the snapshot worker pool; a slow or
 * dead store then delays only its own jobs. Finished jobs report back on the
 * loop thread through the worker pool's workers_call_on_loop. */
#pragma once

struct store_runner;
struct workers;

/* A runner named name (thread names, at most 11 characters are kept) with
 * n_threads threads (1..64), reporting back through loop_bridge, which must
 * outlive it. */
int store_runner_new(struct workers *loop_bridge, const char *name, unsigned n_threads,
                     struct store_runner **ret);
/* Queue a job (any thread): work runs on one of the runner's threads, then
 * done (may be NULL) on the loop thread. Jobs start in submission order. */
int store_runner_submit(struct store_runner *r, void (*work)(void *), void (*done)(void *),
                        void *userdata);
/* Jobs queued or running (their work not yet finished). */
unsigned store_runner_queued(const struct store_runner *r);
/* Stop and free (from the loop thread; NULL is fine): running jobs finish,
 * their done runs on the loop later; queued ones get done() now, on this
 * thread, without work() having run (the submitter tells from a flag that
 * work sets in userdata, e.g. a result that starts as -ECANCELED). */
void store_runner_free(struct store_runner *r);
