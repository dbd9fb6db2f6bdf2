/* SPDX-License-Identifier: MIT */
/* chuted's own files (DESIGN §9): the state dir, the key file and the
 * control socket, identified by device and inode so that a bind mount, a
 * symlinked path or a hard link does not hide them. The walker leaves them
 * out of every snapshot, the watcher does not watch them, and no root may
 * lie inside the state dir, except the blob root STATE/blobs (blob.h), which
 * is backed up like any watched directory. Plain data: copied into jobs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon;

#define OWN_FILES_MAX 3

struct own_files {
        size_t n;
        struct {
                dev_t dev;
                ino_t ino;
        } v[OWN_FILES_MAX];
        bool have_state;       /* v[0] is the state dir */
        bool have_blobs;
        dev_t blobs_dev;       /* STATE/blobs: inside the state dir, yet a root */
        ino_t blobs_ino;
};

/* Stat the daemon's own files now (the ones missing are left out). */
void own_files_get(const struct daemon *d, struct own_files *ret);
/* True when (dev, ino) is one of them. */
bool own_files_has(const struct own_files *o, dev_t dev, ino_t ino);
/* 1 when the directory open as dirfd is the state dir or lies below it
 * (following ".." up to the file system root, so bind mounts count), 0 when
 * not or when it is the blob root or below it, -errno when that cannot be told. */
int own_files_in_state_dir(const struct own_files *o, int dirfd);
