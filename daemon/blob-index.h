/* SPDX-License-Identifier: MIT */
/* Blob data without files (blob.h has the store): the index.json a client
 * POSTs to /chute/blob/, checked strictly, blob ids, and the sorted list of
 * byte ranges an upload has received, with the text form kept in its
 * staging directory ("START END\n" per range, END exclusive). No I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define BLOB_ID_LEN 32 /* hex digits of 16 random bytes */
#define BLOB_MAX_SIZE (UINT64_C(1) << 40)
#define BLOB_MAX_RANGES 4096 /* disjoint pieces of one upload */
#define BLOB_MAX_INDEX 4096  /* bytes of a POSTed index.json */

struct blob_range {
        uint64_t start, end; /* [start, end) */
};

/* Check a POSTed index.json and return the document to store (new
 * reference; keys size, name, type, sha256 in lower case); -EINVAL or
 * -E2BIG with err filled, -ENOMEM. */
int blob_index_check(const char *text, size_t len, json_t **ret, char *err, size_t errlen);
/* True when the len bytes of id are a blob id (32 lower-case hex digits). */
bool blob_id_valid(const char *id, size_t len);

/* Add [a, e) (a < e) to the sorted list, merging what overlaps or touches;
 * -E2BIG when it would hold more than BLOB_MAX_RANGES (list unchanged). */
int blob_ranges_add(struct blob_range **ranges, size_t *n_ranges, uint64_t a, uint64_t e);
/* Parse the text form for an upload of size bytes into *ret (replaced);
 * -EBADMSG for anything but sorted, disjoint ranges inside size. */
int blob_ranges_parse(const char *text, uint64_t size, struct blob_range **ret, size_t *ret_n);
/* The text form of n ranges (new string, possibly empty). */
int blob_ranges_format(const struct blob_range *v, size_t n, char **ret, size_t *ret_len);
