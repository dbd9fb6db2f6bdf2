/* SPDX-License-Identifier: MIT */
/* Control socket server. Every connection is a bufferevent; complete frames
 * are decoded strictly and dispatched. A malformed message gets an ERROR
 * reply and the connection lives on; a frame over the size cap gets an ERROR
 * and the connection is closed once it is written. A client that vanishes
 * cancels its requests in flight (they see request->gone). */
#include "ctl-server.h"

#include <errno.h>
#include <stdio.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "frame.h"
#include "log.h"
#include "request.h"

/* A client may have this many requests in flight; more are refused BUSY. */
#define CLIENT_MAX_REQUESTS 16
/* Stop reading a client's requests while this much output waits for it. */
#define CLIENT_OUTPUT_HIGH (4u << 20)

struct client;

struct ctl_server {
        struct daemon *daemon;
        struct evconnlistener *listener;
        char *path;
        uid_t uid;
        gid_t gid;
        struct client *clients;
        unsigned n_clients;
};

struct client {
        struct ctl_server *server;
        struct bufferevent *bev;
        struct client *prev, *next;
        uid_t uid;
        pid_t pid;
        struct request *requests[CLIENT_MAX_REQUESTS];
        bool closing; /* close once the output is written */
        bool denied;  /* not allowed: answer DENIED, then close */
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
        if (c->denied) {
                char text[160];
                snprintf(text, sizeof(text),
                         "permission denied: uid %u is not root, chuted's user or in its group",
                         (unsigned)c->uid);
                client_send_raw(c, msg_new_error(&ctl_schema, r >= 0 ? msg_reqid(m) : e.reqid,
                                                 CTL_STATUS_DENIED, text));
                msg_free(m);
                c->closing = true;
                return;
        }
        if (r < 0) {
                log_debug("Bad control request from pid %d: %s", (int)c->pid, e.text);
                client_send_raw(c, msg_new_decode_error(&ctl_schema, &e));
                return;
        }
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
        struct request *req = request_new(c->server->daemon, m, c->uid, &client_request_ops, c);
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

static void client_read_cb(struct bufferevent *bev, void *arg)
{
        struct client *c = arg;
        struct evbuffer *in = bufferevent_get_input(bev);

        while (!c->closing) {
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
                /* copy out, then wipe: a frame may carry a recovery code */
                uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + body_len));
                memcpy(body, frame + FRAME_HEADER_SIZE, body_len);
                explicit_bzero(frame, FRAME_HEADER_SIZE + body_len);
                evbuffer_drain(in, FRAME_HEADER_SIZE + body_len);
                client_dispatch(c, body, body_len);
                explicit_bzero(body, body_len);
                free(body);
                if (evbuffer_get_length(bufferevent_get_output(bev)) > CLIENT_OUTPUT_HIGH)
                        break; /* resume when the output drains (write callback) */
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

static bool peer_allowed(struct ctl_server *s, uid_t uid, gid_t gid)
{
        if (uid == 0 || uid == s->uid)
                return true;
        if (s->gid == (gid_t)-1)
                return false;
        if (gid == s->gid)
                return true;
        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return false;
        int n = 64;
        gid_t groups[64];
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == s->gid)
                        return true;
        return false;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
        struct ctl_server *s = arg;
        struct ucred cred = {0};
        socklen_t cl = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
                log_warning_errno(-errno, "Cannot read control client credentials, closing");
                close(fd);
                return;
        }
        bool denied = !peer_allowed(s, cred.uid, cred.gid);
        if (denied)
                log_event(LOG_WARNING, MSGID_CONTROL_DENIED, NULL,
                          "Control client pid %d uid %u denied: not root, the daemon's user or in its group",
                          (int)cred.pid, (unsigned)cred.uid);
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
        c->denied = denied;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
        bufferevent_setwatermark(c->bev, EV_WRITE, 256 * 1024, 0);
        /* one frame header + body at most is worth reading ahead */
        bufferevent_setwatermark(c->bev, EV_READ, 0, ctl_schema.max_body + FRAME_HEADER_SIZE);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        log_debug("Control client pid %d uid %u connected", (int)c->pid, (unsigned)c->uid);
}

static int server_init(struct daemon *d, int fd, uid_t uid, gid_t gid, struct ctl_server **ret)
{
        struct ctl_server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->daemon = d;
        s->uid = uid;
        s->gid = gid;
        s->listener = evconnlistener_new(d->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                         64, fd);
        if (!s->listener) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int ctl_server_new(struct daemon *d, const char *path, uid_t uid, gid_t gid, struct ctl_server **ret)
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
        if (gid != (gid_t)-1 && geteuid() == 0 && chown(path, 0, gid) < 0)
                return -errno;
        if (listen(fd, 64) < 0)
                return -errno;
        struct ctl_server *s;
        r = server_init(d, fd, uid, gid, &s);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        s->path = strdup(path);
        *ret = s;
        return 0;
}

int ctl_server_new_fd(struct daemon *d, int fd, uid_t uid, gid_t gid, struct ctl_server **ret)
{
        return server_init(d, fd, uid, gid, ret);
}

unsigned ctl_server_clients(const struct ctl_server *s) { return s->n_clients; }

void ctl_server_free(struct ctl_server *s)
{
        if (!s)
                return;
        while (s->clients)
                client_free(s->clients);
        evconnlistener_free(s->listener);
        if (s->path) {
                unlink(s->path);
                free(s->path);
        }
        free(s);
}
