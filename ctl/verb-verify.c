/* SPDX-License-Identifier: MIT */
/* chutectl verify --store NAME: have the daemon challenge every pack that
 * store holds; bad ones are deleted there and uploaded again. Exit status 1
 * when a pack was missing or damaged, or the store did not answer. */
#include "verb.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { OPT_STORE = 1 };

int verb_verify(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "store", 's', true, OPT_STORE },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *store = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("verify: %s", a.error);
                if (k == OPT_STORE && *a.value)
                        store = a.value;
                else
                        return verb_usage("verify takes --store NAME");
        }
        if (!store)
                return verb_usage("verify needs --store NAME (chutectl stores lists them)");
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_VERIFY);
        if (m && ctl_msg_set_text(m, CTL_KEY_STORE, store) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply);
        uint64_t packs = verb_uint(&body, CTL_KEY_PACKS, 0), errors = verb_uint(&body, CTL_KEY_ERRORS, 0),
                 unanswered = verb_uint(&body, CTL_KEY_PENDING, 0);
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "store", json_string(store));
                        json_object_set_new(o, "packs", json_integer((json_int_t)packs));
                        json_object_set_new(o, "errors", json_integer((json_int_t)errors));
                        json_object_set_new(o, "unanswered", json_integer((json_int_t)unanswered));
                }
                ex = verb_json(o);
        } else {
                printf("Store %s: %" PRIu64 " packs challenged, %" PRIu64
                       " missing or damaged (deleted there and uploaded again), %" PRIu64 " unanswered\n",
                       store, packs, errors, unanswered);
                ex = verb_flush();
        }
        return ex == EXIT_OK && (errors || unanswered) ? EXIT_FAILED : ex;
}
