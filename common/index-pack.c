/* SPDX-License-Identifier: MIT */
/* Pack rows (table packs): a sealed pack is recorded with all its object rows
 * in one transaction (index_pack_add/commit, also the reindex's way back in),
 * looked up, marked present or evicted locally, deleted with its objects and
 * replica rows (ON DELETE CASCADE), and listed. */
#include "index-private.h"

#include <errno.h>

static int pack_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.pack(row, userdata);
}

static const struct index_column pack_columns[] = {
        INDEX_COLUMN_OID(struct index_pack, id, 0),
        INDEX_COLUMN_UINT64(struct index_pack, size, 0),
        INDEX_COLUMN_UINT32(struct index_pack, n_objects, 0),
        INDEX_COLUMN_INT64(struct index_pack, created_ns, 0),
        INDEX_COLUMN_INT(struct index_pack, local, 0),
        INDEX_COLUMN_UINT64(struct index_pack, record_bytes, 0),
};
const struct index_row index_pack_row = INDEX_ROW(struct index_pack, pack_columns, 0, pack_visit);

int index_pack_add(struct index *idx, const struct oid *pack_id, uint64_t size, int64_t created_ns,
                   int local, const struct index_pack_entry *entries, size_t n)
{
        struct index_pack pack;
        int r;

        if (!pack_id || (n && !entries) || size > INT64_MAX || n > UINT32_MAX)
                return -EINVAL;
        pack = (struct index_pack){
                .id = *pack_id,
                .size = size,
                .n_objects = (uint32_t)n,
                .created_ns = created_ns ? created_ns : index_now_ns(),
                .local = !!local,
        };
        for (size_t i = 0; i < n; i++)
                pack.record_bytes += entries[i].length;
        r = index_begin(idx);
        if (r < 0)
                return r;
        r = index_row_put(idx,
                          INDEX_CACHED_SQL(STMT_PACK_UPSERT,
                                           "INSERT INTO packs (" INDEX_PACK_COLUMNS ") "
                                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE "
                                           "SET size = excluded.size, n_objects = excluded.n_objects, "
                                           "local = excluded.local, record_bytes = excluded.record_bytes"),
                          &index_pack_row, &pack);
        if (r >= 0)
                r = index_reindex_seen(idx, pack_id);
        /* indexed again (a reindex or recover found it on a store): live, so
         * the deletes a prune queued for it are off */
        if (r >= 0)
                r = index_row_exec(idx, INDEX_QUERY("DELETE FROM pack_deletes WHERE pack_id = ?1",
                                                    INDEX_VALUE_OID(pack_id)));
        for (size_t i = 0; i < n && r >= 0; i++) {
                const struct index_object object = {
                        .id = entries[i].id,
                        .type = entries[i].type,
                        .pack = *pack_id,
                        .offset = entries[i].offset,
                        .length = entries[i].length,
                };

                r = index_object_insert(idx, &object);
        }
        return index_end(idx, r);
}

int index_pack_commit(struct index *idx, const struct oid *pack_id, uint64_t size,
                      const struct index_pack_entry *entries, size_t n)
{
        return index_pack_add(idx, pack_id, size, 0, 1, entries, n);
}

int index_pack_lookup(struct index *idx, const struct oid *id, struct index_pack *ret)
{
        return index_row_get(idx,
                             INDEX_CACHED(STMT_PACK_LOOKUP,
                                          "SELECT " INDEX_PACK_COLUMNS " FROM packs WHERE id = ?1",
                                          INDEX_VALUE_OID(id)),
                             &index_pack_row, ret);
}

int index_pack_set_local(struct index *idx, const struct oid *id, int local)
{
        return index_row_exec_one(idx, local ? INDEX_QUERY("UPDATE packs SET local = 1 WHERE id = ?1",
                                                           INDEX_VALUE_OID(id))
                                             : INDEX_QUERY("UPDATE packs SET local = 0 WHERE id = ?1",
                                                           INDEX_VALUE_OID(id)));
}

int index_pack_delete(struct index *idx, const struct oid *id)
{
        /* objects and replicas go with it (ON DELETE CASCADE) */
        return index_row_exec_one(idx, INDEX_QUERY("DELETE FROM packs WHERE id = ?1",
                                                   INDEX_VALUE_OID(id)));
}

int index_pack_foreach(struct index *idx, index_pack_cb cb, void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_SQL("SELECT " INDEX_PACK_COLUMNS " FROM packs ORDER BY id"),
                                 &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}
