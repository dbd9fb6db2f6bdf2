/* SPDX-License-Identifier: MIT */
/* The walk phase of a snapshot: list the root's directories (lstat only,
 * excludes applied), reuse the content of files the file cache says are
 * unchanged, keep the parent snapshot's trees for clean directories, and
 * queue every other file for the read phase (read.c). What the walk builds
 * (a tree of dnodes and the queued file items) is assembled by snapshot.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "file-cache.h"
#include "object.h"
#include "oid.h"
#include "pathset.h"

struct exclude;
struct index;
struct repo;
struct snapshot_job;

/* One directory of the new snapshot. */
struct dnode {
        bool reused;             /* unchanged since the parent snapshot: id is its old tree */
        struct object_tree *tree;
        struct dnode **children; /* by entry index; NULL for non-dirs */
        char *relpath;           /* "" for the root */
        struct oid id;
};

/* One file queued for the read phase. */
struct file_item {
        struct snapshot_job *job;
        struct dnode *dir;
        size_t index;            /* entry index in dir->tree */
        char *relpath;
        struct stat st;          /* from the walk */
        int rootfd;              /* the root, open for the read phase */
        bool read_ok;
        struct file_cache_entry cache; /* what to store in the file cache */
};

/* The state of one snapshot's walk. */
struct walk {
        struct snapshot_job *job;
        struct repo *repo;
        dev_t root_dev;
        void *cache;             /* full walks: tsearch tree of struct cache_node, the whole file cache */
        struct index *reader;    /* incremental walks: file cache looked up per file */
        bool incremental;        /* reuse clean subtrees of the parent snapshot */
        const struct pathset *dirty, *deep;
        struct pathset removed;  /* incremental: paths gone since the parent snapshot */
        void *owners;            /* uid/gid -> name */
        struct exclude *excludes; /* the root's patterns */
        struct file_item **items;
        size_t n_items, cap_items;
        struct dnode *root;
};

/* A struct timespec in nanoseconds. */
static inline int64_t walk_ts_ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

/* Load the whole file cache of the job's root into w (full walks). */
int walk_load_cache(struct walk *w);
/* List directory relpath (open as dirfd) into a new dnode; NULL only on
 * out-of-memory before anything was built (the job failed then). */
struct dnode *walk_dir(struct walk *w, int dirfd, const char *relpath, const struct object_tree *prev, bool force,
                       const struct exclude *ex);
/* Fill the metadata part of an entry from a stat. */
int walk_entry_from_stat(struct walk *w, const char *name, const struct stat *st, struct object_entry *e);
/* Read the extended attributes of path (not following a symlink), or of
 * the open file fd when path is NULL, into e. */
int walk_read_xattrs(const char *path, int fd, struct object_entry *e);
/* Describe e again from st and its open file fd (a file replaced or changed
 * after the walk listed it): metadata, owner names, xattrs. Thread-safe. */
int walk_entry_refresh(struct object_entry *e, const struct stat *st, int fd);
/* Paths in the file cache the walk did not see (full walks): borrowed from
 * w, valid until walk_done. */
int walk_unseen(struct walk *w, char ***ret, size_t *ret_n);
/* Free everything the walk holds. */
void walk_done(struct walk *w);
