/* SPDX-License-Identifier: MIT */
/* chutectl prune [--dry-run] [--max-unused PERCENT] [--max-repack SIZE]:
 * have the daemon delete the packs no kept snapshot needs and repack the
 * mostly unused ones (docs/prune.md); prints what it found and did. */
#include "verb.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl-json.h"
#include "parse.h"

enum { OPT_DRY_RUN = 1, OPT_MAX_UNUSED, OPT_MAX_REPACK };

static int percent_arg(const char *s, uint64_t *ret)
{
        char *end;
        size_t n = strlen(s);
        char buf[16];

        if (n == 0 || n >= sizeof(buf))
                return -1;
        memcpy(buf, s, n + 1);
        if (buf[n - 1] == '%')
                buf[n - 1] = '\0';
        if (!*buf || *buf < '0' || *buf > '9')
                return -1;
        unsigned long v = strtoul(buf, &end, 10);
        if (*end || v > 100)
                return -1;
        *ret = v;
        return 0;
}

int verb_prune(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = {
                { "dry-run", 'n', false, OPT_DRY_RUN },
                { "max-unused", 0, true, OPT_MAX_UNUSED },
                { "max-repack", 0, true, OPT_MAX_REPACK },
                { 0 },
        };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        bool dry_run = false, have_unused = false, have_repack = false;
        uint64_t max_unused = 0, max_repack = 0;
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("prune: %s", a.error);
                if (k == OPT_DRY_RUN) {
                        dry_run = true;
                } else if (k == OPT_MAX_UNUSED) {
                        if (percent_arg(a.value, &max_unused) < 0)
                                return verb_usage("prune: --max-unused takes a percentage from 0 to 100, e.g. 5%%");
                        have_unused = true;
                } else if (k == OPT_MAX_REPACK) {
                        if (parse_size(a.value, &max_repack) < 0 || max_repack == 0)
                                return verb_usage("prune: --max-repack takes a size, e.g. 2G");
                        have_repack = true;
                } else {
                        return verb_usage("prune takes only --dry-run, --max-unused PERCENT and --max-repack SIZE");
                }
        }
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_PRUNE);
        if (m && ((dry_run && ctl_msg_set_bool(m, CTL_KEY_DRY_RUN, true) < 0) ||
                  (have_unused && ctl_msg_set_uint(m, CTL_KEY_MAX_UNUSED, max_unused) < 0) ||
                  (have_repack && ctl_msg_set_uint(m, CTL_KEY_MAX_REPACK, max_repack) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        if (c->json)
                return verb_json(ctl_json_from_result(reply, CTL_TYPE_PRUNE));
        struct msg_map b = msg_body(reply);
        char s1[FORMAT_SIZE_MAX], s2[FORMAT_SIZE_MAX], s3[FORMAT_SIZE_MAX];
#define U(key) verb_uint(&b, CTL_KEY_##key, 0)
        printf("%" PRIu64 " snapshots, %" PRIu64 " packs (%s): %s in use, %s unused\n", U(SNAPSHOT_COUNT), U(PACKS),
               format_size(U(BYTES), s1), format_size(U(USED_BYTES), s2), format_size(U(UNUSED_BYTES), s3));
        printf("%s %" PRIu64 " packs with nothing in use (%s)\n", dry_run ? "Would delete" : "Deleted",
               U(DELETE_PACKS), format_size(U(DELETE_BYTES), s1));
        printf("%s %" PRIu64 " packs (%s), copying %s in use\n", dry_run ? "Would repack" : "Repacked",
               U(REPACK_PACKS), format_size(U(REPACK_BYTES), s1), format_size(U(REPACK_WRITTEN), s2));
        if (U(KEPT_PACKS))
                printf("Kept %" PRIu64 " packs that a snapshot taken meanwhile needs\n", U(KEPT_PACKS));
        if (dry_run)
                printf("%" PRIu64 " objects would be removed; %s would stay unused\n", U(REMOVED),
                       format_size(U(UNUSED_AFTER), s1));
        else
                printf("%" PRIu64 " objects removed; %" PRIu64 " packs (%s) stored now, %s unused; stores delete "
                       "their copies once they have the new packs\n",
                       U(REMOVED), U(PACKS_AFTER), format_size(U(BYTES_AFTER), s1), format_size(U(UNUSED_AFTER), s2));
#undef U
        return verb_flush();
}
