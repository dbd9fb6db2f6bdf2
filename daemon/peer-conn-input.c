/* SPDX-License-Identifier: MIT */
/* The receiving half of a peer connection: whole frames out of the input,
 * DATA moved into its own evbuffer and the head decoded strictly, requests
 * handed to the host's handler, replies matched to the client's requests,
 * bodies that do not decode answered, the frame clock, and a host pausing
 * while it has enough requests or output. Shares struct peer_conn with
 * peer-conn.c through peer-conn-private.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "frame.h"
#include "peer-conn-private.h"
#include "peer-payload.h"

/* ---- the host's flow control ---- */

static bool input_should_pause(const struct peer_conn *c)
{
        return peer_conn_is_host(c) && (c->n_host >= c->max_host ||
                                   evbuffer_get_length(bufferevent_get_output(c->bev)) > c->window);
}

static void input_pause(struct peer_conn *c)
{
        c->read_paused = true;
        c->frame_timing = false;
        event_del(c->frame_timer);
        bufferevent_disable(c->bev, EV_READ);
}

/* Read again when the work in flight and the output allow it; the bytes
 * already in the input are taken on the next loop turn (resume_cb). */
void peer_conn_input_maybe_resume(struct peer_conn *c)
{
        if (!c->read_paused || !peer_conn_usable(c) || input_should_pause(c))
                return;
        c->read_paused = false;
        c->last_rx_ns = peer_conn_now(); /* the idle clock ran while we did not read */
        bufferevent_enable(c->bev, EV_READ);
        event_active(c->resume, EV_TIMEOUT, 0);
}

/* ---- input ---- */

/* Re-arm the frame timer: a partial frame must be complete by its start plus
 * the frame timeout plus its declared size at PEER_CONN_MIN_RATE. */
void peer_conn_input_clock(struct peer_conn *c)
{
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in), have = avail;
        uint8_t hdr[FRAME_HEADER_SIZE];
        int64_t now, deadline;
        uint64_t declared = 0;

        if (avail == 0 || c->read_paused || c->frame_timeout_ns == 0) {
                c->frame_timing = false;
                event_del(c->frame_timer);
                return;
        }
        now = peer_conn_now();
        if (!c->frame_timing) {
                c->frame_timing = true;
                c->frame_start_ns = now;
        }
        deadline = c->frame_start_ns + (int64_t)c->frame_timeout_ns;
        if (avail >= FRAME_HEADER_SIZE) {
                evbuffer_copyout(in, hdr, sizeof(hdr));
                declared = frame_decode_header(hdr); /* <= PEER_MAX_BODY, or we closed */
                deadline += (int64_t)(declared * (uint64_t)PEER_CONN_NS_PER_SEC / PEER_CONN_MIN_RATE);
                have = avail - FRAME_HEADER_SIZE;
        }
        if (deadline <= now) {
                peer_conn_end(c, -ETIMEDOUT,
                           "a frame stayed incomplete for %" PRIu64 " s (%zu of %" PRIu64 " bytes of its body "
                           "arrived)",
                           (uint64_t)((now - c->frame_start_ns) / PEER_CONN_NS_PER_SEC), avail >= FRAME_HEADER_SIZE ? have : 0,
                           declared);
                return;
        }
        struct timeval tv = peer_conn_tv((uint64_t)(deadline - now));
        event_add(c->frame_timer, &tv);
}

/* A decoded request on the host side. */
static void input_on_request(struct peer_conn *c, struct msg *m, struct peer_payload *payload)
{
        if (!peer_conn_is_host(c)) {
                peer_conn_end(c, -EPROTO, "the peer sent a request (%s, id %" PRIu64 ") to the side that only asks",
                           peer_type_name(msg_type(m)), msg_reqid(m));
                msg_free(m);
                return;
        }
        if (peer_conn_host_find(c, msg_reqid(m)) >= 0) {
                peer_conn_end(c, -EPROTO, "the peer reused request id %" PRIu64 " while it was in flight",
                           msg_reqid(m));
                msg_free(m);
                return;
        }
        if (!GROW(c->host_reqids, c->n_host, c->cap_host, 16)) {
                peer_conn_end(c, -ENOMEM, "out of memory for a request in flight");
                msg_free(m);
                return;
        }
        c->host_reqids[c->n_host++] = msg_reqid(m);
        c->stats.requests_received++;
        c->h.request(c, m, payload, c->userdata);
}

/* A decoded reply on the client side. */
static void input_on_reply(struct peer_conn *c, struct msg *m, struct peer_payload *payload)
{
        struct peer_conn_call *rq = peer_conn_calls_find(&c->sent, msg_reqid(m));
        struct msg_map body = msg_body(m);
        uint64_t status = PEER_STATUS_INTERNAL;
        const char *text = NULL;
        size_t text_len = 0;
        int err = 0;

        if (msg_type(m) == PEER_TYPE_ERROR) {
                (void)msg_map_get_uint(&body, PEER_KEY_STATUS, &status); /* required: the decoder checked */
                (void)msg_map_get_text(&body, PEER_KEY_MESSAGE, &text, &text_len);
                err = status == PEER_STATUS_OK ? -EPROTO : peer_status_to_errno((uint32_t)status);
        }
        if (!rq) {
                if (text)
                        peer_conn_end(c, -EPROTO, "the peer answered unknown request id %" PRIu64 " with an error: %.*s",
                                   msg_reqid(m), (int)MIN(text_len, 120), text);
                else
                        peer_conn_end(c, -EPROTO, "the peer answered unknown request id %" PRIu64, msg_reqid(m));
                msg_free(m);
                return;
        }
        peer_conn_calls_remove(&c->sent, rq);
        if (rq->has_data)
                c->window_used -= MIN(rq->data_len, c->window_used);
        c->stats.requests_answered++;
        if (rq->done) {
                rq->done(m, payload, err, rq->userdata);
        } else {
                c->ping_outstanding = false;
                msg_free(m);
        }
        peer_conn_call_free(rq);
        peer_conn_pump(c);
}

/* A frame body that did not decode: a host answers it and goes on (the
 * framing is intact), a client has lost track of its peer. */
static void input_on_bad_frame(struct peer_conn *c, const struct msg_error *e)
{
        struct msg *m;
        int r = -ENOMEM;

        if (!peer_conn_is_host(c)) {
                peer_conn_end(c, -EPROTO, "the peer sent a message this side cannot decode: %s", e->text);
                return;
        }
        m = msg_new_decode_error(&peer_schema, e);
        if (m)
                r = peer_conn_write_reply(c, m, NULL, 0, NULL, NULL);
        msg_free(m);
        if (r < 0)
                peer_conn_end(c, r, "cannot answer a message that did not decode: out of memory");
}

/* Decode the whole frame at the head of the input (4 + body_len bytes are
 * there) and hand it on. DATA, wherever the body has it last, is moved out of
 * the input into its own evbuffer; only the part before it is made contiguous
 * and decoded, with DATA's head replaced by an empty byte string. */
static void input_take_frame(struct peer_conn *c, size_t body_len)
{
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t head_len = MIN(body_len, PEER_CONN_HEAD_MAX);
        struct peer_payload payload = { 0 };
        struct peer_payload_span span;
        _cleanup_free_ uint8_t *copy = NULL;
        struct msg *m = NULL;
        struct msg_error e = { 0 };
        const uint8_t *p;
        int found, r;

        p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + head_len));
        if (!p)
                goto nomem;
        c->stats.bytes_linearized += FRAME_HEADER_SIZE + head_len;
        found = peer_payload_find(p + FRAME_HEADER_SIZE, head_len, body_len, &span);
        if (found != 1 && head_len < body_len) {
                /* DATA is not last, or lies after a long head: decode it all */
                p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_SIZE + body_len));
                if (!p)
                        goto nomem;
                c->stats.bytes_linearized += body_len - head_len;
                head_len = body_len;
                found = peer_payload_find(p + FRAME_HEADER_SIZE, head_len, body_len, &span);
        }
        if (found == 1) {
                copy = malloc(span.header_offset + 1);
                if (!copy)
                        goto nomem;
                memcpy(copy, p + FRAME_HEADER_SIZE, span.header_offset);
                copy[span.header_offset] = 0x40; /* the same message with an empty DATA */
                r = msg_decode(&peer_schema, copy, span.header_offset + 1, &m, &e);
                if (r >= 0 && span.data_len > PEER_DATA_MAX) {
                        e = (struct msg_error){ .status = PEER_STATUS_TOO_LARGE, .have_reqid = true,
                                                .reqid = msg_reqid(m) };
                        snprintf(e.text, sizeof(e.text), "DATA of %zu bytes is over the limit of %u bytes",
                                 span.data_len, PEER_DATA_MAX);
                        msg_free(m);
                        m = NULL;
                        r = -EMSGSIZE;
                }
                evbuffer_drain(in, FRAME_HEADER_SIZE + span.data_offset);
                if (r >= 0) {
                        payload.buf = evbuffer_new();
                        if (!payload.buf ||
                            evbuffer_remove_buffer(in, payload.buf, span.data_len) != (int)span.data_len) {
                                msg_free(m);
                                if (payload.buf)
                                        evbuffer_free(payload.buf);
                                peer_conn_end(c, -ENOMEM, "out of memory for the pack bytes of a message");
                                return;
                        }
                        payload.len = span.data_len;
                        c->stats.payload_bytes_received += span.data_len;
                } else {
                        evbuffer_drain(in, span.data_len);
                }
        } else {
                r = msg_decode(&peer_schema, p + FRAME_HEADER_SIZE, body_len, &m, &e);
                if (r >= 0) {
                        struct msg_map body = msg_body(m);

                        if (msg_map_get_item(&body, PEER_KEY_DATA)) {
                                e = (struct msg_error){ .status = PEER_STATUS_BAD_REQUEST, .have_reqid = true,
                                                        .reqid = msg_reqid(m) };
                                snprintf(e.text, sizeof(e.text), "DATA must be the last key of the body");
                                msg_free(m);
                                m = NULL;
                                r = -EBADMSG;
                        }
                }
                evbuffer_drain(in, FRAME_HEADER_SIZE + body_len);
        }
        if (r < 0) {
                input_on_bad_frame(c, &e);
                return;
        }
        if (msg_kind(m) == MSG_KIND_REQUEST)
                input_on_request(c, m, payload.buf ? &payload : NULL);
        else
                input_on_reply(c, m, payload.buf ? &payload : NULL);
        if (payload.buf)
                evbuffer_free(payload.buf);
        return;
nomem:
        peer_conn_end(c, -ENOMEM, "out of memory for a frame of %zu bytes", body_len);
}

/* Take every whole frame in the input, unless paused or closed. */
void peer_conn_input_process(struct peer_conn *c)
{
        peer_conn_ref(c);
        while (peer_conn_usable(c) && !c->read_paused) {
                struct evbuffer *in = bufferevent_get_input(c->bev);
                size_t avail = evbuffer_get_length(in), body_len = 0;
                uint8_t hdr[FRAME_HEADER_SIZE];
                int r;

                if (input_should_pause(c)) {
                        input_pause(c);
                        break;
                }
                if (avail < FRAME_HEADER_SIZE)
                        break;
                evbuffer_copyout(in, hdr, sizeof(hdr));
                r = frame_peek(hdr, avail, PEER_MAX_BODY, &body_len);
                if (r == -EMSGSIZE) {
                        peer_conn_end(c, -EMSGSIZE, "the peer announced a frame of %" PRIu32
                                   " bytes, over the limit of %u", frame_decode_header(hdr), PEER_MAX_BODY);
                        break;
                }
                if (r == 0)
                        break;
                c->frame_timing = false; /* the next frame's clock starts now */
                input_take_frame(c, body_len);
        }
        if (peer_conn_usable(c))
                peer_conn_input_clock(c);
        peer_conn_unref(c);
}
