/* SPDX-License-Identifier: MIT */
/* The queries of prune (docs/prune.md): objects by pack for the usage
 * count, marking packs condemned (and back), retiring a condemned pack (its row, objects and replicas go;
 * what remains to delete, here and on every store, goes to pack_deletes)
 * and the delete queue the replicator and start-up work through. */
#include "index-private.h"

#include <errno.h>

int index_prune_foreach_object_by_pack(struct index *idx, index_object_cb cb, void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_SQL("SELECT " OBJECT_COLUMNS " FROM objects ORDER BY pack_id, offset"),
                                 &index_object_row, (union index_visitor){ .object = cb }, userdata);
}

static const struct index_column pack_columns[] = {
        INDEX_COLUMN_OID(struct index_prune_pack, id, 0),
        INDEX_COLUMN_UINT64(struct index_prune_pack, size, 0),
        INDEX_COLUMN_INT64(struct index_prune_pack, created_ns, 0),
        INDEX_COLUMN_INT(struct index_prune_pack, local, 0),
        INDEX_COLUMN_INT64(struct index_prune_pack, condemned_ns, 0),
};
static const struct index_row pack_row = INDEX_ROW(struct index_prune_pack, pack_columns, 0, NULL);

int index_prune_foreach_pack(struct index *idx, int condemned_only, index_prune_pack_cb cb, void *userdata)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        struct index_prune_pack row;
        int r;

        r = index_row_open(idx,
                           INDEX_QUERY("SELECT id, size, created_ns, local, condemned_ns FROM packs "
                                       "WHERE ?1 = 0 OR condemned_ns != 0 ORDER BY id",
                                       INDEX_VALUE_INT64(condemned_only)),
                           &c);
        while (r >= 0 && (r = index_row_next(&c, &pack_row, &row)) > 0) {
                r = cb(&row, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_prune_condemn(struct index *idx, const struct oid *pack, int64_t ns)
{
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE packs SET condemned_ns = ?2 WHERE id = ?1",
                                                   INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(ns)));
}

int index_prune_pack_state(struct index *idx, const struct oid *pack)
{
        int condemned = 0;
        int r = index_row_get(idx, INDEX_QUERY("SELECT condemned_ns != 0 FROM packs WHERE id = ?1", INDEX_VALUE_OID(pack)),
                              &index_row_int, &condemned);
        return r < 0 ? r : condemned;
}

int index_prune_release_all(struct index *idx)
{
        return index_row_exec(idx, INDEX_SQL("UPDATE packs SET condemned_ns = 0 WHERE condemned_ns != 0"));
}

int index_prune_retire(struct index *idx, const struct oid *pack, int64_t after_ns)
{
        /* the deletes come after the packs the repack wrote, by the clock
         * or by after_ns: a clock set back since then must not let the old
         * copies go before the new ones are on the store */
        int64_t now = MAX(index_now_ns(), after_ns);
        int r = index_begin(idx);

        if (r < 0)
                return r;
        /* the local file (store 0; also when the row says evicted: a crash
         * may have left the file) and every store, one an upload in flight
         * is about to reach too (ENOENT is fine) */
        r = index_row_exec(idx, INDEX_QUERY("INSERT OR IGNORE INTO pack_deletes (pack_id, store_id, size, created_ns) "
                                            "SELECT id, 0, size, ?2 FROM packs WHERE id = ?1 "
                                            "UNION ALL SELECT p.id, s.id, p.size, ?2 FROM packs p, stores s "
                                            "WHERE p.id = ?1",
                                            INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(now)));
        if (r >= 0)
                r = index_row_exec_one(idx, INDEX_QUERY("DELETE FROM packs WHERE id = ?1 AND condemned_ns != 0",
                                                        INDEX_VALUE_OID(pack)));
        return index_end(idx, r);
}

static const struct index_column delete_columns[] = {
        INDEX_COLUMN_OID(struct index_pack_delete, pack, 0),
        INDEX_COLUMN_INT64(struct index_pack_delete, store_id, 0),
        INDEX_COLUMN_UINT64(struct index_pack_delete, size, 0),
        INDEX_COLUMN_INT64(struct index_pack_delete, created_ns, 0),
};
static const struct index_row delete_row = INDEX_ROW(struct index_pack_delete, delete_columns, 0, NULL);

int index_pack_deletes_page(struct index *idx, int64_t store_id, unsigned copies, bool any_order, size_t limit,
                            index_pack_delete_cb cb, void *userdata)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        struct index_pack_delete row;
        int r;

        if (limit == 0 || limit > INT64_MAX)
                return -EINVAL;
        r = index_row_open(idx,
                           /* not indexed again meanwhile; on a store, only once every pack
                            * older than the delete (the repacked copies) is there */
                           INDEX_QUERY("SELECT d.pack_id, d.store_id, d.size, d.created_ns FROM pack_deletes d "
                                       "WHERE d.store_id = ?1 AND NOT EXISTS (SELECT 1 FROM packs x WHERE "
                                       "x.id = d.pack_id) AND (?1 = 0 OR ?4 OR NOT EXISTS (SELECT 1 FROM packs p "
                                       "WHERE p.created_ns <= d.created_ns AND " PENDING_WHERE ")) "
                                       "ORDER BY d.created_ns, d.pack_id LIMIT ?3",
                                       INDEX_VALUE_INT64(store_id), INDEX_VALUE_INT64(copies),
                                       INDEX_VALUE_INT64((int64_t)limit), INDEX_VALUE_INT64(any_order ? 1 : 0)),
                           &c);
        while (r >= 0 && (r = index_row_next(&c, &delete_row, &row)) > 0) {
                r = cb(&row, userdata);
                if (r != 0)
                        return r;
        }
        return r;
}

int index_pack_delete_done(struct index *idx, const struct oid *pack, int64_t store_id)
{
        int r = index_row_exec(idx, INDEX_QUERY("DELETE FROM pack_deletes WHERE pack_id = ?1 AND store_id = ?2",
                                               INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id)));
        return r < 0 ? r : 0;
}

int index_pack_delete_queued(struct index *idx, const struct oid *pack, int64_t store_id)
{
        return index_row_exists(idx, INDEX_QUERY("SELECT 1 FROM pack_deletes WHERE pack_id = ?1 AND store_id = ?2",
                                                 INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id)));
}

static const struct index_column counts_columns[] = {
        INDEX_COLUMN_UINT64(struct index_prune_counts, condemned_packs, 0),
        INDEX_COLUMN_UINT64(struct index_prune_counts, condemned_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_prune_counts, delete_packs, 0),
        INDEX_COLUMN_UINT64(struct index_prune_counts, delete_bytes, 0),
};
static const struct index_row counts_row = INDEX_ROW(struct index_prune_counts, counts_columns, 0, NULL);

int index_prune_counts(struct index *idx, int64_t store_id, struct index_prune_counts *ret)
{
        int r = index_row_get(idx,
                              /* one pass over each table: status asks on the loop */
                              INDEX_QUERY("SELECT c.n, c.bytes, d.n, d.bytes FROM "
                                          "(SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM packs "
                                          "WHERE condemned_ns != 0) c, "
                                          "(SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM pack_deletes "
                                          "WHERE ?1 < 0 OR store_id = ?1) d",
                                          INDEX_VALUE_INT64(store_id)),
                              &counts_row, ret);
        return r == -ENOENT ? -EIO : r;
}
