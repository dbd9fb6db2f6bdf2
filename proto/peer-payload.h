/* SPDX-License-Identifier: MIT */
/* Pack bytes of a peer frame without copies, both ways. Receiving: a walk
 * over the CBOR heads of a frame body's first bytes that finds the DATA byte
 * string when it is the last pair of the body map (proto/peer.def's rule),
 * so a receiver can move those bytes instead of copying them through libcbor
 * (no allocation; the strict decode stays msg_decode's). Sending: the frame
 * head that goes before bytes sent by reference. No I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* The most peer_payload_frame_head makes a frame grow: a request id (up to 9
 * bytes for 1) and DATA's byte-string head (up to 9 for 1). */
#define PEER_PAYLOAD_HEAD_GROWTH 16

/* Where DATA sits in a frame body (offsets from the body's first byte). */
struct peer_payload_span {
        size_t header_offset; /* DATA's byte-string head */
        size_t data_offset;   /* the first pack byte: header_offset + the head's length */
        size_t data_len;      /* data_offset + data_len == the body's length */
};

/* Walk the first head_len bytes of a frame body of body_len bytes (head_len <= body_len):
 * the envelope [version, type, request id, body map] whose map's LAST pair is key DATA with a
 * definite byte string ending exactly at the end of the body. Every head walked is checked:
 * no indefinite lengths, reserved values, tags or floats, no count or length past the body.
 * 1: found, *ret_span set. 0: well formed up to the map's last pair, which is not DATA (or the
 * map is empty). -EAGAIN: the head ends before DATA's head is reached (walk more of the body).
 * -EBADMSG: malformed, or DATA's value is not a byte string ending at the body's end.
 * -EINVAL: head_len > body_len. */
int peer_payload_find(const uint8_t *head, size_t head_len, size_t body_len,
                      struct peer_payload_span *ret_span);

/* msg_encode m as a frame; with with_data, DATA is first set to an empty byte string
 * (m is changed), which must then be the last key of the body: -EINVAL when it is not
 * (DATA was set before, in another place) or the type has no DATA; else as msg_encode. */
int peer_payload_encode(struct msg *m, bool with_data, uint8_t **ret, size_t *ret_len);
/* The head of the frame to send for frame (peer_payload_encode's output): its request id
 * replaced by reqid when set_reqid, and with with_data the empty DATA that ends it replaced
 * by the head of a byte string of data_len bytes, the frame length counting them: the
 * data bytes follow the head as they are. A new malloc'ed buffer. -EINVAL (frame not
 * like that), -EMSGSIZE (over PEER_DATA_MAX or PEER_MAX_BODY), -ENOMEM. */
int peer_payload_frame_head(const uint8_t *frame, size_t frame_len, bool set_reqid, uint64_t reqid,
                            bool with_data, size_t data_len, uint8_t **ret, size_t *ret_len);
