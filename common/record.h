/* SPDX-License-Identifier: MIT */
/* Records: one object sealed for storage (AEAD under K_enc, AAD = its id,
 * payload zstd-compressed when that pays). Layout in docs/formats.md
 * "Records". Packs (pack.c) hold records; this file knows nothing of packs,
 * files or stores. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "oid.h"

#define RECORD_VERSION 1
/* nonce ‖ masked version ‖ masked cipher ‖ (type ‖ flags) ‖ tag */
#define RECORD_OVERHEAD (CRYPTO_NONCE_SIZE + 2 + 2 + CRYPTO_TAG_SIZE)
/* Smallest possible record (empty payload). */
#define RECORD_MIN_SIZE RECORD_OVERHEAD

/* Plaintext flag bits (second plaintext byte). */
#define RECORD_FLAG_ZSTD 0x01u

/* Compression levels for record_seal (chuted.conf compression_level): 0
 * stores every payload raw; 1..RECORD_LEVEL_MAX is the zstd level for file
 * content (OBJECT_DATA), and metadata (trees, lists, snapshots: small,
 * repetitive, read by every ls and restore) is compressed at
 * MAX(level, RECORD_METADATA_LEVEL). Compressed output is kept only when it
 * saves at least 1/8. */
#define RECORD_LEVEL_MAX 19
#define RECORD_METADATA_LEVEL 6

/* Largest record record_seal can produce for a payload of len bytes. */
size_t record_bound(size_t len);

/* Seal payload[len] of the given type as object id into out[cap] (cap >=
 * record_bound(len)), compressed at level (0..RECORD_LEVEL_MAX, see above;
 * -EINVAL outside); *ret_len is the record size. */
int record_seal(enum crypto_cipher cipher, const uint8_t enc_key[CRYPTO_KEY_SIZE],
                const struct oid *id, enum object_type type, const void *payload, size_t len,
                int level, void *out, size_t cap, size_t *ret_len);

/* Open record[len] stored as object id: payload into out[cap], its type and
 * length into ret_*. -EBADMSG on a bad tag, id, cipher, version, type or flags
 * (or a corrupt compressed payload), -ENOBUFS when the payload exceeds cap. */
int record_open(const uint8_t enc_key[CRYPTO_KEY_SIZE], const struct oid *id, const void *record,
                size_t len, enum object_type *ret_type, void *out, size_t cap, size_t *ret_len);

/* record_open, then check that HMAC(id_key, type ‖ payload) equals id
 * (-EBADMSG otherwise). What every reader of untrusted records should call. */
int record_open_verify(const uint8_t enc_key[CRYPTO_KEY_SIZE], const uint8_t id_key[CRYPTO_KEY_SIZE],
                       const struct oid *id, const void *record, size_t len,
                       enum object_type *ret_type, void *out, size_t cap, size_t *ret_len);

/* Payload size upper bound for a record of len bytes before decompression
 * (0 when len is too short to be a record). */
size_t record_plain_size(size_t len);
