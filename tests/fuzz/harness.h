/* SPDX-License-Identifier: MIT */
/* What the fuzz targets and their seed generator share: test keys derived
 * deterministically from a fixed master (real keys_derive, never a real
 * secret), and the layouts that put fuzzer bytes behind a valid AEAD tag so
 * the pack and record decoders get past authentication. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "pack.h"
#include "record.h"

/* Input layouts (first byte = mode; docs/fuzzing.md):
 *   fuzz-pack   mode&1 == 0: the rest is a whole pack.
 *               mode&1 == 1: cipher bit (mode&2), area u16, header offset u32,
 *                 header length u32, trailer word u32, header plaintext
 *                 (count u32 ‖ entries); 0xffffffff for offset or length means
 *                 "where the header really is".
 *   fuzz-record mode&1 == 0: the rest is a record of HARNESS_RECORD_ID.
 *               mode&1 == 1: cipher bit (mode&2), then the plaintext
 *                 type ‖ flags ‖ payload, sealed as HARNESS_RECORD_ID. */
#define HARNESS_PACK_FIELDS (1 + 2 + 4 + 4 + 4)
#define HARNESS_WHERE_IT_IS 0xffffffffu

/* The test keys (keys_derive of a fixed master); never fails. */
const struct keys *harness_keys(void);
/* The object id every fuzzed record is opened as. */
const struct oid *harness_record_id(void);
/* Cipher chosen by a mode byte. */
enum crypto_cipher harness_cipher(uint8_t mode);

/* Build a pack from a structured fuzz-pack input (mode&1 == 1): area zeros ‖
 * sealed header ‖ sealed trailer. *ret is malloc'ed; -EINVAL when too short. */
int harness_pack_build(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len);
/* The header plaintext of a real pack (what harness_pack_build seals), for seeds. */
int harness_pack_header_plain(const uint8_t *pack, size_t size, uint8_t **ret, size_t *ret_len,
                              uint64_t *ret_header_off);
/* Encode entries as header plaintext (count u32 ‖ 48-byte entries); malloc'ed. */
int harness_pack_header_encode(const struct pack_entry *entries, size_t n, uint8_t **ret,
                               size_t *ret_len);

/* Seal plaintext type ‖ flags ‖ payload as a record of harness_record_id()
 * with a fixed nonce; *ret is malloc'ed. -EINVAL when shorter than 2 bytes. */
int harness_record_seal(enum crypto_cipher cipher, const uint8_t *plain, size_t len, uint8_t **ret,
                        size_t *ret_len);
/* Decrypt a record of harness_record_id() back to type ‖ flags ‖ stored payload. */
int harness_record_plain(const uint8_t *rec, size_t len, uint8_t **ret, size_t *ret_len);
