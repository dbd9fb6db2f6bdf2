/* SPDX-License-Identifier: MIT */
/* key export / key import: the recovery code of the master secret, and
 * replacing the master secret on a node that has no snapshots yet. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "crypto.h"
#include "ctl.h"
#include "daemon.h"
#include "identity.h"
#include "index.h"
#include "log.h"
#include "recovery.h"

void cmd_key_export(struct request *r)
{
        _cleanup_free_ char *code = NULL;
        int k = recovery_encode(r->daemon->keys.master, &code);
        if (k < 0) {
                request_error_errno(r, k, "cannot encode the recovery code");
                return;
        }
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_text(&b, CTL_KEY_CODE, code);
        log_notice("The recovery code was exported to uid %u", (unsigned)r->uid);
        request_reply(r, m);
}

void cmd_key_import(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *code = NULL;
        uint8_t master[32];
        struct index_stats st;

        if (msg_map_get_text_dup(&r->args, CTL_KEY_CODE, &code) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "key import needs a recovery code");
                return;
        }
        int k = recovery_decode(code, master);
        if (k == -EBADMSG) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the recovery code's checksum does not match: check for a mistyped character");
                return;
        }
        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "not a recovery code: wrong length or a character outside A-Z and 2-7");
                return;
        }
        if (d->config.key_file) {
                request_error(r, CTL_STATUS_DENIED, "this node derives its key from key_file %s; edit the configuration instead",
                              d->config.key_file);
                return;
        }
        k = index_stats(d->index, &st);
        if (k < 0) {
                request_error_errno(r, k, "cannot read the index");
                return;
        }
        if (st.n_snapshots > 0 || st.n_objects > 0) {
                request_error(r, CTL_STATUS_EXISTS,
                              "this node already has %llu snapshot(s) under its own key; import a key only on a new node",
                              (unsigned long long)st.n_snapshots);
                return;
        }
        if (!memcmp(master, d->keys.master, sizeof(master))) {
                request_reply(r, request_result(r));
                return;
        }
        struct keys fresh;
        struct identity *id = NULL;
        k = keys_derive(master, &fresh);
        if (k >= 0)
                k = identity_new(fresh.identity_seed, &id);
        if (k < 0) {
                crypto_wipe(master, sizeof(master));
                request_error_errno(r, k, "cannot derive keys");
                return;
        }
        /* write the new secret next to the old one, then rename over it */
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        if (asprintf(&path, "%s/master.key", d->config.state_dir) < 0 ||
            asprintf(&tmp, "%s/master.key.import", d->config.state_dir) < 0) {
                identity_free(id);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        unlink(tmp);
        uint8_t check[32];
        k = keys_create_from(tmp, master);
        if (k >= 0 && rename(tmp, path) < 0)
                k = -errno;
        if (k >= 0)
                k = keys_load(path, check, NULL);
        crypto_wipe(master, sizeof(master));
        if (k < 0) {
                unlink(tmp);
                identity_free(id);
                request_error_errno(r, k, "cannot write the master secret");
                return;
        }
        keys_wipe(&d->keys);
        d->keys = fresh;
        identity_free(d->identity);
        d->identity = id;
        identity_node_id(d->identity, d->node_id);
        crypto_wipe(check, sizeof(check));
        log_notice("Imported a master secret from a recovery code; this node's id changed");
        request_reply(r, request_result(r));
}
