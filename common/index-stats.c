/* SPDX-License-Identifier: MIT */
/* The counts for status (struct index_stats): objects, packs and their bytes
 * (all and local), snapshots, roots and bytes hosted for peers, in one read. */
#include "index-private.h"

#include <errno.h>

static const struct index_column stats_columns[] = {
        INDEX_COLUMN_UINT64(struct index_stats, n_objects, 0),
        INDEX_COLUMN_UINT64(struct index_stats, n_packs, 0),
        INDEX_COLUMN_UINT64(struct index_stats, pack_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_stats, local_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_stats, n_local_packs, 0),
        INDEX_COLUMN_UINT64(struct index_stats, n_snapshots, 0),
        INDEX_COLUMN_UINT64(struct index_stats, n_roots, 0),
        INDEX_COLUMN_UINT64(struct index_stats, hosted_bytes, 0),
};
static const struct index_row stats_row = INDEX_ROW(struct index_stats, stats_columns, 0, NULL);

int index_stats(struct index *idx, struct index_stats *ret)
{
        int r = index_row_get(idx,
                              INDEX_SQL("SELECT (SELECT count(*) FROM objects),"
                                        " (SELECT count(*) FROM packs),"
                                        " (SELECT coalesce(sum(size), 0) FROM packs),"
                                        " (SELECT coalesce(sum(size), 0) FROM packs WHERE local),"
                                        " (SELECT count(*) FROM packs WHERE local),"
                                        " (SELECT count(*) FROM snapshots),"
                                        " (SELECT count(*) FROM roots),"
                                        " (SELECT coalesce(sum(size), 0) FROM hosted)"),
                              &stats_row, ret);

        return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
}
