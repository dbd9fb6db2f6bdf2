/* SPDX-License-Identifier: MIT */
/* gitignore-style exclusion for the snapshot walker: per-root patterns, one
 * layer per .chuteignore (deeper layers win, last matching line wins), and the
 * CACHEDIR.TAG signature check. Patterns are compiled once; matching is on raw
 * bytes and never allocates. Pure: no I/O, no logging (syntax: docs/excludes.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define EXCLUDE_FILE_NAME ".chuteignore"
#define EXCLUDE_CACHEDIR_TAG_NAME "CACHEDIR.TAG"
#define EXCLUDE_CACHEDIR_SIGNATURE "Signature: 8a477f597d28d172789f06886806bc55"
#define EXCLUDE_CACHEDIR_SIGNATURE_LEN 43
/* Largest pattern text accepted (a .chuteignore or the root's list), and
 * longest line (longer ones are bad lines: no path is that long). */
#define EXCLUDE_TEXT_MAX (256 * 1024)
#define EXCLUDE_PATTERN_MAX 4096

/* A matcher: the root's patterns plus the .chuteignore layers down to one
 * directory. Immutable once built and reference counted (atomically), so it
 * may be shared between threads. */
struct exclude;

/* Where a pattern text is bad: 1-based line and a static reason. */
struct exclude_error {
        unsigned line;
        const char *reason;
};

/* Matcher for a root from its newline-separated patterns (NULL or "" = none);
 * -EINVAL on a bad line, described in *error (may be NULL), -EFBIG, -ENOMEM. */
int exclude_new(const char *root_patterns, struct exclude_error *error, struct exclude **ret);
/* Matcher for directory dir_relpath ("" = root, no leading or trailing '/'):
 * the .chuteignore text (may be NULL) layered on parent, anchored at dir_relpath.
 * Bad lines are skipped as git does; returns how many, the first in *error
 * (may be NULL). -EINVAL on a bad dir_relpath, -EFBIG, -ENOMEM. */
int exclude_child(const struct exclude *parent, const char *dir_relpath, const char *text, size_t len,
                  struct exclude_error *error, struct exclude **ret);
/* True when the entry relpath ("a/b/c", relative to the root) is excluded. Only
 * the entry itself is judged: the walker must not descend into an excluded
 * directory (which is why '!' cannot re-include below an excluded directory). */
bool exclude_match(const struct exclude *ex, const char *relpath, bool is_dir);
/* As exclude_match, but also true when any parent directory of relpath is
 * excluded (for a single path, e.g. from a change notification). */
bool exclude_match_path(const struct exclude *ex, const char *relpath, bool is_dir);
/* True when the matcher has no pattern at all (the walker may skip calls). */
bool exclude_is_empty(const struct exclude *ex);
/* Take another reference; returns ex. */
struct exclude *exclude_ref(const struct exclude *ex);
/* Drop a reference (NULL is fine); frees the layer and its parents' share at zero. */
void exclude_free(struct exclude *ex);
/* True when buf (the start of a CACHEDIR.TAG file) begins with the signature. */
bool exclude_cachedir_tag_valid(const void *buf, size_t len);
