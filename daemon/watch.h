/* SPDX-License-Identifier: MIT */
/* Continuous watching (DESIGN.md §9): one inotify instance for every root,
 * a watch per directory (added as directories appear), and the translation
 * of events into dirty directories of a root. What to do with dirty
 * directories (debounce, snapshot) is root.c's business. */
#pragma once

#include <stdbool.h>

struct daemon;
struct root;
struct watch;

/* Create the inotify instance and hook it into the loop. */
int watch_new(struct daemon *d, struct watch **ret);
/* Stop watching everything and free. NULL is fine. */
void watch_free(struct watch *w);
/* Watch root recursively. -ENOSPC: the watch limit was hit (already
 * logged once with the sysctl to raise; the root should poll instead);
 * -ENOENT/-ENOTDIR: the root is not there. */
int watch_root_start(struct watch *w, struct root *root);
/* Remove every watch of root. */
void watch_root_stop(struct watch *w, struct root *root);
/* Watches held for root. */
unsigned watch_root_count(const struct watch *w, const struct root *root);
