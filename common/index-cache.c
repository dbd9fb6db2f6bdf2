/* SPDX-License-Identifier: MIT */
/* The queries of the local pack cache (local_copy = cache): which local
 * packs may be evicted (held by enough stores, holding no tree or snapshot
 * object) and what the cache holds for status. The packs.local flag is the
 * truth the index keeps; daemon/cache.c keeps it in step with the files. */
#include "index-private.h"

#include <errno.h>

#include "oid.h"

static const struct index_column candidate_columns[] = {
        INDEX_COLUMN_OID(struct index_cache_candidate, id, 0),
        INDEX_COLUMN_UINT64(struct index_cache_candidate, size, 0),
        INDEX_COLUMN_INT64(struct index_cache_candidate, created_ns, 0),
        INDEX_COLUMN_INT(struct index_cache_candidate, verified, 0),
};
static const struct index_row candidate_row = INDEX_ROW(struct index_cache_candidate, candidate_columns, 0, NULL);

/* "p" (a packs row) holds a tree, a snapshot or a tombstone: kept here (ls,
 * diff and a no-op snapshot never go to a store, a reindex reads every
 * tombstone). */
#define PINNED_WHERE "EXISTS (SELECT 1 FROM objects o WHERE o.pack_id = p.id AND o.type IN (3, 4, 5))"
_Static_assert(OBJECT_TREE == 3 && OBJECT_SNAPSHOT == 4 && OBJECT_TOMBSTONE == 5,
               "PINNED_WHERE names the types by number");

int index_cache_candidates(struct index *idx, unsigned min_copies, size_t limit,
                           index_cache_candidate_cb cb, void *userdata)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        struct index_cache_candidate row;
        int r;

        if (min_copies == 0 || limit == 0 || limit > INT64_MAX || !cb)
                return -EINVAL;
        r = index_row_open(idx,
                           INDEX_QUERY("SELECT p.id, p.size, p.created_ns, (SELECT count(*) FROM replicas r "
                                       "WHERE r.pack_id = p.id AND r.state >= 2 AND " REPLICA_HELD("r")
                                       ") >= ?1 AS verified FROM packs p WHERE p.local AND (SELECT count(*) "
                                       "FROM replicas r WHERE r.pack_id = p.id AND " REPLICA_HELD("r")
                                       ") >= ?1 AND NOT " PINNED_WHERE
                                       " ORDER BY verified DESC, p.created_ns LIMIT ?2",
                                       INDEX_VALUE_INT64(min_copies), INDEX_VALUE_INT64((int64_t)limit)),
                           &c);
        while (r >= 0 && (r = index_row_next(&c, &candidate_row, &row)) > 0) {
                r = cb(&row, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_cache_held(struct index *idx, const struct oid *pack, unsigned min_copies)
{
        int n = index_replica_held(idx, pack);

        if (n < 0)
                return n;
        return min_copies > 0 && n >= (int)min_copies;
}

struct bytes_row {
        uint64_t bytes;
};
static const struct index_column bytes_columns[] = {
        INDEX_COLUMN_UINT64(struct bytes_row, bytes, 0),
};
static const struct index_row bytes_row = INDEX_ROW(struct bytes_row, bytes_columns, 0, NULL);

int index_cache_pinned_bytes(struct index *idx, uint64_t *ret)
{
        struct bytes_row row;
        int r = index_row_get(idx,
                              INDEX_SQL("SELECT coalesce(sum(p.size), 0) FROM packs p WHERE p.local AND "
                                        PINNED_WHERE),
                              &bytes_row, &row);

        if (r == -ENOENT)
                return -EIO; /* an aggregate always answers */
        if (r < 0)
                return r;
        *ret = row.bytes;
        return 0;
}

static const struct index_column usage_columns[] = {
        INDEX_COLUMN_UINT64(struct index_cache_usage, local_packs, 0),
        INDEX_COLUMN_UINT64(struct index_cache_usage, local_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_cache_usage, evicted_packs, 0),
        INDEX_COLUMN_UINT64(struct index_cache_usage, evicted_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_cache_usage, stores, 0),
};
static const struct index_row usage_row = INDEX_ROW(struct index_cache_usage, usage_columns, 0, NULL);

int index_cache_usage(struct index *idx, struct index_cache_usage *ret)
{
        int r = index_row_get(idx,
                              INDEX_SQL("SELECT count(*) FILTER (WHERE local),"
                                        " coalesce(sum(size) FILTER (WHERE local), 0),"
                                        " count(*) FILTER (WHERE NOT local),"
                                        " coalesce(sum(size) FILTER (WHERE NOT local), 0),"
                                        " (SELECT count(*) FROM stores) FROM packs"),
                              &usage_row, ret);

        return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
}

int index_cache_foreach_pack(struct index *idx, const struct oid *after, size_t limit, index_pack_cb cb,
                             void *userdata)
{
        if (limit == 0 || limit > INT64_MAX)
                return -EINVAL;
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " INDEX_PACK_COLUMNS " FROM packs WHERE id > ?1 "
                                             "ORDER BY id LIMIT ?2",
                                             after ? (struct index_value)INDEX_VALUE_OID(after)
                                                   : (struct index_value)INDEX_VALUE_BYTES("", 0),
                                             INDEX_VALUE_INT64((int64_t)limit)),
                                 &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}

static const struct index_column only_columns[] = {
        INDEX_COLUMN_UINT64(struct index_cache_usage, evicted_packs, 0),
        INDEX_COLUMN_UINT64(struct index_cache_usage, evicted_bytes, 0),
};
static const struct index_row only_row = INDEX_ROW(struct index_cache_usage, only_columns, 0, NULL);

/* "p" is held by store ?1 (damaged included) and by no other store that counts */
#define ONLY_ON_WHERE                                                                                  \
        "EXISTS (SELECT 1 FROM replicas r WHERE r.pack_id = p.id AND r.store_id = ?1 AND "             \
        "(r.state >= 1 OR r.state = -1)) AND NOT EXISTS (SELECT 1 FROM replicas r WHERE "              \
        "r.pack_id = p.id AND r.store_id <> ?1 AND " REPLICA_HELD("r") ")"

int index_cache_local_only_on_page(struct index *idx, int64_t store_id, const struct oid *after, size_t limit,
                                   index_pack_cb cb, void *userdata)
{
        if (limit == 0 || limit > INT64_MAX)
                return -EINVAL;
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " INDEX_PACK_COLUMNS_P " FROM packs p WHERE p.local AND "
                                             "p.id > ?2 AND " ONLY_ON_WHERE " ORDER BY p.id LIMIT ?3",
                                             INDEX_VALUE_INT64(store_id),
                                             after ? (struct index_value)INDEX_VALUE_OID(after)
                                                   : (struct index_value)INDEX_VALUE_BYTES("", 0),
                                             INDEX_VALUE_INT64((int64_t)limit)),
                                 &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}

int index_cache_only_on(struct index *idx, int64_t store_id, uint64_t *ret_packs, uint64_t *ret_bytes)
{
        struct index_cache_usage u = { 0 };
        int r = index_row_get(idx,
                              INDEX_QUERY("SELECT count(*), coalesce(sum(p.size), 0) FROM packs p "
                                          "WHERE NOT p.local AND " ONLY_ON_WHERE,
                                          INDEX_VALUE_INT64(store_id)),
                              &only_row, &u);

        if (r == -ENOENT)
                return -EIO; /* an aggregate always answers */
        if (r < 0)
                return r;
        *ret_packs = u.evicted_packs;
        *ret_bytes = u.evicted_bytes;
        return 0;
}
