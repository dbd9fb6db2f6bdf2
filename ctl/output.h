/* SPDX-License-Identifier: MIT */
/* chutectl's output: aligned text tables, the one JSON document of --json
 * (jansson values, written by our own printer so that paths that are not
 * UTF-8 survive as "\udcXX" escapes), size/time/duration formatting and the
 * progress line on stderr. Knows nothing of the protocol. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define OUTPUT_SIZE_MAX 32
#define OUTPUT_TIME_MAX 48

/* "0 B", "512 B", "1.5 KiB", "12.3 MiB", "512 GiB" (powers of 1024). */
const char *output_size(uint64_t bytes, char buf[OUTPUT_SIZE_MAX]);
/* Local time "2026-11-21 22:30:01" of ns since the epoch. */
const char *output_time_local(int64_t ns, char buf[OUTPUT_TIME_MAX]);
/* RFC 3339 UTC with nanoseconds, "2026-11-21T22:30:01.123456789Z". */
const char *output_time_rfc3339(int64_t ns, char buf[OUTPUT_TIME_MAX]);
/* "45s", "3m 05s", "2h 07m", "3d 04h". */
const char *output_duration(uint64_t seconds, char buf[OUTPUT_TIME_MAX]);
/* "drwxr-xr-x" from a kind name ("dir", "file", ...) and permission bits. */
const char *output_mode(const char *kind, uint32_t mode, char buf[11]);

/* A JSON string holding len raw bytes (need not be UTF-8), or NULL. */
json_t *output_json_bytes(const void *p, size_t len);
/* Write s as a JSON string literal: valid UTF-8 as is, control characters
 * escaped, and every byte that is not part of valid UTF-8 as "\udcXX"
 * (Python's surrogateescape); -errno on a write error. */
int output_json_string(FILE *f, const char *s, size_t len);
/* Write doc as one JSON document (2-space indent, newline at the end). */
int output_json_print(FILE *f, const json_t *doc);

/* Width of a cell in columns: UTF-8 characters, not bytes. */
size_t output_width(const char *s);

enum output_align { OUTPUT_LEFT, OUTPUT_RIGHT };

struct output_table {
        size_t n_columns;
        const char *const *headers;
        const enum output_align *align;
        char **cells; /* n_rows * n_columns, owned */
        size_t n_rows;
};

/* A table with n_columns columns (headers and align borrowed; align may be NULL). */
void output_table_init(struct output_table *t, size_t n_columns, const char *const *headers,
                       const enum output_align *align);
/* Append a row of n_columns cells (copied; NULL is an empty cell); -ENOMEM. */
int output_table_add(struct output_table *t, const char *const *cells);
/* Print the header line and the rows, columns separated by two spaces. */
void output_table_print(const struct output_table *t, FILE *f);
/* Free the cells. */
void output_table_done(struct output_table *t);

/* The one-line progress display on stderr (only when it is a tty). */
struct output_progress {
        bool enabled;
        bool shown;
        int64_t start_ns;    /* CLOCK_MONOTONIC when the display was set up */
        uint64_t start_done; /* bytes done then (0) */
};

/* Enable the display when fd is a terminal; rates count from now. */
void output_progress_init(struct output_progress *p, int fd);
/* Redraw: phase, files done, bytes done of total (0 = unknown), rate, ETA. */
void output_progress_update(struct output_progress *p, const char *phase, size_t phase_len,
                            uint64_t files, uint64_t done, uint64_t total);
/* Erase the line if one is shown. */
void output_progress_clear(struct output_progress *p);
/* Format the progress line into buf (elapsed_ns since the first update). */
void output_progress_format(char *buf, size_t len, const char *phase, size_t phase_len,
                            uint64_t files, uint64_t done, uint64_t total, uint64_t rate_done,
                            int64_t elapsed_ns);

/* All n bytes of buf to fd, through EINTR and short writes; 0 or -errno. */
int output_write_all(int fd, const void *buf, size_t n);

/* When stdout is a terminal, make it one that writes every control
 * character of the text (C0 but tab and newline, DEL, C1) as '?': reply
 * strings (file names, a peer's error text) cannot drive the terminal.
 * 1 when installed, 0 when stdout is no terminal, -errno. Not for raw
 * content (cat). */
int output_filter_terminal(void);

