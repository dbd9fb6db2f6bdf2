/* SPDX-License-Identifier: MIT */
/* Tree, list and snapshot encoders: CBOR heads written straight into a
 * growing buffer (no libcbor item tree, so 10^5 entries stay cheap), after
 * the rules of object.c accept the struct. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "object-private.h"

/* ---- encoder: CBOR heads into a growing buffer ---- */

struct enc {
        uint8_t *buf;
        size_t len;
        size_t cap;
        int error;
};

static bool enc_reserve(struct enc *e, size_t n)
{
        size_t cap;
        uint8_t *p;

        if (e->error)
                return false;
        if (e->cap - e->len >= n)
                return true;
        cap = e->cap ? e->cap : 256;
        while (cap - e->len < n) {
                if (cap > SIZE_MAX / 2) {
                        e->error = -ENOMEM;
                        return false;
                }
                cap *= 2;
        }
        p = realloc(e->buf, cap);
        if (!p) {
                e->error = -ENOMEM;
                return false;
        }
        e->buf = p;
        e->cap = cap;
        return true;
}

/* Shortest head for major type and argument (RFC 8949 preferred serialisation). */
static void enc_head(struct enc *e, uint8_t major, uint64_t v)
{
        uint8_t *p;
        int n;

        if (!enc_reserve(e, 9))
                return;
        p = e->buf + e->len;
        if (v < 24) {
                p[0] = (uint8_t)(major << 5 | v);
                e->len += 1;
                return;
        }
        if (v <= UINT8_MAX)
                n = 1;
        else if (v <= UINT16_MAX)
                n = 2;
        else if (v <= UINT32_MAX)
                n = 4;
        else
                n = 8;
        p[0] = (uint8_t)(major << 5 | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27));
        for (int i = 0; i < n; i++)
                p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
        e->len += 1 + (size_t)n;
}

static void enc_uint(struct enc *e, uint64_t v)
{
        enc_head(e, 0, v);
}

static void enc_int(struct enc *e, int64_t v)
{
        if (v >= 0)
                enc_head(e, 0, (uint64_t)v);
        else
                enc_head(e, 1, (uint64_t)(-1 - v));
}

static void enc_string(struct enc *e, uint8_t major, const void *s, size_t n)
{
        enc_head(e, major, n);
        if (n == 0 || !enc_reserve(e, n))
                return;
        memcpy(e->buf + e->len, s, n);
        e->len += n;
}

static void enc_bytes(struct enc *e, const void *s, size_t n)
{
        enc_string(e, 2, s, n);
}

static void enc_text(struct enc *e, const char *s)
{
        enc_string(e, 3, s, strlen(s));
}

static void enc_oid(struct enc *e, const struct oid *id)
{
        enc_bytes(e, id->bytes, OID_SIZE);
}

static void enc_array(struct enc *e, uint64_t n)
{
        enc_head(e, 4, n);
}

static void enc_map(struct enc *e, uint64_t n)
{
        enc_head(e, 5, n);
}

static void enc_extents(struct enc *e, const struct object_extent *ext, size_t n)
{
        enc_array(e, n);
        for (size_t i = 0; i < n; i++) {
                enc_array(e, 2);
                if (ext[i].hole)
                        enc_bytes(e, NULL, 0);
                else
                        enc_oid(e, &ext[i].id);
                enc_uint(e, ext[i].length);
        }
}

static int enc_finish(struct enc *e, uint8_t **ret, size_t *ret_len)
{
        if (e->error) {
                free(e->buf);
                return e->error;
        }
        *ret = e->buf;
        *ret_len = e->len;
        return 0;
}

static void enc_entry(struct enc *enc, const struct object_entry *e)
{
        bool device = object_kind_is_device(e->kind);
        bool symlink = e->kind == OBJECT_KIND_SYMLINK;
        bool dir = e->kind == OBJECT_KIND_DIR;
        uint64_t n = 7;

        n += !!e->user + !!e->group + (e->size != 0) + device + (e->n_xattrs > 0) + symlink +
             (e->hardlink != 0) + (e->nlink != 0) + (e->n_extents > 0) + e->has_list + dir;
        enc_map(enc, n);
        enc_uint(enc, ENTRY_NAME);
        enc_bytes(enc, e->name, e->name_len);
        enc_uint(enc, ENTRY_KIND);
        enc_uint(enc, e->kind);
        enc_uint(enc, ENTRY_MODE);
        enc_uint(enc, e->mode);
        enc_uint(enc, ENTRY_UID);
        enc_uint(enc, e->uid);
        enc_uint(enc, ENTRY_GID);
        enc_uint(enc, e->gid);
        if (e->user) {
                enc_uint(enc, ENTRY_USER);
                enc_bytes(enc, e->user, strlen(e->user));
        }
        if (e->group) {
                enc_uint(enc, ENTRY_GROUP);
                enc_bytes(enc, e->group, strlen(e->group));
        }
        enc_uint(enc, ENTRY_MTIME);
        enc_int(enc, e->mtime_ns);
        enc_uint(enc, ENTRY_CTIME);
        enc_int(enc, e->ctime_ns);
        if (e->size != 0) {
                enc_uint(enc, ENTRY_SIZE);
                enc_uint(enc, e->size);
        }
        if (device) {
                enc_uint(enc, ENTRY_RDEV);
                enc_uint(enc, e->rdev);
        }
        if (e->n_xattrs > 0) {
                enc_uint(enc, ENTRY_XATTRS);
                enc_array(enc, e->n_xattrs);
                for (size_t i = 0; i < e->n_xattrs; i++) {
                        enc_array(enc, 2);
                        enc_bytes(enc, e->xattrs[i].name, strlen(e->xattrs[i].name));
                        enc_bytes(enc, e->xattrs[i].value, e->xattrs[i].value_len);
                }
        }
        if (symlink) {
                enc_uint(enc, ENTRY_TARGET);
                enc_bytes(enc, e->target, e->target_len);
        }
        if (e->hardlink != 0) {
                enc_uint(enc, ENTRY_HARDLINK);
                enc_uint(enc, e->hardlink);
        }
        if (e->nlink != 0) {
                enc_uint(enc, ENTRY_NLINK);
                enc_uint(enc, e->nlink);
        }
        if (e->n_extents > 0) {
                enc_uint(enc, ENTRY_CONTENT);
                enc_extents(enc, e->extents, e->n_extents);
        }
        if (e->has_list) {
                enc_uint(enc, ENTRY_LIST);
                enc_oid(enc, &e->list);
        }
        if (dir) {
                enc_uint(enc, ENTRY_SUBTREE);
                enc_oid(enc, &e->subtree);
        }
}

int object_tree_encode(const struct object_tree *tree, uint8_t **ret, size_t *ret_len)
{
        struct enc enc = {};

        if (!tree || tree->n_entries > OBJECT_TREE_ENTRIES_MAX || (tree->n_entries && !tree->entries))
                return -EINVAL;
        for (size_t i = 0; i < tree->n_entries; i++) {
                const struct object_entry *e = &tree->entries[i];

                if (!object_entry_valid(e))
                        return -EINVAL;
                if (i > 0 && object_name_cmp(tree->entries[i - 1].name, tree->entries[i - 1].name_len,
                                             e->name, e->name_len) >= 0)
                        return -EINVAL;
        }
        enc_array(&enc, tree->n_entries);
        for (size_t i = 0; i < tree->n_entries; i++)
                enc_entry(&enc, &tree->entries[i]);
        return enc_finish(&enc, ret, ret_len);
}

int object_list_encode(const struct object_list *list, uint8_t **ret, size_t *ret_len)
{
        struct enc enc = {};
        uint64_t total;

        if (!list || list->n_extents > OBJECT_LIST_EXTENTS_MAX ||
            !object_extents_valid(list->extents, list->n_extents, &total))
                return -EINVAL;
        enc_extents(&enc, list->extents, list->n_extents);
        return enc_finish(&enc, ret, ret_len);
}

int object_snapshot_encode(const struct object_snapshot *s, uint8_t **ret, size_t *ret_len)
{
        const struct object_snapshot_stats *st;
        struct enc enc = {};

        if (!s || !object_snapshot_valid(s))
                return -EINVAL;
        st = &s->stats;
        enc_map(&enc, 5 + s->has_parent + (s->n_tags > 0) + s->has_root_entry);
        enc_uint(&enc, SNAP_TIME);
        enc_int(&enc, s->time_ns);
        enc_uint(&enc, SNAP_HOSTNAME);
        enc_text(&enc, s->hostname);
        enc_uint(&enc, SNAP_ROOT);
        enc_bytes(&enc, s->root, s->root_len);
        enc_uint(&enc, SNAP_TREE);
        enc_oid(&enc, &s->tree);
        if (s->has_parent) {
                enc_uint(&enc, SNAP_PARENT);
                enc_oid(&enc, &s->parent);
        }
        enc_uint(&enc, SNAP_STATS);
        enc_map(&enc, 6);
        enc_uint(&enc, STATS_FILES);
        enc_uint(&enc, st->files);
        enc_uint(&enc, STATS_DIRS);
        enc_uint(&enc, st->dirs);
        enc_uint(&enc, STATS_BYTES);
        enc_uint(&enc, st->bytes);
        enc_uint(&enc, STATS_NEW_BYTES);
        enc_uint(&enc, st->new_bytes);
        enc_uint(&enc, STATS_ERRORS);
        enc_uint(&enc, st->errors);
        enc_uint(&enc, STATS_FILES_READ);
        enc_uint(&enc, st->files_read);
        if (s->n_tags > 0) {
                enc_uint(&enc, SNAP_TAGS);
                enc_array(&enc, s->n_tags);
                for (size_t i = 0; i < s->n_tags; i++)
                        enc_text(&enc, s->tags[i]);
        }
        if (s->has_root_entry) {
                enc_uint(&enc, SNAP_ROOT_ENTRY);
                enc_entry(&enc, &s->root_entry);
        }
        return enc_finish(&enc, ret, ret_len);
}
