/* SPDX-License-Identifier: MIT */
/* Forgets recorded in the packs: writing the tombstone objects of one forget
 * (common/tombstone.c, before its rows are deleted) and reading every
 * tombstone back when a reindex or recovery rebuilds the snapshot list from
 * the snapshot objects. Worker threads only; nothing here logs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "idset.h"
#include "index.h"

struct repo;

/* Write the tombstones naming rows (split over several objects when they
 * are many) and make them durable: repo_flush commits their pack to the
 * index before this returns. Returns the number of objects written, or
 * -errno (nothing may be deleted then). */
int forgotten_write(struct repo *repo, const struct index_snapshot *rows, size_t n, int64_t now_ns);
/* Add the snapshot id named by every tombstone object of the index (read
 * through repo_get) to set. *ret_tombstones counts the objects read,
 * *ret_bad those unreadable (damaged, another format version): skipped.
 * -errno on an index or memory error. */
int forgotten_collect(struct repo *repo, struct idset *set, uint64_t *ret_tombstones, uint64_t *ret_bad);
