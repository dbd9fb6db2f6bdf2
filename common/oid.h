/* SPDX-License-Identifier: MIT */
/* Object ids: HMAC-SHA256(K_id, type || plaintext), the object type numbers,
 * and their hex form. Pack ids (SHA-256 of sealed pack bytes) use the same
 * 32-byte struct. Object codecs live in object.c, records in record.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define OID_SIZE 32
#define OID_HEX_SIZE (2 * OID_SIZE + 1)

/* Stored on disk and inside ids: never renumber. */
enum object_type {
        OBJECT_DATA = 1,     /* one CDC chunk of file content */
        OBJECT_LIST = 2,     /* CBOR list of data ids for a long file */
        OBJECT_TREE = 3,     /* one directory */
        OBJECT_SNAPSHOT = 4, /* one snapshot */
        OBJECT_TOMBSTONE = 5, /* snapshots a forget removed (tombstone.c) */
};

struct oid {
        uint8_t bytes[OID_SIZE];
};

/* Compute the object id HMAC-SHA256(id_key, type byte || buf). */
int oid_compute(const uint8_t id_key[32], enum object_type type, const void *buf, size_t len,
                struct oid *ret);
/* True when type is one of enum object_type. */
int oid_type_valid(int type);
/* "data", "list", "tree", "snapshot", "tombstone", or NULL. */
const char *oid_type_name(int type);
/* Lower-case hex with NUL. */
void oid_to_hex(const struct oid *id, char ret[OID_HEX_SIZE]);
/* Parse exactly 64 hex digits (either case); -EINVAL otherwise. */
int oid_from_hex(const char *hex, struct oid *ret);
/* Parse 1-64 hex digits (either case) into the leading bytes of ret, an odd
 * last digit into a high nibble, zeros after: the number of digits, or
 * -EINVAL. */
int oid_prefix_from_hex(const char *hex, struct oid *ret);
/* Compare two ids like memcmp. */
int oid_cmp(const struct oid *a, const struct oid *b);
/* True when every byte is zero (used as "no id"). */
int oid_is_null(const struct oid *id);
