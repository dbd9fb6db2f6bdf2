/* SPDX-License-Identifier: MIT */
/* Tests for proto/peer-payload.c, the walk that finds DATA at the end of a
 * peer frame body: real encoder output (PUT, GET result, LIST-like nested
 * maps), every truncation of the head, and hand-made hostile heads
 * (indefinite lengths, DATA not last, lengths past the frame, huge counts,
 * tags, floats, reserved values). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "peer-payload.h"
#include "peer.h"

/* ---- a tiny CBOR writer for hand-made bodies ---- */

struct out {
        uint8_t buf[4096];
        size_t len;
};

static void out_byte(struct out *o, uint8_t b)
{
        cr_assert_lt(o->len, sizeof(o->buf));
        o->buf[o->len++] = b;
}

/* A head in its shortest form. */
static void out_head(struct out *o, unsigned major, uint64_t v)
{
        int bytes;

        if (v < 24) {
                out_byte(o, (uint8_t)(major << 5 | v));
                return;
        }
        bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
        out_byte(o, (uint8_t)(major << 5 | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
        for (int i = bytes - 1; i >= 0; i--)
                out_byte(o, (uint8_t)(v >> (8 * i)));
}

static void out_bytes(struct out *o, uint8_t fill, size_t n)
{
        out_head(o, 2, n);
        for (size_t i = 0; i < n; i++)
                out_byte(o, fill);
}

/* [1, type, reqid, then the body map head with pairs pairs] */
static void out_envelope(struct out *o, unsigned type, uint64_t reqid, uint64_t pairs)
{
        out_head(o, 4, 4);
        out_head(o, 0, 1);
        out_head(o, 0, type);
        out_head(o, 0, reqid);
        out_head(o, 5, pairs);
}

static int find(const struct out *o, struct peer_payload_span *span)
{
        return peer_payload_find(o->buf, o->len, o->len, span);
}

/* Every shorter head of a body whose DATA head starts at header_offset: -EAGAIN
 * before it is readable, the same answer as the whole body from there on. */
static void check_prefixes(const uint8_t *body, size_t body_len, const struct peer_payload_span *want)
{
        for (size_t head = 0; head <= body_len; head++) {
                struct peer_payload_span span = { 0 };
                int r = peer_payload_find(body, head, body_len, &span);

                if (head < want->data_offset) {
                        cr_assert_eq(r, -EAGAIN, "head %zu of %zu: %d", head, body_len, r);
                } else {
                        cr_assert_eq(r, 1, "head %zu of %zu: %d", head, body_len, r);
                        cr_assert_eq(span.header_offset, want->header_offset);
                        cr_assert_eq(span.data_offset, want->data_offset);
                        cr_assert_eq(span.data_len, want->data_len);
                }
        }
}

/* ---- encoder output ---- */

static void encode_put(size_t data_len, uint8_t **ret, size_t *ret_len)
{
        static uint8_t data[70000];
        uint8_t pack[32];
        struct msg *m = peer_msg_new(PEER_TYPE_PUT, 300);
        struct msg_map body = msg_body(m);

        memset(pack, 0x11, sizeof(pack));
        memset(data, 0xd5, data_len);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 123456789), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, 987654321), 0);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, data, data_len), 0);
        cr_assert_eq(msg_encode(m, ret, ret_len), 0);
        msg_free(m);
}

Test(peer_payload, put_from_the_encoder)
{
        static const size_t sizes[] = { 0, 1, 23, 24, 255, 256, 65535, 65536, 70000 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                uint8_t *frame;
                size_t len, body_len;
                struct peer_payload_span span;

                encode_put(sizes[i], &frame, &len);
                body_len = len - FRAME_HEADER_SIZE;
                cr_assert_eq(peer_payload_find(frame + FRAME_HEADER_SIZE, body_len, body_len, &span), 1);
                cr_assert_eq(span.data_len, sizes[i]);
                cr_assert_eq(span.data_offset + span.data_len, body_len);
                cr_assert_eq(frame[FRAME_HEADER_SIZE + span.header_offset] >> 5, 2, "a byte string head");
                cr_assert_eq(frame[FRAME_HEADER_SIZE + span.header_offset - 2], 0x18, "key 33 = 0x18 0x21");
                cr_assert_eq(frame[FRAME_HEADER_SIZE + span.header_offset - 1], 0x21, "key 33 = 0x18 0x21");
                cr_assert_eq(frame[FRAME_HEADER_SIZE + span.header_offset], sizes[i] < 24 ? 0x40 + sizes[i]
                                                         : sizes[i] < 256     ? 0x58
                                                         : sizes[i] < 65536   ? 0x59
                                                                               : 0x5a);
                if (sizes[i] <= 256)
                        check_prefixes(frame + FRAME_HEADER_SIZE, body_len, &span);
                /* a head cut right before the data is all a receiver needs */
                cr_assert_eq(peer_payload_find(frame + FRAME_HEADER_SIZE, span.data_offset, body_len, &span), 1);
                /* the frame cut short: DATA would run past it */
                if (sizes[i] > 0)
                        cr_assert_eq(peer_payload_find(frame + FRAME_HEADER_SIZE, body_len - 1, body_len - 1,
                                                       &span),
                                     -EBADMSG);
                free(frame);
        }
}

Test(peer_payload, get_result_and_messages_without_data)
{
        uint8_t data[40] = { 0 }, *frame;
        size_t len;
        struct peer_payload_span span;
        struct msg *m = peer_msg_new(PEER_TYPE_RESULT, 7);
        struct msg_map body = msg_body(m);

        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, data, sizeof(data)), 0);
        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(peer_payload_find(frame + 4, len - 4, len - 4, &span), 1);
        cr_assert_eq(span.data_len, 40);
        free(frame);
        msg_free(m);

        /* a STAT: its last key is PACK */
        m = peer_msg_new(PEER_TYPE_STAT, 8);
        body = msg_body(m);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, data, 32), 0);
        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(peer_payload_find(frame + 4, len - 4, len - 4, &span), 0);
        free(frame);
        msg_free(m);

        /* a PING with an empty body */
        m = peer_msg_new(PEER_TYPE_PING, 9);
        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(peer_payload_find(frame + 4, len - 4, len - 4, &span), 0);
        free(frame);
        msg_free(m);
}

Test(peer_payload, head_longer_than_body_is_a_caller_error)
{
        struct out o = { 0 };
        struct peer_payload_span span;

        out_envelope(&o, PEER_TYPE_PUT, 1, 0);
        cr_assert_eq(peer_payload_find(o.buf, o.len, o.len - 1, &span), -EINVAL);
        cr_assert_eq(peer_payload_find(o.buf, 0, 0, &span), -EBADMSG);
}

/* ---- hand-made heads ---- */

Test(peer_payload, data_not_last)
{
        struct out o = { 0 };
        struct peer_payload_span span;

        out_envelope(&o, PEER_TYPE_PUT, 1, 2);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 10);
        out_head(&o, 0, PEER_KEY_PACK);
        out_bytes(&o, 0x11, 32);
        cr_assert_eq(find(&o, &span), 0);

        /* DATA last, but under a text key 33 or a negative key: not DATA */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 1);
        out_head(&o, 1, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 10);
        cr_assert_eq(find(&o, &span), 0);
}

Test(peer_payload, data_of_the_wrong_type_or_length)
{
        struct out o = { 0 };
        struct peer_payload_span span;
        size_t at;

        /* DATA is text */
        out_envelope(&o, PEER_TYPE_PUT, 1, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        out_head(&o, 3, 2);
        out_byte(&o, 'h');
        out_byte(&o, 'i');
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* DATA claims more bytes than the frame holds */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        at = o.len;
        out_bytes(&o, 0xee, 100);
        o.len -= 50;
        cr_assert_eq(find(&o, &span), -EBADMSG);
        /* ... or claims 2^64 - 1 */
        o.len = at;
        out_head(&o, 2, UINT64_MAX);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* bytes after DATA (trailing) */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 10);
        out_byte(&o, 0x00);
        cr_assert_eq(find(&o, &span), -EBADMSG);
}

Test(peer_payload, indefinite_lengths_are_refused)
{
        struct out o = { 0 };
        struct peer_payload_span span;

        /* indefinite envelope */
        out_byte(&o, 0x9f);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* indefinite body map */
        o.len = 0;
        out_head(&o, 4, 4);
        out_head(&o, 0, 1);
        out_head(&o, 0, PEER_TYPE_PUT);
        out_head(&o, 0, 1);
        out_byte(&o, 0xbf);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 3);
        out_byte(&o, 0xff);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* an indefinite byte string before DATA */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 2);
        out_head(&o, 0, PEER_KEY_PACK);
        out_byte(&o, 0x5f);
        out_bytes(&o, 0x11, 2);
        out_byte(&o, 0xff);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 3);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* an indefinite DATA */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        out_byte(&o, 0x5f);
        out_bytes(&o, 0xee, 3);
        out_byte(&o, 0xff);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        /* a break code where an item should be */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_PUT, 1, 2);
        out_byte(&o, 0xff);
        cr_assert_eq(find(&o, &span), -EBADMSG);
}

Test(peer_payload, tags_floats_and_reserved_values_are_refused)
{
        static const uint8_t bad[] = { 0xc0, 0xd8, 0xf9, 0xfa, 0xfb, 0xf8, 0x1c, 0x3d, 0x5e, 0xe0 };
        struct peer_payload_span span;

        for (size_t i = 0; i < sizeof(bad); i++) {
                struct out o = { 0 };

                out_envelope(&o, PEER_TYPE_PUT, 1, 2);
                out_head(&o, 0, PEER_KEY_OFFSET);
                out_byte(&o, bad[i]);
                for (int k = 0; k < 8; k++)
                        out_byte(&o, 0);
                out_head(&o, 0, PEER_KEY_DATA);
                out_bytes(&o, 0xee, 3);
                cr_assert_eq(find(&o, &span), -EBADMSG, "byte 0x%02x", bad[i]);
        }
        /* false, true, null and undefined are values a walk may meet */
        for (uint8_t b = 0xf4; b <= 0xf7; b++) {
                struct out o = { 0 };

                out_envelope(&o, PEER_TYPE_PUT, 1, 2);
                out_head(&o, 0, PEER_KEY_COMMIT);
                out_byte(&o, b);
                out_head(&o, 0, PEER_KEY_DATA);
                out_bytes(&o, 0xee, 3);
                cr_assert_eq(find(&o, &span), 1, "byte 0x%02x", b);
        }
}

Test(peer_payload, envelope_must_be_four_items_then_a_map)
{
        struct out o = { 0 };
        struct peer_payload_span span;

        out_head(&o, 4, 3);
        out_head(&o, 0, 1);
        out_head(&o, 0, 1);
        out_head(&o, 5, 0);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        o.len = 0;
        out_head(&o, 4, 4);
        out_head(&o, 0, 1);
        out_head(&o, 0, 1);
        out_head(&o, 0, 1);
        out_head(&o, 4, 0);
        cr_assert_eq(find(&o, &span), -EBADMSG);

        o.len = 0;
        out_head(&o, 5, 4);
        cr_assert_eq(find(&o, &span), -EBADMSG);
}

Test(peer_payload, huge_counts_do_not_overflow)
{
        static const uint64_t counts[] = { UINT64_MAX, UINT64_MAX / 2 + 1, UINT64_MAX / 2, 1ull << 62, 1000 };
        struct peer_payload_span span;

        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
                struct out o = { 0 };

                /* the body map itself */
                out_envelope(&o, PEER_TYPE_PUT, 1, counts[i]);
                out_head(&o, 0, PEER_KEY_DATA);
                out_bytes(&o, 0xee, 3);
                cr_assert_eq(find(&o, &span), -EBADMSG, "map of %llu", (unsigned long long)counts[i]);
                /* an array and a map inside */
                for (unsigned major = 4; major <= 5; major++) {
                        o.len = 0;
                        out_envelope(&o, PEER_TYPE_PUT, 1, 2);
                        out_head(&o, 0, PEER_KEY_ENTRIES);
                        out_head(&o, major, counts[i]);
                        out_head(&o, 0, PEER_KEY_DATA);
                        out_bytes(&o, 0xee, 3);
                        cr_assert_eq(find(&o, &span), -EBADMSG, "major %u of %llu", major,
                                     (unsigned long long)counts[i]);
                }
                /* a string length */
                o.len = 0;
                out_envelope(&o, PEER_TYPE_PUT, 1, 2);
                out_head(&o, 0, PEER_KEY_PACK);
                out_head(&o, 2, counts[i]);
                out_head(&o, 0, PEER_KEY_DATA);
                out_bytes(&o, 0xee, 3);
                cr_assert_eq(find(&o, &span), -EBADMSG);
        }
}

Test(peer_payload, nested_list_like_maps)
{
        struct out o = { 0 };
        struct peer_payload_span span, want;

        /* {ENTRIES: [{PACK, SIZE, DATA: h''}, {PACK, SIZE, DELETED_AT: -1, DATA: h'..'}], MORE: true, DATA: ...} */
        out_envelope(&o, PEER_TYPE_RESULT, 77, 3);
        out_head(&o, 0, PEER_KEY_ENTRIES);
        out_head(&o, 4, 2);
        out_head(&o, 5, 3);
        out_head(&o, 0, PEER_KEY_PACK);
        out_bytes(&o, 0x01, 32);
        out_head(&o, 0, PEER_KEY_SIZE);
        out_head(&o, 0, 1u << 30);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0x02, 0);
        out_head(&o, 5, 4);
        out_head(&o, 0, PEER_KEY_PACK);
        out_bytes(&o, 0x03, 32);
        out_head(&o, 0, PEER_KEY_SIZE);
        out_head(&o, 0, 5);
        out_head(&o, 0, PEER_KEY_DELETED_AT);
        out_head(&o, 1, 0);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0x04, 5);
        out_head(&o, 0, PEER_KEY_MORE);
        out_byte(&o, 0xf5);
        out_head(&o, 0, PEER_KEY_DATA);
        want.header_offset = o.len;
        out_bytes(&o, 0x05, 300);
        want.data_offset = want.header_offset + 3;
        want.data_len = 300;
        cr_assert_eq(find(&o, &span), 1);
        cr_assert_eq(span.header_offset, want.header_offset);
        cr_assert_eq(span.data_len, 300);
        check_prefixes(o.buf, o.len, &want);

        /* the nested maps end with DATA, the body does not: no payload */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_RESULT, 77, 2);
        out_head(&o, 0, PEER_KEY_MORE);
        out_byte(&o, 0xf4);
        out_head(&o, 0, PEER_KEY_ENTRIES);
        out_head(&o, 4, 1);
        out_head(&o, 5, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0x06, 20);
        cr_assert_eq(find(&o, &span), 0);

        /* the body map one pair short: its count runs past the frame */
        o.len = 0;
        out_envelope(&o, PEER_TYPE_RESULT, 77, 2);
        out_head(&o, 0, PEER_KEY_ENTRIES);
        out_head(&o, 4, 1);
        out_head(&o, 5, 2);
        out_head(&o, 0, PEER_KEY_SIZE);
        out_head(&o, 0, 1);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0x06, 2);
        cr_assert_lt(find(&o, &span), 0);
}

Test(peer_payload, truncated_heads)
{
        struct out o = { 0 };
        struct peer_payload_span span;
        size_t full;

        out_envelope(&o, PEER_TYPE_PUT, 100000, 2);
        out_head(&o, 0, PEER_KEY_OFFSET);
        out_head(&o, 0, UINT64_MAX);
        out_head(&o, 0, PEER_KEY_DATA);
        out_bytes(&o, 0xee, 1000);
        full = o.len;
        cr_assert_eq(find(&o, &span), 1);
        /* the frame itself cut anywhere before the data's end: never found, never a read past it */
        for (size_t len = 0; len < full; len++)
                cr_assert_lt(peer_payload_find(o.buf, len, len, &span), 0, "cut at %zu", len);
}

/* ---- the send side ---- */

static struct msg *put_without_data(void)
{
        uint8_t pack[32];
        struct msg *m = peer_msg_new(PEER_TYPE_PUT, 0);
        struct msg_map body = msg_body(m);

        memset(pack, 0x77, sizeof(pack));
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 4096), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, 1u << 24), 0);
        return m;
}

Test(peer_payload, frame_head_then_the_bytes_is_the_whole_message)
{
        static const size_t sizes[] = { 0, 1, 23, 24, 300, 70000 };
        static const uint64_t reqids[] = { 0, 23, 24, 65536, 1ull << 40, UINT64_MAX };
        static uint8_t data[70000];
        struct msg *m = put_without_data(), *back;
        uint8_t *enc, *head, *frame;
        size_t enc_len, head_len;
        struct msg_error e;
        struct msg_map body;
        const uint8_t *p;
        size_t n;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 13 + 1);
        cr_assert_eq(peer_payload_encode(m, true, &enc, &enc_len), 0);
        cr_assert_eq(enc[enc_len - 1], 0x40, "DATA is the empty byte string at the end");
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                for (size_t k = 0; k < sizeof(reqids) / sizeof(reqids[0]); k++) {
                        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, reqids[k], true, sizes[s], &head,
                                                             &head_len),
                                     0);
                        cr_assert_leq(head_len, enc_len + PEER_PAYLOAD_HEAD_GROWTH);
                        cr_assert_eq(frame_decode_header(head), head_len - FRAME_HEADER_SIZE + sizes[s]);
                        frame = malloc(head_len + sizes[s]);
                        memcpy(frame, head, head_len);
                        memcpy(frame + head_len, data, sizes[s]);
                        cr_assert_eq(msg_decode(&peer_schema, frame + FRAME_HEADER_SIZE,
                                                head_len - FRAME_HEADER_SIZE + sizes[s], &back, &e),
                                     0, "%s", e.text);
                        cr_assert_eq(msg_reqid(back), reqids[k]);
                        cr_assert_eq(msg_type(back), PEER_TYPE_PUT);
                        body = msg_body(back);
                        cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_DATA, &p, &n), 0);
                        cr_assert_eq(n, sizes[s]);
                        cr_assert_eq(memcmp(p, data, n), 0);
                        cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_PACK, &p, &n), 0);
                        cr_assert_eq(p[0], 0x77);
                        msg_free(back);
                        free(frame);
                        free(head);
                }
        }
        /* the largest DATA fits; one byte more does not */
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, 1, true, PEER_DATA_MAX, &head, &head_len), 0);
        cr_assert_eq(frame_decode_header(head), head_len - FRAME_HEADER_SIZE + PEER_DATA_MAX);
        free(head);
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, 1, true, PEER_DATA_MAX + 1, &head, &head_len),
                     -EMSGSIZE);
        /* the request id kept */
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, false, 99, true, 0, &head, &head_len), 0);
        cr_assert_eq(head_len, enc_len);
        cr_assert_eq(memcmp(head, enc, enc_len), 0);
        free(head);
        /* a frame length that does not match, a frame cut short */
        enc[3]++;
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, 1, true, 0, &head, &head_len), -EINVAL);
        enc[3]--;
        cr_assert_eq(peer_payload_frame_head(enc, 3, true, 1, true, 0, &head, &head_len), -EINVAL);
        free(enc);
        msg_free(m);
}

Test(peer_payload, messages_without_data)
{
        uint8_t pack[32] = { 1 }, *enc, *head;
        size_t enc_len, head_len;
        struct msg *m = peer_msg_new(PEER_TYPE_STAT, 3), *back;
        struct msg_map body = msg_body(m);
        struct msg_error e;

        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        /* DATA is not a key of STAT */
        cr_assert_eq(peer_payload_encode(m, true, &enc, &enc_len), -EINVAL);
        cr_assert_eq(peer_payload_encode(m, false, &enc, &enc_len), 0);
        /* no DATA to put bytes after */
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, 1, true, 10, &head, &head_len), -EINVAL);
        cr_assert_eq(peer_payload_frame_head(enc, enc_len, true, 1000, false, 10, &head, &head_len), 0);
        cr_assert_eq(frame_decode_header(head), head_len - FRAME_HEADER_SIZE, "data_len ignored without data");
        cr_assert_eq(msg_decode(&peer_schema, head + FRAME_HEADER_SIZE, head_len - FRAME_HEADER_SIZE, &back, &e), 0,
                     "%s", e.text);
        cr_assert_eq(msg_reqid(back), 1000);
        msg_free(back);
        free(head);
        free(enc);
        msg_free(m);
}

Test(peer_payload, data_set_before_another_key_is_refused)
{
        uint8_t *enc = NULL;
        size_t enc_len;
        struct msg *m = put_without_data();
        struct msg_map body = msg_body(m);

        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, "abc", 3), 0);
        cr_assert_eq(msg_map_set_bool(&body, PEER_KEY_COMMIT, true), 0);
        cr_assert_eq(peer_payload_encode(m, true, &enc, &enc_len), -EINVAL);
        cr_assert_null(enc);
        msg_free(m);
}
