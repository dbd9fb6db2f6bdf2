/* SPDX-License-Identifier: MIT */
/* libFuzzer target for .chuteignore and --exclude parsing and matching
 * (common/exclude.c). Input: root patterns NUL .chuteignore text NUL paths
 * (one per line; a trailing '/' marks a directory). The first path, when it
 * is a valid directory, anchors the .chuteignore layer. A path excluded by
 * itself must also be excluded as a path; an empty matcher excludes nothing. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exclude.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_paths(const struct exclude *ex, char *paths)
{
        char *save = NULL;

        for (char *p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
                size_t n = strlen(p);
                bool is_dir = n > 0 && p[n - 1] == '/';
                bool m, mp;

                if (is_dir)
                        p[n - 1] = '\0';
                m = exclude_match(ex, p, is_dir);
                mp = exclude_match_path(ex, p, is_dir);
                if ((m && !mp) || (exclude_is_empty(ex) && mp))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct exclude *root = NULL, *child = NULL;
        struct exclude_error err = {};
        char *buf, *patterns, *ignore, *paths, *end, *dir, *copy;
        size_t ignore_len;
        int r;

        /* Three NULs at the end: every part exists even when separators are missing. */
        buf = malloc(size + 3);
        if (!buf)
                abort();
        memcpy(buf, data, size);
        buf[size] = buf[size + 1] = buf[size + 2] = '\0';
        patterns = buf;
        ignore = patterns + strlen(patterns) + 1;
        ignore_len = strlen(ignore);
        paths = ignore + ignore_len + 1;

        r = exclude_new(patterns, &err, &root);
        if (r < 0) {
                if (r == -EINVAL && (err.line == 0 || !err.reason))
                        abort();
                free(buf);
                return 0;
        }
        end = strchr(paths, '\n');
        dir = strndup(paths, end ? (size_t) (end - paths) : strlen(paths));
        if (!dir)
                abort();
        err = (struct exclude_error) {};
        r = exclude_child(root, dir, ignore, ignore_len, &err, &child);
        if (r == -EINVAL)
                r = exclude_child(root, "", ignore, ignore_len, &err, &child);
        if (r > 0 && (err.line == 0 || !err.reason))
                abort();
        copy = strdup(paths);
        if (!copy)
                abort();
        check_paths(root, copy);
        if (r >= 0)
                check_paths(child, paths);
        free(copy);
        free(dir);
        exclude_free(child);
        exclude_free(root);
        free(buf);
        return 0;
}
