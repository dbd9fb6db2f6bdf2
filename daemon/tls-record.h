/* SPDX-License-Identifier: MIT */
/* TLS 1.2 records of the ChaCha20-Poly1305 suite (RFC 7905), sealed and
 * opened with libcrypto (common/crypto.c) once mbedtls has finished the
 * handshake: the same bytes on the wire as mbedtls' own record layer, at
 * libcrypto's vector speed (docs/tls.md). Not the handshake, alerts'
 * meaning or the bufferevent filter (tls.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "crypto.h"

#define TLS_RECORD_TYPE_ALERT 21
#define TLS_RECORD_TYPE_DATA 23
#define TLS_RECORD_HEADER_SIZE 5
#define TLS_RECORD_PLAIN_MAX 16384 /* 2^14: the most plaintext one record carries */

/* The keys of both directions and the sequence number each goes on from. */
struct tls_record_keys {
        uint8_t write_key[CRYPTO_KEY_SIZE], read_key[CRYPTO_KEY_SIZE];
        uint8_t write_iv[CRYPTO_NONCE_SIZE], read_iv[CRYPTO_NONCE_SIZE];
        uint64_t write_seq, read_seq;
};

struct tls_record;

/* Record protection with keys k (which the caller wipes). */
int tls_record_new(const struct tls_record_keys *k, struct tls_record **ret);
/* Free it, wiping its keys (NULL is fine). */
void tls_record_free(struct tls_record *r);

/* Seal the first len bytes of src (len <= TLS_RECORD_PLAIN_MAX; src is not
 * drained) as one record of content type `type`, appended to dst. */
int tls_record_seal(struct tls_record *r, uint8_t type, struct evbuffer *src, size_t len, struct evbuffer *dst);
/* The same from a buffer. */
int tls_record_seal_buf(struct tls_record *r, uint8_t type, const void *buf, size_t len, struct evbuffer *dst);

/* Open the record at the start of src into out[TLS_RECORD_PLAIN_MAX]: 1 with
 * its type and plaintext length when src held a whole one (then drained from
 * src), 0 when src holds less than a record, -EPROTO when the header is not
 * a TLS 1.2 record of a possible length, -EBADMSG when it does not
 * authenticate (out is then garbage). */
int tls_record_open(struct tls_record *r, struct evbuffer *src, void *out, uint8_t *ret_type, size_t *ret_len);
