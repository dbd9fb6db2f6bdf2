/* SPDX-License-Identifier: MIT */
/* zstd compression of object payloads: compress only when it saves at least
 * an eighth, skip incompressible data after a cheap probe, and decompress
 * untrusted frames into a caller-bounded buffer. Contexts are reused per
 * thread. No logging, no policy about object formats. */
#pragma once

#include <stddef.h>

/* The default zstd level for file content, what chuted.conf's
 * compression_level = auto means: on a real tree (/usr/share) it stores as
 * little as restic's "auto" for about 7 % more time than level 1. */
#define COMPRESS_LEVEL_DEFAULT 3

/* Worst-case compressed size of len bytes (size out for compress_maybe). */
size_t compress_bound(size_t len);

/* 1 when a sample of in[len] compresses well enough to try the whole, else 0. */
int compress_probe(const void *in, size_t len);

/* Compress in[len] into out[out_cap] at level. Returns 1 and sets *ret_len when
 * the output is at most 7/8 of len, 0 when the caller should store in raw
 * (*ret_len untouched), -ENOMEM or -EINVAL on failure. */
int compress_maybe(const void *in, size_t len, int level, void *out, size_t out_cap,
                   size_t *ret_len);

/* Decompress one complete zstd frame in[len] into out[out_cap]. The frame must
 * declare its content size and it must fit out_cap: -ENOBUFS when it does not,
 * -EBADMSG for anything malformed (trailing bytes included), -ENOMEM. */
int decompress(const void *in, size_t len, void *out, size_t out_cap, size_t *ret_len);

/* Free this thread's contexts now (they are freed at thread exit anyway). */
void compress_thread_done(void);
