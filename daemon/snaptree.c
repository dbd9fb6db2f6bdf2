/* SPDX-License-Identifier: MIT */
/* Reading snapshot trees back; see snaptree.h. */
#include "snaptree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "repo.h"

int snaptree_load_snapshot(struct repo *r, const struct oid *id, struct object_snapshot **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        int k = repo_get(r, id, OBJECT_SNAPSHOT, 0, &buf, &len);
        if (k < 0)
                return k;
        return object_snapshot_decode(buf, len, ret);
}

int snaptree_load(struct repo *r, const struct oid *id, struct object_tree **ret)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        int k = repo_get(r, id, OBJECT_TREE, 0, &buf, &len);
        if (k < 0)
                return k;
        return object_tree_decode(buf, len, ret);
}

struct object_entry *snaptree_find(const struct object_tree *t, const uint8_t *name, size_t len)
{
        size_t lo = 0, hi = t->n_entries;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                struct object_entry *e = &t->entries[mid];
                int c = object_name_cmp(e->name, e->name_len, name, len);
                if (c == 0)
                        return e;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const char *snaptree_relpath(const char *root, const char *path)
{
        size_t l = strlen(root);
        if (l == 1 && root[0] == '/')
                l = 0;
        if (strncmp(path, root, l))
                return NULL;
        if (path[l] == '\0')
                return path + l;
        if (path[l] != '/')
                return NULL;
        path += l;
        while (*path == '/')
                path++;
        return path;
}

int snaptree_resolve(struct repo *r, const struct oid *root_tree, const char *relpath,
                     struct object_tree **ret_tree, struct object_entry **ret_entry)
{
        struct object_tree *t = NULL;
        int k = snaptree_load(r, root_tree, &t);
        if (k < 0)
                return k;
        const char *p = relpath;
        while (*p == '/')
                p++;
        if (!*p) {
                *ret_tree = t;
                *ret_entry = NULL;
                return 0;
        }
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);
                struct object_entry *e = snaptree_find(t, (const uint8_t *)p, len);
                if (!e) {
                        object_tree_free(t);
                        return -ENOENT;
                }
                p += len;
                while (*p == '/')
                        p++;
                if (!*p) {
                        *ret_tree = t;
                        *ret_entry = e;
                        return 0;
                }
                if (e->kind != OBJECT_KIND_DIR) {
                        object_tree_free(t);
                        return -ENOTDIR;
                }
                struct object_tree *sub = NULL;
                k = snaptree_load(r, &e->subtree, &sub);
                object_tree_free(t);
                if (k < 0)
                        return k;
                t = sub;
        }
}

int snaptree_extents(struct repo *r, const struct object_entry *e, const struct object_extent **ret,
                     size_t *ret_n, struct object_list **ret_list)
{
        const struct object_extent *v = e->extents;
        size_t n = e->n_extents;
        struct object_list *list = NULL;

        if (e->has_list) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                int k = repo_get(r, &e->list, OBJECT_LIST, 0, &buf, &len);
                if (k < 0)
                        return k;
                k = object_list_decode(buf, len, &list);
                if (k < 0)
                        return k;
                v = list->extents;
                n = list->n_extents;
        }
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++)
                total += v[i].length;
        if (total != e->size) {
                object_list_free(list);
                return -EBADMSG;
        }
        *ret = v;
        *ret_n = n;
        *ret_list = list;
        return 0;
}
