/* SPDX-License-Identifier: MIT */
/* Records: round trips with both ciphers, and rejection of every flipped
 * bit, a wrong id, a wrong key, a truncated record and a too-small buffer;
 * compression levels (0 raw, higher smaller, metadata at least level 6). */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "record.h"

static uint8_t enc_key[32], id_key[32], other_key[32];

static void setup(void)
{
        cr_assert_eq(crypto_random(enc_key, sizeof(enc_key)), 0);
        cr_assert_eq(crypto_random(id_key, sizeof(id_key)), 0);
        cr_assert_eq(crypto_random(other_key, sizeof(other_key)), 0);
}

TestSuite(record, .init = setup);

/* Seal payload as an object of type, id computed with id_key. */
static size_t seal(enum crypto_cipher cipher, enum object_type type, const void *payload, size_t len,
                   struct oid *ret_id, uint8_t **ret_rec)
{
        uint8_t *rec = malloc(record_bound(len));
        size_t n = 0;

        cr_assert_not_null(rec);
        cr_assert_eq(oid_compute(id_key, type, payload, len, ret_id), 0);
        cr_assert_eq(record_seal(cipher, enc_key, ret_id, type, payload, len, 1,
                                 rec, record_bound(len), &n),
                     0);
        cr_assert_leq(n, record_bound(len));
        *ret_rec = rec;
        return n;
}

static void round_trip(enum crypto_cipher cipher, size_t len)
{
        uint8_t *payload = malloc(len + 1), *rec, *out = malloc(len + 1);
        enum object_type type = 0;
        struct oid id;
        size_t n, got = 0;

        cr_assert_eq(crypto_random(payload, len), 0);
        n = seal(cipher, OBJECT_TREE, payload, len, &id, &rec);
        cr_assert_eq(n, len + RECORD_OVERHEAD);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, &type, out, len, &got), 0);
        cr_assert_eq(type, OBJECT_TREE);
        cr_assert_eq(got, len);
        cr_assert(len == 0 || memcmp(out, payload, len) == 0);
        /* The plaintext is not in the record. */
        if (len >= 64)
                cr_assert_null(memmem(rec, n, payload, 32));
        free(payload);
        free(out);
        free(rec);
}

Test(record, round_trip_aes)
{
        round_trip(CRYPTO_CIPHER_AES256_GCM, 0);
        round_trip(CRYPTO_CIPHER_AES256_GCM, 1);
        round_trip(CRYPTO_CIPHER_AES256_GCM, 4096);
        round_trip(CRYPTO_CIPHER_AES256_GCM, 1 << 20);
}

Test(record, round_trip_chacha)
{
        round_trip(CRYPTO_CIPHER_CHACHA20_POLY1305, 0);
        round_trip(CRYPTO_CIPHER_CHACHA20_POLY1305, 1);
        round_trip(CRYPTO_CIPHER_CHACHA20_POLY1305, 4096);
        round_trip(CRYPTO_CIPHER_CHACHA20_POLY1305, 1 << 20);
}

Test(record, compressible_payload_is_compressed)
{
        size_t len = 1 << 20, n, got = 0;
        uint8_t *payload = malloc(len), *rec, *out = malloc(len);
        enum object_type type = 0;
        struct oid id;

        for (size_t i = 0; i < len; i++)
                payload[i] = "chute compresses text, "[i % 23];
        n = seal(CRYPTO_CIPHER_AES256_GCM, OBJECT_DATA, payload, len, &id, &rec);
        cr_assert_lt(n, len / 8, "record of %zu bytes for %zu repetitive ones", n, len);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, &type, out, len, &got), 0);
        cr_assert_eq(got, len);
        cr_assert_arr_eq(out, payload, len);
        /* Too small an output buffer: refused before decompressing. */
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, &type, out, len - 1, &got),
                     -ENOBUFS);
        free(payload);
        free(out);
        free(rec);
}

Test(record, flipped_bits_rejected)
{
        static const char text[] = "a small tree object, or what stands for one here";
        enum crypto_cipher ciphers[] = { CRYPTO_CIPHER_AES256_GCM, CRYPTO_CIPHER_CHACHA20_POLY1305 };

        for (size_t c = 0; c < ELEMENTSOF(ciphers); c++) {
                uint8_t *rec, out[sizeof(text)];
                struct oid id;
                size_t n = seal(ciphers[c], OBJECT_DATA, text, sizeof(text), &id, &rec), got;

                for (size_t bit = 0; bit < n * 8; bit++) {
                        rec[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got),
                                     -EBADMSG, "bit %zu flipped was accepted", bit);
                        rec[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                }
                cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), 0);
                free(rec);
        }
}

Test(record, wrong_id_key_length)
{
        static const char text[] = "payload";
        uint8_t *rec, out[64];
        struct oid id, other;
        size_t n = seal(CRYPTO_CIPHER_AES256_GCM, OBJECT_SNAPSHOT, text, sizeof(text), &id, &rec), got;

        other = id;
        other.bytes[31] ^= 1;
        cr_assert_eq(record_open(enc_key, &other, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
        cr_assert_eq(record_open(other_key, &id, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
        for (size_t cut = 0; cut < n; cut++)
                cr_assert_eq(record_open(enc_key, &id, rec, cut, NULL, out, sizeof(out), &got),
                             -EBADMSG);
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(text) - 1, &got), -ENOBUFS);
        /* Verify: the right key for decryption, the wrong key for the id. */
        cr_assert_eq(record_open_verify(enc_key, other_key, &id, rec, n, NULL, out, sizeof(out), &got),
                     -EBADMSG);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, NULL, out, sizeof(out), &got), 0);
        free(rec);
}

Test(record, sealed_with_a_wrong_id_fails_verify)
{
        static const char text[] = "content";
        uint8_t rec[128], out[64];
        struct oid id;
        size_t n, got;

        /* A record that decrypts but whose id is not HMAC(type ‖ payload). */
        cr_assert_eq(oid_compute(id_key, OBJECT_DATA, "other", 5, &id), 0);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, text,
                                 sizeof(text), 0, rec, sizeof(rec), &n),
                     0);
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), 0);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, NULL, out, sizeof(out), &got),
                     -EBADMSG);
}

Test(record, bad_arguments)
{
        uint8_t rec[64];
        struct oid id = {};
        size_t n;

        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, "x", 1, 0, rec,
                                 RECORD_OVERHEAD, &n),
                     -ENOBUFS);
        cr_assert_eq(record_seal(7, enc_key, &id, OBJECT_DATA, "x", 1, 0, rec, sizeof(rec), &n), -EINVAL);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, 9, "x", 1, 0, rec, sizeof(rec),
                                 &n),
                     -EINVAL);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, "x", 1, -1, rec,
                                 sizeof(rec), &n),
                     -EINVAL);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, "x", 1,
                                 RECORD_LEVEL_MAX + 1, rec, sizeof(rec), &n),
                     -EINVAL);
}

/* Text from a 400-word vocabulary picked by a fixed LCG: compressible, and
 * with room for stronger levels to do better than level 1. */
static void make_text(uint8_t *buf, size_t len)
{
        static const char *const syllables[] = { "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve",
                                                  "zu", "ba", "de", "fo", "gi", "hu", "ja" };
        uint32_t x = 12345;
        size_t i = 0;

        while (i < len) {
                x = x * 1103515245u + 12345u;
                unsigned word = (x >> 16) % 400, n = 1 + word % 3;
                for (unsigned k = 0; k < n && i < len; k++) {
                        const char *sy = syllables[(word >> (k * 2)) % 16];
                        for (const char *c = sy; *c && i < len; c++)
                                buf[i++] = (uint8_t)*c;
                }
                if (i < len)
                        buf[i++] = (x >> 8) % 11 == 0 ? '\n' : ' ';
        }
}

/* Size of the record for payload at level; it opens back to the payload. */
static size_t sealed_size(enum object_type type, const uint8_t *payload, size_t len, int level)
{
        uint8_t *rec = malloc(record_bound(len)), *out = malloc(len);
        enum object_type got_type;
        struct oid id;
        size_t n = 0, got = 0;

        cr_assert_eq(oid_compute(id_key, type, payload, len, &id), 0);
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, type, payload, len, level, rec,
                                 record_bound(len), &n),
                     0, "level %d", level);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, &got_type, out, len, &got), 0);
        cr_assert_eq(got, len);
        cr_assert_eq(got_type, type);
        cr_assert_eq(memcmp(out, payload, len), 0);
        free(rec);
        free(out);
        return n;
}

Test(record, compression_levels)
{
        size_t len = 256 * 1024;
        uint8_t *text = malloc(len);
        size_t raw, l1, l3, l19;

        make_text(text, len);
        raw = sealed_size(OBJECT_DATA, text, len, 0);
        l1 = sealed_size(OBJECT_DATA, text, len, 1);
        l3 = sealed_size(OBJECT_DATA, text, len, 3);
        l19 = sealed_size(OBJECT_DATA, text, len, 19);
        cr_assert_eq(raw, len + RECORD_OVERHEAD, "level 0 stores the payload as it is");
        cr_assert_lt(l1, len / 2, "level 1 compresses this text (%zu of %zu)", l1, len);
        cr_assert_lt(l3, l1, "level 3 (%zu) is smaller than level 1 (%zu)", l3, l1);
        cr_assert_lt(l19, l3, "level 19 (%zu) is smaller than level 3 (%zu)", l19, l3);
        free(text);
}

Test(record, metadata_is_compressed_at_least_at_level_6)
{
        size_t len = 256 * 1024;
        uint8_t *text = malloc(len);

        make_text(text, len);
        /* the same bytes as a tree: level 1 asked, level 6 used */
        size_t data1 = sealed_size(OBJECT_DATA, text, len, 1), tree1 = sealed_size(OBJECT_TREE, text, len, 1);
        size_t data6 = sealed_size(OBJECT_DATA, text, len, 6), tree19 = sealed_size(OBJECT_TREE, text, len, 19);
        size_t data19 = sealed_size(OBJECT_DATA, text, len, 19);
        cr_assert_lt(tree1, data1, "a tree at level 1 (%zu) is smaller than data at level 1 (%zu)", tree1, data1);
        cr_assert_eq(tree1, data6, "a tree at level 1 is sealed at level 6");
        cr_assert_eq(tree19, data19, "a tree at level 19 is sealed at level 19");
        /* level 0 means no compression for metadata too */
        cr_assert_eq(sealed_size(OBJECT_SNAPSHOT, text, len, 0), len + RECORD_OVERHEAD);
        free(text);
}

Test(record, no_fixed_bytes_at_record_start)
{
        /* Record starts must look random (a fixed byte would mark chunk
         * boundaries inside packs): over 64 records, bytes 12 and 13 take
         * many values. */
        int seen12[256] = {}, seen13[256] = {}, distinct12 = 0, distinct13 = 0;

        for (int i = 0; i < 64; i++) {
                uint8_t *rec;
                struct oid id;

                seal(CRYPTO_CIPHER_AES256_GCM, OBJECT_DATA, "same", 4, &id, &rec);
                distinct12 += !seen12[rec[12]]++;
                distinct13 += !seen13[rec[13]]++;
                free(rec);
        }
        cr_assert_gt(distinct12, 16);
        cr_assert_gt(distinct13, 16);
}

/* Build a record by hand around an arbitrary plaintext (type ‖ flags ‖
 * body), as docs/formats.md describes, to feed the reader bytes record_seal
 * would never make. */
static size_t record_forge(const struct oid *id, uint8_t type, uint8_t flags, const void *body,
                           size_t len, uint8_t *rec)
{
        static const char label[] = "chute record header mask v1";
        uint8_t info[sizeof(label) - 1 + 12], mask[2], aad[34];

        cr_assert_eq(crypto_random(rec, 12), 0);
        memcpy(info, label, sizeof(label) - 1);
        memcpy(info + sizeof(label) - 1, rec, 12);
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, enc_key, 32, info, sizeof(info), mask, 2), 0);
        rec[12] = RECORD_VERSION ^ mask[0];
        rec[13] = CRYPTO_CIPHER_AES256_GCM ^ mask[1];
        rec[14] = type;
        rec[15] = flags;
        memcpy(rec + 16, body, len);
        memcpy(aad, id->bytes, 32);
        aad[32] = RECORD_VERSION;
        aad[33] = CRYPTO_CIPHER_AES256_GCM;
        cr_assert_eq(crypto_aead_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, rec, aad, sizeof(aad), rec + 14,
                                      len + 2, rec + 14, rec + 16 + len),
                     0);
        return len + RECORD_OVERHEAD;
}

Test(record, forged_plaintexts_rejected)
{
        uint8_t rec[256], out[64];
        struct oid id = {};
        size_t n, got;

        n = record_forge(&id, OBJECT_DATA, 0, "abc", 3, rec);
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), 0);
        cr_assert_eq(got, 3);
        n = record_forge(&id, 0, 0, "abc", 3, rec); /* unknown type */
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
        n = record_forge(&id, OBJECT_TOMBSTONE + 1, 0, "abc", 3, rec);
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
        n = record_forge(&id, OBJECT_DATA, 0x02, "abc", 3, rec); /* unknown flag */
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
}

Test(record, compression_round_trip_and_bounds)
{
        static uint8_t payload[1 << 20], out[1 << 20];
        uint8_t *rec;
        struct oid id;
        size_t n, got;
        enum object_type type;

        /* Compressible: a record much smaller than the payload, still exact. */
        for (size_t i = 0; i < sizeof(payload); i++)
                payload[i] = (uint8_t) "chute compresses text well\n"[i % 27];
        n = seal(CRYPTO_CIPHER_CHACHA20_POLY1305, OBJECT_DATA, payload, sizeof(payload), &id, &rec);
        cr_assert_lt(n, sizeof(payload) / 8);
        cr_assert_eq(record_open_verify(enc_key, id_key, &id, rec, n, &type, out, sizeof(out), &got), 0);
        cr_assert_eq(got, sizeof(payload));
        cr_assert(memcmp(out, payload, got) == 0);
        /* Decompression is bounded by the caller's buffer. */
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out) - 1, &got), -ENOBUFS);
        free(rec);

        /* Without the option nothing is compressed. */
        rec = malloc(record_bound(sizeof(payload)));
        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, payload,
                                 sizeof(payload), 0, rec, record_bound(sizeof(payload)), &n),
                     0);
        cr_assert_eq(n, record_bound(sizeof(payload)));
        free(rec);
}

Test(record, corrupt_compressed_payload_rejected)
{
        uint8_t rec[256], out[64];
        struct oid id = {};
        size_t n, got;

        /* Authentic record, zstd flag set, body not a zstd frame. */
        n = record_forge(&id, OBJECT_DATA, RECORD_FLAG_ZSTD, "not zstd at all", 15, rec);
        cr_assert_eq(record_open(enc_key, &id, rec, n, NULL, out, sizeof(out), &got), -EBADMSG);
}
