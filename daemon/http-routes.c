/* SPDX-License-Identifier: MIT */
/* The /v1 resources of the HTTP API: each maps to one control request,
 * built from the query or the JSON body by proto/ctl-json.c and run by
 * commands_dispatch like the control socket's; the replies go back as JSON
 * in ctl.def's names, and file content streams with Range and ETag. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl-json.h"
#include "daemon.h"
#include "http-blob.h"
#include "http-jobs.h"
#include "http-metrics.h"
#include "http-private.h"
#include "log.h"

enum {
        HTTP_ROUTE_JSON,      /* the RESULT as it is */
        HTTP_ROUTE_SNAPSHOTS, /* DATA snapshots, paged */
        HTTP_ROUTE_ENTRIES,   /* DATA entries (ls, diff) */
        HTTP_ROUTE_FILE,      /* DATA content streamed */
        HTTP_ROUTE_METRICS,   /* a status RESULT as Prometheus text */
};

int http_status_of(uint64_t ctl_status)
{
        switch (ctl_status) {
        case CTL_STATUS_BAD_REQUEST: return 400;
        case CTL_STATUS_NOT_FOUND: return 404;
        case CTL_STATUS_AMBIGUOUS:
        case CTL_STATUS_EXISTS: return 409;
        case CTL_STATUS_BUSY: return 503;
        case CTL_STATUS_DENIED: return 403;
        case CTL_STATUS_TOO_LARGE: return 413;
        case CTL_STATUS_UNSUPPORTED: return 501;
        default: return 500;
        }
}

static void call_free(struct http_call *c)
{
        if (c->job)
                http_jobs_unsubscribe(c);
        http_call_end(c);
        json_decref(c->items);
        free(c->after);
        free(c->range);
        free(c->if_none_match);
        free(c);
}

void http_call_free(struct http_call *c)
{
        call_free(c);
}

/* Cancel r and free its call: a cancelled request no longer calls release. */
static void call_cancel(struct request *r)
{
        struct http_call *c = r->frontend;

        request_cancel(r);
        if (c) {
                c->r = NULL;
                call_free(c);
        }
}

void http_call_closed(struct http_call *c)
{
        /* a request evhttp let go of (a client gone or timed out in the
         * middle of its reply) is ours to free; one still on the
         * connection goes with it */
        if (c->req && !evhttp_request_get_connection(c->req))
                evhttp_request_free(c->req);
        c->req = NULL;
        if (c->r)
                call_cancel(c->r); /* the handler stops */
        else
                call_free(c);
}

void http_call_end(struct http_call *c)
{
        if (c->req) {
                http_api_attach(c->api, evhttp_request_get_connection(c->req), NULL);
                c->req = NULL;
        }
}

static void call_release(struct request *r)
{
        if (r->frontend)
                call_free(r->frontend);
}

/* ---- replies ---- */

static void collect(struct http_call *c, struct msg *m, uint32_t key)
{
        struct msg_map b = msg_body(m);
        size_t n = 0;
        msg_map_get_count(&b, key, &n);
        for (size_t i = 0; i < n; i++) {
                struct msg_map item;
                if (msg_map_get_map_at(&b, key, i, &item) >= 0)
                        json_array_append_new(c->items, ctl_json_from_map(&item));
        }
}

/* Snapshots as they come, paged on the way: those up to the one after=
 * names are dropped, then a page of limit is kept and the rest only noted,
 * so that a page holds its own items, never the whole list. */
static void collect_page(struct http_call *c, struct msg *m)
{
        struct msg_map b = msg_body(m), item;
        size_t n = 0;

        msg_map_get_count(&b, CTL_KEY_SNAPSHOTS, &n);
        for (size_t i = 0; i < n; i++) {
                if (msg_map_get_map_at(&b, CTL_KEY_SNAPSHOTS, i, &item) < 0)
                        continue;
                if (c->limit && json_array_size(c->items) >= c->limit) {
                        c->more = true;
                        return;
                }
                json_t *j = ctl_json_from_map(&item);
                if (c->after && !c->after_seen) {
                        const char *id = json_string_value(json_object_get(j, "id"));
                        c->after_seen = id && !strncmp(id, c->after, strlen(c->after));
                        json_decref(j);
                        continue;
                }
                json_array_append_new(c->items, j);
        }
}

static json_t *page(struct http_call *c)
{
        size_t n = json_array_size(c->items);
        json_t *doc = json_pack("{s:O}", "snapshots", c->items);

        if (doc && c->more && n > 0)
                json_object_set(doc, "next", json_object_get(json_array_get(c->items, n - 1), "id"));
        return doc;
}

static void file_data(struct http_call *c, struct msg *m, bool final);
static void chunk_written(struct evhttp_connection *conn, void *arg);

/* A listing (tree, diff) as it comes: {"entries":[ then each DATA
 * message's entries, chunk by chunk, then the RESULT's and ]}. The
 * connection's output is what the command's flow control waits on, so a
 * client that reads slowly holds a bounded part of a listing, never all
 * of it (a listing short enough for one RESULT is one plain reply). */
static void entries_stream(struct http_call *c, struct msg *m, bool final)
{
        struct evbuffer *buf = evbuffer_new();
        struct msg_map b = msg_body(m);
        size_t n = 0;

        if (!buf) {
                struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
                http_call_end(c);
                evhttp_connection_free(conn); /* the headers may be out: cut it short */
                return;
        }
        if (!c->started) {
                evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", "application/json");
                evhttp_send_reply_start(c->req, 200, "OK");
                c->started = true;
                evbuffer_add(buf, "{\"entries\":[", 12);
        }
        msg_map_get_count(&b, CTL_KEY_ENTRIES, &n);
        for (size_t i = 0; i < n; i++) {
                struct msg_map item;
                char *text = NULL;
                size_t len = 0;
                if (msg_map_get_map_at(&b, CTL_KEY_ENTRIES, i, &item) < 0)
                        continue;
                json_t *j = ctl_json_from_map(&item);
                if (j && ctl_json_dump(j, &text, &len) >= 0 && len > 0) {
                        if (c->n_streamed++)
                                evbuffer_add(buf, ",", 1);
                        evbuffer_add(buf, text, len - 1); /* without its newline */
                }
                json_decref(j);
                free(text);
        }
        if (final)
                evbuffer_add(buf, "]}\n", 3);
        /* the stream waits (flow control) while the connection holds more
         * than its low water; chunk_written wakes it once the output is
         * out, or a slow reader would leave it waiting for good (the last
         * chunk's callback is replaced by the reply's end below) */
        evhttp_send_reply_chunk_with_cb(c->req, buf, chunk_written, c);
        evbuffer_free(buf);
        if (final) {
                struct evhttp_request *req = c->req;
                http_call_end(c);
                evhttp_send_reply_end(req);
        }
}

static void call_send(struct request *r, struct msg *m, bool final)
{
        struct http_call *c = r->frontend;

        if (!c->req) {
                msg_free(m);
                return;
        }
        if (msg_type(m) == CTL_TYPE_ERROR) {
                struct msg_map b = msg_body(m);
                uint64_t st = CTL_STATUS_INTERNAL;
                msg_map_get_uint(&b, CTL_KEY_STATUS, &st);
                if (c->started) {
                        /* the headers are out: all we can do is cut it short, and say why here */
                        const char *text = NULL;
                        size_t len = 0;
                        msg_map_get_text(&b, CTL_KEY_MESSAGE, &text, &len);
                        log_notice("HTTP: %s cut short after its first part: %.*s",
                                   evhttp_request_get_uri(c->req), text ? (int)len : 7, text ? text : "no word");
                        struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
                        http_call_end(c);
                        evhttp_connection_free(conn);
                } else {
                        struct evhttp_request *req = c->req;
                        http_call_end(c);
                        http_send_json(req, http_status_of(st), ctl_json_from_msg(m));
                }
                msg_free(m);
                return;
        }
        if (c->route == HTTP_ROUTE_FILE) {
                file_data(c, m, final);
                msg_free(m);
                return;
        }
        if (c->route == HTTP_ROUTE_ENTRIES && (msg_type(m) == CTL_TYPE_DATA || (final && c->started))) {
                entries_stream(c, m, final);
                msg_free(m);
                return;
        }
        if (msg_type(m) == CTL_TYPE_DATA) {
                collect_page(c, m);
                msg_free(m);
                return;
        }
        if (!final) {
                msg_free(m); /* PROGRESS */
                return;
        }
        if (c->route == HTTP_ROUTE_METRICS) {
                char *text = NULL;
                size_t len = 0;
                struct evhttp_request *req = c->req;
                int k = http_metrics_render(m, &text, &len);
                msg_free(m);
                http_call_end(c);
                if (k < 0) {
                        http_send_error(req, 500, "internal", "out of memory");
                        return;
                }
                evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                                  "text/plain; version=0.0.4; charset=utf-8");
                evbuffer_add(evhttp_request_get_output_buffer(req), text, len);
                free(text);
                http_send_reply(req, 200, "OK");
                return;
        }
        json_t *doc;
        if (c->route == HTTP_ROUTE_SNAPSHOTS) {
                collect_page(c, m); /* a short list comes in the RESULT */
                if (c->after && !c->after_seen) {
                        struct evhttp_request *req = c->req;
                        char text[160];
                        snprintf(text, sizeof(text), "no snapshot %.64s in the list (forgotten since the last page?)",
                                 c->after);
                        msg_free(m);
                        http_call_end(c);
                        http_send_error(req, 404, "not-found", "%s", text);
                        return;
                }
                doc = page(c);
        } else if (c->route == HTTP_ROUTE_ENTRIES) {
                collect(c, m, CTL_KEY_ENTRIES); /* short listings come in the RESULT */
                doc = json_pack("{s:O}", "entries", c->items);
        } else
                doc = ctl_json_from_result(m, c->r->type);
        msg_free(m);
        struct evhttp_request *req = c->req;
        http_call_end(c);
        http_send_json(req, 200, doc);
}

static size_t call_pending(struct request *r)
{
        struct http_call *c = r->frontend;
        if (!c || !c->req)
                return 0;
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(c->req));
        return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static const struct request_ops http_request_ops = {
        .send = call_send,
        .pending = call_pending,
        .release = call_release,
};

/* ---- file content: Range, ETag, streaming ---- */

static void deferred_cancel(evutil_socket_t fd, short what, void *arg)
{
        struct request *r = arg;
        (void)fd;
        (void)what;
        call_cancel(r);
        request_unref(r);
}

/* Stop the handler from the loop, not from inside its own send. */
static void file_stop(struct http_call *c)
{
        c->discard = true;
        if (event_base_once(c->api->daemon->base, -1, EV_TIMEOUT, deferred_cancel, request_ref(c->r), NULL) < 0)
                request_unref(c->r);
}

/* All output written: evhttp keeps one such callback per connection (the
 * last chunk's), replaced when the reply ends, so c is still alive here. */
static void chunk_written(struct evhttp_connection *conn, void *arg)
{
        struct http_call *c = arg;
        struct request *r = c->r;
        (void)conn;
        if (r && r->on_writable && !r->gone) {
                request_ref(r);
                r->on_writable(r);
                request_unref(r);
        }
}

/* Digits only (no sign, no blanks), no overflow; *ret_end past them. */
static bool range_number(const char *p, uint64_t *ret, const char **ret_end)
{
        uint64_t v = 0;
        const char *q = p;

        for (; *q >= '0' && *q <= '9'; q++) {
                if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*q - '0');
        }
        *ret = v;
        *ret_end = q;
        return q > p;
}

int http_range_syntax(const char *h, struct http_range *ret)
{
        const char *p;

        *ret = (struct http_range){.last = UINT64_MAX};
        if (strncmp(h, "bytes=", 6) != 0)
                return 0;
        h += 6;
        if (*h == '-') {
                ret->suffix = true;
                return range_number(h + 1, &ret->last, &p) && !*p;
        }
        if (!range_number(h, &ret->first, &p) || *p != '-')
                return 0;
        if (!p[1])
                return 1;
        return range_number(p + 1, &ret->last, &p) && !*p && ret->last >= ret->first;
}

int http_parse_range(const char *h, uint64_t size, uint64_t *ret_start, uint64_t *ret_end)
{
        struct http_range r;

        if (!http_range_syntax(h, &r))
                return 0;
        if (r.suffix) {
                if (r.last == 0 || size == 0)
                        return -ERANGE;
                *ret_start = r.last >= size ? 0 : size - r.last;
                *ret_end = size - 1;
                return 1;
        }
        if (r.first >= size)
                return -ERANGE;
        *ret_start = r.first;
        *ret_end = r.last >= size ? size - 1 : r.last;
        return 1;
}

bool http_etag_matches(const char *header, const char *etag)
{
        if (!header)
                return false;
        if (!strcmp(header, "*"))
                return true;
        return strstr(header, etag) != NULL; /* a list of quoted tags */
}

/* The first message says the size and content id: decide 200, 206, 304 or 416. */
static void file_head(struct http_call *c, struct msg *m)
{
        struct msg_map b = msg_body(m);
        uint64_t size = 0;
        const uint8_t *id = NULL;
        size_t id_len = 0;
        char etag[80] = "", len[32];
        struct evkeyvalq *out = evhttp_request_get_output_headers(c->req);

        c->head_done = true;
        msg_map_get_uint(&b, CTL_KEY_SIZE, &size);
        if (msg_map_get_bytes(&b, CTL_KEY_CONTENT, &id, &id_len) >= 0 && id_len <= 32) {
                etag[0] = '"';
                for (size_t i = 0; i < id_len; i++)
                        snprintf(etag + 1 + 2 * i, 3, "%02x", id[i]);
                strcat(etag, "\"");
                evhttp_add_header(out, "ETag", etag);
        }
        evhttp_add_header(out, "Accept-Ranges", "bytes");
        if (*etag && http_etag_matches(c->if_none_match, etag)) {
                struct evhttp_request *req = c->req;
                http_call_end(c);
                evhttp_send_reply(req, 304, "Not Modified", NULL);
                file_stop(c);
                return;
        }
        c->range_start = 0;
        c->range_end = size ? size - 1 : 0;
        int k = c->range ? http_parse_range(c->range, size, &c->range_start, &c->range_end) : 0;
        if (k == -ERANGE) {
                snprintf(len, sizeof(len), "bytes */%" PRIu64, size);
                evhttp_add_header(out, "Content-Range", len);
                struct evhttp_request *req = c->req;
                http_call_end(c);
                http_send_error(req, 416, "range-not-satisfiable", "the file has %" PRIu64 " bytes", size);
                file_stop(c);
                return;
        }
        c->ranged = k == 1;
        uint64_t body = size ? c->range_end - c->range_start + 1 : 0;
        snprintf(len, sizeof(len), "%" PRIu64, body);
        evhttp_add_header(out, "Content-Length", len);
        evhttp_add_header(out, "Content-Type", "application/octet-stream");
        if (c->ranged) {
                char cr[96];
                snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, c->range_start, c->range_end, size);
                evhttp_add_header(out, "Content-Range", cr);
        }
        if (evhttp_request_get_command(c->req) == EVHTTP_REQ_HEAD || body == 0) {
                struct evhttp_request *req = c->req;
                http_call_end(c);
                evhttp_send_reply(req, c->ranged ? 206 : 200, NULL, NULL);
                file_stop(c);
                return;
        }
        c->started = true;
        evhttp_send_reply_start(c->req, c->ranged ? 206 : 200, c->ranged ? "Partial Content" : "OK");
}

static void file_data(struct http_call *c, struct msg *m, bool final)
{
        if (c->discard)
                return;
        if (!c->head_done && (msg_type(m) == CTL_TYPE_DATA || final))
                file_head(c, m);
        if (c->discard || !c->req)
                return;
        struct msg_map b = msg_body(m);
        const uint8_t *p;
        size_t n;
        if (msg_type(m) == CTL_TYPE_DATA && msg_map_get_bytes(&b, CTL_KEY_DATA, &p, &n) >= 0 && n > 0) {
                msg_map_get_uint(&b, CTL_KEY_OFFSET, &c->pos); /* where this piece sits */
                uint64_t from = c->pos, to = c->pos + n; /* [from, to) */
                uint64_t a = from > c->range_start ? from : c->range_start;
                uint64_t e = to < c->range_end + 1 ? to : c->range_end + 1;
                c->pos = to;
                if (a < e) {
                        struct evbuffer *buf = evbuffer_new();
                        if (buf) {
                                evbuffer_add(buf, p + (a - from), (size_t)(e - a));
                                evhttp_send_reply_chunk_with_cb(c->req, buf, chunk_written, c);
                                evbuffer_free(buf);
                        }
                }
                if (c->pos > c->range_end) {
                        struct evhttp_request *req = c->req;
                        http_call_end(c);
                        evhttp_send_reply_end(req);
                        if (!final)
                                file_stop(c);
                        else
                                c->discard = true;
                        return;
                }
        }
        if (final && c->req) {
                struct evhttp_request *req = c->req;
                http_call_end(c);
                evhttp_send_reply_end(req);
        }
}

/* ---- routing ---- */

static void dispatch(struct http_api *api, struct evhttp_request *req, struct http_call *c, struct msg *m)
{
        struct request *r = request_new(api->daemon, m, principal_token(), &http_request_ops, c);
        if (!r) {
                msg_free(m);
                free(c);
                http_send_error(req, 500, "internal", "out of memory");
                return;
        }
        c->r = r;
        c->req = req;
        c->items = json_array();
        http_api_attach(api, evhttp_request_get_connection(req), c);
        commands_dispatch(r);
        request_unref(r);
}

int http_read_body(struct evhttp_request *req, json_t **ret)
{
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        json_error_t e;

        *ret = NULL;
        if (len == 0)
                return 0;
        const char *p = (const char *)evbuffer_pullup(in, (ssize_t)len);
        json_t *doc = p ? json_loadb(p, len, JSON_REJECT_DUPLICATES, &e) : NULL;
        if (!doc) {
                http_send_error(req, 400, "bad-request", "malformed JSON: %s (line %d, column %d)", e.text, e.line,
                                e.column);
                return -EINVAL;
        }
        *ret = doc;
        return 0;
}

/* Query parameters as a JSON object of strings, renamed by map (query
 * name, key name pairs, NULL-ended); others are refused. */
static json_t *query_args(struct evhttp_request *req, const char *const *map, char *err, size_t errlen,
                          const char *const *extra)
{
        struct evkeyvalq q;
        const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
        json_t *o = json_object();

        TAILQ_INIT(&q);
        /* a decoded %00 would cut a value short (evhttp hands out C
         * strings): "path=/srv/data%00x" must not act on /srv/data */
        if (query && strcasestr(query, "%00")) {
                snprintf(err, errlen, "a query value holds a NUL byte (%%00)");
                json_decref(o);
                return NULL;
        }
        if (query && evhttp_parse_query_str(query, &q) < 0) {
                snprintf(err, errlen, "malformed query string");
                json_decref(o);
                return NULL;
        }
        for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next) {
                const char *key = NULL;
                for (size_t i = 0; map && map[i]; i += 2)
                        if (!strcmp(kv->key, map[i]))
                                key = map[i + 1];
                for (size_t i = 0; !key && extra && extra[i]; i++)
                        if (!strcmp(kv->key, extra[i]))
                                key = extra[i];
                if (!key) {
                        snprintf(err, errlen, "unknown query parameter \"%s\"", kv->key);
                        json_decref(o);
                        o = NULL;
                        break;
                }
                /* raw bytes: a path need not be UTF-8 */
                json_object_set_new(o, key, json_stringn_nocheck(kv->value, strlen(kv->value)));
        }
        evhttp_clear_headers(&q);
        return o;
}

void http_routes_handle(struct http_api *api, struct evhttp_request *req)
{
        const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
        enum evhttp_cmd_type method = evhttp_request_get_command(req);
        bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
        char err[256] = "";
        uint32_t type = 0;
        json_t *args = NULL;
        struct http_call *c = calloc(1, sizeof(*c));

        if (!c) {
                http_send_error(req, 500, "internal", "out of memory");
                return;
        }
        c->api = api;
        c->route = HTTP_ROUTE_JSON;
        if (!path)
                path = "";
        if (http_blob_route(path)) {
                free(c);
                http_blob_handle(api, req, path);
                return;
        }
        if (http_jobs_handle(api, req, path)) {
                free(c);
                return;
        }

        static const char *const none[] = { NULL };
        static const char *const q_snapshots[] = { "path", "path", NULL };
        static const char *const q_tree[] = { "path", "path", NULL };
        static const char *const q_diff[] = { "from", "snapshot", "to", "other", "path", "path", NULL };
        static const char *const paging[] = { "after", "limit", NULL };

        char id[80];
        int n = 0;
        const char *sub = NULL;
        if (!strncmp(path, "/v1/snapshots/", 14)) {
                const char *s = path + 14, *slash = strchr(s, '/');
                if (slash && (size_t)(slash - s) < sizeof(id) && slash > s) {
                        memcpy(id, s, (size_t)(slash - s));
                        id[slash - s] = '\0';
                        sub = slash + 1;
                        n = 1;
                }
        }
        bool allowed = true;
        if (!strcmp(path, "/v1/status")) {
                allowed = get;
                type = CTL_TYPE_STATUS;
                args = query_args(req, none, err, sizeof(err), NULL);
        } else if (!strcmp(path, "/v1/paths")) {
                if (get) {
                        type = CTL_TYPE_PATHS;
                        args = query_args(req, none, err, sizeof(err), NULL);
                } else if (method == EVHTTP_REQ_POST || method == EVHTTP_REQ_DELETE) {
                        type = method == EVHTTP_REQ_POST ? CTL_TYPE_ADD : CTL_TYPE_REMOVE;
                        if (http_read_body(req, &args) < 0)
                                goto done;
                        if (!args)
                                args = query_args(req, q_tree, err, sizeof(err), NULL);
                } else
                        allowed = false;
        } else if (!strcmp(path, "/v1/snapshots")) {
                if (get) {
                        type = CTL_TYPE_SNAPSHOTS;
                        c->route = HTTP_ROUTE_SNAPSHOTS;
                        args = query_args(req, q_snapshots, err, sizeof(err), paging);
                        if (args) {
                                json_t *a = json_object_get(args, "after"), *l = json_object_get(args, "limit");
                                char *end = NULL;
                                if (a)
                                        c->after = strdup(json_string_value(a));
                                if (l) {
                                        const char *v = json_string_value(l);
                                        errno = 0;
                                        c->limit = strtoull(v, &end, 10);
                                        /* digits only: strtoull takes "-1" and " 5" too */
                                        if (*v < '0' || *v > '9' || *end || errno || c->limit == 0) {
                                                snprintf(err, sizeof(err), "limit must be a positive integer");
                                                json_decref(args);
                                                args = NULL;
                                        }
                                }
                                json_object_del(args, "after");
                                json_object_del(args, "limit");
                        }
                } else if (method == EVHTTP_REQ_POST) {
                        type = CTL_TYPE_SNAPSHOT;
                        if (http_read_body(req, &args) < 0)
                                goto done;
                } else
                        allowed = false;
        } else if (n == 1 && (!strcmp(sub, "tree") || !strcmp(sub, "file"))) {
                allowed = get;
                bool file = !strcmp(sub, "file");
                type = file ? CTL_TYPE_CAT : CTL_TYPE_LS;
                c->route = file ? HTTP_ROUTE_FILE : HTTP_ROUTE_ENTRIES;
                args = query_args(req, q_tree, err, sizeof(err), NULL);
                if (args)
                        json_object_set_new(args, "snapshot", json_string(id));
                if (args && file && !json_object_get(args, "path"))
                        snprintf(err, sizeof(err), "?path= names the file");
                struct evkeyvalq *h = evhttp_request_get_input_headers(req);
                const char *range = evhttp_find_header(h, "Range"), *inm = evhttp_find_header(h, "If-None-Match");
                c->range = range ? strdup(range) : NULL;
                c->if_none_match = inm ? strdup(inm) : NULL;
                /* "bytes=A-[B]": the handler starts at A without reading what
                 * comes before (file_head then answers 206 or 416 for the
                 * same parse); a suffix range needs the size first, and a
                 * header that http_parse_range ignores gets the whole file */
                struct http_range hr;
                if (file && args && range && http_range_syntax(range, &hr) && !hr.suffix && hr.first > 0)
                        json_object_set_new(args, "offset", json_integer((json_int_t)MIN(hr.first, (uint64_t)INT64_MAX)));
        } else if (!strcmp(path, "/v1/diff")) {
                allowed = get;
                type = CTL_TYPE_DIFF;
                c->route = HTTP_ROUTE_ENTRIES;
                args = query_args(req, q_diff, err, sizeof(err), NULL);
        } else if (!strcmp(path, "/v1/forget")) {
                allowed = method == EVHTTP_REQ_POST;
                type = CTL_TYPE_FORGET;
                if (allowed && http_read_body(req, &args) < 0)
                        goto done;
        } else if (!strcmp(path, "/metrics")) {
                allowed = get;
                type = CTL_TYPE_STATUS;
                c->route = HTTP_ROUTE_METRICS;
                args = query_args(req, none, err, sizeof(err), NULL);
        } else if (!strcmp(path, "/v1/peers") || !strcmp(path, "/v1/stores")) {
                allowed = get;
                type = path[4] == 'p' ? CTL_TYPE_PEERS : CTL_TYPE_STORES;
                args = query_args(req, none, err, sizeof(err), NULL);
        } else {
                http_send_error(req, 404, "not-found", "no such resource: %s", path);
                goto done;
        }
        if (!allowed) {
                http_send_error(req, 405, "method-not-allowed", "%s does not take this method", path);
                goto done;
        }
        if (*err) {
                http_send_error(req, 400, "bad-request", "%s", err);
                goto done;
        }
        struct msg *m = NULL;
        int k = ctl_json_to_msg(args, type, ++api->next_reqid, &m, err, sizeof(err));
        json_decref(args);
        args = NULL;
        if (k == -ENOMEM) {
                http_send_error(req, 500, "internal", "out of memory");
                goto done;
        }
        if (k < 0) {
                http_send_error(req, 400, "bad-request", "%s", err);
                goto done;
        }
        dispatch(api, req, c, m);
        return;
done:
        json_decref(args);
        free(c->after);
        free(c->range);
        free(c->if_none_match);
        free(c);
}
