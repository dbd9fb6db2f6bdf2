/* SPDX-License-Identifier: MIT */
/* Packs hosted for peers (table hosted): which packs this node stores for
 * which peer, their sizes (for the peer's quota), when each arrived (a pack
 * stored again keeps its first created_ns) and the deferred delete: a DELETE
 * only marks a pack (deleted_ns), marked packs still count in the quota, and
 * the purge finds the marks whose delay has run out. The bytes are the
 * daemon's (daemon/peer-host.c); the peers' delays are index-peer.c's. */
#include "index-private.h"

#include <errno.h>

#define HOSTED_COLUMNS "peer_id, pack_id, size, created_ns, deleted_ns"

static int hosted_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.hosted(row, userdata);
}

static const struct index_column hosted_columns[] = {
        INDEX_COLUMN_OID(struct index_hosted, peer, 0),
        INDEX_COLUMN_OID(struct index_hosted, pack, 0),
        INDEX_COLUMN_UINT64(struct index_hosted, size, 0),
        INDEX_COLUMN_INT64(struct index_hosted, created_ns, 0),
        INDEX_COLUMN_INT64(struct index_hosted, deleted_ns, 0),
};
static const struct index_row hosted_row =
        INDEX_ROW(struct index_hosted, hosted_columns, 0, hosted_visit);

static const struct index_column usage_columns[] = {
        INDEX_COLUMN_UINT64(struct index_hosted_usage, bytes, 0),
        INDEX_COLUMN_UINT64(struct index_hosted_usage, packs, 0),
        INDEX_COLUMN_UINT64(struct index_hosted_usage, marked_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_hosted_usage, marked_packs, 0),
};
static const struct index_row usage_row =
        INDEX_ROW(struct index_hosted_usage, usage_columns, 0, NULL);

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
        /* a pack stored again (a re-upload replacing a marked copy) is unmarked */
        r = index_row_put(idx,
                          INDEX_SQL("INSERT INTO hosted (" HOSTED_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5) "
                                    "ON CONFLICT (peer_id, pack_id) DO UPDATE SET size = excluded.size,"
                                    " deleted_ns = 0"),
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

int index_hosted_mark(struct index *idx, const struct oid *peer, const struct oid *pack, int64_t now_ns,
                      int64_t *ret_deleted_ns)
{
        struct index_hosted hosted;
        int r;

        if (now_ns <= 0)
                return -EINVAL;
        /* a second DELETE keeps the first mark: the delay is not restarted */
        r = index_row_exec(idx, INDEX_QUERY("UPDATE hosted SET deleted_ns = ?3 "
                                            "WHERE peer_id = ?1 AND pack_id = ?2 AND deleted_ns = 0",
                                            INDEX_VALUE_OID(peer), INDEX_VALUE_OID(pack),
                                            INDEX_VALUE_INT64(now_ns)));
        if (r < 0)
                return r;
        r = index_hosted_get(idx, peer, pack, &hosted);
        if (r < 0)
                return r;
        if (ret_deleted_ns)
                *ret_deleted_ns = hosted.deleted_ns;
        return 0;
}

int index_hosted_mark_all(struct index *idx, const struct oid *peer, int64_t now_ns)
{
        if (now_ns <= 0)
                return -EINVAL;
        return index_row_exec(idx, INDEX_QUERY("UPDATE hosted SET deleted_ns = ?2 "
                                               "WHERE peer_id = ?1 AND deleted_ns = 0",
                                               INDEX_VALUE_OID(peer), INDEX_VALUE_INT64(now_ns)));
}

int index_hosted_unmark(struct index *idx, const struct oid *peer, const struct oid *pack)
{
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE hosted SET deleted_ns = 0 "
                                                   "WHERE peer_id = ?1 AND pack_id = ?2",
                                                   INDEX_VALUE_OID(peer), INDEX_VALUE_OID(pack)));
}

int index_hosted_usage(struct index *idx, const struct oid *peer, struct index_hosted_usage *ret)
{
        struct index_hosted_usage usage;
        int r;

        r = index_row_get(idx,
                          INDEX_QUERY("SELECT coalesce(sum(size), 0), count(*),"
                                      " coalesce(sum(CASE WHEN deleted_ns THEN size END), 0),"
                                      " count(CASE WHEN deleted_ns THEN 1 END) "
                                      "FROM hosted WHERE peer_id = ?1",
                                      INDEX_VALUE_OID(peer)),
                          &usage_row, &usage);
        if (r < 0)
                return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
        *ret = usage;
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

int index_hosted_page(struct index *idx, const struct oid *peer, const struct oid *after, size_t limit,
                      index_hosted_cb cb, void *userdata)
{
        static const struct oid none;

        if (limit > INT64_MAX)
                return -EINVAL;
        /* no id sorts before the all-zero one except itself, hence >= for a first page */
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " HOSTED_COLUMNS " FROM hosted "
                                             "WHERE peer_id = ?1 AND (pack_id > ?2 OR (?3 AND pack_id = ?2)) "
                                             "ORDER BY pack_id LIMIT ?4",
                                             INDEX_VALUE_OID(peer), INDEX_VALUE_OID(after ? after : &none),
                                             INDEX_VALUE_INT64(!after), INDEX_VALUE_INT64((int64_t)limit)),
                                 &hosted_row, (union index_visitor){ .hosted = cb }, userdata);
}

int index_hosted_foreach_expired(struct index *idx, int64_t now_ns, int64_t default_delay_ns,
                                 index_hosted_cb cb, void *userdata)
{
        /* an approved peer's own delay; the default for packs of a removed
         * peer (which may have come back as a pending node since) */
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT h.peer_id, h.pack_id, h.size, h.created_ns, h.deleted_ns "
                                             "FROM hosted h LEFT JOIN peers p ON p.id = h.peer_id "
                                             "WHERE h.deleted_ns > 0 AND "
                                             " h.deleted_ns <= ?1 - coalesce(CASE WHEN p.approved THEN p.delete_delay_ns END, ?2) "
                                             "ORDER BY h.peer_id, h.pack_id",
                                             INDEX_VALUE_INT64(now_ns), INDEX_VALUE_INT64(default_delay_ns)),
                                 &hosted_row, (union index_visitor){ .hosted = cb }, userdata);
}
