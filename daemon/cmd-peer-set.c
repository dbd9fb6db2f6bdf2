/* SPDX-License-Identifier: MIT */
/* peer set NAME [upload limit] [download limit]: change the rate limits of
 * the store a peer keeps this node's packs in: its stores row, and the live
 * connection at once (no restart, no redial). A limit not given stays as it
 * is. Also the check of those limits that peer add shares. Not the limits
 * themselves (store-peer-link.c) nor the global ones (settings). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "replicate.h"
#include "store-peer.h"

int cmd_peer_set_get_limit(struct request *r, uint32_t key, uint64_t *ret)
{
        const char *what = key == CTL_KEY_UPLOAD_LIMIT ? "upload" : "download";
        char min[FORMAT_SIZE_MAX];
        uint64_t limit;

        if (msg_map_get_uint(&r->args, key, &limit) < 0)
                return 0;
        if (limit > INT64_MAX) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the %s limit is too large", what);
                return -ERANGE;
        }
        if (limit && limit < STORE_PEER_LIMIT_MIN) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "an %s limit of %llu bytes/s is below the smallest, %s/s (0 means no limit)",
                              what, (unsigned long long)limit, format_size(STORE_PEER_LIMIT_MIN, min));
                return -ERANGE;
        }
        *ret = limit;
        return 1;
}

/* Put the limits on the running store, if it runs (else it reads them from
 * its row when it starts). */
static int apply_live(struct daemon *d, int64_t store_id, uint64_t upload, uint64_t download)
{
        void *token = NULL;
        struct store *s = replicate_store_borrow(d, store_id, &token);
        int k = 0;

        if (!s)
                return 0;
        if (store_is_peer(s))
                k = store_peer_set_limits(s, upload, download);
        replicate_store_return(token);
        return k;
}

void cmd_peer_set(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL;
        char up[FORMAT_RATE_MAX], down[FORMAT_RATE_MAX];
        struct index_store row;
        struct index_peer peer;
        uint64_t upload, download;
        int k, got_up, got_down;

        name = cmd_get_text(r, CTL_KEY_NAME, "a peer name", 64, true, &k);
        if (!name)
                return;
        k = index_store_find(d->index, name, &row);
        if (k == -ENOENT) {
                bool keeps_only = index_peer_find(d->index, name, &peer) >= 0;
                if (keeps_only)
                        index_peer_done(&peer);
                if (keeps_only)
                        request_error(r, CTL_STATUS_NOT_FOUND,
                                      "peer %s has no address: it only keeps its packs here, and this node "
                                      "sends it nothing to limit",
                                      name);
                else
                        request_error(r, CTL_STATUS_NOT_FOUND, "no peer named %s (chutectl stores)", name);
                return;
        }
        if (k < 0) {
                request_error_errno(r, k, "cannot read the stores");
                return;
        }
        if (strcmp(row.kind, "peer") != 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "store %s is a %s store, not a peer: its limits are not "
                              "set with peer set", name, row.kind);
                index_store_done(&row);
                return;
        }
        upload = row.upload_limit;
        download = row.download_limit;
        int64_t store_id = row.id;
        index_store_done(&row);
        got_up = cmd_peer_set_get_limit(r, CTL_KEY_UPLOAD_LIMIT, &upload);
        if (got_up < 0)
                return;
        got_down = cmd_peer_set_get_limit(r, CTL_KEY_DOWNLOAD_LIMIT, &download);
        if (got_down < 0)
                return;
        if (!got_up && !got_down) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "nothing to set: give an upload or a download limit");
                return;
        }
        k = index_store_set_limits(d->index, store_id, upload, download);
        if (k < 0) {
                log_error_errno(k, "Cannot save the rate limits of store %s: %s", name, index_last_error(d->index));
                request_error_errno(r, k, "cannot save the limits of %s", name);
                return;
        }
        k = apply_live(d, store_id, upload, download);
        if (k < 0)
                log_warning_errno(k, "Store %s: cannot change the limits of its connection now; they apply "
                                  "when it reconnects",
                                  name);
        log_info("Store %s: upload limit %s, download limit %s", name, format_rate(upload, up),
                 format_rate(download, down));
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m), item;
        if (msg_map_append_map(&b, CTL_KEY_STORES, &item) >= 0) {
                msg_map_set_text(&item, CTL_KEY_NAME, name);
                msg_map_set_uint(&item, CTL_KEY_UPLOAD_LIMIT, upload);
                msg_map_set_uint(&item, CTL_KEY_DOWNLOAD_LIMIT, download);
        }
        request_reply(r, m);
}
