/* SPDX-License-Identifier: MIT */
/* remove: stop watching a directory; its snapshots stay. */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "root.h"

void cmd_remove(struct request *r)
{
        int k;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, true, &k);
        if (!path)
                return;
        k = root_remove(r->daemon, path);
        if (k == -ENOENT) {
                request_error(r, CTL_STATUS_NOT_FOUND, "%s is not a watched path (see chutectl paths)", path);
                return;
        }
        if (k == -EBUSY) {
                request_error(r, CTL_STATUS_BUSY, "a snapshot of %s is running; try again when it ends", path);
                return;
        }
        if (k < 0) {
                request_error_errno(r, k, "cannot remove %s", path);
                return;
        }
        request_reply(r, request_result(r));
}
