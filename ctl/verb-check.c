/* SPDX-License-Identifier: MIT */
/* chutectl check [--read-data | --read-data-subset N/T|P%] [--repair]: have
 * the daemon check this node's repository (a VERIFY request without a
 * store) and print each damaged pack and the snapshot paths it reaches
 * (those stream in DATA as the daemon finds them). Exit status 1 when
 * damage remains. */
#include "verb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check-subset.h"

enum { OPT_READ_DATA = 1, OPT_SUBSET, OPT_REPAIR };

static json_t *damaged_json(const struct msg_map *d)
{
        json_t *o = json_object();
        bool repaired = false;
        char hex[65];

        if (!o)
                return NULL;
        verb_hex(d, CTL_KEY_PACK, 64, hex, sizeof(hex));
        msg_map_get_bool(d, CTL_KEY_REPAIRED, &repaired);
        json_object_set_new(o, "pack", json_string(hex));
        json_object_set_new(o, "state", verb_json_str(d, CTL_KEY_STATE));
        json_object_set_new(o, "store", verb_json_str(d, CTL_KEY_STORE));
        json_object_set_new(o, "message", verb_json_str(d, CTL_KEY_MESSAGE));
        json_object_set_new(o, "repaired", json_boolean(repaired));
        return o;
}

static json_t *affected_json(const struct msg_map *a)
{
        json_t *o = json_object();
        char snap[65], pack[65];

        if (!o)
                return NULL;
        verb_hex(a, CTL_KEY_ID, 64, snap, sizeof(snap));
        verb_hex(a, CTL_KEY_PACK, 64, pack, sizeof(pack));
        json_object_set_new(o, "snapshot", json_string(snap));
        json_object_set_new(o, "path", verb_json_str(a, CTL_KEY_PATH));
        json_object_set_new(o, "pack", pack[0] ? json_string(pack) : json_null());
        return o;
}

/* The affected paths of a DATA message (or the RESULT), as they come. */
struct check_out {
        bool json;
        json_t *affected;
};

static int affected_take(const struct msg_map *body, struct check_out *o)
{
        size_t n = 0;

        msg_map_get_count(body, CTL_KEY_AFFECTED, &n);
        for (size_t i = 0; i < n; i++) {
                struct msg_map a;
                char snap[13], pack[13];

                if (msg_map_get_map_at(body, CTL_KEY_AFFECTED, i, &a) < 0)
                        continue;
                if (o->json) {
                        if (o->affected && json_array_append_new(o->affected, affected_json(&a)) < 0)
                                return -ENOMEM;
                        continue;
                }
                _cleanup_free_ char *path = verb_dup_bytes(&a, CTL_KEY_PATH);
                verb_hex(&a, CTL_KEY_ID, 12, snap, sizeof(snap));
                verb_hex(&a, CTL_KEY_PACK, 12, pack, sizeof(pack));
                printf("lost: snapshot %s %s (%s%s)\n", snap, path ? path : "",
                       pack[0] ? "pack " : "not indexed", pack);
        }
        return 0;
}

static int check_data(struct msg *m, void *userdata)
{
        struct msg_map body = msg_body(m);

        return affected_take(&body, userdata);
}

static void print_text(const struct msg_map *body, bool read_data)
{
        uint64_t packs = verb_uint(body, CTL_KEY_PACKS, 0), affected = verb_uint(body, CTL_KEY_AFFECTED_PATHS, 0);
        size_t n = 0;

        printf("Checked %" PRIu64 " packs", packs);
        if (read_data)
                printf(" (%" PRIu64 " read here, %" PRIu64 " proved on stores)",
                       verb_uint(body, CTL_KEY_PACKS_READ, 0), verb_uint(body, CTL_KEY_PACKS_PROVED, 0));
        printf(" and %" PRIu64 " snapshots\n", verb_uint(body, CTL_KEY_SNAPSHOT_COUNT, 0));
        msg_map_get_count(body, CTL_KEY_DAMAGED, &n);
        for (size_t i = 0; i < n; i++) {
                struct msg_map d;
                bool repaired = false;
                char hex[65];

                if (msg_map_get_map_at(body, CTL_KEY_DAMAGED, i, &d) < 0)
                        continue;
                verb_hex(&d, CTL_KEY_PACK, 64, hex, sizeof(hex));
                _cleanup_free_ char *state = verb_dup_bytes(&d, CTL_KEY_STATE);
                _cleanup_free_ char *message = verb_dup_bytes(&d, CTL_KEY_MESSAGE);
                _cleanup_free_ char *store = verb_dup_bytes(&d, CTL_KEY_STORE);
                msg_map_get_bool(&d, CTL_KEY_REPAIRED, &repaired);
                bool remote = store && *store;
                printf("pack %s %s%s%s: %s%s\n", hex, state ? state : "", remote ? " on store " : " here",
                       remote ? store : "", message ? message : "",
                       repaired ? (remote ? " (deleted there, uploading again)" : " (repaired)") : "");
        }
        if (verb_uint(body, CTL_KEY_MISSING_OBJECTS, 0))
                printf("%" PRIu64 " referenced objects are not in the index (chutectl reindex may find them)\n",
                       verb_uint(body, CTL_KEY_MISSING_OBJECTS, 0));
        if (verb_uint(body, CTL_KEY_ORPHAN_OBJECTS, 0))
                printf("%" PRIu64 " object rows name a pack the index does not have (chutectl reindex rebuilds them)\n",
                       verb_uint(body, CTL_KEY_ORPHAN_OBJECTS, 0));
        if (verb_uint(body, CTL_KEY_REPAIRED_PACKS, 0))
                printf("%" PRIu64 " packs repaired\n", verb_uint(body, CTL_KEY_REPAIRED_PACKS, 0));
        if (affected)
                printf("%" PRIu64 " paths in %" PRIu64 " snapshots cannot be restored\n", affected,
                       verb_uint(body, CTL_KEY_AFFECTED_SNAPSHOTS, 0));
        if (verb_uint(body, CTL_KEY_PENDING, 0))
                printf("%" PRIu64 " challenges were not answered by a store\n", verb_uint(body, CTL_KEY_PENDING, 0));
}

int verb_check(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "read-data", 0, false, OPT_READ_DATA },
                { "read-data-subset", 0, true, OPT_SUBSET },
                { "repair", 0, false, OPT_REPAIR },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *subset = NULL;
        bool read_data = false, repair = false;
        struct check_subset parsed;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("check: %s", a.error);
                if (k == OPT_READ_DATA)
                        read_data = true;
                else if (k == OPT_REPAIR)
                        repair = true;
                else if (k == OPT_SUBSET)
                        subset = a.value;
                else
                        return verb_usage("check takes no arguments besides its options");
        }
        if (subset && check_subset_parse(subset, &parsed) < 0)
                return verb_usage("check: --read-data-subset takes N/T (1 <= N <= T) or P%% (0 < P <= 100), "
                                  "not \"%s\"", subset);
        if (subset && read_data)
                return verb_usage("check: --read-data reads every pack; give it or --read-data-subset");
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_VERIFY);
        if (!m)
                return EXIT_FAILED;
        k = 0;
        if (read_data)
                k = ctl_msg_set_bool(m, CTL_KEY_READ_DATA, true);
        if (k >= 0 && subset)
                k = ctl_msg_set_text(m, CTL_KEY_READ_SUBSET, subset);
        if (k >= 0 && repair)
                k = ctl_msg_set_bool(m, CTL_KEY_REPAIR, true);
        if (k < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        struct check_out out = { .json = c->json, .affected = c->json ? json_array() : NULL };
        struct client_handlers h = { .data = check_data, .userdata = &out };
        ex = verb_call(c, m, &h, &reply);
        if (ex != EXIT_OK) {
                json_decref(out.affected);
                return ex;
        }
        struct msg_map body = msg_body(reply);
        affected_take(&body, &out);
        uint64_t errors = verb_uint(&body, CTL_KEY_ERRORS, 0), repaired = verb_uint(&body, CTL_KEY_REPAIRED_PACKS, 0),
                 affected = verb_uint(&body, CTL_KEY_AFFECTED_PATHS, 0);
        bool ok = errors <= repaired && affected == 0;
        if (c->json) {
                json_t *o = json_object(), *dam = json_array(), *aff = out.affected;
                size_t n = 0;
                msg_map_get_count(&body, CTL_KEY_DAMAGED, &n);
                for (size_t i = 0; i < n && dam; i++) {
                        struct msg_map d;
                        if (msg_map_get_map_at(&body, CTL_KEY_DAMAGED, i, &d) >= 0)
                                json_array_append_new(dam, damaged_json(&d));
                }
                if (o) {
                        json_object_set_new(o, "ok", json_boolean(ok));
                        json_object_set_new(o, "packs", verb_json_uint(&body, CTL_KEY_PACKS));
                        json_object_set_new(o, "packs_read", verb_json_uint(&body, CTL_KEY_PACKS_READ));
                        json_object_set_new(o, "packs_proved", verb_json_uint(&body, CTL_KEY_PACKS_PROVED));
                        json_object_set_new(o, "snapshots", verb_json_uint(&body, CTL_KEY_SNAPSHOT_COUNT));
                        json_object_set_new(o, "errors", verb_json_uint(&body, CTL_KEY_ERRORS));
                        json_object_set_new(o, "unanswered", verb_json_uint(&body, CTL_KEY_PENDING));
                        json_object_set_new(o, "missing_objects", verb_json_uint(&body, CTL_KEY_MISSING_OBJECTS));
                        json_object_set_new(o, "orphan_objects", verb_json_uint(&body, CTL_KEY_ORPHAN_OBJECTS));
                        json_object_set_new(o, "repaired_packs", verb_json_uint(&body, CTL_KEY_REPAIRED_PACKS));
                        json_object_set_new(o, "affected_paths", verb_json_uint(&body, CTL_KEY_AFFECTED_PATHS));
                        json_object_set_new(o, "affected_snapshots",
                                            verb_json_uint(&body, CTL_KEY_AFFECTED_SNAPSHOTS));
                        json_object_set_new(o, "damaged", dam ? dam : json_null());
                        json_object_set_new(o, "affected", aff ? aff : json_null());
                } else {
                        json_decref(dam);
                        json_decref(aff);
                }
                ex = verb_json(o);
        } else {
                print_text(&body, read_data || subset);
                if (ok)
                        printf("no errors were found\n");
                ex = verb_flush();
        }
        return ex == EXIT_OK && !ok ? EXIT_FAILED : ex;
}
