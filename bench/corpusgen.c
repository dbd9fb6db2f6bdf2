/* SPDX-License-Identifier: MIT */
/* corpusgen: the deterministic benchmark trees of bench/make-corpus.sh and
 * bench/scale.sh. Every byte is a pure function of the seed (and the scale,
 * round or file count); every mtime is fixed. Stand-alone on purpose (libc
 * only), so that make-corpus.sh can build it with `cc` in a bare clone; also
 * built with the project's flags by `make bench/corpusgen`. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KIB ((uint64_t) 1024)
#define MIB (KIB * 1024)
#define T0 ((time_t) 1704067200) /* 2024-01-01T00:00:00Z, every mtime of a fresh tree */
#define DAY ((time_t) 86400)
#define SMALL_PER_DIR 20    /* corpus: 20,000 small files in 1,000 directories */
#define SMALL_PER_PARENT 25 /* corpus: leaf directories per parent directory */
#define TREE_PER_PARENT 250 /* tree: leaf directories per parent directory */

/* ---- random numbers: splitmix64, one independent stream per (seed, purpose) ---- */

struct rng {
        uint64_t s;
};

static uint64_t rng_next(struct rng *r) {
        uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* rng_stream: the stream for SEED and PURPOSE (two different purposes never overlap in practice) */
static struct rng rng_stream(uint64_t seed, uint64_t purpose) {
        struct rng r = { seed * UINT64_C(0xd1342543de82ef95) + purpose };
        rng_next(&r);
        r.s ^= rng_next(&r) + purpose * UINT64_C(0xa0761d6478bd642f);
        return r;
}

/* rng_below: uniform in [0, n) (n > 0; the bias for n << 2^64 is negligible here) */
static uint64_t rng_below(struct rng *r, uint64_t n) { return rng_next(r) % n; }

/* rng_loguniform: log-uniform in [lo, hi] */
static uint64_t rng_loguniform(struct rng *r, uint64_t lo, uint64_t hi) {
        double u = (double) (rng_next(r) >> 11) / (double) (UINT64_C(1) << 53);
        double v = (double) lo * pow((double) hi / (double) lo, u);
        return v < (double) lo ? lo : v > (double) hi ? hi : (uint64_t) v;
}

/* ---- output: exactly `left` bytes to fd, the last piece cut to fit ---- */

struct out {
        int fd;
        uint64_t left;
        size_t n;
        char buf[1 << 20];
};

static int out_flush(struct out *o) {
        size_t off = 0;
        while (off < o->n) {
                ssize_t w = write(o->fd, o->buf + off, o->n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                off += (size_t) w;
        }
        o->n = 0;
        return 0;
}

/* out_put: append up to LEN bytes (fewer when the file is full) */
static int out_put(struct out *o, const void *p, size_t len) {
        if (len > o->left)
                len = (size_t) o->left;
        while (len > 0) {
                size_t k = sizeof(o->buf) - o->n;
                if (k > len)
                        k = len;
                memcpy(o->buf + o->n, p, k);
                o->n += k;
                o->left -= k;
                p = (const char *) p + k;
                len -= k;
                if (o->n == sizeof(o->buf)) {
                        int r = out_flush(o);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- content generators: each fills `o` up to o->left ---- */

static const char *const words[] = {
        "amber", "basin", "cedar", "delta", "ember", "fjord", "glade", "harbor", "inlet", "juniper",
        "kestrel", "lagoon", "meadow", "nectar", "orchard", "pebble", "quarry", "ridge", "summit",
        "tundra", "upland", "valley", "willow", "yarrow", "zephyr", "the", "a", "of", "and", "to",
        "in", "is", "was", "over", "under", "beside", "quietly", "slowly", "bright", "river",
        "stone", "light", "north", "south", "winter", "summer", "garden", "window", "letter",
        "morning", "evening", "market", "bridge", "signal", "engine", "paper", "silver", "copper",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))
static const char *const levels[] = { "INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR" };
static const char *const paths[] = { "users", "items", "orders", "carts", "search", "sessions" };
static const char *const regions[] = { "north", "south", "east", "west", "central" };
static const char *const statuses[] = { "shipped", "pending", "paid", "returned", "cancelled" };

static int gen_random(struct out *o, struct rng *r) {
        while (o->left > 0) {
                uint64_t v[512];
                for (size_t i = 0; i < 512; i++)
                        v[i] = rng_next(r);
                int e = out_put(o, v, sizeof(v));
                if (e < 0)
                        return e;
        }
        return out_flush(o);
}

/* gen_log: server-log lines from time t (milliseconds advance at random) */
static int gen_log(struct out *o, struct rng *r, time_t t) {
        uint64_t ms = (uint64_t) t * 1000;
        while (o->left > 0) {
                char line[256], ts[32];
                time_t sec = (time_t) (ms / 1000);
                struct tm tm;
                gmtime_r(&sec, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
                uint64_t x = rng_next(r);
                int n, kind = (int) (x % 5);
                const char *lvl = levels[(x >> 8) % 7];
                unsigned w = (unsigned) ((x >> 12) % 16);
                if (kind < 3)
                        n = snprintf(line, sizeof(line), "%s.%03uZ %s [worker-%u] GET /api/v1/%s/%u %u %uB %ums\n", ts,
                                     (unsigned) (ms % 1000), lvl, w, paths[(x >> 16) % 6], (unsigned) ((x >> 20) % 100000),
                                     (x >> 40) % 10 ? 200u : 404u, (unsigned) ((x >> 24) % 65536), (unsigned) ((x >> 44) % 900));
                else if (kind == 3)
                        n = snprintf(line, sizeof(line), "%s.%03uZ %s [worker-%u] cache miss key=%08" PRIx32 " size=%u\n", ts,
                                     (unsigned) (ms % 1000), lvl, w, (uint32_t) rng_next(r), (unsigned) ((x >> 20) % 4096));
                else
                        n = snprintf(line, sizeof(line), "%s.%03uZ %s [sched] job %u done: %u rows, %s %s\n", ts,
                                     (unsigned) (ms % 1000), lvl, (unsigned) ((x >> 20) % 10000), (unsigned) ((x >> 34) % 50000),
                                     words[(x >> 50) % NWORDS], words[(x >> 56) % NWORDS]);
                int e = out_put(o, line, (size_t) n);
                if (e < 0)
                        return e;
                ms += (x >> 28) % 200;
        }
        return out_flush(o);
}

/* gen_csv: repetitive order records under a header */
static int gen_csv(struct out *o, struct rng *r) {
        static const char head[] = "id,date,region,product,quantity,unit_price,status\n";
        int e = out_put(o, head, sizeof(head) - 1);
        for (uint64_t id = 1; e >= 0 && o->left > 0; id++) {
                char line[160];
                uint64_t x = rng_next(r);
                int n = snprintf(line, sizeof(line), "%" PRIu64 ",2024-%02u-%02u,%s,%s-%s,%u,%u.%02u,%s\n", id,
                                 (unsigned) (x % 12 + 1), (unsigned) ((x >> 4) % 28 + 1), regions[(x >> 9) % 5],
                                 words[(x >> 12) % 25], words[(x >> 18) % 25], (unsigned) ((x >> 24) % 20 + 1),
                                 (unsigned) ((x >> 29) % 200), (unsigned) ((x >> 37) % 100), statuses[(x >> 44) % 5]);
                e = out_put(o, line, (size_t) n);
        }
        return e < 0 ? e : out_flush(o);
}

/* gen_prose: lines of words */
static int gen_prose(struct out *o, struct rng *r) {
        while (o->left > 0) {
                char line[256];
                size_t n = 0;
                unsigned k = (unsigned) rng_below(r, 12) + 4;
                for (unsigned i = 0; i < k; i++) {
                        const char *w = words[rng_below(r, NWORDS)];
                        size_t l = strlen(w);
                        memcpy(line + n, w, l);
                        n += l;
                        line[n++] = i + 1 < k ? ' ' : '.';
                }
                line[n++] = '\n';
                int e = out_put(o, line, n);
                if (e < 0)
                        return e;
        }
        return out_flush(o);
}

/* gen_json: an array of records, one per line */
static int gen_json(struct out *o, struct rng *r) {
        int e = out_put(o, "[\n", 2);
        for (unsigned id = 1; e >= 0 && o->left > 0; id++) {
                char line[256];
                uint64_t x = rng_next(r);
                int n = snprintf(line, sizeof(line),
                                 "  {\"id\": %u, \"name\": \"%s-%s\", \"active\": %s, \"score\": %u.%02u, "
                                 "\"tags\": [\"%s\", \"%s\"], \"region\": \"%s\"},\n",
                                 id, words[x % NWORDS], words[(x >> 6) % NWORDS], (x >> 12) & 1 ? "true" : "false",
                                 (unsigned) ((x >> 13) % 1000), (unsigned) ((x >> 23) % 100), words[(x >> 30) % NWORDS],
                                 words[(x >> 36) % NWORDS], regions[(x >> 42) % 5]);
                e = out_put(o, line, (size_t) n);
        }
        return e < 0 ? e : out_flush(o);
}

/* ---- files ---- */

enum kind { K_RANDOM, K_LOG, K_CSV, K_PROSE, K_JSON };

/* write_file: PATH (created, or truncated in place: the inode stays) with SIZE bytes of KIND */
static int write_file(const char *path, enum kind kind, struct rng *r, uint64_t size, time_t t, bool append) {
        static struct out o;
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
        if (fd < 0)
                return -errno;
        o.fd = fd;
        o.left = size;
        o.n = 0;
        int e;
        switch (kind) {
        case K_RANDOM: e = gen_random(&o, r); break;
        case K_LOG: e = gen_log(&o, r, t); break;
        case K_CSV: e = gen_csv(&o, r); break;
        case K_PROSE: e = gen_prose(&o, r); break;
        default: e = gen_json(&o, r); break;
        }
        if (close(fd) < 0 && e >= 0)
                e = -errno;
        return e;
}

static int set_mtime(const char *path, time_t t) {
        struct timespec ts[2] = { { t, 0 }, { t, 0 } };
        return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int mkdir_p(const char *path) {
        char p[4096];
        size_t n = strlen(path);
        if (n >= sizeof(p))
                return -ENAMETOOLONG;
        memcpy(p, path, n + 1);
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        return mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int fix_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return set_mtime(path, T0) < 0 ? -1 : 0;
}

/* fix_mtimes: every entry under DIR, children before their directory, gets T0 */
static int fix_mtimes(const char *dir) { return nftw(dir, fix_one, 64, FTW_DEPTH | FTW_PHYS) != 0 ? -EIO : 0; }

/* small_file: path and kind of the corpus's small file I (50 % prose or log, 20 % json, 30 % random) */
static void small_file(char *buf, size_t len, const char *dir, uint64_t i, struct rng *r, enum kind *ret_kind) {
        uint64_t d = i / SMALL_PER_DIR, c = rng_below(r, 10);
        enum kind k = c < 3 ? K_PROSE : c < 5 ? K_LOG : c < 7 ? K_JSON : K_RANDOM;
        snprintf(buf, len, "%s/small/p%02" PRIu64 "/d%04" PRIu64 "/f%05" PRIu64 ".%s", dir, d / SMALL_PER_PARENT, d, i,
                 k == K_JSON ? "json" : k == K_RANDOM ? "bin" : k == K_LOG ? "log" : "txt");
        *ret_kind = k;
}

/* small_write: (re)write small file I from stream R */
static int small_write(const char *dir, uint64_t i, struct rng *r, time_t t) {
        char path[4096];
        enum kind k;
        small_file(path, sizeof(path), dir, i, r, &k);
        uint64_t size = rng_loguniform(r, 1 * KIB, 64 * KIB);
        char *slash = strrchr(path, '/');
        *slash = 0;
        int e = mkdir_p(path);
        *slash = '/';
        if (e >= 0)
                e = write_file(path, k, r, size, t - (time_t) rng_below(r, 365) * DAY, false);
        if (e >= 0)
                e = set_mtime(path, t);
        return e;
}

static uint64_t scaled(double scale, uint64_t v) { return (uint64_t) (scale * (double) v); }

static int fail(const char *what, const char *path, int e) {
        fprintf(stderr, "corpusgen: %s %s: %s\n", what, path, strerror(-e));
        return 1;
}

/* cmd_gen: the ~1 GiB (at SCALE 1) corpus in DIR, which must not exist */
static int cmd_gen(const char *dir, uint64_t seed, double scale) {
        char p[4096];
        int e;
        if (mkdir(dir, 0755) < 0)
                return fail("mkdir", dir, -errno);
        snprintf(p, sizeof(p), "%s/big", dir);
        if ((e = mkdir_p(p)) < 0)
                return fail("mkdir", p, e);
        for (unsigned i = 1; i <= 3; i++) {
                struct rng r = rng_stream(seed, 100 + i);
                snprintf(p, sizeof(p), "%s/big/blob-%u.bin", dir, i);
                if ((e = write_file(p, K_RANDOM, &r, scaled(scale, 128 * MIB), T0, false)) < 0)
                        return fail("write", p, e);
        }
        struct rng rl = rng_stream(seed, 200), rc = rng_stream(seed, 300);
        snprintf(p, sizeof(p), "%s/big/server.log", dir);
        if ((e = write_file(p, K_LOG, &rl, scaled(scale, 192 * MIB), T0, false)) < 0)
                return fail("write", p, e);
        snprintf(p, sizeof(p), "%s/big/orders.csv", dir);
        if ((e = write_file(p, K_CSV, &rc, scaled(scale, 128 * MIB), T0, false)) < 0)
                return fail("write", p, e);
        uint64_t n = scaled(scale, 20000);
        for (uint64_t i = 0; i < n; i++) {
                struct rng r = rng_stream(seed, (UINT64_C(1) << 40) + i);
                if ((e = small_write(dir, i, &r, T0)) < 0)
                        return fail("write small file in", dir, e);
        }
        snprintf(p, sizeof(p), "%s/.nsmall", dir);
        FILE *f = fopen(p, "we");
        if (!f || fprintf(f, "%" PRIu64 "\n", n) < 0 || fclose(f) != 0)
                return fail("write", p, -EIO);
        return fix_mtimes(dir) < 0 ? fail("set mtimes under", dir, -EIO) : 0;
}

/* insert_front: LEN bytes at the start of PATH, in place (the inode stays) */
static int insert_front(const char *path, const void *data, size_t len) {
        static char buf[1 << 20];
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return -errno;
        int e = fstat(fd, &st) < 0 ? -errno : 0;
        for (off_t end = st.st_size; e >= 0 && end > 0;) {
                size_t k = end < (off_t) sizeof(buf) ? (size_t) end : sizeof(buf);
                off_t at = end - (off_t) k;
                if (pread(fd, buf, k, at) != (ssize_t) k || pwrite(fd, buf, k, at + (off_t) len) != (ssize_t) k)
                        e = -EIO;
                end = at;
        }
        if (e >= 0 && pwrite(fd, data, len, 0) != (ssize_t) len)
                e = -EIO;
        if (close(fd) < 0 && e >= 0)
                e = -errno;
        return e;
}

/* cmd_mutate: mutation round ROUND of the corpus in DIR */
static int cmd_mutate(const char *dir, uint64_t round, uint64_t seed) {
        char p[4096];
        int e;
        time_t t = T0 + (time_t) round * DAY;
        struct rng r = rng_stream(seed, (UINT64_C(2) << 40) + round);
        uint64_t head[13];
        for (size_t i = 0; i < 13; i++)
                head[i] = rng_next(&r);
        snprintf(p, sizeof(p), "%s/big/blob-1.bin", dir);
        if ((e = insert_front(p, head, 100)) < 0 || (e = set_mtime(p, t)) < 0)
                return fail("insert into", p, e);
        snprintf(p, sizeof(p), "%s/big/server.log", dir);
        if ((e = write_file(p, K_LOG, &r, 2 * MIB, t, true)) < 0 || (e = set_mtime(p, t)) < 0)
                return fail("append to", p, e);
        uint64_t n = 0;
        snprintf(p, sizeof(p), "%s/.nsmall", dir);
        FILE *f = fopen(p, "re");
        if (!f || fscanf(f, "%" SCNu64, &n) != 1 || n == 0) {
                if (f)
                        fclose(f);
                return fail("read", p, -EINVAL);
        }
        fclose(f);
        uint64_t k = n / 100 ? n / 100 : 1;
        uint64_t *seen = calloc((n + 63) / 64, 8);
        if (!seen)
                return fail("allocate for", dir, -ENOMEM);
        for (uint64_t done = 0; done < k;) {
                uint64_t i = rng_below(&r, n);
                if (seen[i / 64] >> (i % 64) & 1)
                        continue;
                seen[i / 64] |= UINT64_C(1) << (i % 64);
                /* the same path and kind as before (the first draw of its stream), new content */
                struct rng rs = rng_stream(seed, (UINT64_C(1) << 40) + i);
                char path[4096];
                enum kind kd;
                small_file(path, sizeof(path), dir, i, &rs, &kd);
                struct rng rn = rng_stream(seed, (UINT64_C(3) << 40) + round * (UINT64_C(1) << 32) + i);
                uint64_t size = rng_loguniform(&rn, 1 * KIB, 64 * KIB);
                if ((e = write_file(path, kd, &rn, size, t, false)) < 0 || (e = set_mtime(path, t)) < 0) {
                        free(seen);
                        return fail("rewrite", path, e);
                }
                done++;
        }
        free(seen);
        return 0;
}

/* cmd_tree: FILES files of MIN..MAX bytes (uniform) in DIRS leaf directories under DIR */
static int cmd_tree(const char *dir, uint64_t seed, uint64_t files, uint64_t dirs, uint64_t lo, uint64_t hi) {
        char p[4096];
        int e;
        if (mkdir(dir, 0755) < 0)
                return fail("mkdir", dir, -errno);
        for (uint64_t d = 0; d < dirs; d++) {
                snprintf(p, sizeof(p), "%s/p%03" PRIu64 "/d%05" PRIu64, dir, d / TREE_PER_PARENT, d);
                if ((e = mkdir_p(p)) < 0)
                        return fail("mkdir", p, e);
        }
        for (uint64_t i = 0; i < files; i++) {
                uint64_t d = i % dirs;
                struct rng r = rng_stream(seed, (UINT64_C(4) << 40) + i);
                uint64_t size = lo + rng_below(&r, hi - lo + 1);
                enum kind k = rng_below(&r, 2) ? K_PROSE : K_RANDOM;
                snprintf(p, sizeof(p), "%s/p%03" PRIu64 "/d%05" PRIu64 "/f%07" PRIu64, dir, d / TREE_PER_PARENT, d, i);
                if ((e = write_file(p, k, &r, size, T0, false)) < 0)
                        return fail("write", p, e);
        }
        return fix_mtimes(dir) < 0 ? fail("set mtimes under", dir, -EIO) : 0;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-')
                return false;
        *ret = v;
        return true;
}

static int usage(void) {
        fputs("usage: corpusgen gen DIR SEED SCALE\n"
              "       corpusgen mutate DIR ROUND SEED\n"
              "       corpusgen tree DIR SEED FILES DIRS MIN_BYTES MAX_BYTES\n",
              stderr);
        return 2;
}

int main(int argc, char **argv) {
        uint64_t a, b, c, d, e;
        if (argc == 5 && !strcmp(argv[1], "gen") && parse_u64(argv[3], &a)) {
                char *end;
                double scale = strtod(argv[4], &end);
                if (*end || !(scale > 0) || scale > 64)
                        return usage();
                return cmd_gen(argv[2], a, scale);
        }
        if (argc == 5 && !strcmp(argv[1], "mutate") && parse_u64(argv[3], &a) && parse_u64(argv[4], &b))
                return cmd_mutate(argv[2], a, b);
        if (argc == 8 && !strcmp(argv[1], "tree") && parse_u64(argv[3], &a) && parse_u64(argv[4], &b) &&
            parse_u64(argv[5], &c) && parse_u64(argv[6], &d) && parse_u64(argv[7], &e) && c > 0 && d > 0 && d <= e)
                return cmd_tree(argv[2], a, b, c, d, e);
        return usage();
}
