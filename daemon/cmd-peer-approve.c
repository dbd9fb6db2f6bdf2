/* SPDX-License-Identifier: MIT */
/* peer approve ID [--name N] [--quota SIZE]: a pending node (one that
 * connected without being known, see peer-server.c) becomes a peer that may
 * keep packs here, with the default quota ([peer] quota) unless one is
 * given. It only keeps packs here: `peer add` makes a peer we upload to. */
#include <ctype.h>
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

/* "node-" and the first 8 characters of the id, lower case. */
static void default_name(const char *pretty, char ret[16])
{
        size_t n = strlen("node-");

        memcpy(ret, "node-", n);
        for (const char *p = pretty; *p && n < 13; p++)
                if (*p != '-')
                        ret[n++] = (char)tolower((unsigned char)*p);
        ret[n] = '\0';
}

void cmd_peer_approve(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL, *pretty = NULL;
        char fallback[16], quota_text[FORMAT_SIZE_MAX];
        uint64_t quota = d->config.peer_quota;
        struct oid id;
        int k;

        if (cmd_get_node_id(r, id.bytes) < 0)
                return;
        name = cmd_get_text(r, CTL_KEY_NAME, "a peer name", 64, false, &k);
        if (k < 0)
                return;
        if (name && !cmd_peer_name_valid(name)) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "\"%s\" is not a peer name: 1 to 64 letters, digits, '.', '_' or '-'", name);
                return;
        }
        msg_map_get_uint(&r->args, CTL_KEY_QUOTA, &quota);
        if (quota > INT64_MAX) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the quota is too large");
                return;
        }
        if (identity_format_id(id.bytes, &pretty) < 0) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        default_name(pretty, fallback);
        k = index_peer_approve(d->index, &id, name ? name : fallback, quota, (int64_t)d->config.delete_delay_ns);
        if (k == -ENOENT) {
                request_error(r, CTL_STATUS_NOT_FOUND,
                              "%s is not a pending node (chutectl peers lists them; 'chutectl peer add' takes "
                              "one that never connected)",
                              pretty);
                return;
        }
        if (k == -EALREADY) {
                request_error(r, CTL_STATUS_EXISTS, "%s is already an approved peer", pretty);
                return;
        }
        if (k == -EEXIST) {
                request_error(r, CTL_STATUS_EXISTS, "a peer named %s exists already; choose one with --name",
                              name ? name : fallback);
                return;
        }
        if (k < 0) {
                log_error_errno(k, "Cannot approve %s in the index: %s", pretty, index_last_error(d->index));
                request_error_errno(r, k, "cannot approve %s", pretty);
                return;
        }
        log_event(LOG_NOTICE, MSGID_PEER_ADDED, LOG_FIELDS(LOG_PEER(pretty)),
                  "Node %s approved as peer %s, keeping its packs here, quota %s", pretty, name ? name : fallback,
                  format_size(quota, quota_text));
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m), item;
        if (msg_map_append_map(&b, CTL_KEY_PEERS, &item) >= 0) {
                msg_map_set_bytes(&item, CTL_KEY_ID, id.bytes, OID_SIZE);
                msg_map_set_text(&item, CTL_KEY_NAME, name ? name : fallback);
                msg_map_set_text(&item, CTL_KEY_STATE, "approved");
                msg_map_set_uint(&item, CTL_KEY_QUOTA, quota);
                msg_map_set_uint(&item, CTL_KEY_DELETE_DELAY, d->config.delete_delay_ns / NSEC_PER_SEC);
        }
        request_reply(r, m);
}
