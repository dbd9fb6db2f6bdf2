/* SPDX-License-Identifier: MIT */
/* The content reference kept in the file cache (index table file_cache,
 * column content): what a file's tree entry needs to be rebuilt without
 * reading the file again. A small versioned binary format, validated on
 * decode (the index is local state, but damage must not crash us). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"

/* The stat fields that say a file is unchanged. */
struct file_cache_entry {
        uint64_t dev;
        uint64_t ino;
        uint64_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
        uint32_t mode;
};

/* Encode e's content (extents or list id, and size) into a new buffer;
 * xattrs_known: e's extended attributes were read (none is then recorded
 * as none, FILE_CACHE_NO_XATTRS). */
int file_cache_encode(const struct object_entry *e, bool xattrs_known, uint8_t **ret, size_t *ret_len);
/* Set in what file_cache_decode returns: the file had no extended
 * attributes when it was cached (so, with its ctime unchanged, it has none). */
#define FILE_CACHE_NO_XATTRS 2

/* Decode into e's content fields (extents/list/size): the flags above, or
 * -EBADMSG if damaged. */
int file_cache_decode(const void *buf, size_t len, struct object_entry *e);
