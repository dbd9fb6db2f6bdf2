/* SPDX-License-Identifier: MIT */
/* snapshots: list snapshots (of one root or all), oldest first. */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "root.h"

struct list_ctx {
        struct request *r;
        struct msg_map *map;
};

static int add_cb(const struct index_snapshot *s, void *userdata)
{
        struct list_ctx *c = userdata;
        return cmd_add_snapshot_item(c->r, c->map, s);
}

void cmd_snapshots(struct request *r)
{
        struct daemon *d = r->daemon;
        int k;
        int64_t root_id = -1;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, false, &k);
        if (k < 0)
                return;
        if (path) {
                struct index_root ir;
                k = index_root_find(d->index, path, &ir);
                if (k < 0) {
                        struct root *root = root_containing(d, path);
                        if (!root) {
                                request_error(r, CTL_STATUS_NOT_FOUND, "%s is not a watched path", path);
                                return;
                        }
                        root_id = root->id;
                } else {
                        root_id = ir.id;
                        index_root_done(&ir);
                }
        }
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        struct list_ctx c = {r, &b};
        k = index_snapshot_foreach(d->index, root_id, add_cb, &c);
        if (k < 0) {
                msg_free(m);
                request_error_errno(r, k, "cannot list snapshots");
                return;
        }
        request_reply(r, m);
}
