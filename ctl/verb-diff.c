/* SPDX-License-Identifier: MIT */
/* chutectl diff: what changed between two snapshots of a root, gathered
 * from DATA messages and the RESULT; "+", "-" and "M" lines, or a JSON
 * array of {path, change, kind, size}. */
#include "verb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int diff_collect(json_t *arr, struct msg *m)
{
        struct msg_map body = msg_body(m), e;
        size_t n = 0;

        if (msg_map_get_count(&body, CTL_KEY_ENTRIES, &n) == -EBADMSG)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_object();
                if (!o)
                        return -ENOMEM;
                if (msg_map_get_map_at(&body, CTL_KEY_ENTRIES, i, &e) < 0) {
                        json_decref(o);
                        return -EBADMSG;
                }
                json_object_set_new(o, "path", verb_json_str(&e, CTL_KEY_PATH));
                json_object_set_new(o, "change", verb_json_str(&e, CTL_KEY_CHANGE));
                json_object_set_new(o, "kind", verb_json_str(&e, CTL_KEY_KIND));
                json_object_set_new(o, "size", verb_json_uint(&e, CTL_KEY_SIZE));
                if (json_array_append_new(arr, o) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int diff_data(struct msg *m, void *userdata)
{
        struct msg_map body = msg_body(m);
        size_t n;

        if (msg_map_get_count(&body, CTL_KEY_ENTRIES, &n) < 0)
                return -EBADMSG; /* a DATA of a listing carries entries */
        return diff_collect(userdata, m);
}

static int diff_text(json_t *arr)
{
        size_t i;
        json_t *o;

        json_array_foreach(arr, i, o) {
                json_t *p = json_object_get(o, "path"), *ch = json_object_get(o, "change"),
                       *kind = json_object_get(o, "kind");
                const char *change = json_is_string(ch) ? json_string_value(ch) : "";
                char mark = !strcmp(change, "added")     ? '+'
                            : !strcmp(change, "removed") ? '-'
                            : !strcmp(change, "modified") ? 'M'
                                                          : '?';
                if (!json_is_string(p))
                        continue;
                printf("%c  ", mark);
                fwrite(json_string_value(p), 1, json_string_length(p), stdout);
                if (json_is_string(kind) && !strcmp(json_string_value(kind), "dir"))
                        putchar('/');
                putchar('\n');
        }
        return verb_flush();
}

int verb_diff(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = { { 0 } };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *s1 = NULL, *r1 = NULL, *s2 = NULL, *r2 = NULL, *path = NULL;
        const char *pos[3];
        size_t n = 0;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("diff: %s", a.error);
                if (n == 3)
                        return verb_usage("diff takes SNAP1 SNAP2 [PATH]");
                pos[n++] = a.value;
        }
        if (n < 2)
                return verb_usage("diff needs two snapshots: SNAP1 SNAP2 [PATH]");
        if (args_split_snap(pos[0], &s1, &r1) < 0 || args_split_snap(pos[1], &s2, &r2) < 0)
                return verb_usage("diff: a snapshot is a hex id prefix or \"latest\"");
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        /* the path context, for "latest" among several roots */
        if (n == 3) {
                path = verb_path_arg(pos[2], "diff:");
                if (!path)
                        return EXIT_USAGE;
        } else if (r1 || r2) {
                ex = verb_snap_path(c, r1 ? s1 : s2, r1 ?: r2, &path);
                if (ex != EXIT_OK)
                        return ex;
        }
        struct msg *m = verb_request(c, CTL_TYPE_DIFF);
        if (!m)
                return EXIT_FAILED;
        k = ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, s1);
        if (k >= 0)
                k = ctl_msg_set_text(m, CTL_KEY_OTHER, s2);
        if (k >= 0 && path)
                k = ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path));
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        json_t *arr = json_array();
        struct client_handlers h = { .data = diff_data, .userdata = arr };
        if (!arr) {
                msg_free(m);
                return verb_fail("out of memory");
        }
        ex = verb_call(c, m, &h, &reply);
        if (ex == EXIT_OK && diff_collect(arr, reply) < 0)
                ex = verb_fail("malformed reply from chuted: bad entries");
        if (ex != EXIT_OK) {
                json_decref(arr);
                return ex;
        }
        if (c->json)
                return verb_json(arr);
        ex = diff_text(arr);
        json_decref(arr);
        return ex;
}
