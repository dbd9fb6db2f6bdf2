/* SPDX-License-Identifier: MIT */
/* CBOR codecs for the structured objects of DESIGN.md §2: tree (one
 * directory), list (the extents of a long file) and snapshot. Pure
 * encode/decode with strict validation; ids, encryption and storage live
 * elsewhere (oid.c, record.c, pack.c). Layouts: docs/formats.md "Objects". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"

/* Longest entry name and symlink target, in bytes. */
#define OBJECT_NAME_MAX 4096
#define OBJECT_TARGET_MAX 4096
/* Longest xattr name (Linux XATTR_NAME_MAX) and value. */
#define OBJECT_XATTR_NAME_MAX 255
#define OBJECT_XATTR_VALUE_MAX (64 * 1024)
#define OBJECT_XATTRS_MAX 1024
/* Longest user or group name. */
#define OBJECT_OWNER_MAX 256
/* Entries in one tree object. */
#define OBJECT_TREE_ENTRIES_MAX 1000000
/* A file with more extents than this keeps them in a list object. */
#define OBJECT_INLINE_EXTENTS_MAX 64
/* Extents in one list object (about 1 TiB at the 1 MiB average chunk). */
#define OBJECT_LIST_EXTENTS_MAX (1024 * 1024)
/* Longest data extent (one data object). */
#define OBJECT_DATA_MAX (16 * 1024 * 1024)
/* Snapshot limits. */
#define OBJECT_HOSTNAME_MAX 255
#define OBJECT_ROOT_MAX 4096
#define OBJECT_TAG_MAX 255
#define OBJECT_TAGS_MAX 256

/* Stored in trees: never renumber. */
enum object_kind {
        OBJECT_KIND_FILE = 1,
        OBJECT_KIND_DIR = 2,
        OBJECT_KIND_SYMLINK = 3,
        OBJECT_KIND_FIFO = 4,
        OBJECT_KIND_CHARDEV = 5,
        OBJECT_KIND_BLOCKDEV = 6,
        OBJECT_KIND_SOCKET = 7,
};

/* A run of file content: a data object of length bytes, or a hole of
 * length zero bytes (restore seeks over it). Extents follow file order. */
struct object_extent {
        struct oid id; /* all zero for a hole */
        uint64_t length;
        bool hole;
};

struct object_xattr {
        char *name; /* NUL-terminated, 1..OBJECT_XATTR_NAME_MAX bytes */
        uint8_t *value;
        size_t value_len;
};

struct object_entry {
        uint8_t *name; /* raw bytes, also NUL-terminated; never "", ".", "..", '/' or NUL */
        size_t name_len;
        enum object_kind kind;
        uint32_t mode;   /* permission bits only: st_mode & 07777 */
        uint32_t uid;
        uint32_t gid;
        char *user;      /* owner name or NULL */
        char *group;     /* group name or NULL */
        int64_t mtime_ns;
        int64_t ctime_ns;
        uint64_t size;   /* files: sum of extent lengths when inline */
        uint64_t rdev;   /* char/block devices only */
        uint64_t nlink;  /* 0 = not recorded */
        uint64_t hardlink; /* hard-link group within the snapshot, 0 = none */
        struct object_xattr *xattrs; /* sorted by name, strictly increasing */
        size_t n_xattrs;
        uint8_t *target; /* symlinks: raw target bytes, also NUL-terminated */
        size_t target_len;
        /* files: content inline (n_extents <= OBJECT_INLINE_EXTENTS_MAX) or via list */
        struct object_extent *extents;
        size_t n_extents;
        bool has_list;
        struct oid list;
        struct oid subtree; /* dirs: the tree object of the directory */
};

struct object_tree {
        struct object_entry *entries; /* sorted by raw name bytes, strictly increasing */
        size_t n_entries;
        size_t allocated; /* capacity of entries, kept by object_tree_append */
};

struct object_list {
        struct object_extent *extents;
        size_t n_extents;
};

struct object_snapshot_stats {
        uint64_t files;
        uint64_t dirs;
        uint64_t bytes;
        uint64_t new_bytes;
        uint64_t errors;
        uint64_t files_read;
};

struct object_snapshot {
        int64_t time_ns;
        char *hostname;
        uint8_t *root; /* raw path bytes, also NUL-terminated */
        size_t root_len;
        struct oid tree;
        bool has_parent;
        struct oid parent;
        struct object_snapshot_stats stats;
        char **tags;
        size_t n_tags;
        /* metadata of the root directory itself (kind dir, subtree = tree);
         * its name is informational: the root's base name, or "root" */
        bool has_root_entry;
        struct object_entry root_entry;
};

/* Compare two names as trees order them: memcmp, the shorter first on a common prefix. */
int object_name_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
/* True when name is a valid entry name (not empty, ".", ".."; no '/' or NUL; length bound). */
bool object_name_valid(const uint8_t *name, size_t len);
/* "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket", or NULL. */
const char *object_kind_name(int kind);

/* Free the fields of an entry and zero it (the entry itself is not freed). */
void object_entry_done(struct object_entry *e);
/* New empty tree. */
struct object_tree *object_tree_new(void);
/* Move *e into the tree (amortised O(1)); *e is zeroed. Order is not checked here. */
int object_tree_append(struct object_tree *tree, struct object_entry *e);
/* Sort entries by name and each entry's xattrs by name (O(n log n)). */
void object_tree_sort(struct object_tree *tree);
/* Encode a tree. Does NOT sort: unsorted or duplicate names or xattrs, and any
 * field the decoder would refuse, give -EINVAL. *ret is malloc'ed. */
int object_tree_encode(const struct object_tree *tree, uint8_t **ret, size_t *ret_len);
/* Decode and validate a tree object; -EBADMSG/-E2BIG/-ENOMEM, nothing leaked. */
int object_tree_decode(const uint8_t *buf, size_t len, struct object_tree **ret);
/* Free a tree and every entry in it; NULL is fine. */
void object_tree_free(struct object_tree *tree);

/* Encode a list object (at most OBJECT_LIST_EXTENTS_MAX extents); -EINVAL if invalid. */
int object_list_encode(const struct object_list *list, uint8_t **ret, size_t *ret_len);
/* Decode and validate a list object. */
int object_list_decode(const uint8_t *buf, size_t len, struct object_list **ret);
/* Free a list; NULL is fine. */
void object_list_free(struct object_list *list);

/* Encode a snapshot object; -EINVAL if a field is out of bounds. */
int object_snapshot_encode(const struct object_snapshot *snap, uint8_t **ret, size_t *ret_len);
/* Decode and validate a snapshot object. */
int object_snapshot_decode(const uint8_t *buf, size_t len, struct object_snapshot **ret);
/* Free a snapshot; NULL is fine. */
void object_snapshot_free(struct object_snapshot *snap);
