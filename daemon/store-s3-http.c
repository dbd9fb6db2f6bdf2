/* SPDX-License-Identifier: MIT */
/* One signed S3 request and its retries: curl easy handles taken from and
 * given back to the store's pool (so connections are reused), SigV4 by
 * CURLOPT_AWS_SIGV4 with x-amz-content-sha256 always sent, bodies read into
 * the caller's buffer or a capped one, jittered backoff between attempts
 * that a shutdown cuts short, and the store's error in words. */
#include "store-s3-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cond.h"
#include "crypto.h"
#include "log.h"

void store_s3_http_set_error(struct store_s3 *s, const char *fmt, ...)
{
        va_list ap;

        pthread_mutex_lock(&s->lock);
        va_start(ap, fmt);
        vsnprintf(s->status.error, sizeof(s->status.error), fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&s->lock);
}

/* ---- curl handles ---------------------------------------------------------------- */

static CURL *handle_get(struct store_s3 *s)
{
        CURL *h = NULL;

        pthread_mutex_lock(&s->lock);
        if (s->n_idle > 0)
                h = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->lock);
        if (h)
                curl_easy_reset(h); /* options go; the connection cache stays */
        else
                h = curl_easy_init();
        return h;
}

static void handle_put(struct store_s3 *s, CURL *h)
{
        pthread_mutex_lock(&s->lock);
        if (s->n_idle < POOL_MAX) {
                s->idle[s->n_idle++] = h;
                h = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (h)
                curl_easy_cleanup(h);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct store_s3_call *c = userdata;
        size_t n = size * nmemb;

        if (c->status == 0 || c->status >= 300) {
                /* an error body: keep what fits, it is only read for its Code;
                 * past that, the transfer stops (a body that never ends
                 * would hold the thread) */
                if (!c->err_body)
                        c->err_body = malloc(ERROR_BODY_MAX);
                if (c->err_body) {
                        size_t k = MIN(n, ERROR_BODY_MAX - c->err_len);
                        memcpy(c->err_body + c->err_len, data, k);
                        c->err_len += k;
                }
                if (!c->err_body || c->err_len >= ERROR_BODY_MAX) { /* nowhere to keep it: stop too */
                        c->err_cut = true;
                        return 0;
                }
                return n;
        }
        if (c->cap == 0 && !c->grow) {
                /* a body nothing asked for (PUT, DELETE): not kept, and not
                 * read without end (a server sending one would hold the thread) */
                c->discarded += n;
                if (c->discarded > ERROR_BODY_MAX) {
                        c->body_cut = true;
                        return 0;
                }
                return n;
        }
        if (n > c->cap - c->got)
                return 0; /* more than asked for, or than we read: CURLE_WRITE_ERROR */
        if (c->grow) {
                size_t want = c->got + n;
                char *b = realloc(c->buf, want);
                if (!b)
                        return 0;
                c->buf = b;
        }
        memcpy(c->buf + c->got, data, n);
        c->got += n;
        return n;
}

/* The value of header line data (n bytes) named name (with its colon, any
 * case) into out, blanks and a pair of quotes around it dropped; false when
 * the line is another header. */
static bool header_value(const char *data, size_t n, const char *name, char *out, size_t out_size)
{
        size_t len = strlen(name);

        if (n <= len || strncasecmp(data, name, len))
                return false;
        size_t k = n - len;
        const char *v = data + len;
        while (k > 0 && (*v == ' ' || *v == '\t'))
                v++, k--;
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
                k--;
        if (k >= 2 && v[0] == '"' && v[k - 1] == '"')
                v++, k -= 2;
        snprintf(out, out_size, "%.*s", (int)MIN(k, out_size - 1), v);
        return true;
}

/* The status line comes before any body: remember it for on_write; keep the
 * lock date and the ETag. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct store_s3_call *c = userdata;
        size_t n = size * nmemb;

        if (n > 5 && !strncmp(data, "HTTP/", 5)) {
                const char *sp = memchr(data, ' ', n);
                c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
                c->err_len = 0;
                c->got = 0;
        } else if (!header_value(data, n, "x-amz-object-lock-retain-until-date:", c->retain_until,
                                 sizeof(c->retain_until))) {
                (void)header_value(data, n, "etag:", c->etag, sizeof(c->etag));
        }
        return n;
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct store_s3_call *c = userdata;
        size_t want = size * nmemb;
        ssize_t n;

        if (want > c->size - c->pos)
                want = (size_t)(c->size - c->pos);
        if (want == 0)
                return 0;
        n = pread(c->fd, data, want, (off_t)c->pos);
        if (n <= 0) {
                c->read_error = n < 0 ? -errno : -ENODATA;
                return CURL_READFUNC_ABORT;
        }
        c->pos += (uint64_t)n;
        return (size_t)n;
}

/* curl sends the body again (a connection closed under it, a 417): from offset. */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
        struct store_s3_call *c = userdata;

        if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > c->size)
                return CURL_SEEKFUNC_CANTSEEK;
        c->pos = (uint64_t)offset;
        return CURL_SEEKFUNC_OK;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        struct store_s3 *s = userdata;
        bool stop;

        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        pthread_mutex_lock(&s->lock);
        stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        return stop ? 1 : 0;
}

int store_s3_http_header(struct curl_slist **list, const char *line)
{
        struct curl_slist *l = curl_slist_append(*list, line);
        if (!l) {
                curl_slist_free_all(*list);
                *list = NULL;
                return -ENOMEM;
        }
        *list = l;
        return 0;
}

/* One attempt of c. 0 when the service answered 2xx; *ret_retry when worth another. */
static int call_once(struct store_s3 *s, struct store_s3_call *c, bool *ret_retry)
{
        _cleanup_free_ char *sha_header = NULL;
        struct curl_slist *headers = NULL;
        CURL *h = handle_get(s);
        CURLcode code;
        int r;

        *ret_retry = false;
        if (!h)
                return -ENOMEM;
        if (asprintf(&sha_header, "x-amz-content-sha256: %s",
                     c->payload_sha256 ? c->payload_sha256 : EMPTY_SHA256) < 0) {
                handle_put(s, h);
                return -ENOMEM;
        }
        r = store_s3_http_header(&headers, sha_header);
        for (struct curl_slist *x = c->headers; x && r >= 0; x = x->next)
                r = store_s3_http_header(&headers, x->data);
        if (r < 0) {
                handle_put(s, h);
                return r;
        }
        c->status = 0;
        c->got = c->err_len = 0;
        c->discarded = 0;
        c->body_cut = false;
        c->err_cut = false;
        c->pos = 0;
        c->read_error = 0;
        c->retain_until[0] = c->code[0] = c->etag[0] = '\0';
        c->have_length = false;
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        if (!strcmp(c->method, "HEAD")) {
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (!strcmp(c->method, "PUT")) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, c);
                curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
                curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->size);
        } else if (strcmp(c->method, "GET")) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
        }
        pthread_mutex_lock(&s->lock);
        s->status.requests++;
        pthread_mutex_unlock(&s->lock);
        code = curl_easy_perform(h);
        curl_slist_free_all(headers);
        if (code == CURLE_WRITE_ERROR && c->err_cut)
                code = CURLE_OK; /* an error answer whose body we stopped reading */
        if (code == CURLE_WRITE_ERROR && c->body_cut) {
                handle_put(s, h);
                store_s3_http_set_error(s, "%s answered %s %s with a body of more than %u bytes: not trusted",
                                        s->cfg.endpoint, c->method, c->what, (unsigned)ERROR_BODY_MAX);
                return -EPROTO;
        }
        if (code == CURLE_OK) {
                curl_off_t len = -1;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
                if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len >= 0) {
                        c->length = (uint64_t)len;
                        c->have_length = true;
                }
        }
        handle_put(s, h);
        if (code != CURLE_OK) {
                if (c->read_error < 0)
                        return c->read_error;
                r = store_s3_wire_curl_errno(code);
                *ret_retry = store_s3_wire_retry_curl(code);
                if (r != -ECANCELED)
                        store_s3_http_set_error(s, "cannot reach %s for %s: %s", s->cfg.endpoint, c->what,
                                                curl_easy_strerror(code));
                return r;
        }
        if (c->status >= 200 && c->status < 300)
                return 0;
        if (c->err_body)
                store_s3_wire_parse_error(c->err_body, c->err_len, c->err_cut, c->code, sizeof(c->code));
        *ret_retry = store_s3_wire_retry_status(c->status);
        return store_s3_wire_status_errno(c->status, c->code);
}

/* Wait ms unless the store is stopping; false when it is. */
static bool backoff_sleep(struct store_s3 *s, unsigned ms)
{
        struct timespec until;
        bool stopping;

        cond_deadline(&until, (uint64_t)ms * 1000000);
        pthread_mutex_lock(&s->lock);
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
                ;
        stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        return !stopping;
}

/* The store's error for an HTTP refusal of c, in words a user can act on. */
static void refusal_error(struct store_s3 *s, const struct store_s3_call *c, int r)
{
        const char *code = c->code[0] ? c->code : "no code";

        if (!strcmp(c->code, "SignatureDoesNotMatch"))
                store_s3_http_set_error(s, "%s refused our signature (%s): check the secret key in %s",
                                        s->cfg.endpoint, code, s->cfg.secret_key_file);
        else if (!strcmp(c->code, "InvalidAccessKeyId"))
                store_s3_http_set_error(s, "%s does not know our access key (%s): check %s", s->cfg.endpoint,
                                        code, s->cfg.access_key_file);
        else if (r == -ETIME)
                store_s3_http_set_error(s, "%s says this machine's clock is too far from its own (%s): check the "
                                        "time here (timedatectl)", s->cfg.endpoint, code);
        else if (r == -ENXIO)
                store_s3_http_set_error(s, "bucket %s does not exist at %s (%s)", s->cfg.bucket,
                                        s->cfg.endpoint, code);
        else if (r == -EACCES)
                store_s3_http_set_error(s, "%s denied access to bucket %s (HTTP %ld, %s)", s->cfg.endpoint,
                                        s->cfg.bucket, c->status, code);
        else
                store_s3_http_set_error(s, "%s answered HTTP %ld (%s) to %s %s", s->cfg.endpoint, c->status,
                                        code, c->method, c->what);
}

/* Run c with retries. 0 on 2xx; -ENOENT for a 404 that is not NoSuchBucket
 * (the caller decides whether that is an error). */
int store_s3_http_call(struct store_s3 *s, struct store_s3_call *c)
{
        int r;

        if (c->url_too_long) {
                store_s3_http_set_error(s, "the URL for %s would be longer than %zu bytes: not sent", c->what,
                                        sizeof(c->url) - 1);
                return -ENAMETOOLONG;
        }
        for (unsigned attempt = 1;; attempt++) {
                bool retry;
                r = call_once(s, c, &retry);
                if (r >= 0) {
                        pthread_mutex_lock(&s->lock);
                        s->status.error[0] = '\0';
                        pthread_mutex_unlock(&s->lock);
                        break;
                }
                if (!retry || attempt >= STORE_S3_ATTEMPTS)
                        break;
                if (c->done_already && c->done_already(c->done_already_arg)) {
                        r = 0; /* taken, its answer lost on the way */
                        break;
                }
                uint32_t rnd = 0;
                crypto_random(&rnd, sizeof(rnd));
                log_debug("Store %s: %s %s failed (%s), trying again", s->name, c->method, c->what,
                          strerror(-r));
                if (!backoff_sleep(s, store_s3_wire_backoff_ms(attempt, STORE_S3_BACKOFF_MAX_MS, rnd)))
                        return -ECANCELED;
                pthread_mutex_lock(&s->lock);
                s->status.retries++;
                pthread_mutex_unlock(&s->lock);
        }
        if (r < 0 && c->status >= 300 && r != -ENOENT && r != -ERANGE) /* a range past the end: an answer */
                refusal_error(s, c, r);
        else if (r < 0 && c->status >= 300 && r == -ENOENT && !strcmp(c->code, "NoSuchBucket"))
                refusal_error(s, c, r);
        free(c->err_body);
        c->err_body = NULL;
        return r;
}

void store_s3_http_init(struct store_s3 *s, struct store_s3_call *c, const char *method,
                        const struct oid *pack, const char *query)
{
        char hex[OID_HEX_SIZE];

        int n;

        *c = (struct store_s3_call){.method = method, .fd = -1, .what = "the bucket"};
        if (pack) {
                oid_to_hex(pack, hex);
                n = snprintf(c->url, sizeof(c->url), "%s/%s%s", s->bucket_url, s->cfg.prefix, hex);
                c->what = "a pack";
        } else {
                n = snprintf(c->url, sizeof(c->url), "%s%s?%s", s->bucket_url, s->cfg.virtual_host ? "/" : "",
                             query ? query : "");
        }
        c->url_too_long = n < 0 || (size_t)n >= sizeof(c->url); /* cut: never signed and sent */
}
