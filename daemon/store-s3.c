/* SPDX-License-Identifier: MIT */
/* The S3 store's store_ops (one PUT per pack, with Object Lock headers when
 * asked; ranged GET; HEAD; ListObjectsV2 pages; DELETE that spares locked
 * packs; prove by ranged reads hashed here) and its opening (config, key
 * files that must be 0600, the bucket's URL). One request and its retries:
 * store-s3-http.c; the XML and the rules: store-s3-wire.c. */
#include "store-s3-private.h"

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
#include "cond.h"
#include "crypto.h"
#include "hex.h"
#include "log.h"
#include "test-hook.h"

#define KEY_FILE_MAX 256

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

/* ---- store_ops ---------------------------------------------------------------------- */

/* 1 when the pack is under an Object Lock retention that has not expired. */
static int locked(const struct store_s3_call *c)
{
        struct tm tm = {0};
        const char *end;

        if (!c->retain_until[0])
                return 0;
        end = strptime(c->retain_until, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return 1; /* a date we cannot read: assume it holds */
        return timegm(&tm) > time(NULL);
}

/* HEAD of pack: its size; its ETag (without quotes, NUL-terminated, at most
 * etag_size bytes) when etag is not NULL; whether it is under a retention
 * that has not expired when ret_locked is not NULL. */
static int s3_stat_etag(struct store *st, const struct oid *pack, uint64_t *ret_size, char *etag, size_t etag_size,
                        bool *ret_locked)
{
        struct store_s3 *s = s3_of(st);
        struct store_s3_call c;
        int r;

        store_s3_http_init(s, &c, "HEAD", pack, NULL);
        r = store_s3_http_call(s, &c);
        if (r < 0)
                return r;
        if (!c.have_length) {
                /* taken as 0, a good copy would look damaged: ask again later */
                store_s3_http_set_error(s, "%s answered a HEAD of %s without a Content-Length", s->cfg.endpoint,
                                        c.what);
                return -EPROTO;
        }
        *ret_size = c.length;
        if (etag)
                snprintf(etag, etag_size, "%s", c.etag);
        if (ret_locked)
                *ret_locked = locked(&c);
        return 0;
}

static int s3_stat(struct store *st, const struct oid *pack, uint64_t *ret_size)
{
        return s3_stat_etag(st, pack, ret_size, NULL, 0, NULL);
}

static int s3_get(struct store *st, const struct oid *pack, uint64_t offset, size_t len, void *buf)
{
        struct store_s3 *s = s3_of(st);
        char range[80];
        struct store_s3_call c;
        int r;

        if (len == 0) {
                uint64_t size;
                r = s3_stat(st, pack, &size);
                return r < 0 ? r : offset > size ? -ERANGE : 0;
        }
        if (offset > UINT64_MAX - len)
                return -ERANGE;
        store_s3_http_init(s, &c, "GET", pack, NULL);
        snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, offset, offset + len - 1);
        if (store_s3_http_header(&c.headers, range) < 0)
                return -ENOMEM;
        c.buf = buf;
        c.cap = len;
        r = store_s3_http_call(s, &c);
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
static int hash_file(int fd, uint64_t size, uint8_t sha[CRYPTO_SHA256_SIZE], char *md5_b64, size_t md5_size,
                     char md5_hex[33])
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
        if (r >= 0 && md5_hex)
                hex_encode(md5_digest, sizeof(md5_digest), md5_hex);
        if (r >= 0 && md5_b64) {
                size_t olen = 0;
                if (mbedtls_base64_encode((unsigned char *)md5_b64, md5_size, &olen, md5_digest,
                                          sizeof(md5_digest)))
                        return -ENOBUFS;
        }
        return r;
}

/* 1 when the locked bucket holds pack as size bytes whose ETag is md5_hex
 * (what a PUT of these bytes made) under a retention still running, 0 when
 * not (a version whose lock expired, or that never had one, gets a new,
 * locked one), or -errno. */
static int s3_have_locked(struct store *st, const struct oid *pack, uint64_t size, const char *md5_hex)
{
        char etag[80];
        uint64_t have;
        bool held = false;
        int r = s3_stat_etag(st, pack, &have, etag, sizeof(etag), &held);

        /* AWS answers a HEAD of a missing key 403 (no body, no Code) when
         * the key may not list the bucket (s3:ListBucket): not known to be
         * there, and the PUT that follows says whether access is denied */
        if (r == -ENOENT || r == -EACCES)
                return 0;
        if (r < 0)
                return r;
        return have == size && !strcasecmp(etag, md5_hex) && held;
}

struct s3_have {
        struct store *st;
        const struct oid *pack;
        uint64_t size;
        const char *md5_hex;
};

static bool s3_put_done_already(void *arg)
{
        struct s3_have *h = arg;

        return s3_have_locked(h->st, h->pack, h->size, h->md5_hex) > 0;
}

static int s3_put(struct store *st, const struct oid *pack, int fd, uint64_t size, unsigned flags)
{
        struct store_s3 *s = s3_of(st);
        char hex[OID_HEX_SIZE], md5_b64[64], md5_hex[33], header[160];
        uint8_t sha[CRYPTO_SHA256_SIZE];
        bool lock = s->cfg.object_lock_days > 0;
        struct store_s3_call c;
        int r;

        if (!(flags & STORE_PUT_TRUSTED) || lock) {
                r = hash_file(fd, size, sha, lock ? md5_b64 : NULL, sizeof(md5_b64), lock ? md5_hex : NULL);
                if (r < 0)
                        return r;
                if (memcmp(sha, pack->bytes, sizeof(sha)) != 0)
                        return -EBADMSG;
        }
        if (lock && !(flags & STORE_PUT_REPLACE)) {
                /* A locked bucket keeps every version: add none for a pack it
                 * has. Has: the same size and, as the ETag of a single PUT is
                 * its MD5, the same bytes as sent. A copy found damaged since
                 * (a PROVE that failed, a delete the lock refused) keeps that
                 * ETag: STORE_PUT_REPLACE gives it a new version, which GET
                 * and PROVE read from then on. */
                r = s3_have_locked(st, pack, size, md5_hex);
                if (r > 0) {
                        pthread_mutex_lock(&s->lock);
                        s->status.found_bytes += size;
                        pthread_mutex_unlock(&s->lock);
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        oid_to_hex(pack, hex);
        store_s3_http_init(s, &c, "PUT", pack, NULL);
        c.payload_sha256 = hex; /* the pack id is its SHA-256 */
        c.fd = fd;
        c.size = size;
        struct s3_have have = { .st = st, .pack = pack, .size = size, .md5_hex = md5_hex };
        if (lock) {
                /* a retry after an answer lost on the way looks first: a
                 * second locked version could not be deleted for the days
                 * of the lock (and is billed for them) */
                c.done_already = s3_put_done_already;
                c.done_already_arg = &have;
                time_t until = time(NULL) + (time_t)s->cfg.object_lock_days * 86400;
                struct tm tm;
                char date[40];
                gmtime_r(&until, &tm);
                strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
                r = store_s3_http_header(&c.headers, "x-amz-object-lock-mode: COMPLIANCE");
                snprintf(header, sizeof(header), "x-amz-object-lock-retain-until-date: %s", date);
                if (r >= 0)
                        r = store_s3_http_header(&c.headers, header);
                snprintf(header, sizeof(header), "Content-MD5: %s", md5_b64);
                if (r >= 0)
                        r = store_s3_http_header(&c.headers, header);
                if (r < 0) {
                        curl_slist_free_all(c.headers);
                        return r;
                }
        }
        test_hook_pause("s3-put"); /* a test stops the service here, mid-upload */
        r = store_s3_http_call(s, &c);
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
        uint64_t foreign;  /* keys in a row that are not packs of ours */
        uint64_t foreign_max;
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
        if (strncmp(key, l->s->cfg.prefix, plen) || oid_from_hex(key + plen, &id) < 0 ||
            (oid_to_hex(&id, hex), strcmp(hex, key + plen))) {
                /* not a pack of ours (or not its canonical, lower-case
                 * name): ignored, but a service cannot page us through
                 * foreign keys for ever */
                return ++l->foreign > l->foreign_max ? -ELOOP : 0;
        }
        if (l->n >= l->max)
                return -EBADMSG; /* more than the max-keys asked for */
        l->foreign = 0;
        l->n++;
        return l->fn(l->userdata, &id, size);
}

/* Truncated pages in a row that list nothing before a listing counts as invalid. */
#define S3_LIST_EMPTY_MAX 16
/* Keys in a row under the prefix that are not packs before a listing stops:
 * a bucket shared with other data is fine, a service that pages on through
 * made-up keys is not (keys must increase, so it cannot loop). */
#define S3_LIST_FOREIGN_MAX 10000000

static int s3_list(struct store *st, const struct oid *after, size_t max, store_list_fn fn, void *userdata,
                   int *ret_more)
{
        struct store_s3 *s = s3_of(st);
        struct list_state l = {.s = s, .fn = fn, .userdata = userdata, .max = max, .foreign_max = s->foreign_max};
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
        /* pages that are truncated yet list nothing: a service that loops
         * (the same token again) is stopped after a few */
        unsigned empty_pages = 0;
        for (;;) {
                _cleanup_free_ char *query = NULL;
                bool truncated = false;
                char *next = NULL;
                size_t keys = 0;
                struct store_s3_call c;
                size_t want = MIN(max - l.n, s->max_keys);
                snprintf(max_keys, sizeof(max_keys), "%zu", want);
                const char *pairs[] = {"list-type",
                                       "2",
                                       "max-keys",
                                       max_keys,
                                       "prefix",
                                       s->cfg.prefix,
                                       "start-after",
                                       token ? NULL : start_after,
                                       "continuation-token",
                                       token};
                r = store_s3_wire_query(pairs, ELEMENTSOF(pairs) / 2, &query);
                if (r < 0)
                        return r;
                store_s3_http_init(s, &c, "GET", NULL, query);
                c.grow = true;
                c.cap = STORE_S3_XML_MAX;
                r = store_s3_http_call(s, &c);
                if (r < 0) {
                        free(c.buf);
                        return r == -ENOENT ? -ENXIO : r;
                }
                r = store_s3_wire_parse_list(c.buf ? c.buf : "", c.got, list_one, &l, &truncated, &next, &keys);
                free(c.buf);
                if (r >= 0 && keys > want) {
                        free(next);
                        r = -EBADMSG; /* more than the max-keys asked for */
                }
                if (r >= 0 && truncated && (keys > 0 ? (empty_pages = 0) : ++empty_pages) > S3_LIST_EMPTY_MAX) {
                        free(next);
                        r = -EBADMSG;
                }
                if (r == -ELOOP) {
                        store_s3_http_set_error(s,
                                                "%s listed more than %" PRIu64 " keys in a row under prefix \"%s\" "
                                                "of bucket %s that are not packs; give the store a prefix of its own",
                                                s->cfg.endpoint, l.foreign_max, s->cfg.prefix, s->cfg.bucket);
                        return -EBADMSG;
                }
                if (r < 0) {
                        if (r == -EBADMSG)
                                store_s3_http_set_error(s,
                                                        "%s sent a listing of bucket %s that is not valid",
                                                        s->cfg.endpoint, s->cfg.bucket);
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

static int s3_del(struct store *st, const struct oid *pack)
{
        struct store_s3 *s = s3_of(st);
        struct store_s3_call c;
        int r;

        store_s3_http_init(s, &c, "HEAD", pack, NULL); /* DELETE answers 204 for a missing key too */
        r = store_s3_http_call(s, &c);
        if (r < 0)
                return r;
        if (locked(&c)) {
                char hex[OID_HEX_SIZE];
                oid_to_hex(pack, hex);
                log_info("Store %s: pack %s is under Object Lock until %s, not deleting it", s->name, hex,
                         c.retain_until);
                return -EPERM;
        }
        store_s3_http_init(s, &c, "DELETE", pack, NULL);
        return store_s3_http_call(s, &c);
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

/* The last error, one sentence (which bucket, which key file, what the server said). */
static int s3_explain(struct store *st, int r, char *buf, size_t size)
{
        struct store_s3 *s = s3_of(st);
        int have;

        (void)r;
        pthread_mutex_lock(&s->lock);
        have = s->status.error[0] != '\0';
        if (have)
                snprintf(buf, size, "%s", s->status.error);
        pthread_mutex_unlock(&s->lock);
        return have;
}

static const struct store_ops s3_ops = {
        .kind = "s3",
        .put = s3_put,
        .get = s3_get,
        .stat = s3_stat,
        .list = s3_list,
        .del = s3_del,
        .prove = s3_prove,
        .explain = s3_explain,
        .free = s3_free,
};

/* ---- opening -------------------------------------------------------------------------- */

/* The one line of a key file that only its owner may read. */
static int read_key_file(const char *path, char *buf, size_t size, char *why, size_t why_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
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
        s->max_keys = 1000;
        if (getenv("CHUTE_TEST_HOOK_DIR") && getenv("CHUTE_TEST_S3_MAX_KEYS")) /* tests: many pages */
                s->max_keys = (size_t)strtoul(getenv("CHUTE_TEST_S3_MAX_KEYS"), NULL, 10) ?: 1000;
        s->foreign_max = S3_LIST_FOREIGN_MAX;
        if (getenv("CHUTE_TEST_S3_FOREIGN_MAX")) /* tests: reach the cap with a few pages */
                s->foreign_max = strtoull(getenv("CHUTE_TEST_S3_FOREIGN_MAX"), NULL, 10) ?: S3_LIST_FOREIGN_MAX;
        pthread_mutex_init(&s->lock, NULL);
        s->name = strdup(name);
        if (cond_init_monotonic(&s->cond) < 0 || !s->name) {
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
