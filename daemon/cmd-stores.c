/* SPDX-License-Identifier: MIT */
/* stores: every store packs are replicated to, with the index's counts
 * (pending, held, verified, newest PROVE) and the replicator's live view
 * (connected, usage and quota, last error, bytes sent and resumed), and its
 * own rate limits, and since when it refuses this node. The same maps are the STORES of status. */
#include <string.h>

#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "replicate.h"
#include "store-s3-wire.h"

/* An S3 store's endpoint, bucket and prefix (from its row). */
static void cmd_stores_s3_where(const struct index_store *store, struct msg_map *item)
{
        struct store_s3_config c;

        if (strcmp(store->kind, "s3") || store_s3_wire_config_parse(store->config, &c) < 0)
                return;
        msg_map_set_text(item, CTL_KEY_ENDPOINT, c.endpoint);
        msg_map_set_text(item, CTL_KEY_BUCKET, c.bucket);
        msg_map_set_text(item, CTL_KEY_PREFIX, c.prefix);
        store_s3_wire_config_done(&c);
}

struct stores_fill {
        struct daemon *d;
        struct msg_map *body;
        int error;
};

static int stores_fill_one(const struct index_store *store, void *userdata)
{
        struct stores_fill *f = userdata;
        struct replicate_store_status live;
        struct index_replica_counts counts;
        struct msg_map item;
        int r;

        r = index_replica_counts(f->d->index, store->id, f->d->config.copies, &counts);
        if (r < 0) {
                f->error = r;
                return r;
        }
        bool running = replicate_store_status(f->d, store->id, &live) >= 0;
        r = msg_map_append_map(f->body, CTL_KEY_STORES, &item);
        if (r < 0) {
                f->error = r;
                return r;
        }
        msg_map_set_text(&item, CTL_KEY_NAME, store->name);
        msg_map_set_text(&item, CTL_KEY_KIND, store->kind);
        msg_map_set_bool(&item, CTL_KEY_CONNECTED, running && live.connected);
        msg_map_set_uint(&item, CTL_KEY_PENDING, counts.pending_packs);
        msg_map_set_uint(&item, CTL_KEY_PENDING_BYTES, counts.pending_bytes);
        msg_map_set_uint(&item, CTL_KEY_PACKS, counts.uploaded_packs + counts.verified_packs);
        msg_map_set_uint(&item, CTL_KEY_BYTES, counts.uploaded_bytes + counts.verified_bytes);
        msg_map_set_uint(&item, CTL_KEY_VERIFIED, counts.verified_packs);
        if (counts.verified_ns > 0)
                msg_map_set_int(&item, CTL_KEY_VERIFIED_AT, counts.verified_ns);
        msg_map_set_uint(&item, CTL_KEY_UPLOAD_LIMIT, store->upload_limit); /* the store's own */
        msg_map_set_uint(&item, CTL_KEY_DOWNLOAD_LIMIT, store->download_limit);
        if (store->refused_ns > 0)
                msg_map_set_int(&item, CTL_KEY_REFUSED_AT, store->refused_ns);
        if (!running) {
                msg_map_set_text(&item, CTL_KEY_ERROR,
                                 f->d->repo ? "not running: chuted cannot open this kind of store"
                                            : "not running: no key loaded");
                return 0;
        }
        msg_map_set_uint(&item, CTL_KEY_UPLOADED, live.uploaded_bytes);
        msg_map_set_uint(&item, CTL_KEY_RESUMED_BYTES, live.resumed_bytes);
        if (live.have_usage) {
                msg_map_set_uint(&item, CTL_KEY_USED, live.used);
                msg_map_set_uint(&item, CTL_KEY_QUOTA, live.quota);
        }
        if (live.error[0])
                msg_map_set_text(&item, CTL_KEY_ERROR, live.error);
        if (live.have_requests) {
                msg_map_set_uint(&item, CTL_KEY_REQUESTS, live.requests);
                msg_map_set_uint(&item, CTL_KEY_RETRIES, live.retries);
        }
        cmd_stores_s3_where(store, &item);
        return 0;
}

int cmd_stores_fill(struct daemon *d, struct msg_map *body)
{
        struct stores_fill f = { .d = d, .body = body };
        int r;

        if (!d->index)
                return 0; /* --no-key start on a state with no index yet */
        r = index_store_foreach(d->index, stores_fill_one, &f);
        return f.error < 0 ? f.error : r;
}

void cmd_stores(struct request *r)
{
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        int k = cmd_stores_fill(r->daemon, &b);
        if (k < 0) {
                msg_free(m);
                request_error_errno(r, k, "cannot read the stores");
                return;
        }
        request_reply(r, m);
}
