/* SPDX-License-Identifier: MIT */
/* What the files of the host side share (peer-host.c: sessions, accounts,
 * the requests answered from the index; peer-host-io.c: the requests that
 * touch pack bytes, on store threads; peer-host-purge.c: the purge). Not
 * for other modules: they use peer-host.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "msg.h"
#include "oid.h"
#include "peer-host.h"
#include "peer.h"
#include "crypto.h"

struct event;
struct evbuffer;
struct peer_conn;
struct peer_payload;
struct store;
struct store_runner;

/* Store threads of the host (all peers share them). */
#define PEER_HOST_THREADS 4
/* Requests of one session waiting for a store thread; more are answered BUSY. */
#define PEER_HOST_SESSION_JOBS 64
/* PROVEs of one peer hashing at once (each reads a whole pack, up to 1 GiB);
 * the others wait in its queue, so that one peer cannot hold every thread. */
#define PEER_HOST_PEER_PROVES 2
/* GET reply bytes held in memory at once, over all sessions (read and not
 * yet sent), and per peer over all its sessions (so that no one peer, with
 * however many connections, holds the whole budget); more are answered
 * BUSY. */
#define PEER_HOST_GET_BYTES (64u * 1024 * 1024)
#define PEER_HOST_PEER_GET_BYTES (32u * 1024 * 1024)
/* PUT payload bytes held (received, not yet on disk) over all sessions; per
 * session the window plus one largest PUT. More are answered BUSY: a client
 * that keeps to its window never sees it. */
#define PEER_HOST_PUT_BYTES (256u * 1024 * 1024)
/* Uploads of one peer in progress at once; more are answered BUSY. */
#define PEER_HOST_UPLOADS 256
/* Of those, uploads of marked packs again (each a second copy, outside the
 * quota until its commit replaces the marked one). */
#define PEER_HOST_REPLACING 8
/* Seconds between two quota warnings in the log for one peer. */
#define PEER_HOST_QUOTA_LOG_SEC 60

struct host_job;

/* A pack being uploaded: its PUTs run one at a time, in arrival order. */
struct host_upload {
        struct oid pack;
        uint64_t size;
        bool replace;    /* a marked pack uploaded again: into the replacement store */
        bool busy;       /* a PUT is on a store thread */
        int64_t touched_ns; /* the last PUT of it queued or done */
        struct host_job *queue, *queue_tail;
        struct host_upload *next;
};

struct host_purge_mark {
        struct oid peer, pack;
};

/* One peer whose packs we keep, shared by its sessions; lives as long as the host. */
struct host_account {
        struct peer_host *host;
        struct oid id;
        char hex[OID_HEX_SIZE];
        char *pretty;           /* grouped base32, for logs */
        struct store *store;    /* STATE/hosted/<hex>/ */
        struct store *replace;  /* STATE/hosted/<hex>/replace/: new copies of marked packs */
        uint64_t used;          /* bytes of its hosted packs, marked ones included */
        uint64_t reserved;      /* SIZE of its new packs being uploaded */
        unsigned n_uploads;
        unsigned n_replacing;   /* of those, marked packs uploaded again */
        unsigned proves_running; /* its PROVEs on store threads */
        struct host_job *prove_queue, *prove_tail; /* its PROVEs waiting (each a job of its session) */
        struct host_upload *uploads;
        int64_t quota_logged_ns;
        uint64_t get_bytes;     /* GET replies of all its sessions read and not yet sent */
        struct host_account *next;
};

struct peer_host {
        struct daemon *daemon;
        unsigned refs;          /* 1 while running + 1 per job in flight */
        bool stopping;
        char *dir;              /* STATE/hosted */
        struct store_runner *runner;
        struct event *purge_timer;
        bool purging;
        /* the packs whose bytes the purge running now deletes, by peer then
         * pack (the index's order): no undelete, no new upload of them, for
         * accounts made while it runs too */
        struct host_purge_mark *purge_marks;
        size_t n_purge_marks;
        uint64_t get_bytes;     /* GET replies read and not yet sent */
        uint64_t put_bytes;     /* PUT payloads held */
        struct host_account *accounts;
};

struct peer_host_session {
        struct peer_host *host;
        struct host_account *account;
        struct peer_conn *conn;  /* NULL once closed */
        unsigned refs;           /* 1 for the connection + 1 per job in flight */
        bool hello;              /* HELLO answered: other requests allowed */
        uint64_t max_frame;      /* the peer's largest frame body */
        unsigned jobs;           /* requests on store threads */
        uint64_t put_held;       /* PUT payload bytes held */
        char *address;
        char *name;              /* the name it gave in HELLO ("" before) */
        uint64_t requests, put_bytes, sent_bytes;
        peer_host_closed_fn closed;
        void *userdata;
};

/* ---- peer-host.c ---- */

/* The account of node id, created (store opened) on first use. */
int host_account_get(struct peer_host *h, const struct oid *id, struct host_account **ret);
/* Is pack being purged for a (its bytes are going)? */
bool host_account_purging(const struct host_account *a, const struct oid *pack);
/* A RESULT for reqid, or NULL. */
struct msg *host_result(uint64_t reqid);
/* Send reply (taken) with optional DATA when the session is still connected. */
void host_reply(struct peer_host_session *s, struct msg *reply, void *data, size_t len);
/* len GET reply bytes of s leave the peer's and the host's budgets. */
void host_get_release(struct peer_host_session *s, size_t len);
/* Send an ERROR (status, printf sentence) when still connected. */
void host_error(struct peer_host_session *s, uint64_t reqid, uint32_t status, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Send the ERROR for a store call's -errno (NOT_FOUND, RANGE, MISMATCH, IO, ...). */
void host_error_errno(struct peer_host_session *s, uint64_t reqid, int err, const char *what);
/* Take and drop references (the session is freed at 0). */
void host_session_ref(struct peer_host_session *s);
void host_session_unref(struct peer_host_session *s);
void host_ref(struct peer_host *h);
void host_unref(struct peer_host *h);
/* The pack id under key of map into ret; ERROR sent and < 0 when missing or not 32 bytes. */
int host_get_pack(struct peer_host_session *s, uint64_t reqid, const struct msg_map *map, uint32_t key,
                  struct oid *ret);

/* ---- peer-host-io.c: requests on store threads ---- */

enum host_job_kind { JOB_PUT, JOB_GET, JOB_STAT, JOB_HAVE, JOB_PROVE };

struct have_entry {
        struct oid pack;
        uint64_t size;    /* visible and not marked */
        uint64_t partial; /* durable bytes of an upload */
        int state;        /* 0 known from the index, 1 look at the store, 2 marked: look at the replacement */
        bool found;       /* visible in the store but not in the index */
};

struct host_job {
        struct peer_host_session *s; /* a reference */
        struct host_account *a;
        enum host_job_kind kind;
        uint64_t reqid;
        struct oid pack;
        int r; /* -ECANCELED until the work ran */

        /* PUT */
        struct host_upload *up;
        uint64_t offset, size, durable;
        bool commit, committed, replace;
        struct evbuffer *payload;
        size_t len;
        struct iovec *iov;
        int iovcnt;
        struct host_job *next; /* in the upload's queue */

        /* GET (offset, len), STAT (size = visible, durable), PROVE */
        void *data;
        bool visible;
        int64_t deleted_ns;
        uint8_t nonce[PEER_NONCE_MAX];
        size_t nonce_len;
        uint8_t digest[CRYPTO_SHA256_SIZE];

        /* HAVE */
        struct have_entry *entries;
        size_t n_entries;
};

/* A job of kind for request reqid of s (holding a reference on s), or NULL. */
struct host_job *host_job_new(struct peer_host_session *s, enum host_job_kind kind, uint64_t reqid);
void host_job_free(struct host_job *j);
/* Hand j to a store thread: 0, or -errno (j untouched: the caller answers and frees it). */
int host_job_submit(struct host_job *j, void (*work)(void *), void (*done)(void *));
/* host_job_submit, or answer BUSY and free j: true when submitted. */
bool host_job_submit_or_fail(struct host_job *j, void (*work)(void *), void (*done)(void *));
/* First thing in every done: the job is off the store thread; the host. */
struct peer_host *host_job_finished(struct host_job *j);
/* Too many requests of s on store threads: BUSY sent, true. */
bool host_session_busy(struct peer_host_session *s, uint64_t reqid);
/* Record a pack found visible in a's store but missing from the index. */
void host_reconcile(struct host_account *a, const struct oid *pack, uint64_t size);

void host_get(struct peer_host_session *s, struct msg *req);
void host_stat(struct peer_host_session *s, struct msg *req);
void host_have(struct peer_host_session *s, struct msg *req);
void host_prove(struct peer_host_session *s, struct msg *req);

/* ---- peer-host-put.c ---- */

void host_put(struct peer_host_session *s, struct msg *req, struct peer_payload *payload);
/* The upload of pack in progress for a, or NULL. */
struct host_upload *host_upload_find(struct host_account *a, const struct oid *pack);
/* A marked pack whose replacement was cut short between dropping the old
 * copy and putting the checked one in its place (a crash, a full disk):
 * finish that swap now. 0 when the pack is in place, -ENODATA when neither
 * store holds it. Blocking store calls (one pack at most): for the rare
 * UNDELETE that finds it so. */
int host_swap_finish(struct host_account *a, const struct oid *pack);
/* Forget the uploads of an account (host going away). */
void host_uploads_free(struct host_account *a);
/* Forget the PROVEs an account has waiting (host going away). */
void host_proves_free(struct host_account *a);
/* Forget the uploads of h's accounts untouched since before_ns (no PUT
 * queued or running): their SIZE is no longer held against the quota, and
 * a later PUT of the pack starts a new upload (resuming what its partial
 * still holds). */
void host_uploads_expire(struct peer_host *h, int64_t before_ns);

/* ---- peer-host-purge.c ---- */

/* Arm the purge timer (first run soon after start). */
int host_purge_start(struct peer_host *h);
