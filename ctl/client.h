/* SPDX-License-Identifier: MIT */
/* chutectl's side of the control socket: connect, send one request, and
 * read frames until the final RESULT or ERROR of that request, passing
 * PROGRESS and DATA to callbacks on the way. Blocking I/O; every reply is
 * decoded strictly (proto/ctl.h) and its declared length checked against
 * the 1 MiB cap before anything is read or allocated. Prints nothing. */
#pragma once

#include <stdint.h>

#include "ctl.h"

struct client;

struct client_handlers {
        /* A PROGRESS message of the request (borrowed). */
        void (*progress)(struct msg *m, void *userdata);
        /* A DATA message (borrowed); < 0 stops the call with that error. */
        int (*data)(struct msg *m, void *userdata);
        void *userdata;
};

/* Connect to the UNIX socket at path (any length); -errno. */
int client_connect(const char *path, struct client **ret);
/* Close and free; NULL is fine. */
void client_free(struct client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct client *, client_free)
/* A new request message of type with the next request id, or NULL. */
struct msg *client_request(struct client *c, enum ctl_type type);
/* Send request and wait for its final reply: *ret is the RESULT or ERROR
 * (caller frees). -EBADMSG for a malformed or unexpected reply,
 * -ECONNRESET when the daemon closed the connection first, -errno for I/O
 * errors, or a DATA handler's error; client_error() then says what. */
int client_call(struct client *c, struct msg *request, const struct client_handlers *h,
                struct msg **ret);
/* One sentence about the last failure of client_call or client_connect. */
const char *client_error(const struct client *c);
