/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the request handlers: reading path arguments,
 * resolving SNAP references, filling common reply maps. */
#pragma once

#include <event2/util.h>

#include <stdbool.h>

#include "index.h"
#include "request.h"

struct daemon;
struct root;

/* The PATH-like bytes argument key as a new C string; NULL when absent
 * (ret_error then 0) or bad (*ret_error < 0, an ERROR was sent). */
char *cmd_get_path(struct request *r, uint32_t key, bool required, int *ret_error);
/* Resolve a SNAP argument ("latest" or a hex id prefix) for path (may be
 * NULL: with one root, that root); sends the ERROR itself on failure. */
int cmd_resolve_snapshot(struct request *r, const char *snap, const char *path,
                         struct index_snapshot *ret);
/* The SNAPSHOT and PATH arguments of ls, cat and restore: the snapshot and
 * the path inside it (a new string, "" for its root). Sends the ERROR itself
 * and returns < 0 on failure. */
int cmd_snapshot_path(struct request *r, const char *verb, bool path_required, struct index_snapshot *ret,
                      char **ret_relpath);
/* Fill item with one snapshot row (its root's path read through idx). */
int cmd_snapshot_item(struct index *idx, struct msg_map *item, const struct index_snapshot *s);
/* Append one map per store (cmd-stores.c) to the STORES array of body. */
int cmd_stores_fill(struct daemon *d, struct msg_map *body);
/* The optional rate limit key (UPLOAD_LIMIT, DOWNLOAD_LIMIT) of peer add or
 * peer set (cmd-peer-set.c) into *ret, untouched when absent: 1 if given, 0
 * if absent; sends the ERROR itself and returns < 0 when out of range. */
int cmd_peer_set_get_limit(struct request *r, uint32_t key, uint64_t *ret);
/* Append one snapshot row to the SNAPSHOTS array of map. */
int cmd_add_snapshot_item(struct request *r, struct msg_map *map, const struct index_snapshot *s);

/* A long listing (ls, diff, snapshots) built on a worker: maps under key (0:
 * ENTRIES) in DATA messages of at most CMD_LISTING_BATCH items, then an empty
 * RESULT. */
#define CMD_LISTING_BATCH 500
struct cmd_listing {
        uint64_t reqid;
        uint32_t key;
        struct msg **msgs;
        size_t n_msgs;
        struct msg *cur;
        size_t in_cur;
};
/* A handle on a new ENTRIES map to fill. */
int cmd_listing_item(struct cmd_listing *l, struct msg_map *ret_item);
/* Queue the RESULT that ends the listing. */
int cmd_listing_finish(struct cmd_listing *l, struct request *r);
/* On the loop: send everything (or, after error < 0, an ERROR instead). */
void cmd_listing_send(struct cmd_listing *l, struct request *r);
/* On the loop: send the DATA built so far (the listing goes on). */
void cmd_listing_flush(struct cmd_listing *l, struct request *r);
/* Free what was not sent. */
void cmd_listing_done(struct cmd_listing *l);

/* The NODE argument (a node id as typed: grouped base32) into ret; sends the
 * ERROR itself and returns < 0 when it is missing or malformed. */
int cmd_get_node_id(struct request *r, uint8_t ret[32]);
/* A text argument as a new string of 1..max bytes (NULL when absent and not
 * required: *ret_error 0); sends the ERROR itself when it is bad. */
char *cmd_get_text(struct request *r, uint32_t key, const char *what, size_t max, bool required,
                   int *ret_error);
/* A peer name: 1..64 letters, digits, '.', '_', '-', not starting with '-'. */
bool cmd_peer_name_valid(const char *name);
/* A timer calling cb(arg) every quarter second on d's loop, for a long
 * request's progress (restore, recover, reindex, check); NULL when it cannot
 * be made, and the request then goes on without progress. */
struct event *cmd_progress_timer(struct daemon *d, void (*cb)(evutil_socket_t, short, void *), void *arg);
/* Before removing store store_id (named name): refuse, with the request's
 * error set, when packs evicted here (local_copy = cache) are on that store
 * alone, unless the request says force. 0: go on; < 0: refused or failed. */
int cmd_refuse_losing_packs(struct request *r, int64_t store_id, const char *name);
/* A peer address "HOST:PORT" or "[IPV6]:PORT" (port 1..65535). */
bool cmd_peer_address_valid(const char *address);
