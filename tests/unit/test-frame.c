/* SPDX-License-Identifier: MIT */
/* Tests for proto/frame.c: header byte order, incremental completeness on a
 * byte-by-byte stream, the size cap, and the NULL-buffer case of an evbuffer
 * that holds fewer than 4 bytes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "frame.h"

Test(frame, header_is_big_endian)
{
        uint8_t h[FRAME_HEADER_SIZE];

        frame_encode_header(0x01020304, h);
        cr_assert_eq(h[0], 1);
        cr_assert_eq(h[1], 2);
        cr_assert_eq(h[2], 3);
        cr_assert_eq(h[3], 4);
        cr_assert_eq(frame_decode_header(h), 0x01020304);
        frame_encode_header(UINT32_MAX, h);
        cr_assert_eq(frame_decode_header(h), UINT32_MAX);
}

Test(frame, peek_needs_header_then_body)
{
        uint8_t buf[FRAME_HEADER_SIZE + 10];
        size_t body = 12345;

        frame_encode_header(10, buf);
        memset(buf + FRAME_HEADER_SIZE, 'x', 10);
        cr_assert_eq(frame_peek(NULL, 0, 100, &body), 0);
        cr_assert_eq(body, 12345, "body length set before the header was complete");
        for (size_t avail = 1; avail < FRAME_HEADER_SIZE; avail++)
                cr_assert_eq(frame_peek(buf, avail, 100, &body), 0);
        for (size_t avail = FRAME_HEADER_SIZE; avail < sizeof(buf); avail++) {
                cr_assert_eq(frame_peek(buf, avail, 100, &body), 0, "avail %zu", avail);
                cr_assert_eq(body, 10);
        }
        cr_assert_eq(frame_peek(buf, sizeof(buf), 100, &body), 1);
        cr_assert_eq(body, 10);
        /* more bytes (the next frame) after it change nothing */
        cr_assert_eq(frame_peek(buf, sizeof(buf) + 100, 100, &body), 1);
}

Test(frame, empty_body_is_complete)
{
        uint8_t buf[FRAME_HEADER_SIZE];
        size_t body = 1;

        frame_encode_header(0, buf);
        cr_assert_eq(frame_peek(buf, sizeof(buf), 100, &body), 1);
        cr_assert_eq(body, 0);
}

Test(frame, over_max_is_refused_from_the_header_alone)
{
        uint8_t buf[FRAME_HEADER_SIZE];
        size_t body = 7;

        frame_encode_header(1024 * 1024 + 1, buf);
        cr_assert_eq(frame_peek(buf, sizeof(buf), 1024 * 1024, &body), -EMSGSIZE);
        cr_assert_eq(body, 7, "body length changed on failure");
        frame_encode_header(1024 * 1024, buf);
        cr_assert_eq(frame_peek(buf, sizeof(buf), 1024 * 1024, &body), 0);
        cr_assert_eq(body, 1024 * 1024);
        frame_encode_header(UINT32_MAX, buf);
        cr_assert_eq(frame_peek(buf, sizeof(buf), 16 * 1024 * 1024 + 64, &body), -EMSGSIZE);
}
