/* SPDX-License-Identifier: MIT */
/* The fixture of the peer host's unit tests (test-peer-host*.c): a host on a
 * real event loop, real store threads and a real index and state directory,
 * clients talking to hosting sessions over socketpairs, and calls that wait
 * for their answers. Each test file declares its suite with setup and
 * teardown. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "oid.h"
#include "peer-conn.h"
#include "peer-host.h"
#include "peer.h"

#define MIB (1024u * 1024)

extern char tmpdir[64];
extern struct daemon d;
extern struct peer_host *host;
/* two approved peers (quota 64 MiB, delete delay 30 days) */
extern struct oid owner, other;

struct client {
        struct peer_conn *conn;
        struct bufferevent *bev; /* the client's end */
        struct peer_host_session *session;
        int host_closed;
};

struct call {
        int done;
        int err;
        struct msg *reply;
        size_t data_len;
        void *data;
};

void setup(void);
void teardown(void);
void loop_once(void);
/* A client of peer id connected to a hosting session. */
struct client *client_new(const struct oid *id);
void client_free(struct client *c);
/* The answer handler of calls (userdata: the struct call it fills in). */
void call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata);
void call_done_free(struct call *k);
/* Send req (freed) with optional DATA and wait for its answer. */
struct call call(struct client *c, struct msg *req, const void *data, size_t len);
struct msg *req_new(enum peer_type type);
void hello(struct client *c);
uint64_t reply_uint(struct call *k, uint32_t key);
bool reply_bool(struct call *k, uint32_t key);
/* Random bytes and their SHA-256 as a pack id. */
uint8_t *make_pack(size_t len, struct oid *ret);
struct call put(struct client *c, const struct oid *pack, uint64_t size, uint64_t offset, const void *data,
                size_t len, bool commit);
/* PUT the whole pack in chunks, committing with the last: 0 or the error. */
int put_all(struct client *c, const struct oid *pack, const uint8_t *p, size_t len, size_t chunk);
struct call simple(struct client *c, enum peer_type type, const struct oid *pack);
struct call get(struct client *c, const struct oid *pack, uint64_t offset, uint64_t length);
/* A GET sent without waiting: k is filled in when its answer comes. */
void get_async(struct client *c, const struct oid *pack, uint64_t length, struct call *k);
/* The path of peer's pack file (sub: "" or "replace/"). */
void pack_path(const struct oid *peer, const struct oid *pack, const char *sub, char *path, size_t len);
bool pack_file_exists(const struct oid *peer, const struct oid *pack, const char *sub);
