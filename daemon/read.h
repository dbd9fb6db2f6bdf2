/* SPDX-License-Identifier: MIT */
/* Reading a file the walk queued (assemble.c runs it on the worker pool):
 * read, chunked, identified and sealed into packs, its chunks spread over
 * the pool. Fills the item's tree entry (content, size, times) and its
 * file-cache entry. */
#pragma once

struct file_item;

/* The chunks of files from this size on are fingerprinted
 * (docs/fingerprints.md): when such a file changes, its unchanged chunks
 * are recognized without HMAC-SHA256, and where they still start where
 * they did, without the chunker. Smaller files are mostly rewritten whole. */
#define READ_FINGERPRINT_MIN (4 * 1024 * 1024)

/* Read it->relpath below it->rootfd with no symlink at any level; sets
 * it->read_ok, or leaves the entry out (kind 0) if it cannot be read. */
void read_file(struct file_item *it);
