/* SPDX-License-Identifier: MIT */
/* chuted's settings: built-in defaults chosen by uid (system or user mode),
 * then the INI config file (inih), then command-line options applied by main.
 * Owns parsing and validation with FILE:LINE messages; applies nothing itself.
 * Note: this is daemon/config.h; autoconf's config.h is force-included (-include). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "retention.h"

struct settings {
        char *file;              /* config file read, NULL when built-in defaults only */
        int system_mode;         /* 1 when running as root */
        char *state_dir;         /* index.db, master.key, packs/ */
        char *socket_path;       /* control socket */
        int log_level;           /* syslog level number LOG_ERR..LOG_DEBUG */
        unsigned workers;        /* 0 = number of online cores */
        int cipher;              /* 0 = auto, else enum crypto_cipher */
        int compression_level;   /* zstd level, 0 = no compression; default (auto) COMPRESS_LEVEL_DEFAULT */
        char *key_file;          /* NULL = master secret in state_dir/master.key */
        int one_file_system;     /* default for new roots: 1 */
        char *socket_group;      /* group admitted on the control socket, default "chute" */
        unsigned control_max_clients;     /* control connections served at once, default 64 */
        uint64_t control_idle_timeout_ns; /* close control connections idle this long; 0 = never; 60s */
        uint64_t quiet_period_ns, max_delay_ns, rescan_interval_ns; /* [watch] 2s, 60s, 1h */
        uint64_t poll_interval_ns;  /* [watch] rescans of roots without inotify watches, 5m */
        char **watch;            /* roots to add at start: [watch] path = ... and --watch */
        size_t n_watch;
        struct retention_policy retention; /* [retention]: 1h, hourly 48, daily 30, weekly 52, monthly all */
        int retention_auto;      /* [retention] auto: apply it after every snapshot, default 1 */
        /* [prune] (docs/prune.md) */
        uint64_t prune_interval_ns; /* interval = at most one automatic prune per, 1d; 0 = never */
        uint64_t prune_grace_ns;  /* grace = at least this long between mark and delete, 10 s */
        unsigned prune_max_unused; /* max_unused = percent left unused, 5 */
        uint64_t prune_max_repack; /* max_repack = bytes repacked per automatic run, 1 GiB */
        /* [peer]: this node as a host for its friends and as their client */
        char *peer_listen;       /* listen = "ADDRESS:PORT", default "0.0.0.0:2001"; NULL = none */
        char *node_name;         /* name = told to peers in HELLO, default the host name (NULL) */
        uint64_t peer_quota;     /* quota = bytes offered to a node `peer approve` admits, default 0 */
        uint64_t delete_delay_ns; /* delete_delay = how long a deleted hosted pack is kept, 30d */
        uint64_t peer_window;    /* window = PUT bytes in flight per connection, default 8 MiB */
        /* [api]: the HTTP API (daemon/http-api.c) */
        char *api_listen;        /* listen = "IPV4:PORT", default "127.0.0.1:2002"; NULL = none */
        int api_max_clients;     /* max_clients = connections at once, default 32 */
        uint64_t api_timeout_ns; /* timeout = for a slow client's request or reply, default 30 s */
        int api_metrics_public;  /* metrics_public = GET /metrics without the token, default no */
        /* [replication]: where sealed packs go */
        unsigned copies;         /* copies = stores each pack must reach; 0 = all (default) */
        uint64_t upload_limit;   /* upload_limit = bytes/s over all stores, 0 = none */
        uint64_t download_limit; /* download_limit = bytes/s over all stores, 0 = none */
        uint64_t prove_interval_ns; /* prove_interval = time between PROVE rounds, 1d */
        unsigned prove_count;    /* prove_count = packs challenged per store and round, 16 */
        int local_copy;          /* local_copy = full | cache (enum settings_local_copy) */
        uint64_t cache_size;     /* cache_size = local pack bytes kept in cache mode, 1 GiB */
        struct settings_store *stores; /* [store NAME] sections, in file order */
        size_t n_stores;
};

/* A [store NAME] section: an S3 store the daemon adds (or updates) at start. */
struct settings_store {
        char *name;
        char *config; /* "key=value\n" lines, as the stores table keeps them (store-s3-wire.h) */
};

enum settings_local_copy {
        SETTINGS_LOCAL_FULL = 0,
        SETTINGS_LOCAL_CACHE = 1,
};

#define SETTINGS_WORKERS_MAX 1024
#define SETTINGS_COMPRESSION_MAX 19
#define SETTINGS_CONTROL_CLIENTS_MAX 4096
#define SETTINGS_KEEP_MAX 1000000 /* largest [retention] count other than unlimited */
#define SETTINGS_NAME_MAX 64 /* [peer] name */
#define SETTINGS_COPIES_MAX 64
#define SETTINGS_PROVE_COUNT_MAX 100000

/* Fill c with the built-in defaults for uid: root gets /var/lib/chute and
 * /run/chute/chuted.sock, others $XDG_STATE_HOME/chute (~/.local/state/chute)
 * and $XDG_RUNTIME_DIR/chute/chuted.sock (state_dir/chuted.sock without it).
 * Aborts on out-of-memory (startup only). */
void settings_init_defaults(struct settings *c, uid_t uid);
/* SYSCONFDIR/chute/chuted.conf for root, else $XDG_CONFIG_HOME/chute/chuted.conf
 * (~/.config/chute/chuted.conf). Static buffer: not reentrant. */
const char *settings_default_path(uid_t uid);
/* Read path over c. A missing file is fine when !must_exist. On failure
 * *ret_error gets "FILE:LINE: what is wrong" (caller frees) and c may be half
 * updated: load into a fresh struct and swap when reloading. -EINVAL for bad
 * content, -errno when the file cannot be read. */
int settings_load_file(struct settings *c, const char *path, int must_exist, char **ret_error);
/* The same over text, with name standing for the file name in messages (tests). */
int settings_load_string(struct settings *c, const char *text, const char *name, char **ret_error);
/* Add an absolute path to the roots watched at start (duplicates ignored). */
int settings_add_watch(struct settings *c, const char *path);
/* Free everything c owns and zero it. */
void settings_done(struct settings *c);
