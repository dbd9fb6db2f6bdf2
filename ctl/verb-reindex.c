/* SPDX-License-Identifier: MIT */
/* chutectl reindex [--from STORE]: have the daemon rebuild its index from
 * the pack files alone (the local ones; in cache mode the stores' too; with
 * --from that store's listing as well). */
#include "verb.h"

#include <inttypes.h>
#include <stdio.h>

enum { OPT_FROM = 1 };

int verb_reindex(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "from", 0, true, OPT_FROM },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *from = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("reindex: %s", a.error);
                if (k == OPT_FROM && *a.value)
                        from = a.value;
                else
                        return verb_usage("reindex takes only --from STORE");
        }
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_REINDEX);
        if (m && from && ctl_msg_set_text(m, CTL_KEY_STORE, from) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply);
        uint64_t errors = verb_uint(&body, CTL_KEY_ERRORS, 0);
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "packs", verb_json_uint(&body, CTL_KEY_PACKS));
                        json_object_set_new(o, "objects", verb_json_uint(&body, CTL_KEY_OBJECTS));
                        json_object_set_new(o, "snapshots_added", verb_json_uint(&body, CTL_KEY_SNAPSHOT_COUNT));
                        json_object_set_new(o, "forgotten", verb_json_uint(&body, CTL_KEY_FORGOTTEN));
                        json_object_set_new(o, "errors", json_integer((json_int_t)errors));
                }
                ex = verb_json(o);
        } else {
                printf("Reindexed %" PRIu64 " packs, %" PRIu64 " objects; %" PRIu64 " snapshots added, %" PRIu64
                       " unreadable packs, snapshots or tombstones\n",
                       verb_uint(&body, CTL_KEY_PACKS, 0), verb_uint(&body, CTL_KEY_OBJECTS, 0),
                       verb_uint(&body, CTL_KEY_SNAPSHOT_COUNT, 0), errors);
                if (verb_uint(&body, CTL_KEY_FORGOTTEN, 0))
                        printf("%" PRIu64 " forgotten snapshots stay forgotten (tombstones)\n",
                               verb_uint(&body, CTL_KEY_FORGOTTEN, 0));
                ex = verb_flush();
        }
        return ex == EXIT_OK && errors ? EXIT_FAILED : ex;
}
