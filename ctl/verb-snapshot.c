/* SPDX-License-Identifier: MIT */
/* chutectl snapshot (take one now and wait for it) and snapshots (the
 * list, gathered from DATA messages as they come, as a table or a JSON
 * array of snapshot objects). */
#include "verb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_ROOT = 1 };

/* Optional single PATH argument (snapshot) or --root PATH (snapshots). */
static int one_path(int argc, char **argv, bool as_option, char **ret)
{
        static const struct args_option root_opts[] = { { "root", 'r', true, OPT_ROOT }, { 0 } };
        static const struct args_option no_opts[] = { { 0 } };
        const char *arg = NULL;
        struct args a;
        int k;

        *ret = NULL;
        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, as_option ? root_opts : no_opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("%s: %s", argv[0], a.error);
                if (k == ARGS_POSITIONAL && as_option)
                        return verb_usage("%s takes no arguments but --root PATH", argv[0]);
                if (arg)
                        return verb_usage("%s takes one PATH", argv[0]);
                arg = a.value;
        }
        if (arg) {
                *ret = verb_path_arg(arg, argv[0]);
                if (!*ret)
                        return EXIT_USAGE;
        }
        return EXIT_OK;
}

static struct msg *path_request(struct verb_context *c, enum ctl_type type, const char *path)
{
        struct msg *m = verb_request(c, type);

        if (m && path && ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path)) < 0) {
                msg_free(m);
                verb_fail("cannot build the request");
                return NULL;
        }
        return m;
}

int verb_snapshot(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *path = NULL;
        struct msg_map body, item;
        char hex[65];
        int ex = one_path(argc, argv, false, &path);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_call(c, path_request(c, CTL_TYPE_SNAPSHOT, path), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        body = msg_body(reply);
        if (msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, 0, &item) < 0)
                return verb_fail("malformed reply from chuted: no snapshot in the answer");
        verb_hex(&item, CTL_KEY_ID, 64, hex, sizeof(hex));
        if (!*hex)
                return verb_fail("malformed reply from chuted: the snapshot has no id");
        if (c->json)
                return verb_json(verb_snapshot_json(&item));
        printf("%s\n", hex);
        ex = verb_flush();
        uint64_t errors = verb_uint(&item, CTL_KEY_ERRORS, 0);
        if (errors)
                fprintf(stderr, "chutectl: %" PRIu64 " files could not be read (see chuted's log)\n",
                        errors);
        return ex;
}

/* The snapshots list as it arrives: DATA messages with SNAPSHOTS maps, then
 * a RESULT (which may carry some too). Rows go straight into the JSON
 * array or the text table, so no message has to be kept. */
struct snapshots_state {
        json_t *json; /* --json */
        struct output_table table;
        size_t n;
};

static int snapshots_row(struct snapshots_state *s, const struct msg_map *item)
{
        char id[13], when[OUTPUT_TIME_MAX] = "?", files[24], size[OUTPUT_SIZE_MAX], fresh[OUTPUT_SIZE_MAX];
        int64_t ns;

        s->n++;
        if (s->json)
                return json_array_append_new(s->json, verb_snapshot_json(item)) < 0 ? -ENOMEM : 0;
        _cleanup_free_ char *root = verb_dup_bytes(item, CTL_KEY_ROOT);
        verb_hex(item, CTL_KEY_ID, 12, id, sizeof(id));
        if (msg_map_get_int(item, CTL_KEY_TIME, &ns) >= 0)
                output_time_local(ns, when);
        snprintf(files, sizeof(files), "%" PRIu64, verb_uint(item, CTL_KEY_FILES, 0));
        const char *cells[] = { id, when, root, files, output_size(verb_uint(item, CTL_KEY_BYTES, 0), size),
                                output_size(verb_uint(item, CTL_KEY_NEW_BYTES, 0), fresh) };
        return output_table_add(&s->table, cells);
}

/* Every SNAPSHOTS map of m's body; -EBADMSG when the key holds something else. */
static int snapshots_collect(struct snapshots_state *s, struct msg *m)
{
        struct msg_map body = msg_body(m), item;
        size_t n = 0;

        if (msg_map_get_count(&body, CTL_KEY_SNAPSHOTS, &n) == -EBADMSG)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, i, &item) < 0)
                        return -EBADMSG;
                int k = snapshots_row(s, &item);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int snapshots_data(struct msg *m, void *userdata)
{
        struct msg_map body = msg_body(m);
        size_t n;

        if (msg_map_get_count(&body, CTL_KEY_SNAPSHOTS, &n) < 0)
                return -EBADMSG; /* a DATA of this list carries snapshots */
        return snapshots_collect(userdata, m);
}

int verb_snapshots(struct verb_context *c, int argc, char **argv)
{
        static const char *const headers[] = { "ID", "TIME", "ROOT", "FILES", "SIZE", "NEW" };
        static const enum output_align align[] = { OUTPUT_LEFT,  OUTPUT_LEFT,  OUTPUT_LEFT,
                                                   OUTPUT_RIGHT, OUTPUT_RIGHT, OUTPUT_RIGHT };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *path = NULL;
        struct snapshots_state s = { 0 };
        struct client_handlers h = { .data = snapshots_data, .userdata = &s };
        int ex = one_path(argc, argv, true, &path);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        output_table_init(&s.table, 6, headers, align);
        if (c->json && !(s.json = json_array())) {
                output_table_done(&s.table);
                return verb_fail("out of memory");
        }
        ex = verb_call(c, path_request(c, CTL_TYPE_SNAPSHOTS, path), &h, &reply);
        if (ex == EXIT_OK) {
                int k = snapshots_collect(&s, reply);
                if (k < 0)
                        ex = verb_fail(k == -ENOMEM ? "out of memory" : "malformed reply from chuted");
        }
        if (ex == EXIT_OK && s.json) {
                ex = verb_json(s.json); /* takes it */
                s.json = NULL;
        } else if (ex == EXIT_OK) {
                if (s.n > 0)
                        output_table_print(&s.table, stdout);
                else
                        fputs("No snapshots yet.\n", stdout);
                ex = verb_flush();
        }
        json_decref(s.json);
        output_table_done(&s.table);
        return ex;
}
