/* SPDX-License-Identifier: MIT */
/* The host's requests that read pack bytes or the store, each a job on the
 * host's store threads with its answer sent from the loop: GET (reply bytes
 * bounded in memory), STAT, HAVE and PROVE; the job helpers PUT shares
 * (peer-host-put.c); packs found on disk but not in the index are recorded. */
#include "peer-host-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "log.h"
#include "pack.h"
#include "parse.h"
#include "peer-conn.h"
#include "peer.h"
#include "store-runner.h"
#include "store.h"

/* Room a GET reply's envelope needs beside its DATA. */
#define HOST_REPLY_OVERHEAD 1024

struct host_job *host_job_new(struct peer_host_session *s, enum host_job_kind kind, uint64_t reqid)
{
        struct host_job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->s = s;
        host_session_ref(s);
        j->a = s->account;
        j->kind = kind;
        j->reqid = reqid;
        j->r = -ECANCELED;
        return j;
}

void host_job_free(struct host_job *j)
{
        if (!j)
                return;
        if (j->payload) {
                evbuffer_free(j->payload);
                j->s->put_held -= j->len;
                j->s->host->put_bytes -= j->len;
        }
        free(j->iov);
        free(j->data);
        free(j->entries);
        host_session_unref(j->s);
        free(j);
}

/* Hand j to a store thread: 0, or -errno (j untouched: the caller answers and frees it). */
int host_job_submit(struct host_job *j, void (*work)(void *), void (*done)(void *))
{
        struct peer_host *h = j->s->host;
        int r;

        r = h->stopping ? -ESHUTDOWN : store_runner_submit(h->runner, work, done, j);
        if (r < 0)
                return r;
        j->s->jobs++;
        host_ref(h);
        return 0;
}

/* Submit j, or answer BUSY (the host is stopping) and free it: true when submitted. */
bool host_job_submit_or_fail(struct host_job *j, void (*work)(void *), void (*done)(void *))
{
        if (host_job_submit(j, work, done) >= 0)
                return true;
        host_error(j->s, j->reqid, PEER_STATUS_BUSY, "the host is stopping");
        host_job_free(j);
        return false;
}

/* Called first by every done: the job is off the store thread. */
struct peer_host *host_job_finished(struct host_job *j)
{
        j->s->jobs--;
        return j->s->host;
}

/* Too many requests of this session on store threads: BUSY sent, true. */
bool host_session_busy(struct peer_host_session *s, uint64_t reqid)
{
        if (s->jobs < PEER_HOST_SESSION_JOBS)
                return false;
        host_error(s, reqid, PEER_STATUS_BUSY, "%u requests in progress; wait for their answers", s->jobs);
        return true;
}

/* ---- GET ---------------------------------------------------------------------- */

static void get_work(void *userdata)
{
        struct host_job *j = userdata;
        uint64_t size;
        int r;

        r = store_stat(j->a->store, &j->pack, &size);
        if (r >= 0 && (j->offset > size || j->len > size - j->offset))
                r = -ERANGE;
        if (r >= 0) {
                j->data = malloc(j->len ? j->len : 1);
                r = j->data ? store_get(j->a->store, &j->pack, j->offset, j->len, j->data) : -ENOMEM;
        }
        j->r = r;
}

static void get_done(void *userdata)
{
        struct host_job *j = userdata;
        struct peer_host *h = host_job_finished(j);
        struct peer_host_session *s = j->s;

        if (j->r >= 0) {
                struct msg *m = host_result(j->reqid);
                host_reply(s, m, TAKE_PTR(j->data), j->len); /* the budget goes back once sent */
        } else {
                host_get_release(s, j->len);
                if (j->r == -ENOENT)
                        host_error(s, j->reqid, PEER_STATUS_NOT_FOUND, "no such pack");
                else if (j->r == -ERANGE)
                        host_error(s, j->reqid, PEER_STATUS_RANGE, "the range goes past the end of the pack");
                else if (j->r != -ECANCELED)
                        host_error_errno(s, j->reqid, j->r, "reading the pack");
        }
        host_job_free(j);
        host_unref(h);
}

void host_get(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req), offset = 0, length = 0;
        struct peer_host *h = s->host;
        struct host_job *j;
        struct oid pack;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0)
                return;
        msg_map_get_uint(&body, PEER_KEY_OFFSET, &offset);
        msg_map_get_uint(&body, PEER_KEY_LENGTH, &length);
        if (length == 0 || length > PEER_DATA_MAX || length + HOST_REPLY_OVERHEAD > s->max_frame) {
                host_error(s, reqid, PEER_STATUS_TOO_LARGE, "a GET reads 1 to %" PRIu64 " bytes",
                           MIN((uint64_t)PEER_DATA_MAX, s->max_frame - HOST_REPLY_OVERHEAD));
                return;
        }
        if (host_account_purging(s->account, &pack)) {
                host_error(s, reqid, PEER_STATUS_NOT_FOUND, "no such pack");
                return;
        }
        if (host_session_busy(s, reqid))
                return;
        if (s->account->get_bytes + length > PEER_HOST_PEER_GET_BYTES || h->get_bytes + length > PEER_HOST_GET_BYTES) {
                host_error(s, reqid, PEER_STATUS_BUSY, "too many GET bytes in flight; wait for their answers");
                return;
        }
        j = host_job_new(s, JOB_GET, reqid);
        if (!j) {
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->pack = pack;
        j->offset = offset;
        j->len = (size_t)length;
        if (!host_job_submit_or_fail(j, get_work, get_done))
                return;
        s->account->get_bytes += length;
        h->get_bytes += length;
}

/* ---- STAT --------------------------------------------------------------------- */

static void stat_work(void *userdata)
{
        struct host_job *j = userdata;
        int r;

        r = store_stat(j->a->store, &j->pack, &j->size);
        j->visible = r >= 0;
        if (r == -ENOENT)
                r = 0;
        if (r >= 0)
                r = store_partial_size(j->deleted_ns ? j->a->replace : j->a->store, &j->pack, &j->durable);
        j->r = r;
}

/* A pack found visible in a peer's store on a store thread: if the index
 * still has no row for it (its commit was cut before the row was written),
 * record it now. Looked up again here, on the loop: a commit that ended
 * meanwhile wrote the row (and counted the bytes), and a DELETE since then
 * marked it, which a second add would undo. */
void host_reconcile(struct host_account *a, const struct oid *pack, uint64_t size)
{
        struct peer_host *h = a->host;
        struct index_hosted row;
        char hex[OID_HEX_SIZE];
        int r;

        if (host_account_purging(a, pack) || host_upload_find(a, pack) ||
            index_hosted_get(h->daemon->index, &a->id, pack, &row) != -ENOENT)
                return;
        r = index_hosted_add(h->daemon->index, &a->id, pack, size);
        oid_to_hex(pack, hex);
        if (r < 0) {
                log_warning_errno(r, "Cannot record pack %s of peer %s in the index, ignoring", hex, a->pretty);
                return;
        }
        a->used += size;
        log_notice("Pack %s of peer %s was on disk but not in the index; recorded", hex, a->pretty);
}

static void stat_done(void *userdata)
{
        struct host_job *j = userdata;
        struct peer_host *h = host_job_finished(j);
        struct peer_host_session *s = j->s;

        if (j->r >= 0 && j->visible && !j->deleted_ns)
                host_reconcile(j->a, &j->pack, j->size);
        if (j->r == -ECANCELED)
                ;
        else if (j->r < 0)
                host_error_errno(s, j->reqid, j->r, "looking at the pack");
        else if (!j->visible && j->durable == 0)
                host_error(s, j->reqid, PEER_STATUS_NOT_FOUND, "no such pack");
        else {
                struct msg *m = host_result(j->reqid);
                if (m) {
                        struct msg_map b = msg_body(m);
                        struct index_peer p;
                        if (j->visible)
                                msg_map_set_uint(&b, PEER_KEY_SIZE, j->size);
                        msg_map_set_uint(&b, PEER_KEY_DURABLE, j->durable);
                        if (j->deleted_ns && j->visible) {
                                msg_map_set_int(&b, PEER_KEY_DELETED_AT, j->deleted_ns);
                                if (index_peer_get(h->daemon->index, &j->a->id, &p) >= 0) {
                                        msg_map_set_int(&b, PEER_KEY_PURGE_AT, j->deleted_ns + p.delete_delay_ns);
                                        index_peer_done(&p);
                                }
                        }
                }
                host_reply(s, m, NULL, 0);
        }
        host_job_free(j);
        host_unref(h);
}

void host_stat(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        struct index_hosted row;
        struct host_job *j;
        struct oid pack;
        int r;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0)
                return;
        if (host_account_purging(s->account, &pack)) {
                host_error(s, reqid, PEER_STATUS_NOT_FOUND, "no such pack");
                return;
        }
        if (host_session_busy(s, reqid))
                return;
        r = index_hosted_get(s->host->daemon->index, &s->account->id, &pack, &row);
        if (r < 0 && r != -ENOENT) {
                host_error_errno(s, reqid, r, "looking the pack up");
                return;
        }
        j = host_job_new(s, JOB_STAT, reqid);
        if (!j) {
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->pack = pack;
        j->deleted_ns = r >= 0 ? row.deleted_ns : 0;
        host_job_submit_or_fail(j, stat_work, stat_done);
}

/* ---- HAVE --------------------------------------------------------------------- */

static void have_work(void *userdata)
{
        struct host_job *j = userdata;
        int r = 0;

        for (size_t i = 0; i < j->n_entries && r >= 0; i++) {
                struct have_entry *e = &j->entries[i];
                uint64_t size;

                if (e->state == 0)
                        continue;
                if (e->state == 1) {
                        r = store_stat(j->a->store, &e->pack, &size);
                        if (r >= 0) {
                                e->size = size;
                                e->found = true;
                                continue;
                        }
                        if (r != -ENOENT)
                                break;
                }
                r = store_partial_size(e->state == 2 ? j->a->replace : j->a->store, &e->pack, &e->partial);
        }
        j->r = r < 0 ? r : 0;
}

static void have_reply(struct peer_host_session *s, struct host_job *j)
{
        struct msg *m = host_result(j->reqid);

        if (m) {
                struct msg_map b = msg_body(m);
                for (size_t i = 0; i < j->n_entries; i++) {
                        msg_map_append_uint(&b, PEER_KEY_SIZES, j->entries[i].size);
                        msg_map_append_uint(&b, PEER_KEY_PARTIALS, j->entries[i].partial);
                }
        }
        host_reply(s, m, NULL, 0);
}

static void have_done(void *userdata)
{
        struct host_job *j = userdata;
        struct peer_host *h = host_job_finished(j);

        if (j->r >= 0) {
                for (size_t i = 0; i < j->n_entries; i++)
                        if (j->entries[i].found)
                                host_reconcile(j->a, &j->entries[i].pack, j->entries[i].size);
                have_reply(j->s, j);
        } else if (j->r != -ECANCELED)
                host_error_errno(j->s, j->reqid, j->r, "looking at the packs");
        host_job_free(j);
        host_unref(h);
}

void host_have(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        bool need_store = false;
        struct host_job *j;
        size_t n = 0;

        if (msg_map_get_count(&body, PEER_KEY_PACKS, &n) < 0 || n == 0 || n > PEER_HAVE_MAX) {
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "HAVE takes 1 to %u pack ids", PEER_HAVE_MAX);
                return;
        }
        if (host_session_busy(s, reqid))
                return;
        j = host_job_new(s, JOB_HAVE, reqid);
        if (j)
                j->entries = calloc(n, sizeof(*j->entries));
        if (!j || !j->entries) {
                host_job_free(j);
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->n_entries = n;
        for (size_t i = 0; i < n; i++) {
                struct have_entry *e = &j->entries[i];
                struct index_hosted row;
                const uint8_t *p;
                size_t len;
                int r;

                if (msg_map_get_bytes_at(&body, PEER_KEY_PACKS, i, &p, &len) < 0 || len != OID_SIZE) {
                        host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "pack id %zu is not %d bytes", i, OID_SIZE);
                        host_job_free(j);
                        return;
                }
                memcpy(e->pack.bytes, p, OID_SIZE);
                if (host_account_purging(s->account, &e->pack))
                        continue; /* going: neither held nor partial */
                r = index_hosted_get(s->host->daemon->index, &s->account->id, &e->pack, &row);
                if (r < 0 && r != -ENOENT) {
                        host_error_errno(s, reqid, r, "looking the packs up");
                        host_job_free(j);
                        return;
                }
                /* a marked pack is not held as far as the owner is concerned */
                e->state = r == -ENOENT ? 1 : row.deleted_ns ? 2 : 0;
                if (e->state == 0)
                        e->size = row.size;
                need_store |= e->state != 0;
        }
        if (!need_store) {
                have_reply(s, j);
                host_job_free(j);
                return;
        }
        host_job_submit_or_fail(j, have_work, have_done);
}

/* ---- PROVE -------------------------------------------------------------------- */

static void prove_work(void *userdata)
{
        struct host_job *j = userdata;

        j->r = store_prove(j->a->store, &j->pack, j->nonce, j->nonce_len, j->digest);
}

static void prove_done(void *userdata);

/* Hand j to a store thread (queued: it counted as its session's job while
 * it waited; submitting counts it again). */
static void prove_start(struct host_job *j, bool queued)
{
        struct host_account *a = j->a;

        if (queued)
                j->s->jobs--;
        a->proves_running++;
        if (!host_job_submit_or_fail(j, prove_work, prove_done))
                a->proves_running--;
}

/* Start what a's queue holds, as far as its share allows. */
static void prove_next(struct host_account *a)
{
        while (a->proves_running < PEER_HOST_PEER_PROVES && a->prove_queue) {
                struct host_job *j = a->prove_queue;
                a->prove_queue = j->next;
                if (!a->prove_queue)
                        a->prove_tail = NULL;
                j->next = NULL;
                if (!j->s->conn) { /* its session is gone: nobody waits for it */
                        j->s->jobs--;
                        host_job_free(j);
                        continue;
                }
                prove_start(j, true);
        }
}

void host_proves_free(struct host_account *a)
{
        while (a->prove_queue) {
                struct host_job *j = a->prove_queue;
                a->prove_queue = j->next;
                j->s->jobs--;
                host_job_free(j);
        }
        a->prove_tail = NULL;
}

static void prove_done(void *userdata)
{
        struct host_job *j = userdata;
        struct peer_host *h = host_job_finished(j);
        struct host_account *a = j->a;

        if (j->r >= 0) {
                struct msg *m = host_result(j->reqid);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_bytes(&b, PEER_KEY_DIGEST, j->digest, sizeof(j->digest));
                }
                host_reply(j->s, m, NULL, 0);
        } else if (j->r == -ENOENT)
                host_error(j->s, j->reqid, PEER_STATUS_NOT_FOUND, "no such pack");
        else if (j->r != -ECANCELED)
                host_error_errno(j->s, j->reqid, j->r, "reading the pack");
        host_job_free(j);
        a->proves_running--;
        prove_next(a);
        host_unref(h);
}

void host_prove(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        struct host_job *j;
        const uint8_t *nonce;
        struct oid pack;
        size_t len;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0)
                return;
        if (msg_map_get_bytes(&body, PEER_KEY_NONCE, &nonce, &len) < 0 || len < PEER_NONCE_MIN ||
            len > PEER_NONCE_MAX) {
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "a nonce is %u to %u bytes", PEER_NONCE_MIN,
                           PEER_NONCE_MAX);
                return;
        }
        if (host_account_purging(s->account, &pack)) {
                host_error(s, reqid, PEER_STATUS_NOT_FOUND, "no such pack");
                return;
        }
        if (host_session_busy(s, reqid))
                return;
        j = host_job_new(s, JOB_PROVE, reqid);
        if (!j) {
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->pack = pack;
        memcpy(j->nonce, nonce, len);
        j->nonce_len = len;
        struct host_account *a = s->account;
        if (a->proves_running >= PEER_HOST_PEER_PROVES) {
                s->jobs++; /* waiting, within the session's share of jobs */
                if (a->prove_tail)
                        a->prove_tail->next = j;
                else
                        a->prove_queue = j;
                a->prove_tail = j;
                return;
        }
        prove_start(j, false);
}
