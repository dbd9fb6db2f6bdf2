/* SPDX-License-Identifier: MIT */
/* store remove NAME: forget a store that is not a peer's (peers: peer
 * remove) and stop replicating to it. Its replica rows go with it; nothing is
 * deleted in the store itself: the packs stay in the bucket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "replicate.h"

void cmd_store_remove(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL;
        struct index_store st;
        int k;

        name = cmd_get_text(r, CTL_KEY_NAME, "a store name", 64, true, &k);
        if (!name)
                return;
        k = index_store_find(d->index, name, &st);
        if (k == -ENOENT) {
                request_error(r, CTL_STATUS_NOT_FOUND, "no store named %s (chutectl stores)", name);
                return;
        }
        if (k < 0) {
                request_error_errno(r, k, "cannot read the stores");
                return;
        }
        if (!strcmp(st.kind, "peer")) {
                index_store_done(&st);
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s is a peer: chutectl peer remove %s", name,
                              name);
                return;
        }
        if (cmd_refuse_losing_packs(r, st.id, name) < 0) {
                index_store_done(&st);
                return;
        }
        k = index_store_remove(d->index, st.id);
        index_store_done(&st);
        if (k < 0) {
                log_error_errno(k, "Cannot remove store %s from the index: %s", name,
                                index_last_error(d->index));
                request_error_errno(r, k, "cannot remove store %s", name);
                return;
        }
        log_notice("Store %s removed; what it holds stays there", name);
        replicate_reload(d); /* it stops now */
        struct msg *m = request_result(r);
        if (m) {
                struct msg_map b = msg_body(m);
                msg_map_set_text(&b, CTL_KEY_NAME, name);
                request_reply(r, m);
        }
}
