/* SPDX-License-Identifier: MIT */
/* peers: every approved peer and every pending node, with what each keeps
 * here (bytes used against its quota, marked bytes awaiting the purge,
 * packs), its delete delay, when and from where it last connected, and
 * whether it is connected now. */
#include <errno.h>
#include <stdlib.h>

#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "parse.h"
#include "peer-server.h"

struct peers_reply {
        struct daemon *daemon;
        struct msg_map body;
};

static int add_peer(const struct index_peer *p, void *userdata)
{
        struct peers_reply *pr = userdata;
        struct index_hosted_usage usage = { 0 };
        struct msg_map item;
        int k;

        k = msg_map_append_map(&pr->body, CTL_KEY_PEERS, &item);
        if (k < 0)
                return k;
        k = index_hosted_usage(pr->daemon->index, &p->id, &usage);
        if (k < 0)
                return k;
        msg_map_set_bytes(&item, CTL_KEY_ID, p->id.bytes, OID_SIZE);
        if (*p->name)
                msg_map_set_text(&item, CTL_KEY_NAME, p->name);
        /* a pending node has no address of its own: where it came from */
        if (*p->address || *p->last_address)
                msg_map_set_text(&item, CTL_KEY_ADDRESS, p->approved ? p->address : p->last_address);
        msg_map_set_text(&item, CTL_KEY_STATE, p->approved ? "approved" : "pending");
        msg_map_set_uint(&item, CTL_KEY_QUOTA, p->quota);
        msg_map_set_uint(&item, CTL_KEY_USED, usage.bytes);
        msg_map_set_uint(&item, CTL_KEY_MARKED, usage.marked_bytes);
        msg_map_set_uint(&item, CTL_KEY_HOSTED, usage.packs);
        msg_map_set_uint(&item, CTL_KEY_DELETE_DELAY, (uint64_t)p->delete_delay_ns / NSEC_PER_SEC);
        if (p->last_seen_ns)
                msg_map_set_int(&item, CTL_KEY_LAST_SEEN, p->last_seen_ns);
        msg_map_set_bool(&item, CTL_KEY_CONNECTED, peer_server_connected(pr->daemon->peer_server, p->id.bytes));
        return 0;
}

void cmd_peers(struct request *r)
{
        struct msg *m = request_result(r);
        int k;

        if (!m)
                return;
        struct peers_reply pr = { .daemon = r->daemon, .body = msg_body(m) };
        k = index_peer_foreach(r->daemon->index, add_peer, &pr);
        if (k < 0) {
                msg_free(m);
                request_error_errno(r, k, "cannot read peers");
                return;
        }
        request_reply(r, m);
}
