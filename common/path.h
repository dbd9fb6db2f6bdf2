/* SPDX-License-Identifier: MIT */
/* Path helpers shared by the walker and the watcher: paths relative to a
 * root, where "" is the root itself. Pure string work, no I/O. */
#pragma once

/* "a/b" from "a" and "b"; just a copy of b when a is "" (the root). NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
