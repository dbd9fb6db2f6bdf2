/* SPDX-License-Identifier: MIT */
/* The [store NAME] sections of chuted.conf become rows of the stores table
 * at start: added when new, their config replaced when it changed. The
 * replica rows stay when the packs stay where they are (keys, region, the
 * lock's days), so nothing is uploaded again; when the endpoint, bucket,
 * prefix or addressing changed they go (every pack pending there), unless
 * packs evicted here are held by that store alone: then the old
 * configuration is kept. A section removed from the file leaves its store:
 * `chutectl store remove NAME` removes it. */
#include "store-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "store-s3-wire.h"
#include "store-s3.h"

static bool str_differs(const char *a, const char *b)
{
        return strcmp(a ? a : "", b ? b : "") != 0;
}

/* Does the new configuration point somewhere else than old (text)? */
static bool moved(const char *old_text, const struct store_s3_config *c)
{
        struct store_s3_config old = {0};
        bool r = true;

        if (store_s3_wire_config_parse(old_text, &old) >= 0)
                r = str_differs(old.endpoint, c->endpoint) || str_differs(old.bucket, c->bucket) ||
                    str_differs(old.prefix, c->prefix) || old.virtual_host != c->virtual_host;
        store_s3_wire_config_done(&old);
        return r;
}

static void sync_one(struct daemon *d, const struct settings_store *s)
{
        struct store_s3_config c = {0};
        _cleanup_free_ char *text = NULL;
        struct index_store row;
        char why[512];
        int r;

        r = store_s3_wire_config_parse(s->config, &c);
        if (r >= 0) {
                r = store_s3_check(&c, why, sizeof(why));
                if (r < 0)
                        log_error("[store %s] in %s: %s, ignoring the section", s->name, d->config.file,
                                  why);
        } else {
                log_error("[store %s] in %s cannot be read, ignoring the section", s->name, d->config.file);
        }
        if (r >= 0)
                r = store_s3_wire_config_format(&c, &text);
        if (r < 0) {
                store_s3_wire_config_done(&c);
                return;
        }
        r = index_store_find(d->index, s->name, &row);
        if (r == -ENOENT) {
                r = index_store_add(d->index, s->name, "s3", text, NULL);
                if (r >= 0)
                        log_info("Store %s added from %s", s->name, d->config.file);
        } else if (r >= 0) {
                if (strcmp(row.kind, "s3"))
                        log_error("[store %s] in %s: a %s store has that name, ignoring the section",
                                  s->name, d->config.file, row.kind);
                else if (strcmp(row.config, text)) {
                        bool where = moved(row.config, &c);
                        uint64_t packs = 0, bytes = 0;
                        if (where && index_cache_only_on(d->index, row.id, &packs, &bytes) >= 0 && packs > 0) {
                                log_error("[store %s] in %s: its endpoint, bucket or prefix changed, but %llu "
                                          "packs evicted here (local_copy = cache) are held by it alone: keeping "
                                          "its old configuration until another store holds them",
                                          s->name, d->config.file, (unsigned long long)packs);
                        } else {
                                r = index_begin(d->index);
                                if (r >= 0)
                                        r = index_store_set_config(d->index, row.id, text);
                                if (r >= 0 && where)
                                        r = index_replica_clear_store(d->index, row.id);
                                if (r >= 0)
                                        r = index_commit(d->index);
                                else
                                        (void)index_rollback(d->index);
                                if (r >= 0)
                                        log_info("Store %s: configuration updated from %s%s", s->name,
                                                 d->config.file,
                                                 where ? "; it is somewhere else now: every pack is uploaded "
                                                         "there again"
                                                       : "");
                        }
                }
                index_store_done(&row);
        }
        store_s3_wire_config_done(&c);
        if (r < 0)
                log_error_errno(r, "Store %s: cannot record it in the index: %s", s->name,
                                index_last_error(d->index));
}

void store_config_sync(struct daemon *d)
{
        if (!d->index)
                return;
        for (size_t i = 0; i < d->config.n_stores; i++)
                sync_one(d, &d->config.stores[i]);
}
