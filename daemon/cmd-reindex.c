/* SPDX-License-Identifier: MIT */
/* reindex [--from STORE]: rebuild the packs, objects and snapshot rows from
 * the pack files alone (recover.c's path, nothing copied): the local packs,
 * plus in local_copy = cache mode every running store's listing, or with
 * STORE that store's. Never while a snapshot runs, and one index job
 * (check, reindex, recover) at a time. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "recover.h"
#include "replicate.h"
#include "repo.h"
#include "root.h"
#include "settings.h"
#include "workers.h"

struct reindex_req {
        struct request *r;
        struct recover_job *job;
        struct event *timer;
        void **tokens;
};

static void reindex_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct reindex_req *rr = userdata;

        (void)fd;
        (void)what;
        if (!rr->r->gone)
                request_progress(rr->r, "reindexing", 0, 0, 0);
}

static void reindex_work(void *userdata)
{
        struct reindex_req *rr = userdata;

        recover_reindex_run(rr->job);
}

static void reindex_done(void *userdata)
{
        struct reindex_req *rr = userdata;
        struct recover_job *job = rr->job;
        struct request *r = rr->r;

        recover_release(job->daemon);
        if (rr->timer)
                event_free(rr->timer);
        for (size_t i = 0; i < job->n_extra; i++)
                replicate_store_return(rr->tokens[i]);
        if (job->error) {
                log_error("Reindex failed: %s", job->error_text);
                request_error(r, CTL_STATUS_FAILED, "%s", job->error_text);
        } else {
                log_notice("Reindexed from the packs: %llu packs (%llu unreadable), %llu objects, "
                           "%llu snapshots added; %llu snapshots kept forgotten by %llu tombstones "
                           "(%llu unreadable), %llu rows of them dropped",
                           (unsigned long long)job->packs, (unsigned long long)job->bad_packs,
                           (unsigned long long)job->objects, (unsigned long long)job->snapshots,
                           (unsigned long long)job->forgotten, (unsigned long long)job->tombstones,
                           (unsigned long long)job->bad_tombstones, (unsigned long long)job->rows_dropped);
                struct msg *m = request_result(r);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, CTL_KEY_PACKS, job->packs);
                        msg_map_set_uint(&b, CTL_KEY_OBJECTS, job->objects);
                        msg_map_set_uint(&b, CTL_KEY_SNAPSHOT_COUNT, job->snapshots);
                        msg_map_set_uint(&b, CTL_KEY_FORGOTTEN, job->forgotten);
                        msg_map_set_uint(&b, CTL_KEY_ERRORS,
                                         job->bad_packs + job->bad_snapshots + job->bad_tombstones);
                }
                request_reply(r, m);
                /* what the last snapshots point at may be gone with a lost
                 * pack: the next automatic runs walk and store everything
                 * rather than reuse their trees */
                root_mark_full_all(job->daemon);
        }
        request_unref(r);
        recover_job_free(job);
        free(rr->tokens);
        free(rr);
}

struct borrow {
        struct daemon *d;
        struct recover_job *job;
        void **tokens;
        const char *only; /* --from */
        bool found;
};

static int borrow_cb(const struct index_store *st, void *userdata)
{
        struct borrow *b = userdata;
        struct recover_job *job = b->job;
        void *token = NULL;
        struct store *s;

        if (b->only && strcmp(b->only, st->name) != 0)
                return 0;
        b->found = true;
        s = replicate_store_borrow(b->d, st->id, &token);
        if (!s)
                return b->only ? -EAGAIN : 0;
        job->extra[job->n_extra] = s;
        job->extra_ids[job->n_extra] = st->id;
        b->tokens[job->n_extra] = token;
        job->n_extra++;
        return 0;
}

static int count_cb(const struct index_store *st, void *userdata)
{
        (void)st;
        (*(size_t *)userdata)++;
        return 0;
}

void cmd_reindex(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *from = NULL;
        struct reindex_req *rr = NULL;
        struct recover_job *job = NULL;
        size_t n_stores = 0;
        int k;

        if (!d->repo || !d->keyring) {
                request_error(r, CTL_STATUS_BUSY, "no key loaded: import it first (chutectl key import)");
                return;
        }
        (void)msg_map_get_text_dup(&r->args, CTL_KEY_STORE, &from);
        const char *blocker = recover_blocker(d);
        if (blocker) {
                request_error(r, CTL_STATUS_BUSY, "busy: %s is running; reindex when chutectl status says idle",
                              blocker);
                return;
        }
        (void)index_store_foreach(d->index, count_cb, &n_stores);
        rr = calloc(1, sizeof(*rr));
        job = calloc(1, sizeof(*job));
        if (!rr || !job || !(job->extra = calloc(n_stores + 1, sizeof(*job->extra))) ||
            !(job->extra_ids = calloc(n_stores + 1, sizeof(*job->extra_ids))) ||
            !(rr->tokens = calloc(n_stores + 1, sizeof(*rr->tokens)))) {
                if (rr)
                        free(rr->tokens);
                free(rr);
                recover_job_free(job);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        job->daemon = d;
        job->local = repo_store(d->repo);
        struct borrow b = { .d = d, .job = job, .tokens = rr->tokens, .only = from };
        k = 0;
        if (from || d->config.local_copy == SETTINGS_LOCAL_CACHE)
                k = index_store_foreach(d->index, borrow_cb, &b);
        if (k < 0 || (from && !b.found)) {
                for (size_t i = 0; i < job->n_extra; i++)
                        replicate_store_return(rr->tokens[i]);
                if (from && !b.found)
                        request_error(r, CTL_STATUS_NOT_FOUND, "no store named %s (chutectl stores lists them)",
                                      from);
                else if (k == -EAGAIN)
                        request_error(r, CTL_STATUS_BUSY, "store %s is not running yet, try again in a moment",
                                      from);
                else
                        request_error_errno(r, k, "cannot list the stores");
                free(rr->tokens);
                free(rr);
                recover_job_free(job);
                return;
        }
        recover_claim(d, recover_turn_reindex);
        rr->r = request_ref(r);
        rr->job = job;
        rr->timer = cmd_progress_timer(d, reindex_tick, rr);
        log_notice("Reindexing from the local packs%s%s", from ? " and store " : "", from ? from : "");
        if (workers_submit(d->workers, reindex_work, reindex_done, rr) < 0) {
                job->error = -ENOMEM;
                snprintf(job->error_text, sizeof(job->error_text), "out of memory");
                reindex_done(rr);
        }
}
