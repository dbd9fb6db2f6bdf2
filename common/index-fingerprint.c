/* SPDX-License-Identifier: MIT */
/* Chunk fingerprints (table chunk_fingerprints, docs/fingerprints.md): a
 * local cache from a chunk's keyed fingerprint to its object id, so that a
 * changed big file's unchanged chunks need not be hashed with HMAC-SHA256
 * again. A row may outlive its object (prune drops such rows): a hit then
 * stores the chunk again under the same id. */
#include "index-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fingerprint_row {
        struct oid id;
        void *tag;
        size_t tag_len;
};
static const struct index_column fingerprint_columns[] = {
        INDEX_COLUMN_OID(struct fingerprint_row, id, 0),
        INDEX_COLUMN_BLOB(struct fingerprint_row, tag, tag_len, 0),
};
static const struct index_row fingerprint_row = INDEX_ROW(struct fingerprint_row, fingerprint_columns, 0, NULL);

int index_fingerprint_get(struct index *idx, const uint8_t fp[INDEX_FINGERPRINT_SIZE], struct oid *ret_id,
                          uint8_t ret_tag[INDEX_FINGERPRINT_SIZE])
{
        struct fingerprint_row row;
        int r;

        if (!fp || !ret_id || !ret_tag)
                return -EINVAL;
        r = index_row_get(idx,
                          INDEX_CACHED(STMT_FINGERPRINT_GET, "SELECT id, tag FROM chunk_fingerprints WHERE fp = ?1",
                                       INDEX_VALUE_BYTES(fp, INDEX_FINGERPRINT_SIZE)),
                          &fingerprint_row, &row);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = row.tag_len == INDEX_FINGERPRINT_SIZE ? 1 : -EBADMSG;
        if (r > 0) {
                *ret_id = row.id;
                memcpy(ret_tag, row.tag, INDEX_FINGERPRINT_SIZE);
        }
        free(row.tag);
        return r;
}

int index_fingerprint_put(struct index *idx, const uint8_t fp[INDEX_FINGERPRINT_SIZE], const struct oid *id,
                          const uint8_t tag[INDEX_FINGERPRINT_SIZE])
{
        int r;

        if (!fp || !id || !tag)
                return -EINVAL;
        r = index_row_exec(idx, INDEX_CACHED(STMT_FINGERPRINT_PUT,
                                             "INSERT OR REPLACE INTO chunk_fingerprints (fp, id, tag) VALUES (?1, ?2, ?3)",
                                             INDEX_VALUE_BYTES(fp, INDEX_FINGERPRINT_SIZE), INDEX_VALUE_OID(id),
                                             INDEX_VALUE_BYTES(tag, INDEX_FINGERPRINT_SIZE)));
        return r < 0 ? r : 0;
}

int index_fingerprint_prune(struct index *idx)
{
        return index_row_exec(idx, INDEX_SQL("DELETE FROM chunk_fingerprints WHERE NOT EXISTS "
                                             "(SELECT 1 FROM objects o WHERE o.id = chunk_fingerprints.id)"));
}

static const struct index_column count_columns[] = {
        { INDEX_INT64, 0, 0, 0 },
};
static const struct index_row count_row = INDEX_ROW(int64_t, count_columns, 0, NULL);

int index_fingerprint_count(struct index *idx, uint64_t *ret)
{
        int64_t n = 0;
        int r;

        if (!ret)
                return -EINVAL;
        r = index_row_get(idx, INDEX_SQL("SELECT count(*) FROM chunk_fingerprints"), &count_row, &n);
        if (r < 0)
                return r;
        *ret = (uint64_t)n;
        return 0;
}
