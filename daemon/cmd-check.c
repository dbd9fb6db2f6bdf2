/* SPDX-License-Identifier: MIT */
/* check (a VERIFY request without STORE): borrow the running stores, run
 * check.c on a worker with progress every quarter second, and answer with
 * what it found, the affected paths streamed in DATA as the walk finds
 * them. One index job (check, reindex, recover) at a time. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "check.h"
#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "recover.h"
#include "replicate.h"
#include "workers.h"

struct check_req {
        struct request *r;
        struct check_job *job;
        struct event *timer;
};

/* Output waiting for the client above which affected paths stay queued. */
#define CHECK_LOW_WATER (256 * 1024)

/* Bytes of paths per DATA message (a body is at most CTL_MAX_BODY). */
#define CHECK_DATA_BYTES (512 * 1024)

/* Put affected paths queued into body (AFFECTED maps), about
 * CHECK_DATA_BYTES of them; how many. */
static size_t affected_append(struct check_job *job, struct msg_map *body)
{
        struct check_affected *a = NULL;
        size_t n = check_take_affected(job, CHECK_DATA_BYTES, &a);
        struct msg_map item;

        for (size_t i = 0; i < n; i++) {
                if (msg_map_append_map(body, CTL_KEY_AFFECTED, &item) >= 0) {
                        msg_map_set_bytes(&item, CTL_KEY_ID, a[i].snapshot.bytes, OID_SIZE);
                        msg_map_set_bytes(&item, CTL_KEY_PATH, a[i].path, strlen(a[i].path));
                        if (!oid_is_null(&a[i].pack))
                                msg_map_set_bytes(&item, CTL_KEY_PACK, a[i].pack.bytes, OID_SIZE);
                }
                free(a[i].path);
        }
        free(a);
        return n;
}

/* Send every affected path still queued in DATA messages. */
static void affected_flush(struct request *r, struct check_job *job)
{
        for (;;) {
                struct msg *m = msg_new(&ctl_schema, CTL_TYPE_DATA, r->reqid);
                if (!m)
                        return;
                struct msg_map b = msg_body(m);
                if (affected_append(job, &b) == 0) {
                        msg_free(m);
                        return;
                }
                request_send(r, m);
        }
}

static void check_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct check_req *cr = userdata;
        struct check_job *job = cr->job;
        const char *phase = __atomic_load_n(&job->phase, __ATOMIC_ACQUIRE);

        (void)fd;
        (void)what;
        if (cr->r->gone) {
                __atomic_store_n(&job->cancel, true, __ATOMIC_RELAXED);
                return;
        }
        if (phase)
                request_progress(cr->r, phase, __atomic_load_n(&job->done, __ATOMIC_RELAXED),
                                 __atomic_load_n(&job->total, __ATOMIC_RELAXED), 0);
        /* stream the affected paths found, as fast as the client reads */
        pthread_mutex_lock(&job->lock);
        bool some = job->n_affected > 0;
        pthread_mutex_unlock(&job->lock);
        if (some && request_pending(cr->r) < CHECK_LOW_WATER) {
                struct msg *m = msg_new(&ctl_schema, CTL_TYPE_DATA, cr->r->reqid);
                if (m) {
                        struct msg_map b = msg_body(m);
                        affected_append(job, &b);
                        request_send(cr->r, m);
                }
        }
}

static void check_work(void *userdata)
{
        struct check_req *cr = userdata;

        check_run(cr->job);
}

static const char *store_name(const struct check_job *job, int64_t id)
{
        for (size_t s = 0; s < job->n_stores; s++)
                if (job->stores[s].id == id)
                        return job->stores[s].name;
        return "?";
}

static void check_reply(struct request *r, struct check_job *job)
{
        struct msg *m;
        struct msg_map b, item;

        affected_flush(r, job);
        m = request_result(r);

        if (!m)
                return;
        b = msg_body(m);
        msg_map_set_uint(&b, CTL_KEY_PACKS, job->packs);
        msg_map_set_uint(&b, CTL_KEY_PACKS_READ, job->packs_read);
        msg_map_set_uint(&b, CTL_KEY_PACKS_PROVED, job->packs_proved);
        msg_map_set_uint(&b, CTL_KEY_SNAPSHOT_COUNT, job->snapshots);
        msg_map_set_uint(&b, CTL_KEY_ERRORS, job->damaged_total + job->missing_objects + job->orphans);
        msg_map_set_uint(&b, CTL_KEY_ORPHAN_OBJECTS, job->orphans);
        msg_map_set_uint(&b, CTL_KEY_PENDING, job->unanswered);
        msg_map_set_uint(&b, CTL_KEY_MISSING_OBJECTS, job->missing_objects);
        msg_map_set_uint(&b, CTL_KEY_REPAIRED_PACKS, job->repaired_packs);
        msg_map_set_uint(&b, CTL_KEY_AFFECTED_PATHS, job->affected_paths);
        msg_map_set_uint(&b, CTL_KEY_AFFECTED_SNAPSHOTS, job->affected_snapshots);
        for (size_t i = 0; i < job->n_damaged; i++) {
                const struct check_damage *d = &job->damaged[i];
                if (msg_map_append_map(&b, CTL_KEY_DAMAGED, &item) < 0)
                        break;
                msg_map_set_bytes(&item, CTL_KEY_PACK, d->pack.bytes, OID_SIZE);
                msg_map_set_text(&item, CTL_KEY_STATE, check_state_name(d->state));
                if (d->store_id)
                        msg_map_set_text(&item, CTL_KEY_STORE, store_name(job, d->store_id));
                msg_map_set_text(&item, CTL_KEY_MESSAGE, d->message);
                msg_map_set_bool(&item, CTL_KEY_REPAIRED, d->repaired);
        }
        request_reply(r, m);
}

static void check_done(void *userdata)
{
        struct check_req *cr = userdata;
        struct check_job *job = cr->job;
        struct request *r = cr->r;
        struct daemon *d = job->daemon;

        recover_release(d);
        if (cr->timer)
                event_free(cr->timer);
        for (size_t s = 0; s < job->n_stores; s++)
                replicate_store_return(job->stores[s].token);
        /* store copies deleted by --repair: upload them again */
        for (size_t i = 0; i < job->n_damaged; i++)
                if (job->damaged[i].repaired && job->damaged[i].store_id)
                        replicate_requeue(d, job->damaged[i].store_id, &job->damaged[i].pack,
                                          job->damaged[i].size);
        for (size_t i = 0; i < job->n_damaged; i++) {
                const struct check_damage *dm = &job->damaged[i];
                char hex[OID_HEX_SIZE];
                oid_to_hex(&dm->pack, hex);
                log_warning("Check: pack %s is %s%s%s: %s%s", hex, check_state_name(dm->state),
                            dm->store_id ? " on store " : "", dm->store_id ? store_name(job, dm->store_id) : "",
                            dm->message, dm->repaired ? " (repaired)" : "");
        }
        if (job->error) {
                log_error("Check failed: %s", job->error_text);
                request_error(r, job->error == -ECANCELED ? CTL_STATUS_BUSY : CTL_STATUS_FAILED, "%s",
                              job->error_text);
        } else if (r->gone) {
                log_info("Check abandoned: the client went away");
        } else {
                log_full(check_job_failed(job) ? LOG_WARNING : LOG_INFO,
                         "Check: %llu packs (%llu read, %llu proved on stores), %llu snapshots, %llu damaged or "
                         "missing, %llu repaired, %llu paths affected",
                         (unsigned long long)job->packs, (unsigned long long)job->packs_read,
                         (unsigned long long)job->packs_proved, (unsigned long long)job->snapshots,
                         (unsigned long long)job->damaged_total, (unsigned long long)job->repaired_packs,
                         (unsigned long long)job->affected_paths);
                check_reply(r, job);
        }
        request_unref(r);
        for (size_t s = 0; s < job->n_stores; s++)
                free(job->stores[s].name);
        check_job_free(job);
        free(cr);
}

static int store_borrow_cb(const struct index_store *st, void *userdata)
{
        struct check_job *job = userdata;
        struct check_store *cs;
        void *token = NULL;
        struct store *s = replicate_store_borrow(job->daemon, st->id, &token);

        if (!s)
                return 0; /* not running: nothing to prove against */
        cs = reallocarray(job->stores, job->n_stores + 1, sizeof(*cs));
        if (!cs) {
                replicate_store_return(token);
                return -ENOMEM;
        }
        job->stores = cs;
        cs = &job->stores[job->n_stores];
        *cs = (struct check_store){ .id = st->id, .name = strdup(st->name), .store = s, .token = token };
        if (!cs->name) {
                replicate_store_return(token);
                return -ENOMEM;
        }
        job->n_stores++;
        return 0;
}

void cmd_check(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *subset = NULL;
        bool read_data = false, repair = false;
        struct check_req *cr;
        struct check_job *job;
        int k;

        if (!d->repo || !d->keyring) {
                request_error(r, CTL_STATUS_BUSY, "no key loaded: import it first (chutectl key import)");
                return;
        }
        msg_map_get_bool(&r->args, CTL_KEY_READ_DATA, &read_data);
        msg_map_get_bool(&r->args, CTL_KEY_REPAIR, &repair);
        job = check_job_new(d);
        if (!job) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        if (msg_map_get_text_dup(&r->args, CTL_KEY_READ_SUBSET, &subset) >= 0) {
                if (check_subset_parse(subset, &job->subset) < 0) {
                        check_job_free(job);
                        request_error(r, CTL_STATUS_BAD_REQUEST,
                                      "the subset \"%s\" is neither N/T (1 <= N <= T) nor P%% (0 < P <= 100)",
                                      subset);
                        return;
                }
                read_data = true;
        }
        job->read_data = read_data;
        job->repair = repair;
        k = recover_claim(d, "a check");
        if (k < 0) {
                check_job_free(job);
                request_error(r, CTL_STATUS_BUSY, "busy: %s is running; check when it is done", recover_holder(d));
                return;
        }
        k = index_store_foreach(d->index, store_borrow_cb, job);
        cr = calloc(1, sizeof(*cr));
        if (k < 0 || !cr) {
                free(cr);
                recover_release(d);
                for (size_t s = 0; s < job->n_stores; s++) {
                        replicate_store_return(job->stores[s].token);
                        free(job->stores[s].name);
                }
                check_job_free(job);
                request_error(r, CTL_STATUS_INTERNAL, "cannot list the stores");
                return;
        }
        cr->r = request_ref(r);
        cr->job = job;
        cr->timer = cmd_progress_timer(d, check_tick, cr);
        log_info("Checking the repository%s%s%s", read_data ? ", reading " : "",
                 read_data ? (job->subset.kind ? subset : "every pack") : "", repair ? ", repairing" : "");
        if (workers_submit(d->workers, check_work, check_done, cr) < 0) {
                job->error = -ENOMEM;
                snprintf(job->error_text, sizeof(job->error_text), "out of memory");
                check_done(cr);
        }
}
