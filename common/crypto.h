/* SPDX-License-Identifier: MIT */
/* The one libcrypto (OpenSSL 3) boundary: SHA-256, HMAC-SHA256, HKDF-SHA256,
 * the chunker's PRF (AES-128 on a 64-bit value), AEAD (AES-256-GCM or
 * ChaCha20-Poly1305) and random bytes. Nothing else in the tree calls
 * libcrypto; TLS and the ECDSA identity live with mbedtls elsewhere.
 * All functions return >= 0 on success and -errno on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_SIZE 32
#define CRYPTO_KEY_SIZE 32 /* AEAD and HMAC keys */
#define CRYPTO_PRF_KEY_SIZE 16
#define CRYPTO_NONCE_SIZE 12
#define CRYPTO_TAG_SIZE 16

/* Cipher numbers are stored on disk and on the wire: never renumber. */
enum crypto_cipher {
        CRYPTO_CIPHER_AES256_GCM = 1,
        CRYPTO_CIPHER_CHACHA20_POLY1305 = 2,
};

/* A buffer piece, for hashing several pieces as one message. */
struct crypto_piece {
        const void *data;
        size_t len;
};

/* SHA-256 of buf. */
int crypto_sha256(const void *buf, size_t len, uint8_t ret_digest[CRYPTO_SHA256_SIZE]);

/* Streaming SHA-256: new, update any number of times, final (which frees). */
struct crypto_sha256;
int crypto_sha256_new(struct crypto_sha256 **ret);
int crypto_sha256_update(struct crypto_sha256 *s, const void *buf, size_t len);
int crypto_sha256_final(struct crypto_sha256 *s, uint8_t ret_digest[CRYPTO_SHA256_SIZE]);
/* Free a streaming context without finishing it (NULL is fine). */
void crypto_sha256_free(struct crypto_sha256 *s);

/* HMAC-SHA256(key, piece[0] || piece[1] || ...). */
int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const struct crypto_piece *pieces,
                       size_t n_pieces, uint8_t ret_mac[CRYPTO_SHA256_SIZE]);

/* HKDF-SHA256 (RFC 5869) extract-and-expand into out[out_len]. salt may be NULL. */
int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const void *info, size_t info_len, uint8_t *out, size_t out_len);

/* Keyed PRF for the chunker: AES-128(key, x as 16 bytes) truncated to 64 bits.
 * The context is created once and is cheap to evaluate; not thread-safe,
 * give each thread its own. */
struct crypto_prf;
int crypto_prf_new(const uint8_t key[CRYPTO_PRF_KEY_SIZE], struct crypto_prf **ret);
uint64_t crypto_prf_eval(struct crypto_prf *p, uint64_t x);
void crypto_prf_free(struct crypto_prf *p);

/* Chunk fingerprints: GMAC (AES-256-GCM's tag over buf as AAD alone, fixed
 * zero nonce), a keyed universal hash at GHASH speed (~9x SHA-256 with
 * PCLMULQDQ), on the thread's kept AES-256-GCM context (crypto_aead_seal's).
 * Two different inputs share a fingerprint with probability about len/16 /
 * 2^128 for a key unknown to whoever chose them. Local use only: the
 * fingerprints must never be shown to anyone (with the nonce fixed, known
 * inputs and their fingerprints would give the hash key away). Only where
 * the CPU has AES and carry-less multiply instructions (available): else
 * -ENOTSUP (software GHASH is slower than SHA-256). */
#define CRYPTO_FINGERPRINT_SIZE 16
bool crypto_fingerprint_available(void);
int crypto_fingerprint(const uint8_t key[CRYPTO_KEY_SIZE], const void *buf, size_t len,
                       uint8_t ret[CRYPTO_FINGERPRINT_SIZE]);

/* The fast cipher for this CPU: AES-256-GCM when it has AES-NI and PCLMULQDQ
 * (or the ARMv8 equivalents), ChaCha20-Poly1305 otherwise. */
enum crypto_cipher crypto_cipher_default(void);
/* True for the cipher numbers this build can open. */
int crypto_cipher_valid(int cipher);
/* A short name ("aes-256-gcm", "chacha20-poly1305") or NULL. */
const char *crypto_cipher_name(int cipher);

/* Encrypt pt[len] into ct[len] (may be the same buffer) and write the tag.
 * The nonce must never repeat for a key: use crypto_random for it. */
int crypto_aead_seal(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE],
                     const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad, size_t aad_len,
                     const void *pt, size_t len, void *ct, uint8_t ret_tag[CRYPTO_TAG_SIZE]);
/* Decrypt and verify; -EBADMSG when the tag does not match (pt is then garbage). */
int crypto_aead_open(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE],
                     const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad, size_t aad_len,
                     const void *ct, size_t len, const uint8_t tag[CRYPTO_TAG_SIZE], void *pt);

/* One AEAD key for many messages (a direction of a TLS connection): keyed
 * once; each message is begin (its nonce and AAD), any number of updates
 * (len bytes of in to out, which may be the same), then finish_seal (the
 * tag) or finish_open (-EBADMSG when the tag does not match: what was
 * written to out is then garbage). Not thread-safe. */
struct crypto_aead;
int crypto_aead_new(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE], int seal,
                    struct crypto_aead **ret);
int crypto_aead_begin(struct crypto_aead *a, const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad,
                      size_t aad_len);
int crypto_aead_update(struct crypto_aead *a, const void *in, size_t len, void *out);
int crypto_aead_finish_seal(struct crypto_aead *a, uint8_t ret_tag[CRYPTO_TAG_SIZE]);
int crypto_aead_finish_open(struct crypto_aead *a, const uint8_t tag[CRYPTO_TAG_SIZE]);
/* Free the context and wipe its key (NULL is fine). */
void crypto_aead_free(struct crypto_aead *a);

/* Fill buf with cryptographically secure random bytes. */
int crypto_random(void *buf, size_t len);
/* As crypto_random, for nonces: served from a per-thread buffer refilled
 * 512 bytes at a time by getrandom (one syscall per ~40 records). */
int crypto_nonce(void *buf, size_t len);
/* Free this thread's kept contexts and keys now (also done at thread exit). */
void crypto_thread_done(void);

/* Overwrite secret material in a way the compiler keeps. */
void crypto_wipe(void *buf, size_t len);
