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
#include "repo.h"
#include "store.h"
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

#define GONE_PAGE 256

struct gone_page {
        struct oid ids[GONE_PAGE];
        size_t n;
};

static int gone_add(const struct index_pack *pack, void *userdata)
{
        struct gone_page *pg = userdata;

        pg->ids[pg->n++] = pack->id;
        return 0;
}

/* The packs the index has here that no store but store_id holds, whose file
 * is gone: their count. In cache mode (an eviction cut short by a crash,
 * before the cache's first pass sets the flag right) they are marked
 * evicted too, as that pass would; in full mode a missing file is damage
 * that check reports and repairs, so the rows stay. Either way moving the
 * store would lose them. */
static int64_t gone_files(struct daemon *d, int64_t store_id)
{
        struct gone_page pg;
        struct oid after;
        bool first = true;
        int64_t gone = 0;
        int r;

        if (!d->repo)
                return 0;
        do {
                pg.n = 0;
                r = index_cache_local_only_on_page(d->index, store_id, first ? NULL : &after, GONE_PAGE, gone_add,
                                                   &pg);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < pg.n; i++) {
                        uint64_t size;
                        if (store_stat(repo_store(d->repo), &pg.ids[i], &size) != -ENOENT)
                                continue;
                        gone++;
                        if (d->config.local_copy != SETTINGS_LOCAL_CACHE)
                                continue;
                        r = index_pack_set_local(d->index, &pg.ids[i], 0);
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
                if (pg.n > 0)
                        after = pg.ids[pg.n - 1];
                first = false;
        } while (pg.n == GONE_PAGE);
        return gone;
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
                        int64_t gone = where ? gone_files(d, row.id) : 0;
                        if (gone < 0) {
                                log_error_errno((int)gone, "[store %s] in %s: its endpoint, bucket or prefix "
                                                "changed, but which of its packs are here cannot be told (%s): "
                                                "keeping its old configuration", s->name, d->config.file,
                                                index_last_error(d->index));
                        } else if (where && d->config.local_copy != SETTINGS_LOCAL_CACHE && gone > 0) {
                                log_error("[store %s] in %s: its endpoint, bucket or prefix changed, but %lld "
                                          "packs it holds alone are missing here (chutectl check --repair "
                                          "fetches them): keeping its old configuration",
                                          s->name, d->config.file, (long long)gone);
                        } else if (where && index_cache_only_on(d->index, row.id, &packs, &bytes) >= 0 && packs > 0) {
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
                                if (r >= 0 && where) /* a new place: whether it takes us is to be seen */
                                        r = index_store_set_refused(d->index, row.id, 0);
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
