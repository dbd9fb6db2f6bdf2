/* SPDX-License-Identifier: MIT */
/* chutectl recover STORE: rebuild this node (after key import) from the
 * packs one store holds; progress on stderr while it runs (on a terminal). */
#include "verb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int verb_recover(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *store = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, NULL)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("recover: %s", a.error);
                if (store)
                        return verb_usage("recover takes one STORE");
                store = a.value;
        }
        if (!store)
                return verb_usage("recover needs a STORE (a peer's name, see chutectl stores)");
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_RECOVER);
        if (!m)
                return EXIT_FAILED;
        if (ctl_msg_set_text(m, CTL_KEY_STORE, store) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply);
        uint64_t packs = verb_uint(&body, CTL_KEY_PACKS, 0), objects = verb_uint(&body, CTL_KEY_OBJECTS, 0),
                 snapshots = verb_uint(&body, CTL_KEY_SNAPSHOT_COUNT, 0),
                 undeleted = verb_uint(&body, CTL_KEY_UNDELETED, 0), errors = verb_uint(&body, CTL_KEY_ERRORS, 0),
                 forgotten = verb_uint(&body, CTL_KEY_FORGOTTEN, 0);
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "packs", json_integer((json_int_t)packs));
                        json_object_set_new(o, "objects", json_integer((json_int_t)objects));
                        json_object_set_new(o, "snapshots", json_integer((json_int_t)snapshots));
                        json_object_set_new(o, "undeleted", json_integer((json_int_t)undeleted));
                        json_object_set_new(o, "forgotten", json_integer((json_int_t)forgotten));
                        json_object_set_new(o, "errors", json_integer((json_int_t)errors));
                }
                ex = verb_json(o);
        } else {
                printf("Recovered %" PRIu64 " snapshots, %" PRIu64 " objects in %" PRIu64 " packs from %s\n",
                       snapshots, objects, packs, store);
                if (undeleted)
                        printf("%" PRIu64 " packs marked deleted on %s were undeleted\n", undeleted, store);
                if (forgotten)
                        printf("%" PRIu64 " forgotten snapshots stay forgotten (tombstones)\n", forgotten);
                ex = verb_flush();
        }
        if (ex == EXIT_OK && errors)
                ex = verb_fail("%" PRIu64 " packs, snapshots or tombstones could not be read (see chuted's log)", errors);
        return ex;
}
