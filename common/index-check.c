/* SPDX-License-Identifier: MIT */
/* What chutectl check asks the index about its own consistency: object rows
 * whose pack has no row (the foreign key prevents them; a damaged or
 * hand-edited index.db may still hold some). One read. */
#include "index-private.h"

#include <errno.h>

static const struct index_column check_columns[] = {
        INDEX_COLUMN_UINT64(struct index_check_counts, orphan_objects, 0),
};
static const struct index_row check_row = INDEX_ROW(struct index_check_counts, check_columns, 0, NULL);

int index_check_counts(struct index *idx, struct index_check_counts *ret)
{
        int r = index_row_get(idx,
                              INDEX_SQL("SELECT (SELECT count(*) FROM objects o WHERE NOT EXISTS"
                                        " (SELECT 1 FROM packs p WHERE p.id = o.pack_id))"),
                              &check_row, ret);

        return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
}
