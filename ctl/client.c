/* SPDX-License-Identifier: MIT */
/* Connecting to chuted and one request/reply exchange over its control
 * socket; see client.h. Never trusts a reply: lengths are capped before
 * reading, bodies are decoded strictly and must carry our request id. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"

struct client {
        int fd;
        uint64_t next_reqid;
        char error[256];
};

static int fail(struct client *c, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct client *c, int error, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->error, sizeof(c->error), fmt, ap);
        va_end(ap);
        return error;
}

int client_connect(const char *path, struct client **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1, dirfd = -1;
        char via[64];
        const char *name = path;
        struct client *c;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                /* too long for sun_path: reach it through its directory's fd */
                const char *slash = strrchr(path, '/');
                _cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;
                if (!slash || !dir)
                        return slash ? -ENOMEM : -ENAMETOOLONG;
                dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0)
                        return -errno;
                snprintf(via, sizeof(via), "/proc/self/fd/%d/", dirfd);
                if (strlen(via) + strlen(slash + 1) >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                strcat(strcpy(sa.sun_path, via), slash + 1);
        } else {
                strcpy(sa.sun_path, name);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        c->next_reqid = 1;
        *ret = c;
        return 0;
}

void client_free(struct client *c)
{
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

struct msg *client_request(struct client *c, enum ctl_type type)
{
        return ctl_msg_new(type, c->next_reqid++);
}

const char *client_error(const struct client *c)
{
        return c->error;
}

static int write_all(struct client *c, const uint8_t *p, size_t len)
{
        while (len > 0) {
                ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail(c, -errno, "cannot send the request: %s", strerror(errno));
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Read exactly len bytes; 0 at a clean EOF before the first byte when eof_ok. */
static int read_all(struct client *c, uint8_t *p, size_t len, bool eof_ok)
{
        size_t got = 0;

        while (got < len) {
                ssize_t n = read(c->fd, p + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return fail(c, -errno, "cannot read the reply: %s", strerror(errno));
                if (n == 0) {
                        if (got == 0 && eof_ok)
                                return 0;
                        return fail(c, -ECONNRESET,
                                    "chuted closed the connection before it finished answering");
                }
                got += (size_t)n;
        }
        return 1;
}

/* Read and strictly decode one frame. */
static int read_msg(struct client *c, struct msg **ret)
{
        uint8_t hdr[FRAME_HEADER_SIZE];
        size_t len;
        struct msg_error e;
        int k = read_all(c, hdr, sizeof(hdr), true);

        if (k == 0)
                return fail(c, -ECONNRESET, "chuted closed the connection without answering");
        if (k < 0)
                return k;
        if (frame_peek(hdr, sizeof(hdr), CTL_MAX_BODY, &len) == -EMSGSIZE)
                return fail(c, -EBADMSG, "malformed reply from chuted: a frame of %u bytes (limit %u)",
                            frame_decode_header(hdr), (unsigned)CTL_MAX_BODY);
        len = frame_decode_header(hdr);
        _cleanup_free_ uint8_t *body = malloc(len ? len : 1);
        if (!body)
                return fail(c, -ENOMEM, "out of memory");
        k = read_all(c, body, len, false);
        if (k < 0) {
                explicit_bzero(body, len);
                return k;
        }
        k = ctl_msg_decode(body, len, ret, &e);
        /* the frame may carry a secret (key export); the message decides
         * for its own copy, the raw bytes go now */
        explicit_bzero(body, len);
        if (k == -ENOMEM)
                return fail(c, k, "out of memory");
        if (k < 0)
                return fail(c, -EBADMSG, "malformed reply from chuted: %s", e.text);
        return 0;
}

int client_call(struct client *c, struct msg *request, const struct client_handlers *h,
                struct msg **ret)
{
        _cleanup_free_ uint8_t *frame = NULL;
        size_t len;
        uint64_t reqid = msg_reqid(request);
        int k = ctl_msg_encode(request, &frame, &len);

        if (k == -EMSGSIZE)
                return fail(c, k, "the request is larger than the %u-byte limit",
                            (unsigned)CTL_MAX_BODY);
        if (k < 0)
                return fail(c, k, "cannot encode the request: %s", strerror(-k));
        k = write_all(c, frame, len);
        if (msg_is_secret(request))
                explicit_bzero(frame, len);
        if (k == -EPIPE || k == -ECONNRESET) {
                /* chuted may have refused the connection (permission, too many
                 * clients) and closed it: its ERROR is still there to read */
                struct msg *m = NULL;
                if (read_msg(c, &m) == 0 && msg_type(m) == CTL_TYPE_ERROR && msg_reqid(m) == 0) {
                        *ret = m;
                        return 0;
                }
                msg_free(m);
                return fail(c, k, "cannot send the request: %s", strerror(-k));
        }
        if (k < 0)
                return k;
        for (;;) {
                _cleanup_(msg_freep) struct msg *m = NULL;

                k = read_msg(c, &m);
                if (k < 0)
                        return k;
                /* request id 0: about the connection (refused, frame too large) */
                if (msg_type(m) == CTL_TYPE_ERROR && msg_reqid(m) == 0) {
                        *ret = TAKE_PTR(m);
                        return 0;
                }
                if (msg_reqid(m) != reqid)
                        return fail(c, -EBADMSG,
                                    "malformed reply from chuted: request id %llu, expected %llu",
                                    (unsigned long long)msg_reqid(m), (unsigned long long)reqid);
                switch (msg_type(m)) {
                case CTL_TYPE_RESULT:
                case CTL_TYPE_ERROR:
                        *ret = TAKE_PTR(m);
                        return 0;
                case CTL_TYPE_PROGRESS:
                        if (h && h->progress)
                                h->progress(m, h->userdata);
                        break;
                case CTL_TYPE_DATA:
                        if (!h || !h->data)
                                return fail(c, -EBADMSG,
                                            "malformed reply from chuted: unexpected data");
                        k = h->data(m, h->userdata);
                        if (k == -EBADMSG)
                                return fail(c, k, "malformed reply from chuted: "
                                                  "data this request does not expect");
                        if (k < 0)
                                return fail(c, k, "%s", strerror(-k));
                        break;
                default:
                        return fail(c, -EBADMSG,
                                    "malformed reply from chuted: a '%s' message is not a reply",
                                    ctl_type_name(msg_type(m)) ?: "?");
                }
        }
}
