/* SPDX-License-Identifier: MIT */
/* Text tables, the --json printer, human sizes and times, and the progress
 * line of chutectl; see output.h. The JSON text itself is written by
 * proto/ctl-json.c, shared with the HTTP API. */
#include "output.h"

#include "ctl-json.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC INT64_C(1000000000)

const char *output_size(uint64_t bytes, char buf[OUTPUT_SIZE_MAX])
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double v = (double)bytes;
        size_t u = 0;

        if (bytes < 1024) {
                snprintf(buf, OUTPUT_SIZE_MAX, "%" PRIu64 " B", bytes);
                return buf;
        }
        v /= 1024;
        while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
                v /= 1024;
                u++;
        }
        if (v < 99.95)
                snprintf(buf, OUTPUT_SIZE_MAX, "%.1f %s", v, units[u]);
        else
                snprintf(buf, OUTPUT_SIZE_MAX, "%.0f %s", v, units[u]);
        return buf;
}

/* Seconds and nanoseconds of ns, rounding towards minus infinity. */
static void split_ns(int64_t ns, time_t *ret_sec, long *ret_nsec)
{
        int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;

        if (rem < 0) {
                rem += NSEC_PER_SEC;
                sec--;
        }
        *ret_sec = (time_t)sec;
        *ret_nsec = (long)rem;
}

const char *output_time_local(int64_t ns, char buf[OUTPUT_TIME_MAX])
{
        struct tm tm;
        time_t sec;
        long nsec;

        split_ns(ns, &sec, &nsec);
        if (!localtime_r(&sec, &tm) || !strftime(buf, OUTPUT_TIME_MAX, "%Y-%m-%d %H:%M:%S", &tm))
                snprintf(buf, OUTPUT_TIME_MAX, "@%" PRId64, ns / NSEC_PER_SEC);
        return buf;
}

const char *output_time_rfc3339(int64_t ns, char buf[OUTPUT_TIME_MAX])
{
        struct tm tm;
        time_t sec;
        long nsec;
        char base[32];

        split_ns(ns, &sec, &nsec);
        if (!gmtime_r(&sec, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
                snprintf(base, sizeof(base), "1970-01-01T00:00:00");
        snprintf(buf, OUTPUT_TIME_MAX, "%s.%09ldZ", base, nsec);
        return buf;
}

const char *output_duration(uint64_t s, char buf[OUTPUT_TIME_MAX])
{
        if (s < 60)
                snprintf(buf, OUTPUT_TIME_MAX, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(buf, OUTPUT_TIME_MAX, "%" PRIu64 "m %02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(buf, OUTPUT_TIME_MAX, "%" PRIu64 "h %02" PRIu64 "m", s / 3600,
                         s % 3600 / 60);
        else
                snprintf(buf, OUTPUT_TIME_MAX, "%" PRIu64 "d %02" PRIu64 "h", s / 86400,
                         s % 86400 / 3600);
        return buf;
}

const char *output_mode(const char *kind, uint32_t mode, char buf[11])
{
        static const struct {
                const char *kind;
                char c;
        } kinds[] = { { "file", '-' },    { "dir", 'd' },    { "symlink", 'l' },
                      { "fifo", 'p' },    { "char", 'c' },   { "chardev", 'c' },
                      { "block", 'b' },   { "blockdev", 'b' }, { "socket", 's' } };
        static const char rwx[] = "rwxrwxrwx";

        buf[0] = '?';
        for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
                if (!strcmp(kind, kinds[i].kind))
                        buf[0] = kinds[i].c;
        for (int i = 0; i < 9; i++)
                buf[1 + i] = mode & (1u << (8 - i)) ? rwx[i] : '-';
        if (mode & 04000)
                buf[3] = mode & 0100 ? 's' : 'S';
        if (mode & 02000)
                buf[6] = mode & 0010 ? 's' : 'S';
        if (mode & 01000)
                buf[9] = mode & 0001 ? 't' : 'T';
        buf[10] = '\0';
        return buf;
}

/* ---- JSON ---- */

json_t *output_json_bytes(const void *p, size_t len)
{
        return json_stringn_nocheck(len ? p : "", len);
}

int output_json_string(FILE *f, const char *str, size_t len)
{
        return ctl_json_write_string(f, str, len);
}

int output_json_print(FILE *f, const json_t *doc)
{
        return ctl_json_write(f, doc, true);
}

/* ---- tables ---- */

size_t output_width(const char *s)
{
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        w++;
        return w;
}

void output_table_init(struct output_table *t, size_t n_columns, const char *const *headers,
                       const enum output_align *align)
{
        *t = (struct output_table){ .n_columns = n_columns, .headers = headers, .align = align };
}

int output_table_add(struct output_table *t, const char *const *cells)
{
        char **v = realloc(t->cells, (t->n_rows + 1) * t->n_columns * sizeof(*v));

        if (!v)
                return -ENOMEM;
        t->cells = v;
        v += t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                v[i] = strdup(cells[i] ? cells[i] : "");
                if (!v[i]) {
                        while (i > 0)
                                free(v[--i]);
                        return -ENOMEM;
                }
        }
        t->n_rows++;
        return 0;
}

static void print_cell(FILE *f, const char *s, size_t width, enum output_align align, bool last)
{
        size_t w = output_width(s), pad = width > w ? width - w : 0;

        if (align == OUTPUT_RIGHT)
                fprintf(f, "%*s", (int)pad, "");
        fputs(s, f);
        if (align == OUTPUT_LEFT && !last)
                fprintf(f, "%*s", (int)pad, "");
        if (!last)
                fputs("  ", f);
}

void output_table_print(const struct output_table *t, FILE *f)
{
        size_t width[16] = { 0 };
        size_t nc = t->n_columns < 16 ? t->n_columns : 16;

        for (size_t c = 0; c < nc; c++) {
                width[c] = output_width(t->headers[c]);
                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t w = output_width(t->cells[r * t->n_columns + c]);
                        if (w > width[c])
                                width[c] = w;
                }
        }
        for (size_t c = 0; c < nc; c++)
                print_cell(f, t->headers[c], width[c], t->align ? t->align[c] : OUTPUT_LEFT,
                           c + 1 == nc);
        fputc('\n', f);
        for (size_t r = 0; r < t->n_rows; r++) {
                for (size_t c = 0; c < nc; c++)
                        print_cell(f, t->cells[r * t->n_columns + c], width[c],
                                   t->align ? t->align[c] : OUTPUT_LEFT, c + 1 == nc);
                fputc('\n', f);
        }
}

void output_table_done(struct output_table *t)
{
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->n_rows = 0;
}

/* ---- progress ---- */

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void output_progress_init(struct output_progress *p, int fd)
{
        /* rates count from here: the request is sent right after */
        *p = (struct output_progress){ .enabled = isatty(fd) == 1, .start_ns = now_ns() };
}

/* Append to buf (of len, holding *n bytes) what fits. */
static void appendf(char *buf, size_t len, size_t *n, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
        va_list ap;
        int k;

        if (*n + 1 >= len)
                return;
        va_start(ap, fmt);
        k = vsnprintf(buf + *n, len - *n, fmt, ap);
        va_end(ap);
        if (k > 0)
                *n = (size_t)k < len - *n ? *n + (size_t)k : len - 1;
}

void output_progress_format(char *buf, size_t len, const char *phase, size_t phase_len,
                            uint64_t files, uint64_t done, uint64_t total, uint64_t rate_done,
                            int64_t elapsed_ns)
{
        char a[OUTPUT_SIZE_MAX], b[OUTPUT_SIZE_MAX], r[OUTPUT_SIZE_MAX], eta[OUTPUT_TIME_MAX];
        size_t n = 0;

        if (len == 0)
                return;
        buf[0] = '\0';
        if (phase_len)
                appendf(buf, len, &n, "%.*s: ", (int)(phase_len > 24 ? 24 : phase_len), phase);
        appendf(buf, len, &n, "%" PRIu64 " files, %s", files, output_size(done, a));
        if (total >= done && total > 0)
                appendf(buf, len, &n, " of %s (%d%%)", output_size(total, b),
                        (int)(done * 100 / total));
        if (elapsed_ns >= NSEC_PER_SEC / 4 && rate_done > 0) {
                uint64_t rate = (uint64_t)((double)rate_done * NSEC_PER_SEC / (double)elapsed_ns);
                appendf(buf, len, &n, ", %s/s", output_size(rate, r));
                if (total > done && rate > 0)
                        appendf(buf, len, &n, ", ETA %s",
                                output_duration((total - done + rate - 1) / rate, eta));
        }
}

void output_progress_update(struct output_progress *p, const char *phase, size_t phase_len,
                            uint64_t files, uint64_t done, uint64_t total)
{
        char line[160];
        int64_t t = now_ns();

        if (!p->enabled)
                return;
        /* phases come from the daemon: keep only printable ASCII of them */
        char ph[32];
        size_t pl = 0;
        for (size_t i = 0; i < phase_len && pl < sizeof(ph) - 1; i++)
                if (phase[i] >= 0x20 && phase[i] < 0x7f)
                        ph[pl++] = phase[i];
        output_progress_format(line, sizeof(line), ph, pl, files, done, total,
                               done >= p->start_done ? done - p->start_done : 0,
                               t - p->start_ns);
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        p->shown = true;
}

void output_progress_clear(struct output_progress *p)
{
        if (!p->shown)
                return;
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->shown = false;
}

/* ---- a terminal gets no control sequences from reply text ---- */

struct term_filter {
        int fd;
        bool after_c2; /* the last byte written was 0xC2 (maybe half of a C1 control) */
};

int output_write_all(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* C0 controls but tab and newline, DEL, and the C1 controls (U+0080 to
 * U+009F, 0xC2 0x80..0x9F in UTF-8) become '?': a file name or a peer's
 * error text cannot move the cursor, retitle the window or set the
 * clipboard. */
static ssize_t term_write(void *cookie, const char *buf, size_t size)
{
        struct term_filter *t = cookie;
        char out[4096];
        size_t n = 0;

        for (size_t i = 0; i < size; i++) {
                unsigned char c = (unsigned char)buf[i];
                bool c1 = t->after_c2 && c >= 0x80 && c <= 0x9f;
                if (c1 && n > 0 && out[n - 1] == (char)0xc2)
                        n--; /* the 0xC2 of this pair, still here: replaced whole */
                t->after_c2 = c == 0xc2;
                out[n++] = c1 || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
                if (n == sizeof(out)) {
                        if (output_write_all(t->fd, out, n) < 0)
                                return -1;
                        n = 0;
                }
        }
        if (n > 0 && output_write_all(t->fd, out, n) < 0)
                return -1;
        return (ssize_t)size;
}

int output_filter_terminal(void)
{
        /* static: the stream lives until exit, which flushes but never
         * closes it (a heap cookie would show as a leak) */
        static struct term_filter t = { .fd = STDOUT_FILENO };

        if (!isatty(STDOUT_FILENO))
                return 0;
        FILE *f = fopencookie(&t, "w", (cookie_io_functions_t){ .write = term_write });
        if (!f)
                return -errno;
        fflush(stdout);
        stdout = f;
        return 1;
}

