/* SPDX-License-Identifier: MIT */
/* The local pack cache (cache.h): one pass at a time on a worker thread,
 * reading the index through a read-only connection. The first pass makes
 * packs.local true to the pack files (a crash may leave a file the index
 * thinks evicted, or the reverse); each later one evicts at most CACHE_STEP
 * packs, checking again just before it unlinks a pack that enough stores
 * still hold it. The loop thread only records the outcome in the index. */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cache-plan.h"
#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "parse.h"
#include "replicate.h"
#include "repo.h"
#include "store.h"
#include "test-hook.h"
#include "workers.h"

/* A pass every so often, and this soon after replication progress. */
#define CACHE_INTERVAL_SEC 30
#define CACHE_KICK_USEC 500000
/* Evictable packs looked at per pass, and evicted per step. */
#define CACHE_CANDIDATES 1024
#define CACHE_STEP 32
/* A pack read this recently is in use: never evicted. */
#define CACHE_BUSY_NS (10 * INT64_C(1000000000))
/* Uploads in flight looked at (REPLICATE_PUTS per store). */
#define CACHE_UPLOADS_MAX 256
/* Packs fixed per reconciling page. */
#define CACHE_RECONCILE_PAGE 1024

struct cache {
        struct daemon *d;
        struct cache_plan_recency recency;
        struct event *timer;
        bool cache_mode;
        bool reconciled; /* packs.local matches the files */
        bool running;    /* a pass is on a worker */
        bool again;      /* kicked while running */
        bool kicked;     /* the timer is armed for a kick */
        bool stopped;
        uint64_t evictions, evicted_bytes;
        uint64_t pinned_bytes;
        char error[256];
};

struct fix {
        struct oid id;
        int local;
};

struct pass {
        struct cache *c;
        struct store *local;
        struct repo *repo;
        /* in */
        bool reconcile;
        uint64_t cache_size;
        unsigned copies;
        struct oid uploads[CACHE_UPLOADS_MAX];
        size_t n_uploads;
        int64_t now_ns;
        /* out */
        int result;
        const char *what; /* what failed */
        struct fix *fixes;
        size_t n_fixes, cap_fixes;
        struct oid after; /* reconcile: last row seen */
        bool have_after;
        size_t page_rows;
        struct cache_plan_item *items;
        size_t n_items;
        struct oid evicted[CACHE_STEP];
        uint64_t evicted_size[CACHE_STEP];
        size_t n_evicted;
        uint64_t local_bytes; /* before this step */
        uint64_t pinned_bytes;
        bool more;
};

static void cache_touch(void *userdata, const struct oid *pack)
{
        struct cache *c = userdata;

        cache_plan_touch(&c->recency, pack, now_ns());
}

/* Held by the evictor from its last look at a pack to the deletion of the
 * file, and by whoever deletes a damaged copy on a store from checking that
 * the local copy is still here to the deletion: never both copies gone. */
static pthread_mutex_t delete_lock = PTHREAD_MUTEX_INITIALIZER;

void cache_delete_lock(void)
{
        pthread_mutex_lock(&delete_lock);
}

void cache_delete_unlock(void)
{
        pthread_mutex_unlock(&delete_lock);
}

void cache_mark_busy(struct cache *c, const struct oid *pack)
{
        if (c)
                cache_touch(c, pack);
}

void cache_hold(struct cache *c, const struct oid *pack)
{
        if (c)
                cache_plan_touch(&c->recency, pack, INT64_MAX); /* "used" until released */
}

/* Last read (or marked busy) at used, 0 for never: in use at now? */
static bool in_use(int64_t used, int64_t now)
{
        return used && now - used < CACHE_BUSY_NS;
}

/* Read (or marked busy) in the last CACHE_BUSY_NS. */
static bool recently_used(struct cache *c, const struct oid *pack)
{
        return in_use(cache_plan_last_used(&c->recency, pack), now_ns());
}

/* ---- the worker's side ------------------------------------------------------- */

static int reconcile_row(const struct index_pack *pack, void *userdata)
{
        struct pass *p = userdata;
        uint64_t size;
        int k = store_stat(p->local, &pack->id, &size);
        int here = k >= 0;

        p->after = pack->id;
        p->have_after = true;
        p->page_rows++;
        if (k < 0 && k != -ENOENT)
                return 0; /* cannot tell: leave it */
        if (here == !!pack->local)
                return 0;
        if (p->n_fixes == p->cap_fixes) {
                size_t cap = p->cap_fixes ? p->cap_fixes * 2 : 64;
                struct fix *f = reallocarray(p->fixes, cap, sizeof(*f));
                if (!f)
                        return -ENOMEM;
                p->fixes = f;
                p->cap_fixes = cap;
        }
        p->fixes[p->n_fixes++] = (struct fix){ .id = pack->id, .local = here };
        return 0;
}

/* The rows first, then each file: a pack committed meanwhile is on disk
 * before its row, so it is never taken for missing. */
static int reconcile(struct pass *p, struct index *idx)
{
        int r;

        do {
                p->page_rows = 0;
                r = index_cache_foreach_pack(idx, p->have_after ? &p->after : NULL, CACHE_RECONCILE_PAGE,
                                             reconcile_row, p);
        } while (r >= 0 && p->page_rows == CACHE_RECONCILE_PAGE);
        return r;
}

static bool uploading(const struct pass *p, const struct oid *pack)
{
        for (size_t i = 0; i < p->n_uploads; i++)
                if (oid_cmp(&p->uploads[i], pack) == 0)
                        return true;
        return false;
}

static int candidate_add(const struct index_cache_candidate *cand, void *userdata)
{
        struct pass *p = userdata;
        int64_t used = cache_plan_last_used(&p->c->recency, &cand->id);
        struct cache_plan_item *it = &p->items[p->n_items++];

        *it = (struct cache_plan_item){
                .id = cand->id,
                .size = cand->size,
                .used_ns = used > cand->created_ns ? used : cand->created_ns,
                .verified = cand->verified,
                .busy = uploading(p, &cand->id) || in_use(used, p->now_ns),
        };
        return p->n_items == CACHE_CANDIDATES ? 1 : 0;
}

static int pass_fail(struct pass *p, const char *what, int r)
{
        p->what = what;
        return r;
}

static int evict_step(struct pass *p, struct index *idx)
{
        struct index_cache_usage usage;
        unsigned need;
        size_t n;
        int r;

        r = index_cache_usage(idx, &usage);
        if (r < 0)
                return pass_fail(p, "cannot read the packs", r);
        p->local_bytes = usage.local_bytes;
        r = index_cache_pinned_bytes(idx, &p->pinned_bytes);
        if (r < 0)
                return pass_fail(p, "cannot read the packs", r);
        if (usage.local_bytes <= p->cache_size)
                return 0;
        /* copies = all: every store; and never fewer than one */
        need = p->copies ? p->copies : (unsigned)(usage.stores < 64 ? usage.stores : 64);
        if (need == 0)
                return 0;
        p->items = calloc(CACHE_CANDIDATES, sizeof(*p->items));
        if (!p->items)
                return -ENOMEM;
        r = index_cache_candidates(idx, need, CACHE_CANDIDATES, candidate_add, p);
        if (r < 0)
                return pass_fail(p, "cannot read the evictable packs", r);
        n = cache_plan_choose(p->items, p->n_items, usage.local_bytes, p->cache_size, CACHE_STEP);
        uint64_t left = usage.local_bytes;
        for (size_t i = 0; i < n; i++) {
                /* the index now, not as the candidates were read: a PROVE may have reset a
                 * replica; and no one deletes a store's copy meanwhile (cache_delete_lock) */
                int held, del = 0;
                cache_delete_lock();
                held = index_cache_held(idx, &p->items[i].id, need);
                if (held > 0 && recently_used(p->c, &p->items[i].id))
                        held = 0; /* read, or being proved, since the choice */
                if (held > 0)
                        del = store_del(p->local, &p->items[i].id);
                cache_delete_unlock();
                if (held < 0)
                        return pass_fail(p, "cannot read a pack's replicas", held);
                if (held == 0)
                        continue;
                if (del < 0 && del != -ENOENT)
                        return pass_fail(p, "cannot delete a pack file", del);
                p->evicted[p->n_evicted] = p->items[i].id;
                p->evicted_size[p->n_evicted++] = p->items[i].size;
                left -= p->items[i].size < left ? p->items[i].size : left;
        }
        p->more = n == CACHE_STEP && left > p->cache_size;
        return 0;
}

static void pass_work(void *userdata)
{
        struct pass *p = userdata;
        test_hook_pause("cache-pass"); /* tests: store remove while a pass runs */
        struct index *idx = repo_reader_get(p->repo);

        if (!idx) {
                p->result = -EIO;
                p->what = "no index connection";
                return;
        }
        if (p->reconcile) {
                p->result = reconcile(p, idx);
                if (p->result < 0)
                        p->what = "cannot compare the index with the pack files";
        } else {
                p->result = evict_step(p, idx);
        }
        repo_reader_put(p->repo, idx);
}

/* ---- the loop's side ------------------------------------------------------------ */

static void pass_free(struct pass *p)
{
        free(p->fixes);
        free(p->items);
        free(p);
}

static void arm(struct cache *c, bool soon)
{
        struct timeval tv = { .tv_sec = soon ? 0 : CACHE_INTERVAL_SEC, .tv_usec = soon ? CACHE_KICK_USEC : 0 };

        if (c->stopped)
                return;
        evtimer_del(c->timer);
        c->kicked = soon;
        evtimer_add(c->timer, &tv);
}

static void set_error(struct cache *c, int r, const char *what)
{
        char msg[sizeof(c->error)];

        snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-r));
        if (strcmp(msg, c->error) != 0)
                log_warning("Local cache: %s, trying again later", msg);
        memcpy(c->error, msg, sizeof(msg));
}

static void pass_done(void *userdata)
{
        struct pass *p = userdata;
        struct cache *c = p->c;
        struct index *idx = c->d->index;
        char hex[OID_HEX_SIZE], size[FORMAT_SIZE_MAX], kept[FORMAT_SIZE_MAX], bound[FORMAT_SIZE_MAX];
        uint64_t bytes = 0;
        int r;

        c->running = false;
        if (c->stopped) {
                /* cache_stop left c to us */
                pass_free(p);
                cache_plan_recency_done(&c->recency);
                free(c);
                return;
        }
        size_t unrecorded = 0;
        for (size_t i = 0; i < p->n_fixes; i++) {
                oid_to_hex(&p->fixes[i].id, hex);
                r = index_pack_set_local(idx, &p->fixes[i].id, p->fixes[i].local);
                if (r < 0 && r != -ENOENT) {
                        /* said once below; the pass does not count as done */
                        log_debug_errno(r, "Local cache: cannot record pack %s as %s: %s", hex,
                                        p->fixes[i].local ? "here" : "evicted", index_last_error(idx));
                        unrecorded++;
                } else
                        log_notice("Local cache: pack %s is %s, unlike what the index said (an interruption)",
                                   hex, p->fixes[i].local ? "here" : "missing here");
        }
        for (size_t i = 0; i < p->n_evicted; i++) {
                oid_to_hex(&p->evicted[i], hex);
                r = index_pack_set_local(idx, &p->evicted[i], 0);
                if (r < 0 && r != -ENOENT) {
                        /* said once below; a reconciling pass sets the rows right */
                        log_debug_errno(r, "Local cache: cannot record pack %s as evicted: %s", hex,
                                        index_last_error(idx));
                        unrecorded++;
                        continue;
                }
                log_debug("Local cache: evicted pack %s (%llu bytes)", hex, (unsigned long long)p->evicted_size[i]);
                bytes += p->evicted_size[i];
        }
        c->evictions += p->n_evicted;
        c->evicted_bytes += bytes;
        if (!p->reconcile)
                c->pinned_bytes = p->pinned_bytes;
        if (p->n_evicted > unrecorded)
                log_info("Local cache: evicted %zu packs (%s); %s kept here of %s allowed", p->n_evicted - unrecorded,
                         format_size(bytes, size), format_size(p->local_bytes - bytes, kept),
                         format_size(p->cache_size, bound));
        if (unrecorded > 0) {
                /* the index cannot be written (a full disk?): not again at once,
                 * and the next pass compares the rows with the files first */
                char msg[sizeof(c->error)];
                snprintf(msg, sizeof(msg), "cannot record %zu %s packs in the index: %s", unrecorded,
                         p->reconcile ? "missing or found" : "evicted", index_last_error(idx));
                if (strcmp(msg, c->error) != 0)
                        log_error("Local cache: %s; trying again in %d s", msg, CACHE_INTERVAL_SEC);
                memcpy(c->error, msg, sizeof(msg));
                c->reconciled = false;
                p->more = false;
                c->again = false;
        } else if (p->result < 0) {
                set_error(c, p->result, p->what ? p->what : "eviction failed");
        } else {
                c->error[0] = '\0';
                if (p->reconcile)
                        c->reconciled = true;
        }
        bool soon = p->result >= 0 && unrecorded == 0 && (p->more || c->again || p->reconcile);
        c->again = false;
        pass_free(p);
        arm(c, soon);
}

static void pass_start(struct cache *c)
{
        struct daemon *d = c->d;
        struct pass *p;
        int r;

        if (c->running || c->stopped || d->stopping || !d->repo)
                return;
        p = calloc(1, sizeof(*p));
        if (!p) {
                log_oom();
                arm(c, false);
                return;
        }
        *p = (struct pass){
                .c = c,
                .local = repo_store(d->repo),
                .repo = d->repo,
                .reconcile = !c->reconciled,
                .cache_size = d->config.cache_size,
                .copies = d->config.copies,
                .now_ns = now_ns(),
        };
        p->n_uploads = replicate_uploads(d, p->uploads, CACHE_UPLOADS_MAX);
        r = workers_submit(d->workers, pass_work, pass_done, p);
        if (r < 0) {
                log_warning_errno(r, "Local cache: cannot start a pass, trying again later");
                pass_free(p);
                arm(c, false);
                return;
        }
        c->running = true;
}

static void on_timer(evutil_socket_t fd, short what, void *userdata)
{
        struct cache *c = userdata;

        (void)fd;
        (void)what;
        c->kicked = false;
        pass_start(c);
}

bool cache_evicting(const struct cache *c)
{
        /* before the first pass has compared the rows with the files, a row
         * may still say "local" for a file an eviction cut short by a crash
         * deleted */
        return c && (c->running || (c->cache_mode && !c->reconciled));
}

void cache_kick(struct cache *c)
{
        if (!c || !c->cache_mode || c->stopped)
                return;
        if (c->running) {
                c->again = true;
                return;
        }
        if (!c->kicked)
                arm(c, true);
}

int cache_start(struct daemon *d, struct cache **ret)
{
        struct cache *c = calloc(1, sizeof(*c));

        if (!c)
                return log_oom();
        c->d = d;
        c->cache_mode = d->config.local_copy == SETTINGS_LOCAL_CACHE;
        cache_plan_recency_init(&c->recency);
        c->timer = evtimer_new(d->base, on_timer, c);
        if (!c->timer) {
                cache_stop(c);
                return log_oom();
        }
        if (c->cache_mode) {
                char bound[FORMAT_SIZE_MAX];
                repo_set_touch(d->repo, cache_touch, c);
                log_info("Local cache: keeping at most %s of packs here once they are on enough stores",
                         format_size(d->config.cache_size, bound));
                arm(c, true);
        }
        *ret = c;
        return 0;
}

void cache_stop(struct cache *c)
{
        if (!c)
                return;
        c->stopped = true;
        if (c->d->repo)
                repo_set_touch(c->d->repo, NULL, NULL);
        if (c->timer)
                event_free(c->timer);
        c->timer = NULL;
        if (c->running)
                return; /* its pass_done frees c */
        cache_plan_recency_done(&c->recency);
        free(c);
}

void cache_get_status(struct daemon *d, struct cache *c, const struct index_stats *st, struct cache_status *ret)
{
        *ret = (struct cache_status){
                .cache_mode = d->config.local_copy == SETTINGS_LOCAL_CACHE,
                .cache_size = d->config.cache_size,
                .local_packs = st->n_local_packs,
                .local_bytes = st->local_bytes,
                .evicted_packs = st->n_packs - MIN(st->n_local_packs, st->n_packs),
                .evicted_bytes = st->pack_bytes - MIN(st->local_bytes, st->pack_bytes),
        };
        if (c) {
                ret->pinned_bytes = c->pinned_bytes;
                ret->evictions = c->evictions;
                snprintf(ret->error, sizeof(ret->error), "%s", c->error);
        }
}
