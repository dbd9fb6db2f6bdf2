/* SPDX-License-Identifier: MIT */
/* peer add: make a node a peer at once (no pending step): the peers row
 * with its quota and delete delay for the packs it keeps here, and, when an
 * address is given, the stores row (kind "peer", config = hex node id, its
 * own upload and download limits) the replicator uploads to. Both rows in
 * one transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "parse.h"
#include "replicate.h"

/* The stores row of a peer: its name and the node id in hex. */
static int add_rows(struct index *idx, const struct oid *id, const char *name, const char *address,
                    uint64_t quota, int64_t delay_ns, const uint64_t limits[2])
{
        char hex[OID_HEX_SIZE];
        int64_t store_id;
        int k = index_begin(idx);

        if (k < 0)
                return k;
        k = index_peer_add(idx, id, name, address, quota, delay_ns);
        if (k >= 0 && address) {
                oid_to_hex(id, hex);
                k = index_store_add(idx, name, "peer", hex, &store_id);
                if (k == -EEXIST)
                        k = -EADDRINUSE; /* the store name, not the peer */
                if (k >= 0 && (limits[0] || limits[1]))
                        k = index_store_set_limits(idx, store_id, limits[0], limits[1]);
        }
        if (k < 0) {
                index_rollback(idx);
                return k;
        }
        return index_commit(idx);
}

void cmd_peer_add(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL, *address = NULL, *pretty = NULL;
        struct index_peer existing;
        char quota_text[FORMAT_SIZE_MAX];
        uint64_t quota = d->config.peer_quota;
        struct oid id;
        int k;

        if (cmd_get_node_id(r, id.bytes) < 0)
                return;
        name = cmd_get_text(r, CTL_KEY_NAME, "a peer name", 64, true, &k);
        if (!name)
                return;
        if (!cmd_peer_name_valid(name)) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "\"%s\" is not a peer name: 1 to 64 letters, digits, '.', '_' or '-'", name);
                return;
        }
        address = cmd_get_text(r, CTL_KEY_ADDRESS, "an address", 255, false, &k);
        if (k < 0)
                return;
        if (address && !strcmp(address, "-")) {
                free(address);
                address = NULL;
        }
        if (address && !cmd_peer_address_valid(address)) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "\"%s\" is not an address: HOST:PORT or [IPV6]:PORT, or - for a peer that only "
                              "keeps its packs here",
                              address);
                return;
        }
        uint64_t limits[2] = { 0, 0 }; /* upload, download */
        int got_up = cmd_peer_set_get_limit(r, CTL_KEY_UPLOAD_LIMIT, &limits[0]);
        if (got_up < 0)
                return;
        int got_down = cmd_peer_set_get_limit(r, CTL_KEY_DOWNLOAD_LIMIT, &limits[1]);
        if (got_down < 0)
                return;
        if ((got_up || got_down) && !address) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "rate limits are for the uploads to a peer: give its ADDRESS too");
                return;
        }
        msg_map_get_uint(&r->args, CTL_KEY_QUOTA, &quota);
        if (quota > INT64_MAX) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the quota is too large");
                return;
        }
        if (!memcmp(id.bytes, d->node_id, sizeof(d->node_id))) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "that is this node's own id");
                return;
        }
        if (identity_format_id(id.bytes, &pretty) < 0) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        if (index_peer_get(d->index, &id, &existing) >= 0) {
                bool approved = existing.approved;
                _cleanup_free_ char *was = strdup(existing.name);
                index_peer_done(&existing);
                if (approved) {
                        request_error(r, CTL_STATUS_EXISTS, "%s is already a peer, named %s (chutectl peer remove %s first)",
                                      pretty, was ? was : "?", was ? was : pretty);
                        return;
                }
        }
        k = add_rows(d->index, &id, name, address, quota, (int64_t)d->config.delete_delay_ns, limits);
        if (k == -EEXIST) {
                request_error(r, CTL_STATUS_EXISTS, "a peer named %s exists already", name);
                return;
        }
        if (k == -EADDRINUSE) {
                request_error(r, CTL_STATUS_EXISTS, "a store named %s exists already (chutectl stores)", name);
                return;
        }
        if (k < 0) {
                log_error_errno(k, "Cannot add peer %s (%s) to the index: %s", name, pretty,
                                index_last_error(d->index));
                request_error_errno(r, k, "cannot add peer %s", name);
                return;
        }
        log_event(LOG_NOTICE, MSGID_PEER_ADDED, LOG_FIELDS(LOG_PEER(pretty), LOG_STORE(address ? name : NULL)),
                  "Peer %s (%s) added%s%s, quota %s", name, pretty, address ? " at " : ", keeping its packs only",
                  address ? address : "", format_size(quota, quota_text));
        replicate_reload(d); /* its store starts uploading now */
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m), item;
        if (msg_map_append_map(&b, CTL_KEY_PEERS, &item) >= 0) {
                msg_map_set_bytes(&item, CTL_KEY_ID, id.bytes, OID_SIZE);
                msg_map_set_text(&item, CTL_KEY_NAME, name);
                if (address)
                        msg_map_set_text(&item, CTL_KEY_ADDRESS, address);
                msg_map_set_text(&item, CTL_KEY_STATE, "approved");
                msg_map_set_uint(&item, CTL_KEY_QUOTA, quota);
                msg_map_set_uint(&item, CTL_KEY_DELETE_DELAY, d->config.delete_delay_ns / NSEC_PER_SEC);
                if (address) {
                        msg_map_set_uint(&item, CTL_KEY_UPLOAD_LIMIT, limits[0]);
                        msg_map_set_uint(&item, CTL_KEY_DOWNLOAD_LIMIT, limits[1]);
                }
        }
        request_reply(r, m);
}
