/* SPDX-License-Identifier: MIT */
/* The host side of the peer protocol (see peer-host.h): the host object and
 * its per-peer accounts, sessions on peer connections, request dispatch
 * (HELLO first, version negotiation) and the requests the index answers by
 * itself: LIST, DELETE (a mark), UNDELETE, USAGE, PING. Requests that touch
 * pack bytes are peer-host-io.c's; the purge is peer-host-purge.c's. */
#include "peer-host-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cleanup.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "parse.h"
#include "peer-conn.h"
#include "peer.h"
#include "store-local.h"
#include "store-runner.h"
#include "store.h"

/* ---- references ---------------------------------------------------------- */

static void host_destroy(struct peer_host *h)
{
        struct host_account *a, *next;

        for (a = h->accounts; a; a = next) {
                next = a->next;
                host_uploads_free(a);
                host_proves_free(a);
                store_free(a->store);
                store_free(a->replace);
                free(a->pretty);
                free(a);
        }
        free(h->purge_marks);
        free(h->dir);
        free(h);
}

void host_ref(struct peer_host *h)
{
        h->refs++;
}

void host_unref(struct peer_host *h)
{
        if (--h->refs == 0)
                host_destroy(h);
}

void host_session_ref(struct peer_host_session *s)
{
        s->refs++;
}

void host_session_unref(struct peer_host_session *s)
{
        if (--s->refs > 0)
                return;
        free(s->address);
        free(s->name);
        host_unref(s->host);
        free(s);
}

/* ---- accounts -------------------------------------------------------------- */

bool host_account_purging(const struct host_account *a, const struct oid *pack)
{
        const struct host_purge_mark *m = a->host->purge_marks;
        size_t lo = 0, hi = a->host->n_purge_marks;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = oid_cmp(&m[mid].peer, &a->id);
                if (c == 0)
                        c = oid_cmp(&m[mid].pack, pack);
                if (c == 0)
                        return true;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

int host_account_get(struct peer_host *h, const struct oid *id, struct host_account **ret)
{
        struct index_hosted_usage usage;
        _cleanup_free_ char *dir = NULL, *replace = NULL;
        struct host_account *a;
        int r;

        for (a = h->accounts; a; a = a->next)
                if (oid_cmp(&a->id, id) == 0) {
                        *ret = a;
                        return 0;
                }
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->host = h;
        a->id = *id;
        oid_to_hex(id, a->hex);
        r = identity_format_id(id->bytes, &a->pretty);
        if (r >= 0)
                r = index_hosted_usage(h->daemon->index, id, &usage);
        if (r >= 0 && (asprintf(&dir, "%s/%s", h->dir, a->hex) < 0 ||
                       asprintf(&replace, "%s/%s/replace", h->dir, a->hex) < 0))
                r = -ENOMEM;
        /* a few mkdir/open calls, once per peer and daemon run */
        if (r >= 0)
                r = store_local_new(dir, &a->store);
        if (r >= 0)
                r = store_local_new(replace, &a->replace);
        if (r < 0) {
                store_free(a->store);
                free(a->pretty);
                free(a);
                return r;
        }
        a->used = usage.bytes;
        a->next = h->accounts;
        h->accounts = a;
        *ret = a;
        return 0;
}

/* ---- replies --------------------------------------------------------------- */

struct msg *host_result(uint64_t reqid)
{
        return peer_msg_new(PEER_TYPE_RESULT, reqid);
}

void host_get_release(struct peer_host_session *s, size_t len)
{
        s->account->get_bytes -= len;
        s->host->get_bytes -= len;
}

/* data_free of a GET reply: the bytes leave the host's budget. */
static void host_data_free(const void *data, size_t len, void *arg)
{
        struct peer_host_session *s = arg;

        free((void *)data);
        host_get_release(s, len);
        host_session_unref(s);
}

void host_reply(struct peer_host_session *s, struct msg *reply, void *data, size_t len)
{
        int r;

        if (!reply) {
                free(data);
                if (data) {
                        host_get_release(s, len);
                }
                if (s->conn)
                        log_warning("Cannot build a reply for peer %s: out of memory", s->account->pretty);
                return;
        }
        if (!s->conn) {
                msg_free(reply);
                if (data) {
                        free(data);
                        host_get_release(s, len);
                }
                return;
        }
        if (data) {
                host_session_ref(s); /* until the bytes are sent */
                s->sent_bytes += len;
                r = peer_conn_reply(s->conn, reply, data, len, host_data_free, s);
        } else
                r = peer_conn_reply(s->conn, reply, NULL, 0, NULL, NULL);
        msg_free(reply); /* encoded by now */
        if (r < 0) {
                log_debug_errno(r, "Cannot answer peer %s", s->account->pretty);
                if (data) {
                        /* not taken: data_free will not run */
                        free(data);
                        host_get_release(s, len);
                        host_session_unref(s);
                }
        }
}

void host_error(struct peer_host_session *s, uint64_t reqid, uint32_t status, const char *fmt, ...)
{
        char text[256];
        va_list ap;
        int r;

        if (!s->conn)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        r = peer_conn_reply_error(s->conn, reqid, status, text);
        if (r < 0)
                log_debug_errno(r, "Cannot answer peer %s", s->account->pretty);
}

void host_error_errno(struct peer_host_session *s, uint64_t reqid, int err, const char *what)
{
        /* a permission error of this host's own disk is a storage error: DENIED
         * tells the owner it is no longer a peer here (host_peer_row) */
        uint32_t status = err == -EACCES || err == -EPERM ? PEER_STATUS_IO : peer_status_from_errno(err);

        if (status == PEER_STATUS_IO || status == PEER_STATUS_INTERNAL)
                log_warning_errno(err, "Peer %s: %s failed", s->account->pretty, what);
        host_error(s, reqid, status, "%s: %s", what, strerror(err < 0 ? -err : err));
}

int host_get_pack(struct peer_host_session *s, uint64_t reqid, const struct msg_map *map, uint32_t key,
                  struct oid *ret)
{
        const uint8_t *p;
        size_t len;

        if (msg_map_get_bytes(map, key, &p, &len) < 0 || len != OID_SIZE) {
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "a pack id is %d bytes", OID_SIZE);
                return -EINVAL;
        }
        memcpy(ret->bytes, p, OID_SIZE);
        return 0;
}

/* The peers row of s's peer: DENIED sent and < 0 when it is no longer approved. */
static int host_peer_row(struct peer_host_session *s, uint64_t reqid, struct index_peer *ret)
{
        int r = index_peer_get(s->host->daemon->index, &s->account->id, ret);

        if (r >= 0 && !ret->approved) {
                index_peer_done(ret);
                r = -EACCES;
        }
        if (r < 0)
                host_error(s, reqid, r == -ENOENT || r == -EACCES ? PEER_STATUS_DENIED : PEER_STATUS_INTERNAL,
                           "this node is not a peer of %s", s->host->daemon->config.node_name ?: "this host");
        return r;
}

/* ---- requests answered from the index --------------------------------------- */

static void host_hello(struct peer_host_session *s, struct msg *req)
{
        struct daemon *d = s->host->daemon;
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req), min = 0, max = 0, max_frame = 0, version;
        _cleanup_free_ char *name = NULL;
        struct index_peer p;
        char host[256] = "";

        if (s->hello) {
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "HELLO was already answered");
                return;
        }
        msg_map_get_uint(&body, PEER_KEY_PROTOCOL_MIN, &min);
        msg_map_get_uint(&body, PEER_KEY_PROTOCOL_MAX, &max);
        msg_map_get_uint(&body, PEER_KEY_MAX_FRAME, &max_frame);
        version = MIN(max, (uint64_t)PEER_PROTOCOL_VERSION);
        if (min > max || version < MAX(min, (uint64_t)PEER_PROTOCOL_VERSION_MIN)) {
                struct msg *m = peer_msg_error(reqid, PEER_STATUS_UNSUPPORTED_VERSION, NULL);
                char text[128];
                snprintf(text, sizeof(text), "this host speaks versions %u to %u, not %" PRIu64 " to %" PRIu64,
                         PEER_PROTOCOL_VERSION_MIN, PEER_PROTOCOL_VERSION, min, max);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_text(&b, PEER_KEY_MESSAGE, text);
                        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, PEER_PROTOCOL_VERSION);
                }
                log_notice("Peer %s speaks peer protocol versions %" PRIu64 " to %" PRIu64 " only, refused",
                           s->account->pretty, min, max);
                host_reply(s, m, NULL, 0);
                return;
        }
        if (max_frame < 4096) {
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "a max_frame of %" PRIu64 " bytes is too small",
                           max_frame);
                return;
        }
        if (msg_map_get_text_dup(&body, PEER_KEY_NAME, &name) >= 0) {
                /* informative, shown in logs: printable and short */
                for (char *c = name; *c; c++)
                        if ((unsigned char)*c < 0x20 || *c == 0x7f)
                                *c = '?';
                if (strlen(name) > SETTINGS_NAME_MAX)
                        name[SETTINGS_NAME_MAX] = '\0';
                free(s->name);
                s->name = TAKE_PTR(name);
        }
        if (host_peer_row(s, reqid, &p) < 0)
                return;
        s->max_frame = MIN(max_frame, (uint64_t)PEER_MAX_BODY);
        s->hello = true;
        struct msg *m = host_result(reqid);
        if (m) {
                struct msg_map b = msg_body(m);
                if (!d->config.node_name)
                        gethostname(host, sizeof(host) - 1);
                msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, version);
                msg_map_set_uint(&b, PEER_KEY_QUOTA, p.quota);
                msg_map_set_uint(&b, PEER_KEY_USED, s->account->used);
                msg_map_set_uint(&b, PEER_KEY_DELETE_DELAY, (uint64_t)p.delete_delay_ns / NSEC_PER_SEC);
                msg_map_set_text(&b, PEER_KEY_NAME, d->config.node_name ? d->config.node_name : host);
                msg_map_set_text(&b, PEER_KEY_VERSION, PACKAGE_VERSION);
                msg_map_append_text(&b, PEER_KEY_FEATURES, "undelete");
                msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
        }
        log_info("Peer %s (%s, %s) said hello, protocol version %" PRIu64, p.name, s->account->pretty,
                 s->name && *s->name ? s->name : "no name", version);
        index_peer_done(&p);
        host_reply(s, m, NULL, 0);
}

struct list_page {
        struct msg_map body;
        size_t limit, n;
        bool more;
        int error;
};

static int list_entry(const struct index_hosted *hosted, void *userdata)
{
        struct list_page *pg = userdata;
        struct msg_map item;
        int r;

        if (pg->n == pg->limit) {
                pg->more = true; /* the one row past the page */
                return 1;
        }
        r = msg_map_append_map(&pg->body, PEER_KEY_ENTRIES, &item);
        if (r >= 0)
                r = msg_map_set_bytes(&item, PEER_KEY_PACK, hosted->pack.bytes, OID_SIZE);
        if (r >= 0)
                r = msg_map_set_uint(&item, PEER_KEY_SIZE, hosted->size);
        if (r >= 0 && hosted->deleted_ns)
                r = msg_map_set_int(&item, PEER_KEY_DELETED_AT, hosted->deleted_ns);
        pg->n++;
        return r < 0 ? r : 0;
}

static void host_list(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req), limit = PEER_LIST_MAX;
        struct oid after;
        bool have_after = msg_map_get_item(&body, PEER_KEY_AFTER) != NULL;
        int r;

        if (have_after && host_get_pack(s, reqid, &body, PEER_KEY_AFTER, &after) < 0)
                return;
        msg_map_get_uint(&body, PEER_KEY_LIMIT, &limit);
        if (limit == 0 || limit > PEER_LIST_MAX)
                limit = PEER_LIST_MAX;
        struct msg *m = host_result(reqid);
        if (!m) {
                host_error(s, reqid, PEER_STATUS_INTERNAL, "out of memory");
                return;
        }
        struct list_page pg = { .body = msg_body(m), .limit = limit };
        r = index_hosted_page(s->host->daemon->index, &s->account->id, have_after ? &after : NULL, limit + 1,
                              list_entry, &pg);
        if (r < 0) {
                msg_free(m);
                host_error_errno(s, reqid, r, "listing packs");
                return;
        }
        msg_map_set_bool(&pg.body, PEER_KEY_MORE, pg.more);
        host_reply(s, m, NULL, 0);
}

static void host_delete(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        int64_t deleted_ns;
        struct index_peer p;
        struct oid pack;
        int r;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0 || host_peer_row(s, reqid, &p) < 0)
                return;
        if (host_account_purging(s->account, &pack))
                r = -ENOENT;
        else
                r = index_hosted_mark(s->host->daemon->index, &s->account->id, &pack, now_ns(), &deleted_ns);
        if (r == -ENOENT) {
                index_peer_done(&p);
                host_error(s, reqid, PEER_STATUS_NOT_FOUND, "no such pack");
                return;
        }
        if (r < 0) {
                index_peer_done(&p);
                host_error_errno(s, reqid, r, "marking the pack deleted");
                return;
        }
        struct msg *m = host_result(reqid);
        if (m) {
                struct msg_map b = msg_body(m);
                msg_map_set_int(&b, PEER_KEY_DELETED_AT, deleted_ns);
                msg_map_set_int(&b, PEER_KEY_PURGE_AT, deleted_ns + p.delete_delay_ns);
        }
        index_peer_done(&p);
        host_reply(s, m, NULL, 0);
}

static void host_undelete(struct peer_host_session *s, struct msg *req)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        struct oid pack;
        int r;

        if (host_get_pack(s, reqid, &body, PEER_KEY_PACK, &pack) < 0)
                return;
        /* a pack whose bytes are going is too late to save; one being
         * uploaded again is saved by that upload */
        if (host_account_purging(s->account, &pack)) {
                r = -ENOENT;
        } else if (host_upload_find(s->account, &pack)) {
                host_error(s, reqid, PEER_STATUS_BUSY, "an upload of this pack is in progress; try again later");
                return;
        } else {
                /* never a row that says "held" over bytes that are not in place */
                r = host_swap_finish(s->account, &pack);
                if (r == -ENODATA)
                        r = -ENOENT;
                if (r >= 0)
                        r = index_hosted_unmark(s->host->daemon->index, &s->account->id, &pack);
        }
        if (r == -ENOENT) {
                host_error(s, reqid, PEER_STATUS_NOT_FOUND, "no such pack (or already purged)");
                return;
        }
        if (r < 0) {
                host_error_errno(s, reqid, r, "undeleting the pack");
                return;
        }
        host_reply(s, host_result(reqid), NULL, 0);
}

static void host_usage(struct peer_host_session *s, struct msg *req)
{
        uint64_t reqid = msg_reqid(req);
        struct index_hosted_usage usage;
        struct index_peer p;
        int r;

        if (host_peer_row(s, reqid, &p) < 0)
                return;
        r = index_hosted_usage(s->host->daemon->index, &s->account->id, &usage);
        if (r < 0) {
                index_peer_done(&p);
                host_error_errno(s, reqid, r, "reading usage");
                return;
        }
        s->account->used = usage.bytes; /* the index is the truth */
        struct msg *m = host_result(reqid);
        if (m) {
                struct msg_map b = msg_body(m);
                msg_map_set_uint(&b, PEER_KEY_QUOTA, p.quota);
                msg_map_set_uint(&b, PEER_KEY_USED, usage.bytes);
                msg_map_set_uint(&b, PEER_KEY_MARKED, usage.marked_bytes);
                msg_map_set_uint(&b, PEER_KEY_COUNT, usage.packs);
                msg_map_set_uint(&b, PEER_KEY_DELETE_DELAY, (uint64_t)p.delete_delay_ns / NSEC_PER_SEC);
        }
        index_peer_done(&p);
        host_reply(s, m, NULL, 0);
}

static void host_ping(struct peer_host_session *s, struct msg *req)
{
        struct msg *m = host_result(msg_reqid(req));

        if (m) {
                struct msg_map b = msg_body(m);
                msg_map_set_int(&b, PEER_KEY_TIME, now_ns());
        }
        host_reply(s, m, NULL, 0);
}

/* ---- sessions ------------------------------------------------------------------ */

static void host_dispatch(struct peer_host_session *s, struct msg *req, struct peer_payload *payload);

static void on_request(struct peer_conn *c, struct msg *req, struct peer_payload *payload, void *userdata)
{
        struct peer_host_session *s = userdata;
        uint32_t type = msg_type(req);
        uint64_t reqid = msg_reqid(req);

        (void)c;
        s->requests++;
        if (!s->hello && type != PEER_TYPE_HELLO)
                host_error(s, reqid, PEER_STATUS_NO_HELLO, "HELLO must come first");
        else if (type != PEER_TYPE_PUT && payload && payload->len)
                host_error(s, reqid, PEER_STATUS_BAD_REQUEST, "only PUT carries pack bytes");
        else
                host_dispatch(s, req, payload);
        msg_free(req);
}

static void host_dispatch(struct peer_host_session *s, struct msg *req, struct peer_payload *payload)
{
        uint32_t type = msg_type(req);
        uint64_t reqid = msg_reqid(req);

        switch (type) {
        case PEER_TYPE_HELLO:
                host_hello(s, req);
                break;
        case PEER_TYPE_HAVE:
                host_have(s, req);
                break;
        case PEER_TYPE_PUT:
                host_put(s, req, payload);
                break;
        case PEER_TYPE_GET:
                host_get(s, req);
                break;
        case PEER_TYPE_STAT:
                host_stat(s, req);
                break;
        case PEER_TYPE_LIST:
                host_list(s, req);
                break;
        case PEER_TYPE_DELETE:
                host_delete(s, req);
                break;
        case PEER_TYPE_UNDELETE:
                host_undelete(s, req);
                break;
        case PEER_TYPE_PROVE:
                host_prove(s, req);
                break;
        case PEER_TYPE_USAGE:
                host_usage(s, req);
                break;
        case PEER_TYPE_PING:
                host_ping(s, req);
                break;
        default:
                host_error(s, reqid, PEER_STATUS_UNSUPPORTED, "request %s is not supported by this host",
                           peer_type_name(type) ?: "?");
                break;
        }
}

static void on_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct peer_host_session *s = userdata;
        char in[FORMAT_SIZE_MAX], out[FORMAT_SIZE_MAX];

        (void)c;
        /* a peer going away is normal; a violation or a timeout is worth a notice */
        log_event(err == 0 || err == -ECONNRESET ? LOG_INFO : LOG_NOTICE, MSGID_PEER_DISCONNECTED, LOG_FIELDS(LOG_PEER(s->account->pretty)),
                  "Peer %s from %s disconnected (%s) after %" PRIu64 " requests, %s received, %s sent",
                  s->account->pretty, s->address, why ? why : err ? strerror(err < 0 ? -err : err) : "closed",
                  s->requests, format_size(s->put_bytes, in), format_size(s->sent_bytes, out));
        if (s->closed)
                s->closed(s, err, why, s->userdata);
}

static const struct peer_conn_handlers host_handlers = {
        .request = on_request,
        .closed = on_closed,
};

int peer_host_session_new(struct peer_host *h, struct bufferevent *bev, const uint8_t id[32], const char *address,
                          peer_host_closed_fn closed, void *userdata, struct peer_host_session **ret)
{
        struct peer_host_session *s;
        struct oid oid;
        int r;

        memcpy(oid.bytes, id, OID_SIZE);
        s = calloc(1, sizeof(*s));
        if (!s) {
                bufferevent_free(bev);
                return -ENOMEM;
        }
        s->host = h;
        host_ref(h);
        s->refs = 1;
        s->closed = closed;
        s->userdata = userdata;
        s->address = strdup(address ? address : "?");
        r = s->address ? host_account_get(h, &oid, &s->account) : -ENOMEM;
        if (r < 0) {
                bufferevent_free(bev);
                host_session_unref(s);
                return log_error_errno(r, "Cannot set up hosting for peer from %s", address ? address : "?");
        }
        r = peer_conn_new(h->daemon->base, bev, &host_handlers, s, &s->conn);
        if (r < 0) {
                host_session_unref(s);
                return log_error_errno(r, "Cannot set up a connection for peer %s", s->account->pretty);
        }
        peer_conn_set_window(s->conn, h->daemon->config.peer_window);
        *ret = s;
        return 0;
}

void peer_host_session_free(struct peer_host_session *s)
{
        if (!s)
                return;
        peer_conn_free(s->conn);
        s->conn = NULL;
        host_session_unref(s);
}

const uint8_t *peer_host_session_id(const struct peer_host_session *s)
{
        return s->account->id.bytes;
}

/* ---- the host ------------------------------------------------------------------- */

int peer_host_new(struct daemon *d, struct peer_host **ret)
{
        struct peer_host *h;
        int r;

        h = calloc(1, sizeof(*h));
        if (!h)
                return log_oom();
        h->daemon = d;
        h->refs = 1;
        if (asprintf(&h->dir, "%s/hosted", d->config.state_dir) < 0) {
                free(h);
                return log_oom();
        }
        if (mkdir(h->dir, 0700) < 0 && errno != EEXIST) {
                r = log_error_errno(-errno, "Cannot create %s", h->dir);
                goto fail;
        }
        r = store_runner_new(d->workers, "host", PEER_HOST_THREADS, &h->runner);
        if (r < 0) {
                log_error_errno(r, "Cannot start the hosting threads");
                goto fail;
        }
        r = host_purge_start(h);
        if (r < 0)
                goto fail;
        *ret = h;
        return 0;
fail:
        peer_host_free(h);
        return r;
}

void peer_host_free(struct peer_host *h)
{
        if (!h)
                return;
        h->stopping = true;
        if (h->purge_timer)
                event_free(h->purge_timer);
        h->purge_timer = NULL;
        /* running jobs finish; their completions still find the host (refs) */
        store_runner_free(h->runner);
        h->runner = NULL;
        host_unref(h);
}
