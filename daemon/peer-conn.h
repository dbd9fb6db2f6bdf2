/* SPDX-License-Identifier: MIT */
/* One peer protocol connection over any bufferevent (the TLS one of
 * daemon/tls.c in chuted, a plain socketpair in the unit tests): framing,
 * strict decoding (msg_decode with peer_schema), request ids and replies,
 * the window of outstanding pack bytes, keepalive and timeouts, and pack
 * bytes moved without copies. Generic: HELLO, quotas and handlers are its
 * owners' (peer-server/peer-host on the host side, store-peer on the owner's).
 *
 * Roles. A connection made with a request handler is the HOST side: it
 * answers requests, one reply each. Without one it is the CLIENT side: it
 * sends requests and gets done() once per request; a request arriving there
 * is a protocol violation. Everything runs on the loop thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "peer.h"

/* Default window: payload bytes of requests sent and not yet answered. */
#define PEER_CONN_WINDOW_DEFAULT (8u * 1024 * 1024)
/* Default: a frame must be complete this long after its first byte arrived
 * (plus its declared size at PEER_CONN_MIN_RATE). */
#define PEER_CONN_FRAME_TIMEOUT_NS (30 * UINT64_C(1000000000))
/* Bytes per second a frame's body is allowed on top of the frame timeout. */
#define PEER_CONN_MIN_RATE (64u * 1024)
/* Default keepalive: the client side PINGs after this long without traffic and
 * closes when the PING stays unanswered as long again; the host side closes
 * after PEER_CONN_IDLE_FACTOR times this long without a byte received, or
 * with replies waiting that the peer took none of. */
#define PEER_CONN_KEEPALIVE_NS (30 * UINT64_C(1000000000))
#define PEER_CONN_IDLE_FACTOR 4
/* Default: requests a host answers at once before it stops reading. */
#define PEER_CONN_MAX_REQUESTS 64
/* Frames with a longer body are decoded from their head only (DATA moved). */
#define PEER_CONN_HEAD_MAX (64u * 1024)

struct peer_conn;

/* Pack bytes (key DATA) moved out of the input, not copied: len bytes in buf.
 * Handed to a callback for the length of the call; take buf by setting it to
 * NULL (then evbuffer_free it yourself), else it is freed when the call returns. */
struct peer_payload {
        struct evbuffer *buf;
        size_t len;
};

struct peer_conn_handlers {
        /* host side: a request arrived. req is yours (msg_free it); reply exactly once
         * with peer_conn_reply or peer_conn_reply_error, now or later. payload: its DATA,
         * NULL when it has none (its DATA key then reads as an empty byte string). */
        void (*request)(struct peer_conn *c, struct msg *req, struct peer_payload *payload,
                        void *userdata);
        /* the connection is gone (EOF, error, protocol violation, timeout): err and one
         * sentence say why (for a TLS bufferevent's error, tls_last_error says more);
         * called once, after every request in flight got its done(), and never after
         * peer_conn_free. Free the connection (here is fine). */
        void (*closed)(struct peer_conn *c, int err, const char *why, void *userdata);
};

/* Counters for status and the bench. */
struct peer_conn_stats {
        uint64_t payload_bytes_sent;     /* DATA bytes written (requests and replies) */
        uint64_t payload_bytes_received; /* DATA bytes received (moved, not copied) */
        uint64_t bytes_linearized;       /* frame bytes made contiguous for decoding */
        uint64_t requests_sent;          /* client: requests written, keepalives included */
        uint64_t requests_answered;      /* client: replies received */
        uint64_t requests_received;      /* host: requests handed to the handler */
        uint64_t replies_sent;           /* host: replies written, decode errors included */
        size_t in_flight;                /* client: sent, not answered; host: not replied */
        size_t window_used;              /* client: payload bytes sent, not answered */
        size_t queued;                   /* client: requests waiting for the window */
        size_t queued_bytes;             /* client: their payload bytes */
};

/* Client side: the reply (yours: msg_free it; NULL when the connection went away),
 * its DATA as in struct peer_payload (NULL when none), and err: 0 for a RESULT, the
 * errno of the status for an ERROR reply (peer_status_to_errno), -ECONNRESET or
 * -ETIMEDOUT when the connection closed first. Runs on the loop exactly once. */
typedef void (*peer_conn_done_fn)(struct msg *reply, struct peer_payload *payload, int err,
                                  void *userdata);
/* Called once the payload bytes are no longer needed (written out or dropped). */
typedef void (*peer_conn_data_free_fn)(const void *data, size_t len, void *arg);

/* A connection over bev (connected, and for TLS handshaken; owned from now on,
 * also on failure; its timeouts are cleared: the connection keeps its own).
 * h is copied; h->request NULL makes it the client side. -ENOMEM. */
int peer_conn_new(struct event_base *base, struct bufferevent *bev, const struct peer_conn_handlers *h,
                  void *userdata, struct peer_conn **ret);
/* Close and free; requests in flight complete with -ECONNRESET, closed() is not
 * called. Fine from inside any of the connection's callbacks. NULL is fine.
 * Payload bytes still in the output are given back (data_free) when libevent
 * finalizes the bufferevent: on the next loop turn, or in event_base_free. */
void peer_conn_free(struct peer_conn *c);

/* Client side: send req (yours still: it is encoded at once; its request id is the
 * connection's own, increasing on the wire). With data (non-NULL; data_len may be 0)
 * it goes out as DATA, the last key of the body, from these very bytes: keep them
 * valid until data_free(data, data_len, data_arg) is called, which can be after done().
 * Do not set DATA on req yourself. Requests with data wait while the window is full and
 * leave in order; requests without go out at once, ahead of waiting ones. done runs
 * exactly once, never from inside this call. -ENOTCONN (closed), -EMSGSIZE (over the
 * frame limit), -EINVAL (not a request, or a required key is missing), -ENOMEM;
 * on failure neither done nor data_free is ever called. */
int peer_conn_request(struct peer_conn *c, struct msg *req, const void *data, size_t data_len,
                      peer_conn_data_free_fn data_free, void *data_arg, peer_conn_done_fn done,
                      void *userdata);
/* Host side: answer the request whose id reply carries (a RESULT or an ERROR; yours
 * still). data as for peer_conn_request (sent at once, no window). -ENOTCONN, -ENOENT
 * (no such request in flight), -EINVAL, -EMSGSIZE, -ENOMEM; on failure data_free is not
 * called and the request stays in flight (answer it with an error). */
int peer_conn_reply(struct peer_conn *c, struct msg *reply, const void *data, size_t data_len,
                    peer_conn_data_free_fn data_free, void *data_arg);
/* Host side: answer request reqid with an ERROR of status and one sentence (NULL: the
 * status's name). As peer_conn_reply. */
int peer_conn_reply_error(struct peer_conn *c, uint64_t reqid, uint32_t status, const char *message);

/* Payload bytes of requests in flight at most (one request always goes, however
 * large); also how much reply output a host lets wait before it stops reading.
 * Default PEER_CONN_WINDOW_DEFAULT. */
void peer_conn_set_window(struct peer_conn *c, size_t bytes);
/* Timeouts in ns, 0 = none: frame (default PEER_CONN_FRAME_TIMEOUT_NS) and keepalive
 * (default PEER_CONN_KEEPALIVE_NS), as described with the defaults above. */
void peer_conn_set_timeouts(struct peer_conn *c, uint64_t frame_ns, uint64_t keepalive_ns);
/* Host side: requests in flight before reading stops (default PEER_CONN_MAX_REQUESTS). */
void peer_conn_set_max_requests(struct peer_conn *c, size_t n);

/* The counters now. */
void peer_conn_get_stats(const struct peer_conn *c, struct peer_conn_stats *ret);
/* False once closed (closed() ran or is running). */
bool peer_conn_is_open(const struct peer_conn *c);
/* The bufferevent underneath (for tls_peer_id and friends); still owned by c. */
struct bufferevent *peer_conn_bufferevent(struct peer_conn *c);
