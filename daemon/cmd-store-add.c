/* SPDX-License-Identifier: MIT */
/* store add NAME s3 ...: a stores row of kind "s3" whose config is the S3
 * store's configuration text (store-s3-wire.c). The fields and the key files
 * (0600) are checked before the row is written; the replicator opens the
 * store at once and it starts on the backlog. */
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
#include "store-s3-wire.h"
#include "store-s3.h"

/* The S3 fields of the request into c; sends the ERROR. */
static int get_config(struct request *r, struct store_s3_config *c)
{
        uint64_t days = 0;
        bool vhost = false;
        int k;

        c->endpoint = cmd_get_text(r, CTL_KEY_ENDPOINT, "an endpoint URL", 512, true, &k);
        if (k >= 0)
                c->bucket = cmd_get_text(r, CTL_KEY_BUCKET, "a bucket", 63, true, &k);
        if (k >= 0)
                c->prefix = cmd_get_text(r, CTL_KEY_PREFIX, "a prefix", 256, false, &k);
        if (k >= 0)
                c->region = cmd_get_text(r, CTL_KEY_REGION, "a region", 64, false, &k);
        if (k >= 0)
                c->access_key_file =
                        cmd_get_text(r, CTL_KEY_ACCESS_KEY_FILE, "an access key file", 4096, true, &k);
        if (k >= 0)
                c->secret_key_file =
                        cmd_get_text(r, CTL_KEY_SECRET_KEY_FILE, "a secret key file", 4096, true, &k);
        if (k < 0)
                return k;
        if ((!c->prefix && !(c->prefix = strdup(""))) ||
            (!c->region && !(c->region = strdup("us-east-1")))) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return -ENOMEM;
        }
        msg_map_get_bool(&r->args, CTL_KEY_VIRTUAL_HOST, &vhost);
        msg_map_get_uint(&r->args, CTL_KEY_OBJECT_LOCK_DAYS, &days);
        if (days > 36500) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "--object-lock-days takes 0 to 36500 days");
                return -EINVAL;
        }
        c->virtual_host = vhost;
        c->object_lock_days = (unsigned)days;
        return 0;
}

void cmd_store_add(struct request *r)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *name = NULL, *kind = NULL, *text = NULL;
        struct store_s3_config c = {0};
        struct index_store existing;
        char why[512];
        int k;

        name = cmd_get_text(r, CTL_KEY_NAME, "a store name", 64, true, &k);
        if (!name)
                return;
        if (!cmd_peer_name_valid(name)) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "\"%s\" is not a store name: 1 to 64 letters, digits, '.', '_' or '-'", name);
                return;
        }
        kind = cmd_get_text(r, CTL_KEY_KIND, "a store kind", 16, true, &k);
        if (!kind)
                return;
        if (strcmp(kind, "s3")) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "store add knows the kind s3 (peers: chutectl peer add)");
                return;
        }
        if (get_config(r, &c) < 0)
                goto out;
        k = store_s3_check(&c, why, sizeof(why));
        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s", why);
                goto out;
        }
        if (index_store_find(d->index, name, &existing) >= 0) {
                index_store_done(&existing);
                request_error(r, CTL_STATUS_EXISTS, "a store named %s exists already (chutectl stores)",
                              name);
                goto out;
        }
        k = store_s3_wire_config_format(&c, &text);
        if (k >= 0)
                k = index_store_add(d->index, name, "s3", text, NULL);
        if (k == -EEXIST) {
                request_error(r, CTL_STATUS_EXISTS, "a store named %s exists already (chutectl stores)",
                              name);
                goto out;
        }
        if (k < 0) {
                log_error_errno(k, "Cannot add store %s to the index: %s", name, index_last_error(d->index));
                request_error_errno(r, k, "cannot add store %s", name);
                goto out;
        }
        log_notice("Store %s added: s3 bucket %s at %s%s%s", name, c.bucket, c.endpoint,
                   *c.prefix ? ", prefix " : "", c.prefix);
        replicate_reload(d); /* it starts on the backlog now */
        struct msg *m = request_result(r);
        if (m) {
                struct msg_map b = msg_body(m);
                k = cmd_stores_fill(d, &b);
                request_reply(r, m);
        }
out:
        store_s3_wire_config_done(&c);
}
