/* SPDX-License-Identifier: MIT */
/* Snapshot rows (table snapshots): one per snapshot object, with its root,
 * time, tree, parent and counters, so listings and retention need no object
 * reads. Looked up by id, by a unique hex prefix, or as a root's latest.
 * Rows keep their root_id after the root is removed (no foreign key). */
#include "index-private.h"

#include <errno.h>
#include <string.h>

#define SNAPSHOT_COLUMNS                                                              \
        "id, root_id, time_ns, tree_id, parent, hostname, tags, files, dirs, bytes, " \
        "new_bytes, errors, files_read, root_path"

static int snapshot_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.snapshot(row, userdata);
}

static const struct index_column snapshot_columns[] = {
        INDEX_COLUMN_OID(struct index_snapshot, id, 0),
        INDEX_COLUMN_INT64(struct index_snapshot, root_id, 0),
        INDEX_COLUMN_INT64(struct index_snapshot, time_ns, 0),
        INDEX_COLUMN_OID(struct index_snapshot, tree, 0),
        INDEX_COLUMN_OID(struct index_snapshot, parent, INDEX_ZERO_IS_NULL), /* none: NULL */
        INDEX_COLUMN_TEXT(struct index_snapshot, hostname, 0),
        INDEX_COLUMN_TEXT(struct index_snapshot, tags, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, files, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, dirs, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, bytes, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, new_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, errors, 0),
        INDEX_COLUMN_UINT64(struct index_snapshot, files_read, 0),
        INDEX_COLUMN_PATH(struct index_snapshot, root_path, 0),
};
static const struct index_row snapshot_row =
        INDEX_ROW(struct index_snapshot, snapshot_columns, 0, snapshot_visit);

void index_snapshot_done(struct index_snapshot *snapshot)
{
        index_row_free(&snapshot_row, snapshot);
}

int index_snapshot_add(struct index *idx, const struct index_snapshot *sn)
{
        int r;

        if (!sn)
                return -EINVAL;
        r = index_row_put(idx,
                          INDEX_SQL("INSERT INTO snapshots (" SNAPSHOT_COLUMNS ") VALUES "
                                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                          &snapshot_row, sn);
        return r < 0 ? r : 0;
}

int index_snapshot_get(struct index *idx, const struct oid *id, struct index_snapshot *ret)
{
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE id = ?1",
                                         INDEX_VALUE_OID(id)),
                             &snapshot_row, ret);
}

int index_snapshot_find_prefix(struct index *idx, const char *prefix, struct index_snapshot *ret)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        struct index_snapshot first;
        struct oid lo;
        uint8_t hi[OID_SIZE + 1];
        size_t nbytes;
        int r, len, carry = 1;

        if (!prefix)
                return -EINVAL;
        len = oid_prefix_from_hex(prefix, &lo);
        if (len < 0)
                return len;
        /* Ids in [lo, hi) start with the prefix: lo is the prefix bytes (an odd
         * last nibble padded with 0), hi is lo plus one unit in the last
         * prefix nibble. BLOBs compare as memcmp, then shorter first. */
        nbytes = ((size_t)len + 1) / 2;
        memcpy(hi, lo.bytes, nbytes);
        for (size_t i = nbytes; i-- > 0 && carry;) {
                unsigned add = (i == nbytes - 1 && len % 2) ? 0x10 : 1;
                unsigned v = hi[i] + add;

                hi[i] = (uint8_t)v;
                carry = v > 0xff;
        }
        if (carry) {
                /* prefix of all f: 33 bytes of 0xff sort after every id */
                memset(hi, 0xff, sizeof(hi));
        }

        r = index_row_open(idx,
                           INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                       "WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2",
                                       INDEX_VALUE_BYTES(lo.bytes, nbytes),
                                       INDEX_VALUE_BYTES(hi, carry ? sizeof(hi) : nbytes)),
                           &c);
        if (r < 0)
                return r;
        r = index_row_next_owned(&c, &snapshot_row, &first);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = index_row_next(&c, NULL, NULL);
        if (r != 0) {
                index_snapshot_done(&first);
                return r < 0 ? r : -ENOTUNIQ;
        }
        *ret = first;
        return 0;
}

int index_snapshot_latest(struct index *idx, int64_t root_id, struct index_snapshot *ret)
{
        return index_row_get(idx,
                             INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                         "WHERE root_id = ?1 ORDER BY time_ns DESC, id DESC LIMIT 1",
                                         INDEX_VALUE_INT64(root_id)),
                             &snapshot_row, ret);
}

int index_snapshot_latest_containing(struct index *idx, const char *path,
                                     struct index_snapshot *ret)
{
        int roots = 0, r;

        if (path)
                /* the deepest root path that is path or one of its parents */
                return index_row_get(
                        idx,
                        INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                    "WHERE length(root_path) > 0 AND (root_path = ?1 OR "
                                    "substr(?1, 1, length(root_path) + 1) = CAST(root_path || '/' AS BLOB) OR "
                                    /* the root directory: every absolute path is in it */
                                    "(root_path = CAST('/' AS BLOB) AND substr(?1, 1, 1) = CAST('/' AS BLOB))) "
                                    "ORDER BY length(root_path) DESC, time_ns DESC, id DESC LIMIT 1",
                                    INDEX_VALUE_PATH(path)),
                        &snapshot_row, ret);
        r = index_row_get(idx, INDEX_SQL("SELECT count(DISTINCT root_path) FROM snapshots"),
                          &index_row_int, &roots);
        if (r < 0)
                return r;
        if (roots > 1)
                return -ENOTUNIQ;
        return index_row_get(idx,
                             INDEX_SQL("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                       "ORDER BY time_ns DESC, id DESC LIMIT 1"),
                             &snapshot_row, ret);
}

int index_snapshot_delete(struct index *idx, const struct oid *id)
{
        return index_row_exec_one(idx, INDEX_QUERY("DELETE FROM snapshots WHERE id = ?1",
                                                   INDEX_VALUE_OID(id)));
}

int index_snapshot_foreach(struct index *idx, int64_t root_id, index_snapshot_cb cb,
                           void *userdata)
{
        const union index_visitor visitor = { .snapshot = cb };

        if (root_id < 0)
                return index_row_foreach(idx,
                                         INDEX_SQL("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                                   "ORDER BY time_ns, id"),
                                         &snapshot_row, visitor, userdata);
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                             "WHERE root_id = ?1 ORDER BY time_ns, id",
                                             INDEX_VALUE_INT64(root_id)),
                                 &snapshot_row, visitor, userdata);
}

int index_snapshot_page(struct index *idx, int64_t root_id, const struct index_snapshot *after, size_t limit,
                        index_snapshot_cb cb, void *userdata)
{
        const union index_visitor visitor = { .snapshot = cb };
        static const struct oid none; /* below every id: time_ns INT64_MIN starts at the first row */
        int64_t t = after ? after->time_ns : INT64_MIN;
        const struct oid *id = after ? &after->id : &none;
        int64_t n = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;

        if (root_id < 0)
                return index_row_foreach(idx,
                                         INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                                     "WHERE (time_ns, id) > (?1, ?2) "
                                                     "ORDER BY time_ns, id LIMIT ?3",
                                                     INDEX_VALUE_INT64(t), INDEX_VALUE_OID(id),
                                                     INDEX_VALUE_INT64(n)),
                                         &snapshot_row, visitor, userdata);
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
                                             "WHERE root_id = ?1 AND (time_ns, id) > (?2, ?3) "
                                             "ORDER BY time_ns, id LIMIT ?4",
                                             INDEX_VALUE_INT64(root_id), INDEX_VALUE_INT64(t),
                                             INDEX_VALUE_OID(id), INDEX_VALUE_INT64(n)),
                                 &snapshot_row, visitor, userdata);
}
