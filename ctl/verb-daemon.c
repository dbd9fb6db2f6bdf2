/* SPDX-License-Identifier: MIT */
/* chutectl log-level (show or set chuted's) and version (chutectl's, and
 * chuted's when it can be reached). */
#include "verb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int verb_log_level(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = { { 0 } };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *level = NULL;
        const char *arg = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("log-level: %s", a.error);
                if (arg)
                        return verb_usage("log-level takes at most one LEVEL");
                arg = a.value;
        }
        if (arg && parse_log_level(arg) < 0)
                return verb_usage("log-level: unknown level \"%s\" (err, warning, notice, info, debug)",
                                  arg);
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_LOG_LEVEL);
        if (m && arg && ctl_msg_set_text(m, CTL_KEY_LEVEL, arg) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply);
        level = verb_dup_bytes(&body, CTL_KEY_LEVEL);
        if (c->json) {
                json_t *o = json_object();
                if (o)
                        json_object_set_new(o, "level", verb_json_str(&body, CTL_KEY_LEVEL));
                return verb_json(o);
        }
        printf("%s\n", level ?: "?");
        return verb_flush();
}

int verb_version(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *daemon_version = NULL;
        uint64_t protocol = CTL_PROTOCOL_VERSION;
        bool reachable;
        int ex = verb_no_args(argc, argv);

        if (ex != EXIT_OK)
                return ex;
        reachable = verb_connect(c, true) == EXIT_OK;
        if (reachable) {
                ex = verb_call(c, verb_request(c, CTL_TYPE_VERSION), NULL, &reply);
                if (ex != EXIT_OK)
                        return ex;
                struct msg_map body = msg_body(reply);
                daemon_version = verb_dup_bytes(&body, CTL_KEY_VERSION);
                protocol = verb_uint(&body, CTL_KEY_PROTOCOL, msg_version(reply));
        }
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_t *d = daemon_version ? json_string(daemon_version) : json_null();
                        json_object_set_new(o, "chutectl", json_string(PACKAGE_VERSION));
                        json_object_set_new(o, "chuted", d);
                        /* the same as "chuted", named as in status */
                        json_object_set_new(o, "version", json_incref(d));
                        json_object_set_new(o, "protocol", json_integer((json_int_t)protocol));
                }
                return verb_json(o);
        }
        printf("chutectl %s (control protocol %d)\n", PACKAGE_VERSION, CTL_PROTOCOL_VERSION);
        if (reachable)
                printf("chuted %s (control protocol %llu) at %s\n", daemon_version ?: "?",
                       (unsigned long long)protocol, c->socket_path);
        else
                printf("chuted: not reachable at %s\n", c->socket_path);
        return verb_flush();
}
