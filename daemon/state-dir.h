/* SPDX-License-Identifier: MIT */
/* The state directory as files: whether it already holds backup data (so a
 * missing key must not be replaced), and its permissions (0700 directories,
 * 0600 files for the index and packs), repaired at start. Knows the file
 * names (index.db, packs/), not their formats; opens no database. */
#pragma once

#include <stdbool.h>

/* 1 when dir holds data sealed under some key (an index or a pack), 0 when
 * it is empty or absent; *ret_what (if not NULL, new string) says what was
 * found, e.g. "index.db and 3 pack(s)". Reads only: changes nothing. */
int state_dir_holds_data(const char *dir, char **ret_what);

/* Make dir 0700, the index files 0600, the pack directories 0700 and the
 * packs 0600, logging each file it fixes; returns the number fixed. */
int state_dir_fix_modes(const char *dir);
