/* SPDX-License-Identifier: MIT */
/* The purge of hosted packs: a pack a peer deleted (or the packs of a
 * removed peer) keeps its bytes until its delete delay has run out; then a
 * store thread deletes them and the loop drops the index rows. It runs at
 * start and then every PEER_HOST_PURGE_INTERVAL_SEC (every half delay when
 * the configured delay is shorter), and drops partial uploads nobody resumed. */
#include "peer-host-private.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cleanup.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "parse.h"
#include "store-local.h"
#include "store-runner.h"
#include "store.h"

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* Packs purged per run; a full batch runs again at once. */
#define PURGE_BATCH 1000

struct purge_item {
        struct oid peer;
        struct oid pack;
        uint64_t size;
        int64_t deleted_ns;
        int r;
};

struct purge_job {
        struct peer_host *host;
        char *dir; /* STATE/hosted */
        struct purge_item *items;
        size_t n, cap;
        unsigned partials; /* partial uploads dropped */
        bool ran;
};

static void purge_job_free(struct purge_job *j)
{
        free(j->dir);
        free(j->items);
        free(j);
}

static int purge_collect(const struct index_hosted *hosted, void *userdata)
{
        struct purge_job *j = userdata;

        if (j->n == PURGE_BATCH)
                return 1;
        /* a pack the peer is uploading again (its replacement copy) is
         * not purged under that upload: its commit would bring the row
         * back without the bytes; the next run sees how the upload ended */
        for (struct host_account *a = j->host->accounts; a; a = a->next)
                if (oid_cmp(&a->id, &hosted->peer) == 0 && host_upload_find(a, &hosted->pack))
                        return 0;
        if (j->n == j->cap) {
                size_t cap = j->cap ? j->cap * 2 : 64;
                struct purge_item *v = realloc(j->items, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                j->items = v;
                j->cap = cap;
        }
        j->items[j->n++] = (struct purge_item){
                .peer = hosted->peer,
                .pack = hosted->pack,
                .size = hosted->size,
                .deleted_ns = hosted->deleted_ns,
        };
        return 0;
}

/* Open the stores of one peer directory (and its replacement store). */
static int purge_open(const char *dir, const char *hex, struct store **ret_main, struct store **ret_replace)
{
        _cleanup_free_ char *main_dir = NULL, *replace_dir = NULL;
        int r;

        if (asprintf(&main_dir, "%s/%s", dir, hex) < 0 || asprintf(&replace_dir, "%s/%s/replace", dir, hex) < 0)
                return -ENOMEM;
        r = store_local_new(main_dir, ret_main);
        if (r < 0)
                return r;
        r = store_local_new(replace_dir, ret_replace);
        if (r < 0) {
                store_free(*ret_main);
                *ret_main = NULL;
        }
        return r;
}

/* Drop partial uploads nobody resumed, in every peer directory. */
static void purge_partials(struct purge_job *j)
{
        _cleanup_(closedirp) DIR *d = opendir(j->dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                struct store *main = NULL, *replace = NULL;
                int r;

                if (strlen(e->d_name) != OID_HEX_SIZE - 1 || strspn(e->d_name, "0123456789abcdef") != OID_HEX_SIZE - 1)
                        continue;
                if (purge_open(j->dir, e->d_name, &main, &replace) < 0)
                        continue;
                r = store_local_gc_partials(main, PEER_HOST_PARTIAL_MAX_AGE_SEC);
                if (r > 0)
                        j->partials += (unsigned)r;
                r = store_local_gc_partials(replace, PEER_HOST_PARTIAL_MAX_AGE_SEC);
                if (r > 0)
                        j->partials += (unsigned)r;
                store_free(main);
                store_free(replace);
        }
}

static void purge_work(void *userdata)
{
        struct purge_job *j = userdata;
        struct store *main = NULL, *replace = NULL;
        struct oid open_peer;
        int open_r = -ENOENT;

        j->ran = true;
        /* the items come sorted by peer: one pair of stores per peer */
        for (size_t i = 0; i < j->n; i++) {
                struct purge_item *it = &j->items[i];
                int r;

                if (i == 0 || oid_cmp(&open_peer, &it->peer) != 0) {
                        char hex[OID_HEX_SIZE];
                        store_free(main);
                        store_free(replace);
                        main = replace = NULL;
                        oid_to_hex(&it->peer, hex);
                        open_peer = it->peer;
                        open_r = purge_open(j->dir, hex, &main, &replace);
                }
                if (open_r < 0) {
                        it->r = open_r;
                        continue;
                }
                r = store_del(main, &it->pack);
                if (r >= 0 || r == -ENOENT) {
                        r = store_del(replace, &it->pack);
                        if (r == -ENOENT)
                                r = 0;
                }
                it->r = r;
        }
        store_free(main);
        store_free(replace);
        purge_partials(j);
}

static void purge_schedule(struct peer_host *h, bool now);

/* Clear the marks of the packs the purge deletes. */
static void purge_unmark(struct peer_host *h)
{
        free(h->purge_marks);
        h->purge_marks = NULL;
        h->n_purge_marks = 0;
}

static void purge_done(void *userdata)
{
        struct purge_job *j = userdata;
        struct peer_host *h = j->host;
        struct index *idx = h->daemon->index;
        size_t i = 0;

        purge_unmark(h);
        h->purging = false;
        while (j->ran && i < j->n) {
                /* one summary line per peer */
                size_t first = i, packs = 0;
                uint64_t bytes = 0;
                struct host_account *a = NULL;
                for (struct host_account *x = h->accounts; x; x = x->next)
                        if (oid_cmp(&x->id, &j->items[first].peer) == 0)
                                a = x;
                for (; i < j->n && oid_cmp(&j->items[i].peer, &j->items[first].peer) == 0; i++) {
                        struct purge_item *it = &j->items[i];
                        char hex[OID_HEX_SIZE];
                        int r = it->r;
                        if (r >= 0)
                                r = index_hosted_remove(idx, &it->peer, &it->pack);
                        if (r < 0 && r != -ENOENT) {
                                oid_to_hex(&it->pack, hex);
                                log_warning_errno(r, "Cannot purge hosted pack %s, trying again later", hex);
                                continue;
                        }
                        packs++;
                        bytes += it->size;
                        if (a)
                                a->used = a->used > it->size ? a->used - it->size : 0;
                }
                if (packs) {
                        _cleanup_free_ char *pretty = NULL;
                        char size[FORMAT_SIZE_MAX];
                        identity_format_id(j->items[first].peer.bytes, &pretty);
                        log_event(LOG_INFO, MSGID_HOSTED_PURGED, LOG_FIELDS(LOG_PEER(pretty)),
                                  "Purged %zu deleted packs (%s) of peer %s, their delete delay over", packs,
                                  format_size(bytes, size), pretty ? pretty : "?");
                }
        }
        if (j->partials)
                log_info("Dropped %u partial uploads of peers untouched for %u days", j->partials,
                         PEER_HOST_PARTIAL_MAX_AGE_SEC / 86400);
        /* and the upload records as old: no quota held, no upload slot, no
         * pack kept from its purge by an upload nobody finishes */
        host_uploads_expire(h, now_ns() - (int64_t)PEER_HOST_PARTIAL_MAX_AGE_SEC * (int64_t)NSEC_PER_SEC);
        if (!h->stopping)
                purge_schedule(h, j->ran && j->n == PURGE_BATCH);
        purge_job_free(j);
        host_unref(h);
}

void peer_host_purge(struct peer_host *h)
{
        struct purge_job *j;
        int r;

        if (h->purging || h->stopping)
                return;
        j = calloc(1, sizeof(*j));
        if (!j || !(j->dir = strdup(h->dir))) {
                free(j);
                log_oom();
                return;
        }
        j->host = h;
        r = index_hosted_foreach_expired(h->daemon->index, now_ns(), (int64_t)h->daemon->config.delete_delay_ns,
                                         purge_collect, j);
        if (r < 0) {
                log_warning_errno(r, "Cannot look for hosted packs to purge, trying again later");
                purge_job_free(j);
                purge_schedule(h, false);
                return;
        }
        /* from now on these packs are going: no undelete, no new upload
         * (the items come in the index's order, which the marks keep) */
        h->purge_marks = j->n ? calloc(j->n, sizeof(*h->purge_marks)) : NULL;
        if (j->n && !h->purge_marks) {
                log_oom();
                purge_job_free(j);
                purge_schedule(h, false);
                return;
        }
        for (size_t i = 0; i < j->n; i++)
                h->purge_marks[i] = (struct host_purge_mark){ .peer = j->items[i].peer, .pack = j->items[i].pack };
        h->n_purge_marks = j->n;
        r = store_runner_submit(h->runner, purge_work, purge_done, j);
        if (r < 0) {
                purge_unmark(h);
                purge_job_free(j);
                return;
        }
        h->purging = true;
        host_ref(h);
}

static void on_purge_timer(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd, (void)what;
        peer_host_purge(userdata);
}

/* The next run: at once, or after the interval (half the configured delay
 * when that is shorter, 1 s at least: a short delay is kept to closely). */
static void purge_schedule(struct peer_host *h, bool now)
{
        uint64_t sec = h->daemon->config.delete_delay_ns / NSEC_PER_SEC / 2;
        struct timeval tv = { 0, 0 };

        if (!now)
                tv.tv_sec = (time_t)MAX((uint64_t)1, MIN(sec, (uint64_t)PEER_HOST_PURGE_INTERVAL_SEC));
        if (h->purge_timer)
                evtimer_add(h->purge_timer, &tv);
}

int host_purge_start(struct peer_host *h)
{
        h->purge_timer = evtimer_new(h->daemon->base, on_purge_timer, h);
        if (!h->purge_timer)
                return log_oom();
        purge_schedule(h, true);
        return 0;
}
