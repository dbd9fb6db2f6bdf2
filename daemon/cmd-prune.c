/* SPDX-License-Identifier: MIT */
/* prune: a PRUNE request (chutectl prune) or the automatic run after
 * retention (at most once per [prune] interval, bounded by max_repack).
 * prune.c runs on a worker with progress every quarter second; one index
 * job (check, reindex, recover, prune) at a time. */

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
#include "parse.h"
#include "prune.h"
#include "recover.h"
#include "replicate.h"
#include "retention-apply.h"
#include "workers.h"

struct prune_req {
        struct daemon *d;
        struct request *r; /* NULL: the automatic run */
        struct prune_job job;
        struct event *timer;
};

static void prune_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct prune_req *pr = userdata;
        const char *phase = __atomic_load_n(&pr->job.phase, __ATOMIC_ACQUIRE);

        (void)fd;
        (void)what;
        if (pr->r->gone) {
                __atomic_store_n(&pr->job.cancel, 1, __ATOMIC_RELAXED);
                return;
        }
        if (phase)
                request_progress(pr->r, phase, __atomic_load_n(&pr->job.progress_done, __ATOMIC_RELAXED),
                                 __atomic_load_n(&pr->job.progress_total, __ATOMIC_RELAXED), 0);
}

static void prune_work(void *userdata)
{
        struct prune_req *pr = userdata;
        prune_run(&pr->job);
}

static void prune_reply(struct request *r, const struct prune_job *job)
{
        const struct prune_stats *st = &job->st;
        struct msg *m = request_result(r);

        if (!m)
                return;
        struct msg_map b = msg_body(m);
        const struct {
                uint32_t key;
                uint64_t value;
        } fields[] = {
                { CTL_KEY_PACKS, st->packs },
                { CTL_KEY_BYTES, st->bytes },
                { CTL_KEY_SNAPSHOT_COUNT, st->snapshots },
                { CTL_KEY_USED_BYTES, st->used_bytes },
                { CTL_KEY_UNUSED_BYTES, st->unused_bytes },
                { CTL_KEY_DELETE_PACKS, st->delete_packs },
                { CTL_KEY_DELETE_BYTES, st->delete_bytes },
                { CTL_KEY_REPACK_PACKS, st->repack_packs },
                { CTL_KEY_REPACK_BYTES, st->repack_bytes },
                { CTL_KEY_REPACK_WRITTEN, st->repack_written },
                { CTL_KEY_REMOVED, st->removed_objects },
                { CTL_KEY_KEPT_PACKS, st->kept_packs },
                { CTL_KEY_RETIRED_PACKS, st->retired_packs },
                { CTL_KEY_RETIRED_BYTES, st->retired_bytes },
                { CTL_KEY_PACKS_AFTER, job->opt.dry_run ? st->packs : st->packs_after },
                { CTL_KEY_BYTES_AFTER, job->opt.dry_run ? st->bytes : st->bytes_after },
                { CTL_KEY_UNUSED_AFTER, st->unused_after },
        };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                msg_map_set_uint(&b, fields[i].key, fields[i].value);
        msg_map_set_bool(&b, CTL_KEY_DRY_RUN, job->opt.dry_run);
        request_reply(r, m);
}

static void prune_done(void *userdata)
{
        struct prune_req *pr = userdata;
        struct prune_job *job = &pr->job;
        const struct prune_stats *st = &job->st;
        struct request *r = pr->r;
        char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX], c[FORMAT_SIZE_MAX], e[FORMAT_SIZE_MAX];

        recover_release(pr->d);
        if (pr->timer)
                event_free(pr->timer);
        if (job->error) {
                log_error("Prune failed: %s", job->error_text);
                if (r)
                        request_error(r, job->error == -ECANCELED ? CTL_STATUS_BUSY : CTL_STATUS_FAILED, "%s",
                                      job->error_text);
        } else {
                if (!job->opt.dry_run)
                        log_info("Prune%s: %llu packs deleted, %llu repacked (%llu read from stores, %s of live records "
                                 "copied), %llu kept as needed again; %s of packs freed, %s stored now (%s unused left)",
                                 r ? "" : " (automatic)", (unsigned long long)st->delete_packs,
                                 (unsigned long long)st->repack_packs, (unsigned long long)st->repack_remote,
                                 format_size(st->repack_written, a),
                                 (unsigned long long)st->kept_packs, format_size(st->retired_bytes, b),
                                 format_size(st->bytes_after, c), format_size(st->unused_after, e));
                if (!job->opt.dry_run && st->retired_packs)
                        replicate_kick(pr->d); /* the deletes on the stores */
                if (r)
                        prune_reply(r, job);
        }
        if (r)
                request_unref(r);
        free(pr);
}

/* Start a prune; r NULL for the automatic run. 0, or -EBUSY / -ENOMEM. */
static int prune_start(struct daemon *d, struct request *r, const struct prune_options *opt)
{
        struct prune_req *pr;
        int k = recover_claim(d, "a prune");

        if (k < 0)
                return k;
        pr = calloc(1, sizeof(*pr));
        if (!pr) {
                recover_release(d);
                return -ENOMEM;
        }
        pr->d = d;
        pr->r = r ? request_ref(r) : NULL;
        pr->job.daemon = d;
        pr->job.opt = *opt;
        if (r)
                pr->timer = cmd_progress_timer(d, prune_tick, pr);
        if (workers_submit(d->workers, prune_work, prune_done, pr) < 0) {
                pr->job.error = -ENOMEM;
                snprintf(pr->job.error_text, sizeof(pr->job.error_text), "out of memory");
                prune_done(pr);
        }
        return 0;
}

void cmd_prune(struct request *r)
{
        struct daemon *d = r->daemon;
        struct prune_options opt = {
                .max_unused = d->config.prune_max_unused,
                .grace_ns = (int64_t)d->config.prune_grace_ns,
        };
        uint64_t v;
        int k;

        if (!d->repo || !d->keyring) {
                request_error(r, CTL_STATUS_BUSY, "no key loaded: import it first (chutectl key import)");
                return;
        }
        msg_map_get_bool(&r->args, CTL_KEY_DRY_RUN, &opt.dry_run);
        k = msg_map_get_uint(&r->args, CTL_KEY_MAX_UNUSED, &v);
        if (k >= 0 && v > 100) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "max-unused is a percentage from 0 to 100");
                return;
        }
        if (k >= 0)
                opt.max_unused = (unsigned)v;
        if (msg_map_get_uint(&r->args, CTL_KEY_MAX_REPACK, &v) >= 0)
                opt.max_repack = v;
        k = prune_start(d, r, &opt);
        if (k == -EBUSY)
                request_error(r, CTL_STATUS_BUSY, "busy: %s is running; prune when it is done", recover_holder(d));
        else if (k < 0)
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
        else
                log_info("Pruning%s (max unused %u%%)", opt.dry_run ? " (dry run)" : "", opt.max_unused);
}

void prune_auto(struct daemon *d)
{
        int64_t forgotten = 0, last = 0;
        struct index_prune_counts c = { 0 };

        if (!d->repo || d->stopping || d->config.prune_interval_ns == 0 || recover_holder(d))
                return;
        if (index_kv_get_int(d->index, RETENTION_KV_FORGOTTEN, &forgotten) < 0)
                forgotten = 0;
        if (forgotten <= 0 && (index_prune_counts(d->index, -1, &c) < 0 || c.condemned_packs == 0))
                return;
        if (index_kv_get_int(d->index, PRUNE_KV_LAST, &last) >= 0 &&
            now_ns() - last < (int64_t)d->config.prune_interval_ns)
                return;
        const struct prune_options opt = {
                .max_unused = d->config.prune_max_unused,
                .max_repack = d->config.prune_max_repack,
                .grace_ns = (int64_t)d->config.prune_grace_ns,
        };
        if (prune_start(d, NULL, &opt) >= 0)
                log_info("Automatic prune: %lld snapshots forgotten since the last one", (long long)forgotten);
}
