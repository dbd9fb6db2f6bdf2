/* SPDX-License-Identifier: MIT */
/* The fixture of the peer host's unit tests (see peer-host-fixture.h). */
#include "peer-host-fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "crypto.h"
#include "index.h"
#include "parse.h"
#include "workers.h"

char tmpdir[64];
struct daemon d;
struct peer_host *host;
struct oid owner = { .bytes = { 0xa1, 0xa2 } }, other = { .bytes = { 0xb1, 0xb2 } };



static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

void setup(void)
{
        char db[128];

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/chute-host-XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(db, sizeof(db), "%s/index.db", tmpdir);
        memset(&d, 0, sizeof(d));
        d.config.state_dir = tmpdir;
        d.config.node_name = "test-host";
        d.config.peer_window = 8 * MIB;
        d.config.delete_delay_ns = 30 * NSEC_PER_DAY;
        d.base = event_base_new();
        cr_assert_not_null(d.base);
        cr_assert_eq(workers_new(d.base, 2, &d.workers), 0);
        cr_assert_eq(index_open(db, 0, &d.index), 0);
        cr_assert_eq(index_peer_add(d.index, &owner, "owner", NULL, 64 * MIB, (int64_t)(30 * NSEC_PER_DAY)), 0);
        cr_assert_eq(index_peer_add(d.index, &other, "other", NULL, 64 * MIB, (int64_t)(30 * NSEC_PER_DAY)), 0);
        cr_assert_eq(peer_host_new(&d, &host), 0);
}

void teardown(void)
{
        peer_host_free(host);
        workers_free(d.workers);
        index_close(d.index);
        event_base_free(d.base);
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}


void loop_once(void)
{
        event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
}

static void host_closed(struct peer_host_session *s, int err, const char *why, void *userdata)
{
        struct client *c = userdata;

        (void)s, (void)err, (void)why;
        c->host_closed = 1;
}

static void client_closed(struct peer_conn *conn, int err, const char *why, void *userdata)
{
        (void)conn, (void)err, (void)why, (void)userdata;
}

/* A client of peer id connected to a hosting session. */
struct client *client_new(const struct oid *id)
{
        struct client *c = calloc(1, sizeof(*c));
        static const struct peer_conn_handlers h = { .closed = client_closed };
        int sv[2];

        cr_assert_not_null(c);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        struct bufferevent *hb = bufferevent_socket_new(d.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
        struct bufferevent *cb = bufferevent_socket_new(d.base, sv[1], BEV_OPT_CLOSE_ON_FREE);
        cr_assert_eq(peer_host_session_new(host, hb, id->bytes, "unit-test", host_closed, c, &c->session), 0);
        cr_assert_eq(peer_conn_new(d.base, cb, &h, c, &c->conn), 0);
        c->bev = cb;
        return c;
}

void client_free(struct client *c)
{
        peer_conn_free(c->conn);
        peer_host_session_free(c->session);
        free(c);
}

void call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        struct call *k = userdata;

        k->done = 1;
        k->err = err;
        k->reply = reply;
        if (payload && payload->len) {
                k->data_len = payload->len;
                k->data = malloc(payload->len);
                cr_assert_not_null(k->data);
                cr_assert_eq(evbuffer_remove(payload->buf, k->data, payload->len), (int)payload->len);
        }
}

void call_done_free(struct call *k)
{
        msg_free(k->reply);
        free(k->data);
        memset(k, 0, sizeof(*k));
}

/* Send req (freed) with optional DATA and wait for its answer. */
struct call call(struct client *c, struct msg *req, const void *data, size_t len)
{
        struct call k = { 0 };
        int64_t end = monotonic_ns() + 20 * INT64_C(1000000000);

        cr_assert_not_null(req);
        cr_assert_eq(peer_conn_request(c->conn, req, data, len, NULL, NULL, call_done, &k), 0);
        msg_free(req);
        while (!k.done && monotonic_ns() < end)
                loop_once();
        cr_assert(k.done, "no answer within 20 s");
        return k;
}

struct msg *req_new(enum peer_type type)
{
        return peer_msg_new(type, 0);
}

void hello(struct client *c)
{
        struct msg *m = req_new(PEER_TYPE_HELLO);
        struct msg_map b = msg_body(m);

        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MIN, 1);
        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, 1);
        msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
        msg_map_set_text(&b, PEER_KEY_NAME, "unit\ntest");
        struct call k = call(c, m, NULL, 0);
        cr_assert_eq(k.err, 0, "hello: %s", strerror(-k.err));
        call_done_free(&k);
}

uint64_t reply_uint(struct call *k, uint32_t key)
{
        struct msg_map b = msg_body(k->reply);
        uint64_t v = UINT64_MAX;

        cr_assert_eq(msg_map_get_uint(&b, key, &v), 0, "key %u missing", key);
        return v;
}

bool reply_bool(struct call *k, uint32_t key)
{
        struct msg_map b = msg_body(k->reply);
        bool v = false;

        msg_map_get_bool(&b, key, &v);
        return v;
}

/* Random bytes and their SHA-256 as a pack id. */
uint8_t *make_pack(size_t len, struct oid *ret)
{
        uint8_t *p = malloc(len);

        cr_assert_not_null(p);
        for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)rand();
        cr_assert_eq(crypto_sha256(p, len, ret->bytes), 0);
        return p;
}

struct call put(struct client *c, const struct oid *pack, uint64_t size, uint64_t offset, const void *data,
                       size_t len, bool commit)
{
        struct msg *m = req_new(PEER_TYPE_PUT);
        struct msg_map b = msg_body(m);

        msg_map_set_bytes(&b, PEER_KEY_PACK, pack->bytes, OID_SIZE);
        msg_map_set_uint(&b, PEER_KEY_OFFSET, offset);
        msg_map_set_uint(&b, PEER_KEY_SIZE, size);
        if (commit)
                msg_map_set_bool(&b, PEER_KEY_COMMIT, true);
        return call(c, m, data, len);
}

/* PUT the whole pack in chunks, committing with the last: 0 or the error. */
int put_all(struct client *c, const struct oid *pack, const uint8_t *p, size_t len, size_t chunk)
{
        for (size_t off = 0; off < len; off += chunk) {
                size_t n = MIN(chunk, len - off);
                struct call k = put(c, pack, len, off, p + off, n, off + n == len);
                int err = k.err;
                if (!err) {
                        cr_assert_eq(reply_uint(&k, PEER_KEY_DURABLE), off + n);
                        cr_assert_eq(reply_bool(&k, PEER_KEY_COMMITTED), off + n == len);
                }
                call_done_free(&k);
                if (err)
                        return err;
        }
        return 0;
}

struct call simple(struct client *c, enum peer_type type, const struct oid *pack)
{
        struct msg *m = req_new(type);
        struct msg_map b = msg_body(m);

        if (pack)
                msg_map_set_bytes(&b, PEER_KEY_PACK, pack->bytes, OID_SIZE);
        return call(c, m, NULL, 0);
}

struct call get(struct client *c, const struct oid *pack, uint64_t offset, uint64_t length)
{
        struct msg *m = req_new(PEER_TYPE_GET);
        struct msg_map b = msg_body(m);

        msg_map_set_bytes(&b, PEER_KEY_PACK, pack->bytes, OID_SIZE);
        msg_map_set_uint(&b, PEER_KEY_OFFSET, offset);
        msg_map_set_uint(&b, PEER_KEY_LENGTH, length);
        return call(c, m, NULL, 0);
}

/* A GET sent without waiting: k is filled in when its answer comes. */
void get_async(struct client *c, const struct oid *pack, uint64_t length, struct call *k)
{
        struct msg *m = req_new(PEER_TYPE_GET);
        struct msg_map b = msg_body(m);

        msg_map_set_bytes(&b, PEER_KEY_PACK, pack->bytes, OID_SIZE);
        msg_map_set_uint(&b, PEER_KEY_OFFSET, 0);
        msg_map_set_uint(&b, PEER_KEY_LENGTH, length);
        memset(k, 0, sizeof(*k));
        cr_assert_eq(peer_conn_request(c->conn, m, NULL, 0, NULL, NULL, call_done, k), 0);
        msg_free(m);
}

/* The path of peer's pack file (sub: "" or "replace/"). */
void pack_path(const struct oid *peer, const struct oid *pack, const char *sub, char *path, size_t len)
{
        char hp[OID_HEX_SIZE], hk[OID_HEX_SIZE];

        oid_to_hex(peer, hp);
        oid_to_hex(pack, hk);
        snprintf(path, len, "%s/hosted/%s/%s%.2s/%s", tmpdir, hp, sub, hk, hk);
}

bool pack_file_exists(const struct oid *peer, const struct oid *pack, const char *sub)
{
        char path[512];
        struct stat st;

        pack_path(peer, pack, sub, path, sizeof(path));
        return stat(path, &st) == 0;
}
