/* SPDX-License-Identifier: MIT */
/* The one place that calls OpenSSL's libcrypto (EVP): hashing, HMAC, HKDF,
 * the chunker PRF, AEAD and random bytes. Every OpenSSL failure is turned
 * into -errno here; callers never see OpenSSL error queues. */
#include "crypto.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "cleanup.h"

struct crypto_sha256 {
        EVP_MD_CTX *ctx;
};

struct crypto_prf {
        EVP_CIPHER_CTX *ctx;
};

struct crypto_aead {
        EVP_CIPHER_CTX *ctx;
        int seal;
};

/* Per-thread contexts, kept between calls: a backup seals a record per
 * chunk, and a new EVP context (and AES key schedule) per record costs more
 * than sealing a small one. Keys kept here are wiped when the thread exits
 * (EVP_CIPHER_CTX_free cleanses the schedules). */
#define THREAD_RANDOM 512

struct crypto_thread {
        EVP_MD_CTX *md;
        EVP_CIPHER_CTX *aead[2][2]; /* [cipher - 1][seal] */
        uint8_t aead_key[2][2][CRYPTO_KEY_SIZE];
        uint8_t random[THREAD_RANDOM];
        size_t random_left;
};

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static int thread_key_error;

static void crypto_thread_free(void *p)
{
        struct crypto_thread *t = p;
        if (!t)
                return;
        EVP_MD_CTX_free(t->md);
        for (int c = 0; c < 2; c++)
                for (int s = 0; s < 2; s++)
                        EVP_CIPHER_CTX_free(t->aead[c][s]);
        OPENSSL_cleanse(t, sizeof(*t));
        free(t);
}

static void thread_key_init(void) { thread_key_error = pthread_key_create(&thread_key, crypto_thread_free); }

static struct crypto_thread *crypto_thread(void)
{
        if (pthread_once(&thread_once, thread_key_init) != 0 || thread_key_error)
                return NULL;
        struct crypto_thread *t = pthread_getspecific(thread_key);
        if (t)
                return t;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->md = EVP_MD_CTX_new();
        if (!t->md || pthread_setspecific(thread_key, t) != 0) {
                crypto_thread_free(t);
                return NULL;
        }
        return t;
}

void crypto_thread_done(void)
{
        if (pthread_once(&thread_once, thread_key_init) != 0 || thread_key_error)
                return;
        struct crypto_thread *t = pthread_getspecific(thread_key);
        if (t) {
                pthread_setspecific(thread_key, NULL);
                crypto_thread_free(t);
        }
}

/* Fetched once: EVP_*_fetch per call would cost a lock and a lookup. */
static const EVP_MD *md_sha256(void)
{
        static EVP_MD *md; /* any thread: never read plainly */
        EVP_MD *cur = __atomic_load_n(&md, __ATOMIC_ACQUIRE);
        if (!cur) {
                EVP_MD *m = EVP_MD_fetch(NULL, "SHA256", NULL);
                EVP_MD *expected = NULL;
                if (!m)
                        return NULL;
                if (__atomic_compare_exchange_n(&md, &expected, m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                        cur = m;
                } else { /* another thread's fetch won: use it */
                        EVP_MD_free(m);
                        cur = expected;
                }
        }
        return cur;
}

static const EVP_CIPHER *cipher_of(int cipher)
{
        switch (cipher) {
        case CRYPTO_CIPHER_AES256_GCM:
                return EVP_aes_256_gcm();
        case CRYPTO_CIPHER_CHACHA20_POLY1305:
                return EVP_chacha20_poly1305();
        default:
                return NULL;
        }
}

int crypto_sha256(const void *buf, size_t len, uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        unsigned int n = 0;
        const EVP_MD *md = md_sha256();
        if (!md || !EVP_Digest(buf, len, ret_digest, &n, md, NULL))
                return -EIO;
        return 0;
}

int crypto_sha256_new(struct crypto_sha256 **ret)
{
        struct crypto_sha256 *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ctx = EVP_MD_CTX_new();
        if (!s->ctx || !EVP_DigestInit_ex(s->ctx, md_sha256(), NULL)) {
                crypto_sha256_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int crypto_sha256_update(struct crypto_sha256 *s, const void *buf, size_t len)
{
        return EVP_DigestUpdate(s->ctx, buf, len) ? 0 : -EIO;
}

int crypto_sha256_final(struct crypto_sha256 *s, uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        unsigned int n = 0;
        int r = EVP_DigestFinal_ex(s->ctx, ret_digest, &n) ? 0 : -EIO;
        crypto_sha256_free(s);
        return r;
}

void crypto_sha256_free(struct crypto_sha256 *s)
{
        if (!s)
                return;
        EVP_MD_CTX_free(s->ctx);
        free(s);
}

int crypto_hmac_sha256(const uint8_t *key, size_t key_len, const struct crypto_piece *pieces,
                       size_t n_pieces, uint8_t ret_mac[CRYPTO_SHA256_SIZE])
{
        /* HMAC by hand over EVP digests: EVP_MAC needs a fetch and a context
         * per key; this costs two extra 64-byte blocks and nothing else. */
        uint8_t k[64] = {0}, pad[64], inner[CRYPTO_SHA256_SIZE];
        unsigned int n = 0;
        int r = -EIO;

        if (key_len > sizeof(k)) {
                if (crypto_sha256(key, key_len, k) < 0)
                        return -EIO;
        } else if (key_len > 0)
                memcpy(k, key, key_len);

        struct crypto_thread *t = crypto_thread();
        if (!t) {
                crypto_wipe(k, sizeof(k));
                return -ENOMEM;
        }
        EVP_MD_CTX *ctx = t->md;
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x36;
        if (!EVP_DigestInit_ex(ctx, md_sha256(), NULL) || !EVP_DigestUpdate(ctx, pad, sizeof(pad)))
                goto out;
        for (size_t i = 0; i < n_pieces; i++)
                if (pieces[i].len > 0 && !EVP_DigestUpdate(ctx, pieces[i].data, pieces[i].len))
                        goto out;
        if (!EVP_DigestFinal_ex(ctx, inner, &n))
                goto out;
        for (size_t i = 0; i < sizeof(pad); i++)
                pad[i] = k[i] ^ 0x5c;
        if (!EVP_DigestInit_ex(ctx, md_sha256(), NULL) || !EVP_DigestUpdate(ctx, pad, sizeof(pad)) ||
            !EVP_DigestUpdate(ctx, inner, sizeof(inner)) || !EVP_DigestFinal_ex(ctx, ret_mac, &n))
                goto out;
        r = 0;
out:
        crypto_wipe(k, sizeof(k));
        crypto_wipe(pad, sizeof(pad));
        return r;
}

int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
        OSSL_PARAM params[5], *p = params;
        int r = -EIO;

        if (out_len == 0 || out_len > 255 * CRYPTO_SHA256_SIZE)
                return -EINVAL;
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        if (!kdf)
                return -ENOSYS;
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
        if (!ctx)
                return -ENOMEM;
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
        if (info_len > 0)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
        if (salt && salt_len > 0)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
        *p = OSSL_PARAM_construct_end();
        if (EVP_KDF_derive(ctx, out, out_len, params) > 0)
                r = 0;
        EVP_KDF_CTX_free(ctx);
        return r;
}

int crypto_prf_new(const uint8_t key[CRYPTO_PRF_KEY_SIZE], struct crypto_prf **ret)
{
        struct crypto_prf *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->ctx = EVP_CIPHER_CTX_new();
        if (!p->ctx || !EVP_EncryptInit_ex(p->ctx, EVP_aes_128_ecb(), NULL, key, NULL)) {
                crypto_prf_free(p);
                return -ENOMEM;
        }
        EVP_CIPHER_CTX_set_padding(p->ctx, 0);
        *ret = p;
        return 0;
}

uint64_t crypto_prf_eval(struct crypto_prf *p, uint64_t x)
{
        uint8_t in[16] = {0}, out[32];
        int n = 0;
        uint64_t v;

        memcpy(in, &x, sizeof(x));
        if (!EVP_EncryptUpdate(p->ctx, out, &n, in, sizeof(in)) || n != 16)
                return UINT64_MAX; /* never a cut: the chunker then cuts at max */
        memcpy(&v, out, sizeof(v));
        return v;
}

void crypto_prf_free(struct crypto_prf *p)
{
        if (!p)
                return;
        EVP_CIPHER_CTX_free(p->ctx);
        free(p);
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
static int cpu_has_fast_aes(void)
{
        unsigned int a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d))
                return 0;
        return (c & bit_AES) && (c & bit_PCLMUL);
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_AES
#define HWCAP_AES (1 << 3)
#endif
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1 << 4)
#endif
static int cpu_has_fast_aes(void)
{
        unsigned long caps = getauxval(AT_HWCAP);
        return (caps & HWCAP_AES) && (caps & HWCAP_PMULL);
}
#else
static int cpu_has_fast_aes(void) { return 0; }
#endif

bool crypto_fingerprint_available(void) { return cpu_has_fast_aes(); }

enum crypto_cipher crypto_cipher_default(void)
{
        return cpu_has_fast_aes() ? CRYPTO_CIPHER_AES256_GCM : CRYPTO_CIPHER_CHACHA20_POLY1305;
}

int crypto_cipher_valid(int cipher) { return cipher_of(cipher) != NULL; }

const char *crypto_cipher_name(int cipher)
{
        switch (cipher) {
        case CRYPTO_CIPHER_AES256_GCM:
                return "aes-256-gcm";
        case CRYPTO_CIPHER_CHACHA20_POLY1305:
                return "chacha20-poly1305";
        default:
                return NULL;
        }
}

/* EVP_Encrypt/DecryptUpdate take int lengths: feed large buffers in steps. */
#define AEAD_STEP ((size_t)1 << 30)

/* One message: seal (tag out) or open (tag in), on this thread's context
 * for (cipher, seal), whose key schedule is kept while the key is the same. */
static int aead_once(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE], int seal,
                     const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad, size_t aad_len, const void *in,
                     size_t len, void *out, uint8_t tag[CRYPTO_TAG_SIZE])
{
        const EVP_CIPHER *c = cipher_of(cipher);
        struct crypto_thread *t = crypto_thread();
        struct crypto_aead a = {.seal = !!seal};
        int r;

        if (!c)
                return -EINVAL;
        if (!t)
                return -ENOMEM;
        EVP_CIPHER_CTX **ctx = &t->aead[cipher - 1][a.seal];
        uint8_t *kept = t->aead_key[cipher - 1][a.seal];
        if (!*ctx || CRYPTO_memcmp(kept, key, CRYPTO_KEY_SIZE) != 0) {
                if (!*ctx && !(*ctx = EVP_CIPHER_CTX_new()))
                        return -ENOMEM;
                if (!EVP_CipherInit_ex(*ctx, c, NULL, key, NULL, a.seal)) {
                        EVP_CIPHER_CTX_free(*ctx);
                        *ctx = NULL;
                        return -EIO;
                }
                memcpy(kept, key, CRYPTO_KEY_SIZE);
        }
        a.ctx = *ctx;
        r = crypto_aead_begin(&a, nonce, aad, aad_len);
        if (r >= 0)
                r = crypto_aead_update(&a, in, len, out);
        if (r >= 0)
                r = seal ? crypto_aead_finish_seal(&a, tag) : crypto_aead_finish_open(&a, tag);
        return r;
}

int crypto_fingerprint(const uint8_t key[CRYPTO_KEY_SIZE], const void *buf, size_t len,
                       uint8_t ret[CRYPTO_FINGERPRINT_SIZE])
{
        static const uint8_t zero_nonce[CRYPTO_NONCE_SIZE];
        _Static_assert(CRYPTO_FINGERPRINT_SIZE == CRYPTO_TAG_SIZE, "a fingerprint is a GCM tag");

        if (!cpu_has_fast_aes())
                return -ENOTSUP;
        return aead_once(CRYPTO_CIPHER_AES256_GCM, key, 1, zero_nonce, buf, len, NULL, 0, NULL, ret);
}

int crypto_aead_seal(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE],
                     const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad, size_t aad_len,
                     const void *pt, size_t len, void *ct, uint8_t ret_tag[CRYPTO_TAG_SIZE])
{
        return aead_once(cipher, key, 1, nonce, aad, aad_len, pt, len, ct, ret_tag);
}

int crypto_aead_open(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE],
                     const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad, size_t aad_len,
                     const void *ct, size_t len, const uint8_t tag[CRYPTO_TAG_SIZE], void *pt)
{
        return aead_once(cipher, key, 0, nonce, aad, aad_len, ct, len, pt, (uint8_t *)tag);
}

int crypto_aead_new(enum crypto_cipher cipher, const uint8_t key[CRYPTO_KEY_SIZE], int seal,
                    struct crypto_aead **ret)
{
        const EVP_CIPHER *c = cipher_of(cipher);
        struct crypto_aead *a;

        if (!c || !ret)
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->seal = !!seal;
        a->ctx = EVP_CIPHER_CTX_new();
        if (!a->ctx || !EVP_CipherInit_ex(a->ctx, c, NULL, key, NULL, a->seal)) {
                int r = a->ctx ? -EIO : -ENOMEM;
                crypto_aead_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

int crypto_aead_begin(struct crypto_aead *a, const uint8_t nonce[CRYPTO_NONCE_SIZE], const void *aad,
                      size_t aad_len)
{
        int n;

        if (aad_len > INT32_MAX)
                return -EINVAL;
        /* a new nonce on the same key: the key schedule is kept */
        if (!EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, a->seal))
                return -EIO;
        if (aad_len > 0 && !EVP_CipherUpdate(a->ctx, NULL, &n, aad, (int)aad_len))
                return -EIO;
        return 0;
}

int crypto_aead_update(struct crypto_aead *a, const void *in, size_t len, void *out)
{
        int n;

        for (size_t off = 0; off < len;) {
                size_t step = MIN(len - off, AEAD_STEP);
                if (!EVP_CipherUpdate(a->ctx, (uint8_t *)out + off, &n, (const uint8_t *)in + off, (int)step))
                        return -EIO;
                off += step;
        }
        return 0;
}

int crypto_aead_finish_seal(struct crypto_aead *a, uint8_t ret_tag[CRYPTO_TAG_SIZE])
{
        uint8_t rest[32];
        int n;

        if (!a->seal)
                return -EINVAL;
        if (!EVP_CipherFinal_ex(a->ctx, rest, &n) ||
            !EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_SIZE, ret_tag))
                return -EIO;
        return 0;
}

int crypto_aead_finish_open(struct crypto_aead *a, const uint8_t tag[CRYPTO_TAG_SIZE])
{
        uint8_t rest[32];
        int n;

        if (a->seal)
                return -EINVAL;
        if (!EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_SIZE, (void *)tag))
                return -EIO;
        return EVP_CipherFinal_ex(a->ctx, rest, &n) > 0 ? 0 : -EBADMSG;
}

void crypto_aead_free(struct crypto_aead *a)
{
        if (!a)
                return;
        EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
        free(a);
}

int crypto_nonce(void *buf, size_t len)
{
        struct crypto_thread *t = crypto_thread();
        if (!t || len > THREAD_RANDOM)
                return crypto_random(buf, len);
        if (t->random_left < len) {
                int r = crypto_random(t->random, THREAD_RANDOM);
                if (r < 0)
                        return r;
                t->random_left = THREAD_RANDOM;
        }
        uint8_t *p = t->random + THREAD_RANDOM - t->random_left;
        memcpy(buf, p, len);
        OPENSSL_cleanse(p, len); /* never handed out twice */
        t->random_left -= len;
        return 0;
}

int crypto_random(void *buf, size_t len)
{
        uint8_t *p = buf;
        while (len > 0) {
                ssize_t n = getrandom(p, len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

void crypto_wipe(void *buf, size_t len) { OPENSSL_cleanse(buf, len); }
