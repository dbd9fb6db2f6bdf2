/* SPDX-License-Identifier: MIT */
/* The tombstone object (type OBJECT_TOMBSTONE): one forget recorded in the
 * packs, naming the snapshots it forgot, so a reindex or recovery from packs
 * keeps them forgotten. Pure CBOR codec with strict, length-checked decoding;
 * writing and reading through the repository is daemon/forgotten.c. Layout:
 * docs/formats.md "Tombstone". */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

#define TOMBSTONE_VERSION 1
/* Snapshots named by one tombstone object, and its largest encoding: a
 * forget of more is split over several objects (tombstone_fit). */
#define TOMBSTONE_ENTRIES_MAX 10000
#define TOMBSTONE_SIZE_MAX (1024 * 1024)

/* One forgotten snapshot. */
struct tombstone_entry {
        struct oid id;   /* the snapshot object, never all zero */
        int64_t time_ns; /* its time, for logs and check */
        uint8_t *root;   /* its root path, raw bytes, also NUL-terminated; 1..OBJECT_ROOT_MAX */
        size_t root_len;
};

struct tombstone {
        int64_t time_ns; /* when the forget happened */
        char *hostname;  /* the node that forgot, 1..OBJECT_HOSTNAME_MAX bytes of UTF-8 */
        struct tombstone_entry *entries;
        size_t n_entries; /* 1..TOMBSTONE_ENTRIES_MAX */
};

/* How many of the first n entries fit into one tombstone object with this
 * hostname (at least 1 when n > 0 and the first entry is valid). */
size_t tombstone_fit(const char *hostname, const struct tombstone_entry *entries, size_t n);
/* Encode; -EINVAL when a field is out of bounds or it would not fit in
 * TOMBSTONE_SIZE_MAX. *ret is malloc'ed. */
int tombstone_encode(const struct tombstone *t, uint8_t **ret, size_t *ret_len);
/* Decode and validate: -EBADMSG malformed, -E2BIG over a limit,
 * -EPROTONOSUPPORT for another format version, -ENOMEM; nothing leaked. */
int tombstone_decode(const uint8_t *buf, size_t len, struct tombstone **ret);
/* Free a tombstone and its entries; NULL is fine. */
void tombstone_free(struct tombstone *t);
