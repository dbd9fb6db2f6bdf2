/* SPDX-License-Identifier: MIT */
/* chutectl add, remove and paths: the watched roots and their exclude
 * patterns. Paths are sent absolute, as raw bytes. */
#include "verb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_EXCLUDE = 1 };

int verb_add(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "exclude", 'e', true, OPT_EXCLUDE },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ const char **excludes = calloc((size_t)argc, sizeof(*excludes));
        const char *arg = NULL;
        size_t n_ex = 0;
        struct args a;
        int k, ex;

        if (!excludes)
                return verb_fail("out of memory");
        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("add: %s", a.error);
                if (k == OPT_EXCLUDE) {
                        if (!*a.value || strchr(a.value, '\n'))
                                return verb_usage("add: an exclude pattern is one non-empty line");
                        excludes[n_ex++] = a.value;
                } else if (arg) {
                        return verb_usage("add takes one PATH (and --exclude PATTERN options)");
                } else {
                        arg = a.value;
                }
        }
        if (!arg)
                return verb_usage("add needs a PATH to watch");
        path = verb_path_arg(arg, "add:");
        if (!path)
                return EXIT_USAGE;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_ADD);
        if (!m)
                return EXIT_FAILED;
        k = ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path));
        for (size_t i = 0; i < n_ex && k >= 0; i++)
                k = ctl_msg_append_text(m, CTL_KEY_EXCLUDES, excludes[i]);
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request: %s", strerror(-k));
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        /* the daemon answers with the path it resolved (symlinks followed) */
        struct msg_map body = msg_body(reply), item;
        _cleanup_free_ char *real = NULL;
        if (msg_map_get_map_at(&body, CTL_KEY_ROOTS, 0, &item) >= 0)
                real = verb_dup_bytes(&item, CTL_KEY_PATH);
        if (!real || !*real) {
                free(real);
                real = TAKE_PTR(path);
        }
        if (c->json) {
                json_t *o = json_object();
                if (o)
                        json_object_set_new(o, "path", output_json_bytes(real, strlen(real)));
                return verb_json(o);
        }
        printf("Watching %s\n", real);
        return verb_flush();
}

int verb_remove(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = { { 0 } };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const char *arg = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("remove: %s", a.error);
                if (arg)
                        return verb_usage("remove takes one PATH");
                arg = a.value;
        }
        if (!arg)
                return verb_usage("remove needs the PATH to stop watching");
        path = verb_path_arg(arg, "remove:");
        if (!path)
                return EXIT_USAGE;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_REMOVE);
        if (m && ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path)) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) {
                json_t *o = json_object();
                if (o)
                        json_object_set_new(o, "path", output_json_bytes(path, strlen(path)));
                return verb_json(o);
        }
        printf("No longer watching %s (its snapshots are kept)\n", path);
        return verb_flush();
}

static json_t *paths_json(struct msg *reply)
{
        struct msg_map body = msg_body(reply), item;
        json_t *arr = json_array();
        size_t n = 0;

        if (!arr)
                return NULL;
        msg_map_get_count(&body, CTL_KEY_ROOTS, &n);
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_object(), *ex = json_array();
                size_t n_ex = 0;
                if (!o || !ex || msg_map_get_map_at(&body, CTL_KEY_ROOTS, i, &item) < 0) {
                        json_decref(o);
                        json_decref(ex);
                        continue;
                }
                msg_map_get_count(&item, CTL_KEY_EXCLUDES, &n_ex);
                for (size_t j = 0; j < n_ex; j++) {
                        const char *p;
                        size_t len;
                        if (msg_map_get_text_at(&item, CTL_KEY_EXCLUDES, j, &p, &len) >= 0)
                                json_array_append_new(ex, output_json_bytes(p, len));
                }
                json_object_set_new(o, "path", verb_json_str(&item, CTL_KEY_PATH));
                json_object_set_new(o, "state", verb_json_str(&item, CTL_KEY_STATE));
                json_object_set_new(o, "excludes", ex);
                json_object_set_new(o, "last_snapshot", verb_json_time(&item, CTL_KEY_TIME));
                json_array_append_new(arr, o);
        }
        return arr;
}

/* One root per line, exactly as the path, then its exclude patterns indented. */
static int paths_text(struct msg *reply)
{
        struct msg_map body = msg_body(reply), item;
        size_t n = 0;

        msg_map_get_count(&body, CTL_KEY_ROOTS, &n);
        for (size_t i = 0; i < n; i++) {
                const uint8_t *p;
                size_t len, n_ex = 0;
                if (msg_map_get_map_at(&body, CTL_KEY_ROOTS, i, &item) < 0 ||
                    msg_map_get_bytes(&item, CTL_KEY_PATH, &p, &len) < 0)
                        continue;
                fwrite(p, 1, len, stdout);
                putchar('\n');
                msg_map_get_count(&item, CTL_KEY_EXCLUDES, &n_ex);
                for (size_t j = 0; j < n_ex; j++) {
                        const char *t;
                        size_t tl;
                        if (msg_map_get_text_at(&item, CTL_KEY_EXCLUDES, j, &t, &tl) >= 0)
                                printf("    exclude %.*s\n", (int)tl, t);
                }
        }
        if (n == 0 && isatty(STDOUT_FILENO))
                fputs("Nothing is watched yet: chutectl add PATH\n", stderr);
        return verb_flush();
}

int verb_paths(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        int ex = verb_no_args(argc, argv);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_call(c, verb_request(c, CTL_TYPE_PATHS), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        return c->json ? verb_json(paths_json(reply)) : paths_text(reply);
}
