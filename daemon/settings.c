/* SPDX-License-Identifier: MIT */
/* The config file: one table of [section] keys with a parser each, fed by
 * inih through our own line reader (which counts lines, strips indentation so
 * inih's multi-line continuation never surprises anyone, rejects unknown
 * sections and over-long lines, and stops at the first error). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "cbor-check.h"
#include "cleanup.h"
#include "compress.h"
#include "settings.h"
#include "crypto.h"
#include "defaults.h"
#include "parse.h"

static char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                abort();
        return p;
}

void settings_init_defaults(struct settings *c, uid_t uid)
{
        *c = (struct settings){
                .system_mode = uid == 0,
                .log_level = LOG_INFO,
                .workers = 0,
                .cipher = 0,
                .compression_level = COMPRESS_LEVEL_DEFAULT,
                .one_file_system = 1,
                .socket_group = xstrdup("chute"),
                .control_max_clients = 64,
                .api_max_clients = 32,
                .api_timeout_ns = UINT64_C(30000000000),
                .control_idle_timeout_ns = 60 * NSEC_PER_SEC,
                .quiet_period_ns = 2 * NSEC_PER_SEC,
                .max_delay_ns = 60 * NSEC_PER_SEC,
                .rescan_interval_ns = NSEC_PER_HOUR,
                .poll_interval_ns = 5 * 60 * NSEC_PER_SEC,
                .retention_auto = 1,
                .prune_interval_ns = 24 * NSEC_PER_HOUR,
                .prune_grace_ns = 10 * NSEC_PER_SEC,
                .prune_max_unused = 5,
                .prune_max_repack = 1ull << 30,
                .delete_delay_ns = 30 * 24 * NSEC_PER_HOUR,
                .peer_window = 8u << 20,
                .prove_interval_ns = 24 * NSEC_PER_HOUR,
                .prove_count = 16,
                .local_copy = SETTINGS_LOCAL_FULL,
                .cache_size = 1ull << 30,
        };
        c->peer_listen = xstrdup("0.0.0.0:2001");
        c->api_listen = xstrdup("127.0.0.1:2002");
        retention_policy_default(&c->retention);
        c->state_dir = defaults_state_dir(uid);
        c->socket_path = defaults_socket_path(uid);
}

const char *settings_default_path(uid_t uid)
{
        static char buf[PATH_MAX];
        _cleanup_free_ char *p = defaults_config_path(uid);

        snprintf(buf, sizeof(buf), "%s", p);
        return buf;
}

void settings_done(struct settings *c)
{
        free(c->file);
        free(c->state_dir);
        free(c->socket_path);
        free(c->key_file);
        free(c->socket_group);
        free(c->peer_listen);
        free(c->api_listen);
        free(c->node_name);
        for (size_t i = 0; i < c->n_watch; i++)
                free(c->watch[i]);
        free(c->watch);
        for (size_t i = 0; i < c->n_stores; i++) {
                free(c->stores[i].name);
                free(c->stores[i].config);
        }
        free(c->stores);
        *c = (struct settings){ 0 };
}

int settings_add_watch(struct settings *c, const char *path)
{
        char **w, *p;

        if (!path || path[0] != '/')
                return -EINVAL;
        for (size_t i = 0; i < c->n_watch; i++)
                if (strcmp(c->watch[i], path) == 0)
                        return 0;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        w = reallocarray(c->watch, c->n_watch + 1, sizeof(*w));
        if (!w) {
                free(p);
                return -ENOMEM;
        }
        w[c->n_watch++] = p;
        c->watch = w;
        return 0;
}

/* ---- the file ------------------------------------------------------------ */

struct parse_state {
        struct settings *config;
        const char *name;       /* file name for messages */
        FILE *file;             /* either a file ... */
        const char *text;       /* ... or the rest of a string */
        char *line_buf;         /* getline buffer for file */
        size_t line_size;
        unsigned line;          /* current line number, 1-based */
        char *error;            /* first error, "FILE:LINE: ..." */
        unsigned error_line;
        int error_code;
        int read_errno;         /* getline failure other than end of file */
};

static int fail(struct parse_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse_state *st, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int r;

        if (st->error_code)
                return st->error_code;
        va_start(ap, fmt);
        r = vasprintf(&what, fmt, ap);
        va_end(ap);
        st->error_line = st->line;
        st->error_code = -EINVAL;
        if (r < 0 || asprintf(&st->error, "%s:%u: %s", st->name, st->line, what) < 0) {
                st->error = NULL;
                st->error_code = -ENOMEM;
        }
        return st->error_code;
}

struct key;
typedef int (*key_parser)(struct parse_state *st, const struct key *k, const char *value);

struct key {
        const char *section;
        const char *name;
        key_parser parse;
        size_t offset;          /* of the field in struct settings */
};

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->offset))

static int parse_path(struct parse_state *st, const struct key *k, const char *value)
{
        char **field = FIELD(st->config, k, char *);
        char *p;

        if (value[0] != '/')
                return fail(st, "%s must be an absolute path, not \"%s\"", k->name, value);
        p = strdup(value);
        if (!p)
                return fail(st, "out of memory");
        free(*field);
        *field = p;
        return 0;
}

static int parse_watch_path(struct parse_state *st, const struct key *k, const char *value)
{
        int r;

        if (value[0] != '/')
                return fail(st, "%s must be an absolute path, not \"%s\"", k->name, value);
        r = settings_add_watch(st->config, value);
        if (r < 0)
                return fail(st, "out of memory");
        return 0;
}

static int parse_group(struct parse_state *st, const struct key *k, const char *value)
{
        char **field = FIELD(st->config, k, char *);
        char *p;

        if (strpbrk(value, " \t:/") || strlen(value) > 32)
                return fail(st, "bad group name \"%s\" for %s", value, k->name);
        p = strdup(value);
        if (!p)
                return fail(st, "out of memory");
        free(*field);
        *field = p;
        return 0;
}

static int set_log_level(struct parse_state *st, const struct key *k, const char *value)
{
        int level = parse_log_level(value);

        if (level < 0)
                return fail(st, "bad log level \"%s\" for %s (err, warning, notice, info or debug)",
                            value, k->name);
        *FIELD(st->config, k, int) = level;
        return 0;
}

/* A decimal integer in [0, max]. */
static int parse_range(const char *value, unsigned max, unsigned *ret)
{
        unsigned long v = 0;

        if (!*value)
                return -EINVAL;
        for (const char *p = value; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = (unsigned)v;
        return 0;
}

static int parse_workers(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (parse_range(value, SETTINGS_WORKERS_MAX, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (0 for one per core, up to %d)", value,
                            k->name, SETTINGS_WORKERS_MAX);
        *FIELD(st->config, k, unsigned) = v;
        return 0;
}

static int parse_control_clients(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (parse_range(value, SETTINGS_CONTROL_CLIENTS_MAX, &v) < 0 || v == 0)
                return fail(st, "bad value \"%s\" for %s (1 to %d)", value, k->name,
                            SETTINGS_CONTROL_CLIENTS_MAX);
        *FIELD(st->config, k, unsigned) = v;
        return 0;
}

static int parse_compression(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (strcasecmp(value, "auto") == 0)
                v = COMPRESS_LEVEL_DEFAULT;
        else if (parse_range(value, SETTINGS_COMPRESSION_MAX, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (auto, or 0 to %d)", value, k->name,
                            SETTINGS_COMPRESSION_MAX);
        *FIELD(st->config, k, int) = (int)v;
        return 0;
}

static int parse_cipher(struct parse_state *st, const struct key *k, const char *value)
{
        int cipher;

        if (strcasecmp(value, "auto") == 0)
                cipher = 0;
        else if (strcasecmp(value, "aes-256-gcm") == 0)
                cipher = CRYPTO_CIPHER_AES256_GCM;
        else if (strcasecmp(value, "chacha20-poly1305") == 0)
                cipher = CRYPTO_CIPHER_CHACHA20_POLY1305;
        else
                return fail(st, "unknown cipher \"%s\" for %s (auto, aes-256-gcm or chacha20-poly1305)",
                            value, k->name);
        *FIELD(st->config, k, int) = cipher;
        return 0;
}

static int parse_boolean(struct parse_state *st, const struct key *k, const char *value)
{
        int b = parse_bool(value);

        if (b < 0)
                return fail(st, "bad boolean \"%s\" for %s (yes or no)", value, k->name);
        *FIELD(st->config, k, int) = b;
        return 0;
}

static int parse_duration(struct parse_state *st, const struct key *k, const char *value)
{
        uint64_t ns;

        if (parse_duration_ns(value, &ns) < 0)
                return fail(st, "bad duration \"%s\" for %s", value, k->name);
        /* Durations are added to and compared with signed ns clocks: one
         * past about 146 years would wrap (a delete_delay meant as "never"
         * would purge at once). Half of that range is plenty. */
        if (ns > (uint64_t)INT64_MAX / 2)
                return fail(st, "%s = %s is too long (at most %" PRIu64 " days)", k->name, value,
                            (uint64_t)INT64_MAX / 2 / (86400 * NSEC_PER_SEC));
        /* 0: no wait, or (prune) never by itself */
        if (ns == 0 && strcmp(k->name, "quiet_period") != 0 && strcmp(k->name, "control_idle_timeout") != 0 &&
            !(strcmp(k->section, "prune") == 0 && strcmp(k->name, "interval") == 0))
                return fail(st, "%s must be longer than 0", k->name);
        *FIELD(st->config, k, uint64_t) = ns;
        return 0;
}

/* A [retention] count: N >= 0, or "unlimited" / -1 (RETENTION_UNLIMITED). */
static int parse_keep_count(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (strcasecmp(value, "unlimited") == 0 || strcmp(value, "-1") == 0)
                v = (unsigned)-1;
        else if (parse_range(value, SETTINGS_KEEP_MAX, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (0 to %d, or unlimited)", value, k->name,
                            SETTINGS_KEEP_MAX);
        *FIELD(st->config, k, int) = v == (unsigned)-1 ? RETENTION_UNLIMITED : (int)v;
        return 0;
}

/* keep_within: a duration, 0 for off. */
static int parse_keep_within(struct parse_state *st, const struct key *k, const char *value)
{
        uint64_t ns;

        if (parse_duration_ns(value, &ns) < 0 || ns > INT64_MAX / 2)
                return fail(st, "bad duration \"%s\" for %s", value, k->name);
        *FIELD(st->config, k, int64_t) = (int64_t)ns;
        return 0;
}

/* listen: "none", or IPV4:PORT / [IPV6]:PORT / HOST:PORT (port 1-65535). */
static int parse_listen(struct parse_state *st, const struct key *k, const char *value)
{
        char **field = FIELD(st->config, k, char *);
        const char *colon = strrchr(value, ':');
        unsigned port;
        char *p = NULL;

        if (strcasecmp(value, "none") != 0) {
                if (!colon || colon == value || parse_range(colon + 1, 65535, &port) < 0 || port == 0 ||
                    strpbrk(value, " \t/"))
                        return fail(st, "bad address \"%s\" for %s (ADDRESS:PORT, or none)", value,
                                    k->name);
                p = strdup(value);
                if (!p)
                        return fail(st, "out of memory");
        }
        free(*field);
        *field = p;
        return 0;
}

/* name: printable text up to SETTINGS_NAME_MAX bytes. */
static int parse_name(struct parse_state *st, const struct key *k, const char *value)
{
        char **field = FIELD(st->config, k, char *);
        char *p;

        if (!*value || strlen(value) > SETTINGS_NAME_MAX)
                return fail(st, "bad %s \"%s\" (1 to %d characters)", k->name, value, SETTINGS_NAME_MAX);
        for (const unsigned char *c = (const unsigned char *)value; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return fail(st, "bad %s: control characters are not allowed", k->name);
        /* sent to peers as CBOR text, which their decoders check */
        if (!cbor_check_utf8_valid((const uint8_t *)value, strlen(value)))
                return fail(st, "bad %s: not valid UTF-8", k->name);
        p = strdup(value);
        if (!p)
                return fail(st, "out of memory");
        free(*field);
        *field = p;
        return 0;
}

/* A size ("10G", "512MiB", "0"). */
static int parse_bytes(struct parse_state *st, const struct key *k, const char *value)
{
        uint64_t v;

        if (parse_size(value, &v) < 0)
                return fail(st, "bad size \"%s\" for %s (e.g. 500M, 20G, 0)", value, k->name);
        if (strcmp(k->name, "window") == 0 && (v < 65536 || v > (1ull << 30)))
                return fail(st, "%s must be between 64K and 1G", k->name);
        *FIELD(st->config, k, uint64_t) = v;
        return 0;
}

static int parse_copies(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (strcasecmp(value, "all") == 0)
                v = 0;
        else if (parse_range(value, SETTINGS_COPIES_MAX, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (all, or 1 to %d)", value, k->name,
                            SETTINGS_COPIES_MAX);
        *FIELD(st->config, k, unsigned) = v;
        return 0;
}

static int parse_prove_count(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (parse_range(value, SETTINGS_PROVE_COUNT_MAX, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (0 to %d)", value, k->name,
                            SETTINGS_PROVE_COUNT_MAX);
        *FIELD(st->config, k, unsigned) = v;
        return 0;
}

static int parse_local_copy(struct parse_state *st, const struct key *k, const char *value)
{
        int v;

        if (strcasecmp(value, "full") == 0)
                v = SETTINGS_LOCAL_FULL;
        else if (strcasecmp(value, "cache") == 0)
                v = SETTINGS_LOCAL_CACHE;
        else
                return fail(st, "bad value \"%s\" for %s (full or cache)", value, k->name);
        *FIELD(st->config, k, int) = v;
        return 0;
}

static int parse_percent(struct parse_state *st, const struct key *k, const char *value)
{
        unsigned v;

        if (parse_range(value, 100, &v) < 0)
                return fail(st, "bad value \"%s\" for %s (0 to 100)", value, k->name);
        *FIELD(st->config, k, unsigned) = v;
        return 0;
}

#define KEY(sec, nm, fn, field) { sec, nm, fn, offsetof(struct settings, field) }
static const struct key keys[] = {
        KEY("daemon", "state_dir", parse_path, state_dir),
        KEY("daemon", "socket", parse_path, socket_path),
        KEY("daemon", "log_level", set_log_level, log_level),
        KEY("daemon", "workers", parse_workers, workers),
        KEY("daemon", "cipher", parse_cipher, cipher),
        KEY("daemon", "compression_level", parse_compression, compression_level),
        KEY("daemon", "key_file", parse_path, key_file),
        KEY("daemon", "socket_group", parse_group, socket_group),
        KEY("daemon", "control_max_clients", parse_control_clients, control_max_clients),
        KEY("daemon", "control_idle_timeout", parse_duration, control_idle_timeout_ns),
        KEY("backup", "one_file_system", parse_boolean, one_file_system),
        KEY("watch", "quiet_period", parse_duration, quiet_period_ns),
        KEY("watch", "max_delay", parse_duration, max_delay_ns),
        KEY("watch", "rescan_interval", parse_duration, rescan_interval_ns),
        KEY("watch", "poll_interval", parse_duration, poll_interval_ns),
        KEY("watch", "path", parse_watch_path, watch),
        KEY("retention", "keep_within", parse_keep_within, retention.keep_within_ns),
        KEY("retention", "keep_last", parse_keep_count, retention.keep_last),
        KEY("retention", "keep_hourly", parse_keep_count, retention.keep_hourly),
        KEY("retention", "keep_daily", parse_keep_count, retention.keep_daily),
        KEY("retention", "keep_weekly", parse_keep_count, retention.keep_weekly),
        KEY("retention", "keep_monthly", parse_keep_count, retention.keep_monthly),
        KEY("retention", "keep_yearly", parse_keep_count, retention.keep_yearly),
        KEY("retention", "auto", parse_boolean, retention_auto),
        KEY("prune", "interval", parse_duration, prune_interval_ns),
        KEY("prune", "grace", parse_duration, prune_grace_ns),
        KEY("prune", "max_unused", parse_percent, prune_max_unused),
        KEY("prune", "max_repack", parse_bytes, prune_max_repack),
        KEY("peer", "listen", parse_listen, peer_listen),
        KEY("peer", "name", parse_name, node_name),
        KEY("peer", "quota", parse_bytes, peer_quota),
        KEY("peer", "delete_delay", parse_duration, delete_delay_ns),
        KEY("peer", "window", parse_bytes, peer_window),
        KEY("api", "listen", parse_listen, api_listen),
        KEY("api", "max_clients", parse_control_clients, api_max_clients),
        KEY("api", "timeout", parse_duration, api_timeout_ns),
        KEY("api", "metrics_public", parse_boolean, api_metrics_public),
        KEY("replication", "copies", parse_copies, copies),
        KEY("replication", "upload_limit", parse_bytes, upload_limit),
        KEY("replication", "download_limit", parse_bytes, download_limit),
        KEY("replication", "prove_interval", parse_duration, prove_interval_ns),
        KEY("replication", "prove_count", parse_prove_count, prove_count),
        KEY("replication", "local_copy", parse_local_copy, local_copy),
        KEY("replication", "cache_size", parse_bytes, cache_size),
};
#undef KEY

static const char *const sections[] = { "daemon", "backup", "watch", "retention", "prune", "peer", "replication",
                                        "api" };

/* A [store NAME] section name: 1..64 letters, digits, '.', '_', '-'. */
static bool store_section(const char *line, size_t n)
{
        if (n <= 6 || n - 6 > 64 || memcmp(line, "store ", 6) != 0)
                return false;
        for (size_t i = 6; i < n; i++)
                if (!isalnum((unsigned char)line[i]) && !strchr("._-", line[i]))
                        return false;
        return line[6] != '-';
}

/* One key of a [store NAME] section, kept as the "key=value" line the stores table holds. */
static int parse_store_key(struct parse_state *st, const char *store, const char *name, const char *value)
{
        static const char *const known[] = { "kind", "endpoint", "bucket", "prefix", "region", "access_key_file",
                                             "secret_key_file", "virtual_host", "object_lock_days" };
        struct settings *c = st->config;
        struct settings_store *s = c->n_stores ? &c->stores[c->n_stores - 1] : NULL;
        _cleanup_free_ char *line = NULL;
        char want[80];
        bool ok = false;
        int b;

        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                ok = ok || !strcmp(known[i], name);
        if (!ok)
                return fail(st, "unknown key \"%s\" in [store %s]", name, store);
        if (!strcmp(name, "kind"))
                return strcmp(value, "s3") ? fail(st, "[store %s]: kind must be s3", store) : 0;
        if (strchr(value, '\n') || strlen(value) > 4096)
                return fail(st, "bad value for %s in [store %s]", name, store);
        if ((!strcmp(name, "access_key_file") || !strcmp(name, "secret_key_file")) && value[0] != '/')
                return fail(st, "%s in [store %s] must be an absolute path", name, store);
        if (!strcmp(name, "object_lock_days") && (strspn(value, "0123456789") != strlen(value) || strlen(value) > 5))
                return fail(st, "object_lock_days in [store %s] takes a number of days", store);
        if (!strcmp(name, "virtual_host")) {
                if ((b = parse_bool(value)) < 0)
                        return fail(st, "bad value \"%s\" for virtual_host (yes or no)", value);
                value = b ? "1" : "0";
        }
        if (!s || strcmp(s->name, store)) {
                struct settings_store *n = reallocarray(c->stores, c->n_stores + 1, sizeof(*n));
                if (!n)
                        return fail(st, "out of memory");
                c->stores = n;
                s = &c->stores[c->n_stores];
                *s = (struct settings_store){ .name = strdup(store), .config = strdup("") };
                if (!s->name || !s->config) {
                        free(s->name);
                        free(s->config);
                        return fail(st, "out of memory");
                }
                for (size_t i = 0; i < c->n_stores; i++)
                        if (!strcmp(c->stores[i].name, store)) {
                                free(s->name);
                                free(s->config);
                                return fail(st, "[store %s] appears twice", store);
                        }
                c->n_stores++;
        }
        snprintf(want, sizeof(want), "\n%s=", name);
        if (!strncmp(s->config, want + 1, strlen(want + 1)) || strstr(s->config, want))
                return fail(st, "%s given twice in [store %s]", name, store);
        if (asprintf(&line, "%s%s=%s\n", s->config, name, value) < 0)
                return fail(st, "out of memory");
        free(s->config);
        s->config = TAKE_PTR(line);
        return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
        struct parse_state *st = user;

        if (st->error_code)
                return 0;
        if (!section[0])
                return fail(st, "key \"%s\" outside any section", name), 0;
        if (store_section(section, strlen(section))) {
                if (!value[0])
                        return fail(st, "empty value for %s", name), 0;
                return parse_store_key(st, section + 6, name, value) < 0 ? 0 : 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (strcmp(keys[i].section, section) != 0 || strcmp(keys[i].name, name) != 0)
                        continue;
                if (!value[0])
                        return fail(st, "empty value for %s", name), 0;
                return keys[i].parse(st, &keys[i], value) < 0 ? 0 : 1;
        }
        return fail(st, "unknown key \"%s\" in [%s]", name, section), 0;
}

/* Next physical line (with its '\n' if any) as a pointer into a buffer; NULL at the end. */
static const char *next_line(struct parse_state *st, size_t *ret_len)
{
        if (st->file) {
                errno = 0;
                ssize_t n = getline(&st->line_buf, &st->line_size, st->file);
                if (n < 0) {
                        if (ferror(st->file))
                                st->read_errno = errno ? errno : EIO;
                        return NULL;
                }
                *ret_len = (size_t)n;
                return st->line_buf;
        }
        if (!st->text || !*st->text)
                return NULL;
        const char *start = st->text, *nl = strchr(start, '\n');
        size_t n = nl ? (size_t)(nl - start) + 1 : strlen(start);
        st->text += n;
        *ret_len = n;
        return start;
}

/* inih's fgets-style reader: one physical line per call, so inih's line
 * numbers and ours agree. Returning NULL ends the parse (EOF or first error). */
static char *reader(char *str, int num, void *stream)
{
        struct parse_state *st = stream;
        const char *line;
        size_t len;

        if (st->error_code)
                return NULL;
        line = next_line(st, &len);
        if (!line)
                return NULL;
        st->line++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        /* Indentation is cosmetic here: never a continuation line. */
        while (len > 0 && (*line == ' ' || *line == '\t')) {
                line++;
                len--;
        }
        if (memchr(line, '\0', len)) {
                fail(st, "NUL byte in line");
                return NULL;
        }
        if (len + 3 > (size_t)num) {
                fail(st, "line too long (more than %d characters)", num - 3);
                return NULL;
        }
        if (len > 0 && line[0] == '[') {
                const char *end = memchr(line, ']', len);
                if (end) {
                        size_t n = (size_t)(end - line - 1);
                        bool known = false;
                        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                                if (strlen(sections[i]) == n && memcmp(sections[i], line + 1, n) == 0)
                                        known = true;
                        known = known || store_section(line + 1, n);
                        if (!known) {
                                fail(st, "unknown section [%.*s]", (int)n, line + 1);
                                return NULL;
                        }
                }
        }
        memcpy(str, line, len);
        str[len] = '\n';
        str[len + 1] = '\0';
        return str;
}

/* Every [store NAME] has what an S3 store cannot do without. */
static void check_stores(struct parse_state *st)
{
        static const char *const needed[] = { "endpoint=", "bucket=", "access_key_file=", "secret_key_file=" };

        for (size_t i = 0; i < st->config->n_stores && !st->error_code; i++) {
                const struct settings_store *s = &st->config->stores[i];
                for (size_t k = 0; k < ELEMENTSOF(needed); k++) {
                        const char *p = strstr(s->config, needed[k]);
                        if (!p || (p != s->config && p[-1] != '\n')) {
                                fail(st, "[store %s] needs endpoint, bucket, access_key_file and secret_key_file",
                                     s->name);
                                break;
                        }
                }
        }
}

static int load(struct parse_state *st, char **ret_error)
{
        int r = ini_parse_stream(reader, st, handler, st);

        if (r == 0 && !st->error_code)
                check_stores(st);

        free(st->line_buf);
        st->line_buf = NULL;
        if (r > 0 && (!st->error_code || (unsigned)r < st->error_line)) {
                /* inih's own syntax error, before any of ours. */
                free(st->error);
                st->error = NULL;
                st->error_code = -EINVAL;
                if (asprintf(&st->error, "%s:%d: syntax error, expected \"[section]\" or \"key = value\"",
                             st->name, r) < 0) {
                        st->error = NULL;
                        st->error_code = -ENOMEM;
                }
        } else if (r < 0 && !st->error_code) {
                st->error_code = -ENOMEM;
        }
        if (st->error_code) {
                if (ret_error)
                        *ret_error = TAKE_PTR(st->error);
                free(st->error);
                return st->error_code;
        }
        return 0;
}

int settings_load_string(struct settings *c, const char *text, const char *name, char **ret_error)
{
        struct parse_state st = { .config = c, .name = name ? name : "<string>", .text = text };
        return load(&st, ret_error);
}

int settings_load_file(struct settings *c, const char *path, int must_exist, char **ret_error)
{
        _cleanup_fclose_ FILE *f = NULL;
        char *file;
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !must_exist)
                        return 0;
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        file = strdup(path);
        if (!file)
                return -ENOMEM;
        free(c->file);
        c->file = file;

        struct parse_state st = { .config = c, .name = path, .file = f };
        r = load(&st, ret_error);
        if (r == 0 && st.read_errno) {
                r = -st.read_errno;
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(st.read_errno)) < 0)
                        *ret_error = NULL;
        }
        return r;
}
