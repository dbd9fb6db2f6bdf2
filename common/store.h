/* SPDX-License-Identifier: MIT */
/* The store interface: anything that holds packs by id (DESIGN §5). One
 * vtable, several kinds (store-local.c here; peer and s3 in daemon/). Calls
 * are synchronous and blocking, made from store threads (never the loop); an
 * implementation must allow concurrent calls on different packs.
 * Semantics: docs/stores.md. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "crypto.h"
#include "oid.h"

struct store;

/* Called once per pack by list; a negative return stops the listing and is
 * returned by list. */
typedef int (*store_list_fn)(void *userdata, const struct oid *pack_id, uint64_t size);

/* put flags */
enum {
        STORE_PUT_TRUSTED = 1 << 0, /* the caller computed pack_id from these very bytes */
        STORE_PUT_REPLACE = 1 << 1, /* the store's copy failed its check: send these bytes even
                                     * where the store seems to hold them already */
};

/* Packs per page of store_list_all. */
#define STORE_LIST_PAGE 1024

struct store_ops {
        const char *kind; /* "local", "peer", "s3" */
        /* whole pack: size bytes readable with pread(fd, ..., off) from 0; pack_id is their SHA-256.
         * Visible atomically when it returns 0; 0 also when already there. -EBADMSG hash mismatch. */
        int (*put)(struct store *s, const struct oid *pack_id, int fd, uint64_t size, unsigned flags);
        /* optional (NULL when the kind has no offset-addressed uploads): the peer shape */
        int (*put_range)(struct store *s, const struct oid *pack_id, uint64_t offset,
                         const struct iovec *iov, int iovcnt);
        int (*commit)(struct store *s, const struct oid *pack_id, uint64_t total_size);
        int (*partial_size)(struct store *s, const struct oid *pack_id, uint64_t *ret_size);
        int (*get)(struct store *s, const struct oid *pack_id, uint64_t offset, size_t len, void *buf);
        int (*stat)(struct store *s, const struct oid *pack_id, uint64_t *ret_size);
        /* up to max packs with id > after (NULL: from the start), in id order; *ret_more = 1 when
         * there may be more (call again with the last id seen). */
        int (*list)(struct store *s, const struct oid *after, size_t max, store_list_fn fn,
                    void *userdata, int *ret_more);
        int (*del)(struct store *s, const struct oid *pack_id);
        int (*prove)(struct store *s, const struct oid *pack_id, const void *nonce, size_t nonce_len,
                     uint8_t ret_digest[CRYPTO_SHA256_SIZE]);
        /* optional: the store's own words for r, a failure one of its calls returned (which
         * bucket, which peer, what was wrong); 1 when it wrote them to buf, 0 when it has none.
         * Any thread. */
        int (*explain)(struct store *s, int r, char *buf, size_t size);
        void (*free)(struct store *s);
};

/* Every implementation embeds this as its first member. */
struct store {
        const struct store_ops *ops;
};

/* Store the whole pack pack_id: the size bytes of fd from offset 0 (read with
 * pread; the fd is neither moved nor closed). Visible atomically and durable
 * when it returns 0; 0 also when the pack is already there. -EBADMSG when the
 * bytes' SHA-256 is not pack_id (nothing becomes visible); STORE_PUT_TRUSTED
 * lets a store skip that check where it keeps the caller's bytes as they are.
 * The local store may keep an anonymous fd's file itself: write no more to
 * fd once it is put. */
static inline int store_put(struct store *s, const struct oid *pack_id, int fd, uint64_t size,
                            unsigned flags)
{
        return s->ops->put(s, pack_id, fd, size, flags);
}

/* 1 when the store takes offset-addressed uploads (put_range, commit, partial_size). */
static inline int store_has_ranges(const struct store *s)
{
        return s->ops->put_range && s->ops->commit && s->ops->partial_size;
}

/* Write buf[len] at offset of pack_id's partial upload (created at offset 0;
 * offset must be <= its current size; -EEXIST if the pack is already visible;
 * -EOPNOTSUPP when the store has no ranged uploads). */
static inline int store_put_range(struct store *s, const struct oid *pack_id, uint64_t offset,
                                  const void *buf, size_t len)
{
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

        if (!s->ops->put_range)
                return -EOPNOTSUPP;
        return s->ops->put_range(s, pack_id, offset, &iov, 1);
}

/* As store_put_range with the bytes of iov[0..iovcnt) one after another
 * (e.g. straight from evbuffer_peek): one write and one sync for them all. */
static inline int store_put_rangev(struct store *s, const struct oid *pack_id, uint64_t offset,
                                   const struct iovec *iov, int iovcnt)
{
        if (!s->ops->put_range)
                return -EOPNOTSUPP;
        if (iovcnt < 0 || (iovcnt > 0 && !iov))
                return -EINVAL;
        return s->ops->put_range(s, pack_id, offset, iov, iovcnt);
}

/* Make the partial upload visible as pack_id once it is total_size bytes and its
 * SHA-256 equals pack_id (-EBADMSG and the partial is dropped otherwise;
 * -ENODATA while it is shorter). Idempotent: 0 if the pack is already there. */
static inline int store_commit(struct store *s, const struct oid *pack_id, uint64_t total_size)
{
        if (!s->ops->commit)
                return -EOPNOTSUPP;
        return s->ops->commit(s, pack_id, total_size);
}

/* Bytes of pack_id's partial upload already durable (0 when there is none): resume from there. */
static inline int store_partial_size(struct store *s, const struct oid *pack_id, uint64_t *ret_size)
{
        if (!s->ops->partial_size)
                return -EOPNOTSUPP;
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

/* One page: fn for up to max (>= 1) visible packs with id > after (NULL: from
 * the first), in increasing id order; partial uploads are not listed.
 * *ret_more = 1 when there may be more: call again with the last id seen. */
static inline int store_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn,
                             void *userdata, int *ret_more)
{
        return s->ops->list(s, after, max, fn, userdata, ret_more);
}

struct store_list_all_state {
        store_list_fn fn;
        void *userdata;
        struct oid last;
        int have_last;
        size_t n;
};

static inline int store_list_all_cb(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct store_list_all_state *st = (struct store_list_all_state *)userdata;

        /* Ids must increase, or a buggy or hostile store could loop us forever. */
        if (st->have_last && oid_cmp(pack_id, &st->last) <= 0)
                return -EBADMSG;
        st->last = *pack_id;
        st->have_last = 1;
        st->n++;
        return st->fn(st->userdata, pack_id, size);
}

/* Call fn for every visible pack, in id order, page by page (STORE_LIST_PAGE
 * packs a call). -EBADMSG if the store breaks the order. */
static inline int store_list_all(struct store *s, store_list_fn fn, void *userdata)
{
        struct store_list_all_state st = { .fn = fn, .userdata = userdata };

        for (;;) {
                int more = 0, r;

                st.n = 0;
                r = store_list(s, st.have_last ? &st.last : NULL, STORE_LIST_PAGE, store_list_all_cb,
                               &st, &more);
                if (r < 0)
                        return r;
                if (!more)
                        return 0;
                if (st.n == 0)
                        return -EBADMSG; /* "more", yet an empty page */
        }
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

/* 1 when r says the store could not be reached (not what it answered): try
 * again later. */
static inline int store_transport_error(int r)
{
        return r == -ENOTCONN || r == -ECONNRESET || r == -ETIMEDOUT || r == -ECANCELED ||
               r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH || r == -EPIPE;
}

/* The store's own words for r, a failure one of its calls returned, in buf;
 * 0 (and buf "") when it has none. */
static inline int store_explain(struct store *s, int r, char *buf, size_t size)
{
        if (r < 0 && size && s->ops->explain && s->ops->explain(s, r, buf, size) > 0)
                return 1;
        if (size)
                buf[0] = '\0';
        return 0;
}

/* What to tell a user about r from s: the store's own words where it has
 * them, strerror otherwise; buf holds them (size: STORE_EXPLAIN_SIZE is enough). */
#define STORE_EXPLAIN_SIZE 256
static inline const char *store_strerror(struct store *s, int r, char *buf, size_t size)
{
        return store_explain(s, r, buf, size) ? buf : strerror(-r);
}

/* Free the store (NULL is fine). */
static inline void store_free(struct store *s)
{
        if (s)
                s->ops->free(s);
}
