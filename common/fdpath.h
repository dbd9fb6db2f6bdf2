/* SPDX-License-Identifier: MIT */
/* Opening paths relative to a directory fd without ever following a
 * symlink or leaving that directory: what the snapshot reader and restore
 * use so that a symlink swapped in for any component (by someone racing a
 * daemon that runs as root) cannot redirect a read or a write elsewhere.
 * Plain syscalls, -errno returns, no logging. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Open relpath ("a/b/c", no "..", no leading "/", any length: deeper than
 * PATH_MAX too) below dirfd, with O_NOFOLLOW at every level (ELOOP when any
 * component is a symlink, ENAMETOOLONG when one is over NAME_MAX).
 * flags as for openat (O_CLOEXEC is added); mode only with O_CREAT.
 * Returns the fd or -errno. */
int fdpath_open(int dirfd, const char *relpath, int flags, mode_t mode);
/* Open the directory holding relpath's last component, as fdpath_open does;
 * *ret_name points into relpath at that component. Returns the fd or -errno. */
int fdpath_open_parent(int dirfd, const char *relpath, const char **ret_name);
/* "/proc/self/fd/FD/NAME" into buf: a path that reaches NAME in the
 * directory open as fd, for calls that have no *at() form (lsetxattr,
 * llistxattr). -ENAMETOOLONG, or -ENOENT when /proc is not mounted. */
int fdpath_proc(int fd, const char *name, char *buf, size_t size);
/* Tests: use the component walk even where openat2 exists. */
void fdpath_force_component_walk(int on);
