/* SPDX-License-Identifier: MIT */
/* The peer store's store_ops, run on store threads: each builds its
 * requests, posts them to the loop (store-peer-link.c sends them) and waits
 * for the answers on the store's condition variable (the reading calls are
 * in store-peer-read.c). A put learns the durable part of an earlier upload
 * with HAVE and sends only the rest, in 1 MiB ranges read straight into the
 * buffers the connection sends from, pipelined up to the window. */
#include "store-peer-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "cond.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "peer-conn.h"
#include "workers.h"

static const struct store_ops store_peer_ops;

bool store_is_peer(const struct store *s)
{
        return s && s->ops == &store_peer_ops;
}

/* ---- references ---------------------------------------------------------- */

static void store_peer_ref_locked(struct store_peer *p)
{
        p->refs++;
}

void store_peer_unref(struct store_peer *p)
{
        pthread_mutex_lock(&p->lock);
        bool last = --p->refs == 0;
        pthread_mutex_unlock(&p->lock);
        if (!last)
                return;
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->name);
        free(p->address);
        free(p->id_text);
        free(p);
}

/* ---- batches and calls ----------------------------------------------------- */

static struct store_peer_batch *batch_new(void)
{
        struct store_peer_batch *b = calloc(1, sizeof(*b));

        if (b)
                b->refs = 1;
        return b;
}

/* Under p->lock. */
static void batch_unref_locked(struct store_peer_batch *b)
{
        if (--b->refs > 0)
                return;
        msg_free(b->reply);
        if (b->payload)
                evbuffer_free(b->payload);
        free(b);
}

void store_peer_budget_release(struct store_peer *p, size_t len)
{
        pthread_mutex_lock(&p->lock);
        p->budget_used -= len < p->budget_used ? len : p->budget_used;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

/* Take len bytes of the PUT budget (the window): wait while other ranges
 * hold it, unless none does. -ECANCELED when the store stops. */
static int budget_acquire(struct store_peer *p, size_t len)
{
        int r = 0;

        pthread_mutex_lock(&p->lock);
        while (!p->closing && p->budget_used > 0 && p->budget_used + len > p->window)
                pthread_cond_wait(&p->cond, &p->lock);
        if (p->closing)
                r = -ECANCELED;
        else
                p->budget_used += len;
        pthread_mutex_unlock(&p->lock);
        return r;
}

void store_peer_call_finish(struct store_peer_call *call, struct msg *reply, struct peer_payload *payload,
                            int err)
{
        struct store_peer *p = call->p;
        struct store_peer_batch *b = call->batch;

        if (call->has_data && call->data) { /* never handed to the connection */
                free(call->data);
                store_peer_budget_release(p, call->data_len);
        }
        msg_free(call->req);
        if (err >= 0 && call->type == PEER_TYPE_PUT)
                p->uploaded_bytes += call->data_len; /* loop-only counter */

        pthread_mutex_lock(&p->lock);
        b->outstanding--;
        b->progressed = true;
        if (err < 0) {
                struct msg_map body = reply ? msg_body(reply) : (struct msg_map){ 0 };
                const char *text = NULL;
                size_t len = 0;
                if (reply)
                        msg_map_get_text(&body, PEER_KEY_MESSAGE, &text, &len);
                if (b->error >= 0) {
                        b->error = err;
                        if (text)
                                snprintf(b->message, sizeof(b->message), "%.*s", (int)len, text);
                }
                if (reply)
                        log_debug("Store %s: %s refused: %s (%.*s)", p->name, peer_type_name(call->type) ?: "?",
                                  strerror(-err), text ? (int)len : 0, text ? text : "");
        } else if (reply) {
                struct msg_map body = msg_body(reply);
                uint64_t durable;
                bool committed;
                if (msg_map_get_uint(&body, PEER_KEY_DURABLE, &durable) >= 0 && durable > b->durable)
                        b->durable = durable;
                if (msg_map_get_bool(&body, PEER_KEY_COMMITTED, &committed) >= 0 && committed)
                        b->committed = true;
                if (call->keep_reply) {
                        msg_free(b->reply);
                        b->reply = TAKE_PTR(reply);
                        if (payload && payload->buf) {
                                if (b->payload)
                                        evbuffer_free(b->payload);
                                b->payload = TAKE_PTR(payload->buf);
                        }
                }
        }
        pthread_cond_broadcast(&p->cond);
        batch_unref_locked(b);
        pthread_mutex_unlock(&p->lock);
        msg_free(reply);
        store_peer_unref(p);
        free(call);
}

/* Post req (taken) to the loop as a call of batch b; data (taken, malloc'd)
 * is a PUT payload when has_data. */
static int call_post(struct store_peer *p, struct store_peer_batch *b, struct msg *req, void *data,
                     size_t data_len, bool has_data, bool keep_reply)
{
        struct store_peer_call *call = calloc(1, sizeof(*call));
        int r;

        if (!call) {
                msg_free(req);
                if (has_data) {
                        free(data);
                        store_peer_budget_release(p, data_len);
                }
                return -ENOMEM;
        }
        *call = (struct store_peer_call){
                .p = p,
                .batch = b,
                .req = req,
                .type = msg_type(req),
                .data = data,
                .data_len = data_len,
                .has_data = has_data,
                .keep_reply = keep_reply,
        };
        pthread_mutex_lock(&p->lock);
        if (p->closing) {
                pthread_mutex_unlock(&p->lock);
                r = -ECANCELED;
                goto fail;
        }
        b->outstanding++;
        b->refs++;
        store_peer_ref_locked(p);
        pthread_mutex_unlock(&p->lock);
        r = workers_call_on_loop(p->workers, store_peer_link_submit, call);
        if (r >= 0)
                return 0;
        pthread_mutex_lock(&p->lock);
        b->outstanding--;
        b->refs--;
        p->refs--; /* the owner's reference is still there */
        pthread_mutex_unlock(&p->lock);
fail:
        msg_free(call->req);
        if (has_data) {
                free(data);
                store_peer_budget_release(p, data_len);
        }
        free(call);
        return r;
}

/* Wait until at most max_outstanding calls of b are unfinished: 0, or
 * -ETIMEDOUT after STORE_PEER_CALL_TIMEOUT_NS without any finishing, or
 * -ECANCELED when the store stops. Under p->lock. */
static int batch_wait_locked(struct store_peer *p, struct store_peer_batch *b, unsigned max_outstanding)
{
        struct timespec deadline;

        cond_deadline(&deadline, STORE_PEER_CALL_TIMEOUT_NS);
        while (b->outstanding > max_outstanding) {
                if (p->closing)
                        return -ECANCELED;
                b->progressed = false;
                int k = pthread_cond_timedwait(&p->cond, &p->lock, &deadline);
                if (b->progressed)
                        cond_deadline(&deadline, STORE_PEER_CALL_TIMEOUT_NS);
                else if (k == ETIMEDOUT)
                        return -ETIMEDOUT;
        }
        return 0;
}

int store_peer_request(struct store_peer *p, struct msg *req, struct msg **ret_reply,
                        struct evbuffer **ret_payload)
{
        struct store_peer_batch *b = batch_new();
        int r;

        if (!b) {
                msg_free(req);
                return -ENOMEM;
        }
        r = call_post(p, b, req, NULL, 0, false, true);
        pthread_mutex_lock(&p->lock);
        if (r >= 0)
                r = batch_wait_locked(p, b, 0);
        if (r >= 0 && b->error < 0)
                r = b->error;
        if (r >= 0 && ret_reply)
                *ret_reply = TAKE_PTR(b->reply);
        if (r >= 0 && ret_payload)
                *ret_payload = TAKE_PTR(b->payload);
        batch_unref_locked(b);
        pthread_mutex_unlock(&p->lock);
        return r;
}

struct msg *store_peer_request_new(enum peer_type type, const struct oid *pack)
{
        struct msg *m = peer_msg_new(type, 0);

        if (m && pack) {
                struct msg_map body = msg_body(m);
                if (msg_map_set_bytes(&body, PEER_KEY_PACK, pack->bytes, OID_SIZE) < 0) {
                        msg_free(m);
                        return NULL;
                }
        }
        return m;
}

int store_peer_op_enter(struct store_peer *p)
{
        int r = 0;

        if (pthread_equal(pthread_self(), p->loop_thread))
                return -EDEADLK;
        pthread_mutex_lock(&p->lock);
        if (p->closing)
                r = -ECANCELED;
        else
                store_peer_ref_locked(p);
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* ---- the store operations ---------------------------------------------------- */

/* HAVE for one pack: its visible size (0: none) and durable partial bytes. */
static int peer_have(struct store_peer *p, const struct oid *pack, uint64_t *ret_size, uint64_t *ret_partial)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        struct msg *req = peer_msg_new(PEER_TYPE_HAVE, 0);
        uint64_t size, partial;
        int r;

        if (!req)
                return -ENOMEM;
        struct msg_map body = msg_body(req);
        r = msg_map_append_bytes(&body, PEER_KEY_PACKS, pack->bytes, OID_SIZE);
        if (r < 0) {
                msg_free(req);
                return r;
        }
        r = store_peer_request(p, req, &reply, NULL);
        if (r < 0)
                return r;
        body = msg_body(reply);
        if (msg_map_get_uint_at(&body, PEER_KEY_SIZES, 0, &size) < 0 ||
            msg_map_get_uint_at(&body, PEER_KEY_PARTIALS, 0, &partial) < 0)
                return -EBADMSG;
        *ret_size = size;
        *ret_partial = partial;
        return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t offset)
{
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = pread(fd, p, len, (off_t)offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ENODATA; /* shorter than its size */
                p += n;
                len -= (size_t)n;
                offset += (uint64_t)n;
        }
        return 0;
}

static struct msg *put_request(const struct oid *pack, uint64_t offset, uint64_t size, bool commit)
{
        struct msg *m = store_peer_request_new(PEER_TYPE_PUT, pack);

        if (!m)
                return NULL;
        struct msg_map body = msg_body(m);
        if (msg_map_set_uint(&body, PEER_KEY_OFFSET, offset) < 0 ||
            msg_map_set_uint(&body, PEER_KEY_SIZE, size) < 0 ||
            (commit && msg_map_set_bool(&body, PEER_KEY_COMMIT, true) < 0)) {
                msg_free(m);
                return NULL;
        }
        return m;
}

/* Send ranges [offset, size) of fd (all of them, or none when fd < 0 and
 * offset == size: a bare COMMIT), pipelined within the budget, and wait. */
static int put_ranges(struct store_peer *p, const struct oid *pack, int fd, uint64_t offset, uint64_t size,
                      bool commit, bool *ret_committed)
{
        struct store_peer_batch *b = batch_new();
        int r = 0;

        if (!b)
                return -ENOMEM;
        do {
                size_t len = size - offset < STORE_PEER_RANGE ? (size_t)(size - offset) : STORE_PEER_RANGE;
                bool last = offset + len == size;
                void *buf;

                r = budget_acquire(p, len);
                if (r < 0)
                        break;
                buf = malloc(len ? len : 1);
                if (!buf) {
                        store_peer_budget_release(p, len);
                        r = -ENOMEM;
                        break;
                }
                r = len ? pread_all(fd, buf, len, offset) : 0;
                if (r < 0) {
                        free(buf);
                        store_peer_budget_release(p, len);
                        break;
                }
                struct msg *req = put_request(pack, offset, size, commit && last);
                if (!req) {
                        free(buf);
                        store_peer_budget_release(p, len);
                        r = -ENOMEM;
                        break;
                }
                r = call_post(p, b, req, buf, len, true, false);
                if (r < 0)
                        break;
                offset += len;
                pthread_mutex_lock(&p->lock);
                r = b->error; /* stop early once a range failed */
                pthread_mutex_unlock(&p->lock);
        } while (r >= 0 && offset < size);

        pthread_mutex_lock(&p->lock);
        int k = batch_wait_locked(p, b, 0);
        if (r >= 0)
                r = k < 0 ? k : b->error;
        if (ret_committed)
                *ret_committed = b->committed;
        batch_unref_locked(b);
        pthread_mutex_unlock(&p->lock);
        return r;
}

static int peer_put_locked(struct store_peer *p, const struct oid *pack, int fd, uint64_t size)
{
        uint64_t visible, durable;
        bool committed = false;
        int r;

        if (size == 0)
                return -EINVAL;
        r = peer_have(p, pack, &visible, &durable);
        if (r < 0)
                return r;
        if (visible == size) {
                /* there already (its COMMITTED answer may have been lost): nothing to send */
                pthread_mutex_lock(&p->lock);
                p->resumed_bytes += size;
                pthread_mutex_unlock(&p->lock);
                return 0;
        }
        if (durable > size)
                durable = 0; /* not ours to make sense of: start over */
        if (durable > 0) {
                pthread_mutex_lock(&p->lock);
                p->resumed_bytes += durable;
                pthread_mutex_unlock(&p->lock);
        }
        r = put_ranges(p, pack, fd, durable, size, true, &committed);
        if (r < 0)
                return r;
        return committed ? 0 : -EIO; /* a host that answers the last range without COMMITTED */
}

static int peer_put(struct store *s, const struct oid *pack, int fd, uint64_t size, unsigned flags)
{
        struct store_peer *p = to_peer(s);
        int r = store_peer_op_enter(p);

        (void)flags; /* the host checks every pack's hash at COMMIT */
        if (r < 0)
                return r;
        r = peer_put_locked(p, pack, fd, size);
        store_peer_unref(p);
        return r;
}

/* put_range: one PUT of the bytes of iov at offset. The protocol wants the
 * whole size in every PUT; a range alone does not know it, so it says
 * offset + len, which the host only checks at COMMIT (commit() sends the
 * real one). */
static int peer_put_range(struct store *s, const struct oid *pack, uint64_t offset, const struct iovec *iov,
                          int iovcnt)
{
        struct store_peer *p = to_peer(s);
        size_t len = 0;
        int r;

        for (int i = 0; i < iovcnt; i++) {
                if (iov[i].iov_len > PEER_DATA_MAX - len)
                        return -EMSGSIZE;
                len += iov[i].iov_len;
        }
        r = store_peer_op_enter(p);
        if (r < 0)
                return r;
        uint8_t *copy = malloc(len ? len : 1);
        struct store_peer_batch *b = batch_new();
        struct msg *req = put_request(pack, offset, offset + len, false);
        if (!copy || !b || !req) {
                free(copy);
                free(b);
                msg_free(req);
                store_peer_unref(p);
                return -ENOMEM;
        }
        for (int i = 0, at = 0; i < iovcnt; at += (int)iov[i].iov_len, i++)
                memcpy(copy + at, iov[i].iov_base, iov[i].iov_len);
        r = budget_acquire(p, len);
        if (r >= 0) {
                r = call_post(p, b, req, copy, len, true, false);
        } else {
                free(copy);
                msg_free(req);
        }
        pthread_mutex_lock(&p->lock);
        if (r >= 0)
                r = batch_wait_locked(p, b, 0);
        if (r >= 0)
                r = b->error;
        batch_unref_locked(b);
        pthread_mutex_unlock(&p->lock);
        store_peer_unref(p);
        return r;
}

static int peer_commit(struct store *s, const struct oid *pack, uint64_t total_size)
{
        struct store_peer *p = to_peer(s);
        bool committed = false;
        int r = store_peer_op_enter(p);

        if (r < 0)
                return r;
        r = put_ranges(p, pack, -1, total_size, total_size, true, &committed);
        store_peer_unref(p);
        if (r < 0)
                return r;
        return committed ? 0 : -EIO;
}

static int peer_partial_size(struct store *s, const struct oid *pack, uint64_t *ret_size)
{
        struct store_peer *p = to_peer(s);
        uint64_t visible, durable;
        int r = store_peer_op_enter(p);

        if (r < 0)
                return r;
        r = peer_have(p, pack, &visible, &durable);
        store_peer_unref(p);
        if (r < 0)
                return r;
        *ret_size = durable;
        return 0;
}

static int peer_simple(struct store *s, enum peer_type type, const struct oid *pack)
{
        struct store_peer *p = to_peer(s);
        int r = store_peer_op_enter(p);

        if (r < 0)
                return r;
        struct msg *req = store_peer_request_new(type, pack);
        r = req ? store_peer_request(p, req, NULL, NULL) : -ENOMEM;
        store_peer_unref(p);
        return r;
}

static int peer_del(struct store *s, const struct oid *pack)
{
        return peer_simple(s, PEER_TYPE_DELETE, pack);
}

struct undelete_all {
        struct store_peer *p;
        uint64_t count;
};

static int undelete_one(void *userdata, const struct oid *pack, uint64_t size)
{
        struct undelete_all *u = userdata;
        struct msg *req = store_peer_request_new(PEER_TYPE_UNDELETE, pack);
        int r;

        (void)size;
        r = req ? store_peer_request(u->p, req, NULL, NULL) : -ENOMEM;
        if (r == -ENOENT)
                return 0; /* purged meanwhile */
        if (r < 0)
                return r;
        u->count++;
        return 0;
}

int store_peer_undelete_all(struct store *s, uint64_t *ret_count)
{
        struct store_peer *p = to_peer(s);
        struct undelete_all u = { .p = p };
        struct oid last;
        bool have_last = false;
        int more = 1, r;

        if (!store_is_peer(s))
                return -EINVAL;
        r = store_peer_op_enter(p);
        if (r < 0)
                return r;
        while (r >= 0 && more) {
                size_t n = 0, passed = 0;
                r = store_peer_read_list_page(p, have_last ? &last : NULL, PEER_LIST_MAX, true, undelete_one, &u, &more,
                                   &last, &n, &passed);
                if (r >= 0 && more && n == 0)
                        r = -EBADMSG; /* "more", yet an empty page */
                have_last = have_last || n > 0;
        }
        store_peer_unref(p);
        if (r < 0)
                return r;
        *ret_count = u.count;
        return 0;
}

/* ---- construction -------------------------------------------------------------- */

static void peer_free(struct store *s)
{
        struct store_peer *p = to_peer(s);

        if (!p)
                return;
        store_peer_shutdown(s);
        store_peer_link_done(p);
        store_peer_unref(p);
}

/* Why the connection failed (which address, what TLS or the host said), for a
 * call that failed because of it. */
static int peer_explain(struct store *s, int r, char *buf, size_t size)
{
        struct store_peer *p = to_peer(s);
        int have;

        if (!store_transport_error(r))
                return 0;
        pthread_mutex_lock(&p->lock);
        have = p->error[0] != '\0';
        if (have)
                snprintf(buf, size, "%s", p->error);
        pthread_mutex_unlock(&p->lock);
        return have;
}

static const struct store_ops store_peer_ops = {
        .kind = "peer",
        .put = peer_put,
        .put_range = peer_put_range,
        .commit = peer_commit,
        .partial_size = peer_partial_size,
        .get = store_peer_read_get,
        .stat = store_peer_read_stat,
        .list = store_peer_read_list,
        .del = peer_del,
        .prove = store_peer_read_prove,
        .explain = peer_explain,
        .free = peer_free,
};

void store_peer_shutdown(struct store *s)
{
        struct store_peer *p = to_peer(s);

        pthread_mutex_lock(&p->lock);
        bool was = p->closing;
        p->closing = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        if (!was)
                store_peer_link_stop(p);
}

int store_peer_new(struct daemon *d, const char *name, const uint8_t node_id[32], const char *address,
                   struct store **ret)
{
        struct store_peer *p;
        int r;

        if (!name || !*name || !address || !*address)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->base.ops = &store_peer_ops;
        p->d = d;
        p->ev_base = d->base;
        p->workers = d->workers;
        p->refs = 1;
        p->loop_thread = pthread_self();
        p->window_config = d->config.peer_window ? (size_t)d->config.peer_window : PEER_CONN_WINDOW_DEFAULT;
        p->window = p->window_config;
        p->waiting_tail = &p->waiting;
        memcpy(p->node_id, node_id, sizeof(p->node_id));
        pthread_mutex_init(&p->lock, NULL);
        p->name = strdup(name);
        p->address = strdup(address);
        if (cond_init_monotonic(&p->cond) < 0 || !p->name || !p->address ||
            identity_format_id(node_id, &p->id_text) < 0) {
                store_peer_unref(p);
                return -ENOMEM;
        }
        r = store_peer_link_start(p);
        if (r < 0) {
                peer_free(&p->base);
                return r;
        }
        *ret = &p->base;
        return 0;
}

void store_peer_get_status(struct store *s, struct store_peer_status *ret)
{
        struct store_peer *p = to_peer(s);

        *ret = (struct store_peer_status){
                .connected = p->state == STORE_PEER_UP,
                .have_usage = p->have_usage,
                .used = p->used,
                .quota = p->quota,
                .delete_delay_s = p->delete_delay_s,
                .uploaded_bytes = p->uploaded_bytes,
        };
        pthread_mutex_lock(&p->lock);
        snprintf(ret->error, sizeof(ret->error), "%s", p->error);
        ret->resumed_bytes = p->resumed_bytes;
        pthread_mutex_unlock(&p->lock);
}

void store_peer_set_events(struct store *s, const struct store_peer_events *events, void *userdata)
{
        struct store_peer *p = to_peer(s);

        p->events = events;
        p->events_userdata = userdata;
}
