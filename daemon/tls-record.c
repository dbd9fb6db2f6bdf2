/* SPDX-License-Identifier: MIT */
/* TLS 1.2 ChaCha20-Poly1305 records (RFC 7905): header type ‖ 0x0303 ‖
 * length, then the ciphertext and its 16-byte tag; the nonce is the
 * direction's IV XOR the 64-bit sequence number, the AAD the sequence
 * number ‖ type ‖ version ‖ plaintext length. Plaintext is read straight
 * from the sender's evbuffer chains and ciphertext written straight into the
 * socket's, one pass each way. */
#include "tls-record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define TLS_VERSION_1_2 0x0303
/* Chains of src one record may span before it is pulled up into one. */
#define TLS_RECORD_PIECES 16

struct tls_record {
        struct crypto_aead *seal, *open;
        uint8_t write_iv[CRYPTO_NONCE_SIZE], read_iv[CRYPTO_NONCE_SIZE];
        uint64_t write_seq, read_seq;
};

int tls_record_new(const struct tls_record_keys *k, struct tls_record **ret)
{
        struct tls_record *r;
        int e;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        e = crypto_aead_new(CRYPTO_CIPHER_CHACHA20_POLY1305, k->write_key, 1, &r->seal);
        if (e >= 0)
                e = crypto_aead_new(CRYPTO_CIPHER_CHACHA20_POLY1305, k->read_key, 0, &r->open);
        if (e < 0) {
                tls_record_free(r);
                return e;
        }
        memcpy(r->write_iv, k->write_iv, sizeof(r->write_iv));
        memcpy(r->read_iv, k->read_iv, sizeof(r->read_iv));
        r->write_seq = k->write_seq;
        r->read_seq = k->read_seq;
        *ret = r;
        return 0;
}

void tls_record_free(struct tls_record *r)
{
        if (!r)
                return;
        crypto_aead_free(r->seal);
        crypto_aead_free(r->open);
        crypto_wipe(r, sizeof(*r));
        free(r);
}

static void put_be64(uint8_t *p, uint64_t v)
{
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t)v;
}

/* The nonce and AAD of record number seq. */
static void record_nonce_aad(const uint8_t iv[CRYPTO_NONCE_SIZE], uint64_t seq, uint8_t type, size_t plain_len,
                             uint8_t nonce[CRYPTO_NONCE_SIZE], uint8_t aad[13])
{
        put_be64(aad, seq);
        memcpy(nonce, iv, CRYPTO_NONCE_SIZE);
        for (int i = 0; i < 8; i++)
                nonce[4 + i] ^= aad[i];
        aad[8] = type;
        aad[9] = TLS_VERSION_1_2 >> 8;
        aad[10] = TLS_VERSION_1_2 & 0xff;
        aad[11] = (uint8_t)(plain_len >> 8);
        aad[12] = (uint8_t)plain_len;
}

/* Seal the pieces (len bytes in all) as one record appended to dst. */
static int record_seal(struct tls_record *r, uint8_t type, const struct evbuffer_iovec *v, int n, size_t len,
                       struct evbuffer *dst)
{
        struct evbuffer_iovec out;
        uint8_t nonce[CRYPTO_NONCE_SIZE], aad[13], *p;
        size_t size = TLS_RECORD_HEADER_SIZE + len + CRYPTO_TAG_SIZE;
        int e;

        if (len > TLS_RECORD_PLAIN_MAX)
                return -EINVAL;
        if (r->write_seq == UINT64_MAX)
                return -EOVERFLOW; /* a key's sequence numbers must never wrap */
        if (evbuffer_reserve_space(dst, (ev_ssize_t)size, &out, 1) != 1 || out.iov_len < size)
                return -ENOMEM;
        p = out.iov_base;
        p[0] = type;
        p[1] = TLS_VERSION_1_2 >> 8;
        p[2] = TLS_VERSION_1_2 & 0xff;
        p[3] = (uint8_t)((len + CRYPTO_TAG_SIZE) >> 8);
        p[4] = (uint8_t)(len + CRYPTO_TAG_SIZE);
        record_nonce_aad(r->write_iv, r->write_seq, type, len, nonce, aad);
        e = crypto_aead_begin(r->seal, nonce, aad, sizeof(aad));
        p += TLS_RECORD_HEADER_SIZE;
        for (int i = 0; e >= 0 && i < n && len > 0; i++) {
                size_t k = MIN(v[i].iov_len, len);
                e = crypto_aead_update(r->seal, v[i].iov_base, k, p);
                p += k;
                len -= k;
        }
        if (e >= 0)
                e = crypto_aead_finish_seal(r->seal, p);
        if (e < 0)
                return e; /* nothing committed */
        out.iov_len = size;
        if (evbuffer_commit_space(dst, &out, 1) < 0)
                return -ENOMEM;
        r->write_seq++;
        return 0;
}

int tls_record_seal(struct tls_record *r, uint8_t type, struct evbuffer *src, size_t len, struct evbuffer *dst)
{
        struct evbuffer_iovec v[TLS_RECORD_PIECES];
        int n;

        if (len > evbuffer_get_length(src))
                return -EINVAL;
        n = evbuffer_peek(src, (ev_ssize_t)len, NULL, NULL, 0);
        if (n > TLS_RECORD_PIECES) {
                /* many small chains: make the record's bytes one */
                if (!evbuffer_pullup(src, (ev_ssize_t)len))
                        return -ENOMEM;
                n = evbuffer_peek(src, (ev_ssize_t)len, NULL, NULL, 0);
        }
        n = evbuffer_peek(src, (ev_ssize_t)len, NULL, v, MIN(n, TLS_RECORD_PIECES));
        return record_seal(r, type, v, n, len, dst);
}

int tls_record_seal_buf(struct tls_record *r, uint8_t type, const void *buf, size_t len, struct evbuffer *dst)
{
        struct evbuffer_iovec v = {.iov_base = (void *)buf, .iov_len = len};
        return record_seal(r, type, &v, 1, len, dst);
}

int tls_record_open(struct tls_record *r, struct evbuffer *src, void *out, uint8_t *ret_type, size_t *ret_len)
{
        uint8_t h[TLS_RECORD_HEADER_SIZE], tag[CRYPTO_TAG_SIZE], nonce[CRYPTO_NONCE_SIZE], aad[13];
        struct evbuffer_iovec v[TLS_RECORD_PIECES];
        struct evbuffer_ptr pos;
        size_t clen, plen;
        int n, e;

        if (evbuffer_copyout(src, h, sizeof(h)) < (ev_ssize_t)sizeof(h))
                return 0;
        if (h[0] < 20 || h[0] > 23 || (h[1] << 8 | h[2]) != TLS_VERSION_1_2)
                return -EPROTO;
        clen = (size_t)h[3] << 8 | h[4];
        if (clen < CRYPTO_TAG_SIZE || clen > TLS_RECORD_PLAIN_MAX + CRYPTO_TAG_SIZE)
                return -EPROTO;
        if (evbuffer_get_length(src) < sizeof(h) + clen)
                return 0;
        if (r->read_seq == UINT64_MAX)
                return -EOVERFLOW;
        plen = clen - CRYPTO_TAG_SIZE;
        record_nonce_aad(r->read_iv, r->read_seq, h[0], plen, nonce, aad);
        e = crypto_aead_begin(r->open, nonce, aad, sizeof(aad));
        if (e < 0)
                return e;
        if (evbuffer_ptr_set(src, &pos, sizeof(h), EVBUFFER_PTR_SET) < 0)
                return -EIO;
        n = evbuffer_peek(src, (ev_ssize_t)plen, &pos, NULL, 0);
        if (n > TLS_RECORD_PIECES) {
                if (!evbuffer_pullup(src, (ev_ssize_t)(sizeof(h) + plen)) ||
                    evbuffer_ptr_set(src, &pos, sizeof(h), EVBUFFER_PTR_SET) < 0)
                        return -ENOMEM;
                n = evbuffer_peek(src, (ev_ssize_t)plen, &pos, NULL, 0);
        }
        n = evbuffer_peek(src, (ev_ssize_t)plen, &pos, v, MIN(n, TLS_RECORD_PIECES));
        uint8_t *p = out;
        size_t left = plen;
        for (int i = 0; i < n && left > 0; i++) {
                size_t k = MIN(v[i].iov_len, left);
                e = crypto_aead_update(r->open, v[i].iov_base, k, p);
                if (e < 0)
                        return e;
                p += k;
                left -= k;
        }
        if (evbuffer_ptr_set(src, &pos, sizeof(h) + plen, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(src, &pos, tag, sizeof(tag)) != (ev_ssize_t)sizeof(tag))
                return -EIO;
        e = crypto_aead_finish_open(r->open, tag);
        if (e < 0)
                return e;
        evbuffer_drain(src, sizeof(h) + clen);
        r->read_seq++;
        *ret_type = h[0];
        *ret_len = plen;
        return 1;
}
