/* SPDX-License-Identifier: MIT */
/* What the index tests share (test-index*.c): a temporary directory and
 * database path per test (the `index` suite's init and fini), opening it,
 * raw SQL on the file, and deterministic ids, pack entries, file-cache rows
 * and snapshots. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "index.h"

extern char tmpdir[64];
extern char dbpath[128];

/* snapshot ids for the prefix tests */
#define H1 "abc1000000000000000000000000000000000000000000000000000000000000"
#define H2 "abc2000000000000000000000000000000000000000000000000000000000000"
#define H3 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define H4 "0f00000000000000000000000000000000000000000000000000000000000000"

struct index *open_rw(void);
struct oid make_oid(uint32_t n, uint8_t seed);
/* Write len bytes of buf to a new file at path. */
void write_file(const char *path, const void *buf, size_t len);
int sql_int(const char *sql);
void sql_exec(const char *sql);
void make_entries(struct index_pack_entry *e, size_t n, uint32_t first, uint8_t seed);
struct index_file make_file(uint64_t n);
struct oid oid_hex(const char *hex);
struct index_snapshot make_snapshot(const char *hex, int64_t root, int64_t t);
int count_roots(const struct index_root *root, void *userdata);

struct paths {
        char seen[16][32];
        int n;
};
int collect_path(const char *path, const struct index_file *f, void *userdata);
int count_cb(const void *x, void *userdata);
