/* SPDX-License-Identifier: MIT */
/* status: the daemon's state, each root's state, repository totals, the
 * local copy of the packs (cache), prune's state and each store's
 * replication state (as stores). */
#include <string.h>

#include "cache.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "peer-server.h"
#include "prune.h"
#include "retention-apply.h"
#include "root.h"

void cmd_status(struct request *r)
{
        struct daemon *d = r->daemon;
        struct index_stats st = {0};
        /* no index: a --no-key start on a state that has none yet */
        int k = d->index ? index_stats(d->index, &st) : 0;
        if (k < 0) {
                request_error_errno(r, k, "cannot read the index");
                return;
        }
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_text(&b, CTL_KEY_VERSION, PACKAGE_VERSION);
        msg_map_set_uint(&b, CTL_KEY_UPTIME, (uint64_t)((now_ns() - d->start_ns) / 1000000000));
        bool busy = root_busy(d);
        msg_map_set_text(&b, CTL_KEY_STATE, d->stopping   ? "stopping"
                                             : !d->have_key ? "no key"
                                             : busy         ? "backing up"
                                                            : "idle");
        uint64_t pending = 0;
        for (struct root *root = d->roots; root; root = root->next) {
                struct msg_map item;
                if (msg_map_append_map(&b, CTL_KEY_ROOTS, &item) < 0)
                        break;
                msg_map_set_bytes(&item, CTL_KEY_PATH, root->path, strlen(root->path));
                msg_map_set_text(&item, CTL_KEY_STATE, root_status_name(root));
                if (root->last_snapshot_ns) {
                        msg_map_set_int(&item, CTL_KEY_TIME, root->last_snapshot_ns);
                        msg_map_set_bytes(&item, CTL_KEY_ID, root->last_snapshot.bytes, OID_SIZE);
                }
                msg_map_set_uint(&item, CTL_KEY_PENDING, root->pending);
                msg_map_set_uint(&item, CTL_KEY_WATCHES, root->watches > 0 ? (uint64_t)root->watches : 0);
                if (root->running) {
                        msg_map_set_uint(&item, CTL_KEY_FILES,
                                         __atomic_load_n(&root->progress_files, __ATOMIC_RELAXED));
                        msg_map_set_uint(&item, CTL_KEY_BYTES,
                                         __atomic_load_n(&root->progress_bytes, __ATOMIC_RELAXED));
                }
                pending += root->pending;
        }
        msg_map_set_uint(&b, CTL_KEY_PENDING, pending);
        msg_map_set_uint(&b, CTL_KEY_OBJECTS, st.n_objects);
        msg_map_set_uint(&b, CTL_KEY_PACKS, st.n_packs);
        msg_map_set_uint(&b, CTL_KEY_BYTES, st.pack_bytes);
        msg_map_set_uint(&b, CTL_KEY_PADDING_BYTES, st.padding_bytes);
        msg_map_set_uint(&b, CTL_KEY_SNAPSHOT_COUNT, st.n_snapshots);
        struct cache_status cs;
        if (d->index) {
                cache_get_status(d, d->cache, &st, &cs);
                msg_map_set_text(&b, CTL_KEY_LOCAL_COPY, cs.cache_mode ? "cache" : "full");
                msg_map_set_uint(&b, CTL_KEY_LOCAL_PACKS, cs.local_packs);
                msg_map_set_uint(&b, CTL_KEY_LOCAL_BYTES, cs.local_bytes);
                if (cs.cache_mode) {
                        msg_map_set_uint(&b, CTL_KEY_CACHE_SIZE, cs.cache_size);
                        msg_map_set_uint(&b, CTL_KEY_PINNED_BYTES, cs.pinned_bytes);
                }
                msg_map_set_uint(&b, CTL_KEY_EVICTED, cs.evicted_packs);
                msg_map_set_uint(&b, CTL_KEY_EVICTED_BYTES, cs.evicted_bytes);
                if (cs.error[0])
                        msg_map_set_text(&b, CTL_KEY_CACHE_ERROR, cs.error);
        }
        if (d->index) {
                struct index_prune_counts pc;
                int64_t v;
                if (index_kv_get_int(d->index, RETENTION_KV_FORGOTTEN, &v) >= 0 && v > 0)
                        msg_map_set_uint(&b, CTL_KEY_PRUNE_FORGOTTEN, (uint64_t)v);
                if (index_kv_get_int(d->index, PRUNE_KV_LAST, &v) >= 0)
                        msg_map_set_int(&b, CTL_KEY_PRUNE_LAST, v);
                if (index_prune_counts(d->index, -1, &pc) >= 0) {
                        msg_map_set_uint(&b, CTL_KEY_CONDEMNED_PACKS, pc.condemned_packs);
                        msg_map_set_uint(&b, CTL_KEY_DELETES_QUEUED, pc.delete_packs);
                        msg_map_set_uint(&b, CTL_KEY_DELETES_QUEUED_BYTES, pc.delete_bytes);
                }
        }
        const struct daemon_counters *c = &d->counters;
        msg_map_set_uint(&b, CTL_KEY_SNAPSHOTS_TAKEN, c->snapshots_taken);
        msg_map_set_uint(&b, CTL_KEY_SNAPSHOTS_FAILED, c->snapshots_failed);
        msg_map_set_uint(&b, CTL_KEY_BYTES_SCANNED, c->bytes_scanned);
        msg_map_set_uint(&b, CTL_KEY_BYTES_NEW, c->bytes_new);
        msg_map_set_uint(&b, CTL_KEY_FILE_ERRORS, c->file_errors);
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= DAEMON_N_DURATION_BUCKETS; i++) {
                cumulative += c->duration[i];
                msg_map_append_uint(&b, CTL_KEY_SNAPSHOT_DURATIONS, cumulative);
        }
        msg_map_set_uint(&b, CTL_KEY_SNAPSHOT_MS, c->duration_ms);
        msg_map_set_uint(&b, CTL_KEY_PEER_CONNECTIONS, d->peer_server ? peer_server_count(d->peer_server) : 0);
        k = cmd_stores_fill(d, &b);
        if (k < 0) {
                msg_free(m);
                request_error_errno(r, k, "cannot read the stores");
                return;
        }
        request_reply(r, m);
}
