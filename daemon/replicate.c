/* SPDX-License-Identifier: MIT */
/* The replicator's uploads: each store (one per row of the stores table,
 * started and stopped by replicate-stores.c) is fed its pending packs from
 * the index a page at a time, new packs as they are committed, at most
 * REPLICATE_PUTS uploads at once; success sets the replica state, failures
 * set the store's error and back off (a full quota pauses the store until
 * its usage shows room), packs that cannot go are skipped for a while.
 * PROVE rounds are in replicate-prove.c, reads from stores (faults, evicted
 * packs) in replicate-read.c, deletes in replicate-delete.c. */
#include "replicate-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "parse.h"
#include "repo.h"
#include "store-local.h"
#include "store-peer.h"
#include "store-runner.h"
#include "store-s3.h"
#include "workers.h"


static void set_error(struct replicate_store *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct replicate_store *rs, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rs->error, sizeof(rs->error), fmt, ap);
        va_end(ap);
}

struct replicate_store *replicate_store_find(struct replicate *rep, int64_t id)
{
        for (struct replicate_store *rs = rep->stores; rs; rs = rs->next)
                if (rs->id == id)
                        return rs;
        return NULL;
}

void replicate_store_unref(struct replicate_store *rs)
{
        if (--rs->refs > 0)
                return;
        store_free(rs->store);
        free(rs->name);
        free(rs->kind);
        free(rs->config);
        free(rs->address);
        free(rs);
}

int replicate_open_local(struct replicate *rep, const struct oid *pack, int *ret_fd)
{
        return store_local_open(repo_store(rep->d->repo), pack, ret_fd);
}

/* ---- uploads ------------------------------------------------------------------ */

struct upload {
        struct replicate_store *rs;
        struct replicate_item item;
        int result; /* -ECANCELED until work ran */
        bool local_missing; /* neither here nor fetched from another store */
};

static void upload_work(void *userdata)
{
        struct upload *u = userdata;
        _cleanup_close_ int fd = -1;
        int r;

        r = replicate_open_local(u->rs->rep, &u->item.id, &fd);
        if (r == -ENOENT) /* evicted here (local_copy = cache): from a store that holds it */
                r = replicate_fetch(u->rs->rep, u->rs, &u->item.id, u->item.size, &fd);
        if (r < 0) {
                u->local_missing = true;
                u->result = r;
                return;
        }
        /* a copy on a peer that failed its check goes first, now that a
         * good one is at hand: the peer would answer HAVE for it, and the
         * PUT would then send nothing (an S3 PUT replaces an object, or
         * adds a version over one under Object Lock, whose delete fails) */
        struct repo *repo = u->rs->rep->d->repo;
        struct index *rd = repo_reader_get(repo);
        int damaged = rd ? index_replica_damaged(rd, &u->item.id, u->rs->id) : -EIO;
        if (rd)
                repo_reader_put(repo, rd);
        if (damaged < 0) {
                u->result = damaged; /* tried again later */
                return;
        }
        if (damaged > 0 && store_is_peer(u->rs->store)) {
                r = store_del(u->rs->store, &u->item.id);
                if (r < 0 && r != -ENOENT) {
                        u->result = r;
                        return;
                }
        }
        /* a damaged copy on S3 keeps its size and ETag (the MD5 of what was
         * sent, not of what is held): the PUT must not take them for a good one */
        u->result = store_put(u->rs->store, &u->item.id, fd, u->item.size,
                              STORE_PUT_TRUSTED | (damaged > 0 ? STORE_PUT_REPLACE : 0));
}

/* Wait before trying rs again: its backoff, then twice as long next time. */
static void store_back_off(struct replicate_store *rs)
{
        uint64_t wait = rs->backoff_ns;
        uint32_t rnd = 0;

        crypto_random(&rnd, sizeof(rnd));
        wait = wait / 2 + (uint64_t)((double)(wait / 2) * (rnd / 4294967296.0));
        struct timeval tv = { .tv_sec = (time_t)(wait / 1000000000),
                              .tv_usec = (suseconds_t)(wait % 1000000000 / 1000) };
        rs->backoff_ns = rs->backoff_ns * 2 > REPLICATE_BACKOFF_MAX_NS ? REPLICATE_BACKOFF_MAX_NS
                                                                       : rs->backoff_ns * 2;
        evtimer_add(rs->retry_timer, &tv);
}

/* Drop the queue: the next fill reads the pending packs from the first. */
static void store_restart_scan(struct replicate_store *rs)
{
        rs->page_pos = rs->page_len = 0;
        rs->have_cursor = false;
        rs->scan_done = false;
        rs->rescan = false;
}

void replicate_store_refused(struct replicate_store *rs, bool refused, const char *why)
{
        struct replicate_store *other;
        int r;

        if (rs->refused == refused || rs->stopped)
                return;
        r = index_store_set_refused(rs->rep->d->index, rs->id, refused ? now_ns() : 0);
        if (r < 0) {
                log_warning_errno(r, "Store %s: cannot record that it %s this node: %s", rs->name,
                                  refused ? "refuses" : "accepts", index_last_error(rs->rep->d->index));
                return;
        }
        rs->refused = refused;
        if (refused) {
                log_event(LOG_WARNING, MSGID_STORE_REFUSED, LOG_FIELDS(LOG_STORE(rs->name)),
                          "Store %s refuses this node (%s): its copies there count as none until it accepts "
                          "this node again; local copies stay, and other stores get copies",
                          rs->name, why && *why ? why : "no reason given");
                /* packs that had enough copies with it may lack some now */
                for (other = rs->rep->stores; other; other = other->next)
                        if (other != rs && !other->stopped) {
                                store_restart_scan(other);
                                replicate_store_fill(other);
                        }
        } else {
                log_notice("Store %s accepts this node again: its copies count again", rs->name);
                cache_kick(rs->rep->d->cache);
        }
}

static void skip_add_for(struct replicate_store *rs, const struct oid *pack, uint64_t ns)
{
        int64_t now = monotonic_ns();
        unsigned i, slot = REPLICATE_SKIP_MAX;

        /* the pack's own slot, else a free or expired one, else the one
         * that ends first */
        for (i = 0; i < rs->n_skip; i++)
                if (oid_cmp(&rs->skip[i].id, pack) == 0) {
                        slot = i;
                        break;
                }
        for (i = 0; slot == REPLICATE_SKIP_MAX && i < rs->n_skip; i++)
                if (rs->skip[i].until_ns <= now)
                        slot = i;
        if (slot == REPLICATE_SKIP_MAX && rs->n_skip < REPLICATE_SKIP_MAX)
                slot = rs->n_skip++;
        if (slot == REPLICATE_SKIP_MAX) {
                slot = 0;
                for (i = 1; i < rs->n_skip; i++)
                        if (rs->skip[i].until_ns < rs->skip[slot].until_ns)
                                slot = i;
        }
        rs->skip[slot].id = *pack;
        rs->skip[slot].until_ns = now + (int64_t)ns;
}

static void skip_add(struct replicate_store *rs, const struct oid *pack)
{
        skip_add_for(rs, pack, REPLICATE_SKIP_NS);
}

/* Said once per pack (and daemon run): no copy of pack anywhere to upload. */
static void report_lost(struct replicate_store *rs, const struct oid *pack, const char *hex)
{
        struct replicate *rep = rs->rep;

        for (unsigned i = 0; i < rep->n_lost && i < ELEMENTSOF(rep->lost); i++)
                if (oid_cmp(&rep->lost[i], pack) == 0) {
                        log_debug("Store %s: pack %s is still on no store, skipping it", rs->name, hex);
                        return;
                }
        rep->lost[rep->n_lost++ % ELEMENTSOF(rep->lost)] = *pack; /* full: the oldest goes */
        log_error("Store %s: pack %s is not here (evicted) and no other store holds it: it cannot be "
                  "uploaded, and reads of its data fail",
                  rs->name, hex);
}

static bool skipped(struct replicate_store *rs, const struct oid *pack)
{
        int64_t now = monotonic_ns();

        for (unsigned i = 0; i < rs->n_skip; i++)
                if (rs->skip[i].until_ns > now && oid_cmp(&rs->skip[i].id, pack) == 0)
                        return true;
        return false;
}

static void quota_error(struct replicate_store *rs)
{
        struct replicate_store_status st;
        char used[FORMAT_SIZE_MAX], quota[FORMAT_SIZE_MAX];

        if (replicate_store_status(rs->rep->d, rs->id, &st) >= 0 && st.have_usage)
                set_error(rs, "quota exceeded on %s: used %s of %s", rs->name, format_size(st.used, used),
                          format_size(st.quota, quota));
        else
                set_error(rs, "quota exceeded on %s", rs->name);
}

static void upload_failed(struct replicate_store *rs, const struct upload *u)
{
        char hex[OID_HEX_SIZE];
        int r = u->result;

        oid_to_hex(&u->item.id, hex);
        if (u->local_missing) {
                if (r == -ENOENT) {
                        report_lost(rs, &u->item.id, hex);
                        skip_add(rs, &u->item.id);
                } else if (r == -EBADMSG) {
                        log_warning("Store %s: pack %s is not here and the copy fetched from another store is "
                                    "damaged, skipping it for now", rs->name, hex);
                        skip_add(rs, &u->item.id);
                } else {
                        /* the store that holds it could not be read: try again soon */
                        log_info_errno(r, "Store %s: pack %s is not here and could not be fetched from another "
                                       "store, trying again later", rs->name, hex);
                        skip_add_for(rs, &u->item.id, REPLICATE_FETCH_RETRY_NS);
                }
                return;
        }
        if (r == -EDQUOT) {
                bool first = !rs->quota_paused;
                rs->quota_paused = true;
                rs->quota_need = u->item.size;
                quota_error(rs);
                if (first) {
                        struct timeval tv = { .tv_sec = (time_t)(REPLICATE_QUOTA_PAUSE_NS / 1000000000) };
                        log_event(LOG_WARNING, MSGID_STORE_QUOTA, LOG_FIELDS(LOG_STORE(rs->name)),
                                  "Store %s: %s; uploads to it pause until it has room", rs->name, rs->error);
                        evtimer_del(rs->retry_timer);
                        evtimer_add(rs->retry_timer, &tv);
                        if (store_is_peer(rs->store))
                                store_peer_refresh_usage(rs->store);
                }
                return;
        }
        if (r == -EBADMSG) {
                /* the store hashed what we sent and it is not the pack: our copy is damaged */
                log_error("Store %s: pack %s does not match its id (the local copy may be damaged), skipping it",
                          rs->name, hex);
                skip_add(rs, &u->item.id);
                return;
        }
        if (rs->quota_paused) {
                /* the quota is what stops it: keep saying so */
                log_debug("Store %s: upload of %s failed: %s", rs->name, hex, strerror(-r));
                return;
        }
        char why[STORE_EXPLAIN_SIZE];
        bool transport = store_transport_error(r);
        if (store_explain(rs->store, r, why, sizeof(why))) /* which bucket, which peer */
                set_error(rs, "%s", why);
        else if (transport)
                set_error(rs, "cannot reach %s: %s", rs->name, strerror(-r));
        else
                set_error(rs, "upload to %s failed: %s", rs->name, strerror(-r));
        if (transport) /* the link logs why, once per dial */
                log_debug("Store %s: upload of %s failed: %s", rs->name, hex, strerror(-r));
        else
                log_warning("Store %s: upload of pack %s failed, trying again later: %s", rs->name, hex,
                            rs->error);
        if (replicate_refusal(r))
                replicate_store_refused(rs, true, rs->error);
        if (!evtimer_pending(rs->retry_timer, NULL))
                store_back_off(rs);
}

static void upload_done(void *userdata)
{
        struct upload *u = userdata;
        struct replicate_store *rs = u->rs;
        char hex[OID_HEX_SIZE];

        for (unsigned i = 0; i < rs->n_running; i++)
                if (oid_cmp(&rs->running[i], &u->item.id) == 0) {
                        rs->running[i] = rs->running[--rs->n_running];
                        break;
                }
        if (rs->stopped || u->result == -ECANCELED) {
                free(u);
                replicate_store_unref(rs);
                return;
        }
        if (u->result >= 0) {
                /* a peer hash-checks every pack before it makes it visible */
                int state = store_is_peer(rs->store) ? INDEX_REPLICA_VERIFIED : INDEX_REPLICA_UPLOADED;
                struct index_pack p;
                int r = index_pack_lookup(rs->rep->d->index, &u->item.id, &p);
                if (r >= 0)
                        r = index_replica_set(rs->rep->d->index, &u->item.id, rs->id, state);
                oid_to_hex(&u->item.id, hex);
                if (r < 0 && r != -ENOENT) /* ENOENT: the pack was pruned meanwhile */
                        log_error_errno(r, "Store %s: cannot record pack %s as uploaded: %s", rs->name, hex,
                                        index_last_error(rs->rep->d->index));
                log_debug("Store %s: pack %s replicated (%llu bytes)", rs->name, hex,
                          (unsigned long long)u->item.size);
                rs->uploads++;
                rs->upload_bytes += u->item.size;
                replicate_store_refused(rs, false, NULL);
                cache_kick(rs->rep->d->cache); /* it may be on enough stores now */
                rs->backoff_ns = REPLICATE_BACKOFF_MIN_NS;
                if (!rs->quota_paused)
                        rs->error[0] = '\0';
        } else {
                upload_failed(rs, u);
        }
        free(u);
        replicate_store_fill(rs);
        replicate_store_unref(rs);
}

bool replicate_store_uploading(const struct replicate_store *rs, const struct oid *pack)
{
        for (unsigned i = 0; i < rs->n_running; i++)
                if (oid_cmp(&rs->running[i], pack) == 0)
                        return true;
        return false;
}

/* Still wanted on rs (indexed and not condemned, not there, not on enough
 * stores), per the index now. */
static bool still_pending(struct replicate_store *rs, const struct oid *pack)
{
        struct index *idx = rs->rep->d->index;
        unsigned copies = rs->rep->d->config.copies;

        if (index_prune_pack_state(idx, pack) != 0)
                return false; /* condemned or retired by prune since it was queued */
        if (index_replica_get(idx, pack, rs->id) >= INDEX_REPLICA_UPLOADED)
                return false;
        return copies == 0 || index_replica_held(idx, pack) < (int)copies;
}

static int page_add(const struct index_pack *pack, void *userdata)
{
        struct replicate_store *rs = userdata;

        rs->page[rs->page_len++] = (struct replicate_item){ .id = pack->id, .size = pack->size };
        rs->cursor = pack->id;
        rs->have_cursor = true;
        return 0;
}

/* The next pack to upload: new packs first, then the pending pages. */
static bool store_next(struct replicate_store *rs, struct replicate_item *ret)
{
        struct index *idx = rs->rep->d->index;

        if (rs->fresh_len > 0) {
                *ret = rs->fresh[rs->fresh_head];
                rs->fresh_head = (rs->fresh_head + 1) % REPLICATE_FRESH_MAX;
                rs->fresh_len--;
                return true;
        }
        while (rs->page_pos == rs->page_len) {
                if (rs->scan_done) {
                        if (!rs->rescan)
                                return false;
                        store_restart_scan(rs);
                }
                rs->page_pos = rs->page_len = 0;
                int r = index_replica_pending_page(idx, rs->id, rs->rep->d->config.copies,
                                                   rs->have_cursor ? &rs->cursor : NULL, REPLICATE_PAGE, page_add, rs);
                if (r < 0) {
                        log_error_errno(r, "Store %s: cannot read the pending packs: %s", rs->name,
                                        index_last_error(idx));
                        rs->scan_done = true;
                        return false;
                }
                if (rs->page_len < REPLICATE_PAGE)
                        rs->scan_done = true;
        }
        *ret = rs->page[rs->page_pos++];
        return true;
}

void replicate_store_fill(struct replicate_store *rs)
{
        struct replicate_item item;

        if (rs->stopped)
                return;
        /* deletes run beside uploads, even while a full store pauses them
         * (they make room); the index query holds each back until the packs
         * older than it are on the store */
        replicate_store_deletes(rs);
        if (rs->quota_paused || evtimer_pending(rs->retry_timer, NULL))
                return;
        while (rs->n_running < REPLICATE_PUTS && store_next(rs, &item)) {
                if (replicate_store_uploading(rs, &item.id) || skipped(rs, &item.id) || !still_pending(rs, &item.id))
                        continue;
                struct upload *u = calloc(1, sizeof(*u));
                if (!u) {
                        log_oom();
                        break;
                }
                *u = (struct upload){ .rs = rs, .item = item, .result = -ECANCELED };
                rs->refs++;
                rs->running[rs->n_running++] = item.id;
                int r = store_runner_submit(rs->runner, upload_work, upload_done, u);
                if (r < 0) {
                        rs->n_running--;
                        rs->refs--;
                        free(u);
                        log_error_errno(r, "Store %s: cannot queue an upload", rs->name);
                        break;
                }
        }
        if (rs->n_running == 0 && rs->fresh_len == 0 && rs->scan_done && !rs->rescan &&
            rs->uploads > rs->drained_uploads) {
                char size[FORMAT_SIZE_MAX];
                log_event(LOG_INFO, MSGID_PACK_REPLICATED, LOG_FIELDS(LOG_STORE(rs->name)),
                          "Store %s: %llu packs (%s) replicated, nothing pending", rs->name,
                          (unsigned long long)(rs->uploads - rs->drained_uploads),
                          format_size(rs->upload_bytes - rs->drained_bytes, size));
                rs->drained_uploads = rs->uploads;
                rs->drained_bytes = rs->upload_bytes;
                if (store_is_peer(rs->store))
                        store_peer_refresh_usage(rs->store); /* status shows what it holds now */
        }
}

void replicate_kick(struct daemon *d)
{
        if (!d->replicate)
                return;
        for (struct replicate_store *rs = d->replicate->stores; rs; rs = rs->next) {
                store_restart_scan(rs);
                replicate_store_deletes_now(rs);
                replicate_store_fill(rs);
        }
}

void replicate_on_retry(evutil_socket_t fd, short what, void *userdata)
{
        struct replicate_store *rs = userdata;

        (void)fd;
        (void)what;
        if (rs->quota_paused)
                rs->quota_paused = false; /* an hour passed: try again (the error stays until one succeeds) */
        store_restart_scan(rs);
        replicate_store_fill(rs);
}

static void on_connected(void *userdata)
{
        struct replicate_store *rs = userdata;

        replicate_store_refused(rs, false, NULL); /* HELLO went through */
        if (rs->quota_paused)
                return;
        evtimer_del(rs->retry_timer);
        rs->error[0] = '\0';
        rs->backoff_ns = REPLICATE_BACKOFF_MIN_NS;
        store_restart_scan(rs);
        replicate_store_fill(rs);
}

static void on_usage(void *userdata, uint64_t used, uint64_t quota)
{
        struct replicate_store *rs = userdata;

        if (!rs->quota_paused)
                return;
        if (quota > used && quota - used >= rs->quota_need) {
                log_info("Store %s has room again (%llu of %llu bytes used), uploading", rs->name,
                         (unsigned long long)used, (unsigned long long)quota);
                rs->quota_paused = false; /* the error stays until an upload succeeds */
                evtimer_del(rs->retry_timer);
                store_restart_scan(rs);
                replicate_store_fill(rs);
        } else {
                quota_error(rs);
        }
}

static void on_refused(void *userdata, const char *why)
{
        replicate_store_refused(userdata, true, why);
}

const struct store_peer_events replicate_peer_events = {
        .connected = on_connected,
        .refused = on_refused,
        .usage = on_usage,
};

void replicate_store_requeue(struct replicate_store *rs, const struct oid *pack, uint64_t size)
{
        if (rs->stopped)
                return;
        if (rs->fresh_len < REPLICATE_FRESH_MAX) {
                rs->fresh[(rs->fresh_head + rs->fresh_len++) % REPLICATE_FRESH_MAX] =
                        (struct replicate_item){ .id = *pack, .size = size };
        } else {
                rs->rescan = true;
        }
        replicate_store_fill(rs);
}

struct committed {
        struct daemon *d;
        struct oid pack;
        uint64_t size;
};

static void committed_on_loop(void *userdata)
{
        struct committed *c = userdata;

        replicate_pack_committed(c->d, &c->pack, c->size);
        free(c);
}

/* The committer's thread: hand the pack to the loop. */
void replicate_on_committed(void *userdata, const struct oid *pack, uint64_t size)
{
        struct daemon *d = userdata;
        struct committed *c = malloc(sizeof(*c));

        if (!c)
                return; /* the next rescan finds it */
        *c = (struct committed){ .d = d, .pack = *pack, .size = size };
        if (workers_call_on_loop(d->workers, committed_on_loop, c) < 0)
                free(c);
}

void replicate_pack_committed(struct daemon *d, const struct oid *pack, uint64_t size)
{
        struct replicate *rep = d->replicate;

        if (!rep)
                return;
        for (struct replicate_store *rs = rep->stores; rs; rs = rs->next)
                replicate_store_requeue(rs, pack, size);
}
