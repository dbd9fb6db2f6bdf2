/* SPDX-License-Identifier: MIT */
/* chutectl ls: the entries of a directory (or one file) in a snapshot,
 * gathered from the DATA messages and the final RESULT, printed like
 * "ls -l" or as a JSON array. */
#include "verb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_RECURSIVE = 1 };

struct ls_state {
        json_t *entries;
        bool text; /* also keep mtime as ns ("mtime_ns") for the local-time column */
};

static json_t *entry_json(const struct msg_map *e, bool text)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        json_object_set_new(o, "name", verb_json_str(e, CTL_KEY_PATH));
        json_object_set_new(o, "kind", verb_json_str(e, CTL_KEY_KIND));
        json_object_set_new(o, "size", verb_json_uint(e, CTL_KEY_SIZE));
        json_object_set_new(o, "mode", verb_json_uint(e, CTL_KEY_MODE));
        json_object_set_new(o, "mtime", verb_json_time(e, CTL_KEY_MTIME));
        json_object_set_new(o, "uid", verb_json_uint(e, CTL_KEY_UID));
        json_object_set_new(o, "gid", verb_json_uint(e, CTL_KEY_GID));
        json_object_set_new(o, "user", verb_json_str(e, CTL_KEY_USER));
        json_object_set_new(o, "group", verb_json_str(e, CTL_KEY_GROUP));
        json_object_set_new(o, "target", verb_json_str(e, CTL_KEY_LINK_TARGET));
        if (text) {
                int64_t ns;
                if (msg_map_get_int(e, CTL_KEY_MTIME, &ns) >= 0)
                        json_object_set_new(o, "mtime_ns", json_integer(ns));
        }
        return o;
}

/* Append the ENTRIES of a DATA or RESULT body. */
static int ls_collect(struct ls_state *s, struct msg *m)
{
        struct msg_map body = msg_body(m), e;
        size_t n = 0;

        if (msg_map_get_count(&body, CTL_KEY_ENTRIES, &n) == -EBADMSG)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (msg_map_get_map_at(&body, CTL_KEY_ENTRIES, i, &e) < 0)
                        return -EBADMSG;
                if (json_array_append_new(s->entries, entry_json(&e, s->text)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int ls_data(struct msg *m, void *userdata)
{
        struct msg_map body = msg_body(m);
        size_t n;

        if (msg_map_get_count(&body, CTL_KEY_ENTRIES, &n) < 0)
                return -EBADMSG; /* a DATA of a listing carries entries */
        return ls_collect(userdata, m);
}

static const char *field(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);

        return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t number(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);

        return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static int ls_text(json_t *entries)
{
        static const char *const headers[] = { "MODE", "USER", "GROUP", "SIZE", "MODIFIED", "NAME" };
        static const enum output_align align[] = { OUTPUT_LEFT,  OUTPUT_LEFT, OUTPUT_LEFT,
                                                   OUTPUT_RIGHT, OUTPUT_LEFT, OUTPUT_LEFT };
        struct output_table t;
        size_t i;
        json_t *o;
        int ex = EXIT_OK;

        output_table_init(&t, 6, headers, align);
        json_array_foreach(entries, i, o) {
                char mode[11], user[24], group[24], size[OUTPUT_SIZE_MAX], when[OUTPUT_TIME_MAX] = "?";
                _cleanup_free_ char *name = NULL;
                const char *u = field(o, "user"), *g = field(o, "group"), *target = field(o, "target");
                const char *kind = field(o, "kind");
                json_t *mt = json_object_get(o, "mtime_ns");

                snprintf(user, sizeof(user), "%" PRIu64, number(o, "uid"));
                snprintf(group, sizeof(group), "%" PRIu64, number(o, "gid"));
                if (json_is_integer(mt))
                        output_time_local(json_integer_value(mt), when);
                if (target && asprintf(&name, "%s -> %s", field(o, "name") ?: "", target) < 0)
                        name = NULL;
                const char *cells[] = { output_mode(kind, (uint32_t)number(o, "mode"), mode),
                                        u && *u ? u : user,
                                        g && *g ? g : group,
                                        output_size(number(o, "size"), size),
                                        when,
                                        name ?: field(o, "name") };
                if (output_table_add(&t, cells) < 0) {
                        ex = verb_fail("out of memory");
                        break;
                }
        }
        if (ex == EXIT_OK)
                output_table_print(&t, stdout);
        output_table_done(&t);
        return ex == EXIT_OK ? verb_flush() : ex;
}

int verb_ls(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "recursive", 'R', false, OPT_RECURSIVE },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *snap = NULL, *rel = NULL, *path = NULL;
        const char *arg = NULL;
        bool recursive = false;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("ls: %s", a.error);
                if (k == OPT_RECURSIVE)
                        recursive = true;
                else if (arg)
                        return verb_usage("ls takes one SNAP[:PATH]");
                else
                        arg = a.value;
        }
        if (!arg)
                return verb_usage("ls needs a snapshot: SNAP[:PATH], SNAP an id prefix or \"latest\"");
        if (args_split_snap(arg, &snap, &rel) < 0)
                return verb_usage("ls: \"%s\" is not SNAP[:PATH] (SNAP: a hex id prefix or \"latest\")",
                                  arg);
        ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_snap_path(c, snap, rel, &path);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_LS);
        if (!m)
                return EXIT_FAILED;
        k = ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, snap);
        if (k >= 0 && path)
                k = ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path));
        if (k >= 0 && recursive)
                k = ctl_msg_set_bool(m, CTL_KEY_RECURSIVE, true);
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        struct ls_state s = { .entries = json_array(), .text = !c->json };
        struct client_handlers h = { .data = ls_data, .userdata = &s };
        if (!s.entries) {
                msg_free(m);
                return verb_fail("out of memory");
        }
        ex = verb_call(c, m, &h, &reply);
        if (ex == EXIT_OK && ls_collect(&s, reply) < 0)
                ex = verb_fail("malformed reply from chuted: bad entries");
        if (ex != EXIT_OK) {
                json_decref(s.entries);
                return ex;
        }
        if (c->json)
                return verb_json(s.entries);
        ex = ls_text(s.entries);
        json_decref(s.entries);
        return ex;
}
