/* SPDX-License-Identifier: MIT */
/* chutectl stores: where packs are replicated, one line per store (state,
 * packs held, pending, verification, usage against quota, last error, its
 * own rate limits), or the JSON list; also the store objects and lines of
 * chutectl status. */
#include "verb.h"

#include "ctl-json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* "upload 2.0 MiB/s, download none" when the store has a limit of its own,
 * else false. */
static bool store_limits(const struct msg_map *item, char *buf, size_t len)
{
        uint64_t up = verb_uint(item, CTL_KEY_UPLOAD_LIMIT, 0), down = verb_uint(item, CTL_KEY_DOWNLOAD_LIMIT, 0);
        char a[OUTPUT_SIZE_MAX], b[OUTPUT_SIZE_MAX];

        if (!up && !down)
                return false;
        snprintf(buf, len, "upload %s%s, download %s%s", up ? output_size(up, a) : "none", up ? "/s" : "",
                 down ? output_size(down, b) : "none", down ? "/s" : "");
        return true;
}

/* "refuses us", "connected", "offline" or "not running". */
static const char *store_state(const struct msg_map *item)
{
        bool connected = false;

        if (msg_map_get_int(item, CTL_KEY_REFUSED_AT, &(int64_t){ 0 }) >= 0)
                return "refuses us";
        msg_map_get_bool(item, CTL_KEY_CONNECTED, &connected);
        if (connected)
                return "connected";
        return msg_map_get_uint(item, CTL_KEY_UPLOADED, &(uint64_t){ 0 }) >= 0 ? "offline"
                                                                             : "not running";
}

/* "1.2 GiB of 10 GiB", "1.2 GiB", or "-" when the store did not say. */
static void store_usage(const struct msg_map *item, char *buf, size_t len)
{
        char used[OUTPUT_SIZE_MAX], quota[OUTPUT_SIZE_MAX];
        uint64_t u, q = 0;

        if (msg_map_get_uint(item, CTL_KEY_USED, &u) < 0) {
                snprintf(buf, len, "-");
                return;
        }
        msg_map_get_uint(item, CTL_KEY_QUOTA, &q);
        if (q)
                snprintf(buf, len, "%s of %s", output_size(u, used), output_size(q, quota));
        else
                snprintf(buf, len, "%s", output_size(u, used));
}

static void store_pending(const struct msg_map *item, char *buf, size_t len)
{
        char size[OUTPUT_SIZE_MAX];

        snprintf(buf, len, "%" PRIu64 " (%s)", verb_uint(item, CTL_KEY_PENDING, 0),
                 output_size(verb_uint(item, CTL_KEY_PENDING_BYTES, 0), size));
}

/* "    1.2 GiB uploaded in 40 requests (2 retries)" for stores that count requests (S3). */
static void store_requests(const struct msg_map *item)
{
        char size[OUTPUT_SIZE_MAX];
        uint64_t requests;

        if (msg_map_get_uint(item, CTL_KEY_REQUESTS, &requests) < 0)
                return;
        _cleanup_free_ char *bucket = verb_dup_bytes(item, CTL_KEY_BUCKET),
                            *endpoint = verb_dup_bytes(item, CTL_KEY_ENDPOINT);
        printf("    %s uploaded in %" PRIu64 " requests (%" PRIu64 " retries) to bucket %s at %s\n",
               output_size(verb_uint(item, CTL_KEY_UPLOADED, 0), size), requests, verb_uint(item, CTL_KEY_RETRIES, 0),
               bucket, endpoint);
}

/* "NAME: refuses this node since TIME; ..." when it does (name NULL: indented). */
static void store_refused(const struct msg_map *item, const char *name)
{
        char when[OUTPUT_TIME_MAX];
        int64_t ns;

        if (msg_map_get_int(item, CTL_KEY_REFUSED_AT, &ns) < 0)
                return;
        output_time_local(ns, when);
        printf("%s%srefuses this node since %s: its %" PRIu64 " packs there count as no copy (kept here, copied to "
               "other stores) until it accepts this node again\n",
               name ? name : "    ", name ? ": " : "", when, verb_uint(item, CTL_KEY_PACKS, 0));
}

static void store_verified(const struct msg_map *item, char *buf)
{
        int64_t ns;

        if (msg_map_get_int(item, CTL_KEY_VERIFIED_AT, &ns) >= 0)
                output_time_local(ns, buf);
        else
                strcpy(buf, "never");
}

void verb_stores_lines(const struct msg_map *body)
{
        struct msg_map item;
        size_t n = 0;

        msg_map_get_count(body, CTL_KEY_STORES, &n);
        if (n == 0)
                return;
        printf("\nStores:\n");
        for (size_t i = 0; i < n; i++) {
                char pending[64], usage[80], verified[OUTPUT_TIME_MAX];
                if (msg_map_get_map_at(body, CTL_KEY_STORES, i, &item) < 0)
                        continue;
                _cleanup_free_ char *name = verb_dup_bytes(&item, CTL_KEY_NAME);
                _cleanup_free_ char *kind = verb_dup_bytes(&item, CTL_KEY_KIND);
                _cleanup_free_ char *error = verb_dup_bytes(&item, CTL_KEY_ERROR);
                store_pending(&item, pending, sizeof(pending));
                store_usage(&item, usage, sizeof(usage));
                store_verified(&item, verified);
                printf("  %s (%s): %s, %s pending, verified %s, used %s\n", name, kind,
                       store_state(&item), pending, verified, usage);
                store_requests(&item);
                store_refused(&item, NULL);
                if (*error)
                        printf("    error: %s\n", error);
                char limits[96];
                if (store_limits(&item, limits, sizeof(limits)))
                        printf("    limits: %s\n", limits);
        }
}

static int stores_text(struct msg *reply)
{
        static const char *const headers[] = { "NAME", "KIND", "STATE", "PACKS", "PENDING",
                                               "VERIFIED", "USED" };
        static const enum output_align align[] = { OUTPUT_LEFT,  OUTPUT_LEFT, OUTPUT_LEFT,
                                                   OUTPUT_RIGHT, OUTPUT_RIGHT, OUTPUT_LEFT,
                                                   OUTPUT_LEFT };
        struct msg_map body = msg_body(reply), item;
        struct output_table t;
        size_t n = 0;
        int ex = EXIT_OK;

        msg_map_get_count(&body, CTL_KEY_STORES, &n);
        if (n == 0) {
                printf("No stores: packs stay on this node only (chutectl peer add NAME ADDRESS ID, chutectl store add NAME s3 ...)\n");
                return verb_flush();
        }
        output_table_init(&t, 7, headers, align);
        for (size_t i = 0; i < n && ex == EXIT_OK; i++) {
                char packs[24], pending[64], usage[80], verified[OUTPUT_TIME_MAX];
                if (msg_map_get_map_at(&body, CTL_KEY_STORES, i, &item) < 0)
                        continue;
                _cleanup_free_ char *name = verb_dup_bytes(&item, CTL_KEY_NAME);
                _cleanup_free_ char *kind = verb_dup_bytes(&item, CTL_KEY_KIND);
                snprintf(packs, sizeof(packs), "%" PRIu64, verb_uint(&item, CTL_KEY_PACKS, 0));
                store_pending(&item, pending, sizeof(pending));
                store_usage(&item, usage, sizeof(usage));
                store_verified(&item, verified);
                const char *cells[] = { name, kind, store_state(&item), packs, pending, verified, usage };
                if (output_table_add(&t, cells) < 0)
                        ex = verb_fail("out of memory");
        }
        if (ex == EXIT_OK)
                output_table_print(&t, stdout);
        output_table_done(&t);
        for (size_t i = 0; i < n && ex == EXIT_OK; i++) {
                if (msg_map_get_map_at(&body, CTL_KEY_STORES, i, &item) < 0)
                        continue;
                _cleanup_free_ char *name = verb_dup_bytes(&item, CTL_KEY_NAME);
                _cleanup_free_ char *error = verb_dup_bytes(&item, CTL_KEY_ERROR);
                uint64_t requests;
                if (msg_map_get_uint(&item, CTL_KEY_REQUESTS, &requests) >= 0) {
                        char size[OUTPUT_SIZE_MAX];
                        _cleanup_free_ char *bucket = verb_dup_bytes(&item, CTL_KEY_BUCKET),
                                            *endpoint = verb_dup_bytes(&item, CTL_KEY_ENDPOINT);
                        printf("%s: %s uploaded in %" PRIu64 " requests (%" PRIu64 " retries) to bucket %s at %s\n",
                               name, output_size(verb_uint(&item, CTL_KEY_UPLOADED, 0), size), requests,
                               verb_uint(&item, CTL_KEY_RETRIES, 0), bucket, endpoint);
                }
                store_refused(&item, name);
                if (*error)
                        printf("%s: %s\n", name, error);
                char limits[96];
                if (store_limits(&item, limits, sizeof(limits)))
                        printf("%s: limits %s\n", name, limits);
        }
        return ex == EXIT_OK ? verb_flush() : ex;
}

int verb_stores(struct verb_context *c, int argc, char **argv)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        int ex = verb_no_args(argc, argv);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_call(c, verb_request(c, CTL_TYPE_STORES), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) {
                /* the schema's own names and forms: the same as GET /v1/stores */
                return verb_json(ctl_json_from_result(reply, CTL_TYPE_STORES));
        }
        return stores_text(reply);
}
