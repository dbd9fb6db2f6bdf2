/* SPDX-License-Identifier: MIT */
/* bench-engine: MB/s of each primitive of the backup engine on one thread
 * (libcrypto through common/crypto.h, mbedtls for comparison, chunker, zstd),
 * then the in-memory pipeline read -> chunk -> id -> compress -> encrypt on
 * 1 and N threads. Built and run by `make bench`, never by `make check`. */
#include <errno.h>
#include <stdbool.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chunker.h"
#include "cleanup.h"
#include "compress.h"
#include "crypto.h"
#include "oid.h"
#include "pack.h"
#include "record.h"

#define MIB ((size_t)1024 * 1024)
#define BENCH_BUF (64 * MIB)          /* primitives run over this many bytes */
#define BENCH_MIN_SECONDS 0.15
#define BENCH_TRIALS 5
#define PIPELINE_TRIALS 3
#define PIPELINE_TOTAL ((size_t)1 << 30)
#define PIPELINE_PIECE (256 * MIB)   /* input generated in pieces this size */
#define PIPELINE_FILE (32 * MIB)     /* each piece is cut into files this size */
#define PIPELINE_READ (256 * 1024)   /* read() size */

static uint8_t key32[32] = "bench-engine-key-0123456789abcde";
static uint8_t key16[16] = "bench-cdc-key-01";
static volatile uint64_t sink;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: a shared, busy machine does not count. */
static double now_cpu(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int r)
{
        fprintf(stderr, "bench-engine: %s failed: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

/* xoshiro256** */
static uint64_t rng_state[4] = { 0x1234567887654321, 0x0fedcba987654321, 0x1111222233334444,
                                 0x5555666677778888 };

static uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
        uint64_t *s = rng_state, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

static void fill_random(uint8_t *p, size_t len)
{
        for (size_t i = 0; i + 8 <= len; i += 8) {
                uint64_t v = rng_next();

                memcpy(p + i, &v, 8);
        }
}

static void fill_text(uint8_t *p, size_t len)
{
        static const char *words[] = { "backup ", "chunk ", "the ", "snapshot ", "of ",
                                       "peer ", "store ", "and ", "pack ", "encrypted ",
                                       "index ", "a ", "restore ", "continuous\n", "zero ",
                                       "knowledge ", "deduplicated ", "ciphertext " };
        size_t pos = 0;

        while (pos < len) {
                const char *w = words[rng_next() % ELEMENTSOF(words)];
                size_t l = MIN(strlen(w), len - pos);

                memcpy(p + pos, w, l);
                pos += l;
        }
}

static void die(const char *what, int r);
static void die_on_small(int r)
{
        if (r < 0)
                die("small object", r);
}

/* One step of a primitive over buf[len]. */
typedef void (*bench_fn)(const uint8_t *buf, size_t len, void *out);

/* Run fn over buf in blocks of block bytes for BENCH_TRIALS trials of at
 * least BENCH_MIN_SECONDS each; MB/s of the best trial (the machine may be
 * shared, and interference only ever slows a trial down). */
static double bench_rate(bench_fn fn, const uint8_t *buf, size_t len, size_t block, void *out)
{
        double best = 0;

        for (int trial = 0; trial < BENCH_TRIALS; trial++) {
                double start = now_cpu(), t;
                size_t done = 0;

                do {
                        for (size_t off = 0; off + block <= len; off += block)
                                fn(buf + off, block, out);
                        done += len / block * block;
                        t = now_cpu() - start;
                } while (t < BENCH_MIN_SECONDS);
                best = MAX(best, (double)done / t / 1e6);
        }
        return best;
}

static void do_sha256(const uint8_t *buf, size_t len, void *out)
{
        int r = crypto_sha256(buf, len, out);

        if (r < 0)
                die("crypto_sha256", r);
}

static void do_hmac(const uint8_t *buf, size_t len, void *out)
{
        struct crypto_piece pieces[] = { { "\x01", 1 }, { buf, len } };
        int r = crypto_hmac_sha256(key32, sizeof(key32), pieces, 2, out);

        if (r < 0)
                die("crypto_hmac_sha256", r);
}

static void do_seal(enum crypto_cipher cipher, const uint8_t *buf, size_t len, void *out)
{
        static const uint8_t nonce[CRYPTO_NONCE_SIZE];
        uint8_t tag[CRYPTO_TAG_SIZE];
        int r = crypto_aead_seal(cipher, key32, nonce, key32, 32, buf, len, out, tag);

        if (r < 0)
                die("crypto_aead_seal", r);
}

static void do_gcm(const uint8_t *buf, size_t len, void *out)
{
        do_seal(CRYPTO_CIPHER_AES256_GCM, buf, len, out);
}

static void do_chacha(const uint8_t *buf, size_t len, void *out)
{
        do_seal(CRYPTO_CIPHER_CHACHA20_POLY1305, buf, len, out);
}

static void do_mbed_sha256(const uint8_t *buf, size_t len, void *out)
{
        if (mbedtls_sha256_ret(buf, len, out, 0) != 0)
                die("mbedtls_sha256_ret", EIO);
}

static void do_mbed_gcm(const uint8_t *buf, size_t len, void *out)
{
        static const uint8_t nonce[12];
        mbedtls_gcm_context ctx;
        uint8_t tag[16];

        mbedtls_gcm_init(&ctx);
        if (mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key32, 256) != 0 ||
            mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, len, nonce, sizeof(nonce), key32,
                                      32, buf, out, sizeof(tag), tag) != 0)
                die("mbedtls_gcm", EIO);
        mbedtls_gcm_free(&ctx);
}

static void do_mbed_chacha(const uint8_t *buf, size_t len, void *out)
{
        static const uint8_t nonce[12];
        mbedtls_chachapoly_context ctx;
        uint8_t tag[16];

        mbedtls_chachapoly_init(&ctx);
        if (mbedtls_chachapoly_setkey(&ctx, key32) != 0 ||
            mbedtls_chachapoly_encrypt_and_tag(&ctx, len, nonce, key32, 32, buf, out, tag) != 0)
                die("mbedtls_chachapoly", EIO);
        mbedtls_chachapoly_free(&ctx);
}

static struct chunker *bench_chunker;

static void do_gear(const uint8_t *buf, size_t len, void *out)
{
        sink += chunker_gear_only(bench_chunker, buf, len);
}

static void do_chunk(const uint8_t *buf, size_t len, void *out)
{
        size_t pos = 0, k;

        chunker_reset(bench_chunker);
        while (pos < len && (k = chunker_scan(bench_chunker, buf + pos, len - pos)) !=
                                    CHUNKER_NEED_MORE)
                pos += k;
}

static size_t compressed_bytes, compress_calls, compress_used;

static void do_compress(const uint8_t *buf, size_t len, void *out)
{
        size_t clen = 0;
        int r = compress_maybe(buf, len, 1, out, compress_bound(len), &clen);

        if (r < 0)
                die("compress_maybe", r);
        compress_calls++;
        compress_used += r;
        compressed_bytes += r ? clen : len;
}

/* A small object's whole cost: its id, then its record (compression tried,
 * the AEAD, the header mask): the per-object overhead of small files. */
static int small_level = 1;

static void do_small_object(const uint8_t *buf, size_t len, void *out)
{
        struct oid id;
        size_t rlen;
        die_on_small(oid_compute(key32, OBJECT_DATA, buf, len, &id));
        die_on_small(record_seal(CRYPTO_CIPHER_AES256_GCM, key32, &id, OBJECT_DATA, buf, len, small_level, out,
                                 record_bound(len), &rlen));
        sink += rlen;
}

static double bench_prf(void)
{
        struct crypto_prf *prf = NULL;
        uint64_t x = 0;
        double best = 0;
        int r = crypto_prf_new(key16, &prf);

        if (r < 0)
                die("crypto_prf_new", r);
        for (int trial = 0; trial < BENCH_TRIALS; trial++) {
                double start = now_cpu(), t;
                uint64_t n = 0;

                do {
                        for (int i = 0; i < 100000; i++)
                                x += crypto_prf_eval(prf, x + (uint64_t)i);
                        n += 100000;
                        t = now_cpu() - start;
                } while (t < BENCH_MIN_SECONDS);
                best = MAX(best, (double)n / t);
        }
        sink += x;
        crypto_prf_free(prf);
        return best;
}

/* ---- the pipeline ------------------------------------------------------ */

struct pipeline {
        uint8_t *pieces[PIPELINE_TOTAL / PIPELINE_PIECE];
        size_t n_files;
        size_t next_file; /* atomic */
        enum crypto_cipher cipher;
        bool pack; /* append records to packs (in memory) */
};

struct worker_stats {
        size_t bytes, chunks, compressed, packs;
        double cpu_seconds;
};

struct worker {
        struct pipeline *pl;
        struct worker_stats stats;
        pthread_t thread;
        uint8_t *record;
        size_t record_cap;
        struct pack_writer *pack; /* in memory, NULL until the first record */
};

static void die_on(const char *what, int r)
{
        if (r < 0)
                die(what, r);
}

/* Seal the current pack (its id is SHA-256 of the sealed bytes) and drop it. */
static void pipeline_pack_seal(struct worker *w)
{
        uint8_t *bytes = NULL;
        struct oid pack_id;
        uint64_t size;

        if (!w->pack)
                return;
        die_on("pack_writer_seal", pack_writer_seal(w->pack, &pack_id, &size, &bytes));
        free(bytes);
        pack_writer_free(w->pack);
        w->pack = NULL;
        w->stats.packs++;
}

static void pipeline_pack_add(struct worker *w, const struct oid *id, size_t len)
{
        if (w->pack && pack_writer_would_overflow(w->pack, len) && pack_writer_count(w->pack) > 0)
                pipeline_pack_seal(w);
        if (!w->pack)
                die_on("pack_writer_new",
                       pack_writer_new(w->pl->cipher, key32, -1, &w->pack));
        die_on("pack_writer_add", pack_writer_add(w->pack, id, OBJECT_DATA, w->record, len));
        if (pack_writer_full(w->pack))
                pipeline_pack_seal(w);
}

/* chuted's default compression_level (chuted.conf(5)). */
#define BENCH_COMPRESSION_LEVEL 3

/* One chunk: object id, record (compress if it pays, encrypt), pack. */
static void pipeline_chunk(struct worker *w, const uint8_t *data, size_t len)
{
        struct oid id;
        size_t rlen;

        die_on("oid_compute", oid_compute(key32, OBJECT_DATA, data, len, &id));
        die_on("record_seal", record_seal(w->pl->cipher, key32, &id, OBJECT_DATA, data, len,
                                          BENCH_COMPRESSION_LEVEL, w->record, w->record_cap, &rlen));
        if (rlen < len + RECORD_OVERHEAD)
                w->stats.compressed++;
        if (w->pl->pack)
                pipeline_pack_add(w, &id, rlen);
        w->stats.chunks++;
        w->stats.bytes += len;
}

static void *pipeline_worker(void *arg)
{
        struct worker *w = arg;
        struct pipeline *pl = w->pl;
        const size_t cap = CHUNKER_MAX_SIZE_DEFAULT + 4 * PIPELINE_READ;
        _cleanup_free_ uint8_t *buf = malloc(cap);
        struct chunker *c = NULL;
        double cpu_start = now_cpu();
        size_t f;
        int r;

        w->record_cap = record_bound(cap);
        w->record = malloc(w->record_cap);
        if (!buf || !w->record)
                die("malloc", ENOMEM);
        r = chunker_new(key16, NULL, &c);
        if (r < 0)
                die("chunker_new", r);

        while ((f = __atomic_fetch_add(&pl->next_file, 1, __ATOMIC_RELAXED)) < pl->n_files) {
                size_t per_piece = PIPELINE_PIECE / PIPELINE_FILE;
                const uint8_t *src = pl->pieces[f / per_piece] + f % per_piece * PIPELINE_FILE;
                size_t src_pos = 0, start = 0, scanned = 0, fill = 0;

                chunker_reset(c);
                for (;;) {
                        size_t k = fill > scanned ? chunker_scan(c, buf + scanned, fill - scanned)
                                                  : CHUNKER_NEED_MORE;

                        if (k != CHUNKER_NEED_MORE) {
                                scanned += k;
                                pipeline_chunk(w, buf + start, scanned - start);
                                start = scanned;
                                continue;
                        }
                        scanned = fill;
                        if (src_pos == PIPELINE_FILE) {
                                if (fill > start)
                                        pipeline_chunk(w, buf + start, fill - start);
                                break;
                        }
                        if (cap - fill < PIPELINE_READ) {
                                /* Keep the unfinished chunk, make room behind it. */
                                memmove(buf, buf + start, fill - start);
                                fill -= start;
                                scanned -= start;
                                start = 0;
                        }
                        /* "read" the next piece, small enough to stay in L2 for the scan. */
                        k = MIN(PIPELINE_READ, PIPELINE_FILE - src_pos);
                        memcpy(buf + fill, src + src_pos, k);
                        fill += k;
                        src_pos += k;
                }
        }
        chunker_free(c);
        compress_thread_done();
        pipeline_pack_seal(w);
        free(w->record);
        w->stats.cpu_seconds = now_cpu() - cpu_start;
        return NULL;
}

/* Run the pipeline on n_threads; wall-clock MB/s, and in *ret_cpu_rate the
 * sum over threads of bytes / thread CPU time: what the same threads would do
 * on otherwise idle cores. */
static double pipeline_run_once(struct pipeline *pl, int n_threads, struct worker_stats *ret,
                                double *ret_cpu_rate)
{
        struct worker *w = calloc((size_t)n_threads, sizeof(*w));
        double start, cpu_rate = 0;

        if (!w)
                die("calloc", ENOMEM);
        pl->next_file = 0;
        start = now();
        for (int i = 0; i < n_threads; i++) {
                w[i].pl = pl;
                if (pthread_create(&w[i].thread, NULL, pipeline_worker, &w[i]) != 0)
                        die("pthread_create", EAGAIN);
        }
        *ret = (struct worker_stats){ 0 };
        for (int i = 0; i < n_threads; i++) {
                pthread_join(w[i].thread, NULL);
                ret->bytes += w[i].stats.bytes;
                ret->chunks += w[i].stats.chunks;
                ret->compressed += w[i].stats.compressed;
                ret->packs += w[i].stats.packs;
                if (w[i].stats.cpu_seconds > 0)
                        cpu_rate += (double)w[i].stats.bytes / w[i].stats.cpu_seconds / 1e6;
        }
        start = now() - start;
        free(w);
        *ret_cpu_rate = cpu_rate;
        return (double)ret->bytes / start / 1e6;
}

/* Best of PIPELINE_TRIALS runs: wall-clock MB/s, CPU-time MB/s in *ret_cpu_rate. */
static double pipeline_run(struct pipeline *pl, int n_threads, struct worker_stats *ret,
                           double *ret_cpu_rate)
{
        double best = 0, rate;

        *ret_cpu_rate = 0;
        for (int trial = 0; trial < PIPELINE_TRIALS; trial++) {
                best = MAX(best, pipeline_run_once(pl, n_threads, ret, &rate));
                *ret_cpu_rate = MAX(*ret_cpu_rate, rate);
        }
        return best;
}

int main(int argc, char **argv)
{
        _cleanup_free_ uint8_t *rnd = malloc(BENCH_BUF), *txt = malloc(BENCH_BUF),
                               *out = malloc(compress_bound(BENCH_BUF));
        struct pipeline pl = { .n_files = PIPELINE_TOTAL / PIPELINE_FILE };
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        double sha, gcm, chacha, one, many, prf, one_cpu, many_cpu;
        struct worker_stats st;
        uint8_t digest[32];
        int r;

        if (!rnd || !txt || !out)
                die("malloc", ENOMEM);
        if (argc > 1)
                cores = atol(argv[1]);
        if (cores < 1)
                cores = 1;
        fill_random(rnd, BENCH_BUF);
        fill_text(txt, BENCH_BUF);
        r = chunker_new(key16, NULL, &bench_chunker);
        if (r < 0)
                die("chunker_new", r);

        printf("primitives, one thread, 1 MiB blocks over %zu MiB, best of %d, thread CPU time "
               "(MB = 10^6 bytes)\n", BENCH_BUF / MIB, BENCH_TRIALS);
        sha = bench_rate(do_sha256, rnd, BENCH_BUF, MIB, digest);
        printf("  %-34s %8.0f MB/s\n", "SHA-256 (libcrypto)", sha);
        printf("  %-34s %8.0f MB/s\n", "HMAC-SHA256 (libcrypto)",
               bench_rate(do_hmac, rnd, BENCH_BUF, MIB, digest));
        gcm = bench_rate(do_gcm, rnd, BENCH_BUF, MIB, out);
        printf("  %-34s %8.0f MB/s\n", "AES-256-GCM seal (libcrypto)", gcm);
        chacha = bench_rate(do_chacha, rnd, BENCH_BUF, MIB, out);
        printf("  %-34s %8.0f MB/s\n", "ChaCha20-Poly1305 seal (libcrypto)", chacha);
        prf = bench_prf();
        printf("  %-34s %8.1f M evals/s (%.0f ns each)\n", "chunker PRF (AES-128)", prf / 1e6,
               1e9 / prf);
        printf("  %-34s %8.0f MB/s\n", "gear loop alone",
               bench_rate(do_gear, rnd, BENCH_BUF, BENCH_BUF, NULL));
        printf("  %-34s %8.0f MB/s\n", "full chunker (gear + PRF + skip)",
               bench_rate(do_chunk, rnd, BENCH_BUF, BENCH_BUF, NULL));
        compressed_bytes = compress_calls = compress_used = 0;
        printf("  %-34s %8.0f MB/s", "zstd level 1, text",
               bench_rate(do_compress, txt, BENCH_BUF, MIB, out));
        printf("  (ratio %.2f, %zu/%zu compressed)\n",
               (double)compressed_bytes / (double)(compress_calls * MIB), compress_used,
               compress_calls);
        compressed_bytes = compress_calls = compress_used = 0;
        printf("  %-34s %8.0f MB/s", "zstd level 1, random (probe)",
               bench_rate(do_compress, rnd, BENCH_BUF, MIB, out));
        printf("  (%zu/%zu compressed: the probe skipped the rest)\n", compress_used,
               compress_calls);
        const struct {
                const char *what;
                const uint8_t *data;
                int level;
        } smalls[] = {
                {"4 KiB random objects: id + record", rnd, 1},
                {"... stored without compression", rnd, 0},
                {"4 KiB text objects: id + record", txt, 1},
        };
        for (size_t i = 0; i < ELEMENTSOF(smalls); i++) {
                small_level = smalls[i].level;
                double small = bench_rate(do_small_object, smalls[i].data, BENCH_BUF, 4096, out);
                printf("  %-34s %8.0f MB/s  (%.0f objects/s, %.2f us each)\n", smalls[i].what, small,
                       small * 1e6 / 4096, 4096 / small);
        }

        printf("mbedtls 2.28 for comparison\n");
        double m_sha = bench_rate(do_mbed_sha256, rnd, BENCH_BUF, MIB, digest);
        double m_gcm = bench_rate(do_mbed_gcm, rnd, BENCH_BUF, MIB, out);
        double m_chacha = bench_rate(do_mbed_chacha, rnd, BENCH_BUF, MIB, out);
        printf("  %-34s %8.0f MB/s  (libcrypto %.1fx faster)\n", "SHA-256 (mbedtls)", m_sha,
               sha / m_sha);
        printf("  %-34s %8.0f MB/s  (libcrypto %.1fx faster)\n", "AES-256-GCM (mbedtls)", m_gcm,
               gcm / m_gcm);
        printf("  %-34s %8.0f MB/s  (libcrypto %.1fx faster)\n", "ChaCha20-Poly1305 (mbedtls)",
               m_chacha, chacha / m_chacha);
        chunker_free(bench_chunker);

        /* 1 GiB of incompressible input, generated in 256 MiB pieces. */
        for (size_t i = 0; i < ELEMENTSOF(pl.pieces); i++) {
                pl.pieces[i] = malloc(PIPELINE_PIECE);
                if (!pl.pieces[i])
                        die("malloc", ENOMEM);
                fill_random(pl.pieces[i], PIPELINE_PIECE);
        }
        pl.cipher = crypto_cipher_default();
        printf("pipeline read -> chunk -> id (HMAC) -> record (compress, encrypt with %s), "
               "%zu MiB random in %zu MiB files, best of %d\n",
               crypto_cipher_name(pl.cipher), PIPELINE_TOTAL / MIB, PIPELINE_FILE / MIB,
               PIPELINE_TRIALS);
        for (int with_pack = 0; with_pack <= 1; with_pack++) {
                pl.pack = with_pack;
                printf(with_pack ? " -> pack append (pack_writer in memory, sealed at %u MiB: "
                                   "one more SHA-256 pass for the pack id)\n"
                                 : " without packs\n", PACK_TARGET_SIZE / (1u << 20));
                one = pipeline_run(&pl, 1, &st, &one_cpu);
                printf("  %-10s wall %5.0f MB/s, CPU time %5.0f MB/s  (%zu chunks, mean %.2f MiB, "
                       "%zu compressed, %zu packs)\n", "1 thread", one, one_cpu, st.chunks,
                       (double)st.bytes / (double)st.chunks / (double)MIB, st.compressed,
                       st.packs);
                many = pipeline_run(&pl, (int)cores, &st, &many_cpu);
                printf("  %-10s wall %5.0f MB/s, CPU time %5.0f MB/s  (%.2fx / %.2fx of one "
                       "thread)\n", "N threads", many, many_cpu, many / one, many_cpu / one_cpu);
                printf("  N = %ld; targets >= 800 MB/s on one core: %.0f%%, >= 1400 MB/s on two: "
                       "%.0f%% (CPU-time figures)\n", cores, one_cpu / 8.0, many_cpu / 14.0);
        }
        printf("CPU time = bytes / thread CPU seconds, summed over threads: immune to other "
               "load on a shared machine; wall = elapsed time\n");
        for (size_t i = 0; i < ELEMENTSOF(pl.pieces); i++)
                free(pl.pieces[i]);
        return 0;
}
