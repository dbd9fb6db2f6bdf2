/* SPDX-License-Identifier: MIT */
/* Packs hosted for peers (table hosted): which packs this node stores for
 * which peer, their sizes (for the peer's quota) and when each arrived; a
 * pack stored again keeps its first created_ns. */
#include "index-private.h"

#include <errno.h>

#define HOSTED_COLUMNS "peer_id, pack_id, size, created_ns"

static int hosted_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.hosted(row, userdata);
}

static const struct index_column hosted_columns[] = {
        INDEX_COLUMN_OID(struct index_hosted, peer, 0),
        INDEX_COLUMN_OID(struct index_hosted, pack, 0),
        INDEX_COLUMN_UINT64(struct index_hosted, size, 0),
        INDEX_COLUMN_INT64(struct index_hosted, created_ns, 0),
};
static const struct index_row hosted_row =
        INDEX_ROW(struct index_hosted, hosted_columns, 0, hosted_visit);

/* What index_hosted_usage() reads. */
struct hosted_usage {
        uint64_t bytes;
        uint64_t count;
};
static const struct index_column usage_columns[] = {
        INDEX_COLUMN_UINT64(struct hosted_usage, bytes, 0),
        INDEX_COLUMN_UINT64(struct hosted_usage, count, 0),
};
static const struct index_row usage_row = INDEX_ROW(struct hosted_usage, usage_columns, 0, NULL);

int index_hosted_add(struct index *idx, const struct oid *peer, const struct oid *pack,
                     uint64_t size)
{
        struct index_hosted hosted;
        int r;

        if (size > INT64_MAX)
                return -EINVAL;
        hosted = (struct index_hosted){
                .peer = *peer,
                .pack = *pack,
                .size = size,
                .created_ns = index_now_ns(),
        };
        r = index_row_put(idx,
                          INDEX_SQL("INSERT INTO hosted (" HOSTED_COLUMNS ") VALUES (?1, ?2, ?3, ?4) "
                                    "ON CONFLICT (peer_id, pack_id) DO UPDATE SET size = excluded.size"),
                          &hosted_row, &hosted);
        return r < 0 ? r : 0;
}

int index_hosted_get(struct index *idx, const struct oid *peer, const struct oid *pack,
                     struct index_hosted *ret)
{
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " HOSTED_COLUMNS " FROM hosted "
                                         "WHERE peer_id = ?1 AND pack_id = ?2",
                                         INDEX_VALUE_OID(peer), INDEX_VALUE_OID(pack)),
                             &hosted_row, ret);
}

int index_hosted_remove(struct index *idx, const struct oid *peer, const struct oid *pack)
{
        return index_row_exec_one(idx,
                                  INDEX_QUERY("DELETE FROM hosted WHERE peer_id = ?1 AND pack_id = ?2",
                                              INDEX_VALUE_OID(peer), INDEX_VALUE_OID(pack)));
}

int index_hosted_usage(struct index *idx, const struct oid *peer, uint64_t *ret_bytes,
                       uint64_t *ret_count)
{
        struct hosted_usage usage;
        int r;

        r = index_row_get(idx,
                          INDEX_QUERY("SELECT coalesce(sum(size), 0), count(*) FROM hosted "
                                      "WHERE peer_id = ?1",
                                      INDEX_VALUE_OID(peer)),
                          &usage_row, &usage);
        if (r < 0)
                return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
        if (ret_bytes)
                *ret_bytes = usage.bytes;
        if (ret_count)
                *ret_count = usage.count;
        return 0;
}

int index_hosted_foreach(struct index *idx, const struct oid *peer, index_hosted_cb cb,
                         void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " HOSTED_COLUMNS " FROM hosted "
                                             "WHERE peer_id = ?1 ORDER BY pack_id",
                                             INDEX_VALUE_OID(peer)),
                                 &hosted_row, (union index_visitor){ .hosted = cb }, userdata);
}
