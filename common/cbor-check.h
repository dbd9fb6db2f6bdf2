/* SPDX-License-Identifier: MIT */
/* Safe decoding of untrusted CBOR: a non-allocating walk that checks every
 * declared length and count against the input and the caller's limits before
 * anything is handed to libcbor's cbor_load, a bounds-checked pull reader for
 * decoders that want no libcbor item tree, and strict typed accessors.
 * General purpose: knows nothing of chute objects or protocol messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

/* Hard cap on max_depth (the walk recurses once per nesting level). */
#define CBOR_CHECK_DEPTH_MAX 256

struct cbor_check_limits {
        size_t max_depth;  /* nesting of arrays/maps/tags: 0 = top-level scalar only */
        size_t max_items;  /* elements of one array, pairs of one map */
        size_t max_string; /* bytes of one byte or text string */
        size_t max_total;  /* data items in the whole input (keys and values count) */
        bool allow_tags;   /* accept major type 6; rejected otherwise */
        bool allow_floats; /* accept half/single/double floats; rejected otherwise */
};

/* Limits for small messages: depth 16, 4096 items, 1 MiB strings, 65536 total. */
extern const struct cbor_check_limits cbor_check_default_limits;

/* Walk buf without allocating: exactly one well-formed definite-length item
 * within lim (NULL: cbor_check_default_limits), no trailing bytes. 0, -EBADMSG (malformed, truncated, trailing, invalid UTF-8 text,
 * indefinite length, disallowed tag/float/simple value) or -E2BIG (a limit). */
int cbor_check_validate(const uint8_t *buf, size_t len, const struct cbor_check_limits *lim);
/* cbor_check_validate, then cbor_load; *ret is a new reference (cbor_decref it).
 * -EBADMSG, -E2BIG or -ENOMEM. */
int cbor_check_load(const uint8_t *buf, size_t len, const struct cbor_check_limits *lim,
                    cbor_item_t **ret);

/* True when s is strict UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
bool cbor_check_utf8_valid(const uint8_t *s, size_t len);
/* Replace each byte of s that is not part of a well-formed UTF-8 character
 * by '?', in place (text to send that may hold file names, or be cut). */
void cbor_check_utf8_repair(char *s);

/* ---- strict accessors on loaded items (wrong type: -EBADMSG) ---- */

/* Unsigned integer (major type 0). */
int cbor_check_get_uint(const cbor_item_t *item, uint64_t *ret);
/* Signed integer (major type 0 or 1) that fits int64_t; -EBADMSG otherwise. */
int cbor_check_get_int(const cbor_item_t *item, int64_t *ret);
/* Boolean (true/false simple value). */
int cbor_check_get_bool(const cbor_item_t *item, bool *ret);
/* Definite byte string of at most max bytes; *ret points into item (borrowed). */
int cbor_check_get_bytes(const cbor_item_t *item, size_t max, const uint8_t **ret,
                         size_t *ret_len);
/* Definite byte string of exactly len bytes, copied into ret (ids, keys). */
int cbor_check_get_bytes_exact(const cbor_item_t *item, void *ret, size_t len);
/* Definite text string of at most max bytes without NUL, as a new malloc'ed C string. */
int cbor_check_get_string(const cbor_item_t *item, size_t max, char **ret);

/* Value for unsigned integer key in map, or NULL (also when map is not a map). */
cbor_item_t *cbor_check_map_find(const cbor_item_t *map, uint64_t key);
/* 0 when map is a map whose keys are all unsigned integers, none twice; -EBADMSG otherwise. */
int cbor_check_map_uint_keys_unique(const cbor_item_t *map);
/* Typed look-ups by integer key: -ENOENT when absent, -EBADMSG on a wrong type. */
int cbor_check_map_get_uint(const cbor_item_t *map, uint64_t key, uint64_t *ret);
int cbor_check_map_get_int(const cbor_item_t *map, uint64_t key, int64_t *ret);
int cbor_check_map_get_bool(const cbor_item_t *map, uint64_t key, bool *ret);
int cbor_check_map_get_bytes(const cbor_item_t *map, uint64_t key, size_t max,
                             const uint8_t **ret, size_t *ret_len);
int cbor_check_map_get_string(const cbor_item_t *map, uint64_t key, size_t max, char **ret);

/* ---- pull reader over raw bytes (no allocation, every read bounds-checked) ----
 * Meant for input already accepted by cbor_check_validate, but safe on any
 * input. Failed reads return -EBADMSG and leave the position unspecified. */

struct cbor_check_reader {
        const uint8_t *buf;
        size_t len;
        size_t pos;
};

/* Start reading buf at offset 0. */
void cbor_check_reader_init(struct cbor_check_reader *r, const uint8_t *buf, size_t len);
/* True when every byte has been consumed. */
bool cbor_check_reader_done(const struct cbor_check_reader *r);
/* Major type (0..7) of the next item without consuming it; -EBADMSG at the end. */
int cbor_check_peek_major(const struct cbor_check_reader *r);
/* Unsigned integer. */
int cbor_check_read_uint(struct cbor_check_reader *r, uint64_t *ret);
/* Signed integer that fits int64_t. */
int cbor_check_read_int(struct cbor_check_reader *r, int64_t *ret);
/* Boolean. */
int cbor_check_read_bool(struct cbor_check_reader *r, bool *ret);
/* Definite byte string of at most max bytes; *ret points into the buffer. */
int cbor_check_read_bytes(struct cbor_check_reader *r, size_t max, const uint8_t **ret,
                          size_t *ret_len);
/* Definite valid UTF-8 text string of at most max bytes; *ret points into the buffer (no NUL). */
int cbor_check_read_text(struct cbor_check_reader *r, size_t max, const char **ret,
                         size_t *ret_len);
/* Definite array header; *ret is its element count (checked against remaining bytes). */
int cbor_check_read_array(struct cbor_check_reader *r, uint64_t *ret);
/* Definite map header; *ret is its pair count (checked against remaining bytes). */
int cbor_check_read_map(struct cbor_check_reader *r, uint64_t *ret);
/* Skip one complete item of any type (iterative, no recursion). */
int cbor_check_skip(struct cbor_check_reader *r);
