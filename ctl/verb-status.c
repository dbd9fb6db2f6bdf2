/* SPDX-License-Identifier: MIT */
/* chutectl status: the daemon's state, its store counters, the local copy
 * of the packs, one line per watched root and one per store (text), or the
 * status JSON object. */
#include "verb.h"

#include "ctl-json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "Local copy: ..." when the daemon says how it keeps packs. */
static void local_line(const struct msg_map *body)
{
        _cleanup_free_ char *mode = verb_dup_bytes(body, CTL_KEY_LOCAL_COPY);
        _cleanup_free_ char *error = verb_dup_bytes(body, CTL_KEY_CACHE_ERROR);
        char here[OUTPUT_SIZE_MAX], bound[OUTPUT_SIZE_MAX], away[OUTPUT_SIZE_MAX];
        uint64_t evicted = verb_uint(body, CTL_KEY_EVICTED, 0);

        if (!mode || !*mode)
                return;
        printf("Local copy: %s, %s in %" PRIu64 " packs here", mode,
               output_size(verb_uint(body, CTL_KEY_LOCAL_BYTES, 0), here), verb_uint(body, CTL_KEY_LOCAL_PACKS, 0));
        if (strcmp(mode, "cache") == 0)
                printf(" (cache_size %s)", output_size(verb_uint(body, CTL_KEY_CACHE_SIZE, 0), bound));
        if (evicted > 0)
                printf(", %" PRIu64 " packs (%s) only on stores", evicted,
                       output_size(verb_uint(body, CTL_KEY_EVICTED_BYTES, 0), away));
        putchar('\n');
        if (error && *error)
                printf("  cache error: %s\n", error);
}

/* "Prune: ..." when something is forgotten, marked or left to delete. */
static void prune_line(const struct msg_map *body)
{
        uint64_t forgotten = verb_uint(body, CTL_KEY_PRUNE_FORGOTTEN, 0);
        uint64_t condemned = verb_uint(body, CTL_KEY_CONDEMNED_PACKS, 0);
        uint64_t deletes = verb_uint(body, CTL_KEY_DELETES_QUEUED, 0);
        char when[OUTPUT_TIME_MAX] = "never", size[OUTPUT_SIZE_MAX];
        int64_t ns;

        if (forgotten == 0 && condemned == 0 && deletes == 0)
                return;
        if (msg_map_get_int(body, CTL_KEY_PRUNE_LAST, &ns) >= 0)
                output_time_local(ns, when);
        printf("Prune: last %s; %" PRIu64 " snapshots forgotten since", when, forgotten);
        if (condemned)
                printf(", %" PRIu64 " packs marked for deletion", condemned);
        if (deletes)
                printf(", %" PRIu64 " deletes (%s) queued", deletes,
                       output_size(verb_uint(body, CTL_KEY_DELETES_QUEUED_BYTES, 0), size));
        putchar('\n');
}

static int status_text(struct msg *reply)
{
        static const char *const headers[] = { "PATH", "STATE", "LAST SNAPSHOT", "PENDING", "WATCHES" };
        static const enum output_align align[] = { OUTPUT_LEFT, OUTPUT_LEFT, OUTPUT_LEFT,
                                                   OUTPUT_RIGHT, OUTPUT_RIGHT };
        struct msg_map body = msg_body(reply), item;
        _cleanup_free_ char *version = verb_dup_bytes(&body, CTL_KEY_VERSION);
        _cleanup_free_ char *state = verb_dup_bytes(&body, CTL_KEY_STATE);
        char up[OUTPUT_TIME_MAX], stored[OUTPUT_SIZE_MAX], pad[OUTPUT_SIZE_MAX];
        struct output_table t;
        size_t n = 0;
        int ex = EXIT_OK;

        printf("chuted %s: %s, up %s\n", version ?: "?", state ?: "?",
               output_duration(verb_uint(&body, CTL_KEY_UPTIME, 0), up));
        uint64_t bytes = verb_uint(&body, CTL_KEY_BYTES, 0), padding = verb_uint(&body, CTL_KEY_PADDING_BYTES, 0);
        printf("%" PRIu64 " snapshots, %" PRIu64 " objects in %" PRIu64 " packs, %s stored",
               verb_uint(&body, CTL_KEY_SNAPSHOT_COUNT, 0), verb_uint(&body, CTL_KEY_OBJECTS, 0),
               verb_uint(&body, CTL_KEY_PACKS, 0), output_size(bytes, stored));
        if (padding && bytes) /* the size classes that hide each pack's exact size */
                printf(" (padding %s, %.1f %%)", output_size(padding, pad), 100.0 * (double)padding / (double)bytes);
        printf("\n");
        local_line(&body);
        prune_line(&body);
        msg_map_get_count(&body, CTL_KEY_ROOTS, &n);
        if (n == 0) {
                printf("\nNothing is watched yet: chutectl add PATH\n");
                verb_stores_lines(&body);
                return verb_flush();
        }
        putchar('\n');
        output_table_init(&t, 5, headers, align);
        for (size_t i = 0; i < n && ex == EXIT_OK; i++) {
                char when[OUTPUT_TIME_MAX] = "never", pending[24], watches[24];
                int64_t ns;
                if (msg_map_get_map_at(&body, CTL_KEY_ROOTS, i, &item) < 0)
                        continue;
                _cleanup_free_ char *path = verb_dup_bytes(&item, CTL_KEY_PATH);
                _cleanup_free_ char *rstate = verb_dup_bytes(&item, CTL_KEY_STATE);
                if (msg_map_get_int(&item, CTL_KEY_TIME, &ns) >= 0)
                        output_time_local(ns, when);
                snprintf(pending, sizeof(pending), "%" PRIu64, verb_uint(&item, CTL_KEY_PENDING, 0));
                snprintf(watches, sizeof(watches), "%" PRIu64, verb_uint(&item, CTL_KEY_WATCHES, 0));
                const char *cells[] = { path, rstate, when, pending, watches };
                if (output_table_add(&t, cells) < 0)
                        ex = verb_fail("out of memory");
        }
        if (ex == EXIT_OK)
                output_table_print(&t, stdout);
        output_table_done(&t);
        if (ex == EXIT_OK)
                verb_stores_lines(&body);
        return ex == EXIT_OK ? verb_flush() : ex;
}

int verb_status(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        int ex = verb_no_args(argc, argv);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_call(c, verb_request(c, CTL_TYPE_STATUS), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        /* the schema's own names and forms: the same as GET /v1/status */
        return c->json ? verb_json(ctl_json_from_result(reply, CTL_TYPE_STATUS)) : status_text(reply);
}
