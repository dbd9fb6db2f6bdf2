/* SPDX-License-Identifier: MIT */
/* Listing one directory of a snapshot's walk, and listing the directories
 * the walk is about to enter ahead of it on the worker pool, so that the
 * lstat of every entry, most of a walk's time, is spread over the cores:
 * WALK_AHEAD_LEVEL per directory at a time, at most WALK_AHEAD_PER_WORKER
 * per worker (64 to 256, and an eighth of the open-file limit: each holds
 * an fd). The pool makes the newest first: a depth-first walk needs them
 * first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "object.h"
#include "walk.h"
#include "walk-rows.h"

#define WALK_AHEAD_PER_WORKER 32
#define WALK_AHEAD_MIN 64
#define WALK_AHEAD_MAX 256
/* of them, per directory at a time */
#define WALK_AHEAD_LEVEL 8

struct exclude;

/* One listed entry and the lstat it was described from. */
struct walk_listed {
        struct object_entry e; /* first: sorted as entries */
        struct stat st;
};

/* A directory's listing. */
struct walk_listing {
        struct exclude *here;    /* its patterns (.chuteignore over the parent's) */
        struct walk_listed *v;   /* sorted by name */
        size_t n;
        int error;               /* -errno: it could not be listed (said; recorded empty) */
        bool cachedir;           /* it holds a valid CACHEDIR.TAG: left out by its parent */
        /* a full walk's file-cache rows of its children, when listed ahead */
        bool has_rows;
        int rows_error;          /* -errno: they could not be read */
        struct walk_rows rows;
};

/* List directory relpath, open as dirfd, below the patterns ex: entries
 * described from lstat, excludes applied, sorted. -ENOMEM only; any thread. */
int walk_list(struct walk *w, int dirfd, const char *relpath, const struct exclude *ex, struct walk_listing *ret);
/* Does the directory name in dirfd (dirfd itself if name is NULL) hold a
 * valid CACHEDIR.TAG (https://bford.info/cachedir/)? */
bool walk_cachedir_tagged(int dirfd, const char *name);
/* Free a listing (its entries, its patterns). */
void walk_listing_done(struct walk_listing *l);

/* Start and end listing ahead for a walk. */
int walk_list_begin(struct walk *w);
void walk_list_end(struct walk *w);
/* Open name (relpath) in dirfd and list it on the pool, ahead of what is
 * queued there; NULL when the walk already has its share listed ahead or
 * it cannot be opened. */
struct walk_ahead *walk_ahead_start(struct walk *w, int dirfd, const char *name, const char *relpath,
                                    const struct exclude *ex);
/* The listing and the open fd (both the caller's now); walk_list's result. */
int walk_ahead_take(struct walk *w, struct walk_ahead *a, struct walk_listing *ret, int *ret_fd);
/* A listing ahead that is not needed after all (NULL is fine). */
void walk_ahead_drop(struct walk *w, struct walk_ahead *a);

/* Read the extended attributes of entry e, named relpath, in the directory
 * open as dirfd, through that fd; a failure is counted and said. */
void walk_entry_xattrs(struct walk *w, int dirfd, const char *relpath, struct object_entry *e);
/* tdestroy's callback for walk.owners. */
void walk_owners_free(void *p);
