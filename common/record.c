/* SPDX-License-Identifier: MIT */
/* Sealing and opening records (one object each): compression decision,
 * header-byte masking, AEAD with AAD = id, and the checks a reader of
 * untrusted bytes needs. Layout: docs/formats.md "Records". */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "compress.h"
#include "record.h"

/* Offsets inside a record. */
#define RECORD_OFF_NONCE 0
#define RECORD_OFF_HEADER CRYPTO_NONCE_SIZE         /* masked version, masked cipher */
#define RECORD_OFF_PLAIN (CRYPTO_NONCE_SIZE + 2)    /* ciphertext of type ‖ flags ‖ payload */
#define RECORD_PLAIN_HEADER 2                       /* type, flags */

static const char record_mask_label[] = "chute record header mask v1";

/* The two header bytes are XORed with a mask derived from K_enc and the
 * nonce, so a store scanning pack bytes finds no fixed pattern at record
 * starts (which would reveal chunk boundaries, DESIGN §3). */
/* Per-thread scratch for decrypted plaintext: reused, never handed back to
 * the allocator while the thread lives (so it is wiped once, at thread exit,
 * not after every record). */
struct scratch {
        uint8_t *p;
        size_t cap;
};
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
        struct scratch *s = arg;
        if (!s)
                return;
        crypto_wipe(s->p, s->cap);
        free(s->p);
        free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static uint8_t *record_scratch(size_t need)
{
        pthread_once(&scratch_once, scratch_init);
        struct scratch *s = pthread_getspecific(scratch_key);
        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return NULL;
                pthread_setspecific(scratch_key, s);
        }
        if (s->cap < need) {
                crypto_wipe(s->p, s->cap);
                free(s->p);
                s->p = malloc(need ? need : 1);
                s->cap = s->p ? need : 0;
        }
        return s->p;
}

/* The mask PRK of the last key sealed or opened on this thread. */
struct mask_prk {
        bool valid;
        uint8_t key[CRYPTO_KEY_SIZE];
        uint8_t prk[CRYPTO_SHA256_SIZE];
};

static pthread_key_t prk_key;
static pthread_once_t prk_once = PTHREAD_ONCE_INIT;

static void prk_free(void *p)
{
        if (p)
                crypto_wipe(p, sizeof(struct mask_prk));
        free(p);
}

static void prk_init(void) { pthread_key_create(&prk_key, prk_free); }

static struct mask_prk *mask_prk(void)
{
        pthread_once(&prk_once, prk_init);
        struct mask_prk *k = pthread_getspecific(prk_key);
        if (!k && (k = calloc(1, sizeof(*k))) && pthread_setspecific(prk_key, k) != 0) {
                free(k);
                k = NULL;
        }
        return k;
}

/* Do two keys differ? In time independent of where. */
static bool keys_differ(const uint8_t *a, const uint8_t *b, size_t n)
{
        uint8_t d = 0;
        for (size_t i = 0; i < n; i++)
                d |= a[i] ^ b[i];
        return d != 0;
}

static int record_mask(const uint8_t enc_key[CRYPTO_KEY_SIZE], const uint8_t nonce[CRYPTO_NONCE_SIZE],
                       uint8_t ret_mask[2])
{
        /* HKDF-SHA256(salt = none, ikm = K_enc, info = label || nonce), first 2
         * bytes (RFC 5869), computed as its two HMACs: the generic KDF API
         * costs a fetch and a context per record. */
        static const uint8_t zero_salt[CRYPTO_SHA256_SIZE];
        static const uint8_t counter = 1;
        uint8_t prk[CRYPTO_SHA256_SIZE], t[CRYPTO_SHA256_SIZE];
        struct crypto_piece ikm[] = {{enc_key, CRYPTO_KEY_SIZE}};
        struct crypto_piece info[] = {
                {record_mask_label, sizeof(record_mask_label) - 1},
                {nonce, CRYPTO_NONCE_SIZE},
                {&counter, 1},
        };
        /* the PRK depends on the key alone: kept per thread for the last key */
        struct mask_prk *kept = mask_prk();
        int r = 0;
        if (kept && kept->valid && !keys_differ(kept->key, enc_key, CRYPTO_KEY_SIZE)) {
                memcpy(prk, kept->prk, sizeof(prk));
        } else {
                r = crypto_hmac_sha256(zero_salt, sizeof(zero_salt), ikm, 1, prk);
                if (r >= 0 && kept) {
                        memcpy(kept->key, enc_key, CRYPTO_KEY_SIZE);
                        memcpy(kept->prk, prk, sizeof(prk));
                        kept->valid = true;
                }
        }
        if (r >= 0)
                r = crypto_hmac_sha256(prk, sizeof(prk), info, 3, t);
        if (r >= 0)
                memcpy(ret_mask, t, 2);
        crypto_wipe(prk, sizeof(prk));
        crypto_wipe(t, sizeof(t));
        return r;
}

/* AAD = id ‖ version ‖ cipher: binds the (unmasked) header bytes too. */
static void record_aad(const struct oid *id, uint8_t version, uint8_t cipher,
                       uint8_t ret_aad[OID_SIZE + 2])
{
        memcpy(ret_aad, id->bytes, OID_SIZE);
        ret_aad[OID_SIZE] = version;
        ret_aad[OID_SIZE + 1] = cipher;
}

/* The zstd level for a payload of type at the configured level (0: none). */
static int record_level(enum object_type type, int level)
{
        if (level == 0 || type == OBJECT_DATA)
                return level;
        return MAX(level, RECORD_METADATA_LEVEL);
}

/* Compress src[len] into dst[cap] with zstd; -ENOSPC when it does not pay
 * (compress_maybe keeps only output of at most 7/8 of the input). */
static int record_compress(const void *src, size_t len, int level, void *dst, size_t cap, size_t *ret_len)
{
        int r = compress_maybe(src, len, level, dst, cap, ret_len);

        if (r < 0)
                return r;
        return r == 1 ? 0 : -ENOSPC;
}

size_t record_bound(size_t len)
{
        if (len > SIZE_MAX - RECORD_OVERHEAD)
                return SIZE_MAX;
        return len + RECORD_OVERHEAD;
}

size_t record_plain_size(size_t len)
{
        return len < RECORD_OVERHEAD ? 0 : len - RECORD_OVERHEAD;
}

int record_seal(enum crypto_cipher cipher, const uint8_t enc_key[CRYPTO_KEY_SIZE],
                const struct oid *id, enum object_type type, const void *payload, size_t len,
                int level, void *out, size_t cap, size_t *ret_len)
{
        uint8_t *o = out, mask[2], aad[OID_SIZE + 2];
        uint8_t flags = 0;
        size_t stored = len;
        int r;

        if (!crypto_cipher_valid(cipher) || !oid_type_valid(type) || !id || !enc_key || !out ||
            level < 0 || level > RECORD_LEVEL_MAX)
                return -EINVAL;
        if (len > 0 && !payload)
                return -EINVAL;
        if (cap < record_bound(len) || record_bound(len) == SIZE_MAX)
                return -ENOBUFS;

        r = crypto_nonce(o + RECORD_OFF_NONCE, CRYPTO_NONCE_SIZE);
        if (r < 0)
                return r;

        /* Compress straight into place; keep it only if it saves >= 1/8. */
        if (level > 0 && len >= 64) {
                size_t clen;

                r = record_compress(payload, len, record_level(type, level),
                                    o + RECORD_OFF_PLAIN + RECORD_PLAIN_HEADER, len - len / 8, &clen);
                if (r >= 0 && clen <= len - len / 8) {
                        flags |= RECORD_FLAG_ZSTD;
                        stored = clen;
                }
        }
        if (!(flags & RECORD_FLAG_ZSTD) && len > 0)
                memmove(o + RECORD_OFF_PLAIN + RECORD_PLAIN_HEADER, payload, len);

        o[RECORD_OFF_PLAIN] = (uint8_t) type;
        o[RECORD_OFF_PLAIN + 1] = flags;

        record_aad(id, RECORD_VERSION, (uint8_t) cipher, aad);
        r = crypto_aead_seal(cipher, enc_key, o + RECORD_OFF_NONCE, aad, sizeof(aad),
                             o + RECORD_OFF_PLAIN, RECORD_PLAIN_HEADER + stored,
                             o + RECORD_OFF_PLAIN,
                             o + RECORD_OFF_PLAIN + RECORD_PLAIN_HEADER + stored);
        if (r < 0)
                return r;

        r = record_mask(enc_key, o + RECORD_OFF_NONCE, mask);
        if (r < 0)
                return r;
        o[RECORD_OFF_HEADER] = RECORD_VERSION ^ mask[0];
        o[RECORD_OFF_HEADER + 1] = (uint8_t) cipher ^ mask[1];

        *ret_len = RECORD_OVERHEAD + stored;
        return 0;
}

/* Decrypt into plain[len - 30] and unpack it into out; the caller wipes plain. */
static int record_open_into(const uint8_t enc_key[CRYPTO_KEY_SIZE], const struct oid *id,
                            const uint8_t *rec, size_t len, uint8_t *plain,
                            enum object_type *ret_type, void *out, size_t cap, size_t *ret_len)
{
        uint8_t mask[2], aad[OID_SIZE + 2], version, cipher, type, flags;
        size_t plain_len = len - CRYPTO_NONCE_SIZE - 2 - CRYPTO_TAG_SIZE, payload_len, n;
        int r;

        r = record_mask(enc_key, rec + RECORD_OFF_NONCE, mask);
        if (r < 0)
                return r;
        version = rec[RECORD_OFF_HEADER] ^ mask[0];
        cipher = rec[RECORD_OFF_HEADER + 1] ^ mask[1];
        if (version != RECORD_VERSION || !crypto_cipher_valid(cipher))
                return -EBADMSG;

        record_aad(id, version, cipher, aad);
        r = crypto_aead_open(cipher, enc_key, rec + RECORD_OFF_NONCE, aad, sizeof(aad),
                             rec + RECORD_OFF_PLAIN, plain_len, rec + len - CRYPTO_TAG_SIZE, plain);
        if (r < 0)
                return r;

        type = plain[0];
        flags = plain[1];
        if (!oid_type_valid(type) || (flags & ~RECORD_FLAG_ZSTD))
                return -EBADMSG;

        payload_len = plain_len - RECORD_PLAIN_HEADER;
        if (flags & RECORD_FLAG_ZSTD) {
                r = decompress(plain + RECORD_PLAIN_HEADER, payload_len, out, cap, &n);
                if (r < 0)
                        return r;
        } else {
                if (payload_len > cap)
                        return -ENOBUFS;
                if (payload_len > 0)
                        memcpy(out, plain + RECORD_PLAIN_HEADER, payload_len);
                n = payload_len;
        }

        if (ret_type)
                *ret_type = type;
        *ret_len = n;
        return 0;
}

int record_open(const uint8_t enc_key[CRYPTO_KEY_SIZE], const struct oid *id, const void *record,
                size_t len, enum object_type *ret_type, void *out, size_t cap, size_t *ret_len)
{
        uint8_t *plain;
        size_t plain_len;

        if (!enc_key || !id || !ret_len || (!record && len > 0) || (!out && cap > 0))
                return -EINVAL;
        if (len < RECORD_OVERHEAD)
                return -EBADMSG;

        /* The caller holds the record in memory, so this is bounded by it. */
        plain_len = len - CRYPTO_NONCE_SIZE - 2 - CRYPTO_TAG_SIZE;
        plain = record_scratch(plain_len);
        if (!plain)
                return -ENOMEM;
        return record_open_into(enc_key, id, record, len, plain, ret_type, out, cap, ret_len);
}

int record_open_verify(const uint8_t enc_key[CRYPTO_KEY_SIZE], const uint8_t id_key[CRYPTO_KEY_SIZE],
                       const struct oid *id, const void *record, size_t len,
                       enum object_type *ret_type, void *out, size_t cap, size_t *ret_len)
{
        enum object_type type;
        struct oid computed;
        size_t n;
        int r;

        if (!id_key)
                return -EINVAL;
        r = record_open(enc_key, id, record, len, &type, out, cap, &n);
        if (r < 0)
                return r;
        r = oid_compute(id_key, type, out, n, &computed);
        if (r < 0)
                return r;
        if (oid_cmp(&computed, id) != 0)
                return -EBADMSG;

        if (ret_type)
                *ret_type = type;
        *ret_len = n;
        return 0;
}
