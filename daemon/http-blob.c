/* SPDX-License-Identifier: MIT */
/* The /chute/blob/ routes (docs/http-api.md, "Blobs"): POST an index.json,
 * PUT the content whole, by Content-Range or by window, GET index.json and
 * the content with ETag, Range and 304, and the SHA-256 of what is stored.
 * Files are blob.c's; downloads go out as file segments (sendfile). */
#include "http-blob.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "blob.h"
#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "hex.h"
#include "http-private.h"
#include "log.h"

#define PREFIX "/chute/blob"

bool http_blob_route(const char *path)
{
        size_t n = strlen(PREFIX);
        return path && !strncmp(path, PREFIX, n) && (path[n] == '\0' || path[n] == '/');
}

/* The parts of a blob path: "/ID", then "/index.json", "/0", "/0/hash/sha256",
 * "/0/CB/N" or "/0/CB/N/hash/sha256". */
enum blob_target {
        BLOB_NONE,
        BLOB_COLLECTION,  /* /chute/blob/ */
        BLOB_ITEM,        /* ID (the Location): GET is index.json's, DELETE */
        BLOB_INDEX,       /* ID/index.json */
        BLOB_CONTENT,     /* ID/0 */
        BLOB_HASH,        /* ID/0/hash/sha256 */
        BLOB_WINDOW,      /* ID/0/CB/N */
        BLOB_WINDOW_HASH, /* ID/0/CB/N/hash/sha256 */
};

struct blob_path {
        enum blob_target target;
        char id[BLOB_ID_LEN + 1];
        uint64_t window, n;
};

/* A decimal number of at most 19 digits, nothing else; it ends at '/' or NUL. */
static const char *number(const char *p, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0;
        for (; p[i] >= '0' && p[i] <= '9'; i++) {
                if (i == 19)
                        return NULL;
                v = v * 10 + (uint64_t)(p[i] - '0');
        }
        if (i == 0 || (p[i] != '/' && p[i] != '\0'))
                return NULL;
        *ret = v;
        return p + i;
}

static bool parse_path(const char *path, struct blob_path *ret)
{
        const char *p = path + strlen(PREFIX);
        *ret = (struct blob_path){.target = BLOB_NONE};
        if (!*p || !strcmp(p, "/")) {
                ret->target = BLOB_COLLECTION;
                return true;
        }
        p++;
        const char *slash = strchrnul(p, '/');
        if (!blob_id_valid(p, (size_t)(slash - p)))
                return false;
        memcpy(ret->id, p, BLOB_ID_LEN);
        p = slash;
        if (!*p || !strcmp(p, "/"))
                ret->target = BLOB_ITEM;
        else if (!strcmp(p, "/index.json"))
                ret->target = BLOB_INDEX;
        else if (!strcmp(p, "/0"))
                ret->target = BLOB_CONTENT;
        else if (!strcmp(p, "/0/hash/sha256"))
                ret->target = BLOB_HASH;
        else if (!strncmp(p, "/0/", 3)) {
                p = number(p + 3, &ret->window);
                if (!p || *p != '/' || !(p = number(p + 1, &ret->n)))
                        return false;
                if (!*p)
                        ret->target = BLOB_WINDOW;
                else if (!strcmp(p, "/hash/sha256"))
                        ret->target = BLOB_WINDOW_HASH;
        }
        return ret->target != BLOB_NONE;
}

uint64_t http_blob_body_limit(enum evhttp_cmd_type method, const char *path)
{
        struct blob_path bp;
        if (method == EVHTTP_REQ_PUT && http_blob_route(path) && parse_path(path, &bp) &&
            (bp.target == BLOB_CONTENT || bp.target == BLOB_WINDOW))
                return HTTP_BLOB_MAX_PUT;
        return HTTP_MAX_BODY;
}

/* ---- replies ---- */

static json_t *missing_list(const struct blob *b)
{
        json_t *a = json_array();
        uint64_t at = 0;
        for (size_t i = 0; i <= b->n_ranges && json_array_size(a) < 16; i++) {
                uint64_t next = i < b->n_ranges ? b->ranges[i].start : b->size;
                if (next > at) /* inclusive, as in Content-Range */
                        json_array_append_new(a,
                                              json_pack("[I, I]", (json_int_t)at, (json_int_t)(next - 1)));
                if (i < b->n_ranges)
                        at = b->ranges[i].end;
        }
        return a;
}

static void send_progress(struct evhttp_request *req, int status, const char *error, const struct blob *b)
{
        uint64_t prefix = blob_prefix(b);
        if (prefix > 0) { /* what a resumable-upload client expects: the run from byte 0 */
                char range[64];
                snprintf(range, sizeof(range), "bytes=0-%" PRIu64, prefix - 1);
                evhttp_add_header(evhttp_request_get_output_headers(req), "Range", range);
        }
        json_t *doc =
                json_pack("{s:s, s:I, s:I, s:b, s:o}", "id", b->id, "size", (json_int_t)b->size, "stored",
                          (json_int_t)blob_stored(b), "complete", 0, "missing", missing_list(b));
        if (doc && error) {
                json_object_set_new(doc, "error", json_string(error));
                json_object_set_new(doc, "message",
                                    json_string(blob_stored(b) == b->size
                                                        ? "every byte is there and is being checked"
                                                        : "the blob is not complete yet: PUT the missing ranges"));
        }
        http_send_json(req, status, doc);
}

static void send_created(struct evhttp_request *req, const struct blob *b)
{
        char location[80];
        snprintf(location, sizeof(location), PREFIX "/%s", b->id);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
        http_send_json(req, 201, json_deep_copy(b->index));
}

static void send_failure(struct evhttp_request *req, const char *id, int r)
{
        switch (r) {
        case -ENOENT:
                http_send_error(req, 404, "not-found", "no blob %s", id);
                break;
        case -ENOSPC:
        case -EDQUOT:
                http_send_error(req, 507, "insufficient-storage", "no space left for blob %s", id);
                break;
        default:
                log_error_errno(r, "Blob %s", id);
                http_send_error(req, 500, "internal", "blob %s: %s", id, strerror(-r));
        }
}

static void send_hash(struct evhttp_request *req, const char *hex, uint64_t offset, uint64_t len,
                      bool complete)
{
        http_send_json(req, 200,
                       json_pack("{s:s, s:s, s:I, s:I, s:b}", "algorithm", "sha256", "sha256", hex, "offset",
                                 (json_int_t)offset, "length", (json_int_t)len, "complete", complete));
}

/* ETag and If-None-Match: true when a 304 went out. */
static bool not_modified(struct evhttp_request *req, const char *etag)
{
        evhttp_add_header(evhttp_request_get_output_headers(req), "ETag", etag);
        if (!http_etag_matches(evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match"),
                               etag))
                return false;
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        return true;
}

/* ---- the routes ---- */

static void post_blob(struct blob_store *s, struct evhttp_request *req)
{
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        char err[256] = "", id[BLOB_ID_LEN + 1];
        json_t *doc = NULL;

        if (len > BLOB_MAX_INDEX) {
                http_send_error(req, 413, "too-large", "index.json is limited to %d bytes", BLOB_MAX_INDEX);
                return;
        }
        const char *text = (const char *)evbuffer_pullup(in, (ssize_t)len);
        int r = blob_index_check(text ? text : "", len, &doc, err, sizeof(err));
        if (r == -ENOMEM) {
                http_send_error(req, 500, "internal", "out of memory");
                return;
        }
        if (r < 0) {
                http_send_error(req, 400, "bad-request", "%s", err);
                return;
        }
        r = blob_create(s, doc, id);
        json_decref(doc);
        struct blob *b = NULL;
        if (r >= 0)
                r = blob_open(s, id, &b);
        if (r < 0) {
                send_failure(req, "(new)", r);
                return;
        }
        log_debug("Blob %s created (%" PRIu64 " bytes)", id, b->size);
        send_created(req, b);
        blob_free(b);
}

/* "bytes A-B/TOTAL", or "bytes A-B/" and a star: 0, or -EINVAL. */
static int parse_content_range(const char *h, uint64_t *ret_start, uint64_t *ret_end, uint64_t *ret_total,
                               bool *ret_have_total)
{
        uint64_t a, b;
        const char *p;
        if (strncmp(h, "bytes ", 6) != 0)
                return -EINVAL;
        char tmp[80];
        if (strlen(h) >= sizeof(tmp))
                return -EINVAL;
        /* number() wants '/' or NUL after a number: swap the '-' for '/' */
        snprintf(tmp, sizeof(tmp), "%s", h + 6);
        char *dash = strchr(tmp, '-');
        if (!dash)
                return -EINVAL;
        *dash = '/';
        if (!(p = number(tmp, &a)) || p != dash || !(p = number(dash + 1, &b)) || *p != '/' || b < a)
                return -EINVAL;
        *ret_have_total = strcmp(p + 1, "*") != 0;
        if (*ret_have_total && (!(p = number(p + 1, ret_total)) || *p))
                return -EINVAL;
        *ret_start = a;
        *ret_end = b;
        return 0;
}

/* A request waiting for a hash from the workers. */
struct hash_wait {
        struct blob_store *store;
        struct evhttp_request *req;
        char id[BLOB_ID_LEN + 1];
        uint64_t offset, len;
        bool complete; /* of a plain hash: the blob is complete (for the reply) */
};

/* The client may have gone while the workers hashed: evhttp then let go
 * of the request and it is ours to free. True when it is still there. */
static bool still_there(struct evhttp_request *req)
{
        if (evhttp_request_get_connection(req))
                return true;
        evhttp_request_free(req);
        return false;
}

static void completed(int r, const char hex[65], void *userdata)
{
        struct hash_wait *w = userdata;
        struct blob *b = NULL;
        if (r == -ECANCELED) { /* chuted stops; the next PUT completes it */
                free(w);
                return;
        }
        if (r >= 0)
                r = blob_open(w->store, w->id, &b);
        if (r >= 0)
                r = blob_complete(w->store, b, hex); /* whether or not the client still waits */
        if (r < 0 && r != -EILSEQ)
                log_error_errno(r, "Cannot complete blob %s", w->id);
        if (still_there(w->req)) {
                if (r == 1)
                        send_created(w->req, b);
                else if (r == -EILSEQ && b)
                        http_send_error(w->req, 409, "sha256-mismatch",
                                        "all %" PRIu64 " bytes arrived but their SHA-256 is %s, not the one "
                                        "index.json declared (%s); the upload starts over",
                                        b->size, hex, b->sha256);
                else
                        send_failure(w->req, w->id, r);
        }
        blob_free(b);
        free(w);
}

static void hashed(int r, const char hex[65], void *userdata)
{
        struct hash_wait *w = userdata;
        if (r != -ECANCELED && still_there(w->req)) {
                if (r < 0)
                        send_failure(w->req, w->id, r);
                else
                        send_hash(w->req, hex, w->offset, w->len, w->complete);
        }
        free(w);
}

/* Hash [offset, offset + len) of b on the workers and answer from there
 * (completing: then complete the blob and answer the PUT). */
static void hash_later(struct blob_store *s, struct evhttp_request *req, struct blob *b, uint64_t offset,
                       uint64_t len, bool completing)
{
        struct hash_wait *w = calloc(1, sizeof(*w));
        int r = w ? 0 : -ENOMEM;
        if (w) {
                *w = (struct hash_wait){
                        .store = s, .req = req, .offset = offset, .len = len, .complete = b->complete};
                memcpy(w->id, b->id, sizeof(w->id));
                r = blob_hash_async(s, b, offset, len, completing, completing ? completed : hashed, w);
        }
        if (r < 0) {
                free(w);
                send_failure(req, b->id, r);
        }
}

struct write_wait {
        struct blob_store *store;
        struct evhttp_request *req;
        struct evbuffer_iovec *vec; /* into the request's input buffer, which stays */
        struct iovec *iov;
};

static void written(int r, struct blob *b, void *userdata)
{
        struct write_wait *w = userdata;

        if (r != -ECANCELED && still_there(w->req)) {
                if (r == 1)
                        hash_later(w->store, w->req, b, 0, b->size, true);
                else if (r == 0)
                        send_progress(w->req, 202, NULL, b);
                else if (r == -E2BIG)
                        http_send_error(w->req, 409, "fragmented",
                                        "the upload would be in more than %d separate pieces: fill the gaps first",
                                        BLOB_MAX_RANGES);
                else
                        send_failure(w->req, b->id, r);
        }
        blob_free(b);
        free(w->vec);
        free(w->iov);
        free(w);
}

/* Write the body at offset on a worker (b is taken) and answer: 202 while
 * bytes are missing; the PUT that brings the last ones is answered 201 once
 * the blob is hashed. */
static void write_body(struct blob_store *s, struct evhttp_request *req, struct blob *b, uint64_t offset)
{
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        int n = evbuffer_peek(in, -1, NULL, NULL, 0);
        struct write_wait *w = calloc(1, sizeof(*w));
        int r = w ? 0 : -ENOMEM;

        if (w) {
                *w = (struct write_wait){ .store = s, .req = req };
                if (n > 0) {
                        w->vec = calloc((size_t)n, sizeof(*w->vec));
                        w->iov = calloc((size_t)n, sizeof(*w->iov));
                        if (!w->vec || !w->iov)
                                r = -ENOMEM;
                }
        }
        if (r >= 0 && n > 0) {
                n = evbuffer_peek(in, -1, NULL, w->vec, n);
                for (int i = 0; i < n; i++)
                        w->iov[i] = (struct iovec){ w->vec[i].iov_base, w->vec[i].iov_len };
        }
        if (r >= 0)
                r = blob_write_async(s, b, offset, w->iov, n > 0 ? (size_t)n : 0, written, w);
        if (r < 0) {
                send_failure(req, b->id, r);
                blob_free(b);
                if (w) {
                        free(w->vec);
                        free(w->iov);
                        free(w);
                }
        }
}

static void put_content(struct blob_store *s, struct evhttp_request *req, const struct blob_path *bp)
{
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        const char *type = evhttp_find_header(h, "Content-Type");
        const char *cr = evhttp_find_header(h, "Content-Range");
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        uint64_t len = evbuffer_get_length(in), offset = 0;
        struct blob *b = NULL;

        if (type && (!strncasecmp(type, "application/x-www-form-urlencoded", 33) ||
                     !strncasecmp(type, "multipart/", 10))) {
                http_send_error(req, 415, "unsupported-media-type",
                                "blob content is raw bytes: send it as application/octet-stream "
                                "(curl -T FILE, or --data-binary @FILE with that Content-Type)");
                return;
        }
        int r = blob_open(s, bp->id, &b);
        if (r < 0) {
                send_failure(req, bp->id, r);
                return;
        }
        char range_header[64];
        snprintf(range_header, sizeof(range_header), "bytes */%" PRIu64, b->size);
        if (b->complete) {
                http_send_error(req, 409, "complete", "blob %s is complete; a blob never changes", b->id);
                goto out;
        }
        if (blob_completing(s, b->id)) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
                http_send_error(req, 503, "busy", "blob %s is busy: a write to it or its completion is running",
                                b->id);
                goto out;
        }
        if (bp->target == BLOB_WINDOW) {
                if (cr) {
                        http_send_error(req, 400, "bad-request", "a windowed PUT takes no Content-Range");
                        goto out;
                }
                if (bp->window == 0 || bp->window > HTTP_BLOB_MAX_PUT) {
                        http_send_error(req, 400, "bad-request", "the window must be 1 to %d bytes",
                                        HTTP_BLOB_MAX_PUT);
                        goto out;
                }
                if (bp->n > b->size / bp->window || bp->n * bp->window >= b->size) {
                        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Range",
                                          range_header);
                        http_send_error(req, 416, "range-not-satisfiable",
                                        "window %" PRIu64 " of %" PRIu64 " bytes lies past the end (%" PRIu64
                                        " bytes)",
                                        bp->n, bp->window, b->size);
                        goto out;
                }
                offset = bp->n * bp->window;
                uint64_t want = MIN(bp->window, b->size - offset);
                if (len != want) {
                        http_send_error(req, 400, "bad-request",
                                        "window %" PRIu64 " holds %" PRIu64 " bytes, the body has %" PRIu64,
                                        bp->n, want, len);
                        goto out;
                }
        } else if (cr) {
                uint64_t a, e, total = 0;
                bool have_total;
                if (parse_content_range(cr, &a, &e, &total, &have_total) < 0) {
                        http_send_error(req, 400, "bad-request",
                                        "Content-Range must be \"bytes FIRST-LAST/SIZE\" (or \"/*\")");
                        goto out;
                }
                if ((have_total && total != b->size) || e >= b->size) {
                        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Range",
                                          range_header);
                        http_send_error(req, 416, "range-not-satisfiable",
                                        "the range %s does not fit blob %s of %" PRIu64 " bytes", cr + 6,
                                        b->id, b->size);
                        goto out;
                }
                if (e - a + 1 != len) {
                        http_send_error(req, 400, "bad-request",
                                        "Content-Range says %" PRIu64 " bytes, the body has %" PRIu64,
                                        e - a + 1, len);
                        goto out;
                }
                offset = a;
        } else if (len != b->size) {
                http_send_error(req, 400, "bad-request",
                                "the body has %" PRIu64 " bytes and blob %s %" PRIu64
                                ": send a part with Content-Range: bytes FIRST-LAST/%" PRIu64,
                                len, b->id, b->size, b->size);
                goto out;
        }

        write_body(s, req, TAKE_PTR(b), offset);
out:
        blob_free(b);
}

static void get_index(struct blob *b, struct evhttp_request *req)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        uint8_t digest[CRYPTO_SHA256_SIZE];
        char etag[40] = "\"";

        int r = blob_index_text(b, &text, &len);
        if (r >= 0)
                r = crypto_sha256(text, len, digest);
        if (r < 0) {
                send_failure(req, b->id, r);
                return;
        }
        hex_encode(digest, 16, etag + 1);
        strcat(etag, "\"");
        if (not_modified(req, etag))
                return;
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);
        evhttp_add_header(out, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), text, len);
        http_send_reply(req, 200, "OK");
}

/* The content is the client's, its type too: a browser must save it, never
 * run it in the API's origin (where the dashboard keeps the token). */
static void add_download_headers(struct evkeyvalq *out, const char *name)
{
        char disposition[16 + 3 * 255 + 1] = "attachment";
        if (name) { /* RFC 6266 / 8187: filename*=UTF-8''percent-encoded */
                size_t n = strlen(disposition);
                n += (size_t)snprintf(disposition + n, sizeof(disposition) - n, "; filename*=UTF-8''");
                for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < sizeof(disposition);
                     p++) {
                        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p))
                                disposition[n++] = (char)*p;
                        else
                                n += (size_t)snprintf(disposition + n, sizeof(disposition) - n, "%%%02X",
                                                      *p);
                }
                disposition[n] = '\0';
        }
        evhttp_add_header(out, "Content-Disposition", disposition);
        evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
        evhttp_add_header(out, "Content-Security-Policy", "sandbox; default-src 'none'");
}

static void get_content(struct blob *b, struct evhttp_request *req)
{
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);
        const char *range = evhttp_find_header(evhttp_request_get_input_headers(req), "Range");
        char etag[70], buf[96];
        uint64_t start = 0, end = b->size ? b->size - 1 : 0;

        if (!b->complete) {
                send_progress(req, 409, "incomplete", b);
                return;
        }
        snprintf(etag, sizeof(etag), "\"%s\"", b->sha256);
        if (not_modified(req, etag))
                return;
        evhttp_add_header(out, "Accept-Ranges", "bytes");
        int k = range ? http_parse_range(range, b->size, &start, &end) : 0;
        if (k == -ERANGE) {
                snprintf(buf, sizeof(buf), "bytes */%" PRIu64, b->size);
                evhttp_add_header(out, "Content-Range", buf);
                http_send_error(req, 416, "range-not-satisfiable", "blob %s has %" PRIu64 " bytes", b->id,
                                b->size);
                return;
        }
        uint64_t len = b->size ? end - start + 1 : 0;
        snprintf(buf, sizeof(buf), "%" PRIu64, len);
        evhttp_add_header(out, "Content-Length", buf);
        const char *type = json_string_value(json_object_get(b->index, "type"));
        evhttp_add_header(out, "Content-Type", type ? type : "application/octet-stream");
        add_download_headers(out, json_string_value(json_object_get(b->index, "name")));
        if (k == 1) {
                snprintf(buf, sizeof(buf), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end, b->size);
                evhttp_add_header(out, "Content-Range", buf);
        }
        int status = k == 1 ? 206 : 200;
        if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD || len == 0) {
                evhttp_send_reply(req, status, NULL, NULL);
                return;
        }
        int fd = blob_open_content(b);
        if (fd < 0) {
                send_failure(req, b->id, fd);
                return;
        }
        /* a file segment: the bytes go from the page cache to the socket */
        if (evbuffer_add_file(evhttp_request_get_output_buffer(req), fd, (ev_off_t)start, (ev_off_t)len) <
            0) {
                close(fd);
                http_send_error(req, 500, "internal", "cannot send blob %s", b->id);
                return;
        }
        evhttp_send_reply(req, status, NULL, NULL);
}

static void get_hash(struct blob_store *s, struct blob *b, struct evhttp_request *req,
                     const struct blob_path *bp)
{
        uint64_t offset = 0, len;
        if (bp->target == BLOB_HASH) {
                if (b->complete) {
                        send_hash(req, b->sha256, 0, b->size, true);
                        return;
                }
                len = blob_prefix(b); /* of an upload in progress: the run from byte 0 */
        } else {
                if (bp->window == 0 || bp->window > HTTP_BLOB_MAX_HASH_WINDOW) {
                        http_send_error(req, 400, "bad-request", "the window must be 1 to %d bytes",
                                        HTTP_BLOB_MAX_HASH_WINDOW);
                        return;
                }
                if (bp->n > b->size / bp->window || (bp->n * bp->window >= b->size && b->size > 0)) {
                        http_send_error(req, 416, "range-not-satisfiable",
                                        "window %" PRIu64 " of %" PRIu64 " bytes lies past the end (%" PRIu64
                                        ")",
                                        bp->n, bp->window, b->size);
                        return;
                }
                offset = bp->n * bp->window;
                len = MIN(bp->window, b->size - offset);
                if (!blob_has(b, offset, offset + len)) {
                        send_progress(req, 409, "incomplete", b);
                        return;
                }
        }
        hash_later(s, req, b, offset, len, false);
}

static void delete_blob(struct blob_store *s, struct blob *b, struct evhttp_request *req)
{
        if (blob_completing(s, b->id)) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
                http_send_error(req, 503, "busy", "blob %s is busy: a write to it or its completion is running",
                                b->id);
                return;
        }
        int r = blob_delete(s, b);
        if (r < 0) {
                send_failure(req, b->id, r);
                return;
        }
        log_info("Blob %s deleted (%s)", b->id,
                 b->complete ? "complete: snapshots keep it" : "an upload in progress");
        evhttp_send_reply(req, 204, "No Content", NULL);
}

void http_blob_handle(struct http_api *api, struct evhttp_request *req, const char *path)
{
        enum evhttp_cmd_type method = evhttp_request_get_command(req);
        bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
        struct blob_path bp;
        struct blob *b = NULL;

        if (!parse_path(path, &bp)) {
                http_send_error(req, 404, "not-found", "no such resource: %s", path);
                return;
        }
        if (!api->blobs) {
                http_send_error(req, 503, "unavailable", "the blob store could not be opened (see the log)");
                return;
        }
        bool put = bp.target == BLOB_CONTENT || bp.target == BLOB_WINDOW;
        bool allowed = bp.target == BLOB_COLLECTION ? method == EVHTTP_REQ_POST
                       : bp.target == BLOB_ITEM     ? get || method == EVHTTP_REQ_DELETE
                       : get                        ? bp.target != BLOB_WINDOW
                                                    : put && method == EVHTTP_REQ_PUT;
        if (!allowed) {
                http_send_error(req, 405, "method-not-allowed", "%s does not take this method", path);
                return;
        }
        if (bp.target == BLOB_COLLECTION) {
                post_blob(api->blobs, req);
                return;
        }
        if (method == EVHTTP_REQ_PUT) {
                put_content(api->blobs, req, &bp);
                return;
        }
        int r = blob_open(api->blobs, bp.id, &b);
        if (r < 0) {
                send_failure(req, bp.id, r);
                return;
        }
        if (method == EVHTTP_REQ_DELETE)
                delete_blob(api->blobs, b, req);
        else if (bp.target == BLOB_INDEX || bp.target == BLOB_ITEM)
                get_index(b, req);
        else if (bp.target == BLOB_CONTENT)
                get_content(b, req);
        else
                get_hash(api->blobs, b, req, &bp);
        blob_free(b);
}
