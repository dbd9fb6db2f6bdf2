/* SPDX-License-Identifier: MIT */
/* What the tree, list and snapshot codecs share, included by common/object*.c
 * only: the integer map keys of docs/formats.md "Objects", the smallest
 * encodings that bound counts before allocating, and the one set of validity
 * rules (object.c) that the encoder (object-encode.c) and the decoder
 * (object-decode.c) both apply. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"

/* Integer map keys; see docs/formats.md "Objects". Never renumber. */
enum {
        ENTRY_NAME = 0,
        ENTRY_KIND = 1,
        ENTRY_MODE = 2,
        ENTRY_UID = 3,
        ENTRY_GID = 4,
        ENTRY_USER = 5,
        ENTRY_GROUP = 6,
        ENTRY_MTIME = 7,
        ENTRY_CTIME = 8,
        ENTRY_SIZE = 9,
        ENTRY_RDEV = 10,
        ENTRY_XATTRS = 11,
        ENTRY_TARGET = 12,
        ENTRY_HARDLINK = 13,
        ENTRY_NLINK = 14,
        ENTRY_CONTENT = 15,
        ENTRY_LIST = 16,
        ENTRY_SUBTREE = 17,
};

enum {
        SNAP_TIME = 0,
        SNAP_HOSTNAME = 1,
        SNAP_ROOT = 2,
        SNAP_TREE = 3,
        SNAP_PARENT = 4,
        SNAP_STATS = 5,
        SNAP_TAGS = 6,
        SNAP_ROOT_ENTRY = 7,
};

enum {
        STATS_FILES = 0,
        STATS_DIRS = 1,
        STATS_BYTES = 2,
        STATS_NEW_BYTES = 3,
        STATS_ERRORS = 4,
        STATS_FILES_READ = 5,
};

#define ENTRY_REQUIRED                                                                                      \
        ((1u << ENTRY_NAME) | (1u << ENTRY_KIND) | (1u << ENTRY_MODE) | (1u << ENTRY_UID) |                 \
         (1u << ENTRY_GID) | (1u << ENTRY_MTIME) | (1u << ENTRY_CTIME))
#define SNAP_REQUIRED ((1u << SNAP_TIME) | (1u << SNAP_HOSTNAME) | (1u << SNAP_ROOT) | (1u << SNAP_TREE))

/* Smallest encodings, used to bound counts before allocating arrays. */
#define ENTRY_MIN_BYTES 15 /* map head + 7 required keys with 1-byte values, 1-byte name */
#define EXTENT_MIN_BYTES 3 /* [h'', 1] */

bool object_kind_is_device(enum object_kind kind);
/* Extents: each data extent 1..OBJECT_DATA_MAX bytes with a non-null id, each
 * hole non-empty with a null id; the total (set on success) must not overflow. */
bool object_extents_valid(const struct object_extent *ext, size_t n, uint64_t *ret_total);
/* Every rule of docs/formats.md for one entry (fields tied to its kind, names, sizes). */
bool object_entry_valid(const struct object_entry *e);
bool object_snapshot_valid(const struct object_snapshot *s);
