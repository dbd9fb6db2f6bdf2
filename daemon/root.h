/* SPDX-License-Identifier: MIT */
/* Watched roots as the daemon keeps them in memory: their state, the
 * snapshot running or queued for each, and the requests waiting for it.
 * The index keeps the durable part (path, excludes); snapshot.c does the
 * walking. Loop thread only, except the cancel flag read by workers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"
#include "pathset.h"

struct daemon;
struct request;

enum root_state {
        ROOT_IDLE,        /* watching, nothing to do */
        ROOT_SCANNING,    /* walking the tree */
        ROOT_BACKING_UP,  /* reading changed files */
        ROOT_UNAVAILABLE, /* the directory is gone or unreadable */
};

struct root {
        struct daemon *daemon;
        struct root *next;
        int64_t id;
        char *path;
        char *excludes;        /* newline-separated patterns */
        int one_fs;
        enum root_state state;
        bool running;          /* a snapshot job is on the workers */
        bool again;            /* an automatic run is due when this one ends */
        bool next_manual;      /* a requested (full) run is due when this one ends */
        int cancel;            /* set to stop the running job early (read by workers) */
        struct request **waiters, **next_waiters; /* answered when the run ends */
        size_t n_waiters, n_next_waiters;
        int64_t last_snapshot_ns;
        struct oid last_snapshot;
        uint64_t pending;      /* change events seen since the last snapshot */
        /* progress of the running snapshot, written by the job */
        uint64_t progress_files, progress_bytes;

        /* continuous protection */
        int watches;           /* inotify watches held (watch.c) */
        bool polling;          /* no watches (limit hit): periodic rescans instead */
        bool full;             /* the next automatic run walks everything */
        struct pathset dirty;  /* directories changed since the last run started */
        struct pathset deep;   /* directories changed below which everything is listed */
        char *last_dirty;      /* the last directory added, to skip repeats cheaply */
        int64_t first_event_ns, last_event_ns; /* of the changes not yet snapshotted */
        struct event *debounce;  /* quiet period / maximum delay */
        struct event *rescan;    /* periodic full rescan (or polling) */
        struct event *retry;     /* while unavailable: look for the directory again */
};

/* Load roots from the index and add the configured ones. */
int root_start_all(struct daemon *d);
/* Cancel running snapshots (they stop at the next file). */
void root_stop_all(struct daemon *d);
/* True while a snapshot job runs. */
bool root_busy(struct daemon *d);
/* Free every root (after the workers stopped). */
void root_free_all(struct daemon *d);
/* "2 roots, idle, last snapshot 12s ago" for STATUS=. */
void root_status_line(struct daemon *d, char *buf, size_t len);
/* Add a root for an absolute, existing directory; -EEXIST, -ENOTDIR, -EINVAL,
 * -EPERM (it is chuted's state dir or inside it). */
int root_add(struct daemon *d, const char *path, const char *excludes, struct root **ret);
/* Stop watching path (snapshots stay); -ENOENT. */
int root_remove(struct daemon *d, const char *path);
/* The root whose path is exactly path, or NULL. */
struct root *root_find(struct daemon *d, const char *path);
/* The root that contains path (longest match), or NULL. */
struct root *root_containing(struct daemon *d, const char *path);
/* A root strictly below path (path contains it), or NULL. Roots never nest:
 * one inotify instance gives a directory one watch, which would then tell
 * one of the two roots only. */
struct root *root_inside(struct daemon *d, const char *path);
/* The root with this index id, or NULL. */
struct root *root_by_id(struct daemon *d, int64_t id);
/* Human name of a state: "idle", "scanning", "backing up", "unavailable". */
const char *root_state_name(enum root_state s);
/* Take a snapshot of root now (a full walk); waiter (may be NULL) gets the RESULT or ERROR. */
int root_snapshot(struct root *root, struct request *waiter);
/* Directory relpath of root changed (deep: and what is below it may have). */
void root_mark_dirty(struct root *root, const char *relpath, bool deep);
/* Everything may have changed (event queue overflow): full rescan soon. */
void root_mark_full(struct root *root);
/* root_mark_full of every root. */
void root_mark_full_all(struct daemon *d);
/* The root directory was deleted, moved away or unmounted. */
void root_gone(struct root *root);
/* No more inotify watches can be had: fall back to periodic rescans. */
void root_set_polling(struct root *root);
/* "watching", "polling", "scanning", "backing up", "unavailable". */
const char *root_status_name(const struct root *root);
