/* SPDX-License-Identifier: MIT */
/* PUT on the host: uploads by offset, one PUT of a pack at a time (a queue
 * per pack), the quota checked before a new pack's first byte, the payload
 * written straight from the connection's evbuffer chain with one writev and
 * one fdatasync, RESULT only after that; COMMIT checks the hash. A marked
 * pack uploaded again goes to the replacement store and takes the marked
 * copy's place only once its hash checks. */
#include "peer-host-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "pack.h"
#include "parse.h"
#include "peer-conn.h"
#include "peer.h"
#include "store.h"

/* Bytes copied at a time when a new copy replaces a marked pack. */
#define HOST_SWAP_CHUNK (4u * 1024 * 1024)

/* ---- PUT -------------------------------------------------------------------- */

static void upload_remove(struct host_account *a, struct host_upload *up)
{
        for (struct host_upload **p = &a->uploads; *p; p = &(*p)->next)
                if (*p == up) {
                        *p = up->next;
                        break;
                }
        if (!up->replace)
                a->reserved -= up->size;
        else
                a->n_replacing--;
        a->n_uploads--;
        free(up);
}

void host_uploads_free(struct host_account *a)
{
        while (a->uploads) {
                struct host_upload *up = a->uploads;
                while (up->queue) {
                        struct host_job *j = up->queue;
                        up->queue = j->next;
                        host_job_free(j);
                }
                upload_remove(a, up);
        }
}

void host_uploads_expire(struct peer_host *h, int64_t before_ns)
{
        for (struct host_account *a = h->accounts; a; a = a->next)
                for (struct host_upload *up = a->uploads, *next; up; up = next) {
                        next = up->next;
                        if (!up->busy && !up->queue && up->touched_ns < before_ns)
                                upload_remove(a, up);
                }
}

struct host_upload *host_upload_find(struct host_account *a, const struct oid *pack)
{
        for (struct host_upload *up = a->uploads; up; up = up->next)
                if (oid_cmp(&up->pack, pack) == 0)
                        return up;
        return NULL;
}

/* Replace the marked copy of pack by the checked one in the replacement
 * store: drop the old bytes (and any partial), copy, check the hash again
 * on commit, then drop the replacement. A crash in between leaves the
 * checked copy in the replacement store, where the next PUT finds it. */
static int put_swap(struct host_account *a, const struct oid *pack, uint64_t size)
{
        _cleanup_free_ void *buf = NULL;
        int r;

        r = store_del(a->store, pack);
        if (r < 0 && r != -ENOENT)
                return r;
        buf = malloc(MIN((uint64_t)HOST_SWAP_CHUNK, size ? size : 1));
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = 0; off < size;) {
                size_t n = (size_t)MIN((uint64_t)HOST_SWAP_CHUNK, size - off);
                r = store_get(a->replace, pack, off, n, buf);
                if (r >= 0)
                        r = store_put_range(a->store, pack, off, buf, n);
                if (r < 0)
                        return r;
                off += n;
        }
        r = store_commit(a->store, pack, size);
        if (r < 0)
                return r;
        r = store_del(a->replace, pack);
        return r == -ENOENT ? 0 : r;
}

int host_swap_finish(struct host_account *a, const struct oid *pack)
{
        uint64_t size;
        int r = store_stat(a->store, pack, &size);

        if (r != -ENOENT)
                return r; /* in place (or the store cannot tell) */
        r = store_stat(a->replace, pack, &size);
        if (r == -ENOENT)
                return -ENODATA;
        return r < 0 ? r : put_swap(a, pack, size);
}

static void put_work(void *userdata)
{
        struct host_job *j = userdata;
        struct store *store = j->replace ? j->a->replace : j->a->store;
        uint64_t size;
        int r;

        r = store_put_rangev(store, &j->pack, j->offset, j->iov, j->iovcnt);
        if (r == -EEXIST) {
                /* visible there already: a commit whose answer was lost, or a
                 * replacement checked before a crash */
                r = store_stat(store, &j->pack, &size);
                if (r >= 0 && size != j->size)
                        r = -EBADMSG;
                if (r >= 0 && j->replace)
                        r = put_swap(j->a, &j->pack, j->size);
                if (r >= 0) {
                        j->durable = j->size;
                        j->committed = true;
                }
                j->r = r;
                return;
        }
        if (r == -EINVAL) {
                /* a hole: the caller resumes from what is durable */
                if (store_partial_size(store, &j->pack, &j->durable) >= 0)
                        r = -ERANGE;
                j->r = r;
                return;
        }
        if (r < 0) {
                j->r = r;
                return;
        }
        j->durable = j->offset + j->len;
        if (j->commit) {
                r = store_commit(store, &j->pack, j->size);
                if (r >= 0 && j->replace)
                        r = put_swap(j->a, &j->pack, j->size);
                if (r >= 0)
                        j->committed = true;
                if (r == -EBADMSG)
                        j->durable = 0; /* the partial is gone */
        }
        j->r = r;
}

static void put_dispatch(struct host_job *j);
static void put_done(void *userdata);

static void put_start(struct host_upload *up)
{
        /* a job that cannot be submitted (the host stopping) is answered
         * BUSY, and the next one is tried: none is left unanswered */
        while (up->queue && !up->busy) {
                struct host_job *j = up->queue;
                up->queue = j->next;
                if (!up->queue)
                        up->queue_tail = NULL;
                j->next = NULL;
                j->replace = up->replace;
                up->busy = host_job_submit_or_fail(j, put_work, put_done);
        }
}

static void put_done(void *userdata)
{
        struct host_job *j = userdata;
        struct peer_host *h = host_job_finished(j);
        struct peer_host_session *s = j->s;
        struct host_account *a = j->a;
        struct host_upload *up = j->up;
        bool drop = false;
        int r = j->r;

        up->busy = false;
        up->touched_ns = now_ns();
        if (r >= 0)
                s->put_bytes += j->len;
        if (r >= 0 && j->committed) {
                int k = index_hosted_add(h->daemon->index, &a->id, &j->pack, j->size);
                if (k < 0) {
                        char hex[OID_HEX_SIZE];
                        oid_to_hex(&j->pack, hex);
                        log_error_errno(k, "Cannot record pack %s of peer %s in the index: %s", hex, a->pretty,
                                        index_last_error(h->daemon->index));
                        r = k;
                } else if (!up->replace)
                        a->used += j->size;
                drop = true;
        } else if (r == -EBADMSG || r == -ECANCELED)
                drop = true;

        if (r == -ECANCELED)
                ; /* the host stopped before it ran */
        else if (r == -ERANGE)
                host_error(s, j->reqid, PEER_STATUS_RANGE,
                           "offset %" PRIu64 " is past the %" PRIu64 " durable bytes of this upload", j->offset,
                           j->durable);
        else if (r == -EBADMSG)
                host_error(s, j->reqid, PEER_STATUS_MISMATCH,
                           "the pack's bytes do not hash to its id; the partial upload was dropped");
        else if (r == -ENODATA)
                host_error(s, j->reqid, PEER_STATUS_RANGE, "the upload holds fewer than SIZE bytes; cannot commit");
        else if (r < 0)
                host_error_errno(s, j->reqid, r, "storing the pack");
        else {
                struct msg *m = host_result(j->reqid);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, PEER_KEY_DURABLE, j->durable);
                        msg_map_set_bool(&b, PEER_KEY_COMMITTED, j->committed);
                }
                host_reply(s, m, NULL, 0);
        }
        if (drop) {
                /* later PUTs of this pack start over: they find it visible, or a new upload */
                struct host_job *q = up->queue;
                up->queue = up->queue_tail = NULL;
                upload_remove(a, up);
                host_job_free(j);
                while (q) {
                        struct host_job *next = q->next;
                        q->next = NULL;
                        q->up = NULL;
                        put_dispatch(q);
                        q = next;
                }
        } else {
                host_job_free(j);
                put_start(up);
        }
        host_unref(h);
}

/* Log a quota refusal, at most once a minute per peer. */
static void put_log_quota(struct host_account *a, uint64_t quota, uint64_t size)
{
        char q[FORMAT_SIZE_MAX], u[FORMAT_SIZE_MAX], n[FORMAT_SIZE_MAX];
        int64_t now = now_ns();

        if (a->quota_logged_ns && now - a->quota_logged_ns < PEER_HOST_QUOTA_LOG_SEC * (int64_t)NSEC_PER_SEC)
                return;
        a->quota_logged_ns = now;
        log_event(LOG_WARNING, MSGID_PEER_QUOTA, LOG_FIELDS(LOG_PEER(a->pretty)),
                  "Peer %s is over its quota of %s: it keeps %s here and sent a pack of %s; refused", a->pretty,
                  format_size(quota, q), format_size(a->used + a->reserved, u), format_size(size, n));
}

/* Where j goes now: answered at once (the pack is there), refused (quota,
 * busy), or queued on its pack's upload. */
static void put_dispatch(struct host_job *j)
{
        struct peer_host_session *s = j->s;
        struct host_account *a = j->a;
        struct peer_host *h = s->host;
        struct index_hosted row;
        struct host_upload *up;
        bool replace = false;
        int r;

        if (host_account_purging(a, &j->pack)) {
                host_error(s, j->reqid, PEER_STATUS_BUSY, "this pack is being purged; try again later");
                host_job_free(j);
                return;
        }
        r = index_hosted_get(h->daemon->index, &a->id, &j->pack, &row);
        if (r >= 0 && !row.deleted_ns) {
                struct msg *m = host_result(j->reqid);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, PEER_KEY_DURABLE, row.size);
                        msg_map_set_bool(&b, PEER_KEY_COMMITTED, true);
                }
                host_reply(s, m, NULL, 0);
                host_job_free(j);
                return;
        }
        if (r < 0 && r != -ENOENT) {
                host_error_errno(s, j->reqid, r, "looking the pack up");
                host_job_free(j);
                return;
        }
        replace = r >= 0; /* marked: a new copy, checked before it replaces the old */
        if (replace && j->size != row.size) {
                /* the id fixes the bytes, so their number too; a replacement
                 * of another size could never commit, and its partial would
                 * sit outside the quota until the partials are dropped */
                host_error(s, j->reqid, PEER_STATUS_BAD_REQUEST,
                           "SIZE %" PRIu64 " differs from the %" PRIu64 " bytes this pack has here", j->size,
                           row.size);
                host_job_free(j);
                return;
        }
        up = host_upload_find(a, &j->pack);
        if (up && up->size != j->size) {
                host_error(s, j->reqid, PEER_STATUS_BAD_REQUEST,
                           "SIZE %" PRIu64 " differs from the %" PRIu64 " of the upload in progress", j->size,
                           up->size);
                host_job_free(j);
                return;
        }
        if (!up) {
                if (a->n_uploads >= PEER_HOST_UPLOADS) {
                        host_error(s, j->reqid, PEER_STATUS_BUSY, "%u uploads in progress; finish some first",
                                   a->n_uploads);
                        host_job_free(j);
                        return;
                }
                if (replace && a->n_replacing >= PEER_HOST_REPLACING) {
                        /* a second copy outside the quota while it lasts: a few at a time */
                        host_error(s, j->reqid, PEER_STATUS_BUSY,
                                   "%u marked packs are being uploaded again; finish those first", a->n_replacing);
                        host_job_free(j);
                        return;
                }
                if (!replace) {
                        /* before the first byte of a new pack */
                        struct index_peer p;
                        r = index_peer_get(h->daemon->index, &a->id, &p);
                        if (r < 0 || !p.approved) {
                                if (r >= 0)
                                        index_peer_done(&p);
                                host_error(s, j->reqid, PEER_STATUS_DENIED, "this node is no longer a peer here");
                                host_job_free(j);
                                return;
                        }
                        index_peer_done(&p);
                        if (a->used + a->reserved > p.quota || j->size > p.quota - a->used - a->reserved) {
                                char q[FORMAT_SIZE_MAX], u[FORMAT_SIZE_MAX];
                                put_log_quota(a, p.quota, j->size);
                                host_error(s, j->reqid, PEER_STATUS_QUOTA,
                                           "quota exceeded: %s of %s used, the pack needs %" PRIu64 " bytes more",
                                           format_size(a->used + a->reserved, u), format_size(p.quota, q), j->size);
                                host_job_free(j);
                                return;
                        }
                }
                up = calloc(1, sizeof(*up));
                if (!up) {
                        host_error(s, j->reqid, PEER_STATUS_INTERNAL, "out of memory");
                        host_job_free(j);
                        return;
                }
                up->pack = j->pack;
                up->size = j->size;
                up->replace = replace;
                up->next = a->uploads;
                a->uploads = up;
                a->n_uploads++;
                if (!replace)
                        a->reserved += j->size;
                else
                        a->n_replacing++;
        }
        j->up = up;
        up->touched_ns = now_ns();
        if (up->queue_tail)
                up->queue_tail->next = j;
        else
                up->queue = j;
        up->queue_tail = j;
        put_start(up);
}

void host_put(struct peer_host_session *s, struct msg *req, struct peer_payload *payload)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req), offset = 0, size = 0;
        bool commit = false;
        struct host_job *j;
        struct oid pack;
        size_t len = payload ? payload->len : 0;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0)
                return;
        msg_map_get_uint(&body, PEER_KEY_OFFSET, &offset);
        msg_map_get_uint(&body, PEER_KEY_SIZE, &size);
        msg_map_get_bool(&body, PEER_KEY_COMMIT, &commit);
        if (size == 0 || size > PACK_MAX_SIZE) {
                host_error(s, reqid, PEER_STATUS_TOO_LARGE, "a pack is 1 to %llu bytes, not %" PRIu64,
                           (unsigned long long)PACK_MAX_SIZE, size);
                return;
        }
        if (offset > size || len > size - offset) {
                host_error(s, reqid, PEER_STATUS_RANGE, "%zu bytes at offset %" PRIu64 " go past SIZE %" PRIu64,
                           len, offset, size);
                return;
        }
        if (host_session_busy(s, reqid))
                return;
        if (len && (s->put_held + len > s->host->daemon->config.peer_window + PEER_DATA_MAX ||
                    s->host->put_bytes + len > PEER_HOST_PUT_BYTES)) {
                host_error(s, reqid, PEER_STATUS_BUSY, "too many PUT bytes in flight; keep to the window");
                return;
        }
        j = host_job_new(s, JOB_PUT, reqid);
        if (!j) {
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->pack = pack;
        j->offset = offset;
        j->size = size;
        j->commit = commit;
        j->len = len;
        if (len) {
                /* the bytes stay in the connection's buffer chain: no copy */
                _cleanup_free_ struct evbuffer_iovec *ev = NULL;
                int n;
                j->payload = payload->buf;
                payload->buf = NULL;
                if (j->payload) {
                        s->put_held += len;
                        s->host->put_bytes += len;
                }
                n = j->payload ? evbuffer_peek(j->payload, (ev_ssize_t)len, NULL, NULL, 0) : -1;
                ev = n > 0 ? calloc((size_t)n, sizeof(*ev)) : NULL;
                j->iov = n > 0 ? calloc((size_t)n, sizeof(*j->iov)) : NULL;
                if (!ev || !j->iov || evbuffer_get_length(j->payload) < len) {
                        host_error(s, reqid, PEER_STATUS_INTERNAL, "cannot take the pack bytes");
                        host_job_free(j);
                        return;
                }
                j->iovcnt = evbuffer_peek(j->payload, (ev_ssize_t)len, NULL, ev, n);
                /* the last chain may hold more than the payload */
                size_t left = len;
                for (int i = 0; i < j->iovcnt; i++) {
                        j->iov[i].iov_base = ev[i].iov_base;
                        j->iov[i].iov_len = MIN(ev[i].iov_len, left);
                        left -= j->iov[i].iov_len;
                }
        }
        put_dispatch(j);
}

