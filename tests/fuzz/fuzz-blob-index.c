/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the blob interface's decoders (daemon/blob-index.c).
 * Input: an index.json NUL a ranges file. An accepted index.json is
 * accepted again as dumped, to the same document; an accepted ranges file
 * is sorted, disjoint and inside the size, and formats back byte for byte;
 * every refusal says why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob-index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void index_check(const char *text, size_t len)
{
        json_t *doc = NULL, *again = NULL;
        char err[256] = "";
        int r = blob_index_check(text, len, &doc, err, sizeof(err));
        if (r < 0) {
                if ((r != -EINVAL && r != -E2BIG && r != -ENOMEM) || !*err || doc)
                        abort();
                return;
        }
        json_t *size = json_object_get(doc, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            (uint64_t)json_integer_value(size) > BLOB_MAX_SIZE)
                abort();
        char *dumped = json_dumps(doc, JSON_COMPACT);
        if (!dumped)
                abort();
        if (blob_index_check(dumped, strlen(dumped), &again, err, sizeof(err)) != 0 ||
            !json_equal(doc, again))
                abort();
        free(dumped);
        json_decref(again);
        json_decref(doc);
}

static void ranges_check(const char *text)
{
        struct blob_range *v = NULL;
        size_t n = 0;
        const uint64_t size = UINT64_C(1) << 40;
        if (blob_ranges_parse(text, size, &v, &n) < 0) {
                if (v || n)
                        abort();
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (v[i].start >= v[i].end || v[i].end > size || (i && v[i].start <= v[i - 1].end))
                        abort();
        char *back = NULL;
        size_t len = 0;
        if (blob_ranges_format(v, n, &back, &len) < 0 || len != strlen(text) || memcmp(back, text, len) != 0)
                abort();
        /* adding them one by one, last first, gives the same list */
        struct blob_range *w = NULL;
        size_t m = 0;
        for (size_t i = n; i-- > 0;)
                if (blob_ranges_add(&w, &m, v[i].start, v[i].end) < 0)
                        abort();
        if (m != n || (n && memcmp(v, w, n * sizeof(*v)) != 0))
                abort();
        free(w);
        free(back);
        free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 2);
        if (!buf)
                abort();
        memcpy(buf, data, size);
        buf[size] = buf[size + 1] = '\0';
        size_t first = strlen(buf);
        index_check(buf, first);
        ranges_check(buf + first + 1);
        free(buf);
        return 0;
}
