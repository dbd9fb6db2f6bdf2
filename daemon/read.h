/* SPDX-License-Identifier: MIT */
/* The read phase of a snapshot: the files the walk queued are read, chunked,
 * identified and sealed into packs on every worker, biggest first. Fills
 * each item's tree entry (content, size, times) and file-cache entry. */
#pragma once

#include <stddef.h>

struct file_item;
struct snapshot_job;

/* Read every item, each opened below rootfd with no symlink at any level
 * (sorts items, biggest first); blocks until all are done. */
void read_files(struct snapshot_job *job, int rootfd, struct file_item **items, size_t n);
