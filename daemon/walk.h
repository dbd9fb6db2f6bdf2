/* SPDX-License-Identifier: MIT */
/* The walk phase of a snapshot: list the root's directories (lstat only,
 * excludes applied), reuse the content of files the file cache says are
 * unchanged, keep the parent snapshot's trees for clean directories, and
 * queue every other file for reading (read.c) as it goes. assemble.c keeps
 * the directories being built and stores each one's tree once complete. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include "file-cache.h"
#include "object.h"
#include "window.h"
#include "oid.h"
#include "pathset.h"

struct exclude;
struct cache_spool;
struct index;
struct repo;
struct snapshot_job;
struct workers_group;

/* One directory of the new snapshot, from its listing until its tree is
 * stored (assemble.c): then its id goes into its entry in the parent. */
struct dnode {
        struct dnode *parent;    /* NULL for the root */
        size_t index;            /* its entry in parent->tree */
        struct object_tree *tree;
        char *relpath;           /* "" for the root */
        size_t pending;          /* reads in flight, subdirectories not stored, 1 while being listed */
        LIST_ENTRY(dnode) live;  /* in walk.live */
};

/* One file queued for reading. */
struct file_item {
        struct snapshot_job *job;
        struct dnode *dir;
        size_t index;            /* entry index in dir->tree */
        char *relpath;
        struct stat st;          /* from the walk */
        int rootfd;              /* the root, open for the read */
        bool read_ok;
        bool xattrs_failed;      /* its extended attributes could not be read */
        int store_error;         /* a chunk's put failed (-errno): the repository's fault, not the file's */
        /* a changed big file's last content (file cache): its chunks (or
         * their list) for the reader to line up with (read.c) */
        bool prev_has_list;
        struct oid prev_list;
        struct object_extent *prev;
        size_t n_prev;
        struct file_cache_entry cache; /* what to store in the file cache */
        struct walk *walk;
        struct window_item link; /* in walk.reads */
};

/* The state of one snapshot's walk. Directories are listed depth first;
 * files to read go to the worker pool as they are found (at most window at
 * a time) and each directory's tree is stored as soon as its files are read
 * and its subdirectories stored, so memory does not grow with the tree. */
struct walk {
        struct snapshot_job *job;
        struct repo *repo;
        dev_t root_dev;
        int rootfd;
        bool full;               /* full walk: the file cache is joined per directory */
        struct index *reader;    /* the file cache */
        bool reading;            /* reader's read transaction is open (walk.c) */
        int64_t read_since;
        bool incremental;        /* reuse clean subtrees of the parent snapshot */
        const struct pathset *dirty, *deep;
        struct pathset removed;  /* file-cache paths (and all below) to forget at the commit */
        pthread_mutex_t owners_lock;
        void *owners;            /* uid/gid -> name */
        struct exclude *excludes; /* the root's patterns */
        struct workers_group *ahead; /* directories listed ahead (walk-list.c) */
        size_t n_ahead, max_ahead;

        /* reads (assemble.c); the test hook "snapshot-read" holds them
         * until the walk is over */
        struct window *reads;
        size_t n_queued;         /* files queued for reading, in all */
        LIST_HEAD(, dnode) live; /* directories not yet stored */
        struct cache_spool *spool; /* file-cache rows of the files read */
        bool root_stored;
        struct oid root_tree;
};

/* A struct timespec in nanoseconds. */
static inline int64_t walk_ts_ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

/* List directory relpath (open as dirfd; listed: its listing made ahead, or
 * NULL), entry index of parent (NULL for the root), queue its files and walk
 * its subdirectories; its tree is stored once all of that is done. A failure
 * fails the job. */
struct walk_listing;
void walk_dir(struct walk *w, int dirfd, struct dnode *parent, size_t index, const char *relpath,
              const struct object_tree *prev, bool force, const struct exclude *ex, struct walk_listing *listed);
/* Fill the metadata part of an entry from a stat. */
int walk_entry_from_stat(struct walk *w, const char *name, const struct stat *st, struct object_entry *e);
/* Read the extended attributes of path (not following a symlink), or of
 * the open file fd when path is NULL, into e. */
int walk_read_xattrs(const char *path, int fd, struct object_entry *e);
/* Describe e again from st and its open file fd (a file replaced or changed
 * after the walk listed it): metadata, owner names, xattrs. Thread-safe. */
int walk_entry_refresh(struct object_entry *e, const struct stat *st, int fd);
/* Free everything the walk holds. */
void walk_done(struct walk *w);
/* End the read transaction the walk's file-cache reads share (before the
 * reader is used for anything else or given back). */
void walk_reader_release(struct walk *w);
