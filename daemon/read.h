/* SPDX-License-Identifier: MIT */
/* Reading a file the walk queued (assemble.c runs it on the worker pool):
 * read, chunked, identified and sealed into packs, its chunks spread over
 * the pool. Fills the item's tree entry (content, size, times) and its
 * file-cache entry. */
#pragma once

struct file_item;

/* Read it->relpath below it->rootfd with no symlink at any level; sets
 * it->read_ok, or leaves the entry out (kind 0) if it cannot be read. */
void read_file(struct file_item *it);
