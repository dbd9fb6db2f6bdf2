/* SPDX-License-Identifier: MIT */
/* Locating the pack bytes of a peer frame without decoding them: a walk over
 * the CBOR heads of a frame body's first bytes that finds the DATA byte
 * string when it is the last pair of the body map (proto/peer.def's rule), so
 * a receiver can move those bytes instead of copying them through libcbor.
 * Pure code: no I/O, no allocation; the strict decode stays msg_decode's. */
#pragma once

#include <stddef.h>
#include <stdint.h>

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
