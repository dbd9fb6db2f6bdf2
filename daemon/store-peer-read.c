/* SPDX-License-Identifier: MIT */
/* The peer store's reading calls (store_ops get, stat, list, prove) on
 * store threads: GET in pieces of at most PEER_DATA_MAX whose DATA must be
 * exactly what was asked, STAT and LIST with packs marked deleted treated as
 * gone, PROVE with the nonce bounds of the protocol. Writes and the call
 * machinery are store-peer.c's. */
#include "store-peer-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cleanup.h"

/* GET in pieces the protocol allows, each answered with exactly its bytes. */
static int get_locked(struct store_peer *p, const struct oid *pack, uint64_t offset, size_t len, uint8_t *buf)
{
        while (len > 0) {
                size_t n = len < PEER_DATA_MAX ? len : PEER_DATA_MAX;
                struct evbuffer *data = NULL;
                struct msg *req = store_peer_request_new(PEER_TYPE_GET, pack);
                int r;

                if (!req)
                        return -ENOMEM;
                struct msg_map body = msg_body(req);
                if (msg_map_set_uint(&body, PEER_KEY_OFFSET, offset) < 0 ||
                    msg_map_set_uint(&body, PEER_KEY_LENGTH, n) < 0) {
                        msg_free(req);
                        return -ENOMEM;
                }
                r = store_peer_request(p, req, NULL, &data);
                if (r < 0)
                        return r;
                /* exactly what was asked, or the host is broken */
                if (!data || evbuffer_get_length(data) != n) {
                        if (data)
                                evbuffer_free(data);
                        return -EBADMSG;
                }
                r = evbuffer_remove(data, buf, n) == (int)n ? 0 : -EIO;
                evbuffer_free(data);
                if (r < 0)
                        return r;
                buf += n;
                offset += n;
                len -= n;
        }
        return 0;
}

int store_peer_read_get(struct store *s, const struct oid *pack, uint64_t offset, size_t len, void *buf)
{
        struct store_peer *p = to_peer(s);
        int r = store_peer_op_enter(p);

        if (r < 0)
                return r;
        r = get_locked(p, pack, offset, len, buf);
        store_peer_unref(p);
        return r;
}

int store_peer_read_stat(struct store *s, const struct oid *pack, uint64_t *ret_size)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct store_peer *p = to_peer(s);
        uint64_t size;
        int64_t deleted;
        int r = store_peer_op_enter(p);

        if (r < 0)
                return r;
        struct msg *req = store_peer_request_new(PEER_TYPE_STAT, pack);
        r = req ? store_peer_request(p, req, &reply, NULL) : -ENOMEM;
        store_peer_unref(p);
        if (r < 0)
                return r;
        struct msg_map body = msg_body(reply);
        if (msg_map_get_int(&body, PEER_KEY_DELETED_AT, &deleted) >= 0 && deleted > 0)
                return -ENOENT; /* marked deleted: gone as far as we are concerned */
        if (msg_map_get_uint(&body, PEER_KEY_SIZE, &size) < 0 || size == 0)
                return -ENOENT; /* only a partial upload */
        *ret_size = size;
        return 0;
}

int store_peer_read_list_page(struct store_peer *p, const struct oid *after, size_t max, bool marked,
                          store_list_fn fn, void *userdata, int *ret_more, struct oid *ret_last,
                          size_t *ret_n, size_t *ret_passed)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct msg *req = store_peer_request_new(PEER_TYPE_LIST, NULL);
        size_t n = 0, seen = 0, passed = 0;
        bool more = false;
        int r;

        if (!req)
                return -ENOMEM;
        struct msg_map body = msg_body(req);
        if ((after && msg_map_set_bytes(&body, PEER_KEY_AFTER, after->bytes, OID_SIZE) < 0) ||
            msg_map_set_uint(&body, PEER_KEY_LIMIT, max < PEER_LIST_MAX ? max : PEER_LIST_MAX) < 0) {
                msg_free(req);
                return -ENOMEM;
        }
        r = store_peer_request(p, req, &reply, NULL);
        if (r < 0)
                return r;
        body = msg_body(reply);
        msg_map_get_count(&body, PEER_KEY_ENTRIES, &n);
        msg_map_get_bool(&body, PEER_KEY_MORE, &more);
        if (n > PEER_LIST_MAX || n > max)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                struct msg_map item;
                const uint8_t *id;
                size_t id_len;
                uint64_t size = 0;
                int64_t deleted = 0;
                struct oid pack;

                if (msg_map_get_map_at(&body, PEER_KEY_ENTRIES, i, &item) < 0 ||
                    msg_map_get_bytes(&item, PEER_KEY_PACK, &id, &id_len) < 0 || id_len != OID_SIZE)
                        return -EBADMSG;
                memcpy(pack.bytes, id, OID_SIZE);
                msg_map_get_uint(&item, PEER_KEY_SIZE, &size);
                msg_map_get_int(&item, PEER_KEY_DELETED_AT, &deleted);
                if ((after || seen) && oid_cmp(&pack, seen ? ret_last : after) <= 0)
                        return -EBADMSG; /* ids must increase */
                *ret_last = pack;
                seen++;
                if ((deleted > 0) != marked)
                        continue;
                r = fn(userdata, &pack, size);
                if (r < 0)
                        return r;
                passed++;
        }
        *ret_more = more && n > 0;
        *ret_n = seen;
        *ret_passed = passed;
        return 0;
}

int store_peer_read_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn, void *userdata,
                     int *ret_more)
{
        struct store_peer *p = to_peer(s);
        struct oid last;
        int more = 0, r;

        if (max == 0)
                return -EINVAL;
        r = store_peer_op_enter(p);
        if (r < 0)
                return r;
        /* pages of marked packs only are skipped: a page of ours is never
         * empty while there are more */
        for (;;) {
                size_t n = 0, passed = 0;
                r = store_peer_read_list_page(p, after, max, false, fn, userdata, &more, &last, &n, &passed);
                if (r < 0 || passed > 0 || !more)
                        break;
                after = &last;
        }
        store_peer_unref(p);
        if (r >= 0)
                *ret_more = more;
        return r;
}

int store_peer_read_prove(struct store *s, const struct oid *pack, const void *nonce, size_t nonce_len,
                      uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct store_peer *p = to_peer(s);
        const uint8_t *digest;
        size_t len;
        int r;

        if (nonce_len < PEER_NONCE_MIN || nonce_len > PEER_NONCE_MAX)
                return -EINVAL;
        r = store_peer_op_enter(p);
        if (r < 0)
                return r;
        struct msg *req = store_peer_request_new(PEER_TYPE_PROVE, pack);
        if (req) {
                struct msg_map body = msg_body(req);
                if (msg_map_set_bytes(&body, PEER_KEY_NONCE, nonce, nonce_len) < 0) {
                        msg_free(req);
                        req = NULL;
                }
        }
        r = req ? store_peer_request(p, req, &reply, NULL) : -ENOMEM;
        store_peer_unref(p);
        if (r < 0)
                return r;
        struct msg_map body = msg_body(reply);
        if (msg_map_get_bytes(&body, PEER_KEY_DIGEST, &digest, &len) < 0 || len != CRYPTO_SHA256_SIZE)
                return -EBADMSG;
        memcpy(ret_digest, digest, CRYPTO_SHA256_SIZE);
        return 0;
}
