/* SPDX-License-Identifier: MIT */
/* What chutectl's verbs share: the context (socket, --json, the
 * connection), the exit statuses, calling the daemon with the outcome
 * mapped to an exit status and its message, usage errors, and reading
 * common reply fields. The verbs themselves live in ctl/verb-*.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "args.h"
#include "client.h"
#include "ctl.h"
#include "output.h"

enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,      /* the daemon said no, or replied nonsense */
        EXIT_USAGE = 2,       /* bad command line */
        EXIT_UNREACHABLE = 3, /* no daemon at the socket */
};

struct verb_context {
        const char *socket_path;
        const char *socket_second; /* tried when socket_path has no daemon; NULL with --socket */
        bool json;
        struct client *client; /* connected on first use */
        struct output_progress progress;
};

struct verb {
        const char *name;     /* "status", "key" */
        int (*run)(struct verb_context *c, int argc, char **argv); /* argv[0] is the verb */
        const char *synopsis; /* for help */
};

/* Print "chutectl: <what>" and the hint to chutectl help on stderr; EXIT_USAGE. */
int verb_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* EXIT_OK when argv has nothing after the verb, else a usage error. */
int verb_no_args(int argc, char **argv);
/* Print "chutectl: <what>" on stderr; EXIT_FAILED. */
int verb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Connect if not yet: EXIT_OK, or EXIT_UNREACHABLE after saying why (unless quiet). */
int verb_connect(struct verb_context *c, bool quiet);
/* A new request of type for the connection (verb_connect first), or NULL. */
struct msg *verb_request(struct verb_context *c, enum ctl_type type);
/* Send m (freed) and wait: EXIT_OK with *ret the RESULT (caller frees);
 * otherwise the exit status after printing the daemon's message or what
 * went wrong. PROGRESS goes to the progress line unless h has its own. A
 * DATA handler returning -ECANCELED makes it EXIT_FAILED with nothing printed. */
int verb_call(struct verb_context *c, struct msg *m, const struct client_handlers *h,
              struct msg **ret);
/* "VERB SUB [--force] NAME", the option anywhere (what: "peer remove";
 * name: what NAME is, for the usage error): EXIT_OK with *ret_name and
 * *ret_force, or the usage error printed. */
int verb_force_name(int argc, char **argv, const char *what, const char *name, const char **ret_name,
                    bool *ret_force);
/* Absolute form of a PATH argument, or a usage error printed (NULL). */
char *verb_path_arg(const char *arg, const char *what);
/* The PATH of "SNAP:PATH" as the daemon wants it: absolute paths and
 * "./x", "../x" as typed against the cwd; another relative path against the
 * cwd when that lands inside the snapshot's root, else against the root of
 * the snapshot (asks the daemon). *ret NULL when rel is NULL. Exit status. */
int verb_snap_path(struct verb_context *c, const char *snap, const char *rel, char **ret);
/* Print the JSON document (and free it): EXIT_OK or EXIT_FAILED. */
int verb_json(json_t *doc);
/* Flush stdout: EXIT_OK, or EXIT_FAILED after saying why (EPIPE is quiet). */
int verb_flush(void);

/* A uint key of map as a JSON integer (null when absent). */
json_t *verb_json_uint(const struct msg_map *map, enum ctl_key key);
/* A bytes or text key of map as a JSON string (null when absent). */
json_t *verb_json_str(const struct msg_map *map, enum ctl_key key);
/* A time key (ns) of map as RFC 3339 (null when absent). */
json_t *verb_json_time(const struct msg_map *map, enum ctl_key key);
/* A bytes key as a new C string ("" when absent; NUL bytes end it). */
char *verb_dup_bytes(const struct msg_map *map, enum ctl_key key);
/* A uint key, or def when absent. */
uint64_t verb_uint(const struct msg_map *map, enum ctl_key key, uint64_t def);
/* An id (bytes) key as lower-case hex, at most max_chars characters ("" when absent). */
void verb_hex(const struct msg_map *map, enum ctl_key key, size_t max_chars, char *buf,
              size_t buflen);

/* One snapshot map of a SNAPSHOTS array as the JSON object of snapshots/snapshot. */
json_t *verb_snapshot_json(const struct msg_map *item);

/* The "Stores:" lines of chutectl status (nothing when there are none). */
void verb_stores_lines(const struct msg_map *body);

/* The verbs (ctl/verb-*.c). */
int verb_status(struct verb_context *c, int argc, char **argv);
int verb_add(struct verb_context *c, int argc, char **argv);
int verb_remove(struct verb_context *c, int argc, char **argv);
int verb_paths(struct verb_context *c, int argc, char **argv);
int verb_snapshot(struct verb_context *c, int argc, char **argv);
int verb_snapshots(struct verb_context *c, int argc, char **argv);
int verb_ls(struct verb_context *c, int argc, char **argv);
int verb_cat(struct verb_context *c, int argc, char **argv);
int verb_restore(struct verb_context *c, int argc, char **argv);
int verb_diff(struct verb_context *c, int argc, char **argv);
int verb_forget(struct verb_context *c, int argc, char **argv);
int verb_id(struct verb_context *c, int argc, char **argv);
int verb_key(struct verb_context *c, int argc, char **argv);
int verb_log_level(struct verb_context *c, int argc, char **argv);
int verb_version(struct verb_context *c, int argc, char **argv);
int verb_stores(struct verb_context *c, int argc, char **argv);
int verb_verify(struct verb_context *c, int argc, char **argv);
int verb_check(struct verb_context *c, int argc, char **argv);
int verb_reindex(struct verb_context *c, int argc, char **argv);
int verb_prune(struct verb_context *c, int argc, char **argv);
int verb_recover(struct verb_context *c, int argc, char **argv);
int verb_peer(struct verb_context *c, int argc, char **argv);
int verb_peers(struct verb_context *c, int argc, char **argv);
int verb_api_token(struct verb_context *c, int argc, char **argv);
int verb_store(struct verb_context *c, int argc, char **argv);
