/* SPDX-License-Identifier: MIT */
/* Request objects shared by every front end; see request.h. */
#include "request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

struct principal principal_uid(uid_t uid)
{
        return (struct principal){ .token = false, .uid = uid };
}

struct principal principal_token(void)
{
        return (struct principal){ .token = true, .uid = getuid() };
}

const char *principal_name(struct principal who, char buf[32])
{
        if (who.token)
                return "the API token";
        snprintf(buf, 32, "uid %u", (unsigned)who.uid);
        return buf;
}

struct request *request_new(struct daemon *d, struct msg *msg, struct principal who,
                            const struct request_ops *ops, void *frontend)
{
        struct request *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->daemon = d;
        r->msg = msg;
        r->args = msg_body(msg);
        r->type = msg_type(msg);
        r->reqid = msg_reqid(msg);
        r->principal = who;
        r->ops = ops;
        r->frontend = frontend;
        r->refs = 1;
        return r;
}

struct request *request_ref(struct request *r)
{
        r->refs++;
        return r;
}

void request_unref(struct request *r)
{
        if (!r || --r->refs > 0)
                return;
        if (r->ops && r->ops->release)
                r->ops->release(r);
        msg_free(r->msg);
        free(r);
}

struct msg *request_result(struct request *r) { return msg_new(&ctl_schema, CTL_TYPE_RESULT, r->reqid); }

static void send_msg(struct request *r, struct msg *m, bool final)
{
        if (!m)
                return;
        if (r->gone || (r->answered && final) || !r->ops) {
                msg_free(m);
                return;
        }
        if (final)
                r->answered = true;
        r->ops->send(r, m, final);
}

void request_reply(struct request *r, struct msg *result) { send_msg(r, result, true); }

void request_send(struct request *r, struct msg *m) { send_msg(r, m, false); }

void request_error(struct request *r, uint32_t status, const char *fmt, ...)
{
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        send_msg(r, msg_new_error(&ctl_schema, r->reqid, status, text), true);
}

static uint32_t status_of_errno(int error)
{
        switch (error) {
        case -ENOENT:
                return CTL_STATUS_NOT_FOUND;
        case -EEXIST:
                return CTL_STATUS_EXISTS;
        case -ENOTUNIQ:
                return CTL_STATUS_AMBIGUOUS;
        case -EBUSY:
                return CTL_STATUS_BUSY;
        case -EACCES:
        case -EPERM:
                return CTL_STATUS_DENIED;
        case -EINVAL:
                return CTL_STATUS_BAD_REQUEST;
        default:
                return CTL_STATUS_INTERNAL;
        }
}

void request_error_errno(struct request *r, int error, const char *fmt, ...)
{
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(text))
                snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(-error));
        send_msg(r, msg_new_error(&ctl_schema, r->reqid, status_of_errno(error), text), true);
}

void request_progress(struct request *r, const char *phase, uint64_t done, uint64_t total,
                      uint64_t files)
{
        if (r->gone)
                return;
        struct msg *m = msg_new(&ctl_schema, CTL_TYPE_PROGRESS, r->reqid);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_text(&b, CTL_KEY_PHASE, phase);
        msg_map_set_uint(&b, CTL_KEY_DONE, done);
        if (total)
                msg_map_set_uint(&b, CTL_KEY_TOTAL, total);
        msg_map_set_uint(&b, CTL_KEY_FILES, files);
        send_msg(r, m, false);
}

size_t request_pending(struct request *r)
{
        return r->gone || !r->ops || !r->ops->pending ? 0 : r->ops->pending(r);
}

void request_cancel(struct request *r)
{
        void (*gone)(struct request *) = r->on_gone;
        __atomic_store_n(&r->gone, true, __ATOMIC_RELAXED); /* cat's worker looks at it */
        r->ops = NULL;
        r->frontend = NULL;
        r->on_writable = NULL;
        r->on_gone = NULL;
        if (gone)
                gone(r);
}
