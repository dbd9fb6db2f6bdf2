/* SPDX-License-Identifier: MIT */
/* The target of a restore: its parent and last name, and a new target
 * directory made and opened through its parent's fd, never by its path
 * again (a symlink put in its place meanwhile is not followed). */
#pragma once

/* target's parent directory and last name, both allocated, trailing slashes
 * dropped ("/a/b/" gives "/a" and "b", "b" gives "." and "b", "/b" gives "/"
 * and "b"). -EINVAL when there is no last name ("/", "", "." or ".." last),
 * -ENOMEM. */
int restore_target_split(const char *target, char **ret_dir, char **ret_name);

/* mkdir target (0700) and open it, both through its parent's fd, the new
 * directory with O_NOFOLLOW: its fd, or -errno (-ENOTDIR or -ELOOP when
 * something else took its place between the two). */
int restore_target_make(const char *target);
