/* SPDX-License-Identifier: MIT */
/* Path helpers: paths relative to a root, where "" is the root itself (the
 * walker, the watcher, listings), and one absolute path below another (the
 * roots). Pure string work, no I/O. */
#pragma once

#include <stdbool.h>

/* "a/b" from "a" and "b"; just a copy of b when a is "" (the root). NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* The directory holding relpath: "a" from "a/b", "" (the root) from "b";
 * allocated, of any length. NULL on ENOMEM. */
char *path_parent(const char *relpath);
/* Absolute path is dir itself or below it ("/" holds every absolute path). */
bool path_within(const char *path, const char *dir);
