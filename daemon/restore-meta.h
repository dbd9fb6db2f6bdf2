/* SPDX-License-Identifier: MIT */
/* Restoring an entry's metadata, and the other per-entry steps of restore.c
 * that need nothing of its state: each failure is said and counted in the
 * job's errors, and never stops the restore. */
#pragma once

#include <sys/stat.h>

#include <stdbool.h>
#include <sys/types.h>

#include "object.h"
#include "restore.h"

/* The S_IF* file type of a fifo, socket or device entry (0 for other kinds). */
mode_t restore_node_type(enum object_kind kind);
/* Say that what of path failed and count it. */
void restore_warn(struct restore_job *job, int error, const char *what, const char *path);
/* Owner (as root), xattrs, mode and times of an entry that is not a
 * symlink, through its open fd. created: the restore made the inode, so
 * ACLs it inherited from a default ACL and the entry lacks are removed
 * (an existing directory merged into keeps its own). */
void restore_meta_fd(struct restore_job *job, bool root_user, int fd, const char *path,
                     const struct object_entry *e, bool created);
/* The same for name in dirfd (symlinks: no mode), without following it. */
void restore_meta_at(struct restore_job *job, bool root_user, int dirfd, const char *name, const char *path,
                     const struct object_entry *e);
/* Remove what is at parent/name (recursively for a directory): 0 or -errno;
 * -EXDEV for a mount point on the way, -EBUSY for the directory keep (chuted's
 * state dir; NULL: none) on the way, which is never removed; either is found
 * before anything is removed, so such a directory is left as it was. */
int restore_remove_at(int parent, const char *name, const struct stat *keep);
/* True when the directory open as fd has no entries. */
bool restore_dir_empty(int fd);
