/* SPDX-License-Identifier: MIT */
/* Deletes of pruned packs on a store (docs/prune.md): prune retires a pack
 * and queues a delete per store (pack_deletes); a store works through its
 * queue a batch at a time on its runner, each delete once every pack older
 * than it is on the store (the packs a repack wrote are there before the old
 * ones go), with its own retry timer so failures never hold uploads up. A
 * peer only marks the pack and drops it after its delete_delay; an S3 store
 * with Object Lock keeps it until the retention ends (the delete makes a
 * delete marker or fails, and is tried again later). */
#include "replicate-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "parse.h"
#include "recover.h"
#include "store-runner.h"
#include "store.h"

#define DELETE_BATCH 16
#define DELETE_RETRY_S 30
#define DELETE_RETRY_MAX_S 3600
#define DELETE_IDLE_NS (INT64_C(5) * 1000000000)

struct delete_batch {
        struct replicate_store *rs;
        struct index_pack_delete items[DELETE_BATCH];
        int results[DELETE_BATCH];
        size_t n;
};

static int page_cb(const struct index_pack_delete *del, void *userdata)
{
        struct delete_batch *b = userdata;
        /* an upload of it still running would put it back after the
         * delete, for good: it is deleted in a later batch */
        if (replicate_store_uploading(b->rs, &del->pack))
                return 0;
        b->items[b->n] = *del;
        b->results[b->n] = -ECANCELED;
        b->n++;
        return 0;
}

static void delete_work(void *userdata)
{
        struct delete_batch *b = userdata;
        for (size_t i = 0; i < b->n; i++)
                b->results[i] = store_del(b->rs->store, &b->items[i].pack);
}

static void on_delete_timer(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        replicate_store_deletes(userdata);
}

/* Try the deletes again in seconds (the timer made on first use). */
static void delete_retry_in(struct replicate_store *rs, int64_t ns)
{
        if (!rs->delete_timer)
                rs->delete_timer = evtimer_new(rs->rep->d->base, on_delete_timer, rs);
        if (!rs->delete_timer) {
                log_oom();
                return;
        }
        struct timeval tv = { .tv_sec = (time_t)(ns / 1000000000), .tv_usec = (suseconds_t)(ns % 1000000000 / 1000) };
        evtimer_del(rs->delete_timer);
        evtimer_add(rs->delete_timer, &tv);
}

static void delete_done(void *userdata)
{
        struct delete_batch *b = userdata;
        struct replicate_store *rs = b->rs;
        struct index *idx = rs->rep->d->index;
        size_t ok = 0, failed = 0;
        int last = 0;

        rs->deleting = false;
        if (!rs->stopped) {
                for (size_t i = 0; i < b->n; i++) {
                        int r = b->results[i];
                        if (r == -ECANCELED)
                                continue;
                        if (r < 0 && r != -ENOENT) {
                                failed++;
                                last = r;
                                continue;
                        }
                        if (index_pack_delete_done(idx, &b->items[i].pack, rs->id) < 0)
                                continue;
                        ok++;
                        rs->deletes++;
                        rs->delete_bytes += b->items[i].size;
                }
                if (ok > 0)
                        log_debug("Store %s: %zu pruned pack(s) deleted", rs->name, ok);
                if (failed > 0) {
                        /* an S3 Object Lock refuses until its retention ends: say so
                         * once, then retry quietly, less and less often */
                        bool first = rs->delete_backoff_s == 0;
                        rs->delete_backoff_s = first ? DELETE_RETRY_S
                                                     : MIN(rs->delete_backoff_s * 2, (unsigned)DELETE_RETRY_MAX_S);
                        log_full_errno(first ? LOG_WARNING : LOG_DEBUG, last,
                                       "Store %s: cannot delete %zu pruned pack(s), trying again in %u s", rs->name,
                                       failed, rs->delete_backoff_s);
                        rs->delete_after_ns = monotonic_ns() + (int64_t)rs->delete_backoff_s * 1000000000;
                        delete_retry_in(rs, (int64_t)rs->delete_backoff_s * 1000000000);
                } else if (ok > 0) {
                        rs->delete_backoff_s = 0;
                        replicate_store_deletes(rs); /* the next batch */
                }
        }
        free(b);
        replicate_store_unref(rs);
}

void replicate_store_deletes(struct replicate_store *rs)
{
        struct delete_batch *b;
        int64_t now = monotonic_ns();
        int k;

        if (rs->deleting || rs->stopped)
                return;
        if (recover_rebuilding(rs->rep->d)) {
                /* the index is rebuilt from what the stores list: a pack
                 * deleted under it would come back as a row with no pack */
                delete_retry_in(rs, DELETE_IDLE_NS);
                return;
        }
        if (now < rs->delete_after_ns) {
                delete_retry_in(rs, rs->delete_after_ns - now);
                return;
        }
        b = calloc(1, sizeof(*b));
        if (!b) {
                log_oom();
                return;
        }
        b->rs = rs;
        /* a store full to its quota takes no pack until deletes make room:
         * its deletes cannot wait for the packs before them */
        k = index_pack_deletes_page(rs->rep->d->index, rs->id, rs->rep->d->config.copies, rs->quota_paused,
                                    DELETE_BATCH, page_cb,
                                    b);
        if (k < 0 || b->n == 0) {
                if (k < 0)
                        log_error_errno(k, "Store %s: cannot read the queued deletes", rs->name);
                /* store_fill runs after every upload: while nothing may go, ask
                 * the index again only after a pause (a new prune asks at once) */
                rs->delete_after_ns = now + DELETE_IDLE_NS;
                free(b);
                return;
        }
        rs->deleting = true;
        rs->refs++;
        k = store_runner_submit(rs->runner, delete_work, delete_done, b);
        if (k < 0) {
                rs->deleting = false;
                rs->refs--;
                free(b);
                log_error_errno(k, "Store %s: cannot queue deletes", rs->name);
        }
}

void replicate_store_deletes_now(struct replicate_store *rs)
{
        if (rs->delete_backoff_s == 0)
                rs->delete_after_ns = 0; /* not while a failure backs off */
        replicate_store_deletes(rs);
}

void replicate_store_deletes_stop(struct replicate_store *rs)
{
        if (rs->delete_timer) {
                event_free(rs->delete_timer);
                rs->delete_timer = NULL;
        }
}
