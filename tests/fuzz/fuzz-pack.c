/* SPDX-License-Identifier: MIT */
/* libFuzzer target for common/pack.c and common/record.c. Random bytes never
 * get past an AEAD tag, so the harness seals the fuzzer's input with a fixed
 * key (as a header plaintext, trailer fields, or record plaintext) and checks
 * what the readers accept. Build by hand:
 *   clang -g -fsanitize=fuzzer,address,undefined -include config.h -Icommon \
 *         tests/fuzz/fuzz-pack.c common/pack.c common/record.c common/oid.c \
 *         common/crypto.c common/compress.c -lcrypto -lzstd -o fuzz-pack */
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t nonce[12] = { 7 };

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
        for (int i = bytes - 1; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t) v;
}

/* data = area size u16 ‖ header offset u32 ‖ header len u32 ‖ header plaintext */
static void fuzz_header(const uint8_t *data, size_t size)
{
        static const char aad[] = "chute pack header v1";
        struct pack_entry *entries = NULL;
        uint64_t area, header_off, header_len, total, prev_end = 0;
        uint8_t *pack, *t, pt[16] = {};
        size_t plain_len, n;

        if (size < 10)
                return;
        area = (uint64_t) data[0] << 8 | data[1];
        header_off = (uint64_t) data[2] << 24 | data[3] << 16 | data[4] << 8 | data[5];
        header_len = (uint64_t) data[6] << 24 | data[7] << 16 | data[8] << 8 | data[9];
        data += 10;
        size -= 10;
        plain_len = size;
        total = area + plain_len + 28 + PACK_TRAILER_SIZE;
        pack = calloc(1, total);
        if (!pack)
                return;
        /* The real header sits right after the area; the trailer may lie. */
        memcpy(pack + area, nonce, 12);
        crypto_aead_seal(CRYPTO_CIPHER_AES256_GCM, key, nonce, aad, sizeof(aad) - 1, data, plain_len,
                         pack + area + 12, pack + area + 12 + plain_len);
        if (header_off == 0xffffffff)
                header_off = area, header_len = plain_len + 28;
        t = pack + total - PACK_TRAILER_SIZE;
        put_be(pt, header_off, 8);
        put_be(pt + 8, header_len, 4);
        memcpy(t, nonce, 12);
        t[44] = CRYPTO_CIPHER_AES256_GCM;
        t[45] = PACK_VERSION;
        memcpy(t + 48, "chutepak", 8);
        crypto_aead_seal(CRYPTO_CIPHER_AES256_GCM, key, nonce, t + 44, 12, pt, 16, t + 12, t + 28);

        if (pack_read_header_buffer(pack, total, key, &entries, &n) == 0) {
                for (size_t i = 0; i < n; i++) {
                        if (entries[i].offset < prev_end || entries[i].length < RECORD_MIN_SIZE ||
                            entries[i].offset + entries[i].length > total - PACK_TRAILER_SIZE)
                                abort();
                        prev_end = entries[i].offset + entries[i].length;
                }
                free(entries);
        }
        free(pack);
}

/* data = plaintext of a record: type ‖ flags ‖ payload */
static void fuzz_record(const uint8_t *data, size_t size)
{
        static const char label[] = "chute record header mask v1";
        uint8_t info[sizeof(label) - 1 + 12], mask[2], aad[34] = {}, out[4096];
        enum object_type type;
        struct oid id = {};
        uint8_t *rec;
        size_t got;

        if (size < 2)
                return;
        rec = malloc(size + RECORD_OVERHEAD - 2);
        if (!rec)
                return;
        memcpy(rec, nonce, 12);
        memcpy(info, label, sizeof(label) - 1);
        memcpy(info + sizeof(label) - 1, nonce, 12);
        crypto_hkdf_sha256(NULL, 0, key, 32, info, sizeof(info), mask, 2);
        rec[12] = RECORD_VERSION ^ mask[0];
        rec[13] = CRYPTO_CIPHER_CHACHA20_POLY1305 ^ mask[1];
        aad[32] = RECORD_VERSION;
        aad[33] = CRYPTO_CIPHER_CHACHA20_POLY1305;
        crypto_aead_seal(CRYPTO_CIPHER_CHACHA20_POLY1305, key, nonce, aad, sizeof(aad), data, size,
                         rec + 14, rec + 14 + size);
        if (record_open(key, &id, rec, size + RECORD_OVERHEAD - 2, &type, out, sizeof(out), &got) == 0 &&
            (got > sizeof(out) || !oid_type_valid(type)))
                abort();
        free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        if (data[0] & 1)
                fuzz_header(data + 1, size - 1);
        else
                fuzz_record(data + 1, size - 1);
        return 0;
}
