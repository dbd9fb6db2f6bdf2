/* SPDX-License-Identifier: MIT */
/* The counts for status (struct index_stats): objects, packs and their bytes
 * (all and local, and the padding in them), snapshots, roots and bytes
 * hosted for peers, in one read. */
#include "index-private.h"

#include <errno.h>

#include "pack.h"

/* Of the packs whose record bytes are known: their size less the records,
 * how many they are, and how many records they hold. */
struct padding_sums {
        int64_t beyond_records;
        uint64_t n_packs, n_records;
};
/* One statement, so that every count comes from the same snapshot of the
 * index (two SELECTs could straddle a commit). */
struct stats_read {
        struct index_stats s;
        struct padding_sums p;
};
static const struct index_column stats_columns[] = {
        INDEX_COLUMN_UINT64(struct stats_read, s.n_objects, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.n_packs, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.pack_bytes, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.local_bytes, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.n_local_packs, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.n_snapshots, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.n_roots, 0),
        INDEX_COLUMN_UINT64(struct stats_read, s.hosted_bytes, 0),
        INDEX_COLUMN_INT64(struct stats_read, p.beyond_records, 0),
        INDEX_COLUMN_UINT64(struct stats_read, p.n_packs, 0),
        INDEX_COLUMN_UINT64(struct stats_read, p.n_records, 0),
};
static const struct index_row stats_row = INDEX_ROW(struct stats_read, stats_columns, 0, NULL);

int index_stats(struct index *idx, struct index_stats *ret)
{
        struct stats_read row = {0};
        int r = index_row_get(idx,
                              INDEX_SQL("SELECT (SELECT count(*) FROM objects),"
                                        " (SELECT count(*) FROM packs),"
                                        " (SELECT coalesce(sum(size), 0) FROM packs),"
                                        " (SELECT coalesce(sum(size), 0) FROM packs WHERE local),"
                                        " (SELECT count(*) FROM packs WHERE local),"
                                        " (SELECT count(*) FROM snapshots),"
                                        " (SELECT count(*) FROM roots),"
                                        " (SELECT coalesce(sum(size), 0) FROM hosted),"
                                        " padding.*"
                                        " FROM (SELECT coalesce(sum(size - record_bytes), 0), count(*),"
                                        " coalesce(sum(n_objects), 0) FROM packs WHERE record_bytes > 0)"
                                        " AS padding"),
                              &stats_row, &row);
        if (r < 0)
                return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
        const struct padding_sums p = row.p;
        *ret = row.s;
        /* each pack: its header (a fixed part and an entry per record) and
         * its trailer; the rest beyond the records is padding */
        uint64_t framing = p.n_packs * (pack_header_size(0) + PACK_TRAILER_SIZE) + p.n_records * PACK_ENTRY_SIZE;
        ret->padding_bytes = p.beyond_records > 0 && (uint64_t)p.beyond_records > framing
                                     ? (uint64_t)p.beyond_records - framing
                                     : 0;
        return 0;
}
