/* SPDX-License-Identifier: MIT */
/* verify --store NAME: challenge (PROVE) every pack that store holds now;
 * packs found missing or damaged there are deleted and uploaded again. The
 * reply counts the packs challenged and the bad ones. Without a store the
 * request is `chutectl check` of this node's repository (cmd-check.c). */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "replicate.h"

static void verify_done(int error, const struct replicate_verify_result *result, void *userdata)
{
        struct request *r = userdata;

        if (error < 0) {
                request_error_errno(r, error, "the verification stopped");
        } else {
                struct msg *m = request_result(r);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, CTL_KEY_PACKS, result->packs);
                        msg_map_set_uint(&b, CTL_KEY_ERRORS, result->errors);
                        msg_map_set_uint(&b, CTL_KEY_PENDING, result->failed);
                        request_reply(r, m);
                }
        }
        request_unref(r);
}

void cmd_verify(struct request *r)
{
        _cleanup_free_ char *store = NULL;
        int k;

        if (msg_map_get_text_dup(&r->args, CTL_KEY_STORE, &store) < 0) {
                cmd_check(r); /* chutectl check: this node's repository */
                return;
        }
        k = replicate_verify_store(r->daemon, store, verify_done, request_ref(r));
        if (k >= 0)
                return;
        request_unref(r);
        if (k == -ENOENT)
                request_error(r, CTL_STATUS_NOT_FOUND, "no store named %s is replicating (chutectl stores)", store);
        else if (k == -EBUSY)
                request_error(r, CTL_STATUS_BUSY, "store %s is being verified already", store);
        else
                request_error_errno(r, k, "cannot verify store %s", store);
}
