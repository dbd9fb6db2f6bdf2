/* SPDX-License-Identifier: MIT */
/* chutectl forget: remove one snapshot, or apply a retention policy to a
 * root (the --keep-* options, else chuted's [retention]); --dry-run only
 * lists what would go. Prints the removed snapshots as a table, or
 * {"removed": N, "snapshots": [...]} with --json. */
#include "verb.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

enum {
        OPT_ROOT = 1,
        OPT_DRY_RUN,
        OPT_KEEP_LAST,
        OPT_KEEP_HOURLY,
        OPT_KEEP_DAILY,
        OPT_KEEP_WEEKLY,
        OPT_KEEP_MONTHLY,
        OPT_KEEP_YEARLY,
        OPT_KEEP_WITHIN,
};

/* What chutectl sends for "unlimited" (chuted reads >= 2^31 as unlimited). */
#define KEEP_UNLIMITED_WIRE UINT64_C(0xffffffff)

/* N >= 0, or "unlimited" / -1. */
static int keep_count(const char *option, const char *value, uint64_t *ret)
{
        char *end;

        if (!strcmp(value, "unlimited") || !strcmp(value, "-1")) {
                *ret = KEEP_UNLIMITED_WIRE;
                return EXIT_OK;
        }
        if (value[0] < '0' || value[0] > '9')
                return verb_usage("forget: --%s needs a count (N >= 0, or unlimited), not \"%s\"", option,
                                  value);
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (*end || errno || v > INT_MAX)
                return verb_usage("forget: --%s needs a count (N >= 0, or unlimited), not \"%s\"", option,
                                  value);
        *ret = v;
        return EXIT_OK;
}

static int forget_text(struct msg *reply, bool dry_run)
{
        static const char *const headers[] = { "ID", "TIME", "ROOT", "FILES", "SIZE" };
        static const enum output_align align[] = { OUTPUT_LEFT, OUTPUT_LEFT, OUTPUT_LEFT, OUTPUT_RIGHT,
                                                   OUTPUT_RIGHT };
        struct msg_map body = msg_body(reply), item;
        struct output_table t;
        uint64_t removed = verb_uint(&body, CTL_KEY_REMOVED, 0);
        size_t n = 0;
        int ex = EXIT_OK;

        msg_map_get_count(&body, CTL_KEY_SNAPSHOTS, &n);
        output_table_init(&t, 5, headers, align);
        for (size_t i = 0; i < n && ex == EXIT_OK; i++) {
                char id[13], when[OUTPUT_TIME_MAX] = "?", files[24], size[OUTPUT_SIZE_MAX];
                int64_t ns;
                if (msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, i, &item) < 0)
                        continue;
                _cleanup_free_ char *root = verb_dup_bytes(&item, CTL_KEY_ROOT);
                verb_hex(&item, CTL_KEY_ID, 12, id, sizeof(id));
                if (msg_map_get_int(&item, CTL_KEY_TIME, &ns) >= 0)
                        output_time_local(ns, when);
                snprintf(files, sizeof(files), "%" PRIu64, verb_uint(&item, CTL_KEY_FILES, 0));
                const char *cells[] = { id, when, root, files,
                                        output_size(verb_uint(&item, CTL_KEY_BYTES, 0), size) };
                if (output_table_add(&t, cells) < 0)
                        ex = verb_fail("out of memory");
        }
        if (ex == EXIT_OK && n > 0)
                output_table_print(&t, stdout);
        output_table_done(&t);
        if (ex != EXIT_OK)
                return ex;
        if (removed > n)
                printf("(%" PRIu64 " more not listed)\n", removed - n);
        if (dry_run)
                printf("Would remove %" PRIu64 " snapshot%s.\n", removed, removed == 1 ? "" : "s");
        else
                printf("Removed %" PRIu64 " snapshot%s.%s\n", removed, removed == 1 ? "" : "s",
                       removed ? " Their data stays stored until a prune." : "");
        return verb_flush();
}

static int forget_json(struct msg *reply, bool dry_run)
{
        struct msg_map body = msg_body(reply), item;
        json_t *doc = json_object(), *arr = json_array();
        size_t n = 0;

        if (!doc || !arr) {
                json_decref(doc);
                json_decref(arr);
                return verb_fail("out of memory");
        }
        msg_map_get_count(&body, CTL_KEY_SNAPSHOTS, &n);
        for (size_t i = 0; i < n; i++)
                if (msg_map_get_map_at(&body, CTL_KEY_SNAPSHOTS, i, &item) >= 0)
                        json_array_append_new(arr, verb_snapshot_json(&item));
        json_object_set_new(doc, "removed", verb_json_uint(&body, CTL_KEY_REMOVED));
        json_object_set_new(doc, "dry_run", json_boolean(dry_run));
        json_object_set_new(doc, "snapshots", arr);
        return verb_json(doc);
}

int verb_forget(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "root", 'r', true, OPT_ROOT },
                { "dry-run", 'n', false, OPT_DRY_RUN },
                { "keep-last", 0, true, OPT_KEEP_LAST },
                { "keep-hourly", 0, true, OPT_KEEP_HOURLY },
                { "keep-daily", 0, true, OPT_KEEP_DAILY },
                { "keep-weekly", 0, true, OPT_KEEP_WEEKLY },
                { "keep-monthly", 0, true, OPT_KEEP_MONTHLY },
                { "keep-yearly", 0, true, OPT_KEEP_YEARLY },
                { "keep-within", 0, true, OPT_KEEP_WITHIN },
                { 0 },
        };
        static const struct {
                int opt;
                enum ctl_key key;
                const char *name;
        } counts[] = {
                { OPT_KEEP_LAST, CTL_KEY_KEEP_LAST, "keep-last" },
                { OPT_KEEP_HOURLY, CTL_KEY_KEEP_HOURLY, "keep-hourly" },
                { OPT_KEEP_DAILY, CTL_KEY_KEEP_DAILY, "keep-daily" },
                { OPT_KEEP_WEEKLY, CTL_KEY_KEEP_WEEKLY, "keep-weekly" },
                { OPT_KEEP_MONTHLY, CTL_KEY_KEEP_MONTHLY, "keep-monthly" },
                { OPT_KEEP_YEARLY, CTL_KEY_KEEP_YEARLY, "keep-yearly" },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *root = NULL;
        const char *snap = NULL, *within = NULL;
        uint64_t values[ELEMENTSOF(counts)];
        bool set[ELEMENTSOF(counts)] = { false }, dry_run = false, any_keep = false;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("forget: %s", a.error);
                if (k == ARGS_POSITIONAL) {
                        if (snap)
                                return verb_usage("forget takes at most one SNAP");
                        snap = a.value;
                } else if (k == OPT_ROOT) {
                        free(root);
                        root = verb_path_arg(a.value, "forget: --root");
                        if (!root)
                                return EXIT_USAGE;
                } else if (k == OPT_DRY_RUN) {
                        dry_run = true;
                } else if (k == OPT_KEEP_WITHIN) {
                        uint64_t ns;
                        if (parse_duration_ns(a.value, &ns) < 0)
                                return verb_usage("forget: --keep-within needs a duration (90m, 36h, 7d), not \"%s\"",
                                                  a.value);
                        within = a.value;
                        any_keep = true;
                } else {
                        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                                if (counts[i].opt != k)
                                        continue;
                                ex = keep_count(counts[i].name, a.value, &values[i]);
                                if (ex != EXIT_OK)
                                        return ex;
                                set[i] = any_keep = true;
                        }
                }
        }
        if (snap && any_keep)
                return verb_usage("forget takes either SNAP or --keep-* options, not both");
        if (snap && !args_snap_valid(snap))
                return verb_usage("forget: \"%s\" is not a snapshot (a hex id prefix or \"latest\")", snap);

        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_FORGET);
        if (!m)
                return EXIT_FAILED;
        k = 0;
        if (snap) {
                _cleanup_free_ char *lower = strdup(snap);
                if (!lower)
                        k = -ENOMEM;
                for (char *p = lower; p && *p; p++)
                        if (*p >= 'A' && *p <= 'F')
                                *p = (char)(*p - 'A' + 'a');
                if (k >= 0)
                        k = ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, lower);
        }
        if (k >= 0 && root)
                k = ctl_msg_set_bytes(m, CTL_KEY_PATH, root, strlen(root));
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(counts); i++)
                if (set[i])
                        k = ctl_msg_set_uint(m, counts[i].key, values[i]);
        if (k >= 0 && within)
                k = ctl_msg_set_text(m, CTL_KEY_KEEP_WITHIN, within);
        if (k >= 0 && dry_run)
                k = ctl_msg_set_bool(m, CTL_KEY_DRY_RUN, true);
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        return c->json ? forget_json(reply, dry_run) : forget_text(reply, dry_run);
}
