/* SPDX-License-Identifier: MIT */
/* snapshot: take a snapshot now (of one root, or of every root) and answer
 * once it is committed. The work happens in root.c / snapshot.c. */

#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "root.h"

void cmd_snapshot(struct request *r)
{
        struct daemon *d = r->daemon;
        int k;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, false, &k);
        if (k < 0)
                return;
        struct root *root = NULL;
        if (path) {
                root = root_containing(d, path);
                if (!root) {
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not inside a watched path (see chutectl paths)", path);
                        return;
                }
        } else if (d->roots && !d->roots->next) {
                root = d->roots;
        } else if (!d->roots) {
                request_error(r, CTL_STATUS_NOT_FOUND, "nothing is watched yet: chutectl add PATH");
                return;
        } else {
                request_error(r, CTL_STATUS_BAD_REQUEST, "several paths are watched: say which (chutectl snapshot PATH)");
                return;
        }
        if (root->state == ROOT_UNAVAILABLE) {
                /* it may be back: the run will tell */
                root->state = ROOT_IDLE;
        }
        k = root_snapshot(root, r);
        if (k == -ESHUTDOWN)
                request_error(r, CTL_STATUS_BUSY, "chuted is stopping");
        else if (k < 0)
                request_error_errno(r, k, "cannot start a snapshot of %s", root->path);
}
