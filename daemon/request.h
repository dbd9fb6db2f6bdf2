/* SPDX-License-Identifier: MIT */
/* One control request, independent of the front end that received it (the
 * UNIX control socket now, the HTTP API later). Handlers read the decoded
 * message, and answer through request_reply/request_error; long ones send
 * progress and data on the way. Owns reference counting and the "client
 * went away" flag; not the transport. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg.h"

struct daemon;
struct request;

/* Who asks: a local user by SO_PEERCRED, or the holder of the HTTP API
 * token, who has the rights of chuted's own user. Handlers decide access
 * on uid alone, so both front ends are judged the same way. */
struct principal {
        bool token; /* the API token; uid is then chuted's own */
        uid_t uid;
};

struct request_ops {
        /* Send one message (taken) to the client; final marks the end. */
        void (*send)(struct request *r, struct msg *m, bool final);
        /* Bytes queued towards the client and not yet written. */
        size_t (*pending)(struct request *r);
        /* The request object is being freed. */
        void (*release)(struct request *r);
};

struct request {
        struct daemon *daemon;
        struct msg *msg;     /* the decoded request */
        struct msg_map args; /* its body */
        uint32_t type;
        uint64_t reqid;
        struct principal principal; /* the caller */
        bool gone;           /* the client vanished: stop, reply goes nowhere */
        bool answered;
        unsigned refs;
        const struct request_ops *ops;
        void *frontend;
        /* called (on the loop) when the client can take more DATA */
        void (*on_writable)(struct request *r);
        /* called (on the loop) once when the client goes away mid-request */
        void (*on_gone)(struct request *r);
        void *state; /* the handler's own state for long requests */
};

/* A new request holding msg (taken), with one reference. */
struct request *request_new(struct daemon *d, struct msg *msg, struct principal who,
                            const struct request_ops *ops, void *frontend);
struct request *request_ref(struct request *r);
void request_unref(struct request *r);
/* A RESULT message for r, to fill and pass to request_reply. */
struct msg *request_result(struct request *r);
/* The principal of a local user. */
struct principal principal_uid(uid_t uid);
/* The principal of the API token holder: chuted's own rights. */
struct principal principal_token(void);
/* "uid 1000" or "the API token", for log lines. */
const char *principal_name(struct principal who, char buf[32]);
/* Send the final RESULT (taken). */
void request_reply(struct request *r, struct msg *result);
/* Send the final ERROR with a status and a printf-style sentence. */
void request_error(struct request *r, uint32_t status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Map -errno to a status and send the final ERROR "what: strerror". */
void request_error_errno(struct request *r, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Send a PROGRESS message: phase, bytes done, bytes in all (0 = unknown), files done. */
void request_progress(struct request *r, const char *phase, uint64_t done, uint64_t total,
                      uint64_t files);
/* Send a non-final message (taken), e.g. DATA. */
void request_send(struct request *r, struct msg *m);
/* Bytes waiting to reach the client (flow control for DATA). */
size_t request_pending(struct request *r);
/* The front end says the client is gone. */
void request_cancel(struct request *r);
