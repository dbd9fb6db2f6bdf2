/* SPDX-License-Identifier: MIT */
/* The parts of the blob store that are plain data (see blob-index.h): the
 * index.json a client POSTs, blob ids, and the list of byte ranges an
 * upload has received, with its text form (the staging file "ranges"). */
#include "blob-index.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "hex.h"

static bool is_hex(const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (hex_digit(p[i]) < 0)
                        return false;
        return true;
}

bool blob_id_valid(const char *id, size_t len)
{
        if (len != BLOB_ID_LEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        return true;
}

/* A media type: token "/" token, no parameters needed; bounded. */
static bool type_ok(const char *t)
{
        size_t n = strlen(t), slash = 0;
        if (n == 0 || n > 127)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = t[i];
                if (c == '/') {
                        if (slash++ || i == 0 || i == n - 1)
                                return false;
                } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             strchr("!#$&^_.+-", c)))
                        return false;
        }
        return slash == 1;
}

int blob_index_check(const char *text, size_t len, json_t **ret, char *err, size_t errlen)
{
        json_error_t e;
        if (len > BLOB_MAX_INDEX) {
                snprintf(err, errlen, "index.json is limited to %d bytes", BLOB_MAX_INDEX);
                return -E2BIG;
        }
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
        if (!doc) {
                snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)", e.text, e.line, e.column);
                return -EINVAL;
        }
        json_t *out = json_object();
        const char *key;
        json_t *v;
        int r = out ? 0 : -ENOMEM;
        if (r == 0 && !json_is_object(doc)) {
                snprintf(err, errlen, "index.json must be a JSON object");
                r = -EINVAL;
        }
        json_object_foreach(doc, key, v)
        {
                if (r < 0)
                        break;
                r = -EINVAL;
                if (!strcmp(key, "size")) {
                        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                            (uint64_t)json_integer_value(v) > BLOB_MAX_SIZE)
                                snprintf(err, errlen, "\"size\" must be an integer from 0 to %" PRIu64,
                                         BLOB_MAX_SIZE);
                        else
                                r = 0;
                } else if (!strcmp(key, "name")) {
                        const char *s = json_string_value(v);
                        size_t n = json_string_length(v);
                        if (!s || n == 0 || n > 255 || strlen(s) != n || strchr(s, '/'))
                                snprintf(err, errlen,
                                         "\"name\" must be a string of 1 to 255 bytes without \"/\"");
                        else
                                r = 0;
                } else if (!strcmp(key, "type")) {
                        if (!json_is_string(v) || !type_ok(json_string_value(v)))
                                snprintf(err, errlen, "\"type\" must be a media type such as \"image/png\"");
                        else
                                r = 0;
                } else if (!strcmp(key, "sha256")) {
                        const char *s = json_string_value(v);
                        if (!s || json_string_length(v) != 64 || !is_hex(s, 64))
                                snprintf(err, errlen, "\"sha256\" must be 64 hex digits");
                        else {
                                char low[65];
                                for (size_t i = 0; i < 65; i++)
                                        low[i] =
                                                (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
                                json_object_set_new(out, key, json_string(low));
                                r = 0;
                                continue;
                        }
                } else
                        snprintf(err, errlen, "unknown key \"%s\" (index.json has size, name, type, sha256)",
                                 key);
                if (r == 0)
                        json_object_set(out, key, v);
        }
        if (r == 0 && !json_object_get(out, "size")) {
                snprintf(err, errlen, "\"size\" is required");
                r = -EINVAL;
        }
        static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        const char *sha = json_string_value(json_object_get(out, "sha256"));
        if (r == 0 && sha && json_integer_value(json_object_get(out, "size")) == 0 &&
            strcmp(sha, empty) != 0) {
                snprintf(err, errlen, "the SHA-256 of no bytes (\"size\": 0) is %s", empty);
                r = -EINVAL;
        }
        json_decref(doc);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret = out;
        return 0;
}

int blob_ranges_add(struct blob_range **ranges, size_t *n_ranges, uint64_t a, uint64_t e)
{
        const struct blob_range *old = *ranges;
        size_t n_old = *n_ranges;
        struct blob_range *v = malloc((n_old + 1) * sizeof(*v));
        size_t n = 0, i = 0;
        if (!v)
                return -ENOMEM;
        for (; i < n_old && old[i].end < a; i++)
                v[n++] = old[i];
        for (; i < n_old && old[i].start <= e; i++) { /* touching or overlapping */
                a = MIN(a, old[i].start);
                e = MAX(e, old[i].end);
        }
        v[n++] = (struct blob_range){a, e};
        for (; i < n_old; i++)
                v[n++] = old[i];
        if (n > BLOB_MAX_RANGES) {
                free(v);
                return -E2BIG;
        }
        free(*ranges);
        *ranges = v;
        *n_ranges = n;
        return 0;
}

/* A decimal number as blob_ranges_format writes it: digits, no leading
 * zero, no overflow. The character after it in *ret_end. */
static int number(const char *p, const char **ret_end, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0;
        for (; p[i] >= '0' && p[i] <= '9'; i++) {
                unsigned d = (unsigned)(p[i] - '0');
                if ((i == 1 && p[0] == '0') || v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        if (i == 0)
                return -EBADMSG;
        *ret_end = p + i;
        *ret = v;
        return 0;
}

int blob_ranges_parse(const char *text, uint64_t size, struct blob_range **ret, size_t *ret_n)
{
        struct blob_range *v = NULL;
        size_t n = 0;
        const char *p = text;
        while (*p) {
                uint64_t a, e;
                const char *end;
                if (number(p, &end, &a) < 0 || *end != ' ' || number(end + 1, &end, &e) < 0 || *end != '\n')
                        goto bad;
                /* sorted, disjoint, not touching (they would have been merged) */
                if (e <= a || e > size || (n > 0 && a <= v[n - 1].end) || n >= BLOB_MAX_RANGES)
                        goto bad;
                struct blob_range *grown = realloc(v, (n + 1) * sizeof(*v));
                if (!grown) {
                        free(v);
                        return -ENOMEM;
                }
                v = grown;
                v[n++] = (struct blob_range){a, e};
                p = end + 1;
        }
        free(*ret);
        *ret = v;
        *ret_n = n;
        return 0;
bad:
        free(v);
        return -EBADMSG;
}

int blob_ranges_format(const struct blob_range *v, size_t n, char **ret, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%" PRIu64 " %" PRIu64 "\n", v[i].start, v[i].end);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
