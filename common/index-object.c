/* SPDX-License-Identifier: MIT */
/* Object rows (table objects): where each object lives (pack, offset,
 * length). The stored-check (dedupe: not in a condemned pack) and the lookup
 * are the backup and restore hot paths (cached statements). Rows are added with their pack (index-pack.c) or in
 * batches; an id already present keeps its location unless its pack is
 * condemned by prune: then the new copy takes the row. */
#include "index-private.h"

#include <errno.h>

static int object_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.object(row, userdata);
}

static const struct index_column object_columns[] = {
        INDEX_COLUMN_OID(struct index_object, id, 0),
        INDEX_COLUMN_INT(struct index_object, type, 0),
        INDEX_COLUMN_OID(struct index_object, pack, 0),
        INDEX_COLUMN_UINT64(struct index_object, offset, 0),
        INDEX_COLUMN_UINT32(struct index_object, length, 0),
};
const struct index_row index_object_row = INDEX_ROW(struct index_object, object_columns, 0, object_visit);
/* The columns after the id: a lookup by id. */
static const struct index_row object_location_row =
        INDEX_ROW(struct index_object, object_columns, 1, NULL);

int index_object_exists(struct index *idx, const struct oid *id)
{
        return index_row_exists(idx, INDEX_CACHED(STMT_OBJECT_EXISTS,
                                                  "SELECT 1 FROM objects WHERE id = ?1",
                                                  INDEX_VALUE_OID(id)));
}

int index_object_stored(struct index *idx, const struct oid *id)
{
        return index_row_exists(idx, INDEX_CACHED(STMT_OBJECT_STORED,
                                                  "SELECT 1 FROM objects o JOIN packs p ON p.id = o.pack_id "
                                                  "WHERE o.id = ?1 AND p.condemned_ns = 0",
                                                  INDEX_VALUE_OID(id)));
}

int index_object_lookup(struct index *idx, const struct oid *id, struct index_object *ret)
{
        struct index_object o;
        int r;

        r = index_row_get(idx,
                          INDEX_CACHED(STMT_OBJECT_LOOKUP,
                                       "SELECT type, pack_id, offset, length FROM objects "
                                       "WHERE id = ?1",
                                       INDEX_VALUE_OID(id)),
                          &object_location_row, &o);
        if (r < 0)
                return r;
        o.id = *id;
        *ret = o;
        return 0;
}

int index_object_insert(struct index *idx, const struct index_object *object)
{
        int r;

        if (object->offset > INT64_MAX)
                return -EINVAL;
        r = index_row_put(idx,
                          INDEX_CACHED_SQL(STMT_OBJECT_INSERT,
                                           "INSERT INTO objects (" OBJECT_COLUMNS ") "
                                           "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET "
                                           "pack_id = excluded.pack_id, offset = excluded.offset, "
                                           "length = excluded.length WHERE (SELECT condemned_ns FROM "
                                           "packs WHERE packs.id = objects.pack_id) != 0"),
                          &index_object_row, object);
        return r < 0 ? r : 0;
}

int index_object_add_batch(struct index *idx, const struct index_object *objects, size_t n)
{
        int r;

        r = index_begin(idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = index_object_insert(idx, &objects[i]);
        return index_end(idx, r);
}

/* Only the id: the start-up scan of every object keeps nothing else. */
static const struct index_column object_id_columns[] = {
        INDEX_COLUMN_OID(struct index_object, id, 0),
};
static const struct index_row object_id_row = INDEX_ROW(struct index_object, object_id_columns, 0, object_visit);

int index_object_foreach_id(struct index *idx, index_object_cb cb, void *userdata)
{
        return index_row_foreach(idx, INDEX_SQL("SELECT id FROM objects"), &object_id_row,
                                 (union index_visitor){ .object = cb }, userdata);
}

int index_object_foreach(struct index *idx, index_object_cb cb, void *userdata)
{
        return index_row_foreach(idx, INDEX_SQL("SELECT " OBJECT_COLUMNS " FROM objects ORDER BY id"),
                                 &index_object_row, (union index_visitor){ .object = cb }, userdata);
}

int index_object_foreach_type(struct index *idx, int type, index_object_cb cb, void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " OBJECT_COLUMNS " FROM objects "
                                             "WHERE type = ?1 ORDER BY id",
                                             INDEX_VALUE_INT64(type)),
                                 &index_object_row, (union index_visitor){ .object = cb }, userdata);
}

int index_object_foreach_in_pack(struct index *idx, const struct oid *pack, index_object_cb cb,
                                 void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " OBJECT_COLUMNS " FROM objects "
                                             "WHERE pack_id = ?1 ORDER BY offset",
                                             INDEX_VALUE_OID(pack)),
                                 &index_object_row, (union index_visitor){ .object = cb }, userdata);
}
