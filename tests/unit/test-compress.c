/* SPDX-License-Identifier: MIT */
/* Tests for common/compress: round trips, the incompressible-data probe, and
 * hostile frames (bombs, missing sizes, truncation, trailing bytes, garbage). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "cleanup.h"
#include "compress.h"

#define MIB ((size_t)1024 * 1024)

static uint64_t next(uint64_t *s)
{
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
        uint8_t *p = malloc(len);

        cr_assert_not_null(p);
        for (size_t i = 0; i < len; i += 8) {
                uint64_t v = next(&seed);

                memcpy(p + i, &v, MIN(8, len - i));
        }
        return p;
}

/* Words picked at random: compresses well, but not trivially. */
static uint8_t *text(size_t len, uint64_t seed)
{
        static const char *words[] = { "backup", "chunk", "the", "snapshot", "of", "peer",
                                       "store", "and", "pack", "encrypted", "index", "a",
                                       "restore", "continuous", "zero", "knowledge" };
        uint8_t *p = malloc(len);
        size_t pos = 0;

        cr_assert_not_null(p);
        while (pos < len) {
                uint64_t r = next(&seed);
                const char *w = words[r % ELEMENTSOF(words)];
                size_t l = MIN(strlen(w), len - pos);

                memcpy(p + pos, w, l);
                pos += l;
                if (pos < len)
                        p[pos++] = (r >> 32) % 11 ? ' ' : '\n';
        }
        return p;
}

static void round_trip(const uint8_t *in, size_t len)
{
        size_t cap = compress_bound(len), clen = 0, dlen = 0;
        uint8_t *c = malloc(cap), *d = malloc(len + 1);

        cr_assert_eq(compress_maybe(in, len, COMPRESS_LEVEL_DEFAULT, c, cap, &clen), 1);
        cr_assert_leq(clen, len - len / 8);
        cr_assert_eq(decompress(c, clen, d, len, &dlen), 0);
        cr_assert_eq(dlen, len);
        cr_assert_arr_eq(d, in, len);
        free(c);
        free(d);
}

Test(compress, text_round_trip)
{
        size_t sizes[] = { 1000, 64 * 1024, MIB, 4 * MIB + 17 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint8_t *t = text(sizes[i], i);

                round_trip(t, sizes[i]);
                free(t);
        }
}

Test(compress, random_is_stored_raw)
{
        size_t len = 4 * MIB, cap = compress_bound(len), clen = 12345;
        uint8_t *r = random_bytes(len, 1), *c = malloc(cap);

        cr_assert_eq(compress_probe(r, len), 0, "probe wants to compress random data");
        cr_assert_eq(compress_maybe(r, len, 1, c, cap, &clen), 0);
        cr_assert_eq(clen, 12345, "ret_len touched");
        /* Short random input skips the probe; the 1/8 rule still says raw. */
        cr_assert_eq(compress_maybe(r, 3000, 1, c, cap, &clen), 0);
        free(r);
        free(c);
}

Test(compress, mixed_data_is_tried)
{
        size_t len = MIB;
        uint8_t *m = random_bytes(len, 2);

        /* Half random, half zeros in 8 KiB stripes: the probe must not give up. */
        for (size_t i = 0; i < len; i += 16384)
                memset(m + i, 0, 8192);
        cr_assert_eq(compress_probe(m, len), 1);
        round_trip(m, len);
        free(m);
}

Test(compress, bad_level)
{
        uint8_t in[16] = { 0 }, out[64];
        size_t l;

        cr_assert_eq(compress_maybe(in, sizeof(in), 1000, out, sizeof(out), &l), -EINVAL);
}

Test(compress, bomb_is_refused)
{
        size_t big = 64 * MIB, cap = ZSTD_compressBound(big), clen, dlen = 7;
        uint8_t *zeros = calloc(1, big), *c = malloc(cap), *out = malloc(MIB + 64);

        clen = ZSTD_compress(c, cap, zeros, big, 19);
        cr_assert(!ZSTD_isError(clen));
        cr_assert_lt(clen, 64 * 1024, "a 64 MiB bomb in %zu bytes", clen);
        memset(out, 0xa5, MIB + 64);
        cr_assert_eq(decompress(c, clen, out, MIB, &dlen), -ENOBUFS);
        cr_assert_eq(dlen, 7);
        for (size_t i = 0; i < MIB + 64; i++)
                cr_assert_eq(out[i], 0xa5, "byte %zu written", i);
        free(zeros);
        free(c);
        free(out);
}

Test(compress, frame_without_size_is_refused)
{
        uint8_t *t = text(MIB, 3), *c = malloc(compress_bound(MIB)), *out = malloc(MIB);
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        ZSTD_outBuffer ob = { c, compress_bound(MIB), 0 };
        ZSTD_inBuffer ib = { t, MIB, 0 };
        size_t dlen;

        cr_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
        cr_assert(!ZSTD_isError(ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end)));
        cr_assert_eq(ZSTD_getFrameContentSize(c, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
        cr_assert_eq(decompress(c, ob.pos, out, MIB, &dlen), -EBADMSG);
        ZSTD_freeCCtx(cctx);
        free(t);
        free(c);
        free(out);
}

Test(compress, malformed_frames_are_refused)
{
        size_t len = 256 * 1024, cap = compress_bound(len) + 16, clen, dlen;
        uint8_t *t = text(len, 4), *c = malloc(cap), *out = malloc(len);
        uint8_t skippable[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
        uint64_t seed = 5;

        cr_assert_eq(compress_maybe(t, len, 3, c, cap, &clen), 1);
        cr_assert_eq(decompress(c, clen - 1, out, len, &dlen), -EBADMSG, "truncated");
        c[clen] = 0;
        cr_assert_eq(decompress(c, clen + 1, out, len, &dlen), -EBADMSG, "trailing byte");
        cr_assert_eq(decompress(c, 3, out, len, &dlen), -EBADMSG, "too short");
        cr_assert_eq(decompress(skippable, sizeof(skippable), out, len, &dlen), -EBADMSG);
        cr_assert_eq(decompress(t, 1000, out, len, &dlen), -EBADMSG, "not zstd");

        /* Random corruption: an error or a bounded result, never a crash. */
        for (int i = 0; i < 2000; i++) {
                uint8_t *m = malloc(clen);
                size_t got = SIZE_MAX;
                int r;

                memcpy(m, c, clen);
                for (int k = 0; k < 1 + i % 4; k++) {
                        uint64_t x = next(&seed);

                        m[x % clen] ^= (uint8_t)(1 + (x >> 32) % 255);
                }
                r = decompress(m, clen, out, len, &got);
                cr_assert(r == 0 || r == -EBADMSG || r == -ENOBUFS, "r = %d", r);
                if (r == 0)
                        cr_assert_leq(got, len);
                free(m);
        }
        /* The context survives the errors. */
        cr_assert_eq(decompress(c, clen, out, len, &dlen), 0);
        cr_assert_arr_eq(out, t, len);
        free(t);
        free(c);
        free(out);
}

static void *thread_round_trip(void *arg)
{
        uint8_t *t = text(2 * MIB, (uintptr_t)arg);

        for (int i = 0; i < 4; i++)
                round_trip(t, 2 * MIB);
        free(t);
        return NULL;
}

Test(compress, threads_have_their_own_contexts)
{
        pthread_t th[3];

        for (uintptr_t i = 0; i < ELEMENTSOF(th); i++)
                cr_assert_eq(pthread_create(&th[i], NULL, thread_round_trip, (void *)i), 0);
        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                pthread_join(th[i], NULL);
        compress_thread_done();
        compress_thread_done();
}
