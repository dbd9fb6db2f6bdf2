/* SPDX-License-Identifier: MIT */
/* zstd behind one small interface: compress-if-worth-it with a sampling probe,
 * bounded decompression of untrusted frames, per-thread ZSTD contexts
 * (pthread key, freed at thread exit). Knows nothing of object headers. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "cleanup.h"
#include "compress.h"

#define COMPRESS_PROBE_MIN (64 * 1024)   /* below this, just try */
#define COMPRESS_HISTOGRAM_MIN 1024     /* below, a histogram says too little */
#define COMPRESS_PROBE_SLICES 4
#define COMPRESS_PROBE_SLICE 4096
#define COMPRESS_WINDOW_LOG_MAX 25       /* 32 MiB: objects are far smaller */

struct compress_contexts {
        ZSTD_CCtx *cctx;
        ZSTD_DCtx *dctx;
        uint8_t probe_out[ZSTD_COMPRESSBOUND(COMPRESS_PROBE_SLICE)];
};

static pthread_key_t compress_key;
static pthread_once_t compress_once = PTHREAD_ONCE_INIT;
static int compress_key_error;

static void compress_contexts_free(void *p)
{
        struct compress_contexts *c = p;

        if (!c)
                return;
        ZSTD_freeCCtx(c->cctx);
        ZSTD_freeDCtx(c->dctx);
        free(c);
}

static void compress_key_init(void)
{
        compress_key_error = pthread_key_create(&compress_key, compress_contexts_free);
}

static struct compress_contexts *compress_contexts(void)
{
        struct compress_contexts *c;

        if (pthread_once(&compress_once, compress_key_init) != 0 || compress_key_error)
                return NULL;
        c = pthread_getspecific(compress_key);
        if (c)
                return c;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->cctx = ZSTD_createCCtx();
        c->dctx = ZSTD_createDCtx();
        if (!c->cctx || !c->dctx ||
            ZSTD_isError(ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax,
                                                COMPRESS_WINDOW_LOG_MAX)) ||
            pthread_setspecific(compress_key, c) != 0) {
                compress_contexts_free(c);
                return NULL;
        }
        return c;
}

void compress_thread_done(void)
{
        struct compress_contexts *c;

        if (pthread_once(&compress_once, compress_key_init) != 0 || compress_key_error)
                return;
        c = pthread_getspecific(compress_key);
        if (c) {
                pthread_setspecific(compress_key, NULL);
                compress_contexts_free(c);
        }
}

size_t compress_bound(size_t len)
{
        return ZSTD_compressBound(len);
}

/* Compress a few slices spread over the input at level 1: worth trying the
 * whole when they save at least 1/32 (slices compress worse than the whole,
 * and the cut at 1/8 is made on the real output anyway). */
/* Are len bytes (at least 1 KiB) spread so evenly over the byte values that
 * entropy coding cannot save an eighth? Their collision entropy
 * -log2(sum(p^2)) is then at least 7.5 bits per byte (the Shannon entropy,
 * never lower, too): the mark of compressed or encrypted data. Costs one
 * pass of counting, against a full zstd attempt that fails. Repeats are
 * not seen: a random block repeated within the object is stored raw
 * (rare in small objects; docs/compression.md). */
static bool looks_random(const uint8_t *in, size_t len)
{
        uint32_t count[256] = {0};
        uint64_t squares = 0;

        for (size_t i = 0; i < len; i++)
                count[in[i]]++;
        for (size_t i = 0; i < 256; i++)
                squares += (uint64_t)count[i] * count[i];
        /* len^2 / squares >= 2^7.5 (181.02) */
        return (uint64_t)len * len >= 181 * squares;
}

static int compress_probe_with(struct compress_contexts *c, const uint8_t *in, size_t len)
{
        size_t sampled = 0, packed = 0;

        if (len < COMPRESS_PROBE_MIN)
                return len < COMPRESS_HISTOGRAM_MIN || !looks_random(in, len);
        for (size_t i = 0; i < COMPRESS_PROBE_SLICES; i++) {
                size_t off = (len - COMPRESS_PROBE_SLICE) / (COMPRESS_PROBE_SLICES - 1) * i;
                size_t r = ZSTD_compressCCtx(c->cctx, c->probe_out, sizeof(c->probe_out),
                                             in + off, COMPRESS_PROBE_SLICE, 1);

                if (ZSTD_isError(r))
                        return 1; /* cannot tell: let the real attempt decide */
                sampled += COMPRESS_PROBE_SLICE;
                packed += r;
        }
        return packed <= sampled - sampled / 32;
}

int compress_probe(const void *in, size_t len)
{
        struct compress_contexts *c = compress_contexts();

        if (!c)
                return -ENOMEM;
        return compress_probe_with(c, in, len);
}

int compress_maybe(const void *in, size_t len, int level, void *out, size_t out_cap,
                   size_t *ret_len)
{
        struct compress_contexts *c;
        size_t limit = len - len / 8, r;

        if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
                return -EINVAL;
        if (len == 0)
                return 0;
        c = compress_contexts();
        if (!c)
                return -ENOMEM;
        if (!compress_probe_with(c, in, len))
                return 0;

        /* Output that does not fit in 7/8 of the input is not worth keeping:
         * let zstd stop as soon as it runs out of room. */
        r = ZSTD_compressCCtx(c->cctx, out, MIN(out_cap, limit), in, len, level);
        if (ZSTD_isError(r))
                return 0;
        *ret_len = r;
        return 1;
}

int decompress(const void *in, size_t len, void *out, size_t out_cap, size_t *ret_len)
{
        struct compress_contexts *c;
        unsigned long long declared;
        size_t frame, r;
        uint32_t magic;

        if (len < 4)
                return -EBADMSG;
        memcpy(&magic, in, sizeof(magic));
        if (le32toh(magic) != ZSTD_MAGICNUMBER)
                return -EBADMSG; /* skippable or foreign frames have no place here */
        declared = ZSTD_getFrameContentSize(in, len);
        if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR)
                return -EBADMSG;
        if (declared > out_cap)
                return -ENOBUFS;
        frame = ZSTD_findFrameCompressedSize(in, len);
        if (ZSTD_isError(frame) || frame != len)
                return -EBADMSG;

        c = compress_contexts();
        if (!c)
                return -ENOMEM;
        /* One-shot into a flat buffer: zstd writes at most declared <= out_cap bytes. */
        r = ZSTD_decompressDCtx(c->dctx, out, (size_t)declared, in, len);
        if (ZSTD_isError(r)) {
                ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_only);
                return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EBADMSG;
        }
        if (r != declared)
                return -EBADMSG;
        *ret_len = r;
        return 0;
}
