/* SPDX-License-Identifier: MIT */
/* Length-prefix framing: header encode/decode and the incremental "is a whole
 * frame there yet" check with the size cap. No I/O, no allocation. */
#include "frame.h"

#include <errno.h>

void frame_encode_header(uint32_t len, uint8_t out[FRAME_HEADER_SIZE])
{
        out[0] = (uint8_t)(len >> 24);
        out[1] = (uint8_t)(len >> 16);
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
}

uint32_t frame_decode_header(const uint8_t in[FRAME_HEADER_SIZE])
{
        return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

int frame_peek(const uint8_t *buf, size_t avail, size_t max, size_t *ret_body_len)
{
        size_t body;

        if (avail < FRAME_HEADER_SIZE)
                return 0;
        body = frame_decode_header(buf);
        if (body > max)
                return -EMSGSIZE;
        *ret_body_len = body;
        return avail - FRAME_HEADER_SIZE >= body;
}
