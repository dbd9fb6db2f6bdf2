/* SPDX-License-Identifier: MIT */
/* The file cache (table file_cache): one row per (root, path) with the stat
 * fields that decide whether a file changed and its opaque content reference.
 * Get and put are the scan's hot path (cached statements); a prefix names a
 * directory and everything below it, as a half-open range of path bytes. */
#include "index-private.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FILE_ENTRY_COLUMNS "dev, ino, size, mtime_ns, ctime_ns, mode, content"
#define FILE_COLUMNS "path, " FILE_ENTRY_COLUMNS

/* A path and its entry, as listed (struct index_file has no path). */
struct file_row {
        char *path;
        struct index_file file;
};

static int file_visit(union index_visitor visitor, const void *row, void *userdata)
{
        const struct file_row *f = row;

        return visitor.file(f->path, &f->file, userdata);
}

static const struct index_column file_columns[] = {
        INDEX_COLUMN_PATH(struct file_row, path, 0),
        INDEX_COLUMN_UINT64(struct file_row, file.dev, 0),
        INDEX_COLUMN_UINT64(struct file_row, file.ino, 0),
        INDEX_COLUMN_UINT64(struct file_row, file.size, 0),
        INDEX_COLUMN_INT64(struct file_row, file.mtime_ns, 0),
        INDEX_COLUMN_INT64(struct file_row, file.ctime_ns, 0),
        INDEX_COLUMN_UINT32(struct file_row, file.mode, 0),
        /* no content: NULL in the table and in the struct */
        INDEX_COLUMN_BLOB(struct file_row, file.content, file.content_len, INDEX_ZERO_IS_NULL),
};
/* FILE_COLUMNS */
static const struct index_row file_row = INDEX_ROW(struct file_row, file_columns, 0, file_visit);
/* FILE_ENTRY_COLUMNS: the entry alone */
static const struct index_row file_entry_row = INDEX_ROW(struct file_row, file_columns, 1, NULL);

void index_file_done(struct index_file *file)
{
        if (!file)
                return;
        free(file->content);
        file->content = NULL;
        file->content_len = 0;
}

int index_file_get(struct index *idx, int64_t root_id, const char *path, struct index_file *ret)
{
        struct file_row row;
        int r;

        if (!path)
                return -EINVAL;
        r = index_row_get(idx,
                          INDEX_CACHED(STMT_FILE_GET,
                                       "SELECT " FILE_ENTRY_COLUMNS " FROM file_cache "
                                       "WHERE root_id = ?1 AND path = ?2",
                                       INDEX_VALUE_INT64(root_id), INDEX_VALUE_PATH(path)),
                          &file_entry_row, &row);
        if (r < 0)
                return r;
        *ret = row.file;
        return 0;
}

int index_file_put(struct index *idx, int64_t root_id, const char *path,
                   const struct index_file *file)
{
        struct file_row row;
        int r;

        if (!path || !file || (file->content_len && !file->content) || file->content_len > INT32_MAX)
                return -EINVAL;
        row = (struct file_row){ .path = (char *)path, .file = *file };
        r = index_row_put(idx,
                          INDEX_CACHED(STMT_FILE_PUT,
                                       "INSERT OR REPLACE INTO file_cache (root_id, " FILE_COLUMNS ") "
                                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                       INDEX_VALUE_INT64(root_id)),
                          &file_row, &row);
        return r < 0 ? r : 0;
}

int index_file_put_batch(struct index *idx, int64_t root_id, const char *const *paths,
                         const struct index_file *files, size_t n)
{
        int r;

        r = index_begin(idx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = index_file_put(idx, root_id, paths[i], &files[i]);
        return index_end(idx, r);
}

/* Strip trailing slashes: "a/b/" and "a/b" name the same directory. */
static size_t prefix_length(const char *prefix)
{
        size_t n = strlen(prefix);

        while (n > 0 && prefix[n - 1] == '/')
                n--;
        return n;
}

/* Build the half-open range [prefix "/", prefix "0") of paths under prefix
 * ('0' is '/' + 1), in one buffer: lo at buf, hi at buf + n + 1. */
static char *prefix_range(const char *prefix, size_t n)
{
        char *buf = malloc(2 * (n + 1));

        if (!buf)
                return NULL;
        memcpy(buf, prefix, n);
        buf[n] = '/';
        memcpy(buf + n + 1, prefix, n);
        buf[2 * n + 1] = '0';
        return buf;
}

int index_file_delete_prefix(struct index *idx, int64_t root_id, const char *prefix)
{
        _cleanup_free_ char *range = NULL;
        size_t n;
        int r, total;

        if (!prefix)
                return -EINVAL;
        n = prefix_length(prefix);
        if (n == 0)
                return index_file_delete_root(idx, root_id);
        range = prefix_range(prefix, n);
        if (!range)
                return -ENOMEM;

        r = index_begin(idx);
        if (r < 0)
                return r;
        r = index_row_exec(idx, INDEX_CACHED(STMT_FILE_DELETE_ONE,
                                             "DELETE FROM file_cache WHERE root_id = ?1 AND path = ?2",
                                             INDEX_VALUE_INT64(root_id),
                                             INDEX_VALUE_BYTES(prefix, n)));
        total = r;
        if (r >= 0)
                r = index_row_exec(idx, INDEX_CACHED(STMT_FILE_DELETE_RANGE,
                                                     "DELETE FROM file_cache WHERE root_id = ?1 "
                                                     "AND path >= ?2 AND path < ?3",
                                                     INDEX_VALUE_INT64(root_id),
                                                     INDEX_VALUE_BYTES(range, n + 1),
                                                     INDEX_VALUE_BYTES(range + n + 1, n + 1)));
        if (r >= 0)
                total += r;
        r = index_end(idx, r);
        return r < 0 ? r : total;
}

int index_file_delete_root(struct index *idx, int64_t root_id)
{
        return index_row_exec(idx, INDEX_CACHED(STMT_FILE_DELETE_ROOT,
                                                "DELETE FROM file_cache WHERE root_id = ?1",
                                                INDEX_VALUE_INT64(root_id)));
}

int index_file_foreach(struct index *idx, int64_t root_id, const char *prefix, index_file_cb cb,
                       void *userdata)
{
        const union index_visitor visitor = { .file = cb };
        _cleanup_free_ char *range = NULL;
        size_t n;
        int r;

        if (!prefix)
                prefix = "";
        n = prefix_length(prefix);
        if (n == 0)
                return index_row_foreach(idx,
                                         INDEX_QUERY("SELECT " FILE_COLUMNS " FROM file_cache "
                                                     "WHERE root_id = ?1 ORDER BY path",
                                                     INDEX_VALUE_INT64(root_id)),
                                         &file_row, visitor, userdata);

        range = prefix_range(prefix, n);
        if (!range)
                return -ENOMEM;
        r = index_row_foreach(idx,
                              INDEX_QUERY("SELECT " FILE_COLUMNS " FROM file_cache "
                                          "WHERE root_id = ?1 AND path = ?2",
                                          INDEX_VALUE_INT64(root_id), INDEX_VALUE_BYTES(prefix, n)),
                              &file_row, visitor, userdata);
        if (r != 0)
                return r;
        return index_row_foreach(idx,
                                 INDEX_QUERY("SELECT " FILE_COLUMNS " FROM file_cache "
                                             "WHERE root_id = ?1 AND path >= ?2 AND path < ?3 "
                                             "ORDER BY path",
                                             INDEX_VALUE_INT64(root_id),
                                             INDEX_VALUE_BYTES(range, n + 1),
                                             INDEX_VALUE_BYTES(range + n + 1, n + 1)),
                                 &file_row, visitor, userdata);
}

/* Rows of one batch of index_file_foreach_child. */
#define CHILDREN_BATCH 512

int index_file_foreach_child(struct index *idx, int64_t root_id, const char *dir, index_file_cb cb,
                             void *userdata)
{
        size_t n = prefix_length(dir ? dir : "");
        /* [lo, hi): lo moves on; hi is prefix "0" ('/' + 1), none for the
         * root. The next lo is built in nxt while the cursor (bound to lo)
         * steps, and swapped in once it is closed. */
        _cleanup_free_ char *hi = NULL, *lo = NULL, *nxt = NULL;
        size_t lo_len = n ? n + 1 : 0, lo_cap = lo_len + 256, nxt_len = 0, nxt_cap = 0;
        int r = 0;

        lo = malloc(lo_cap);
        if (!lo)
                return -ENOMEM;
        if (n) {
                memcpy(lo, dir, n);
                lo[n] = '/';
                hi = malloc(n + 1);
                if (!hi)
                        return -ENOMEM;
                memcpy(hi, dir, n);
                hi[n] = '0';
        }
        for (bool first = true;; first = false) {
                _cleanup_cursor_ struct index_cursor c = { 0 };
                struct file_row row;
                unsigned rows = 0;
                bool restart = false;

                if (!first) {
                        char *t = lo;
                        size_t tc = lo_cap;
                        lo = nxt;
                        lo_cap = nxt_cap;
                        lo_len = nxt_len;
                        nxt = t;
                        nxt_cap = tc;
                }
                if (n)
                        r = index_row_open(idx, INDEX_CACHED(STMT_FILE_CHILDREN,
                                                             "SELECT " FILE_COLUMNS " FROM file_cache "
                                                             "WHERE root_id = ?1 AND path >= ?2 AND path < ?3 "
                                                             "ORDER BY path LIMIT ?4",
                                                             INDEX_VALUE_INT64(root_id),
                                                             INDEX_VALUE_BYTES(lo, lo_len),
                                                             INDEX_VALUE_BYTES(hi, n + 1),
                                                             INDEX_VALUE_INT64(CHILDREN_BATCH)),
                                           &c);
                else
                        r = index_row_open(idx, INDEX_CACHED(STMT_FILE_CHILDREN_ROOT,
                                                             "SELECT " FILE_COLUMNS " FROM file_cache "
                                                             "WHERE root_id = ?1 AND path >= ?2 "
                                                             "ORDER BY path LIMIT ?3",
                                                             INDEX_VALUE_INT64(root_id),
                                                             INDEX_VALUE_BYTES(lo, lo_len),
                                                             INDEX_VALUE_INT64(CHILDREN_BATCH)),
                                           &c);
                if (r < 0)
                        return r;
                while ((r = index_row_next(&c, &file_row, &row)) > 0) {
                        size_t plen = strlen(row.path);
                        const char *rest = row.path + (n ? n + 1 : 0);
                        const char *sub = strchr(rest, '/');
                        rows++;
                        /* the next batch starts after this row, or after
                         * everything below the subdirectory it is in */
                        size_t keep = sub ? (size_t)(sub - row.path) : plen;
                        if (keep + 2 > nxt_cap) {
                                char *p = realloc(nxt, keep + 256);
                                if (!p)
                                        return -ENOMEM;
                                nxt = p;
                                nxt_cap = keep + 256;
                        }
                        memcpy(nxt, row.path, keep);
                        nxt[keep] = '\0';
                        nxt_len = keep + 1;
                        if (sub) {
                                r = cb(nxt, NULL, userdata);
                                nxt[keep] = '0'; /* '/' + 1: past everything below */
                                if (r != 0)
                                        return r;
                                restart = true;
                                break;
                        }
                        /* nxt is now the smallest path after this one */
                        r = cb(row.path, &row.file, userdata);
                        if (r != 0)
                                return r;
                }
                if (r < 0)
                        return r;
                if (!restart && rows < CHILDREN_BATCH)
                        return 0;
        }
}
