/* SPDX-License-Identifier: MIT */
/* The store interface: anything that holds packs by id (DESIGN §5). One
 * vtable, several kinds (store-local.c here; peer and s3 in daemon/). Calls
 * are synchronous and blocking, meant for worker threads; an implementation
 * must allow concurrent calls on different packs. Semantics: docs/stores.md. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "oid.h"

struct store;

/* Called once per pack by list; a negative return stops the listing and is
 * returned by list. */
typedef int (*store_list_fn)(void *userdata, const struct oid *pack_id, uint64_t size);

struct store_ops {
        const char *kind; /* "local", "peer", "s3" */
        int (*put)(struct store *s, const struct oid *pack_id, uint64_t offset, const void *buf,
                   size_t len);
        int (*put_commit)(struct store *s, const struct oid *pack_id, uint64_t total_size);
        int (*partial_size)(struct store *s, const struct oid *pack_id, uint64_t *ret_size);
        int (*get)(struct store *s, const struct oid *pack_id, uint64_t offset, size_t len, void *buf);
        int (*stat)(struct store *s, const struct oid *pack_id, uint64_t *ret_size);
        int (*list)(struct store *s, store_list_fn fn, void *userdata);
        int (*del)(struct store *s, const struct oid *pack_id);
        int (*prove)(struct store *s, const struct oid *pack_id, const void *nonce, size_t nonce_len,
                     uint8_t ret_digest[CRYPTO_SHA256_SIZE]);
        void (*free)(struct store *s);
};

/* Every implementation embeds this as its first member. */
struct store {
        const struct store_ops *ops;
};

/* Write buf[len] at offset of pack_id's partial upload (created at offset 0;
 * offset must be <= its current size; -EEXIST if the pack is already visible). */
static inline int store_put(struct store *s, const struct oid *pack_id, uint64_t offset,
                            const void *buf, size_t len)
{
        return s->ops->put(s, pack_id, offset, buf, len);
}

/* Make the partial upload visible as pack_id once it is total_size bytes and its
 * SHA-256 equals pack_id (-EBADMSG and the partial is dropped otherwise;
 * -ENODATA while it is shorter). Idempotent: 0 if the pack is already there. */
static inline int store_put_commit(struct store *s, const struct oid *pack_id, uint64_t total_size)
{
        return s->ops->put_commit(s, pack_id, total_size);
}

/* Bytes of pack_id's partial upload already durable (0 when there is none): resume from there. */
static inline int store_partial_size(struct store *s, const struct oid *pack_id, uint64_t *ret_size)
{
        return s->ops->partial_size(s, pack_id, ret_size);
}

/* Read exactly len bytes at offset of pack_id into buf (-ENOENT if absent,
 * -ERANGE if the range goes past its end). */
static inline int store_get(struct store *s, const struct oid *pack_id, uint64_t offset, size_t len,
                            void *buf)
{
        return s->ops->get(s, pack_id, offset, len, buf);
}

/* Size of the visible pack pack_id; -ENOENT when absent. */
static inline int store_stat(struct store *s, const struct oid *pack_id, uint64_t *ret_size)
{
        return s->ops->stat(s, pack_id, ret_size);
}

/* Call fn for every visible pack (partial uploads are not listed), in no particular order. */
static inline int store_list(struct store *s, store_list_fn fn, void *userdata)
{
        return s->ops->list(s, fn, userdata);
}

/* Delete pack_id and any partial upload of it; -ENOENT when neither exists. */
static inline int store_del(struct store *s, const struct oid *pack_id)
{
        return s->ops->del(s, pack_id);
}

/* SHA-256(nonce ‖ pack bytes) for a storage challenge; -ENOENT when absent. */
static inline int store_prove(struct store *s, const struct oid *pack_id, const void *nonce,
                              size_t nonce_len, uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        return s->ops->prove(s, pack_id, nonce, nonce_len, ret_digest);
}

/* Free the store (NULL is fine). */
static inline void store_free(struct store *s)
{
        if (s)
                s->ops->free(s);
}
