/* SPDX-License-Identifier: MIT */
/* peer remove NAME|ID: forget a peer (or a pending node) and its stores row,
 * and close its connections. The packs it kept here are not dropped: they
 * are marked deleted and purged after delete_delay like any DELETE, so a
 * mistaken (or hostile) removal loses nothing until then. */
#include <errno.h>
#include <inttypes.h>
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
#include "peer-server.h"
#include "replicate.h"

/* The peer named by NODE: a name first, else a node id. Sends the ERROR. */
static int find_peer(struct request *r, struct index_peer *ret)
{
        _cleanup_free_ char *node = NULL;
        struct oid id;
        int k;

        k = msg_map_get_text_dup(&r->args, CTL_KEY_NODE, &node);
        if (k < 0 || !*node || strlen(node) > 256) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "a peer name or node id is needed");
                return -EINVAL;
        }
        k = index_peer_find(r->daemon->index, node, ret);
        if (k != -ENOENT) {
                if (k < 0)
                        request_error_errno(r, k, "cannot read peers");
                return k;
        }
        if (identity_parse_id(node, id.bytes) < 0) {
                request_error(r, CTL_STATUS_NOT_FOUND, "no peer named %s (chutectl peers)", node);
                return -ENOENT;
        }
        k = index_peer_get(r->daemon->index, &id, ret);
        if (k == -ENOENT)
                request_error(r, CTL_STATUS_NOT_FOUND, "no peer or pending node with id %s (chutectl peers)", node);
        else if (k < 0)
                request_error_errno(r, k, "cannot read peers");
        return k;
}

/* Drop the peer row and its stores row, marking its hosted packs. */
static int remove_rows(struct index *idx, const struct index_peer *p, int64_t now)
{
        struct index_store store;
        char hex[OID_HEX_SIZE];
        int k;

        k = index_begin(idx);
        if (k < 0)
                return k;
        k = index_hosted_mark_all(idx, &p->id, now);
        if (k >= 0)
                k = index_peer_remove(idx, &p->id);
        if (k >= 0 && *p->name && index_store_find(idx, p->name, &store) >= 0) {
                oid_to_hex(&p->id, hex);
                if (!strcmp(store.kind, "peer") && !strcmp(store.config, hex))
                        k = index_store_remove(idx, store.id);
                index_store_done(&store);
        }
        if (k < 0) {
                index_rollback(idx);
                return k;
        }
        return index_commit(idx);
}

/* With local_copy = cache, packs evicted here may be on this peer alone:
 * removing its store would lose them. Refused, unless --force. */
static int refuse_losing_packs(struct request *r, const struct index_peer *p)
{
        struct index_store store;
        char hex[OID_HEX_SIZE];
        int k = 0;

        if (!*p->name || index_store_find(r->daemon->index, p->name, &store) < 0)
                return 0;
        oid_to_hex(&p->id, hex);
        if (!strcmp(store.kind, "peer") && !strcmp(store.config, hex))
                k = cmd_refuse_losing_packs(r, store.id, p->name);
        index_store_done(&store);
        return k;
}

void cmd_peer_remove(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *pretty = NULL;
        struct index_hosted_usage usage = { 0 };
        char size_text[FORMAT_SIZE_MAX], delay_text[FORMAT_DURATION_MAX];
        struct index_peer p;
        int k;

        if (find_peer(r, &p) < 0)
                return;
        if (identity_format_id(p.id.bytes, &pretty) < 0) {
                index_peer_done(&p);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        if (refuse_losing_packs(r, &p) < 0) {
                index_peer_done(&p);
                return;
        }
        k = remove_rows(d->index, &p, now_ns());
        if (k < 0) {
                log_error_errno(k, "Cannot remove peer %s (%s) from the index: %s", *p.name ? p.name : "(pending)",
                                pretty, index_last_error(d->index));
                request_error_errno(r, k, "cannot remove %s", *p.name ? p.name : pretty);
                index_peer_done(&p);
                return;
        }
        peer_server_forget(d->peer_server, p.id.bytes);
        replicate_reload(d); /* its store stops now */
        index_hosted_usage(d->index, &p.id, &usage);
        if (p.approved)
                log_event(LOG_NOTICE, MSGID_PEER_REMOVED, LOG_FIELDS(LOG_PEER(pretty)),
                          "Peer %s (%s) removed; the %" PRIu64 " packs (%s) it kept here go after %s", p.name,
                          pretty, usage.packs, format_size(usage.bytes, size_text),
                          format_duration_ns(d->config.delete_delay_ns, delay_text));
        else
                log_info("Pending node %s forgotten", pretty);
        struct msg *m = request_result(r);
        if (m) {
                struct msg_map b = msg_body(m), item;
                if (msg_map_append_map(&b, CTL_KEY_PEERS, &item) >= 0) {
                        msg_map_set_bytes(&item, CTL_KEY_ID, p.id.bytes, OID_SIZE);
                        if (*p.name)
                                msg_map_set_text(&item, CTL_KEY_NAME, p.name);
                        msg_map_set_text(&item, CTL_KEY_STATE, p.approved ? "approved" : "pending");
                        msg_map_set_uint(&item, CTL_KEY_HOSTED, usage.packs);
                        msg_map_set_uint(&item, CTL_KEY_MARKED, usage.marked_bytes);
                        msg_map_set_uint(&item, CTL_KEY_DELETE_DELAY, d->config.delete_delay_ns / NSEC_PER_SEC);
                }
                request_reply(r, m);
        }
        index_peer_done(&p);
}
