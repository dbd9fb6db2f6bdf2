/* SPDX-License-Identifier: MIT */
/* chutectl store add NAME s3 ... | store remove NAME: S3-compatible stores
 * (peers are added with `peer add`). Key file paths are made absolute here,
 * since chuted reads them from its own directory; chuted checks the files
 * (present, 0600) before it keeps the store. */
#include "verb.h"

#include "ctl-json.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
        OPT_ENDPOINT = 1,
        OPT_BUCKET,
        OPT_PREFIX,
        OPT_REGION,
        OPT_ACCESS,
        OPT_SECRET,
        OPT_VHOST,
        OPT_LOCK,
};

static int store_add(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                {"endpoint", 0, true, OPT_ENDPOINT},
                {"bucket", 0, true, OPT_BUCKET},
                {"prefix", 0, true, OPT_PREFIX},
                {"region", 0, true, OPT_REGION},
                {"access-key-file", 0, true, OPT_ACCESS},
                {"secret-key-file", 0, true, OPT_SECRET},
                {"virtual-host", 0, false, OPT_VHOST},
                {"object-lock-days", 0, true, OPT_LOCK},
                {0},
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *text[OPT_SECRET + 1] = {0}, *pos[2] = {0};
        char access[PATH_MAX], secret[PATH_MAX];
        unsigned long long days = 0;
        bool vhost = false, have_days = false;
        struct args a;
        int n = 0, k, ex;

        args_init(&a, argc, argv, 2);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("store add: %s", a.error);
                if (k == OPT_VHOST) {
                        vhost = true;
                } else if (k == OPT_LOCK) {
                        char *end;
                        days = strtoull(a.value, &end, 10);
                        if (!*a.value || *end || a.value[0] == '-' || days > 36500)
                                return verb_usage(
                                        "store add: --object-lock-days takes 0 to 36500, not \"%s\"",
                                        a.value);
                        have_days = true;
                } else if (k >= OPT_ENDPOINT && k <= OPT_SECRET) {
                        text[k] = a.value;
                } else if (n == 2) {
                        return verb_usage("store add takes NAME s3 and options");
                } else {
                        pos[n++] = a.value;
                }
        }
        if (n < 2 || strcmp(pos[1], "s3"))
                return verb_usage("store add NAME s3 --endpoint URL --bucket BUCKET --access-key-file FILE "
                                  "--secret-key-file FILE [--prefix P] [--region R] [--virtual-host] "
                                  "[--object-lock-days N]");
        if (!text[OPT_ENDPOINT] || !text[OPT_BUCKET] || !text[OPT_ACCESS] || !text[OPT_SECRET])
                return verb_usage("store add: --endpoint, --bucket, --access-key-file and --secret-key-file "
                                  "are needed");
        if (!realpath(text[OPT_ACCESS], access))
                return verb_fail("store add: %s: %s", text[OPT_ACCESS], strerror(errno));
        if (!realpath(text[OPT_SECRET], secret))
                return verb_fail("store add: %s: %s", text[OPT_SECRET], strerror(errno));
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_STORE_ADD);
        if (m &&
            (ctl_msg_set_text(m, CTL_KEY_NAME, pos[0]) < 0 || ctl_msg_set_text(m, CTL_KEY_KIND, "s3") < 0 ||
             ctl_msg_set_text(m, CTL_KEY_ENDPOINT, text[OPT_ENDPOINT]) < 0 ||
             ctl_msg_set_text(m, CTL_KEY_BUCKET, text[OPT_BUCKET]) < 0 ||
             (text[OPT_PREFIX] && ctl_msg_set_text(m, CTL_KEY_PREFIX, text[OPT_PREFIX]) < 0) ||
             (text[OPT_REGION] && ctl_msg_set_text(m, CTL_KEY_REGION, text[OPT_REGION]) < 0) ||
             ctl_msg_set_text(m, CTL_KEY_ACCESS_KEY_FILE, access) < 0 ||
             ctl_msg_set_text(m, CTL_KEY_SECRET_KEY_FILE, secret) < 0 ||
             (vhost && ctl_msg_set_bool(m, CTL_KEY_VIRTUAL_HOST, true) < 0) ||
             (have_days && ctl_msg_set_uint(m, CTL_KEY_OBJECT_LOCK_DAYS, days) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) /* {"stores": [the new store]}, as chutectl --json stores */
                return verb_json(ctl_json_from_result(reply, CTL_TYPE_STORE_ADD));
        printf("Store %s added: packs go to bucket %s at %s.\n", pos[0], text[OPT_BUCKET],
               text[OPT_ENDPOINT]);
        return verb_flush();
}

static int store_remove(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *name = NULL;
        bool force = false; /* even when packs evicted here are only in that store */
        int ex = verb_force_name(argc, argv, "store remove", "the store's NAME", &name, &force);
        if (ex != EXIT_OK)
                return ex;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_STORE_REMOVE);
        if (m && (ctl_msg_set_text(m, CTL_KEY_NAME, name) < 0 ||
                  (force && ctl_msg_set_bool(m, CTL_KEY_FORCE, true) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) {
                json_t *o = json_object();
                if (o)
                        json_object_set_new(o, "removed", json_string(name));
                return verb_json(o);
        }
        printf("Store %s removed; what it holds stays there.\n", name);
        return verb_flush();
}

int verb_store(struct verb_context *c, int argc, char **argv)
{
        if (argc < 2)
                return verb_usage("store needs a sub-verb: store add or store remove");
        if (!strcmp(argv[1], "add"))
                return store_add(c, argc, argv);
        if (!strcmp(argv[1], "remove"))
                return store_remove(c, argc, argv);
        return verb_usage("unknown sub-verb \"store %s\" (add, remove)", argv[1]);
}
