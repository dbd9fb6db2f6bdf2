/* SPDX-License-Identifier: MIT */
/* Tree, list and snapshot objects: the names and validity rules that the
 * encoder (object-encode.c) and the decoder (object-decode.c) share, and
 * building and freeing the structs. */
#include "object.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "object-private.h"

/* ---- names and rules shared by encoder and decoder ---- */

int object_name_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
        int c = memcmp(a, b, MIN(a_len, b_len));

        if (c != 0)
                return c;
        return a_len < b_len ? -1 : a_len > b_len;
}

bool object_name_valid(const uint8_t *name, size_t len)
{
        if (!name || len == 0 || len > OBJECT_NAME_MAX)
                return false;
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
                return false;
        return !memchr(name, '/', len) && !memchr(name, 0, len);
}

const char *object_kind_name(int kind)
{
        static const char *const names[] = {
                [OBJECT_KIND_FILE] = "file",       [OBJECT_KIND_DIR] = "dir",
                [OBJECT_KIND_SYMLINK] = "symlink", [OBJECT_KIND_FIFO] = "fifo",
                [OBJECT_KIND_CHARDEV] = "chardev", [OBJECT_KIND_BLOCKDEV] = "blockdev",
                [OBJECT_KIND_SOCKET] = "socket",
        };

        if (kind < OBJECT_KIND_FILE || kind > OBJECT_KIND_SOCKET)
                return NULL;
        return names[kind];
}

bool object_kind_is_device(enum object_kind kind)
{
        return kind == OBJECT_KIND_CHARDEV || kind == OBJECT_KIND_BLOCKDEV;
}

/* A C string of 1..max bytes (so no NUL inside), or NULL when optional. */
static bool cstring_valid(const char *s, size_t max, bool optional)
{
        if (!s)
                return optional;
        return s[0] != 0 && strnlen(s, max + 1) <= max;
}

static bool text_valid(const char *s, size_t max)
{
        return cstring_valid(s, max, false) && cbor_check_utf8_valid((const uint8_t *)s, strlen(s));
}

/* Extents: each data extent 1..OBJECT_DATA_MAX bytes with a non-null id, each
 * hole non-empty with a null id; the total must not overflow. */
bool object_extents_valid(const struct object_extent *ext, size_t n, uint64_t *ret_total)
{
        uint64_t total = 0;

        if (n > 0 && !ext)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (ext[i].length == 0)
                        return false;
                if (ext[i].hole) {
                        if (!oid_is_null(&ext[i].id))
                                return false;
                } else if (ext[i].length > OBJECT_DATA_MAX || oid_is_null(&ext[i].id)) {
                        return false;
                }
                if (total + ext[i].length < total)
                        return false;
                total += ext[i].length;
        }
        *ret_total = total;
        return true;
}

static bool xattrs_valid(const struct object_xattr *x, size_t n)
{
        if (n > OBJECT_XATTRS_MAX || (n > 0 && !x))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!cstring_valid(x[i].name, OBJECT_XATTR_NAME_MAX, false))
                        return false;
                if (x[i].value_len > OBJECT_XATTR_VALUE_MAX || (x[i].value_len > 0 && !x[i].value))
                        return false;
                if (i > 0 && strcmp(x[i - 1].name, x[i].name) >= 0)
                        return false;
        }
        return true;
}

bool object_entry_valid(const struct object_entry *e)
{
        uint64_t total;

        if (!object_name_valid(e->name, e->name_len) || !object_kind_name(e->kind))
                return false;
        if (e->mode > 07777)
                return false;
        if (!cstring_valid(e->user, OBJECT_OWNER_MAX, true) ||
            !cstring_valid(e->group, OBJECT_OWNER_MAX, true))
                return false;
        if (!xattrs_valid(e->xattrs, e->n_xattrs))
                return false;
        if (!object_kind_is_device(e->kind) && e->rdev != 0)
                return false;

        if (e->kind == OBJECT_KIND_SYMLINK) {
                if (!e->target || e->target_len == 0 || e->target_len > OBJECT_TARGET_MAX ||
                    memchr(e->target, 0, e->target_len))
                        return false;
        } else if (e->target_len != 0) {
                return false;
        }

        if (e->kind == OBJECT_KIND_DIR) {
                if (oid_is_null(&e->subtree))
                        return false;
        } else if (!oid_is_null(&e->subtree)) {
                return false;
        }

        if (e->kind == OBJECT_KIND_FILE) {
                if (e->has_list) {
                        if (e->n_extents != 0 || oid_is_null(&e->list))
                                return false;
                } else {
                        if (!oid_is_null(&e->list))
                                return false;
                        if (e->n_extents > OBJECT_INLINE_EXTENTS_MAX)
                                return false;
                        if (!object_extents_valid(e->extents, e->n_extents, &total) || total != e->size)
                                return false;
                }
        } else if (e->has_list || e->n_extents != 0 || !oid_is_null(&e->list)) {
                return false;
        }
        return true;
}

bool object_snapshot_valid(const struct object_snapshot *s)
{
        if (!text_valid(s->hostname, OBJECT_HOSTNAME_MAX))
                return false;
        if (!s->root || s->root_len == 0 || s->root_len > OBJECT_ROOT_MAX || memchr(s->root, 0, s->root_len))
                return false;
        if (oid_is_null(&s->tree))
                return false;
        if (s->has_parent ? oid_is_null(&s->parent) : !oid_is_null(&s->parent))
                return false;
        if (s->n_tags > OBJECT_TAGS_MAX || (s->n_tags > 0 && !s->tags))
                return false;
        if (s->has_root_entry &&
            (!object_entry_valid(&s->root_entry) || s->root_entry.kind != OBJECT_KIND_DIR ||
             oid_cmp(&s->root_entry.subtree, &s->tree)))
                return false;
        for (size_t i = 0; i < s->n_tags; i++)
                if (!text_valid(s->tags[i], OBJECT_TAG_MAX))
                        return false;
        return true;
}

/* ---- building and freeing ---- */

void object_entry_done(struct object_entry *e)
{
        if (!e)
                return;
        free(e->name);
        free(e->user);
        free(e->group);
        for (size_t i = 0; i < e->n_xattrs; i++) {
                free(e->xattrs[i].name);
                free(e->xattrs[i].value);
        }
        free(e->xattrs);
        free(e->target);
        free(e->extents);
        memset(e, 0, sizeof(*e));
}

struct object_tree *object_tree_new(void)
{
        return calloc(1, sizeof(struct object_tree));
}

int object_tree_append(struct object_tree *tree, struct object_entry *e)
{
        if (tree->n_entries >= OBJECT_TREE_ENTRIES_MAX)
                return -E2BIG;
        if (tree->n_entries == tree->allocated) {
                size_t n = tree->allocated ? tree->allocated * 2 : 16;
                struct object_entry *p;

                p = reallocarray(tree->entries, n, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                tree->entries = p;
                tree->allocated = n;
        }
        tree->entries[tree->n_entries++] = *e;
        memset(e, 0, sizeof(*e));
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        const struct object_entry *x = a, *y = b;

        return object_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static int xattr_cmp(const void *a, const void *b)
{
        return strcmp(((const struct object_xattr *)a)->name, ((const struct object_xattr *)b)->name);
}

void object_tree_sort(struct object_tree *tree)
{
        if (tree->n_entries > 1)
                qsort(tree->entries, tree->n_entries, sizeof(*tree->entries), entry_cmp);
        for (size_t i = 0; i < tree->n_entries; i++) {
                struct object_entry *e = &tree->entries[i];

                if (e->n_xattrs > 1)
                        qsort(e->xattrs, e->n_xattrs, sizeof(*e->xattrs), xattr_cmp);
        }
}

void object_tree_free(struct object_tree *tree)
{
        if (!tree)
                return;
        for (size_t i = 0; i < tree->n_entries; i++)
                object_entry_done(&tree->entries[i]);
        free(tree->entries);
        free(tree);
}

void object_list_free(struct object_list *list)
{
        if (!list)
                return;
        free(list->extents);
        free(list);
}

void object_snapshot_free(struct object_snapshot *s)
{
        if (!s)
                return;
        free(s->hostname);
        free(s->root);
        for (size_t i = 0; i < s->n_tags; i++)
                free(s->tags[i]);
        free(s->tags);
        if (s->has_root_entry)
                object_entry_done(&s->root_entry);
        free(s);
}
