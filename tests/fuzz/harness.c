/* SPDX-License-Identifier: MIT */
/* Test keys and AEAD sealing of fuzzer-chosen plaintexts for the pack and
 * record targets (layouts in harness.h, formats in docs/formats.md). Test
 * code only: a fixed master and fixed nonces, never use them for data. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const uint8_t harness_nonce[CRYPTO_NONCE_SIZE] = "chute-fuzz!";
static const char harness_pack_aad[] = "chute pack header v1";
static const char harness_mask_label[] = "chute record header mask v1";
#define TRAILER_CLEAR 44

const struct keys *harness_keys(void)
{
        static struct keys k;
        static int done;

        if (!done) {
                uint8_t master[KEYS_MASTER_SIZE];

                for (size_t i = 0; i < sizeof(master); i++)
                        master[i] = (uint8_t) (0xc0 + i);
                if (keys_derive(master, &k) < 0)
                        abort();
                done = 1;
        }
        return &k;
}

const struct oid *harness_record_id(void)
{
        static const struct oid id = { .bytes = "fuzzed record id, not a real one" };

        return &id;
}

enum crypto_cipher harness_cipher(uint8_t mode)
{
        return mode & 2 ? CRYPTO_CIPHER_CHACHA20_POLY1305 : CRYPTO_CIPHER_AES256_GCM;
}

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
        return (uint64_t) get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

int harness_pack_build(const uint8_t *in, size_t len, uint8_t **ret, size_t *ret_len)
{
        const struct keys *k = harness_keys();
        enum crypto_cipher cipher;
        uint64_t area, header_off, header_len, plain_len, total;
        uint8_t plain_trailer[16], *pack, *t;
        uint32_t word;

        if (len < HARNESS_PACK_FIELDS)
                return -EINVAL;
        cipher = harness_cipher(in[0]);
        area = (uint64_t) in[1] << 8 | in[2];
        header_off = get_be32(in + 3);
        header_len = get_be32(in + 7);
        word = get_be32(in + 11);
        plain_len = len - HARNESS_PACK_FIELDS;
        total = area + CRYPTO_NONCE_SIZE + plain_len + CRYPTO_TAG_SIZE + PACK_TRAILER_SIZE;
        pack = calloc(1, total);
        if (!pack)
                return -ENOMEM;

        /* The real header sits right after the area; the trailer may lie. */
        memcpy(pack + area, harness_nonce, CRYPTO_NONCE_SIZE);
        if (crypto_aead_seal(cipher, k->pack_key, harness_nonce, harness_pack_aad,
                             sizeof(harness_pack_aad) - 1, in + HARNESS_PACK_FIELDS, plain_len,
                             pack + area + CRYPTO_NONCE_SIZE,
                             pack + area + CRYPTO_NONCE_SIZE + plain_len) < 0)
                abort();
        if (header_off == HARNESS_WHERE_IT_IS)
                header_off = area;
        if (header_len == HARNESS_WHERE_IT_IS)
                header_len = CRYPTO_NONCE_SIZE + plain_len + CRYPTO_TAG_SIZE;

        t = pack + total - PACK_TRAILER_SIZE;
        put_be64(plain_trailer, header_off);
        put_be32(plain_trailer + 8, (uint32_t) header_len);
        put_be32(plain_trailer + 12, word);
        memcpy(t, harness_nonce, CRYPTO_NONCE_SIZE);
        t[44] = (uint8_t) cipher;
        t[45] = PACK_VERSION;
        memcpy(t + 48, "chutepak", 8);
        if (crypto_aead_seal(cipher, k->pack_key, harness_nonce, t + TRAILER_CLEAR,
                             PACK_TRAILER_SIZE - TRAILER_CLEAR, plain_trailer, sizeof(plain_trailer),
                             t + CRYPTO_NONCE_SIZE, t + CRYPTO_NONCE_SIZE + 16) < 0)
                abort();
        *ret = pack;
        *ret_len = total;
        return 0;
}

int harness_pack_header_plain(const uint8_t *pack, size_t size, uint8_t **ret, size_t *ret_len,
                              uint64_t *ret_header_off)
{
        const struct keys *k = harness_keys();
        const uint8_t *t;
        uint8_t plain_trailer[16], *plain;
        uint64_t off, hlen;
        int r;

        if (size < PACK_TRAILER_SIZE)
                return -EBADMSG;
        t = pack + size - PACK_TRAILER_SIZE;
        r = crypto_aead_open(t[44], k->pack_key, t, t + TRAILER_CLEAR, PACK_TRAILER_SIZE - TRAILER_CLEAR,
                             t + CRYPTO_NONCE_SIZE, 16, t + CRYPTO_NONCE_SIZE + 16, plain_trailer);
        if (r < 0)
                return r;
        off = get_be64(plain_trailer);
        hlen = get_be32(plain_trailer + 8);
        if (hlen < CRYPTO_NONCE_SIZE + CRYPTO_TAG_SIZE || off + hlen > size - PACK_TRAILER_SIZE)
                return -EBADMSG;
        plain = malloc(hlen);
        if (!plain)
                return -ENOMEM;
        r = crypto_aead_open(t[44], k->pack_key, pack + off, harness_pack_aad,
                             sizeof(harness_pack_aad) - 1, pack + off + CRYPTO_NONCE_SIZE,
                             hlen - CRYPTO_NONCE_SIZE - CRYPTO_TAG_SIZE,
                             pack + off + hlen - CRYPTO_TAG_SIZE, plain);
        if (r < 0) {
                free(plain);
                return r;
        }
        *ret = plain;
        *ret_len = hlen - CRYPTO_NONCE_SIZE - CRYPTO_TAG_SIZE;
        *ret_header_off = off;
        return 0;
}

int harness_pack_header_encode(const struct pack_entry *entries, size_t n, uint8_t **ret,
                               size_t *ret_len)
{
        uint8_t *plain = calloc(1, 4 + n * PACK_ENTRY_SIZE), *p;

        if (!plain)
                return -ENOMEM;
        put_be32(plain, (uint32_t) n);
        p = plain + 4;
        for (size_t i = 0; i < n; i++, p += PACK_ENTRY_SIZE) {
                memcpy(p, entries[i].id.bytes, OID_SIZE);
                p[32] = entries[i].type;
                put_be32(p + 36, entries[i].length);
                put_be64(p + 40, entries[i].offset);
        }
        *ret = plain;
        *ret_len = 4 + n * PACK_ENTRY_SIZE;
        return 0;
}

/* The record header mask: HKDF-SHA256(K_enc, label ‖ nonce), 2 bytes. */
static void harness_record_mask(const uint8_t *nonce, uint8_t ret_mask[2])
{
        uint8_t info[sizeof(harness_mask_label) - 1 + CRYPTO_NONCE_SIZE];

        memcpy(info, harness_mask_label, sizeof(harness_mask_label) - 1);
        memcpy(info + sizeof(harness_mask_label) - 1, nonce, CRYPTO_NONCE_SIZE);
        if (crypto_hkdf_sha256(NULL, 0, harness_keys()->enc_key, CRYPTO_KEY_SIZE, info, sizeof(info),
                               ret_mask, 2) < 0)
                abort();
}

static void harness_record_aad(uint8_t cipher, uint8_t ret_aad[OID_SIZE + 2])
{
        memcpy(ret_aad, harness_record_id()->bytes, OID_SIZE);
        ret_aad[OID_SIZE] = RECORD_VERSION;
        ret_aad[OID_SIZE + 1] = cipher;
}

int harness_record_seal(enum crypto_cipher cipher, const uint8_t *plain, size_t len, uint8_t **ret,
                        size_t *ret_len)
{
        uint8_t mask[2], aad[OID_SIZE + 2], *rec;
        size_t total;

        if (len < 2)
                return -EINVAL;
        total = CRYPTO_NONCE_SIZE + 2 + len + CRYPTO_TAG_SIZE;
        rec = malloc(total);
        if (!rec)
                return -ENOMEM;
        memcpy(rec, harness_nonce, CRYPTO_NONCE_SIZE);
        harness_record_mask(harness_nonce, mask);
        rec[CRYPTO_NONCE_SIZE] = RECORD_VERSION ^ mask[0];
        rec[CRYPTO_NONCE_SIZE + 1] = (uint8_t) cipher ^ mask[1];
        harness_record_aad((uint8_t) cipher, aad);
        if (crypto_aead_seal(cipher, harness_keys()->enc_key, harness_nonce, aad, sizeof(aad), plain,
                             len, rec + CRYPTO_NONCE_SIZE + 2, rec + total - CRYPTO_TAG_SIZE) < 0)
                abort();
        *ret = rec;
        *ret_len = total;
        return 0;
}

int harness_record_plain(const uint8_t *rec, size_t len, uint8_t **ret, size_t *ret_len)
{
        uint8_t mask[2], aad[OID_SIZE + 2], cipher, *plain;
        size_t plain_len;
        int r;

        if (len < RECORD_OVERHEAD)
                return -EBADMSG;
        harness_record_mask(rec, mask);
        cipher = rec[CRYPTO_NONCE_SIZE + 1] ^ mask[1];
        harness_record_aad(cipher, aad);
        plain_len = len - CRYPTO_NONCE_SIZE - 2 - CRYPTO_TAG_SIZE;
        plain = malloc(plain_len);
        if (!plain)
                return -ENOMEM;
        r = crypto_aead_open(cipher, harness_keys()->enc_key, rec, aad, sizeof(aad),
                             rec + CRYPTO_NONCE_SIZE + 2, plain_len, rec + len - CRYPTO_TAG_SIZE, plain);
        if (r < 0) {
                free(plain);
                return r;
        }
        *ret = plain;
        *ret_len = plain_len;
        return 0;
}
