/* SPDX-License-Identifier: MIT */
/* The peer listener (see peer-server.h): accept, TLS server handshake with a
 * deadline, pin the presented node id against the peers table, then either a
 * hosting session (peer-host.c) or a refusal that records the node as
 * pending and answers its HELLO with DENIED, so that its owner learns this
 * host keeps nothing for it. Connections are counted and bounded here; closed ones are freed
 * from a deferred event, never inside their own callbacks. Refusals are
 * logged, at most PEER_SERVER_LOG_BURST a minute (a flood is summed up). */
#include "peer-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "cleanup.h"
#include "daemon.h"
#include "frame.h"
#include "identity.h"
#include "index.h"
#include "listener-pause.h"
#include "log.h"
#include "msg.h"
#include "peer-host.h"
#include "peer.h"
#include "tls.h"

/* Refusals logged per minute; the rest are counted and summed up. */
#define PEER_SERVER_LOG_BURST 20
#define PEER_SERVER_ADDRESS_MAX (INET6_ADDRSTRLEN + 16)
/* The largest HELLO a refused node may send to get its DENIED. */
#define PEER_SERVER_REFUSED_BODY_MAX 4096

struct server_conn {
        struct peer_server *server;
        struct bufferevent *bev;           /* the TLS bufferevent while handshaking */
        struct peer_host_session *session; /* once the peer is admitted */
        uint8_t id[IDENTITY_ID_SIZE];
        bool closed;                       /* waiting for the reaper */
        bool answered;                     /* a refused node's HELLO got its DENIED */
        char *refusal;                     /* what a refused node is told */
        struct event *refusal_deadline;    /* ... and until when it may stay */
        char address[PEER_SERVER_ADDRESS_MAX];
        struct server_conn *next;
};

struct peer_server {
        struct daemon *daemon;
        struct tls_config *tls;
        struct evconnlistener *listener;
        struct event *reaper;   /* frees closed connections */
        struct listener_pause *pause; /* after an accept error */
        struct server_conn *conns;
        unsigned n_conns;
        int64_t log_minute;     /* minute of the current log budget */
        unsigned logged, unlogged;
};

/* Log a refusal unless this minute's budget is spent. */
static void server_refusal(struct peer_server *s, const char *pretty, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void server_refusal(struct peer_server *s, const char *pretty, const char *fmt, ...)
{
        int64_t minute = monotonic_ns() / (60 * INT64_C(1000000000));
        char text[512];
        va_list ap;

        if (minute != s->log_minute) {
                if (s->unlogged)
                        log_event(LOG_NOTICE, MSGID_PEER_REFUSED, NULL,
                                  "%u more peer connections were refused in the last minute without a log line",
                                  s->unlogged);
                s->log_minute = minute;
                s->logged = s->unlogged = 0;
        }
        if (s->logged >= PEER_SERVER_LOG_BURST) {
                s->unlogged++;
                return;
        }
        s->logged++;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        log_event(LOG_NOTICE, MSGID_PEER_REFUSED, pretty ? LOG_FIELDS(LOG_PEER(pretty)) : NULL, "%s", text);
}

/* Mark c closed and let the reaper free it (we may be inside its callbacks). */
static void conn_close(struct server_conn *c)
{
        if (c->closed)
                return;
        c->closed = true;
        if (c->bev)
                bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        event_active(c->server->reaper, EV_TIMEOUT, 0);
}

static void conn_free(struct server_conn *c)
{
        struct peer_server *s = c->server;

        for (struct server_conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        s->n_conns--;
        peer_host_session_free(c->session);
        if (c->bev)
                bufferevent_free(c->bev);
        free(c->refusal);
        if (c->refusal_deadline)
                event_free(c->refusal_deadline);
        free(c);
}

static void on_reap(evutil_socket_t fd, short what, void *userdata)
{
        struct peer_server *s = userdata;
        struct server_conn *c = s->conns, *next;

        (void)fd, (void)what;
        for (; c; c = next) {
                next = c->next;
                if (c->closed)
                        conn_free(c);
        }
}

static void on_session_closed(struct peer_host_session *session, int err, const char *why, void *userdata)
{
        struct server_conn *c = userdata;

        (void)session, (void)err, (void)why; /* peer-host logged it */
        conn_close(c);
}

/* Open hosting sessions of node id. */
static unsigned server_sessions_of(const struct peer_server *s, const uint8_t id[IDENTITY_ID_SIZE])
{
        unsigned n = 0;

        for (const struct server_conn *c = s->conns; c; c = c->next)
                if (c->session && !c->closed && !memcmp(c->id, id, IDENTITY_ID_SIZE))
                        n++;
        return n;
}

/* ---- a refused node's HELLO ------------------------------------------------------ */

/* Its HELLO (one frame of at most PEER_SERVER_REFUSED_BODY_MAX bytes) gets
 * DENIED with c->refusal; anything else closes the connection. The node's
 * owner closes once it has the answer; PEER_SERVER_HANDSHAKE_TIMEOUT after
 * the handshake, the connection closes anyway. */
static void on_refused_read(struct bufferevent *bev, void *userdata)
{
        struct server_conn *c = userdata;
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t avail = evbuffer_get_length(in), body_len = 0;
        _cleanup_(msg_freep) struct msg *req = NULL;
        _cleanup_(msg_freep) struct msg *m = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_len = 0;
        const uint8_t *buf;
        int r;

        if (c->answered || c->closed) {
                evbuffer_drain(in, avail);
                return;
        }
        buf = evbuffer_pullup(in, (ev_ssize_t)MIN(avail, (size_t)FRAME_HEADER_SIZE + PEER_SERVER_REFUSED_BODY_MAX));
        r = frame_peek(buf, avail, PEER_SERVER_REFUSED_BODY_MAX, &body_len);
        if (r == 0)
                return; /* more to come */
        if (r > 0)
                r = msg_decode(&peer_schema, buf + FRAME_HEADER_SIZE, body_len, &req, NULL);
        if (r < 0 || !req || msg_type(req) != PEER_TYPE_HELLO || msg_kind(req) != MSG_KIND_REQUEST) {
                conn_close(c);
                return;
        }
        m = peer_msg_error(msg_reqid(req), PEER_STATUS_DENIED, c->refusal);
        if (!m || msg_encode(m, &out, &out_len) < 0 || bufferevent_write(bev, out, out_len) < 0) {
                conn_close(c);
                return;
        }
        c->answered = true;
        evbuffer_drain(in, avail);
}

static void on_refused_event(struct bufferevent *bev, short what, void *userdata)
{
        (void)bev, (void)what; /* EOF (the owner read its answer), an error or the timeout */
        conn_close(userdata);
}

static void on_refused_deadline(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd, (void)what; /* a node that trickles its HELLO, or never reads the answer */
        conn_close(userdata);
}

/* Refuse c's node: log it, then answer its HELLO with DENIED and why. */
static void conn_refuse(struct server_conn *c, const char *pretty)
{
        struct daemon *d = c->server->daemon;

        /* no name of this host: the node may be anyone's */
        if (asprintf(&c->refusal, "node %s is not a peer of this host (never approved here, or removed)",
                     pretty) < 0) {
                c->refusal = NULL;
                conn_close(c);
                return;
        }
        struct timeval deadline = { PEER_SERVER_HANDSHAKE_TIMEOUT, 0 };
        c->refusal_deadline = evtimer_new(d->base, on_refused_deadline, c);
        if (!c->refusal_deadline || evtimer_add(c->refusal_deadline, &deadline) < 0) {
                conn_close(c);
                return;
        }
        bufferevent_setcb(c->bev, on_refused_read, NULL, on_refused_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
                on_refused_read(c->bev, c);
}

/* The handshake is done: admit an approved peer, refuse anyone else. */
static void conn_handshake_done(struct server_conn *c)
{
        struct peer_server *s = c->server;
        struct daemon *d = s->daemon;
        _cleanup_free_ char *pretty = NULL;
        struct index_peer p;
        struct oid id;
        int r;

        r = tls_peer_id(c->bev, c->id);
        if (r < 0) {
                server_refusal(s, NULL, "Refused peer connection from %s: no usable certificate", c->address);
                conn_close(c);
                return;
        }
        memcpy(id.bytes, c->id, OID_SIZE);
        if (identity_format_id(c->id, &pretty) < 0) {
                log_oom();
                conn_close(c);
                return;
        }
        if (!memcmp(c->id, d->node_id, sizeof(d->node_id))) {
                server_refusal(s, pretty, "Refused node %s from %s: that is this node's own id", pretty, c->address);
                conn_close(c);
                return;
        }
        r = index_peer_get(d->index, &id, &p);
        if (r < 0 && r != -ENOENT) {
                /* not a refusal: the node may well be a peer */
                log_warning_errno(r, "Cannot look node %s up in the peers table, closing its connection", pretty);
                conn_close(c);
                return;
        }
        if (r < 0 || !p.approved) {
                if (r >= 0)
                        index_peer_done(&p);
                r = index_peer_pending(d->index, &id, c->address, now_ns());
                if (r < 0)
                        log_warning_errno(r, "Cannot record pending node %s, ignoring", pretty);
                server_refusal(s, pretty, "Refused node %s from %s: not approved (chutectl peer approve %s)", pretty,
                               c->address, pretty);
                conn_refuse(c, pretty);
                return;
        }
        if (server_sessions_of(s, c->id) >= PEER_SERVER_MAX_PER_PEER) {
                server_refusal(s, pretty, "Refused peer %s (%s) from %s: %u connections of it are open already",
                               p.name, pretty, c->address, PEER_SERVER_MAX_PER_PEER);
                index_peer_done(&p);
                conn_close(c);
                return;
        }
        r = index_peer_touch(d->index, &id, now_ns(), c->address);
        if (r < 0)
                log_debug_errno(r, "Cannot stamp peer %s as seen", pretty);
        log_event(LOG_INFO, MSGID_PEER_CONNECTED, LOG_FIELDS(LOG_PEER(pretty)), "Peer %s (%s) connected from %s, %s",
                  p.name, pretty, c->address, tls_ciphersuite(c->bev) ?: "TLS");
        index_peer_done(&p);
        /* the session owns the bufferevent and sets its own timeouts */
        struct bufferevent *bev = c->bev;
        c->bev = NULL;
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        bufferevent_set_timeouts(bev, NULL, NULL);
        r = peer_host_session_new(d->peer_host, bev, c->id, c->address, on_session_closed, c, &c->session);
        if (r < 0)
                conn_close(c);
}

static void on_handshake_event(struct bufferevent *bev, short what, void *userdata)
{
        struct server_conn *c = userdata;

        if (what & BEV_EVENT_CONNECTED) {
                conn_handshake_done(c);
                return;
        }
        if (what & BEV_EVENT_TIMEOUT)
                server_refusal(c->server, NULL, "Closed peer connection from %s: no TLS handshake within %d s",
                               c->address, PEER_SERVER_HANDSHAKE_TIMEOUT);
        else if (what & BEV_EVENT_ERROR)
                server_refusal(c->server, NULL, "Closed peer connection from %s: TLS handshake failed: %s", c->address,
                               tls_last_error(bev) ?: "error");
        else
                server_refusal(c->server, NULL, "Peer connection from %s closed during the TLS handshake", c->address);
        conn_close(c);
}

static void format_address(const struct sockaddr *sa, char buf[PEER_SERVER_ADDRESS_MAX])
{
        char host[INET6_ADDRSTRLEN] = "?";

        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
                snprintf(buf, PEER_SERVER_ADDRESS_MAX, "%s:%u", host, ntohs(in->sin_port));
        } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
                snprintf(buf, PEER_SERVER_ADDRESS_MAX, "[%s]:%u", host, ntohs(in6->sin6_port));
        } else
                snprintf(buf, PEER_SERVER_ADDRESS_MAX, "?");
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                      void *userdata)
{
        struct peer_server *s = userdata;
        struct bufferevent *tcp, *tls = NULL;
        char address[PEER_SERVER_ADDRESS_MAX];
        struct timeval deadline = { PEER_SERVER_HANDSHAKE_TIMEOUT, 0 };
        struct server_conn *c;
        int r;

        (void)listener, (void)socklen;
        format_address(sa, address);
        if (s->n_conns >= PEER_SERVER_MAX_CONNECTIONS) {
                server_refusal(s, NULL, "Refused peer connection from %s: %u connections are open already", address,
                               PEER_SERVER_MAX_CONNECTIONS);
                evutil_closesocket(fd);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                evutil_closesocket(fd);
                log_oom();
                return;
        }
        memcpy(c->address, address, sizeof(address));
        c->server = s;
        evutil_make_socket_nonblocking(fd);
        tcp = bufferevent_socket_new(s->daemon->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!tcp) {
                evutil_closesocket(fd);
                free(c);
                log_oom();
                return;
        }
        r = tls_wrap(s->tls, tcp, TLS_SERVER, &tls);
        if (r < 0) {
                log_warning_errno(r, "Cannot set up TLS for the peer connection from %s", address);
                free(c);
                return;
        }
        c->bev = tls;
        c->next = s->conns;
        s->conns = c;
        s->n_conns++;
        bufferevent_setcb(tls, NULL, NULL, on_handshake_event, c);
        bufferevent_set_timeouts(tls, &deadline, &deadline);
        bufferevent_enable(tls, EV_READ | EV_WRITE);
        log_debug("Peer connection from %s, TLS handshake", address);
}

int peer_server_new(struct daemon *d, struct peer_server **ret)
{
        struct sockaddr_storage ss;
        int sslen = sizeof(ss), r;
        struct peer_server *s;

        *ret = NULL;
        if (!d->config.peer_listen)
                return 0;
        memset(&ss, 0, sizeof(ss));
        if (evutil_parse_sockaddr_port(d->config.peer_listen, (struct sockaddr *)&ss, &sslen) < 0)
                return log_error_errno(-EINVAL, "Cannot listen for peers on %s: not an ADDRESS:PORT",
                                       d->config.peer_listen);
        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->daemon = d;
        s->reaper = event_new(d->base, -1, 0, on_reap, s);
        if (!s->reaper) {
                peer_server_free(s);
                return log_oom();
        }
        r = tls_config_new(d->identity, &s->tls);
        if (r < 0) {
                peer_server_free(s);
                return log_error_errno(r, "Cannot set up TLS for the peer listener");
        }
        s->listener = evconnlistener_new_bind(d->base, on_accept, s,
                                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                              (struct sockaddr *)&ss, sslen);
        if (!s->listener) {
                r = -errno ?: -EADDRNOTAVAIL;
                peer_server_free(s);
                return log_error_errno(r, "Cannot listen for peers on %s ([peer] listen in chuted.conf; none "
                                          "to host nobody)",
                                       d->config.peer_listen);
        }
        r = listener_pause_new(d->base, s->listener, "peer", &s->pause);
        if (r < 0) {
                peer_server_free(s);
                return log_oom();
        }
        log_info("Listening for peers on %s", d->config.peer_listen);
        *ret = s;
        return 0;
}

void peer_server_free(struct peer_server *s)
{
        if (!s)
                return;
        listener_pause_free(s->pause);
        if (s->listener)
                evconnlistener_free(s->listener);
        while (s->conns)
                conn_free(s->conns);
        if (s->reaper)
                event_free(s->reaper);
        tls_config_free(s->tls);
        free(s);
}

void peer_server_forget(struct peer_server *s, const uint8_t id[32])
{
        if (!s)
                return;
        for (struct server_conn *c = s->conns; c; c = c->next)
                if (c->session && !c->closed && !memcmp(c->id, id, IDENTITY_ID_SIZE)) {
                        log_info("Closing the connection of removed peer from %s", c->address);
                        /* not inside its callbacks: free the session now */
                        peer_host_session_free(c->session);
                        c->session = NULL;
                        conn_close(c);
                }
}

bool peer_server_connected(const struct peer_server *s, const uint8_t id[32])
{
        return s && server_sessions_of(s, id) > 0;
}

unsigned peer_server_count(const struct peer_server *s)
{
        return s ? s->n_conns : 0;
}
