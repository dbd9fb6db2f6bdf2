/* SPDX-License-Identifier: MIT */
/* paths: the watched directories with their excludes and last snapshot. */
#include <string.h>

#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "root.h"

void cmd_paths(struct request *r)
{
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        for (struct root *root = r->daemon->roots; root; root = root->next) {
                struct msg_map item;
                if (msg_map_append_map(&b, CTL_KEY_ROOTS, &item) < 0)
                        break;
                msg_map_set_bytes(&item, CTL_KEY_PATH, root->path, strlen(root->path));
                msg_map_set_text(&item, CTL_KEY_STATE, root_status_name(root));
                if (root->last_snapshot_ns)
                        msg_map_set_int(&item, CTL_KEY_TIME, root->last_snapshot_ns);
                for (const char *p = root->excludes; *p;) {
                        const char *nl = strchr(p, '\n');
                        size_t len = nl ? (size_t)(nl - p) : strlen(p);
                        char pat[4097];
                        if (len > 0 && len < sizeof(pat)) {
                                memcpy(pat, p, len);
                                pat[len] = '\0';
                                msg_map_append_text(&item, CTL_KEY_EXCLUDES, pat);
                        }
                        p += len + (nl ? 1 : 0);
                }
        }
        request_reply(r, m);
}
