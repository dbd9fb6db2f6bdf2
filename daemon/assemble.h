/* SPDX-License-Identifier: MIT */
/* Building a snapshot's trees while the walk goes on: the directories not
 * yet stored (dnodes), the files being read on the worker pool (at most a
 * window of them), and, as each file is read, its file-cache row spooled and
 * its directory stored once nothing below it is pending. All on the job's
 * thread, except the reads. */
#pragma once

#include <stddef.h>

#include "walk.h"

struct index_file;

/* Prepare w for reads (the window, the spool in the repository's staging
 * directory); the test hook "snapshot-read" holds every read until the walk
 * is over. */
int assemble_begin(struct walk *w);
/* A new directory below entry index of parent (NULL: the root), pending its
 * listing. NULL when out of memory (the job failed). */
struct dnode *assemble_dir(struct walk *w, struct dnode *parent, size_t index, const char *relpath);
/* dn is listed: stored at once if nothing below it is pending. */
void assemble_listed(struct walk *w, struct dnode *dn);
/* Queue file entry index of dn for reading (stat st, path relpath); prev,
 * if not NULL, is its file-cache row from before it changed. */
int assemble_read(struct walk *w, struct dnode *dn, size_t index, const char *relpath, const struct stat *st,
                  const struct index_file *prev);
/* The walk is over: wait for every read and store what is left. The root's
 * tree id is then in w->root_tree (w->root_stored). */
void assemble_finish(struct walk *w);
/* Free what is left (after a failure: waits for the reads in flight first). */
void assemble_done(struct walk *w);
