/* SPDX-License-Identifier: MIT */
/* Tests for daemon/store-peer*.c against a small host written here (TLS over
 * loopback, peer_conn on the host side, one pack kept in memory): a put that
 * is cut mid-way resumes from the bytes the host had acknowledged and sends
 * none twice; a pack already there is not sent; the host's ERROR statuses
 * become errnos; PROVE, GET, STAT and LIST map onto the messages; a host
 * presenting another certificate is refused; an address nobody listens on
 * fails with -ENOTCONN and the store backs off; shutdown releases a call the
 * host never answers; the store's own upload and download limits bound a
 * transfer, change on the live connection, and the global limit still
 * applies on top. The store's blocking calls run on a thread of the test
 * while the main thread runs the loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "crypto.h"
#include "daemon.h"
#include "identity.h"
#include "peer-conn.h"
#include "peer.h"
#include "store-peer.h"
#include "tls.h"
#include "workers.h"

#define MIB (1024u * 1024)
#define PACK_SIZE (5 * MIB + 12345)

/* ---- the host ---------------------------------------------------------------- */

enum host_fail {
        FAIL_NONE,
        FAIL_CUT_AT_PUT, /* close the connection at the cut_at-th PUT (0-based) */
        FAIL_QUOTA,      /* PUT: QUOTA */
        FAIL_SILENT,     /* never answer PUT */
};

struct host {
        struct event_base *base;
        struct identity *id;
        struct tls_config *tls;
        struct evconnlistener *listener;
        int port;
        struct peer_conn *conn;
        enum host_fail fail;
        int cut_at;
        int puts;
        /* the pack it keeps (one) */
        struct oid pack;
        uint8_t *data; /* PACK_SIZE bytes */
        uint64_t durable;
        bool visible;
        uint64_t bytes_received; /* PUT DATA bytes written, over every connection */
        int hellos;
        struct msg *held[64]; /* FAIL_SILENT: requests never answered */
        size_t n_held;
};

static void host_reply_put(struct host *h, uint64_t reqid, bool committed)
{
        struct msg *m = peer_msg_new(PEER_TYPE_RESULT, reqid);
        struct msg_map b = msg_body(m);
        msg_map_set_uint(&b, PEER_KEY_DURABLE, h->durable);
        if (committed)
                msg_map_set_bool(&b, PEER_KEY_COMMITTED, true);
        cr_assert_eq(peer_conn_reply(h->conn, m, NULL, 0, NULL, NULL), 0);
        msg_free(m);
}

static bool same_pack(struct host *h, struct msg_map *body)
{
        const uint8_t *p;
        size_t len;
        return msg_map_get_bytes(body, PEER_KEY_PACK, &p, &len) >= 0 && len == OID_SIZE &&
               memcmp(p, h->pack.bytes, OID_SIZE) == 0;
}

static void host_put(struct host *h, struct msg *req, struct peer_payload *payload)
{
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req), offset = 0, size = 0;
        bool commit = false;
        size_t len = payload ? payload->len : 0;

        if (h->fail == FAIL_SILENT) {
                cr_assert_lt(h->n_held, 64);
                h->held[h->n_held++] = req;
                return;
        }
        if (h->fail == FAIL_QUOTA) {
                peer_conn_reply_error(h->conn, reqid, PEER_STATUS_QUOTA, "quota exceeded");
                msg_free(req);
                return;
        }
        if (h->fail == FAIL_CUT_AT_PUT && h->puts++ == h->cut_at) {
                msg_free(req);
                peer_conn_free(h->conn);
                h->conn = NULL;
                return;
        }
        msg_map_get_uint(&body, PEER_KEY_OFFSET, &offset);
        msg_map_get_uint(&body, PEER_KEY_SIZE, &size);
        msg_map_get_bool(&body, PEER_KEY_COMMIT, &commit);
        cr_assert(same_pack(h, &body));
        cr_assert_eq(size, PACK_SIZE);
        cr_assert_leq(offset, h->durable, "no holes: PUT at %llu, durable %llu", (unsigned long long)offset,
                      (unsigned long long)h->durable);
        cr_assert_leq(offset + len, PACK_SIZE);
        if (len)
                cr_assert_eq(evbuffer_remove(payload->buf, h->data + offset, len), (int)len);
        h->bytes_received += len;
        if (offset + len > h->durable)
                h->durable = offset + len;
        if (commit) {
                struct oid got;
                cr_assert_eq(h->durable, PACK_SIZE);
                cr_assert_eq(crypto_sha256(h->data, PACK_SIZE, got.bytes), 0);
                cr_assert(oid_cmp(&got, &h->pack) == 0, "the pack arrived whole");
                h->visible = true;
        }
        host_reply_put(h, reqid, commit);
        msg_free(req);
}

static void host_request(struct peer_conn *c, struct msg *req, struct peer_payload *payload, void *userdata)
{
        struct host *h = userdata;
        struct msg_map body = msg_body(req);
        uint64_t reqid = msg_reqid(req);
        struct msg *m = NULL;

        (void)c;
        switch (msg_type(req)) {
        case PEER_TYPE_HELLO: {
                h->hellos++;
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                struct msg_map b = msg_body(m);
                msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, PEER_PROTOCOL_VERSION);
                msg_map_set_uint(&b, PEER_KEY_QUOTA, 1000 * MIB);
                msg_map_set_uint(&b, PEER_KEY_USED, 7 * MIB);
                msg_map_set_uint(&b, PEER_KEY_DELETE_DELAY, 3600);
                break;
        }
        case PEER_TYPE_HAVE: {
                const uint8_t *p;
                size_t len;
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                struct msg_map b = msg_body(m);
                cr_assert_eq(msg_map_get_bytes_at(&body, PEER_KEY_PACKS, 0, &p, &len), 0);
                bool ours = len == OID_SIZE && !memcmp(p, h->pack.bytes, OID_SIZE);
                msg_map_append_uint(&b, PEER_KEY_SIZES, ours && h->visible ? PACK_SIZE : 0);
                msg_map_append_uint(&b, PEER_KEY_PARTIALS, ours && !h->visible ? h->durable : 0);
                break;
        }
        case PEER_TYPE_PUT:
                host_put(h, req, payload);
                return;
        case PEER_TYPE_PROVE: {
                const uint8_t *nonce;
                size_t len;
                if (!same_pack(h, &body) || !h->visible) {
                        peer_conn_reply_error(h->conn, reqid, PEER_STATUS_NOT_FOUND, NULL);
                        msg_free(req);
                        return;
                }
                cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_NONCE, &nonce, &len), 0);
                uint8_t *buf = malloc(len + PACK_SIZE), digest[32];
                memcpy(buf, nonce, len);
                memcpy(buf + len, h->data, PACK_SIZE);
                cr_assert_eq(crypto_sha256(buf, len + PACK_SIZE, digest), 0);
                free(buf);
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                struct msg_map b = msg_body(m);
                msg_map_set_bytes(&b, PEER_KEY_DIGEST, digest, sizeof(digest));
                break;
        }
        case PEER_TYPE_GET: {
                uint64_t offset = 0, length = 0;
                msg_map_get_uint(&body, PEER_KEY_OFFSET, &offset);
                msg_map_get_uint(&body, PEER_KEY_LENGTH, &length);
                if (!same_pack(h, &body) || !h->visible || offset + length > PACK_SIZE) {
                        peer_conn_reply_error(h->conn, reqid, h->visible ? PEER_STATUS_RANGE : PEER_STATUS_NOT_FOUND,
                                              NULL);
                        msg_free(req);
                        return;
                }
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                cr_assert_eq(peer_conn_reply(h->conn, m, h->data + offset, length, NULL, NULL), 0);
                msg_free(m);
                msg_free(req);
                return;
        }
        case PEER_TYPE_STAT:
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                if (same_pack(h, &body) && h->visible) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, PEER_KEY_SIZE, PACK_SIZE);
                }
                break;
        case PEER_TYPE_LIST: {
                m = peer_msg_new(PEER_TYPE_RESULT, reqid);
                struct msg_map b = msg_body(m), item;
                if (h->visible) {
                        /* one marked pack (skipped by list), then ours */
                        struct oid marked = {{0}};
                        cr_assert_eq(msg_map_append_map(&b, PEER_KEY_ENTRIES, &item), 0);
                        msg_map_set_bytes(&item, PEER_KEY_PACK, marked.bytes, OID_SIZE);
                        msg_map_set_uint(&item, PEER_KEY_SIZE, 99);
                        msg_map_set_int(&item, PEER_KEY_DELETED_AT, 12345);
                        cr_assert_eq(msg_map_append_map(&b, PEER_KEY_ENTRIES, &item), 0);
                        msg_map_set_bytes(&item, PEER_KEY_PACK, h->pack.bytes, OID_SIZE);
                        msg_map_set_uint(&item, PEER_KEY_SIZE, PACK_SIZE);
                }
                msg_map_set_bool(&b, PEER_KEY_MORE, false);
                break;
        }
        default:
                peer_conn_reply_error(h->conn, reqid, PEER_STATUS_UNSUPPORTED, NULL);
                msg_free(req);
                return;
        }
        cr_assert_eq(peer_conn_reply(h->conn, m, NULL, 0, NULL, NULL), 0);
        msg_free(m);
        msg_free(req);
}

static void host_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct host *h = userdata;

        (void)err;
        (void)why;
        peer_conn_free(c);
        if (h->conn == c)
                h->conn = NULL;
}

static void host_tls_event(struct bufferevent *bev, short what, void *arg)
{
        static const struct peer_conn_handlers handlers = { .request = host_request, .closed = host_closed };
        struct host *h = arg;

        if (!(what & BEV_EVENT_CONNECTED)) {
                bufferevent_free(bev);
                return;
        }
        if (h->conn) /* one connection at a time: the older one goes */
                peer_conn_free(h->conn);
        cr_assert_eq(peer_conn_new(h->base, bev, &handlers, h, &h->conn), 0);
}

static void host_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
        struct host *h = arg;
        struct bufferevent *bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE), *tls = NULL;

        (void)l;
        (void)sa;
        (void)socklen;
        cr_assert_eq(tls_wrap(h->tls, bev, TLS_SERVER, &tls), 0);
        bufferevent_setcb(tls, NULL, NULL, host_tls_event, h);
}

/* ---- the owner ----------------------------------------------------------------- */

static struct event_base *base;
static struct workers *workers;
static struct daemon d;
static struct identity *owner_id;
static struct host host;
static struct store *store;
static int pack_fd = -1;

static void make_identity(uint8_t seed_byte, struct identity **ret)
{
        uint8_t seed[IDENTITY_SEED_SIZE];

        memset(seed, seed_byte, sizeof(seed));
        cr_assert_eq(identity_new(seed, ret), 0);
}

static void setup(void)
{
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        uint8_t *bytes;

        base = event_base_new();
        cr_assert_not_null(base);
        cr_assert_eq(workers_new(base, 1, &workers), 0);
        make_identity(1, &owner_id);
        memset(&d, 0, sizeof(d));
        d.base = base;
        d.workers = workers;
        d.identity = owner_id;
        d.config.peer_window = 2 * MIB;
        d.config.node_name = "owner";

        memset(&host, 0, sizeof(host));
        host.base = base;
        make_identity(2, &host.id);
        cr_assert_eq(tls_config_new(host.id, &host.tls), 0);
        host.listener = evconnlistener_new_bind(base, host_accept, &host, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
                                                (struct sockaddr *)&sin, sizeof(sin));
        cr_assert_not_null(host.listener);
        cr_assert_eq(getsockname(evconnlistener_get_fd(host.listener), (struct sockaddr *)&sin, &len), 0);
        host.port = ntohs(sin.sin_port);
        host.data = calloc(1, PACK_SIZE);

        /* the pack: random bytes in an anonymous file, its id their SHA-256 */
        pack_fd = memfd_create("pack", MFD_CLOEXEC);
        cr_assert_geq(pack_fd, 0);
        cr_assert_eq(ftruncate(pack_fd, PACK_SIZE), 0);
        bytes = mmap(NULL, PACK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, pack_fd, 0);
        cr_assert_neq(bytes, MAP_FAILED);
        cr_assert_eq(crypto_random(bytes, PACK_SIZE), 0);
        cr_assert_eq(crypto_sha256(bytes, PACK_SIZE, host.pack.bytes), 0);
        munmap(bytes, PACK_SIZE);
}

static void teardown(void)
{
        store_free(store);
        store = NULL;
        if (host.conn)
                peer_conn_free(host.conn);
        for (size_t i = 0; i < host.n_held; i++)
                msg_free(host.held[i]);
        if (host.listener)
                evconnlistener_free(host.listener);
        tls_config_free(host.tls);
        identity_free(host.id);
        free(host.data);
        workers_free(workers);
        identity_free(owner_id);
        event_base_free(base);
        close(pack_fd);
}

TestSuite(store_peer, .init = setup, .fini = teardown, .timeout = 60);

static void open_store(const uint8_t *pinned, int port)
{
        char address[64];
        uint8_t id[32];

        if (!pinned) {
                cr_assert_eq(identity_node_id(host.id, id), 0);
                pinned = id;
        }
        snprintf(address, sizeof(address), "127.0.0.1:%d", port);
        cr_assert_eq(store_peer_new(&d, "friend", pinned, address, &store), 0);
}

/* A blocking store call on a thread of its own while the loop runs here. */
enum op { OP_PUT, OP_PROVE, OP_GET, OP_GET_BIG, OP_STAT, OP_LIST };

struct call {
        enum op op;
        pthread_t thread;
        atomic_int done;
        int r;
        uint8_t digest[32];
        uint8_t nonce[32];
        uint8_t buf[4096];
        uint8_t *big; /* OP_GET_BIG: the first big_len bytes of the pack */
        size_t big_len;
        uint64_t size;
        int listed;
        struct oid listed_id;
        int64_t ms;
};

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int list_cb(void *userdata, const struct oid *pack, uint64_t size)
{
        struct call *c = userdata;
        c->listed++;
        c->listed_id = *pack;
        c->size = size;
        return 0;
}

static void *call_main(void *arg)
{
        struct call *c = arg;
        int more = 0;
        int64_t start = mono_ms();

        switch (c->op) {
        case OP_PUT:
                c->r = store_put(store, &host.pack, pack_fd, PACK_SIZE, STORE_PUT_TRUSTED);
                break;
        case OP_PROVE:
                c->r = store_prove(store, &host.pack, c->nonce, sizeof(c->nonce), c->digest);
                break;
        case OP_GET:
                c->r = store_get(store, &host.pack, MIB - 100, sizeof(c->buf), c->buf);
                break;
        case OP_GET_BIG:
                c->r = store_get(store, &host.pack, 0, c->big_len, c->big);
                break;
        case OP_STAT:
                c->r = store_stat(store, &host.pack, &c->size);
                break;
        case OP_LIST:
                c->r = store_list(store, NULL, 10, list_cb, c, &more);
                break;
        }
        c->ms = mono_ms() - start;
        atomic_store(&c->done, 1);
        return NULL;
}

static void start(struct call *c, enum op op)
{
        uint8_t *big = c->big;
        size_t big_len = c->big_len;

        memset(c, 0, sizeof(*c));
        c->op = op;
        c->big = big;
        c->big_len = big_len;
        cr_assert_eq(pthread_create(&c->thread, NULL, call_main, c), 0);
}

/* Run the loop until c is done (or ms passed, for a call expected to hang). */
static bool run_until_done(struct call *c, int64_t ms)
{
        int64_t end = mono_ms() + ms;
        struct timeval tick = { 0, 5000 };

        while (!atomic_load(&c->done) && mono_ms() < end) {
                event_base_loopexit(base, &tick);
                event_base_dispatch(base);
        }
        if (!atomic_load(&c->done))
                return false;
        pthread_join(c->thread, NULL);
        return true;
}

static int call(enum op op, struct call *c)
{
        start(c, op);
        cr_assert(run_until_done(c, 30000), "the call finished");
        return c->r;
}

static void run_ms(int64_t ms)
{
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
}

/* ---- tests --------------------------------------------------------------------------- */

Test(store_peer, put_cut_midway_resumes_without_sending_acknowledged_bytes_again)
{
        struct store_peer_status st;
        struct call c;

        host.fail = FAIL_CUT_AT_PUT;
        host.cut_at = 2; /* two ranges acknowledged, then the connection drops */
        open_store(NULL, host.port);
        cr_assert_eq(call(OP_PUT, &c), -ECONNRESET);
        cr_assert_eq(host.durable, 2 * MIB, "the host kept two ranges");
        cr_assert(!host.visible);
        uint64_t first = host.bytes_received;

        host.fail = FAIL_NONE;
        run_ms(1500); /* the store redials after its backoff (at most 1 s) */
        store_peer_get_status(store, &st);
        cr_assert(st.connected, "reconnected: %s", st.error);
        cr_assert_eq(call(OP_PUT, &c), 0);
        cr_assert(host.visible);
        cr_assert_eq(host.bytes_received - first, PACK_SIZE - 2 * MIB, "only the rest was sent");
        cr_assert_eq(host.bytes_received, PACK_SIZE, "no byte twice");
        store_peer_get_status(store, &st);
        cr_assert_eq(st.resumed_bytes, 2 * MIB);
        cr_assert_eq(st.uploaded_bytes, PACK_SIZE);
        cr_assert_eq(st.used, 7 * MIB, "usage from HELLO");
        cr_assert_eq(st.quota, 1000 * MIB);
        cr_assert_eq(st.delete_delay_s, 3600);
        cr_assert_eq(host.hellos, 2);

        /* there already: nothing sent */
        cr_assert_eq(call(OP_PUT, &c), 0);
        cr_assert_eq(host.bytes_received, PACK_SIZE);
}

Test(store_peer, reads_and_challenges_map_onto_the_messages)
{
        struct call c;
        uint8_t want[32], *buf = malloc(32 + PACK_SIZE), page[4096];

        open_store(NULL, host.port);
        cr_assert_eq(call(OP_STAT, &c), -ENOENT, "nothing there yet");
        cr_assert_eq(call(OP_PROVE, &c), -ENOENT, "NOT_FOUND is -ENOENT");
        cr_assert_eq(call(OP_PUT, &c), 0);

        cr_assert_eq(call(OP_STAT, &c), 0);
        cr_assert_eq(c.size, PACK_SIZE);

        start(&c, OP_PROVE);
        memset(c.nonce, 0x33, sizeof(c.nonce));
        cr_assert(run_until_done(&c, 30000));
        cr_assert_eq(c.r, 0);
        cr_assert_eq(pread(pack_fd, buf + 32, PACK_SIZE, 0), (ssize_t)PACK_SIZE);
        memset(buf, 0x33, 32);
        cr_assert_eq(crypto_sha256(buf, 32 + PACK_SIZE, want), 0);
        cr_assert_arr_eq(c.digest, want, 32, "SHA-256(nonce || pack)");

        cr_assert_eq(call(OP_GET, &c), 0);
        cr_assert_eq(pread(pack_fd, page, sizeof(page), MIB - 100), (ssize_t)sizeof(page));
        cr_assert_arr_eq(c.buf, page, sizeof(page));

        cr_assert_eq(call(OP_LIST, &c), 0);
        cr_assert_eq(c.listed, 1, "the marked pack is not listed");
        cr_assert(oid_cmp(&c.listed_id, &host.pack) == 0);
        cr_assert_eq(c.size, PACK_SIZE);
        free(buf);
}

Test(store_peer, a_quota_refusal_is_edquot)
{
        struct call c;

        host.fail = FAIL_QUOTA;
        open_store(NULL, host.port);
        cr_assert_eq(call(OP_PUT, &c), -EDQUOT);
        cr_assert_eq(host.bytes_received, 0);
}

Test(store_peer, another_certificate_is_refused)
{
        struct store_peer_status st;
        uint8_t other[32];
        struct call c;

        memset(other, 0xab, sizeof(other));
        open_store(other, host.port);
        cr_assert_eq(call(OP_PUT, &c), -ENOTCONN);
        store_peer_get_status(store, &st);
        cr_assert(!st.connected);
        cr_assert(strstr(st.error, "friend at 127.0.0.1:") && strstr(st.error, "presented another certificate"),
                  "%s", st.error);
        cr_assert_eq(host.hellos, 0, "no request reached the host");
        cr_assert_eq(host.bytes_received, 0);
}

Test(store_peer, nobody_listening_fails_fast_and_backs_off)
{
        struct store_peer_status st;
        struct call c;
        int port = host.port;

        evconnlistener_free(host.listener);
        host.listener = NULL;
        open_store(NULL, port);
        cr_assert_eq(call(OP_STAT, &c), -ENOTCONN);
        store_peer_get_status(store, &st);
        cr_assert(strstr(st.error, "cannot connect to 127.0.0.1:"), "%s", st.error);
        /* backing off: the next call fails at once, without a dial */
        cr_assert_eq(call(OP_STAT, &c), -ENOTCONN);
        cr_assert_lt(c.ms, 200, "took %lld ms", (long long)c.ms);
}

Test(store_peer, shutdown_releases_a_call_the_host_never_answers)
{
        struct call c;

        host.fail = FAIL_SILENT;
        open_store(NULL, host.port);
        start(&c, OP_PUT);
        cr_assert(!run_until_done(&c, 1000), "the put waits for its answer");
        store_peer_shutdown(store);
        cr_assert(run_until_done(&c, 5000), "and returns once the store stops");
        cr_assert(c.r == -ECANCELED || c.r == -ECONNRESET, "%d", c.r);
}

/* ---- rate limits ----------------------------------------------------------------------- */

Test(store_peer, own_upload_limit_bounds_a_put_and_a_change_applies_at_once)
{
        struct store_peer_status st;
        struct call c;

        open_store(NULL, host.port);
        cr_assert_eq(store_peer_set_limits(store, MIB, 0), 0); /* before the connection is up */
        start(&c, OP_PUT);
        cr_assert(!run_until_done(&c, 2000), "5 MiB at 1 MiB/s take 5 s");
        cr_assert_geq(host.bytes_received, MIB, "moving: %llu bytes", (unsigned long long)host.bytes_received);
        cr_assert_leq(host.bytes_received, 2 * MIB, "bounded: %llu bytes in 2 s",
                      (unsigned long long)host.bytes_received);
        /* lifted on the live connection: the rest goes at once */
        cr_assert_eq(store_peer_set_limits(store, 0, 0), 0);
        cr_assert(run_until_done(&c, 30000));
        cr_assert_eq(c.r, 0);
        cr_assert_lt(c.ms, 4000, "took %lld ms", (long long)c.ms);
        cr_assert(host.visible);
        store_peer_get_status(store, &st);
        cr_assert_eq(host.hellos, 1, "the same connection: %s", st.error);
}

Test(store_peer, own_download_limit_bounds_a_get)
{
        struct call c = { .big_len = 3 * MIB };
        uint8_t *want = malloc(3 * MIB);

        c.big = malloc(3 * MIB);
        open_store(NULL, host.port);
        cr_assert_eq(call(OP_PUT, &c), 0);
        cr_assert_eq(store_peer_set_limits(store, 0, MIB), 0);
        cr_assert_eq(call(OP_GET_BIG, &c), 0);
        cr_assert_geq(c.ms, 2000, "3 MiB at 1 MiB/s in %lld ms", (long long)c.ms);
        cr_assert_eq(pread(pack_fd, want, 3 * MIB, 0), (ssize_t)(3 * MIB));
        cr_assert_arr_eq(c.big, want, 3 * MIB);
        /* lifted: the same read is fast again */
        cr_assert_eq(store_peer_set_limits(store, 0, 0), 0);
        cr_assert_eq(call(OP_GET_BIG, &c), 0);
        cr_assert_lt(c.ms, 1500, "took %lld ms", (long long)c.ms);
        free(c.big);
        free(want);
}

Test(store_peer, the_global_limit_applies_on_top)
{
        struct call c;

        d.config.upload_limit = MIB; /* the shared group: before the first store */
        open_store(NULL, host.port);
        cr_assert_eq(store_peer_set_limits(store, 64 * MIB, 0), 0);
        cr_assert_eq(call(OP_PUT, &c), 0);
        cr_assert_geq(c.ms, 3000, "5 MiB at 1 MiB/s in %lld ms", (long long)c.ms);
}

Test(store_peer, limits_out_of_range_are_refused)
{
        open_store(NULL, host.port);
        cr_assert_eq(store_peer_set_limits(store, STORE_PEER_LIMIT_MIN - 1, 0), -EINVAL);
        cr_assert_eq(store_peer_set_limits(store, 0, 1), -EINVAL);
        cr_assert_eq(store_peer_set_limits(store, UINT64_MAX, 0), -EINVAL);
        cr_assert_eq(store_peer_set_limits(store, STORE_PEER_LIMIT_MIN, UINT64_C(1) << 40), 0);
        cr_assert_eq(store_peer_set_limits(store, 0, 0), 0);
}
