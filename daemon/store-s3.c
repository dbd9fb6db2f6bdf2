/* SPDX-License-Identifier: MIT */
/* The S3 store: store_ops over libcurl with SigV4 (CURLOPT_AWS_SIGV4; the
 * query is canonical before the call and x-amz-content-sha256 is always
 * sent, as curl 7.88 wants). One PUT per pack, ranged GET, HEAD, DELETE,
 * ListObjectsV2. Idle curl handles are pooled so connections are reused;
 * transport errors, 5xx and 429 are retried with jittered backoff, other
 * 4xx never. Bodies read back are capped. The XML and the rules are in
 * store-s3-wire.c. */
#include "store-s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mbedtls/base64.h>
#include <mbedtls/md5.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "log.h"
#include "store-s3-wire.h"

#define POOL_MAX 8
#define ERROR_BODY_MAX (16u << 10)
#define KEY_FILE_MAX 256
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct store_s3 {
        struct store base;
        char *name;
        struct store_s3_config cfg;
        char *bucket_url; /* "http://host:port/bucket" or "http://bucket.host:port" */
        char *userpwd;    /* "access:secret" */
        char *sigv4;      /* "aws:amz:REGION:s3" */
        pthread_mutex_t lock;
        pthread_cond_t cond; /* shutdown wakes backoff sleeps */
        CURL *idle[POOL_MAX];
        unsigned n_idle;
        bool stopping;
        struct store_s3_status status;
};

/* One request: what to send, where the answer goes, what came back. */
struct s3_call {
        const char *method; /* GET PUT HEAD DELETE */
        const char *what;   /* for messages: "pack 1a2b..." or "the bucket" */
        char url[1024 + 512];
        const char *payload_sha256; /* hex; empty body's when NULL */
        struct curl_slist *headers; /* extra headers (Range, lock, Content-MD5) */
        /* upload */
        int fd;
        uint64_t size, pos;
        int read_error;
        /* download: into buf[cap] (fixed), or a growing body of at most cap bytes */
        char *buf;
        size_t cap, got;
        bool grow;
        char *err_body;
        size_t err_len;
        /* answer */
        long status;
        uint64_t length;
        char retain_until[64];
        char code[64];
};

static const struct store_ops s3_ops;

static struct store_s3 *s3_of(struct store *s)
{
        return (struct store_s3 *)s;
}

bool store_is_s3(const struct store *s)
{
        return s && s->ops == &s3_ops;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void set_error(struct store_s3 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct store_s3 *s, const char *fmt, ...)
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
        struct s3_call *c = userdata;
        size_t n = size * nmemb;

        if (c->status == 0 || c->status >= 300) {
                /* an error body: keep what fits, it is only read for its Code */
                if (!c->err_body)
                        c->err_body = malloc(ERROR_BODY_MAX);
                if (c->err_body) {
                        size_t k = MIN(n, ERROR_BODY_MAX - c->err_len);
                        memcpy(c->err_body + c->err_len, data, k);
                        c->err_len += k;
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

/* The status line comes before any body: remember it for on_write; keep the lock date. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct s3_call *c = userdata;
        size_t n = size * nmemb;
        static const char lock_name[] = "x-amz-object-lock-retain-until-date:";

        if (n > 5 && !strncmp(data, "HTTP/", 5)) {
                const char *sp = memchr(data, ' ', n);
                c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
                c->err_len = 0;
                c->got = 0;
        } else if (n > sizeof(lock_name) - 1 && !strncasecmp(data, lock_name, sizeof(lock_name) - 1)) {
                size_t k = n - (sizeof(lock_name) - 1);
                const char *v = data + sizeof(lock_name) - 1;
                while (k > 0 && (*v == ' ' || *v == '\t'))
                        v++, k--;
                while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
                        k--;
                snprintf(c->retain_until, sizeof(c->retain_until), "%.*s", (int)MIN(k, 63), v);
        }
        return n;
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct s3_call *c = userdata;
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

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        struct store_s3 *s = userdata;
        bool stop;

        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        pthread_mutex_lock(&s->lock);
        stop = s->stopping;
        pthread_mutex_unlock(&s->lock);
        return stop ? 1 : 0;
}

/* One attempt of c. 0 when the service answered 2xx; *ret_retry when worth another. */
static int call_once(struct store_s3 *s, struct s3_call *c, bool *ret_retry)
{
        _cleanup_free_ char *sha_header = NULL;
        struct curl_slist *headers = NULL;
        CURL *h = handle_get(s);
        CURLcode code;
        int r;

        *ret_retry = false;
        if (!h)
                return -ENOMEM;
        if (asprintf(&sha_header, "x-amz-content-sha256: %s", c->payload_sha256 ? c->payload_sha256 : EMPTY_SHA256) < 0) {
                handle_put(s, h);
                return -ENOMEM;
        }
        headers = curl_slist_append(NULL, sha_header);
        for (struct curl_slist *x = c->headers; x && headers; x = x->next)
                headers = curl_slist_append(headers, x->data);
        if (!headers) {
                handle_put(s, h);
                return -ENOMEM;
        }
        c->status = 0;
        c->got = c->err_len = 0;
        c->pos = 0;
        c->read_error = 0;
        c->retain_until[0] = c->code[0] = '\0';
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
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->size);
        } else if (strcmp(c->method, "GET")) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
        }
        pthread_mutex_lock(&s->lock);
        s->status.requests++;
        pthread_mutex_unlock(&s->lock);
        code = curl_easy_perform(h);
        curl_slist_free_all(headers);
        if (code == CURLE_OK) {
                curl_off_t len = -1;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
                if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len >= 0)
                        c->length = (uint64_t)len;
        }
        handle_put(s, h);
        if (code != CURLE_OK) {
                if (c->read_error < 0)
                        return c->read_error;
                r = store_s3_wire_curl_errno(code);
                *ret_retry = store_s3_wire_retry_curl(code);
                if (r != -ECANCELED)
                        set_error(s, "cannot reach %s for %s: %s", s->cfg.endpoint, c->what, curl_easy_strerror(code));
                return r;
        }
        if (c->status >= 200 && c->status < 300)
                return 0;
        if (c->err_body)
                store_s3_wire_parse_error(c->err_body, c->err_len, c->code, sizeof(c->code));
        *ret_retry = store_s3_wire_retry_status(c->status);
        return store_s3_wire_status_errno(c->status, c->code);
}

/* Wait ms unless the store is stopping; false when it is. */
static bool backoff_sleep(struct store_s3 *s, unsigned ms)
{
        struct timespec until;
        bool stopping;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->lock);
        while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
                ;
        stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        return !stopping;
}

/* The store's error for an HTTP refusal of c, in words a user can act on. */
static void refusal_error(struct store_s3 *s, const struct s3_call *c, int r)
{
        const char *code = c->code[0] ? c->code : "no code";

        if (!strcmp(c->code, "SignatureDoesNotMatch"))
                set_error(s, "%s refused our signature (%s): check the secret key in %s", s->cfg.endpoint, code,
                          s->cfg.secret_key_file);
        else if (!strcmp(c->code, "InvalidAccessKeyId"))
                set_error(s, "%s does not know our access key (%s): check %s", s->cfg.endpoint, code,
                          s->cfg.access_key_file);
        else if (r == -ENXIO)
                set_error(s, "bucket %s does not exist at %s (%s)", s->cfg.bucket, s->cfg.endpoint, code);
        else if (r == -EACCES)
                set_error(s, "%s denied access to bucket %s (HTTP %ld, %s)", s->cfg.endpoint, s->cfg.bucket,
                          c->status, code);
        else
                set_error(s, "%s answered HTTP %ld (%s) to %s %s", s->cfg.endpoint, c->status, code, c->method,
                          c->what);
}

/* Run c with retries. 0 on 2xx; -ENOENT for a 404 that is not NoSuchBucket
 * (the caller decides whether that is an error). */
static int call(struct store_s3 *s, struct s3_call *c)
{
        int r;

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
                uint32_t rnd = 0;
                crypto_random(&rnd, sizeof(rnd));
                log_debug("Store %s: %s %s failed (%s), trying again", s->name, c->method, c->what, strerror(-r));
                if (!backoff_sleep(s, store_s3_wire_backoff_ms(attempt, STORE_S3_BACKOFF_MAX_MS, rnd)))
                        return -ECANCELED;
                pthread_mutex_lock(&s->lock);
                s->status.retries++;
                pthread_mutex_unlock(&s->lock);
        }
        if (r < 0 && c->status >= 300 && r != -ENOENT)
                refusal_error(s, c, r);
        else if (r < 0 && c->status >= 300 && r == -ENOENT && !strcmp(c->code, "NoSuchBucket"))
                refusal_error(s, c, r);
        free(c->err_body);
        c->err_body = NULL;
        return r;
}

static void call_init(struct store_s3 *s, struct s3_call *c, const char *method, const struct oid *pack,
                      const char *query)
{
        char hex[OID_HEX_SIZE];

        *c = (struct s3_call){ .method = method, .fd = -1, .what = "the bucket" };
        if (pack) {
                oid_to_hex(pack, hex);
                snprintf(c->url, sizeof(c->url), "%s/%s%s", s->bucket_url, s->cfg.prefix, hex);
                c->what = "a pack";
        } else {
                snprintf(c->url, sizeof(c->url), "%s%s?%s", s->bucket_url, s->cfg.virtual_host ? "/" : "",
                         query ? query : "");
        }
}

/* ---- store_ops ---------------------------------------------------------------------- */

static int s3_stat(struct store *st, const struct oid *pack, uint64_t *ret_size)
{
        struct store_s3 *s = s3_of(st);
        struct s3_call c;
        int r;

        call_init(s, &c, "HEAD", pack, NULL);
        r = call(s, &c);
        if (r < 0)
                return r;
        *ret_size = c.length;
        return 0;
}

static int s3_get(struct store *st, const struct oid *pack, uint64_t offset, size_t len, void *buf)
{
        struct store_s3 *s = s3_of(st);
        char range[80];
        struct s3_call c;
        int r;

        if (len == 0) {
                uint64_t size;
                r = s3_stat(st, pack, &size);
                return r < 0 ? r : offset > size ? -ERANGE : 0;
        }
        if (offset > UINT64_MAX - len)
                return -ERANGE;
        call_init(s, &c, "GET", pack, NULL);
        snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
        c.headers = curl_slist_append(NULL, range);
        if (!c.headers)
                return -ENOMEM;
        c.buf = buf;
        c.cap = len;
        r = call(s, &c);
        curl_slist_free_all(c.headers);
        if (r == -EBADMSG && c.status == 200)
                return -EPROTO; /* the whole object instead of the range: the service ignores Range */
        if (r < 0)
                return r;
        if (c.status == 200 && offset != 0)
                return -EPROTO;
        return c.got == len ? 0 : -ERANGE; /* a range past the end comes back short */
}

/* The pack's SHA-256 and, when wanted, its MD5 in base64 (Object Lock PUTs need Content-MD5). */
static int hash_file(int fd, uint64_t size, uint8_t sha[CRYPTO_SHA256_SIZE], char *md5_b64, size_t md5_size)
{
        struct crypto_sha256 *h = NULL;
        mbedtls_md5_context md5;
        uint8_t md5_digest[16];
        _cleanup_free_ uint8_t *buf = malloc(1u << 20);
        uint64_t pos = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        r = crypto_sha256_new(&h);
        if (r < 0)
                return r;
        mbedtls_md5_init(&md5);
        mbedtls_md5_starts_ret(&md5);
        while (pos < size) {
                size_t want = (size_t)MIN(size - pos, (uint64_t)(1u << 20));
                ssize_t n = pread(fd, buf, want, (off_t)pos);
                if (n <= 0) {
                        r = n < 0 ? -errno : -ENODATA;
                        break;
                }
                crypto_sha256_update(h, buf, (size_t)n);
                if (md5_b64)
                        mbedtls_md5_update_ret(&md5, buf, (size_t)n);
                pos += (uint64_t)n;
        }
        if (r < 0) {
                crypto_sha256_free(h);
                mbedtls_md5_free(&md5);
                return r;
        }
        r = crypto_sha256_final(h, sha);
        mbedtls_md5_finish_ret(&md5, md5_digest);
        mbedtls_md5_free(&md5);
        if (r >= 0 && md5_b64) {
                size_t olen = 0;
                if (mbedtls_base64_encode((unsigned char *)md5_b64, md5_size, &olen, md5_digest, sizeof(md5_digest)))
                        return -ENOBUFS;
        }
        return r;
}

static int s3_put(struct store *st, const struct oid *pack, int fd, uint64_t size, unsigned flags)
{
        struct store_s3 *s = s3_of(st);
        char hex[OID_HEX_SIZE], md5_b64[64], header[160];
        uint8_t sha[CRYPTO_SHA256_SIZE];
        bool lock = s->cfg.object_lock_days > 0;
        struct s3_call c;
        int r;

        if (!(flags & STORE_PUT_TRUSTED) || lock) {
                r = hash_file(fd, size, sha, lock ? md5_b64 : NULL, sizeof(md5_b64));
                if (r < 0)
                        return r;
                if (memcmp(sha, pack->bytes, sizeof(sha)) != 0)
                        return -EBADMSG;
        }
        if (lock) {
                /* a locked bucket keeps every version: do not add one for a pack it has */
                uint64_t have;
                r = s3_stat(st, pack, &have);
                if (r >= 0 && have == size) {
                        pthread_mutex_lock(&s->lock);
                        s->status.found_bytes += size;
                        pthread_mutex_unlock(&s->lock);
                        return 0;
                }
                if (r >= 0)
                        return -EEXIST;
                if (r != -ENOENT)
                        return r;
        }
        oid_to_hex(pack, hex);
        call_init(s, &c, "PUT", pack, NULL);
        c.payload_sha256 = hex; /* the pack id is its SHA-256 */
        c.fd = fd;
        c.size = size;
        if (lock) {
                time_t until = time(NULL) + (time_t)s->cfg.object_lock_days * 86400;
                struct tm tm;
                char date[40];
                gmtime_r(&until, &tm);
                strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
                c.headers = curl_slist_append(c.headers, "x-amz-object-lock-mode: COMPLIANCE");
                snprintf(header, sizeof(header), "x-amz-object-lock-retain-until-date: %s", date);
                c.headers = c.headers ? curl_slist_append(c.headers, header) : NULL;
                snprintf(header, sizeof(header), "Content-MD5: %s", md5_b64);
                c.headers = c.headers ? curl_slist_append(c.headers, header) : NULL;
                if (!c.headers)
                        return -ENOMEM;
        }
        r = call(s, &c);
        curl_slist_free_all(c.headers);
        if (r >= 0) {
                pthread_mutex_lock(&s->lock);
                s->status.uploaded_bytes += size;
                pthread_mutex_unlock(&s->lock);
        }
        return r;
}

struct list_state {
        struct store_s3 *s;
        store_list_fn fn;
        void *userdata;
        size_t max, n;
        char last[STORE_S3_TEXT_MAX + 1];
        int error;
};

static int list_one(void *userdata, const char *key, uint64_t size)
{
        struct list_state *l = userdata;
        size_t plen = strlen(l->s->cfg.prefix);
        char hex[OID_HEX_SIZE];
        struct oid id;

        if (strcmp(key, l->last) <= 0)
                return -EBADMSG; /* keys must increase, or a hostile service could loop us */
        snprintf(l->last, sizeof(l->last), "%s", key);
        if (strncmp(key, l->s->cfg.prefix, plen) || oid_from_hex(key + plen, &id) < 0)
                return 0; /* not a pack of ours: ignore it */
        oid_to_hex(&id, hex);
        if (strcmp(hex, key + plen))
                return 0; /* not the canonical (lower-case) name */
        if (l->n >= l->max)
                return 0;
        l->n++;
        return l->fn(l->userdata, &id, size);
}

static int s3_list(struct store *st, const struct oid *after, size_t max, store_list_fn fn, void *userdata,
                   int *ret_more)
{
        struct store_s3 *s = s3_of(st);
        struct list_state l = { .s = s, .fn = fn, .userdata = userdata, .max = max };
        _cleanup_free_ char *token = NULL, *start_after = NULL;
        char max_keys[24];
        int r;

        if (max == 0)
                return -EINVAL;
        if (after) {
                char hex[OID_HEX_SIZE];
                oid_to_hex(after, hex);
                if (asprintf(&start_after, "%s%s", s->cfg.prefix, hex) < 0)
                        return -ENOMEM;
                snprintf(l.last, sizeof(l.last), "%s", start_after);
        }
        for (;;) {
                _cleanup_free_ char *query = NULL;
                bool truncated = false;
                char *next = NULL;
                struct s3_call c;
                size_t want = MIN(max - l.n, (size_t)1000);
                snprintf(max_keys, sizeof(max_keys), "%zu", want);
                const char *pairs[] = { "list-type",          "2",
                                        "max-keys",           max_keys,
                                        "prefix",             s->cfg.prefix,
                                        "start-after",        token ? NULL : start_after,
                                        "continuation-token", token };
                r = store_s3_wire_query(pairs, ELEMENTSOF(pairs) / 2, &query);
                if (r < 0)
                        return r;
                call_init(s, &c, "GET", NULL, query);
                c.grow = true;
                c.cap = STORE_S3_XML_MAX;
                r = call(s, &c);
                if (r < 0) {
                        free(c.buf);
                        return r == -ENOENT ? -ENXIO : r;
                }
                r = store_s3_wire_parse_list(c.buf ? c.buf : "", c.got, list_one, &l, &truncated, &next);
                free(c.buf);
                if (r < 0) {
                        if (r == -EBADMSG)
                                set_error(s, "%s sent a listing of bucket %s that is not valid", s->cfg.endpoint,
                                          s->cfg.bucket);
                        return r;
                }
                free(token);
                token = next;
                if (!truncated) {
                        *ret_more = 0;
                        return 0;
                }
                if (l.n >= max) {
                        *ret_more = 1;
                        return 0;
                }
        }
}

/* 1 when the pack is under an Object Lock retention that has not expired. */
static int locked(const struct s3_call *c)
{
        struct tm tm = { 0 };
        const char *end;

        if (!c->retain_until[0])
                return 0;
        end = strptime(c->retain_until, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return 1; /* a date we cannot read: assume it holds */
        return timegm(&tm) > time(NULL);
}

static int s3_del(struct store *st, const struct oid *pack)
{
        struct store_s3 *s = s3_of(st);
        struct s3_call c;
        int r;

        call_init(s, &c, "HEAD", pack, NULL); /* DELETE answers 204 for a missing key too */
        r = call(s, &c);
        if (r < 0)
                return r;
        if (locked(&c)) {
                char hex[OID_HEX_SIZE];
                oid_to_hex(pack, hex);
                log_info("Store %s: pack %s is under Object Lock until %s, not deleting it", s->name, hex,
                         c.retain_until);
                return -EPERM;
        }
        call_init(s, &c, "DELETE", pack, NULL);
        return call(s, &c);
}

static int s3_prove(struct store *st, const struct oid *pack, const void *nonce, size_t nonce_len,
                    uint8_t ret_digest[CRYPTO_SHA256_SIZE])
{
        struct crypto_sha256 *h = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t size, pos = 0;
        int r;

        r = s3_stat(st, pack, &size);
        if (r < 0)
                return r;
        buf = malloc(STORE_S3_PROVE_RANGE);
        if (!buf)
                return -ENOMEM;
        r = crypto_sha256_new(&h);
        if (r < 0)
                return r;
        if (nonce_len)
                crypto_sha256_update(h, nonce, nonce_len);
        while (pos < size && r >= 0) {
                size_t n = (size_t)MIN(size - pos, (uint64_t)STORE_S3_PROVE_RANGE);
                r = s3_get(st, pack, pos, n, buf);
                if (r >= 0)
                        crypto_sha256_update(h, buf, n);
                pos += n;
        }
        if (r < 0) {
                crypto_sha256_free(h);
                return r;
        }
        return crypto_sha256_final(h, ret_digest);
}

static void s3_free(struct store *st)
{
        struct store_s3 *s = s3_of(st);

        if (!s)
                return;
        for (unsigned i = 0; i < s->n_idle; i++)
                curl_easy_cleanup(s->idle[i]);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        store_s3_wire_config_done(&s->cfg);
        if (s->userpwd)
                explicit_bzero(s->userpwd, strlen(s->userpwd));
        free(s->userpwd);
        free(s->sigv4);
        free(s->bucket_url);
        free(s->name);
        free(s);
}

static const struct store_ops s3_ops = {
        .kind = "s3",
        .put = s3_put,
        .get = s3_get,
        .stat = s3_stat,
        .list = s3_list,
        .del = s3_del,
        .prove = s3_prove,
        .free = s3_free,
};

/* ---- opening -------------------------------------------------------------------------- */

/* The one line of a key file that only its owner may read. */
static int read_key_file(const char *path, char *buf, size_t size, char *why, size_t why_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        ssize_t n;

        if (fd < 0) {
                int r = -errno;
                snprintf(why, why_size, "cannot open the key file %s: %s", path, strerror(errno));
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(why, why_size, "the key file %s is not a regular file", path);
                return -EINVAL;
        }
        if (st.st_mode & 077) {
                snprintf(why, why_size, "the key file %s may be read by others (mode %04o): chmod 600 it",
                         path, (unsigned)(st.st_mode & 07777));
                return -EPERM;
        }
        n = read(fd, buf, size - 1);
        if (n < 0) {
                int r = -errno;
                snprintf(why, why_size, "cannot read the key file %s: %s", path, strerror(errno));
                return r;
        }
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        if (n == 0 || (size_t)n == size - 1 || strpbrk(buf, "\n\r")) {
                snprintf(why, why_size, "the key file %s must hold one key on one line", path);
                return -EINVAL;
        }
        return 0;
}

static int read_keys(const struct store_s3_config *c, char *access, char *secret, char *why, size_t why_size)
{
        const char *bad = NULL;
        int r;

        if (store_s3_wire_config_check(c, &bad) < 0) {
                snprintf(why, why_size, "%s", bad);
                return -EINVAL;
        }
        r = read_key_file(c->access_key_file, access, KEY_FILE_MAX, why, why_size);
        if (r >= 0)
                r = read_key_file(c->secret_key_file, secret, KEY_FILE_MAX, why, why_size);
        if (r >= 0 && strchr(access, ':')) {
                snprintf(why, why_size, "the access key in %s has a ':'", c->access_key_file);
                r = -EINVAL;
        }
        return r;
}

int store_s3_check(const struct store_s3_config *c, char *why, size_t why_size)
{
        char access[KEY_FILE_MAX], secret[KEY_FILE_MAX];
        int r = read_keys(c, access, secret, why, why_size);

        explicit_bzero(secret, sizeof(secret));
        return r;
}

/* "http://host:port/bucket", or "http://bucket.host:port" (virtual host). */
static int bucket_url(const struct store_s3_config *c, char **ret)
{
        CURLU *u;
        char *host = NULL, *url = NULL;
        int r = -EINVAL;

        if (!c->virtual_host) {
                size_t n = strlen(c->endpoint);
                while (n > 0 && c->endpoint[n - 1] == '/')
                        n--;
                return asprintf(ret, "%.*s/%s", (int)n, c->endpoint, c->bucket) < 0 ? -ENOMEM : 0;
        }
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, c->endpoint, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                _cleanup_free_ char *vhost = NULL;
                if (asprintf(&vhost, "%s.%s", c->bucket, host) >= 0 &&
                    curl_url_set(u, CURLUPART_HOST, vhost, 0) == CURLUE_OK &&
                    curl_url_set(u, CURLUPART_PATH, "", 0) == CURLUE_OK &&
                    curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK) {
                        size_t n = strlen(url);
                        while (n > 0 && url[n - 1] == '/')
                                url[--n] = '\0';
                        *ret = strdup(url);
                        r = *ret ? 0 : -ENOMEM;
                }
        }
        curl_free(host);
        curl_free(url);
        curl_url_cleanup(u);
        return r;
}

int store_s3_new(const char *name, const char *config, struct store **ret)
{
        struct store_s3 *s;
        char access[KEY_FILE_MAX], secret[KEY_FILE_MAX], why[512];
        int r;

        pthread_once(&curl_once, curl_init_once);
        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->base.ops = &s3_ops;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->name = strdup(name);
        if (!s->name) {
                s3_free(&s->base);
                return log_oom();
        }
        r = store_s3_wire_config_parse(config, &s->cfg);
        if (r < 0) {
                log_error_errno(r, "Store %s: its configuration cannot be read", name);
                s3_free(&s->base);
                return r;
        }
        r = read_keys(&s->cfg, access, secret, why, sizeof(why));
        if (r < 0) {
                log_error_errno(r, "Store %s: %s, refusing it", name, why);
                s3_free(&s->base);
                return r;
        }
        if (asprintf(&s->userpwd, "%s:%s", access, secret) < 0)
                s->userpwd = NULL;
        explicit_bzero(secret, sizeof(secret));
        if (asprintf(&s->sigv4, "aws:amz:%s:s3", s->cfg.region) < 0)
                s->sigv4 = NULL;
        r = bucket_url(&s->cfg, &s->bucket_url);
        if (r < 0 || !s->userpwd || !s->sigv4) {
                r = r < 0 ? r : -ENOMEM;
                log_error_errno(r, "Store %s: cannot make the bucket's URL from %s", name, s->cfg.endpoint);
                s3_free(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

void store_s3_get_status(struct store *st, struct store_s3_status *ret)
{
        struct store_s3 *s = s3_of(st);

        pthread_mutex_lock(&s->lock);
        *ret = s->status;
        pthread_mutex_unlock(&s->lock);
}

void store_s3_shutdown(struct store *st)
{
        struct store_s3 *s = s3_of(st);

        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}
