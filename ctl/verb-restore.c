/* SPDX-License-Identifier: MIT */
/* chutectl restore: a snapshot, or one path of it, to TARGET on this
 * machine; progress on stderr while it runs (on a terminal). */
#include "verb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_OVERWRITE = 1, OPT_VERIFY };

int verb_restore(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "overwrite", 0, false, OPT_OVERWRITE },
                { "verify", 0, false, OPT_VERIFY },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *snap = NULL, *rel = NULL, *path = NULL, *target = NULL;
        const char *pos[2];
        size_t n = 0;
        bool overwrite = false, verify = false;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("restore: %s", a.error);
                if (k == OPT_OVERWRITE)
                        overwrite = true;
                else if (k == OPT_VERIFY)
                        verify = true;
                else if (n == 2)
                        return verb_usage("restore takes SNAP[:PATH] TARGET");
                else
                        pos[n++] = a.value;
        }
        if (n < 2)
                return verb_usage("restore needs SNAP[:PATH] and a TARGET directory");
        if (args_split_snap(pos[0], &snap, &rel) < 0)
                return verb_usage("restore: \"%s\" is not SNAP[:PATH] (SNAP: a hex id prefix or \"latest\")",
                                  pos[0]);
        target = verb_path_arg(pos[1], "restore: target");
        if (!target)
                return EXIT_USAGE;
        ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_snap_path(c, snap, rel, &path);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_RESTORE);
        if (!m)
                return EXIT_FAILED;
        k = ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, snap);
        if (k >= 0)
                k = ctl_msg_set_bytes(m, CTL_KEY_TARGET, target, strlen(target));
        if (k >= 0 && path)
                k = ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path));
        if (k >= 0 && overwrite)
                k = ctl_msg_set_bool(m, CTL_KEY_OVERWRITE, true);
        if (k >= 0 && verify)
                k = ctl_msg_set_bool(m, CTL_KEY_VERIFY_IDS, true);
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply);
        uint64_t files = verb_uint(&body, CTL_KEY_FILES, 0), bytes = verb_uint(&body, CTL_KEY_BYTES, 0),
                 errors = verb_uint(&body, CTL_KEY_ERRORS, 0);
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "files", json_integer((json_int_t)files));
                        json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
                        json_object_set_new(o, "errors", json_integer((json_int_t)errors));
                }
                ex = verb_json(o);
        } else {
                char size[OUTPUT_SIZE_MAX];
                printf("Restored %" PRIu64 " files (%s) to %s\n", files, output_size(bytes, size),
                       target);
                ex = verb_flush();
        }
        if (ex == EXIT_OK && errors)
                ex = verb_fail("%" PRIu64 " files could not be restored (see chuted's log)", errors);
        return ex;
}
