/* SPDX-License-Identifier: MIT */
/* recover STORE: rebuild this node from the packs one store holds (a fresh
 * node after `key import` and `peer add`), reporting progress every quarter
 * second while a worker runs recover.c. One recovery at a time, and never
 * while a snapshot runs. */

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
#include "workers.h"

struct recover_req {
        struct request *r;
        struct recover_job *job;
        struct event *timer;
        void *token; /* the borrowed store */
};

static void recover_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct recover_req *rr = userdata;
        struct recover_job *job = rr->job;

        (void)fd;
        (void)what;
        if (rr->r->gone) {
                __atomic_store_n(&job->cancel, true, __ATOMIC_RELAXED);
                return;
        }
        request_progress(rr->r, "downloading", __atomic_load_n(&job->bytes, __ATOMIC_RELAXED),
                         __atomic_load_n(&job->total_bytes, __ATOMIC_RELAXED), 0);
}

static void recover_work(void *userdata)
{
        struct recover_req *rr = userdata;

        recover_run(rr->job);
}

static void recover_done(void *userdata)
{
        struct recover_req *rr = userdata;
        struct recover_job *job = rr->job;
        struct request *r = rr->r;

        recover_release(job->daemon);
        if (rr->timer)
                event_free(rr->timer);
        if (job->error) {
                log_error("Recovery from %s failed: %s", job->store_name, job->error_text);
                request_error(r, job->error == -ENOENT ? CTL_STATUS_NOT_FOUND : CTL_STATUS_FAILED, "%s",
                              job->error_text);
        } else {
                log_notice("Recovered from %s: %llu packs (%llu copied, %llu unreadable), %llu objects, "
                           "%llu snapshots, %llu packs undeleted; %llu snapshots kept forgotten by %llu "
                           "tombstones (%llu unreadable)",
                           job->store_name, (unsigned long long)job->packs,
                           (unsigned long long)job->packs_copied, (unsigned long long)job->bad_packs,
                           (unsigned long long)job->objects, (unsigned long long)job->snapshots,
                           (unsigned long long)job->undeleted, (unsigned long long)job->forgotten,
                           (unsigned long long)job->tombstones, (unsigned long long)job->bad_tombstones);
                struct msg *m = request_result(r);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, CTL_KEY_PACKS, job->packs);
                        msg_map_set_uint(&b, CTL_KEY_OBJECTS, job->objects);
                        msg_map_set_uint(&b, CTL_KEY_SNAPSHOT_COUNT, job->snapshots);
                        msg_map_set_uint(&b, CTL_KEY_UNDELETED, job->undeleted);
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
        replicate_store_return(rr->token);
        recover_job_free(job);
        free(rr);
}

void cmd_recover(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL;
        struct index_store st;
        int k;

        if (!d->repo) {
                request_error(r, CTL_STATUS_BUSY, "no key loaded: import it first (chutectl key import)");
                return;
        }
        k = msg_map_get_text_dup(&r->args, CTL_KEY_STORE, &name);
        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "recover needs a store name");
                return;
        }
        const char *blocker = recover_blocker(d);
        if (blocker) {
                request_error(r, CTL_STATUS_BUSY, "busy: %s is running; recover when chutectl status says idle",
                              blocker);
                return;
        }
        k = index_store_find(d->index, name, &st);
        if (k < 0) {
                request_error(r, CTL_STATUS_NOT_FOUND, "no store named %s (chutectl stores lists them)", name);
                return;
        }
        int64_t store_id = st.id;
        index_store_done(&st);
        void *token = NULL;
        struct store *store = replicate_store_borrow(d, store_id, &token);
        if (!store) {
                request_error(r, CTL_STATUS_BUSY, "store %s is not running yet, try again in a moment", name);
                return;
        }

        struct recover_req *rr = calloc(1, sizeof(*rr));
        struct recover_job *job = calloc(1, sizeof(*job));
        if (!rr || !job || !(job->store_name = strdup(name)) ||
            asprintf(&job->staging_dir, "%s/packs/tmp", d->config.state_dir) < 0) {
                if (job)
                        job->staging_dir = NULL;
                free(rr);
                recover_job_free(job);
                replicate_store_return(token);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        job->daemon = d;
        job->store = store;
        rr->token = token;
        job->store_id = store_id;
        job->local = repo_store(d->repo);
        rr->r = request_ref(r);
        rr->job = job;
        rr->timer = cmd_progress_timer(d, recover_tick, rr);
        log_notice("Recovering from store %s", name);
        recover_claim(d, recover_turn_recovery);
        if (workers_submit(d->workers, recover_work, recover_done, rr) < 0) {
                job->error = -ENOMEM;
                snprintf(job->error_text, sizeof(job->error_text), "out of memory");
                recover_done(rr);
        }
}
