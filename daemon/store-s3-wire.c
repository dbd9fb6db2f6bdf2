/* SPDX-License-Identifier: MIT */
/* The pure parts of the S3 store: config text, canonical queries, the XML of
 * ListObjectsV2 and error bodies (parsed with expat; a DTD is refused, every
 * text is capped) and the retry rules. No curl handle, no logging, no I/O;
 * unit-tested on hostile inputs (tests/unit/test-store-s3-wire.c). */
#include "store-s3-wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* ---- configuration ------------------------------------------------------------------ */

void store_s3_wire_config_done(struct store_s3_config *c)
{
        free(c->endpoint);
        free(c->bucket);
        free(c->prefix);
        free(c->region);
        free(c->access_key_file);
        free(c->secret_key_file);
        *c = (struct store_s3_config){0};
}

static int set_text(char **field, const char *value)
{
        char *v = strdup(value);

        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static int config_set(struct store_s3_config *c, const char *key, const char *value)
{
        if (!strcmp(key, "endpoint"))
                return set_text(&c->endpoint, value);
        if (!strcmp(key, "bucket"))
                return set_text(&c->bucket, value);
        if (!strcmp(key, "prefix"))
                return set_text(&c->prefix, value);
        if (!strcmp(key, "region"))
                return set_text(&c->region, value);
        if (!strcmp(key, "access_key_file"))
                return set_text(&c->access_key_file, value);
        if (!strcmp(key, "secret_key_file"))
                return set_text(&c->secret_key_file, value);
        if (!strcmp(key, "virtual_host")) {
                if (strcmp(value, "0") && strcmp(value, "1"))
                        return -EINVAL;
                c->virtual_host = value[0] == '1';
                return 0;
        }
        if (!strcmp(key, "object_lock_days")) {
                char *end;
                unsigned long v;
                if (value[0] < '0' || value[0] > '9')
                        return -EINVAL;
                errno = 0;
                v = strtoul(value, &end, 10);
                if (errno || *end || v > 36500)
                        return -EINVAL;
                c->object_lock_days = (unsigned)v;
                return 0;
        }
        return -EINVAL;
}

int store_s3_wire_config_parse(const char *text, struct store_s3_config *ret)
{
        struct store_s3_config c = {0};
        _cleanup_free_ char *copy = strdup(text ? text : "");
        char *save = NULL;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (!eq) {
                        r = -EINVAL;
                        break;
                }
                *eq = '\0';
                r = config_set(&c, line, eq + 1);
        }
        if (r >= 0 && !c.region)
                r = set_text(&c.region, "us-east-1");
        if (r >= 0 && !c.prefix)
                r = set_text(&c.prefix, "");
        if (r >= 0 && (!c.endpoint || !c.bucket || !c.access_key_file || !c.secret_key_file))
                r = -EINVAL;
        if (r < 0) {
                store_s3_wire_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* A "." or ".." segment: an HTTP client folds it out of the path, and the
 * listing's prefix= would then name another place than the objects. */
static bool dot_segment(const char *prefix)
{
        for (const char *p = prefix; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return true;
                p += n;
                if (*p == '/')
                        p++;
        }
        return false;
}

static bool only_chars(const char *s, const char *extra)
{
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
                        return false;
        return true;
}

int store_s3_wire_config_check(const struct store_s3_config *c, const char **ret_why)
{
        const char *why = NULL;
        size_t n;

        if (!c->endpoint || (strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8)))
                why = "the endpoint must be an http:// or https:// URL";
        else if (strlen(c->endpoint) > 512 || strpbrk(c->endpoint, " \t\r\n?#"))
                why = "the endpoint must be a plain URL of at most 512 characters";
        else if (!c->bucket || (n = strlen(c->bucket)) < 3 || n > 63 || !only_chars(c->bucket, ".-"))
                why = "a bucket name has 3 to 63 characters: a-z, 0-9, '.' and '-'";
        else if (!c->prefix || strlen(c->prefix) > 256 ||
                 !only_chars(c->prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ._/-") || c->prefix[0] == '/' ||
                 dot_segment(c->prefix))
                why = "a prefix has at most 256 characters: letters, digits, '.', '_', '-' and '/', "
                      "not starting with '/', without '.' or '..' between slashes";
        else if (!c->region || !*c->region || strlen(c->region) > 64 ||
                 !only_chars(c->region, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"))
                why = "a region is letters, digits, '-' and '_'";
        else if (!c->access_key_file || c->access_key_file[0] != '/' || strchr(c->access_key_file, '\n') ||
                 !c->secret_key_file || c->secret_key_file[0] != '/' || strchr(c->secret_key_file, '\n'))
                why = "the access and secret key files must be absolute paths";
        if (why) {
                if (ret_why)
                        *ret_why = why;
                return -EINVAL;
        }
        return 0;
}

int store_s3_wire_config_format(const struct store_s3_config *c, char **ret)
{
        char *text = NULL;
        int n;

        n = asprintf(&text,
                     "endpoint=%s\nbucket=%s\nprefix=%s\nregion=%s\naccess_key_file=%s\nsecret_key_file=%s\n"
                     "virtual_host=%d\nobject_lock_days=%u\n",
                     c->endpoint, c->bucket, c->prefix ? c->prefix : "", c->region ? c->region : "us-east-1",
                     c->access_key_file, c->secret_key_file, c->virtual_host ? 1 : 0, c->object_lock_days);
        if (n < 0)
                return -ENOMEM;
        *ret = text;
        return 0;
}

/* ---- canonical queries ------------------------------------------------------------- */

int store_s3_wire_encode(const char *s, char **ret)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out, *p;

        if (n > SIZE_MAX / 3 - 1)
                return -ENOMEM;
        out = p = malloc(3 * n + 1);
        if (!out)
                return -ENOMEM;
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
                        *p++ = (char)ch;
                } else {
                        *p++ = '%';
                        *p++ = hex[ch >> 4];
                        *p++ = hex[ch & 15];
                }
        }
        *p = '\0';
        *ret = out;
        return 0;
}

struct query_pair {
        char *name, *value;
};

static int pair_cmp(const void *a, const void *b)
{
        const struct query_pair *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c ? c : strcmp(x->value, y->value);
}

int store_s3_wire_query(const char *const *pairs, size_t n, char **ret)
{
        struct query_pair *enc = calloc(n ? n : 1, sizeof(*enc));
        size_t m = 0, total = 1;
        char *out = NULL;
        int r = 0;

        if (!enc)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!pairs[2 * i + 1])
                        continue;
                r = store_s3_wire_encode(pairs[2 * i], &enc[m].name);
                if (r >= 0)
                        r = store_s3_wire_encode(pairs[2 * i + 1], &enc[m].value);
                if (r >= 0) {
                        total += strlen(enc[m].name) + strlen(enc[m].value) + 2;
                        m++;
                } else {
                        free(enc[m].name);
                }
        }
        if (r >= 0) {
                qsort(enc, m, sizeof(*enc), pair_cmp);
                out = malloc(total);
                if (!out)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                char *p = out;
                *p = '\0';
                for (size_t i = 0; i < m; i++)
                        p += sprintf(p, "%s%s=%s", i ? "&" : "", enc[i].name, enc[i].value);
                *ret = out;
        }
        for (size_t i = 0; i < m; i++) {
                free(enc[i].name);
                free(enc[i].value);
        }
        free(enc);
        return r;
}

/* ---- XML ---------------------------------------------------------------------------- */

enum xml_field { FIELD_NONE, FIELD_KEY, FIELD_SIZE, FIELD_TRUNCATED, FIELD_TOKEN, FIELD_CODE };

struct xml_state {
        XML_Parser parser;
        unsigned depth;
        bool in_contents;
        enum xml_field field;
        char text[STORE_S3_TEXT_MAX + 1];
        size_t text_len;
        /* the Contents being read */
        char key[STORE_S3_TEXT_MAX + 1];
        bool have_key, have_size;
        uint64_t size;
        /* results */
        store_s3_wire_list_fn fn;
        void *userdata;
        bool truncated;
        bool listing;        /* the root is ListBucketResult */
        bool have_truncated; /* it said IsTruncated */
        size_t keys;         /* Contents on the page */
        char *token;
        char *code;
        size_t code_size;
        int error;
};

static void xml_fail(struct xml_state *st, int error)
{
        if (st->error == 0)
                st->error = error;
        XML_StopParser(st->parser, XML_FALSE);
}

/* The local name of an element ("ListBucketResult" of "s3:ListBucketResult" or with a namespace URI). */
static const char *local_name(const char *name)
{
        const char *sep = strrchr(name, '|'); /* the namespace separator we asked expat for */

        return sep ? sep + 1 : name;
}

static void on_start(void *userdata, const XML_Char *name, const XML_Char **attrs)
{
        struct xml_state *st = userdata;
        const char *n = local_name(name);

        (void)attrs;
        if (++st->depth > 16) {
                xml_fail(st, -EBADMSG);
                return;
        }
        st->field = FIELD_NONE;
        st->text_len = 0;
        if (st->depth == 1) {
                st->listing = !strcmp(n, "ListBucketResult");
        } else if (st->depth == 2 && !strcmp(n, "Contents")) {
                st->in_contents = true;
                st->have_key = st->have_size = false;
        } else if (st->depth == 3 && st->in_contents && !strcmp(n, "Key")) {
                st->field = FIELD_KEY;
        } else if (st->depth == 3 && st->in_contents && !strcmp(n, "Size")) {
                st->field = FIELD_SIZE;
        } else if (st->depth == 2 && !strcmp(n, "IsTruncated")) {
                st->field = FIELD_TRUNCATED;
        } else if (st->depth == 2 && !strcmp(n, "NextContinuationToken")) {
                st->field = FIELD_TOKEN;
        } else if (st->depth == 2 && !strcmp(n, "Code")) {
                st->field = FIELD_CODE;
        }
}

static void on_text(void *userdata, const XML_Char *s, int len)
{
        struct xml_state *st = userdata;

        if (st->field == FIELD_NONE || len <= 0)
                return;
        if ((size_t)len > STORE_S3_TEXT_MAX - st->text_len) {
                xml_fail(st, -EBADMSG);
                return;
        }
        memcpy(st->text + st->text_len, s, (size_t)len);
        st->text_len += (size_t)len;
}

static int parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!*s || strlen(s) > 20)
                return -EBADMSG;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EBADMSG;
                if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        *ret = v;
        return 0;
}

static void on_end(void *userdata, const XML_Char *name)
{
        struct xml_state *st = userdata;
        const char *n = local_name(name);

        st->text[st->text_len] = '\0';
        if (strlen(st->text) != st->text_len) { /* a NUL (as &#0; is refused by expat, but be sure) */
                xml_fail(st, -EBADMSG);
                return;
        }
        switch (st->field) {
        case FIELD_KEY:
                memcpy(st->key, st->text, st->text_len + 1);
                st->have_key = true;
                break;
        case FIELD_SIZE:
                if (parse_u64(st->text, &st->size) < 0) {
                        xml_fail(st, -EBADMSG);
                        return;
                }
                st->have_size = true;
                break;
        case FIELD_TRUNCATED:
                if (strcmp(st->text, "true") && strcmp(st->text, "false")) {
                        xml_fail(st, -EBADMSG); /* a listing must never end early by a misreading */
                        return;
                }
                st->truncated = !strcmp(st->text, "true");
                st->have_truncated = true;
                break;
        case FIELD_TOKEN:
                free(st->token);
                st->token = strdup(st->text);
                if (!st->token)
                        xml_fail(st, -ENOMEM);
                break;
        case FIELD_CODE:
                if (st->code)
                        snprintf(st->code, st->code_size, "%s", st->text);
                break;
        case FIELD_NONE:
                break;
        }
        st->field = FIELD_NONE;
        st->text_len = 0;
        if (st->depth == 2 && st->in_contents && !strcmp(n, "Contents")) {
                st->in_contents = false;
                if (!st->have_key || !st->have_size) {
                        xml_fail(st, -EBADMSG);
                        return;
                }
                st->keys++;
                if (st->fn) {
                        int r = st->fn(st->userdata, st->key, st->size);
                        if (r < 0)
                                xml_fail(st, r);
                }
        }
        st->depth--;
}

static void on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
        (void)name;
        (void)sysid;
        (void)pubid;
        (void)has_internal_subset;
        xml_fail(userdata, -EBADMSG); /* no DTD, no entities: S3 never sends one */
}

/* Parse xml; with final false it may be the start of a longer document
 * (an error body cut short), which is not an error by itself. */
static int xml_run(struct xml_state *st, const char *xml, size_t len, bool final)
{
        XML_Parser p;
        int r = 0;

        if (len > STORE_S3_XML_MAX || len > INT32_MAX)
                return -EBADMSG;
        p = XML_ParserCreateNS(NULL, '|');
        if (!p)
                return -ENOMEM;
        st->parser = p;
        XML_SetUserData(p, st);
        XML_SetElementHandler(p, on_start, on_end);
        XML_SetCharacterDataHandler(p, on_text);
        XML_SetStartDoctypeDeclHandler(p, on_doctype);
        if (XML_Parse(p, xml, (int)len, final ? XML_TRUE : XML_FALSE) != XML_STATUS_OK)
                r = st->error < 0 ? st->error : -EBADMSG;
        XML_ParserFree(p);
        return r;
}

int store_s3_wire_parse_list(const char *xml, size_t len, store_s3_wire_list_fn fn, void *userdata,
                             bool *ret_truncated, char **ret_token, size_t *ret_keys)
{
        struct xml_state *st = calloc(1, sizeof(*st));
        int r;

        if (!st)
                return -ENOMEM;
        st->fn = fn;
        st->userdata = userdata;
        r = xml_run(st, xml, len, true);
        /* Another document (an <Error> with a 200, a page of something
         * else) or no word on whether more follows is no listing: taken as
         * an empty, complete one, it would make a reindex drop every pack
         * the store holds. */
        if (r >= 0 && (!st->listing || !st->have_truncated))
                r = -EBADMSG;
        if (r >= 0 && st->truncated && (!st->token || !*st->token))
                r = -EBADMSG; /* truncated, yet no way to go on */
        if (r >= 0) {
                *ret_truncated = st->truncated;
                *ret_token = st->truncated ? TAKE_PTR(st->token) : NULL;
                if (ret_keys)
                        *ret_keys = st->keys;
        }
        free(st->token);
        free(st);
        return r;
}

void store_s3_wire_parse_error(const char *xml, size_t len, bool cut, char *code, size_t size)
{
        struct xml_state *st;

        if (size == 0)
                return;
        code[0] = '\0';
        st = calloc(1, sizeof(*st));
        if (!st)
                return;
        st->code = code;
        st->code_size = size;
        /* a body cut short (only its first bytes are kept): a Code closed
         * before the cut counts, malformed XML before it does not */
        if (xml_run(st, xml, len, !cut) < 0)
                code[0] = '\0';
        for (char *p = code; *p; p++) /* a code is a word; keep logs clean */
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '-' || *p == '_'))
                        *p = '?';
        free(st->token);
        free(st);
}

/* ---- retries ---------------------------------------------------------------------- */

bool store_s3_wire_retry_status(long status)
{
        return status >= 500 || status == 429 || status == 408;
}

bool store_s3_wire_retry_curl(int curl_code)
{
        switch (curl_code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SEND_FAIL_REWIND: /* the body could not be sent again: a new attempt can */
                return true;
        default:
                return false;
        }
}

int store_s3_wire_curl_errno(int curl_code)
{
        switch (curl_code) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
                return -ECONNRESET;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_WRITE_ERROR:
                return -EBADMSG; /* a body over what we read, or not what we asked */
        case CURLE_READ_ERROR:
                return -EIO;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        default:
                return -EPROTO;
        }
}

int store_s3_wire_status_errno(long status, const char *code)
{
        code = code ? code : "";
        if (status >= 200 && status < 300)
                return 0;
        if (!strcmp(code, "NoSuchBucket"))
                return -ENXIO;
        if (!strcmp(code, "BadDigest") || !strcmp(code, "XAmzContentSHA256Mismatch") ||
            !strcmp(code, "InvalidDigest"))
                return -EBADMSG;
        if (!strcmp(code, "RequestTimeTooSkewed"))
                return -ETIME; /* our clock, not a refusal of our key */
        if (status == 403 || status == 401)
                return -EACCES;
        if (status == 404)
                return -ENOENT;
        if (status == 416)
                return -ERANGE;
        if (store_s3_wire_retry_status(status))
                return -EAGAIN;
        return -EPROTO;
}

unsigned store_s3_wire_backoff_ms(unsigned attempt, unsigned max_ms, uint32_t rnd)
{
        uint64_t wait = 250;

        for (unsigned i = 1; i < attempt && wait < max_ms; i++)
                wait *= 2;
        if (wait > max_ms)
                wait = max_ms;
        return (unsigned)(wait / 2 + (wait / 2) * rnd / UINT32_MAX);
}
