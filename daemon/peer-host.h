/* SPDX-License-Identifier: MIT */
/* Keeping friends' packs (DESIGN §7, the host side of proto/peer.def): one
 * session per authenticated connection of an approved peer, answering its
 * requests over a local store of its own (STATE/hosted/<hex node id>/), with
 * the quota the peers table gives it, deferred deletes (DELETE marks, the
 * purge drops the bytes after the peer's delete delay) and all disk I/O on
 * store threads, never the loop. Who may connect is peer-server.c's. */
#pragma once

#include <stdint.h>

struct bufferevent;
struct daemon;
struct peer_host;
struct peer_host_session;

/* How often marked packs past their delay are purged (and once at start). */
#define PEER_HOST_PURGE_INTERVAL_SEC 3600
/* Partial uploads untouched this long are dropped by the purge. */
#define PEER_HOST_PARTIAL_MAX_AGE_SEC (7 * 24 * 3600)

/* Called once when a session's connection is gone (err and why say how);
 * the owner then frees the session with peer_host_session_free. */
typedef void (*peer_host_closed_fn)(struct peer_host_session *s, int err, const char *why, void *userdata);

/* Set up hosting for d (STATE/hosted, the store threads, the purge timer). */
int peer_host_new(struct daemon *d, struct peer_host **ret);
/* Stop: no more replies; jobs still running finish on their own. NULL is fine. */
void peer_host_free(struct peer_host *h);
/* Serve the approved peer id over bev (owned from now on, even on failure;
 * TLS already done), which connected from address. */
int peer_host_session_new(struct peer_host *h, struct bufferevent *bev, const uint8_t id[32], const char *address,
                          peer_host_closed_fn closed, void *userdata, struct peer_host_session **ret);
/* Close and free a session (closed is not called); NULL is fine. */
void peer_host_session_free(struct peer_host_session *s);
/* The node id a session serves. */
const uint8_t *peer_host_session_id(const struct peer_host_session *s);
/* Start a purge now unless one runs (also run hourly): marked packs past
 * their delay lose their bytes, old partial uploads go. */
void peer_host_purge(struct peer_host *h);
