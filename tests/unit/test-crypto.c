/* SPDX-License-Identifier: MIT */
/* Known-answer tests for common/crypto.c: SHA-256 (FIPS 180-2), HMAC-SHA256
 * (RFC 4231), HKDF-SHA256 (RFC 5869), and AEAD round trips and tampering. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "oid.h"

static size_t unhex(const char *hex, uint8_t *out)
{
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                out[i] = (uint8_t)v;
        }
        return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
        uint8_t want[256];
        size_t n = unhex(hex, want);
        cr_assert_eq(n, len);
        cr_assert(memcmp(got, want, len) == 0, "digest mismatch for %s", hex);
}

Test(sha256, nist_vectors)
{
        uint8_t d[32];
        cr_assert_eq(crypto_sha256("abc", 3, d), 0);
        assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        cr_assert_eq(crypto_sha256("", 0, d), 0);
        assert_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        cr_assert_eq(crypto_sha256(m, strlen(m), d), 0);
        assert_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, streaming_equals_oneshot)
{
        static uint8_t buf[100000];
        uint8_t a[32], b[32];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + 3);
        struct crypto_sha256 *s;
        cr_assert_eq(crypto_sha256_new(&s), 0);
        for (size_t off = 0; off < sizeof(buf); off += 999)
                crypto_sha256_update(s, buf + off, sizeof(buf) - off < 999 ? sizeof(buf) - off : 999);
        cr_assert_eq(crypto_sha256_final(s, a), 0);
        crypto_sha256(buf, sizeof(buf), b);
        cr_assert(memcmp(a, b, 32) == 0);
        /* one million 'a' (FIPS 180-2 vector) */
        cr_assert_eq(crypto_sha256_new(&s), 0);
        memset(buf, 'a', 1000);
        for (int i = 0; i < 1000; i++)
                crypto_sha256_update(s, buf, 1000);
        crypto_sha256_final(s, a);
        assert_hex(a, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void hmac_case(const char *key_hex, const char *data_hex, const char *mac_hex, size_t trunc)
{
        uint8_t key[256], data[256], mac[32];
        size_t kl = unhex(key_hex, key), dl = unhex(data_hex, data);
        struct crypto_piece p[] = {{data, dl / 2}, {data + dl / 2, dl - dl / 2}};
        cr_assert_eq(crypto_hmac_sha256(key, kl, p, 2, mac), 0);
        assert_hex(mac, trunc, mac_hex);
}

Test(hmac, rfc4231)
{
        /* test case 1 */
        hmac_case("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
                  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
        /* test case 2: "Jefe" */
        hmac_case("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
                  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
        /* test case 3 */
        hmac_case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
                  "dddddddddddddddddddddddddddd",
                  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
        /* test case 5: truncated to 128 bits */
        hmac_case("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
                  "a3b6167473100ee06e0c796c2955552b", 16);
        /* test case 6: key longer than the block */
        char key[131 * 2 + 1] = {0};
        for (int i = 0; i < 131; i++)
                memcpy(key + 2 * i, "aa", 2);
        hmac_case(key,
                  "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579"
                  "202d2048617368204b6579204669727374",
                  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
}

Test(hkdf, rfc5869)
{
        uint8_t ikm[80], salt[80], info[80], okm[82];
        /* A.1 */
        size_t il = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm);
        size_t sl = unhex("000102030405060708090a0b0c", salt);
        size_t fl = unhex("f0f1f2f3f4f5f6f7f8f9", info);
        cr_assert_eq(crypto_hkdf_sha256(salt, sl, ikm, il, info, fl, okm, 42), 0);
        assert_hex(okm, 42,
                   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b88718"
                   "5865");
        /* A.3: no salt, no info */
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, ikm, il, NULL, 0, okm, 42), 0);
        assert_hex(okm, 42,
                   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a"
                   "96c8");
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, ikm, il, NULL, 0, okm, 0), -EINVAL);
}

static void aead_tamper(enum crypto_cipher cipher)
{
        uint8_t key[32], nonce[12], tag[16], pt[300], ct[300], out[300];
        const char aad[] = "object-id-aad";
        crypto_random(key, sizeof(key));
        crypto_random(nonce, sizeof(nonce));
        crypto_random(pt, sizeof(pt));
        cr_assert_eq(crypto_aead_seal(cipher, key, nonce, aad, sizeof(aad), pt, sizeof(pt), ct, tag), 0);
        cr_assert(memcmp(pt, ct, sizeof(pt)) != 0);
        cr_assert_eq(crypto_aead_open(cipher, key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out), 0);
        cr_assert(memcmp(pt, out, sizeof(pt)) == 0);

        for (size_t bit = 0; bit < sizeof(nonce) * 8; bit++) {
                nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
                cr_assert_eq(crypto_aead_open(cipher, key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out),
                             -EBADMSG, "nonce bit %zu", bit);
                nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        }
        for (size_t bit = 0; bit < sizeof(ct) * 8; bit += 7) {
                ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
                cr_assert_eq(crypto_aead_open(cipher, key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out),
                             -EBADMSG, "ciphertext bit %zu", bit);
                ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        }
        for (size_t bit = 0; bit < sizeof(tag) * 8; bit++) {
                tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
                cr_assert_eq(crypto_aead_open(cipher, key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out),
                             -EBADMSG, "tag bit %zu", bit);
                tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        }
        char bad_aad[sizeof(aad)];
        memcpy(bad_aad, aad, sizeof(aad));
        for (size_t bit = 0; bit < sizeof(aad) * 8; bit++) {
                bad_aad[bit / 8] ^= (char)(1 << (bit % 8));
                cr_assert_eq(crypto_aead_open(cipher, key, nonce, bad_aad, sizeof(aad), ct, sizeof(ct), tag, out),
                             -EBADMSG, "aad bit %zu", bit);
                bad_aad[bit / 8] ^= (char)(1 << (bit % 8));
        }
        /* the other cipher cannot open it */
        enum crypto_cipher other = cipher == CRYPTO_CIPHER_AES256_GCM ? CRYPTO_CIPHER_CHACHA20_POLY1305
                                                                      : CRYPTO_CIPHER_AES256_GCM;
        cr_assert_eq(crypto_aead_open(other, key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out), -EBADMSG);
}

Test(aead, aes_gcm_round_trip_and_tamper) { aead_tamper(CRYPTO_CIPHER_AES256_GCM); }
Test(aead, chacha_round_trip_and_tamper) { aead_tamper(CRYPTO_CIPHER_CHACHA20_POLY1305); }

Test(aead, unknown_cipher_rejected)
{
        uint8_t key[32] = {0}, nonce[12] = {0}, tag[16], buf[4] = {0};
        cr_assert_eq(crypto_aead_seal(99, key, nonce, NULL, 0, buf, 4, buf, tag), -EINVAL);
        cr_assert(!crypto_cipher_valid(0));
        cr_assert(crypto_cipher_valid(crypto_cipher_default()));
}

Test(aead, aes_gcm_known_answer)
{
        /* NIST GCM test vector: AES-256, 96-bit IV, key/pt all zero (gcmEncryptExtIV256) */
        uint8_t key[32] = {0}, nonce[12] = {0}, pt[16] = {0}, ct[16], tag[16];
        cr_assert_eq(crypto_aead_seal(CRYPTO_CIPHER_AES256_GCM, key, nonce, NULL, 0, pt, 16, ct, tag), 0);
        assert_hex(ct, 16, "cea7403d4d606b6e074ec5d3baf39d18");
        assert_hex(tag, 16, "d0d1c8a799996bf0265b98b5d48ab919");
}

Test(prf, deterministic_and_keyed)
{
        uint8_t k1[16] = {1}, k2[16] = {2};
        struct crypto_prf *a, *b;
        cr_assert_eq(crypto_prf_new(k1, &a), 0);
        cr_assert_eq(crypto_prf_new(k2, &b), 0);
        cr_assert_eq(crypto_prf_eval(a, 12345), crypto_prf_eval(a, 12345));
        cr_assert_neq(crypto_prf_eval(a, 12345), crypto_prf_eval(b, 12345));
        cr_assert_neq(crypto_prf_eval(a, 12345), crypto_prf_eval(a, 12346));
        crypto_prf_free(a);
        crypto_prf_free(b);
}

/* The fingerprint is GMAC: AES-256-GCM's tag over AAD alone, nonce zero.
 * Where the CPU lacks fast GHASH it is refused (-ENOTSUP) and not tested. */
static void fingerprint_or_skip(void)
{
        uint8_t key[32] = {0}, fp[16];
        if (!crypto_fingerprint_available()) {
                cr_assert_eq(crypto_fingerprint(key, "", 0, fp), -ENOTSUP);
                cr_skip_test("no AES and carry-less multiply instructions here");
        }
}

Test(fingerprint, known_answer_and_gcm_tag)
{
        uint8_t key[32] = {0}, fp[16], tag[16], nonce[12] = {0}, buf[100000];
        fingerprint_or_skip();

        /* McGrew-Viega GCM test case 13: AES-256, zero key and IV, nothing */
        cr_assert_eq(crypto_fingerprint(key, "", 0, fp), 0);
        assert_hex(fp, 16, "530f8afbc74536b9a963b4f1c4cb738b");
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + i / 251);
        /* any length (partial blocks too) equals GCM's tag over that AAD; the
         * thread's context is reused between calls */
        size_t lens[] = { 1, 15, 16, 17, 4096, 99999, 100000 };
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                cr_assert_eq(crypto_fingerprint(key, buf, lens[i], fp), 0);
                cr_assert_eq(crypto_aead_seal(CRYPTO_CIPHER_AES256_GCM, key, nonce, buf, lens[i], NULL, 0,
                                              NULL, tag), 0);
                cr_assert(memcmp(fp, tag, 16) == 0, "length %zu", lens[i]);
        }
}

Test(fingerprint, deterministic_keyed_and_sensitive)
{
        uint8_t k1[32] = {1}, k2[32] = {2}, a[16], b[16], buf[8192] = {0};
        fingerprint_or_skip();

        cr_assert_eq(crypto_fingerprint(k1, buf, sizeof(buf), a), 0);
        cr_assert_eq(crypto_fingerprint(k1, buf, sizeof(buf), b), 0);
        cr_assert(memcmp(a, b, 16) == 0, "deterministic");
        cr_assert_eq(crypto_fingerprint(k2, buf, sizeof(buf), b), 0);
        cr_assert(memcmp(a, b, 16) != 0, "keyed");
        /* back to the first key on the same thread's context */
        cr_assert_eq(crypto_fingerprint(k1, buf, sizeof(buf), b), 0);
        cr_assert(memcmp(a, b, 16) == 0, "the first key again");
        buf[5000] ^= 1;
        cr_assert_eq(crypto_fingerprint(k1, buf, sizeof(buf), b), 0);
        cr_assert(memcmp(a, b, 16) != 0, "one bit flipped");
        buf[5000] ^= 1;
        /* leading zero blocks and the length count (GHASH alone would not see them) */
        cr_assert_eq(crypto_fingerprint(k1, buf, sizeof(buf) - 16, b), 0);
        cr_assert(memcmp(a, b, 16) != 0, "a shorter run of zeros");
}

Test(oid, compute_and_hex)
{
        uint8_t key[32] = {7};
        struct oid a, b, c;
        char hex[OID_HEX_SIZE];
        cr_assert_eq(oid_compute(key, OBJECT_DATA, "hello", 5, &a), 0);
        cr_assert_eq(oid_compute(key, OBJECT_TREE, "hello", 5, &b), 0);
        cr_assert_neq(oid_cmp(&a, &b), 0, "type is part of the id");
        oid_to_hex(&a, hex);
        cr_assert_eq(oid_from_hex(hex, &c), 0);
        cr_assert_eq(oid_cmp(&a, &c), 0);
        cr_assert_eq(oid_from_hex("zz", &c), -EINVAL);
        hex[5] = 'g';
        cr_assert_eq(oid_from_hex(hex, &c), -EINVAL);
        cr_assert_eq(oid_compute(key, 9, "x", 1, &c), -EINVAL);
        cr_assert_str_eq(oid_type_name(OBJECT_SNAPSHOT), "snapshot");
}

Test(oid, hex_prefix)
{
        struct oid p, full, before;
        char hex[OID_HEX_SIZE + 1];

        memset(&p, 0x77, sizeof(p));
        cr_assert_eq(oid_prefix_from_hex("aB3", &p), 3);
        cr_assert_eq(p.bytes[0], 0xab);
        cr_assert_eq(p.bytes[1], 0x30, "an odd last digit is a high nibble");
        for (size_t i = 2; i < OID_SIZE; i++)
                cr_assert_eq(p.bytes[i], 0);
        for (size_t i = 0; i < OID_SIZE; i++)
                full.bytes[i] = (uint8_t)(i * 37 + 1);
        oid_to_hex(&full, hex);
        cr_assert_eq(oid_prefix_from_hex(hex, &p), 64);
        cr_assert_eq(oid_cmp(&p, &full), 0);
        before = p;
        cr_assert_eq(oid_prefix_from_hex("", &p), -EINVAL);
        cr_assert_eq(oid_prefix_from_hex("12x4", &p), -EINVAL);
        hex[64] = '0';
        hex[65] = '\0';
        cr_assert_eq(oid_prefix_from_hex(hex, &p), -EINVAL, "65 digits");
        cr_assert_eq(oid_cmp(&p, &before), 0, "untouched on failure");
        cr_assert_eq(oid_from_hex("abc", &p), -EINVAL, "a prefix is not an id");
}

Test(hex, encode_decode)
{
        static const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
        uint8_t back[4] = {0};
        char text[9];

        hex_encode(bytes, sizeof(bytes), text);
        cr_assert_str_eq(text, "000fa5ff");
        cr_assert_eq(hex_decode("000FA5ff", 8, back), 0, "either case");
        cr_assert(memcmp(back, bytes, sizeof(bytes)) == 0);
        cr_assert_eq(hex_decode("abc", 3, back), -EINVAL, "odd length");
        cr_assert_eq(hex_decode("0g", 2, back), -EINVAL, "not a digit");
        cr_assert_eq(hex_digit('F'), 15);
        cr_assert_eq(hex_digit(' '), -1);
        hex_encode(bytes, 0, text);
        cr_assert_str_eq(text, "");
}
