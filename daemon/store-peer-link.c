/* SPDX-License-Identifier: MIT */
/* The peer store's connection, on the loop thread: dial the address, wrap
 * the socket in TLS, refuse a host whose certificate is not the pinned node
 * id, HELLO, then send the calls store threads post; redial with backoff
 * and jitter (1 s doubling to 5 min) after a failure, and ask for the usage
 * now and then. The TLS configuration, resolver and rate-limit group (the
 * global limits) are shared by every peer store of the daemon; the store's
 * own limits are a token bucket on its connection's socket. */
#include "store-peer-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "identity.h"
#include "index.h"
#include "log.h"
#include "peer-conn.h"
#include "tls.h"

#define DIAL_TIMEOUT_S 20

/* ---- the shared transport ------------------------------------------------ */

struct store_peer_transport {
        unsigned refs;
        struct tls_config *tls;
        struct evdns_base *dns;
        struct ev_token_bucket_cfg *rate_cfg;
        struct bufferevent_rate_limit_group *rate; /* NULL: no limits */
};

static struct store_peer_transport *shared_transport; /* loop thread only */

static void transport_unref(struct store_peer_transport *t)
{
        if (!t || --t->refs > 0)
                return;
        if (t->rate)
                bufferevent_rate_limit_group_free(t->rate);
        if (t->rate_cfg)
                ev_token_bucket_cfg_free(t->rate_cfg);
        if (t->dns)
                evdns_base_free(t->dns, 1);
        tls_config_free(t->tls);
        if (shared_transport == t)
                shared_transport = NULL;
        free(t);
}

static size_t rate_of(uint64_t limit)
{
        return limit == 0 || limit > EV_RATE_LIMIT_MAX ? EV_RATE_LIMIT_MAX : (size_t)limit;
}

static int transport_get(struct daemon *d, struct store_peer_transport **ret)
{
        struct store_peer_transport *t = shared_transport;
        int r;

        if (t) {
                t->refs++;
                *ret = t;
                return 0;
        }
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->refs = 1;
        r = tls_config_new(d->identity, &t->tls);
        if (r < 0) {
                free(t);
                return log_error_errno(r, "Cannot set up TLS for the peer stores");
        }
        /* names resolve without blocking the loop; without a resolver
         * configuration libevent resolves them blocking, as a fallback */
        t->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (t->dns)
                evdns_base_load_hosts(t->dns, NULL);
        if (d->config.upload_limit || d->config.download_limit) {
                size_t rd = rate_of(d->config.download_limit), wr = rate_of(d->config.upload_limit);
                t->rate_cfg = ev_token_bucket_cfg_new(rd, rd, wr, wr, NULL);
                t->rate = t->rate_cfg ? bufferevent_rate_limit_group_new(d->base, t->rate_cfg) : NULL;
                if (!t->rate) {
                        transport_unref(t);
                        return -ENOMEM;
                }
        }
        shared_transport = t;
        *ret = t;
        return 0;
}

/* A connection leaves the upload/download rate-limit group and drops the
 * store's own limit when it is freed, not when libevent finalizes it later:
 * the group may be freed before that (at shutdown), and libevent asserts
 * that a group it frees has no members; the store's token bucket
 * configuration is freed when the limits change, and libevent does not
 * count who uses it. */
static void link_unlimit(struct bufferevent *bev)
{
        for (struct bufferevent *b = bev; b; b = bufferevent_get_underlying(b)) {
                bufferevent_remove_from_rate_limit_group(b);
                bufferevent_set_rate_limit(b, NULL);
        }
}

static void link_free_bev(struct bufferevent *bev)
{
        if (!bev)
                return;
        link_unlimit(bev);
        bufferevent_free(bev);
}

static void link_free_conn(struct peer_conn *c)
{
        if (!c)
                return;
        link_unlimit(peer_conn_bufferevent(c));
        peer_conn_free(c);
}

/* ---- the store's own limits ----------------------------------------------------- */

#define LIMIT_TICK_MS 100 /* refills ten times a second: smoother than once */

/* The socket under the connection's TLS filter (NULL: not connected). */
static struct bufferevent *link_socket(struct store_peer *p)
{
        struct bufferevent *b = p->conn ? peer_conn_bufferevent(p->conn) : NULL;

        while (b && bufferevent_get_underlying(b))
                b = bufferevent_get_underlying(b);
        return b;
}

static size_t limit_per_tick(uint64_t limit)
{
        uint64_t n = limit / (1000 / LIMIT_TICK_MS);

        if (limit == 0 || n > EV_RATE_LIMIT_MAX)
                return EV_RATE_LIMIT_MAX;
        return n > 0 ? (size_t)n : 1;
}

/* The window for the upload limit: about STORE_PEER_LIMIT_WINDOW_S seconds
 * of it, at least one range, at most the configured window. */
static size_t limit_window(size_t window, uint64_t upload)
{
        if (upload == 0 || upload > window / STORE_PEER_LIMIT_WINDOW_S)
                return window;
        size_t w = (size_t)upload * STORE_PEER_LIMIT_WINDOW_S;

        return w > STORE_PEER_RANGE ? w : STORE_PEER_RANGE;
}

/* Put the store's limits on the connection's socket, if it has one. */
static int link_apply_limits(struct store_peer *p)
{
        struct bufferevent *sock = link_socket(p);

        if (p->conn)
                peer_conn_set_window(p->conn, p->window);
        if (sock && bufferevent_set_rate_limit(sock, p->limit_cfg) < 0)
                return -ENOMEM;
        return 0;
}

int store_peer_set_limits(struct store *s, uint64_t upload, uint64_t download)
{
        struct store_peer *p = (struct store_peer *)s;
        struct timeval tick = { .tv_usec = LIMIT_TICK_MS * 1000 };
        struct ev_token_bucket_cfg *cfg = NULL, *old = p->limit_cfg;

        if ((upload && upload < STORE_PEER_LIMIT_MIN) || (download && download < STORE_PEER_LIMIT_MIN) ||
            upload > INT64_MAX || download > INT64_MAX)
                return -EINVAL;
        if (upload || download) {
                size_t rd = limit_per_tick(download), wr = limit_per_tick(upload);
                cfg = ev_token_bucket_cfg_new(rd, rd, wr, wr, &tick);
                if (!cfg)
                        return -ENOMEM;
        }
        pthread_mutex_lock(&p->lock);
        p->window = limit_window(p->window_config, upload);
        pthread_cond_broadcast(&p->cond); /* a larger window lets waiting ranges go */
        pthread_mutex_unlock(&p->lock);
        p->limit_cfg = cfg;
        p->upload_limit = upload;
        p->download_limit = download;
        int r = link_apply_limits(p); /* the socket no longer uses old */
        if (old)
                ev_token_bucket_cfg_free(old);
        if (r < 0)
                return r;
        log_debug("Store %s: upload limit %llu B/s, download limit %llu B/s (0 = none), window %zu", p->name,
                  (unsigned long long)upload, (unsigned long long)download, p->window);
        return 0;
}

/* The limits of the store's row, when the daemon has an index. */
static void link_load_limits(struct store_peer *p)
{
        struct index_store row;
        int r;

        if (!p->d->index || index_store_find(p->d->index, p->name, &row) < 0)
                return;
        if (row.upload_limit || row.download_limit) {
                r = store_peer_set_limits(&p->base, row.upload_limit, row.download_limit);
                if (r < 0)
                        log_warning_errno(r, "Store %s: cannot set its rate limits (upload %llu, download %llu "
                                          "bytes/s), going without them",
                                          p->name, (unsigned long long)row.upload_limit,
                                          (unsigned long long)row.download_limit);
        }
        index_store_done(&row);
}

/* ---- state changes ------------------------------------------------------------- */

static void link_dial(struct store_peer *p);

static void set_error(struct store_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct store_peer *p, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        pthread_mutex_lock(&p->lock); /* store threads read it (peer_explain) */
        vsnprintf(p->error, sizeof(p->error), fmt, ap);
        pthread_mutex_unlock(&p->lock);
        va_end(ap);
}

/* Fail every call waiting for the connection with err. */
static void fail_waiting(struct store_peer *p, int err)
{
        struct store_peer_call *call = p->waiting;

        p->waiting = NULL;
        p->waiting_tail = &p->waiting;
        while (call) {
                struct store_peer_call *next = call->next;
                store_peer_call_finish(call, NULL, NULL, err);
                call = next;
        }
}

static uint64_t jitter(uint64_t ns)
{
        uint32_t rnd = 0;

        crypto_random(&rnd, sizeof(rnd));
        /* between half and all of it, so peers that fell together do not redial together */
        return ns / 2 + (uint64_t)((double)(ns / 2) * (rnd / 4294967296.0));
}

/* The dial or the connection failed (p->error says why): waiting calls fail
 * with -ENOTCONN and a redial is scheduled. */
static void link_failed(struct store_peer *p)
{
        uint64_t wait = jitter(p->backoff_ns);
        struct timeval tv = { .tv_sec = (time_t)(wait / 1000000000),
                              .tv_usec = (suseconds_t)(wait % 1000000000 / 1000) };

        p->state = STORE_PEER_DOWN;
        if (p->usage_timer)
                evtimer_del(p->usage_timer);
        p->usage_pending = false;
        log_full(p->failing ? LOG_DEBUG : LOG_WARNING, "Store %s: %s; trying again in %.1f s", p->name,
                 p->error, wait / 1e9);
        p->failing = true;
        fail_waiting(p, -ENOTCONN);
        p->backoff_ns = p->backoff_ns * 2 > STORE_PEER_BACKOFF_MAX_NS ? STORE_PEER_BACKOFF_MAX_NS
                                                                      : p->backoff_ns * 2;
        if (!p->closing)
                evtimer_add(p->retry_timer, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *userdata)
{
        struct store_peer *p = userdata;

        (void)fd;
        (void)what;
        if (p->state == STORE_PEER_DOWN && !p->closing)
                link_dial(p);
}

/* ---- calls --------------------------------------------------------------------- */

static void on_data_free(const void *data, size_t len, void *arg)
{
        free((void *)data);
        store_peer_budget_release(arg, len);
}

static void on_call_done(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        store_peer_call_finish(userdata, reply, payload, err);
}

static void call_send(struct store_peer *p, struct store_peer_call *call)
{
        int r = peer_conn_request(p->conn, call->req, call->has_data ? (call->data ? call->data : "") : NULL,
                                  call->data_len, call->has_data ? on_data_free : NULL, p, on_call_done, call);
        if (r < 0) {
                store_peer_call_finish(call, NULL, NULL, r); /* frees req and data */
                return;
        }
        msg_free(call->req);
        call->req = NULL;
        call->data = NULL; /* the connection's until on_data_free */
}

void store_peer_link_submit(void *userdata)
{
        struct store_peer_call *call = userdata;
        struct store_peer *p = call->p;

        if (p->closing) {
                store_peer_call_finish(call, NULL, NULL, -ECANCELED);
                return;
        }
        switch (p->state) {
        case STORE_PEER_UP:
                call_send(p, call);
                return;
        case STORE_PEER_DOWN:
                if (evtimer_pending(p->retry_timer, NULL)) {
                        store_peer_call_finish(call, NULL, NULL, -ENOTCONN); /* backing off */
                        return;
                }
                break;
        default:
                break;
        }
        call->next = NULL;
        *p->waiting_tail = call;
        p->waiting_tail = &call->next;
        if (p->state == STORE_PEER_DOWN)
                link_dial(p);
}

/* ---- usage ------------------------------------------------------------------------ */

static void usage_update(struct store_peer *p, struct msg *reply)
{
        struct msg_map body = msg_body(reply);
        uint64_t used, quota, delay;

        if (msg_map_get_uint(&body, PEER_KEY_USED, &used) < 0 || msg_map_get_uint(&body, PEER_KEY_QUOTA, &quota) < 0)
                return;
        p->used = used;
        p->quota = quota;
        p->have_usage = true;
        if (msg_map_get_uint(&body, PEER_KEY_DELETE_DELAY, &delay) >= 0)
                p->delete_delay_s = delay;
        if (p->events && p->events->usage)
                p->events->usage(p->events_userdata, used, quota);
}

static void on_usage(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        struct store_peer *p = userdata;

        (void)payload;
        p->usage_pending = false;
        if (err >= 0 && reply && !p->closing)
                usage_update(p, reply);
        else if (err < 0)
                log_debug("Store %s: USAGE failed: %s", p->name, strerror(-err));
        msg_free(reply);
}

void store_peer_refresh_usage(struct store *s)
{
        struct store_peer *p = (struct store_peer *)s;
        struct msg *req;

        if (p->state != STORE_PEER_UP || p->usage_pending)
                return;
        req = peer_msg_new(PEER_TYPE_USAGE, 0);
        if (req && peer_conn_request(p->conn, req, NULL, 0, NULL, NULL, on_usage, p) >= 0)
                p->usage_pending = true;
        msg_free(req);
}

static void on_usage_timer(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        store_peer_refresh_usage(userdata);
}

/* ---- the connection ---------------------------------------------------------------- */

static void on_conn_closed(struct peer_conn *c, int err, const char *why, void *userdata)
{
        struct store_peer *p = userdata;

        (void)err;
        link_free_conn(c);
        p->conn = NULL;
        if (p->closing)
                return;
        set_error(p, "connection to %s lost: %s", p->address, why);
        p->failing = false; /* it was up: say so once */
        link_failed(p);
}

static void on_hello(struct msg *reply, struct peer_payload *payload, int err, void *userdata)
{
        _cleanup_(msg_freep) struct msg *m = reply;
        struct store_peer *p = userdata;
        struct timeval tv = { .tv_sec = (time_t)(STORE_PEER_USAGE_INTERVAL_NS / 1000000000) };
        uint64_t version = 0;

        (void)payload;
        if (p->closing || p->state != STORE_PEER_HELLO)
                return;
        if (err < 0) {
                const char *text = NULL;
                size_t len = 0;
                struct msg_map body = m ? msg_body(m) : (struct msg_map){ 0 };
                if (m)
                        msg_map_get_text(&body, PEER_KEY_MESSAGE, &text, &len);
                set_error(p, "%s at %s refused our HELLO: %.*s", p->name, p->address, text ? (int)len : 0,
                          text ? text : strerror(-err));
                struct peer_conn *c = TAKE_PTR(p->conn);
                link_free_conn(c);
                link_failed(p);
                /* DENIED: that host does not have this node as a peer */
                if (err == -EACCES && p->events && p->events->refused)
                        p->events->refused(p->events_userdata, p->error);
                return;
        }
        struct msg_map body = msg_body(m);
        msg_map_get_uint(&body, PEER_KEY_PROTOCOL_MAX, &version);
        p->state = STORE_PEER_UP;
        p->backoff_ns = STORE_PEER_BACKOFF_MIN_NS;
        p->failing = false;
        pthread_mutex_lock(&p->lock);
        p->error[0] = '\0';
        pthread_mutex_unlock(&p->lock);
        log_event(LOG_INFO, MSGID_STORE_CONNECTED, LOG_FIELDS(LOG_STORE(p->name), LOG_PEER(p->id_text)),
                  "Store %s: connected to %s (%s), protocol %llu, %s", p->name, p->address, p->id_text,
                  (unsigned long long)version, tls_ciphersuite(peer_conn_bufferevent(p->conn)) ?: "?");
        usage_update(p, m);
        evtimer_add(p->usage_timer, &tv);
        /* every call that waited goes out now, in order */
        struct store_peer_call *call = p->waiting;
        p->waiting = NULL;
        p->waiting_tail = &p->waiting;
        while (call) {
                struct store_peer_call *next = call->next;
                if (p->state == STORE_PEER_UP)
                        call_send(p, call);
                else
                        store_peer_call_finish(call, NULL, NULL, -ENOTCONN);
                call = next;
        }
        if (p->state == STORE_PEER_UP && p->events && p->events->connected)
                p->events->connected(p->events_userdata);
}

static int send_hello(struct store_peer *p)
{
        struct msg *req = peer_msg_new(PEER_TYPE_HELLO, 0);
        char host[256] = "";
        int r = -ENOMEM;

        if (!req)
                return r;
        if (gethostname(host, sizeof(host) - 1) < 0)
                snprintf(host, sizeof(host), "chute");
        struct msg_map body = msg_body(req);
        if (msg_map_set_uint(&body, PEER_KEY_PROTOCOL_MIN, PEER_PROTOCOL_VERSION_MIN) >= 0 &&
            msg_map_set_uint(&body, PEER_KEY_PROTOCOL_MAX, PEER_PROTOCOL_VERSION) >= 0 &&
            msg_map_set_text(&body, PEER_KEY_NAME, p->d->config.node_name ? p->d->config.node_name : host) >= 0 &&
            msg_map_set_text(&body, PEER_KEY_VERSION, PACKAGE_VERSION) >= 0 &&
            msg_map_set_uint(&body, PEER_KEY_MAX_FRAME, PEER_MAX_BODY) >= 0)
                r = peer_conn_request(p->conn, req, NULL, 0, NULL, NULL, on_hello, p);
        msg_free(req);
        return r;
}

static void on_tls_event(struct bufferevent *bev, short events, void *userdata)
{
        static const struct peer_conn_handlers handlers = { .request = NULL, .closed = on_conn_closed };
        struct store_peer *p = userdata;
        uint8_t id[TLS_PEER_ID_SIZE];
        int r;

        if (!(events & BEV_EVENT_CONNECTED)) {
                set_error(p, "TLS with %s failed: %s", p->address, tls_last_error(bev));
                link_free_bev(bev);
                p->dial_bev = NULL;
                link_failed(p);
                return;
        }
        p->dial_bev = NULL;
        r = tls_peer_id(bev, id);
        if (r < 0 || memcmp(id, p->node_id, sizeof(id)) != 0) {
                _cleanup_free_ char *other = NULL;
                identity_format_id(id, &other);
                log_event(LOG_WARNING, MSGID_STORE_REFUSED, LOG_FIELDS(LOG_STORE(p->name), LOG_PEER(other)),
                          "%s at %s presented another certificate (id %s), refusing", p->name, p->address,
                          r < 0 ? "unknown" : other ? other : "?");
                set_error(p, "%s at %s presented another certificate (id %s), refusing", p->name, p->address,
                          r < 0 ? "unknown" : other ? other : "?");
                link_free_bev(bev);
                p->failing = true; /* logged above */
                link_failed(p);
                return;
        }
        r = peer_conn_new(p->ev_base, bev, &handlers, p, &p->conn); /* owns bev now */
        if (r >= 0)
                r = link_apply_limits(p); /* every way the conn is freed drops them (link_free_conn) */
        if (r >= 0) {
                p->state = STORE_PEER_HELLO;
                r = send_hello(p);
        }
        if (r < 0) {
                set_error(p, "cannot start the peer protocol with %s: %s", p->address, strerror(-r));
                struct peer_conn *c = TAKE_PTR(p->conn);
                link_free_conn(c);
                link_failed(p);
        }
}

static void on_dial_event(struct bufferevent *bev, short events, void *userdata)
{
        struct store_peer *p = userdata;
        struct bufferevent *tls_bev = NULL;
        struct timeval tv = { .tv_sec = DIAL_TIMEOUT_S };
        int r;

        if (!(events & BEV_EVENT_CONNECTED)) {
                int dns = bufferevent_socket_get_dns_error(bev);
                int err = EVUTIL_SOCKET_ERROR();
                if (dns)
                        set_error(p, "cannot resolve %s: %s", p->address, evutil_gai_strerror(dns));
                else if (events & BEV_EVENT_TIMEOUT)
                        set_error(p, "cannot connect to %s: timed out", p->address);
                else
                        set_error(p, "cannot connect to %s: %s", p->address, strerror(err ? err : ECONNREFUSED));
                link_free_bev(bev);
                p->dial_bev = NULL;
                link_failed(p);
                return;
        }
        bufferevent_set_timeouts(bev, NULL, NULL);
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        p->dial_bev = NULL;
        r = tls_wrap(p->transport->tls, bev, TLS_CLIENT, &tls_bev); /* takes bev */
        if (r < 0) {
                set_error(p, "cannot start TLS with %s: %s", p->address, strerror(-r));
                link_failed(p);
                return;
        }
        bufferevent_setcb(tls_bev, NULL, NULL, on_tls_event, p);
        bufferevent_set_timeouts(tls_bev, &tv, &tv);
        p->dial_bev = tls_bev;
        p->state = STORE_PEER_HANDSHAKE;
}

/* Split "host:port" or "[v6]:port" into buf (the host) and *ret_port. */
static int split_address(const char *address, char *buf, size_t len, int *ret_port)
{
        const char *colon = strrchr(address, ':');
        const char *host = address;
        size_t host_len;
        char *end;
        long port;

        if (!colon)
                return -EINVAL;
        host_len = (size_t)(colon - address);
        if (host_len >= 2 && address[0] == '[' && address[host_len - 1] == ']') {
                host++;
                host_len -= 2;
        }
        if (host_len == 0 || host_len >= len)
                return -EINVAL;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
                return -EINVAL;
        memcpy(buf, host, host_len);
        buf[host_len] = '\0';
        *ret_port = (int)port;
        return 0;
}

static void link_dial(struct store_peer *p)
{
        struct timeval tv = { .tv_sec = DIAL_TIMEOUT_S };
        struct bufferevent *bev;
        char host[256];
        int port;

        if (split_address(p->address, host, sizeof(host), &port) < 0) {
                set_error(p, "\"%s\" is not an address (HOST:PORT or [IPV6]:PORT)", p->address);
                link_failed(p);
                return;
        }
        bev = bufferevent_socket_new(p->ev_base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
                set_error(p, "cannot dial %s: out of memory", p->address);
                link_failed(p);
                return;
        }
        if (p->transport->rate)
                bufferevent_add_to_rate_limit_group(bev, p->transport->rate);
        bufferevent_setcb(bev, NULL, NULL, on_dial_event, p);
        bufferevent_set_timeouts(bev, &tv, &tv);
        p->state = STORE_PEER_DIALING;
        p->dial_bev = bev;
        log_debug("Store %s: dialling %s", p->name, p->address);
        if (bufferevent_socket_connect_hostname(bev, p->transport->dns, AF_UNSPEC, host, port) < 0 &&
            p->dial_bev == bev) {
                /* refused at once; the event callback (deferred) may not come */
                set_error(p, "cannot connect to %s: %s", p->address, strerror(errno ? errno : ECONNREFUSED));
                link_free_bev(bev);
                p->dial_bev = NULL;
                link_failed(p);
        }
}

/* ---- start and stop ------------------------------------------------------------------- */

int store_peer_link_start(struct store_peer *p)
{
        int r = transport_get(p->d, &p->transport);

        if (r < 0)
                return r;
        p->retry_timer = evtimer_new(p->ev_base, on_retry, p);
        p->usage_timer = event_new(p->ev_base, -1, EV_PERSIST, on_usage_timer, p);
        if (!p->retry_timer || !p->usage_timer)
                return -ENOMEM;
        p->backoff_ns = STORE_PEER_BACKOFF_MIN_NS;
        p->state = STORE_PEER_DOWN;
        link_load_limits(p);
        link_dial(p);
        return 0;
}

void store_peer_link_stop(struct store_peer *p)
{
        struct peer_conn *c = TAKE_PTR(p->conn);

        if (p->dial_bev) {
                link_free_bev(p->dial_bev);
                p->dial_bev = NULL;
        }
        p->state = STORE_PEER_DOWN;
        link_free_conn(c); /* calls in flight finish with -ECONNRESET */
        fail_waiting(p, -ECANCELED);
        if (p->retry_timer)
                evtimer_del(p->retry_timer);
        if (p->usage_timer)
                evtimer_del(p->usage_timer);
}

void store_peer_link_done(struct store_peer *p)
{
        if (p->retry_timer)
                event_free(p->retry_timer);
        if (p->usage_timer)
                event_free(p->usage_timer);
        p->retry_timer = p->usage_timer = NULL;
        transport_unref(p->transport);
        p->transport = NULL;
        if (p->limit_cfg) /* no socket uses it after stop */
                ev_token_bucket_cfg_free(p->limit_cfg);
        p->limit_cfg = NULL;
}
