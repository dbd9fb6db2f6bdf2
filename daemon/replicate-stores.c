/* SPDX-License-Identifier: MIT */
/* The replicator's stores come and go: one replicate_store (its store, its
 * store runner, its PROVE rounds) per row of the stores table, read again
 * every few seconds and on replicate_reload; started, matched against their
 * rows (a peer's address may change) and stopped here. What a running
 * store does (uploads, backoff, the skip table) is replicate.c. */
#include "replicate-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "store-local.h"
#include "store-peer.h"
#include "store-config.h"
#include "store-runner.h"
#include "store-s3.h"

/* Calls in flight, waiting to retry, or made from now on fail at once. */
static void store_shut_down(struct replicate_store *rs)
{
        if (rs->store && store_is_s3(rs->store))
                store_s3_shutdown(rs->store);
        if (rs->store && store_is_peer(rs->store))
                store_peer_shutdown(rs->store);
}

static void store_stop(struct replicate_store *rs)
{
        rs->stopped = true;
        replicate_prove_stop(rs);
        replicate_store_deletes_stop(rs);
        if (rs->retry_timer) {
                event_free(rs->retry_timer);
                rs->retry_timer = NULL;
        }
        if (rs->store && store_is_peer(rs->store))
                store_peer_set_events(rs->store, NULL, NULL);
        store_shut_down(rs); /* blocked calls and retries waiting return now */
        store_runner_free(rs->runner); /* running jobs finish; their done sees stopped */
        rs->runner = NULL;
        replicate_store_unref(rs); /* the store goes with the last reference (a borrow may hold it) */
}

/* Open the store a stores row describes. -EPROTONOSUPPORT for a kind this
 * chuted cannot open. */
static int store_open(struct replicate *rep, const struct index_store *row, char **ret_address, struct store **ret)
{
        struct index_peer peer;
        struct oid id;
        int r;

        if (!strcmp(row->kind, "s3"))
                return store_s3_new(row->name, row->config, ret);
        if (strcmp(row->kind, "peer") != 0)
                return -EPROTONOSUPPORT;
        if (oid_from_hex(row->config, &id) < 0)
                return -EINVAL;
        r = index_peer_get(rep->d->index, &id, &peer);
        if (r < 0)
                return r;
        if (!peer.address || !*peer.address) {
                index_peer_done(&peer);
                return -EDESTADDRREQ;
        }
        r = store_peer_new(rep->d, row->name, id.bytes, peer.address, ret);
        if (r >= 0)
                *ret_address = TAKE_PTR(peer.address);
        index_peer_done(&peer);
        return r;
}

static int store_start(struct replicate *rep, const struct index_store *row)
{
        struct replicate_store *rs = calloc(1, sizeof(*rs));
        int r;

        if (!rs)
                return log_oom();
        rs->rep = rep;
        rs->refs = 1;
        rs->id = row->id;
        rs->refused = row->refused_ns != 0;
        rs->backoff_ns = REPLICATE_BACKOFF_MIN_NS;
        rs->name = strdup(row->name);
        rs->kind = strdup(row->kind);
        rs->config = strdup(row->config);
        rs->retry_timer = evtimer_new(rep->d->base, replicate_on_retry, rs);
        if (!rs->name || !rs->kind || !rs->config || !rs->retry_timer) {
                r = log_oom();
                goto fail;
        }
        r = store_open(rep, row, &rs->address, &rs->store);
        if (r < 0)
                goto fail;
        r = store_runner_new(rep->d->workers, row->name, REPLICATE_PUTS, &rs->runner);
        if (r < 0) {
                log_error_errno(r, "Store %s: cannot start its threads", row->name);
                goto fail;
        }
        if (store_is_peer(rs->store))
                store_peer_set_events(rs->store, &replicate_peer_events, rs);
        r = replicate_prove_start(rs);
        if (r < 0)
                goto fail;
        replicate_read_link(rep, rs);
        log_info("Store %s (%s%s%s): replicating", rs->name, rs->kind, rs->address ? " at " : "",
                 rs->address ? rs->address : "");
        replicate_store_fill(rs);
        return 0;
fail:
        store_stop(rs);
        return r;
}

struct reload {
        struct replicate *rep;
        int64_t seen[256];
        size_t n_seen;
        bool overflow;
};

/* Whether a running store still matches its row (a peer's address may change). */
static bool store_matches(struct replicate *rep, struct replicate_store *rs, const struct index_store *row)
{
        struct index_peer peer;
        struct oid id;
        bool same;

        if (strcmp(rs->name, row->name) || strcmp(rs->kind, row->kind) || strcmp(rs->config, row->config))
                return false;
        if (!rs->address || oid_from_hex(row->config, &id) < 0 || index_peer_get(rep->d->index, &id, &peer) < 0)
                return true;
        same = peer.address && !strcmp(peer.address, rs->address);
        index_peer_done(&peer);
        return same;
}

/* Take rs off the list once no reading thread is inside it (its calls in
 * flight fail at once after the shutdown). */
static void store_unlink(struct replicate *rep, struct replicate_store *rs)
{
        store_shut_down(rs);
        replicate_read_unlink(rep, rs);
}

static void store_remove(struct replicate *rep, struct replicate_store *rs)
{
        store_unlink(rep, rs);
        log_info("Store %s: no longer replicating", rs->name);
        store_stop(rs);
}

bool replicate_deleting(struct daemon *d)
{
        for (struct replicate_store *rs = d->replicate ? d->replicate->stores : NULL; rs; rs = rs->next)
                if (rs->deleting)
                        return true;
        return false;
}

size_t replicate_uploads(struct daemon *d, struct oid *ret, size_t max)
{
        size_t n = 0;

        for (struct replicate_store *rs = d->replicate ? d->replicate->stores : NULL; rs; rs = rs->next)
                for (unsigned i = 0; i < rs->n_running && n < max; i++)
                        ret[n++] = rs->running[i];
        return n;
}

static int reload_one(const struct index_store *row, void *userdata)
{
        struct reload *rl = userdata;
        struct replicate_store *rs = replicate_store_find(rl->rep, row->id);

        if (rl->n_seen < ELEMENTSOF(rl->seen))
                rl->seen[rl->n_seen++] = row->id;
        else
                rl->overflow = true;
        if (rs && store_matches(rl->rep, rs, row))
                return 0;
        if (rs)
                store_remove(rl->rep, rs);
        int r = store_start(rl->rep, row);
        if (r >= 0)
                return 0;
        bool said = false;
        for (unsigned i = 0; i < rl->rep->n_failed && !said; i++)
                said = rl->rep->failed[i] == row->id;
        if (!said && rl->rep->n_failed < ELEMENTSOF(rl->rep->failed))
                rl->rep->failed[rl->rep->n_failed++] = row->id;
        int level = said ? LOG_DEBUG : LOG_WARNING;
        if (r == -EPROTONOSUPPORT)
                log_full(said ? LOG_DEBUG : LOG_NOTICE, "Store %s: kind %s is not supported by this chuted, ignoring it",
                         row->name, row->kind);
        else if (r == -EDESTADDRREQ)
                log_full(level, "Store %s: its peer has no address to dial, ignoring it", row->name);
        else
                log_full_errno(level, r, "Store %s: cannot start it, ignoring it", row->name);
        return 0;
}

void replicate_reload(struct daemon *d)
{
        struct replicate *rep = d->replicate;
        struct reload rl = { .rep = rep };
        int r;

        if (!rep || d->stopping)
                return;
        r = index_store_foreach(d->index, reload_one, &rl);
        if (r < 0) {
                log_error_errno(r, "Cannot read the stores: %s", index_last_error(d->index));
                return;
        }
        if (rl.overflow)
                return; /* too many to tell which are gone; keep them all */
        for (struct replicate_store *rs = rep->stores, *next; rs; rs = next) {
                bool seen = false;
                next = rs->next;
                for (size_t i = 0; i < rl.n_seen && !seen; i++)
                        seen = rl.seen[i] == rs->id;
                if (!seen)
                        store_remove(rep, rs);
        }
}

static void on_reload(evutil_socket_t fd, short what, void *userdata)
{
        struct replicate *rep = userdata;

        (void)fd;
        (void)what;
        replicate_reload(rep->d);
}

int replicate_start(struct daemon *d, struct replicate **ret)
{
        struct timeval tv = { .tv_sec = (time_t)(REPLICATE_RELOAD_NS / 1000000000) };
        struct replicate *rep = calloc(1, sizeof(*rep));

        if (!rep)
                return log_oom();
        rep->d = d;
        rep->reload_timer = event_new(d->base, -1, EV_PERSIST, on_reload, rep);
        if (!rep->reload_timer || event_add(rep->reload_timer, &tv) < 0) {
                replicate_stop(rep);
                return log_oom();
        }
        d->replicate = rep;
        repo_set_committed(d->repo, replicate_on_committed, d);
        replicate_read_attach(rep); /* before any reader runs */
        store_config_sync(d); /* [store NAME] sections */
        replicate_reload(d);
        *ret = rep;
        return 0;
}

void replicate_stop(struct replicate *rep)
{
        if (!rep)
                return;
        if (rep->reload_timer)
                event_free(rep->reload_timer);
        if (rep->d->repo)
                repo_set_committed(rep->d->repo, NULL, NULL);
        replicate_read_detach(rep);
        while (rep->stores) {
                struct replicate_store *rs = rep->stores;
                store_unlink(rep, rs);
                store_stop(rs);
        }
        if (rep->d->replicate == rep)
                rep->d->replicate = NULL;
        free(rep);
}

int replicate_store_status(struct daemon *d, int64_t store_id, struct replicate_store_status *ret)
{
        struct replicate_store *rs = d->replicate ? replicate_store_find(d->replicate, store_id) : NULL;

        if (!rs)
                return -ENOENT;
        *ret = (struct replicate_store_status){
                .connected = true,
                .uploaded_bytes = rs->upload_bytes,
                .uploads = rs->uploads,
                .in_flight = rs->n_running,
        };
        if (store_is_peer(rs->store)) {
                struct store_peer_status ps;
                store_peer_get_status(rs->store, &ps);
                ret->connected = ps.connected;
                ret->have_usage = ps.have_usage;
                ret->used = ps.used;
                ret->quota = ps.quota;
                ret->uploaded_bytes = ps.uploaded_bytes;
                ret->resumed_bytes = ps.resumed_bytes;
                snprintf(ret->error, sizeof(ret->error), "%s", rs->error[0] ? rs->error : ps.error);
        } else {
                snprintf(ret->error, sizeof(ret->error), "%s", rs->error);
        }
        if (store_is_s3(rs->store)) {
                struct store_s3_status ss;
                store_s3_get_status(rs->store, &ss);
                ret->requests = ss.requests;
                ret->retries = ss.retries;
                ret->uploaded_bytes = ss.uploaded_bytes; /* bytes PUT, not packs found there */
                ret->resumed_bytes = ss.found_bytes;
                ret->have_requests = true;
        }
        return 0;
}
