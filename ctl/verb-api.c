/* SPDX-License-Identifier: MIT */
/* chutectl api-token [--rotate]: print the HTTP API's bearer token, after
 * making a new one with --rotate (the old one stops working at once);
 * {"token": ...} with --json. */
#include <stdio.h>

#include "cleanup.h"
#include "ctl-json.h"
#include "verb.h"

int verb_api_token(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = { { "rotate", 0, false, 1 }, { 0 } };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        bool rotate = false;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("api-token: %s", a.error);
                if (k == ARGS_POSITIONAL)
                        return verb_usage("api-token: unexpected argument \"%s\"", a.value);
                rotate = true;
        }
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_API_TOKEN);
        if (m && rotate && ctl_msg_set_bool(m, CTL_KEY_ROTATE, true) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        msg_set_secret(reply);
        if (c->json)
                return verb_json(ctl_json_from_msg(reply));
        struct msg_map body = msg_body(reply);
        const char *token;
        size_t len;
        if (msg_map_get_text(&body, CTL_KEY_TOKEN, &token, &len) < 0)
                return verb_fail("the daemon sent no token");
        printf("%.*s\n", (int)len, token);
        return verb_flush();
}
