/* SPDX-License-Identifier: MIT */
/* A peer protocol client for the integration tests, built from chuted's own
 * TLS filter and peer connection: it presents the identity of a seed given
 * on the command line, runs a script of requests against a host and prints
 * one JSON line per step; raw modes play the hostile peers (plain TCP
 * garbage, a stalled handshake, a frame claiming 2 GiB, a slow loris) and
 * report when the host closed them. Test code only: never installed.
 *
 *   peer-client-tool id SEED                     print the seed's node id
 *   peer-client-tool run SEED HOST:PORT STEP...  steps: hello | ping | usage | list |
 *       put FILE [CHUNK] | get ID OFFSET LENGTH OUT | stat ID | have ID | delete ID |
 *       undelete ID | prove ID FILE | sleep SECONDS | closed SECONDS
 *   peer-client-tool raw MODE SEED HOST:PORT COUNT SECONDS
 *       MODE: garbage | stall | bigframe | loris | tlsgarbage
 * Exit status: 0 when every step ran (a refused request is a result, not a
 * failure), 1 when the connection failed or a raw connection outlived SECONDS. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
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
#include <event2/util.h>

#include "crypto.h"
#include "identity.h"
#include "oid.h"
#include "peer-conn.h"
#include "peer.h"
#include "tls.h"

struct tool {
        struct event_base *base;
        struct tls_config *tls;
        struct identity *identity;
        struct peer_conn *conn;
        char **steps;
        int n_steps, next;
        bool closed, failed, busy;
        int closed_err;
        /* the PUT in progress */
        uint8_t *put_data;
        size_t put_len, put_chunks, put_answered;
        int put_err;
        uint64_t put_durable;
        bool put_committed;
        char put_message[256];
        char put_hex[OID_HEX_SIZE];
        /* the step being answered */
        const char *op;
        const char *out_file;
        const char *prove_file;
        struct event *timer;
};

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The JSON string of s (printable ASCII is all the host sends). */
static void json_text(const char *s, size_t len)
{
        putchar('"');
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

static int parse_seed(const char *hex, uint8_t seed[IDENTITY_SEED_SIZE])
{
        if (strlen(hex) != 2 * IDENTITY_SEED_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < IDENTITY_SEED_SIZE; i++) {
                unsigned v;
                if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                        return -EINVAL;
                seed[i] = (uint8_t)v;
        }
        return 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        struct stat st;
        uint8_t *p;

        if (!f)
                return -errno;
        if (fstat(fileno(f), &st) < 0 || st.st_size <= 0) {
                fclose(f);
                return -EINVAL;
        }
        p = malloc((size_t)st.st_size);
        if (!p || fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
                free(p);
                fclose(f);
                return -EIO;
        }
        fclose(f);
        *ret = p;
        *ret_len = (size_t)st.st_size;
        return 0;
}

static void next_step(struct tool *t);

/* Print the outcome of one request: ok with the reply's keys, or the error. */
static void print_reply(struct tool *t, struct msg *reply, int err)
{
        struct msg_map b;
        uint64_t u;
        int64_t i;
        bool v;

        printf("{\"op\":\"%s\"", t->op);
        if (!reply) {
                printf(",\"ok\":false,\"status\":\"closed\",\"err\":%d}\n", err);
                fflush(stdout);
                return;
        }
        b = msg_body(reply);
        if (msg_type(reply) == PEER_TYPE_ERROR) {
                const char *m = NULL;
                size_t ml = 0;
                msg_map_get_uint(&b, PEER_KEY_STATUS, &u);
                printf(",\"ok\":false,\"status\":\"%s\"", peer_status_id((uint32_t)u) ?: "?");
                if (msg_map_get_text(&b, PEER_KEY_MESSAGE, &m, &ml) >= 0) {
                        printf(",\"message\":");
                        json_text(m, ml);
                }
                if (msg_map_get_uint(&b, PEER_KEY_PROTOCOL_MAX, &u) >= 0)
                        printf(",\"protocol_max\":%" PRIu64, u);
                printf("}\n");
                fflush(stdout);
                return;
        }
        printf(",\"ok\":true");
        if (!strcmp(t->op, "hello")) {
                /* whom we talk to: the id of the certificate the host presented */
                uint8_t host[TLS_PEER_ID_SIZE];
                char *pretty = NULL;
                if (tls_peer_id(peer_conn_bufferevent(t->conn), host) >= 0 && identity_format_id(host, &pretty) >= 0)
                        printf(",\"host_id\":\"%s\"", pretty);
                free(pretty);
        }
        static const struct {
                uint32_t key;
                const char *name;
        } uints[] = {
                { PEER_KEY_PROTOCOL_MAX, "protocol_max" }, { PEER_KEY_QUOTA, "quota" },
                { PEER_KEY_USED, "used" },                 { PEER_KEY_DELETE_DELAY, "delete_delay" },
                { PEER_KEY_MARKED, "marked" },             { PEER_KEY_COUNT, "count" },
                { PEER_KEY_SIZE, "size" },                 { PEER_KEY_DURABLE, "durable" },
        };
        for (size_t k = 0; k < sizeof(uints) / sizeof(uints[0]); k++)
                if (msg_map_get_uint(&b, uints[k].key, &u) >= 0)
                        printf(",\"%s\":%" PRIu64, uints[k].name, u);
        if (msg_map_get_int(&b, PEER_KEY_DELETED_AT, &i) >= 0)
                printf(",\"deleted_at\":%" PRId64, i);
        if (msg_map_get_int(&b, PEER_KEY_PURGE_AT, &i) >= 0)
                printf(",\"purge_at\":%" PRId64, i);
        if (msg_map_get_bool(&b, PEER_KEY_MORE, &v) >= 0)
                printf(",\"more\":%s", v ? "true" : "false");
        size_t n;
        if (msg_map_get_count(&b, PEER_KEY_ENTRIES, &n) >= 0) {
                printf(",\"entries\":[");
                for (size_t k = 0; k < n; k++) {
                        struct msg_map e;
                        const uint8_t *id;
                        size_t len;
                        char hex[OID_HEX_SIZE] = "";
                        if (msg_map_get_map_at(&b, PEER_KEY_ENTRIES, k, &e) < 0)
                                continue;
                        if (msg_map_get_bytes(&e, PEER_KEY_PACK, &id, &len) >= 0 && len == OID_SIZE)
                                oid_to_hex((const struct oid *)id, hex);
                        u = 0;
                        msg_map_get_uint(&e, PEER_KEY_SIZE, &u);
                        printf("%s{\"pack\":\"%s\",\"size\":%" PRIu64, k ? "," : "", hex, u);
                        if (msg_map_get_int(&e, PEER_KEY_DELETED_AT, &i) >= 0)
                                printf(",\"deleted_at\":%" PRId64, i);
                        printf("}");
                }
                printf("]");
        }
        if (msg_map_get_count(&b, PEER_KEY_SIZES, &n) >= 0 && n > 0 &&
            msg_map_get_uint_at(&b, PEER_KEY_SIZES, 0, &u) >= 0) {
                printf(",\"have_size\":%" PRIu64, u);
                if (msg_map_get_uint_at(&b, PEER_KEY_PARTIALS, 0, &u) >= 0)
                        printf(",\"have_partial\":%" PRIu64, u);
        }
        const uint8_t *digest;
        size_t dl;
        if (msg_map_get_bytes(&b, PEER_KEY_DIGEST, &digest, &dl) >= 0 && t->prove_file) {
                /* SHA-256(nonce || pack), nonce = 16 zero bytes */
                uint8_t *p = NULL, want[CRYPTO_SHA256_SIZE];
                size_t len = 0;
                bool match = false;
                if (read_file(t->prove_file, &p, &len) >= 0) {
                        uint8_t *both = malloc(16 + len);
                        if (both) {
                                memset(both, 0, 16);
                                memcpy(both + 16, p, len);
                                crypto_sha256(both, 16 + len, want);
                                match = dl == sizeof(want) && !memcmp(want, digest, dl);
                                free(both);
                        }
                        free(p);
                }
                printf(",\"digest_matches\":%s", match ? "true" : "false");
        }
        printf("}\n");
        fflush(stdout);
}

static void on_reply(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        struct tool *t = userdata;

        if (payload && payload->len && t->out_file) {
                int fd = open(t->out_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || evbuffer_write(payload->buf, fd) < 0)
                        t->failed = true;
                if (fd >= 0)
                        close(fd);
        }
        print_reply(t, reply, err);
        msg_free(reply);
        t->out_file = t->prove_file = NULL;
        t->busy = false;
        next_step(t);
}

static void on_put_reply(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        struct tool *t = userdata;

        (void)payload;
        t->put_answered++;
        if (reply && msg_type(reply) == PEER_TYPE_ERROR && !t->put_err) {
                struct msg_map b = msg_body(reply);
                uint64_t status = 0;
                const char *m = "";
                size_t ml = 0;
                msg_map_get_uint(&b, PEER_KEY_STATUS, &status);
                msg_map_get_text(&b, PEER_KEY_MESSAGE, &m, &ml);
                t->put_err = (int)status ? (int)status : -1;
                snprintf(t->put_message, sizeof(t->put_message), "%.*s", (int)ml, m);
        } else if (!reply && !t->put_err) {
                t->put_err = -1;
                snprintf(t->put_message, sizeof(t->put_message), "connection closed (%d)", err);
        } else if (reply) {
                struct msg_map b = msg_body(reply);
                uint64_t durable = 0;
                bool committed = false;
                msg_map_get_uint(&b, PEER_KEY_DURABLE, &durable);
                msg_map_get_bool(&b, PEER_KEY_COMMITTED, &committed);
                if (durable > t->put_durable)
                        t->put_durable = durable;
                t->put_committed |= committed;
        }
        msg_free(reply);
        if (t->put_answered < t->put_chunks)
                return;
        printf("{\"op\":\"put\",\"pack\":\"%s\",\"size\":%zu", t->put_hex, t->put_len);
        if (t->put_err > 0)
                printf(",\"ok\":false,\"status\":\"%s\",\"message\":", peer_status_id((uint32_t)t->put_err) ?: "?");
        else if (t->put_err)
                printf(",\"ok\":false,\"status\":\"closed\",\"message\":");
        if (t->put_err)
                json_text(t->put_message, strlen(t->put_message));
        else
                printf(",\"ok\":true,\"durable\":%" PRIu64 ",\"committed\":%s", t->put_durable,
                       t->put_committed ? "true" : "false");
        printf("}\n");
        fflush(stdout);
        free(t->put_data);
        t->put_data = NULL;
        t->busy = false;
        next_step(t);
}

static struct msg *with_pack(enum peer_type type, const char *hex)
{
        struct msg *m = peer_msg_new(type, 0);
        struct oid id;

        if (!m || oid_from_hex(hex, &id) < 0) {
                msg_free(m);
                return NULL;
        }
        struct msg_map b = msg_body(m);
        msg_map_set_bytes(&b, PEER_KEY_PACK, id.bytes, OID_SIZE);
        return m;
}

static int send_request(struct tool *t, struct msg *m)
{
        int r;

        if (!m)
                return -EINVAL;
        r = peer_conn_request(t->conn, m, NULL, 0, NULL, NULL, on_reply, t);
        msg_free(m);
        if (r >= 0)
                t->busy = true;
        return r;
}

static int step_put(struct tool *t, const char *file, size_t chunk)
{
        struct oid id;
        int r;

        r = read_file(file, &t->put_data, &t->put_len);
        if (r < 0)
                return r;
        crypto_sha256(t->put_data, t->put_len, id.bytes);
        oid_to_hex(&id, t->put_hex);
        t->put_chunks = (t->put_len + chunk - 1) / chunk;
        t->put_answered = 0;
        t->put_err = 0;
        t->put_durable = 0;
        t->put_committed = false;
        t->busy = true;
        for (size_t off = 0; off < t->put_len; off += chunk) {
                size_t n = t->put_len - off < chunk ? t->put_len - off : chunk;
                struct msg *m = peer_msg_new(PEER_TYPE_PUT, 0);
                struct msg_map b = msg_body(m);
                msg_map_set_bytes(&b, PEER_KEY_PACK, id.bytes, OID_SIZE);
                msg_map_set_uint(&b, PEER_KEY_OFFSET, off);
                msg_map_set_uint(&b, PEER_KEY_SIZE, t->put_len);
                if (off + n == t->put_len)
                        msg_map_set_bool(&b, PEER_KEY_COMMIT, true);
                r = peer_conn_request(t->conn, m, t->put_data + off, n, NULL, NULL, on_put_reply, t);
                msg_free(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *userdata)
{
        struct tool *t = userdata;

        (void)fd, (void)what;
        if (t->op && !strcmp(t->op, "closed-timeout")) {
                printf("{\"op\":\"closed\",\"ok\":false}\n");
                fflush(stdout);
                t->failed = true;
                event_base_loopexit(t->base, NULL);
                return;
        }
        t->busy = false;
        next_step(t);
}

static void wait_seconds(struct tool *t, double seconds)
{
        struct timeval tv = { (time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6) };

        t->busy = true;
        evtimer_add(t->timer, &tv);
}

/* Run steps until one waits for an answer. */
static void next_step(struct tool *t)
{
        while (!t->busy && !t->failed) {
                if (t->next >= t->n_steps) {
                        event_base_loopexit(t->base, NULL);
                        return;
                }
                char **a = t->steps + t->next;
                int left = t->n_steps - t->next, used = 1, r = 0;
                const char *op = a[0];
                t->op = op;
                if (!strcmp(op, "closed") && left >= 2) {
                        /* wait up to SECONDS for the host to close us */
                        used = 2;
                        if (t->closed) {
                                printf("{\"op\":\"closed\",\"ok\":true}\n");
                                fflush(stdout);
                        } else {
                                t->next += used;
                                t->op = "closed-timeout";
                                wait_seconds(t, atof(a[1]));
                                return;
                        }
                } else if (t->closed) {
                        printf("{\"op\":\"%s\",\"ok\":false,\"status\":\"closed\"}\n", op);
                        fflush(stdout);
                        t->failed = true;
                        break;
                } else if (!strcmp(op, "hello")) {
                        struct msg *m = peer_msg_new(PEER_TYPE_HELLO, 0);
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MIN, PEER_PROTOCOL_VERSION_MIN);
                        msg_map_set_uint(&b, PEER_KEY_PROTOCOL_MAX, PEER_PROTOCOL_VERSION);
                        msg_map_set_uint(&b, PEER_KEY_MAX_FRAME, PEER_MAX_BODY);
                        msg_map_set_text(&b, PEER_KEY_NAME, "peer-client-tool");
                        r = send_request(t, m);
                } else if (!strcmp(op, "ping") || !strcmp(op, "usage") || !strcmp(op, "list")) {
                        r = send_request(t, peer_msg_new(!strcmp(op, "ping")    ? PEER_TYPE_PING
                                                         : !strcmp(op, "usage") ? PEER_TYPE_USAGE
                                                                                : PEER_TYPE_LIST,
                                                         0));
                } else if (!strcmp(op, "put") && left >= 2) {
                        size_t chunk = 1024 * 1024;
                        used = 2;
                        if (left >= 3 && atol(a[2]) > 0) {
                                chunk = (size_t)atol(a[2]);
                                used = 3;
                        }
                        r = step_put(t, a[1], chunk);
                } else if (!strcmp(op, "get") && left >= 5) {
                        struct msg *m = with_pack(PEER_TYPE_GET, a[1]);
                        used = 5;
                        if (m) {
                                struct msg_map b = msg_body(m);
                                msg_map_set_uint(&b, PEER_KEY_OFFSET, strtoull(a[2], NULL, 10));
                                msg_map_set_uint(&b, PEER_KEY_LENGTH, strtoull(a[3], NULL, 10));
                        }
                        t->out_file = a[4];
                        r = send_request(t, m);
                } else if ((!strcmp(op, "stat") || !strcmp(op, "delete") || !strcmp(op, "undelete")) && left >= 2) {
                        used = 2;
                        r = send_request(t, with_pack(!strcmp(op, "stat")     ? PEER_TYPE_STAT
                                                      : !strcmp(op, "delete") ? PEER_TYPE_DELETE
                                                                              : PEER_TYPE_UNDELETE,
                                                      a[1]));
                } else if (!strcmp(op, "have") && left >= 2) {
                        struct msg *m = peer_msg_new(PEER_TYPE_HAVE, 0);
                        struct oid id;
                        used = 2;
                        if (oid_from_hex(a[1], &id) < 0) {
                                msg_free(m);
                                m = NULL;
                        } else {
                                struct msg_map b = msg_body(m);
                                msg_map_append_bytes(&b, PEER_KEY_PACKS, id.bytes, OID_SIZE);
                        }
                        r = send_request(t, m);
                } else if (!strcmp(op, "prove") && left >= 3) {
                        static const uint8_t nonce[16];
                        struct msg *m = with_pack(PEER_TYPE_PROVE, a[1]);
                        used = 3;
                        if (m) {
                                struct msg_map b = msg_body(m);
                                msg_map_set_bytes(&b, PEER_KEY_NONCE, nonce, sizeof(nonce));
                        }
                        t->prove_file = a[2];
                        r = send_request(t, m);
                } else if (!strcmp(op, "sleep") && left >= 2) {
                        t->next += 2;
                        wait_seconds(t, atof(a[1]));
                        return;
                } else {
                        fprintf(stderr, "peer-client-tool: bad step \"%s\"\n", op);
                        t->failed = true;
                        break;
                }
                if (r < 0) {
                        fprintf(stderr, "peer-client-tool: step %s: %s\n", op, strerror(-r));
                        t->failed = true;
                        break;
                }
                t->next += used;
        }
        if (t->failed)
                event_base_loopexit(t->base, NULL);
}

static void on_conn_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct tool *t = userdata;

        (void)c;
        t->closed = true;
        t->closed_err = err;
        fprintf(stderr, "peer-client-tool: connection closed: %s\n", why ? why : strerror(-err));
        if (t->op && !strcmp(t->op, "closed-timeout")) {
                /* the awaited close */
                evtimer_del(t->timer);
                printf("{\"op\":\"closed\",\"ok\":true}\n");
                fflush(stdout);
                t->busy = false;
                next_step(t);
        }
}

static const struct peer_conn_handlers client_handlers = { .closed = on_conn_closed };

/* ---- connecting ---- */

enum raw_mode { RAW_NONE, RAW_GARBAGE, RAW_STALL, RAW_BIGFRAME, RAW_LORIS, RAW_TLSGARBAGE };

struct raw_conn {
        struct tool *t;
        struct bufferevent *bev;
        enum raw_mode mode;
        bool done;
        int64_t start_ms;
};

static unsigned raw_open;
static unsigned raw_closed_by_host;

static void raw_finish(struct raw_conn *rc, bool closed_by_host)
{
        if (rc->done)
                return;
        rc->done = true;
        raw_closed_by_host += closed_by_host;
        if (--raw_open == 0)
                event_base_loopexit(rc->t->base, NULL);
}

static void on_raw_read(struct bufferevent *bev, void *userdata)
{
        (void)userdata;
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void on_raw_event(struct bufferevent *bev, short what, void *userdata)
{
        struct raw_conn *rc = userdata;

        if (what & BEV_EVENT_CONNECTED) {
                uint8_t junk[4096];
                switch (rc->mode) {
                case RAW_GARBAGE:
                case RAW_TLSGARBAGE:
                        for (size_t i = 0; i < sizeof(junk); i++)
                                junk[i] = (uint8_t)rand();
                        bufferevent_write(bev, junk, sizeof(junk));
                        break;
                case RAW_BIGFRAME: {
                        static const uint8_t head[4] = { 0x80, 0, 0, 0 }; /* 2^31 bytes to come */
                        bufferevent_write(bev, head, sizeof(head));
                        break;
                }
                case RAW_LORIS: {
                        static const uint8_t head[5] = { 0, 0, 0, 100, 0x84 }; /* a frame, one byte of it */
                        bufferevent_write(bev, head, sizeof(head));
                        break;
                }
                default:
                        break;
                }
                return;
        }
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
                raw_finish(rc, !(what & BEV_EVENT_TIMEOUT));
}

static int connect_bev(struct tool *t, const char *address, bool use_tls, struct bufferevent **ret)
{
        struct sockaddr_storage ss;
        int sslen = sizeof(ss), r;
        struct bufferevent *tcp, *tls;

        memset(&ss, 0, sizeof(ss));
        if (evutil_parse_sockaddr_port(address, (struct sockaddr *)&ss, &sslen) < 0)
                return -EINVAL;
        tcp = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!tcp)
                return -ENOMEM;
        if (bufferevent_socket_connect(tcp, (struct sockaddr *)&ss, sslen) < 0) {
                bufferevent_free(tcp);
                return -ECONNREFUSED;
        }
        if (!use_tls) {
                *ret = tcp;
                return 0;
        }
        r = tls_wrap(t->tls, tcp, TLS_CLIENT, &tls);
        if (r < 0)
                return r;
        *ret = tls;
        return 0;
}

static void on_handshake(struct bufferevent *bev, short what, void *userdata)
{
        struct tool *t = userdata;
        int r;

        if (!(what & BEV_EVENT_CONNECTED)) {
                printf("{\"op\":\"connect\",\"ok\":false,\"error\":");
                const char *e = tls_last_error(bev);
                json_text(e, strlen(e));
                printf("}\n");
                fflush(stdout);
                t->failed = true;
                event_base_loopexit(t->base, NULL);
                return;
        }
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        r = peer_conn_new(t->base, bev, &client_handlers, t, &t->conn);
        if (r < 0) {
                t->failed = true;
                event_base_loopexit(t->base, NULL);
                return;
        }
        next_step(t);
}

static int tool_setup(struct tool *t, const char *seed_hex)
{
        uint8_t seed[IDENTITY_SEED_SIZE];

        if (parse_seed(seed_hex, seed) < 0) {
                fprintf(stderr, "peer-client-tool: SEED is 64 hex digits\n");
                return -EINVAL;
        }
        if (identity_new(seed, &t->identity) < 0 || tls_config_new(t->identity, &t->tls) < 0)
                return -EIO;
        t->base = event_base_new();
        t->timer = t->base ? evtimer_new(t->base, on_timer, t) : NULL;
        return t->timer ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
        struct tool t = { 0 };

        signal(SIGPIPE, SIG_IGN);
        if (argc == 3 && !strcmp(argv[1], "id")) {
                uint8_t seed[IDENTITY_SEED_SIZE], id[IDENTITY_ID_SIZE];
                char *pretty = NULL;
                if (parse_seed(argv[2], seed) < 0 || identity_new(seed, &t.identity) < 0 ||
                    identity_node_id(t.identity, id) < 0 || identity_format_id(id, &pretty) < 0)
                        return 1;
                printf("%s\n", pretty);
                free(pretty);
                identity_free(t.identity);
                return 0;
        }
        if (argc >= 4 && !strcmp(argv[1], "run")) {
                struct bufferevent *bev;
                if (tool_setup(&t, argv[2]) < 0 || connect_bev(&t, argv[3], true, &bev) < 0)
                        return 1;
                t.steps = argv + 4;
                t.n_steps = argc - 4;
                bufferevent_setcb(bev, NULL, NULL, on_handshake, &t);
                struct timeval deadline = { 15, 0 };
                bufferevent_set_timeouts(bev, &deadline, &deadline);
                event_base_dispatch(t.base);
                peer_conn_free(t.conn);
                event_free(t.timer);
                event_base_free(t.base);
                tls_config_free(t.tls);
                identity_free(t.identity);
                return t.failed ? 1 : 0;
        }
        if (argc == 7 && !strcmp(argv[1], "raw")) {
                static const char *const names[] = { "", "garbage", "stall", "bigframe", "loris", "tlsgarbage" };
                enum raw_mode mode = RAW_NONE;
                int count = atoi(argv[5]);
                double seconds = atof(argv[6]);
                for (int m = 1; m < 6; m++)
                        if (!strcmp(argv[2], names[m]))
                                mode = (enum raw_mode)m;
                if (mode == RAW_NONE || count < 1 || count > 1000 || tool_setup(&t, argv[3]) < 0)
                        return 2;
                struct raw_conn *rcs = calloc((size_t)count, sizeof(*rcs));
                struct timeval limit = { (time_t)seconds, 0 };
                int64_t start = mono_ms();
                bool use_tls = mode == RAW_BIGFRAME || mode == RAW_LORIS;
                for (int i = 0; i < count; i++) {
                        struct raw_conn *rc = &rcs[i];
                        rc->t = &t;
                        rc->mode = mode;
                        if (connect_bev(&t, argv[4], use_tls, &rc->bev) < 0) {
                                rc->done = true;
                                continue;
                        }
                        raw_open++;
                        bufferevent_setcb(rc->bev, on_raw_read, NULL, on_raw_event, rc);
                        bufferevent_set_timeouts(rc->bev, &limit, NULL);
                        bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
                }
                if (raw_open)
                        event_base_dispatch(t.base);
                printf("{\"raw\":\"%s\",\"count\":%d,\"closed_by_host\":%u,\"ms\":%" PRId64 "}\n", argv[2], count,
                       raw_closed_by_host, mono_ms() - start);
                for (int i = 0; i < count; i++)
                        if (rcs[i].bev)
                                bufferevent_free(rcs[i].bev);
                free(rcs);
                event_free(t.timer);
                event_base_free(t.base);
                tls_config_free(t.tls);
                identity_free(t.identity);
                return raw_closed_by_host == (unsigned)count ? 0 : 1;
        }
        fprintf(stderr, "usage: peer-client-tool id SEED | run SEED HOST:PORT STEP... | raw MODE SEED HOST:PORT COUNT "
                        "SECONDS\n");
        return 2;
}
