/* SPDX-License-Identifier: MIT */
/* Control socket server. A connection is admitted on its peer credentials
 * and the connection cap before a byte of it is read (else: one ERROR frame
 * with request id 0, then close); its frames are then decoded strictly and
 * dispatched. Closes idle connections and clients that stop reading their
 * output; a client that vanishes cancels its requests in flight (they see
 * request->gone). Not the commands themselves. */
#include "ctl-server.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl-access.h"
#include "ctl.h"
#include "daemon.h"
#include "frame.h"
#include "listener-pause.h"
#include "log.h"
#include "request.h"

/* A client may have this many requests in flight; more are refused BUSY. */
#define CLIENT_MAX_REQUESTS 16
/* Stop reading a client's requests while this much output waits for it
 * (reading stops: EV_READ is off until the output drains). */
#define CLIENT_OUTPUT_HIGH (4u << 20)

struct client;

/* At most one "connections refused" line per this many ns. */
#define REFUSED_LOG_INTERVAL_NS (10 * INT64_C(1000000000))

struct ctl_server {
        struct daemon *daemon;
        struct evconnlistener *listener;
        struct listener_pause *pause; /* after an accept error */
        char *path;
        uid_t uid;
        gid_t gid;                /* socket_group, resolved at start and reload; -1 = none */
        unsigned max_clients;     /* [daemon] control_max_clients */
        uint64_t idle_timeout_ns; /* [daemon] control_idle_timeout; 0 = never */
        struct client *clients;
        unsigned n_clients;
        uint64_t refused_full;    /* refused at the cap since the last log line */
        int64_t refused_logged_ns;
};

struct client {
        struct ctl_server *server;
        struct bufferevent *bev;
        struct client *prev, *next;
        uid_t uid;
        pid_t pid;
        struct request *requests[CLIENT_MAX_REQUESTS];
        struct event *idle; /* closes the connection when nothing happens */
        int64_t output_progress_ns; /* monotonic: output last consumed, or queued into an empty buffer */
        bool closing; /* close once the output is written */
};

static void client_free(struct client *c)
{
        struct ctl_server *s = c->server;
        for (size_t i = 0; i < CLIENT_MAX_REQUESTS; i++)
                if (c->requests[i]) {
                        struct request *r = c->requests[i];
                        c->requests[i] = NULL;
                        request_cancel(r);
                        request_unref(r);
                }
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        if (c->idle)
                event_free(c->idle);
        bufferevent_free(c->bev);
        free(c);
}

/* evbuffer cleanup of a reply that carries a secret. */
static void client_wipe_free(const void *data, size_t len, void *extra)
{
        (void)extra;
        explicit_bzero((void *)data, len);
        free((void *)data);
}

static bool client_busy(struct client *c)
{
        for (size_t i = 0; i < CLIENT_MAX_REQUESTS; i++)
                if (c->requests[i])
                        return true;
        return evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
}

/* Something happened on c: the idle time starts again. */
static void client_touch(struct client *c)
{
        uint64_t ns = c->server->idle_timeout_ns;
        if (!c->idle)
                return;
        if (ns == 0) {
                event_del(c->idle);
                return;
        }
        struct timeval tv = {(time_t)(ns / 1000000000), (suseconds_t)(ns % 1000000000 / 1000)};
        event_add(c->idle, &tv);
}

/* The output buffer changed: a byte taken by the client, or output queued
 * when none was waiting, is progress (the stall clock starts again). */
static void client_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
        struct client *c = arg;
        (void)buf;
        if (info->n_deleted > 0 || (info->orig_size == 0 && info->n_added > 0))
                c->output_progress_ns = monotonic_ns();
}

static void client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
        struct client *c = arg;
        uint64_t timeout = c->server->idle_timeout_ns;
        size_t pending = evbuffer_get_length(bufferevent_get_output(c->bev));
        (void)fd;
        (void)what;

        /* output waiting that the client does not read: a stalled client,
         * closed once none of it was taken for the idle timeout */
        if (pending > 0 && timeout > 0) {
                int64_t stalled = monotonic_ns() - c->output_progress_ns;
                if (stalled >= (int64_t)timeout) {
                        log_notice("Control client pid %d read none of its %zu bytes of pending output for %llu s, "
                                   "closing", (int)c->pid, pending, (unsigned long long)(timeout / 1000000000));
                        client_free(c);
                        return;
                }
                uint64_t left = timeout - (uint64_t)(stalled > 0 ? stalled : 0);
                struct timeval tv = {(time_t)(left / 1000000000), (suseconds_t)(left % 1000000000 / 1000)};
                event_add(c->idle, &tv);
                return;
        }
        /* a long request or a stream of progress is not idle */
        if (client_busy(c)) {
                client_touch(c);
                return;
        }
        log_debug("Control client pid %d sent no request for %llu s, closing", (int)c->pid,
                  (unsigned long long)(timeout / 1000000000));
        client_free(c);
}

static void client_send_raw(struct client *c, struct msg *m)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        int r = msg_encode(m, &buf, &len);
        bool secret = msg_is_secret(m);
        msg_free(m);
        if (r < 0) {
                log_error_errno(r, "Failed to encode a control reply, dropping client");
                c->closing = true;
                return;
        }
        if (secret) {
                /* no copy in the output buffer: these bytes are wiped once sent */
                if (evbuffer_add_reference(bufferevent_get_output(c->bev), buf, len, client_wipe_free, NULL) == 0) {
                        buf = NULL;
                        return;
                }
                bufferevent_write(c->bev, buf, len);
                explicit_bzero(buf, len);
                return;
        }
        bufferevent_write(c->bev, buf, len);
}

static void request_send_cb(struct request *r, struct msg *m, bool final)
{
        struct client *c = r->frontend;
        client_send_raw(c, m);
        if (final) {
                for (size_t i = 0; i < CLIENT_MAX_REQUESTS; i++)
                        if (c->requests[i] == r) {
                                c->requests[i] = NULL;
                                r->ops = NULL; /* detached; the handler may still hold a ref */
                                r->frontend = NULL;
                                request_unref(r);
                                break;
                        }
                client_touch(c);
        }
}

static size_t request_pending_cb(struct request *r)
{
        struct client *c = r->frontend;
        return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static const struct request_ops client_request_ops = {
        .send = request_send_cb,
        .pending = request_pending_cb,
};

static void client_dispatch(struct client *c, uint8_t *body, size_t len)
{
        struct msg *m = NULL;
        struct msg_error e = {0};
        int r = msg_decode(&ctl_schema, body, len, &m, &e);
        client_touch(c);
        if (r < 0) {
                log_debug("Bad control request from pid %d: %s", (int)c->pid, e.text);
                client_send_raw(c, msg_new_decode_error(&ctl_schema, &e));
                return;
        }
        if (msg_type(m) == CTL_TYPE_KEY_IMPORT)
                msg_set_secret(m); /* wiped when freed, whatever refuses it */
        if (msg_schema_type(&ctl_schema, msg_type(m))->kind != MSG_KIND_REQUEST) {
                client_send_raw(c, msg_new_error(&ctl_schema, msg_reqid(m), CTL_STATUS_BAD_REQUEST,
                                                 "only requests may be sent to chuted"));
                msg_free(m);
                return;
        }
        size_t slot = CLIENT_MAX_REQUESTS;
        for (size_t i = 0; i < CLIENT_MAX_REQUESTS; i++)
                if (!c->requests[i]) {
                        slot = i;
                        break;
                }
        if (slot == CLIENT_MAX_REQUESTS) {
                client_send_raw(c, msg_new_error(&ctl_schema, msg_reqid(m), CTL_STATUS_BUSY,
                                                 "too many requests in flight on this connection"));
                msg_free(m);
                return;
        }
        struct request *req = request_new(c->server->daemon, m, principal_uid(c->uid), &client_request_ops, c);
        if (!req) {
                msg_free(m);
                c->closing = true;
                return;
        }
        c->requests[slot] = req;
        request_ref(req);
        commands_dispatch(req);
        request_unref(req);
}

/* Copy the body of the frame at the head of in to body, wipe the frame in
 * place, chain by chain (a frame may carry a recovery code, and pulling it
 * up would free the old chains unwiped), then drain it. -ENOMEM. */
static int client_take_frame(struct evbuffer *in, uint8_t *body, size_t body_len)
{
        size_t total = FRAME_HEADER_SIZE + body_len, pos = 0;
        int n = evbuffer_peek(in, (ev_ssize_t)total, NULL, NULL, 0);
        _cleanup_free_ struct evbuffer_iovec *vec = calloc(n > 0 ? (size_t)n : 1, sizeof(*vec));
        if (!vec)
                return -ENOMEM;
        n = evbuffer_peek(in, (ev_ssize_t)total, NULL, vec, n);
        for (int i = 0; i < n && pos < total; i++) {
                size_t len = vec[i].iov_len < total - pos ? vec[i].iov_len : total - pos;
                const uint8_t *p = vec[i].iov_base;
                for (size_t j = 0; j < len; j++, pos++)
                        if (pos >= FRAME_HEADER_SIZE)
                                body[pos - FRAME_HEADER_SIZE] = p[j];
                explicit_bzero(vec[i].iov_base, len);
        }
        evbuffer_drain(in, total);
        return 0;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
        struct client *c = arg;
        struct evbuffer *in = bufferevent_get_input(bev);

        while (!c->closing) {
                if (evbuffer_get_length(bufferevent_get_output(bev)) > CLIENT_OUTPUT_HIGH) {
                        /* a client that does not read its answers sends no more
                         * requests (the write callback reads again; the stall
                         * rule of the idle timer ends one that never does) */
                        bufferevent_disable(bev, EV_READ);
                        break;
                }
                uint8_t hdr[FRAME_HEADER_SIZE];
                size_t avail = evbuffer_get_length(in), body_len = 0;
                if (avail < FRAME_HEADER_SIZE)
                        break;
                evbuffer_copyout(in, hdr, sizeof(hdr));
                int r = frame_peek(hdr, avail, ctl_schema.max_body, &body_len);
                if (r == -EMSGSIZE) {
                        log_debug("Control frame of %zu bytes from pid %d is over the limit, closing",
                                  body_len, (int)c->pid);
                        client_send_raw(c, msg_new_error(&ctl_schema, 0, CTL_STATUS_TOO_LARGE,
                                                         "frame larger than the control protocol allows"));
                        c->closing = true;
                        break;
                }
                if (r == 0)
                        break;
                uint8_t *body = malloc(body_len ? body_len : 1);
                if (!body) {
                        c->closing = true;
                        break;
                }
                if (client_take_frame(in, body, body_len) < 0) {
                        free(body);
                        c->closing = true;
                        break;
                }
                client_dispatch(c, body, body_len);
                explicit_bzero(body, body_len);
                free(body);
        }
        if (c->closing) {
                bufferevent_disable(bev, EV_READ);
                evbuffer_drain(in, evbuffer_get_length(in));
                if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
                        client_free(c);
        }
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
        struct client *c = arg;
        if (c->closing) {
                if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
                        client_free(c);
                return;
        }
        /* reading stopped for the output (closing returned above) */
        if (!(bufferevent_get_enabled(bev) & EV_READ))
                bufferevent_enable(bev, EV_READ);
        /* output drained below the low watermark: let streaming requests go on */
        for (size_t i = 0; i < CLIENT_MAX_REQUESTS; i++) {
                struct request *r = c->requests[i];
                if (r && r->on_writable) {
                        request_ref(r);
                        r->on_writable(r);
                        request_unref(r);
                }
        }
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
                client_read_cb(bev, c);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
        struct client *c = arg;
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
                log_debug("Control client pid %d disconnected", (int)c->pid);
                client_free(c);
        }
}

/* 1 when the peer may use the socket (ctl-access.c), 0 when not, -errno
 * when its groups could not be read. Without SO_PEERGROUPS (kernels before
 * 4.13) the primary gid alone decides; said once at notice level. */
static int peer_allowed(struct ctl_server *s, int fd, const struct ucred *cred)
{
        static bool said_primary_only;
        bool primary_only = false;
        int k = ctl_access_allowed(s->uid, s->gid, cred->uid, cred->gid, ctl_access_peer_groups, &fd,
                                   &primary_only);

        if (primary_only && !said_primary_only) {
                log_notice("The kernel does not report a peer's supplementary groups (no SO_PEERGROUPS): "
                           "members of %s may use the control socket only through their primary group",
                           s->daemon->config.socket_group);
                said_primary_only = true;
        }
        return k;
}

/* Answer a connection we do not serve with one ERROR frame (request id 0:
 * nothing of it was read) and close it. The socket is new, so its send
 * buffer takes the short frame at once. */
static void refuse(int fd, uint32_t status, const char *text)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        struct msg *m = msg_new_error(&ctl_schema, 0, status, text);
        if (m && msg_encode(m, &buf, &len) >= 0)
                (void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        msg_free(m);
        close(fd);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
        struct ctl_server *s = arg;
        struct ucred cred = {0};
        socklen_t cl = sizeof(cred);
        char text[200];
        (void)sa;
        (void)len;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
                log_warning_errno(-errno, "Cannot read control client credentials, closing");
                close(fd);
                return;
        }
        int allowed = peer_allowed(s, fd, &cred);
        if (allowed < 0)
                log_warning_errno(allowed, "Cannot read the groups of control client pid %d uid %u, refusing",
                                  (int)cred.pid, (unsigned)cred.uid);
        if (allowed <= 0) {
                log_event(LOG_WARNING, MSGID_CONTROL_DENIED, NULL,
                          "Control client pid %d uid %u denied: not root, the daemon's user or in its group",
                          (int)cred.pid, (unsigned)cred.uid);
                snprintf(text, sizeof(text),
                         "permission denied: uid %u is not root, chuted's user or in its group",
                         (unsigned)cred.uid);
                refuse(fd, CTL_STATUS_DENIED, text);
                return;
        }
        if (s->n_clients >= s->max_clients) {
                int64_t now = monotonic_ns();
                s->refused_full++;
                if (!s->refused_logged_ns || now - s->refused_logged_ns >= REFUSED_LOG_INTERVAL_NS) {
                        log_warning("%u control connections are open, the most chuted serves "
                                    "(control_max_clients): refused %llu more, the last from pid %d uid %u",
                                    s->n_clients, (unsigned long long)s->refused_full, (int)cred.pid,
                                    (unsigned)cred.uid);
                        s->refused_full = 0;
                        s->refused_logged_ns = now;
                }
                snprintf(text, sizeof(text),
                         "chuted has %u control connections open, the most it serves: try again later",
                         s->n_clients);
                refuse(fd, CTL_STATUS_BUSY, text);
                return;
        }
        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
                close(fd);
                free(c);
                return;
        }
        c->server = s;
        c->uid = cred.uid;
        c->pid = cred.pid;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        c->idle = evtimer_new(evconnlistener_get_base(l), client_idle_cb, c);
        if (!c->idle) {
                client_free(c);
                return;
        }
        client_touch(c);
        c->output_progress_ns = monotonic_ns();
        if (!evbuffer_add_cb(bufferevent_get_output(c->bev), client_output_cb, c)) {
                client_free(c);
                return;
        }
        bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, 256 * 1024, 0);
        /* one frame header + body at most is worth reading ahead */
        bufferevent_setwatermark(c->bev, EV_READ, 0, ctl_schema.max_body + FRAME_HEADER_SIZE);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        log_debug("Control client pid %d uid %u connected", (int)c->pid, (unsigned)c->uid);
}

/* The gid of group name, or (gid_t)-1 when name is empty or no such group.
 * Looked up at start and reload only: NSS may block. */
static gid_t group_resolve(const char *name)
{
        struct group g, *res = NULL;
        char buf[16384];

        if (!name || !*name)
                return (gid_t)-1;
        int k = getgrnam_r(name, &g, buf, sizeof(buf), &res);
        if (k != 0 || !res) {
                log_debug("No group %s: only root and uid %u may use the control socket", name,
                          (unsigned)getuid());
                return (gid_t)-1;
        }
        return res->gr_gid;
}

static void server_configure(struct ctl_server *s)
{
        const struct settings *config = &s->daemon->config;
        /* members of socket_group in system mode only (chuted.conf(5)): a
         * user's own daemon serves that user (and root) alone */
        s->gid = config->system_mode ? group_resolve(config->socket_group) : (gid_t)-1;
        s->max_clients = config->control_max_clients;
        s->idle_timeout_ns = config->control_idle_timeout_ns;
}

static int server_init(struct daemon *d, int fd, struct ctl_server **ret)
{
        struct ctl_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->daemon = d;
        s->uid = getuid();
        server_configure(s);
        s->listener = evconnlistener_new(d->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                         64, fd);
        if (!s->listener || listener_pause_new(d->base, s->listener, "control", &s->pause) < 0) {
                if (s->listener)
                        evconnlistener_free(s->listener);
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int ctl_server_new(struct daemon *d, const char *path, struct ctl_server **ret)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A stale socket from a crashed daemon is replaced; a live one is not. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                return -EADDRINUSE;
        close(fd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        unlink(path);
        mode_t old = umask(0117);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return -errno;
        if (chmod(path, 0660) < 0)
                return -errno;
        if (listen(fd, 64) < 0)
                return -errno;
        struct ctl_server *s;
        r = server_init(d, fd, &s);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        s->path = strdup(path);
        if (!s->path) {
                ctl_server_free(s);
                return -ENOMEM;
        }
        if (s->gid != (gid_t)-1 && geteuid() == 0 && chown(path, 0, s->gid) < 0) {
                r = -errno;
                ctl_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int ctl_server_new_fd(struct daemon *d, int fd, struct ctl_server **ret)
{
        return server_init(d, fd, ret);
}

void ctl_server_reload(struct ctl_server *s)
{
        gid_t old = s->gid;
        server_configure(s);
        if (s->path && s->gid != old && s->gid != (gid_t)-1 && geteuid() == 0 && chown(s->path, 0, s->gid) < 0)
                log_warning_errno(-errno, "Cannot give the control socket %s to group %s, ignoring", s->path,
                                  s->daemon->config.socket_group);
        for (struct client *c = s->clients; c; c = c->next)
                client_touch(c);
}

unsigned ctl_server_clients(const struct ctl_server *s) { return s->n_clients; }

void ctl_server_free(struct ctl_server *s)
{
        if (!s)
                return;
        while (s->clients)
                client_free(s->clients);
        listener_pause_free(s->pause);
        evconnlistener_free(s->listener);
        if (s->path) {
                unlink(s->path);
                free(s->path);
        }
        free(s);
}
