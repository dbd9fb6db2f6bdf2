/* SPDX-License-Identifier: MIT */
/* The index side of a reindex: one transaction that clears the object rows,
 * marks each pack added again (temp table reindex_seen) and at the end drops
 * the packs not seen, so replica rows and created_ns of surviving packs stay.
 * Reading the packs is common/reindex.c; snapshot rows are the daemon's. */
#include "index-private.h"

#include <errno.h>

int index_reindex_begin(struct index *idx)
{
        int r;

        if (idx->reindexing || idx->depth > 0)
                return -EBUSY;
        r = index_begin(idx);
        if (r < 0)
                return r;
        r = index_exec(idx, "CREATE TEMP TABLE IF NOT EXISTS reindex_seen (id BLOB PRIMARY KEY) "
                            "WITHOUT ROWID;"
                            "DELETE FROM temp.reindex_seen;"
                            "DELETE FROM objects;");
        if (r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        idx->reindexing = 1;
        return 0;
}

int index_reindex_seen(struct index *idx, const struct oid *pack)
{
        int r;

        if (!idx->reindexing)
                return 0;
        r = index_row_exec(idx, INDEX_CACHED(STMT_REINDEX_SEEN,
                                             "INSERT OR IGNORE INTO temp.reindex_seen (id) VALUES (?1)",
                                             INDEX_VALUE_OID(pack)));
        return r < 0 ? r : 0;
}

int index_reindex_end(struct index *idx, int commit)
{
        int r = 0;

        if (!idx->reindexing)
                return -EINVAL;
        idx->reindexing = 0;
        /* The cached REINDEX_SEEN statement refers to the temp table. */
        index_row_forget(idx, STMT_REINDEX_SEEN);
        /* Packs gone for good take objects with them that file-cache rows
         * may name: those rows would make the next snapshot record ids
         * that exist nowhere for files it does not read again. Then the
         * whole cache goes (the next snapshot reads every file once). */
        if (commit)
                r = index_exec(idx, "DELETE FROM file_cache WHERE EXISTS (SELECT 1 FROM packs WHERE id NOT IN "
                                    "(SELECT id FROM temp.reindex_seen));"
                                    "DELETE FROM packs WHERE id NOT IN (SELECT id FROM "
                                    "temp.reindex_seen);"
                                    "DROP TABLE temp.reindex_seen;");
        if (!commit || r < 0) {
                (void)index_rollback(idx);
                return r;
        }
        return index_commit(idx);
}
