/* SPDX-License-Identifier: MIT */
/* Framing shared by the control and peer protocols: a 4-byte big-endian body
 * length, then the body (one CBOR item). Works on plain buffers and on the
 * first bytes of an evbuffer alike; knows nothing of libevent or CBOR.
 *
 *   +--------+--------+--------+--------+==================+
 *   |   body length (uint32, big endian) |  body (length B) |
 *   +--------+--------+--------+--------+==================+
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 4

/* Write the length header for a body of len bytes into out. */
void frame_encode_header(uint32_t len, uint8_t out[FRAME_HEADER_SIZE]);
/* Body length declared by a 4-byte header. */
uint32_t frame_decode_header(const uint8_t in[FRAME_HEADER_SIZE]);
/* Look at the first avail bytes of a stream (buf needs only the first
 * min(avail, 4) of them contiguous; NULL is fine when avail < 4): 1 when a
 * whole frame (header + body) is there, 0 when more bytes are needed,
 * -EMSGSIZE when the header declares a body over max. *ret_body_len is set
 * whenever the header is complete (results 1 and 0). */
int frame_peek(const uint8_t *buf, size_t avail, size_t max, size_t *ret_body_len);
