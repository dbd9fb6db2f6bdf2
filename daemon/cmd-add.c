/* SPDX-License-Identifier: MIT */
/* add: start watching a directory (with optional exclude patterns). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "exclude.h"
#include "root.h"

void cmd_add(struct request *r)
{
        int k;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, true, &k);
        if (!path)
                return;
        if (path[0] != '/') {
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s is not an absolute path", path);
                return;
        }
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real) {
                request_error_errno(r, -errno, "cannot watch %s", path);
                return;
        }
        /* excludes: one pattern per line in the index */
        size_t n = 0, total = 1;
        msg_map_get_count(&r->args, CTL_KEY_EXCLUDES, &n);
        for (size_t i = 0; i < n; i++) {
                const char *p;
                size_t len;
                if (msg_map_get_text_at(&r->args, CTL_KEY_EXCLUDES, i, &p, &len) < 0 || len == 0 ||
                    memchr(p, '\n', len) || memchr(p, '\0', len)) {
                        request_error(r, CTL_STATUS_BAD_REQUEST, "exclude patterns must be non-empty single lines");
                        return;
                }
                total += len + 1;
        }
        _cleanup_free_ char *excludes = calloc(1, total);
        if (!excludes) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *p;
                size_t len;
                msg_map_get_text_at(&r->args, CTL_KEY_EXCLUDES, i, &p, &len);
                strncat(excludes, p, len);
                strcat(excludes, "\n");
        }
        struct exclude *check = NULL;
        struct exclude_error xerr = {0};
        k = exclude_new(excludes, &xerr, &check);
        exclude_free(check);
        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "bad exclude pattern #%u: %s", xerr.line,
                              xerr.reason ? xerr.reason : strerror(-k));
                return;
        }
        struct root *inside = root_containing(r->daemon, real);
        if (inside && strcmp(inside->path, real)) {
                request_error(r, CTL_STATUS_EXISTS, "%s is already watched as part of %s", real, inside->path);
                return;
        }
        struct root *within = root_inside(r->daemon, real);
        if (within) {
                request_error(r, CTL_STATUS_EXISTS,
                              "%s contains %s, which is already watched: remove it first "
                              "(chutectl remove %s), then add %s",
                              real, within->path, within->path, real);
                return;
        }
        k = root_add(r->daemon, real, excludes, NULL);
        if (k == -EEXIST) {
                request_error(r, CTL_STATUS_EXISTS, "%s is already watched", real);
                return;
        }
        if (k == -EPERM) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "%s is inside chuted's state directory %s, which is never backed up", real,
                              r->daemon->config.state_dir);
                return;
        }
        if (k == -ENOTDIR) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s is not a directory", real);
                return;
        }
        if (k < 0) {
                request_error_errno(r, k, "cannot watch %s", real);
                return;
        }
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m), item;
        if (msg_map_append_map(&b, CTL_KEY_ROOTS, &item) >= 0)
                msg_map_set_bytes(&item, CTL_KEY_PATH, real, strlen(real));
        request_reply(r, m);
}
