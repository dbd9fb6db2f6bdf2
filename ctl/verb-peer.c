/* SPDX-License-Identifier: MIT */
/* chutectl peer add | set | remove | approve, and peers: the nodes that keep
 * this node's packs (with the rate limits of the uploads to them), and those
 * whose packs this node keeps (with their quota, what they use of it, marked
 * bytes awaiting the purge, and pending nodes waiting for `peer approve`).
 * Node ids are sent as typed; the daemon parses them too, but a malformed
 * one is a usage error here first. */
#include "verb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "parse.h"

enum { OPT_QUOTA = 1, OPT_NAME, OPT_UPLOAD_LIMIT, OPT_DOWNLOAD_LIMIT };

/* The rate limit options of peer add and peer set. */
struct peer_limits {
        uint64_t upload, download;
        bool have_upload, have_download;
};

/* A node id argument: a usage error unless identity_parse_id takes it. */
static int check_node_id(const char *verb, const char *arg)
{
        uint8_t id[IDENTITY_ID_SIZE];

        if (identity_parse_id(arg, id) < 0)
                return verb_usage("%s: \"%s\" is not a node id (52 base32 characters, as 'chutectl id' on "
                                  "that node prints it)",
                                  verb, arg);
        return EXIT_OK;
}

static int parse_quota(const char *verb, const char *arg, uint64_t *ret)
{
        if (parse_size(arg, ret) < 0 || *ret > INT64_MAX)
                return verb_usage("%s: --quota takes a size such as 500G or 1.5T, not \"%s\"", verb, arg);
        return EXIT_OK;
}

/* --upload-limit or --download-limit (option id k) into l. */
static int parse_limit(const char *verb, int k, const char *arg, struct peer_limits *l)
{
        bool up = k == OPT_UPLOAD_LIMIT;
        uint64_t v;

        if (parse_size(arg, &v) < 0 || v > INT64_MAX)
                return verb_usage("%s: --%s-limit takes bytes per second such as 10M or 500K (0: no limit), "
                                  "not \"%s\"",
                                  verb, up ? "upload" : "download", arg);
        if (up) {
                l->upload = v;
                l->have_upload = true;
        } else {
                l->download = v;
                l->have_download = true;
        }
        return EXIT_OK;
}

/* Put the limits given into request m. */
static int set_limits(struct msg *m, const struct peer_limits *l)
{
        if (l->have_upload && ctl_msg_set_uint(m, CTL_KEY_UPLOAD_LIMIT, l->upload) < 0)
                return -ENOMEM;
        if (l->have_download && ctl_msg_set_uint(m, CTL_KEY_DOWNLOAD_LIMIT, l->download) < 0)
                return -ENOMEM;
        return 0;
}

/* The grouped base32 form of the ID key of item (a new string, "?" when absent). */
static char *item_id(const struct msg_map *item)
{
        const uint8_t *p;
        size_t len;
        char *s = NULL;

        if (msg_map_get_bytes(item, CTL_KEY_ID, &p, &len) < 0 || len != IDENTITY_ID_SIZE ||
            identity_format_id(p, &s) < 0)
                return strdup("?");
        return s;
}

static json_t *peer_json(const struct msg_map *item)
{
        json_t *o = json_object();
        _cleanup_free_ char *id = item_id(item);
        bool connected = false;

        if (!o)
                return NULL;
        json_object_set_new(o, "id", id ? json_string(id) : json_null());
        json_object_set_new(o, "name", verb_json_str(item, CTL_KEY_NAME));
        json_object_set_new(o, "state", verb_json_str(item, CTL_KEY_STATE));
        json_object_set_new(o, "address", verb_json_str(item, CTL_KEY_ADDRESS));
        if (msg_map_get_bool(item, CTL_KEY_CONNECTED, &connected) >= 0)
                json_object_set_new(o, "connected", json_boolean(connected));
        json_object_set_new(o, "quota", verb_json_uint(item, CTL_KEY_QUOTA));
        json_object_set_new(o, "used", verb_json_uint(item, CTL_KEY_USED));
        json_object_set_new(o, "marked", verb_json_uint(item, CTL_KEY_MARKED));
        json_object_set_new(o, "hosted_packs", verb_json_uint(item, CTL_KEY_HOSTED));
        json_object_set_new(o, "delete_delay", verb_json_uint(item, CTL_KEY_DELETE_DELAY));
        json_object_set_new(o, "last_seen", verb_json_time(item, CTL_KEY_LAST_SEEN));
        /* peer add with an address */
        if (msg_map_get_uint(item, CTL_KEY_UPLOAD_LIMIT, &(uint64_t){ 0 }) >= 0) {
                json_object_set_new(o, "upload_limit", verb_json_uint(item, CTL_KEY_UPLOAD_LIMIT));
                json_object_set_new(o, "download_limit", verb_json_uint(item, CTL_KEY_DOWNLOAD_LIMIT));
        }
        return o;
}

/* The first PEERS map of a reply as JSON, or the text line from fmt. */
static int peer_reply(struct verb_context *c, struct msg *reply, struct msg_map *ret_item)
{
        struct msg_map body = msg_body(reply);

        if (msg_map_get_map_at(&body, CTL_KEY_PEERS, 0, ret_item) < 0)
                return verb_fail("malformed reply from chuted: no peer");
        if (c->json)
                return verb_json(peer_json(ret_item));
        return EXIT_OK;
}

static int peer_add(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "quota", 'q', true, OPT_QUOTA },
                { "upload-limit", 0, true, OPT_UPLOAD_LIMIT },
                { "download-limit", 0, true, OPT_DOWNLOAD_LIMIT },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *pos[3];
        int n = 0, k, ex;
        uint64_t quota = 0;
        bool have_quota = false;
        struct peer_limits limits = { 0 };
        struct args a;

        args_init(&a, argc, argv, 2);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("peer add: %s", a.error);
                if (k == OPT_UPLOAD_LIMIT || k == OPT_DOWNLOAD_LIMIT) {
                        ex = parse_limit("peer add", k, a.value, &limits);
                        if (ex != EXIT_OK)
                                return ex;
                } else if (k == OPT_QUOTA) {
                        ex = parse_quota("peer add", a.value, &quota);
                        if (ex != EXIT_OK)
                                return ex;
                        have_quota = true;
                } else if (n == 3) {
                        return verb_usage("peer add takes NAME [ADDRESS] ID");
                } else {
                        pos[n++] = a.value;
                }
        }
        if (n < 2)
                return verb_usage("peer add needs NAME, ADDRESS (HOST:PORT, or - when it only keeps its packs "
                                  "here) and ID");
        const char *name = pos[0], *address = n == 3 ? pos[1] : NULL, *node = pos[n - 1];
        ex = check_node_id("peer add", node);
        if (ex != EXIT_OK)
                return ex;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_PEER_ADD);
        if (m && (ctl_msg_set_text(m, CTL_KEY_NODE, node) < 0 || ctl_msg_set_text(m, CTL_KEY_NAME, name) < 0 ||
                  (address && strcmp(address, "-") && ctl_msg_set_text(m, CTL_KEY_ADDRESS, address) < 0) ||
                  (have_quota && ctl_msg_set_uint(m, CTL_KEY_QUOTA, quota) < 0) ||
                  set_limits(m, &limits) < 0)) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map item;
        ex = peer_reply(c, reply, &item);
        if (ex != EXIT_OK || c->json)
                return ex;
        char size[FORMAT_SIZE_MAX], up[FORMAT_RATE_MAX], down[FORMAT_RATE_MAX];
        _cleanup_free_ char *id = item_id(&item), *addr = verb_dup_bytes(&item, CTL_KEY_ADDRESS);
        uint64_t upload = verb_uint(&item, CTL_KEY_UPLOAD_LIMIT, 0);
        uint64_t download = verb_uint(&item, CTL_KEY_DOWNLOAD_LIMIT, 0);
        printf("Peer %s added (%s)\n", name, id ? id : "?");
        if (addr && *addr)
                printf("Packs go to %s.\n", addr);
        if (upload || download)
                printf("Upload limit %s, download limit %s.\n", format_rate(upload, up),
                       format_rate(download, down));
        printf("It may keep up to %s of its packs here.\n",
               format_size(verb_uint(&item, CTL_KEY_QUOTA, 0), size));
        return verb_flush();
}

static int peer_set(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "upload-limit", 0, true, OPT_UPLOAD_LIMIT },
                { "download-limit", 0, true, OPT_DOWNLOAD_LIMIT },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct peer_limits limits = { 0 };
        const char *name = NULL;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 2);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("peer set: %s", a.error);
                if (k == OPT_UPLOAD_LIMIT || k == OPT_DOWNLOAD_LIMIT) {
                        ex = parse_limit("peer set", k, a.value, &limits);
                        if (ex != EXIT_OK)
                                return ex;
                } else if (name) {
                        return verb_usage("peer set takes one NAME");
                } else {
                        name = a.value;
                }
        }
        if (!name)
                return verb_usage("peer set needs the peer's NAME (chutectl stores)");
        if (!limits.have_upload && !limits.have_download)
                return verb_usage("peer set: nothing to set (--upload-limit RATE, --download-limit RATE)");
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_PEER_SET);
        if (m && (ctl_msg_set_text(m, CTL_KEY_NAME, name) < 0 || set_limits(m, &limits) < 0)) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map body = msg_body(reply), item;
        if (msg_map_get_map_at(&body, CTL_KEY_STORES, 0, &item) < 0)
                return verb_fail("malformed reply from chuted: no store");
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "name", verb_json_str(&item, CTL_KEY_NAME));
                        json_object_set_new(o, "upload_limit", verb_json_uint(&item, CTL_KEY_UPLOAD_LIMIT));
                        json_object_set_new(o, "download_limit",
                                            verb_json_uint(&item, CTL_KEY_DOWNLOAD_LIMIT));
                }
                return verb_json(o);
        }
        char up[FORMAT_RATE_MAX], down[FORMAT_RATE_MAX];
        printf("Store %s: upload limit %s, download limit %s.\n", name,
               format_rate(verb_uint(&item, CTL_KEY_UPLOAD_LIMIT, 0), up),
               format_rate(verb_uint(&item, CTL_KEY_DOWNLOAD_LIMIT, 0), down));
        return verb_flush();
}

static int peer_remove(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *arg = NULL;
        bool force = false; /* even when packs evicted here are only on that peer */
        int ex = verb_force_name(argc, argv, "peer remove", "the peer's NAME or ID", &arg, &force);
        if (ex != EXIT_OK)
                return ex;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_PEER_REMOVE);
        if (m && (ctl_msg_set_text(m, CTL_KEY_NODE, arg) < 0 ||
                  (force && ctl_msg_set_bool(m, CTL_KEY_FORCE, true) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map item;
        ex = peer_reply(c, reply, &item);
        if (ex != EXIT_OK || c->json)
                return ex;
        char delay[FORMAT_DURATION_MAX];
        _cleanup_free_ char *id = item_id(&item), *name = verb_dup_bytes(&item, CTL_KEY_NAME);
        uint64_t packs = verb_uint(&item, CTL_KEY_HOSTED, 0);
        printf("Removed %s (%s)\n", name && *name ? name : "pending node", id ? id : "?");
        if (packs)
                printf("The %llu packs it kept here are deleted after %s.\n", (unsigned long long)packs,
                       format_duration_ns(verb_uint(&item, CTL_KEY_DELETE_DELAY, 0) * NSEC_PER_SEC, delay));
        return verb_flush();
}

static int peer_approve(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "quota", 'q', true, OPT_QUOTA },
                { "name", 'n', true, OPT_NAME },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const char *node = NULL, *name = NULL;
        uint64_t quota = 0;
        bool have_quota = false;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 2);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("peer approve: %s", a.error);
                if (k == OPT_QUOTA) {
                        ex = parse_quota("peer approve", a.value, &quota);
                        if (ex != EXIT_OK)
                                return ex;
                        have_quota = true;
                } else if (k == OPT_NAME) {
                        name = a.value;
                } else if (node) {
                        return verb_usage("peer approve takes one ID");
                } else {
                        node = a.value;
                }
        }
        if (!node)
                return verb_usage("peer approve needs the ID of a pending node (chutectl peers)");
        ex = check_node_id("peer approve", node);
        if (ex != EXIT_OK)
                return ex;
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_PEER_APPROVE);
        if (m && (ctl_msg_set_text(m, CTL_KEY_NODE, node) < 0 ||
                  (name && ctl_msg_set_text(m, CTL_KEY_NAME, name) < 0) ||
                  (have_quota && ctl_msg_set_uint(m, CTL_KEY_QUOTA, quota) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        struct msg_map item;
        ex = peer_reply(c, reply, &item);
        if (ex != EXIT_OK || c->json)
                return ex;
        char size[FORMAT_SIZE_MAX];
        _cleanup_free_ char *id = item_id(&item), *got = verb_dup_bytes(&item, CTL_KEY_NAME);
        printf("Approved %s as peer %s: it may keep up to %s of its packs here.\n", id ? id : "?",
               got ? got : "?", format_size(verb_uint(&item, CTL_KEY_QUOTA, 0), size));
        return verb_flush();
}

int verb_peer(struct verb_context *c, int argc, char **argv)
{
        if (argc < 2)
                return verb_usage("peer needs a sub-verb: peer add, peer set, peer remove or peer approve");
        if (!strcmp(argv[1], "add"))
                return peer_add(c, argc, argv);
        if (!strcmp(argv[1], "set"))
                return peer_set(c, argc, argv);
        if (!strcmp(argv[1], "remove"))
                return peer_remove(c, argc, argv);
        if (!strcmp(argv[1], "approve"))
                return peer_approve(c, argc, argv);
        return verb_usage("unknown sub-verb \"peer %s\" (add, set, remove, approve)", argv[1]);
}

/* One block per peer: its name and state, then what it keeps here. */
static void peer_text(const struct msg_map *item)
{
        _cleanup_free_ char *id = item_id(item), *name = verb_dup_bytes(item, CTL_KEY_NAME),
                            *state = verb_dup_bytes(item, CTL_KEY_STATE),
                            *address = verb_dup_bytes(item, CTL_KEY_ADDRESS);
        char used[FORMAT_SIZE_MAX], quota[FORMAT_SIZE_MAX], marked[FORMAT_SIZE_MAX], delay[FORMAT_DURATION_MAX],
                seen[OUTPUT_TIME_MAX];
        bool connected = false, pending = state && !strcmp(state, "pending");
        int64_t last_seen = 0;

        msg_map_get_bool(item, CTL_KEY_CONNECTED, &connected);
        if (pending)
                printf("pending node %s\n", id ? id : "?");
        else
                printf("%s (%s%s)\n", name ? name : "?", state ? state : "?", connected ? ", connected" : "");
        if (!pending)
                printf("    id         %s\n", id ? id : "?");
        if (!pending && address && *address)
                printf("    address    %s\n", address);
        if (msg_map_get_int(item, CTL_KEY_LAST_SEEN, &last_seen) >= 0)
                printf("    last seen  %s%s%s\n", output_time_local(last_seen, seen),
                       pending && address && *address ? " from " : "", pending && address ? address : "");
        else if (!pending)
                printf("    last seen  never\n");
        if (pending) {
                printf("    approve    chutectl peer approve %s\n", id ? id : "?");
                return;
        }
        printf("    keeps      %s of %s, %llu packs", format_size(verb_uint(item, CTL_KEY_USED, 0), used),
               format_size(verb_uint(item, CTL_KEY_QUOTA, 0), quota),
               (unsigned long long)verb_uint(item, CTL_KEY_HOSTED, 0));
        if (verb_uint(item, CTL_KEY_MARKED, 0))
                printf(", %s marked deleted", format_size(verb_uint(item, CTL_KEY_MARKED, 0), marked));
        printf("\n    deletes    kept %s before they go\n",
               format_duration_ns(verb_uint(item, CTL_KEY_DELETE_DELAY, 0) * NSEC_PER_SEC, delay));
}

int verb_peers(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct msg_map body, item;
        size_t n = 0;
        int ex = verb_no_args(argc, argv);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_call(c, verb_request(c, CTL_TYPE_PEERS), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        body = msg_body(reply);
        msg_map_get_count(&body, CTL_KEY_PEERS, &n);
        if (c->json) {
                json_t *arr = json_array();
                for (size_t i = 0; arr && i < n; i++)
                        if (msg_map_get_map_at(&body, CTL_KEY_PEERS, i, &item) >= 0)
                                json_array_append_new(arr, peer_json(&item));
                return verb_json(arr);
        }
        for (size_t i = 0; i < n; i++) {
                if (msg_map_get_map_at(&body, CTL_KEY_PEERS, i, &item) < 0)
                        return verb_fail("malformed reply from chuted");
                if (i)
                        putchar('\n');
                peer_text(&item);
        }
        if (n == 0)
                printf("No peers: chutectl peer add NAME ADDRESS ID\n");
        return verb_flush();
}
