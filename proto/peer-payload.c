/* SPDX-License-Identifier: MIT */
/* The DATA-last walk of proto/peer-payload.h: reads CBOR heads only (a string's
 * bytes are stepped over, never read), keeps a count of items still to skip
 * instead of recursing, and checks every count and length against the bytes
 * the body has left before using it. The strict checks of the rest of the
 * message are msg_decode's, on the head the caller copies out. Then the send
 * side: encoding with an empty DATA and rewriting the frame's head. */
#include "peer-payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cbor-check.h"
#include "frame.h"
#include "peer.h"

enum {
        MAJOR_UINT = 0,
        MAJOR_NEGINT = 1,
        MAJOR_BYTES = 2,
        MAJOR_TEXT = 3,
        MAJOR_ARRAY = 4,
        MAJOR_MAP = 5,
        MAJOR_TAG = 6,
        MAJOR_SIMPLE = 7,
};

struct walker {
        const uint8_t *buf;
        size_t avail; /* bytes of buf we may read */
        size_t end;   /* the body's length */
        size_t pos;
};

/* Read one head: -EAGAIN when it lies (partly) beyond the readable bytes,
 * -EBADMSG when it is beyond the body or of a kind no peer message has. */
static int walker_head(struct walker *w, unsigned *ret_major, uint64_t *ret_value)
{
        uint64_t value;
        unsigned major, info;
        size_t n;

        if (w->pos >= w->end)
                return -EBADMSG;
        if (w->pos >= w->avail)
                return -EAGAIN;
        major = w->buf[w->pos] >> 5;
        info = w->buf[w->pos] & 0x1f;
        if (info < 24)
                n = 0;
        else if (info <= 27)
                n = (size_t)1 << (info - 24);
        else
                return -EBADMSG; /* 28..30 reserved, 31 indefinite length or break */
        if (n > w->end - w->pos - 1)
                return -EBADMSG;
        if (n > w->avail - w->pos - 1)
                return -EAGAIN;
        if (major == MAJOR_TAG)
                return -EBADMSG;
        /* false, true, null, undefined; no other simple values, no floats */
        if (major == MAJOR_SIMPLE && (info < 20 || info > 23))
                return -EBADMSG;
        value = n == 0 ? info : 0;
        for (size_t i = 1; i <= n; i++)
                value = value << 8 | w->buf[w->pos + i];
        w->pos += 1 + n;
        *ret_major = major;
        *ret_value = value;
        return 0;
}

/* Step over count whole items. Each item takes at least one byte, so the
 * items still to skip never exceed the bytes left: no overflow. */
static int walker_skip(struct walker *w, uint64_t count)
{
        unsigned major;
        uint64_t value, add;
        size_t left;
        int r;

        while (count > 0) {
                if (count > w->end - w->pos)
                        return -EBADMSG;
                r = walker_head(w, &major, &value);
                if (r < 0)
                        return r;
                count--;
                left = w->end - w->pos;
                switch (major) {
                case MAJOR_BYTES:
                case MAJOR_TEXT:
                        if (value > left)
                                return -EBADMSG;
                        w->pos += value;
                        break;
                case MAJOR_ARRAY:
                case MAJOR_MAP:
                        if (major == MAJOR_MAP && value > left / 2)
                                return -EBADMSG;
                        add = major == MAJOR_MAP ? 2 * value : value;
                        if (count > left || add > left - count)
                                return -EBADMSG;
                        count += add;
                        break;
                default:
                        break;
                }
        }
        return 0;
}

int peer_payload_find(const uint8_t *head, size_t head_len, size_t body_len,
                      struct peer_payload_span *ret_span)
{
        struct walker w = { .buf = head, .avail = head_len, .end = body_len };
        size_t header_offset;
        unsigned major;
        uint64_t value, pairs;
        int r;

        if (head_len > body_len)
                return -EINVAL;
        r = walker_head(&w, &major, &value);
        if (r < 0)
                return r;
        if (major != MAJOR_ARRAY || value != 4)
                return -EBADMSG;
        r = walker_skip(&w, 3); /* version, type, request id */
        if (r < 0)
                return r;
        r = walker_head(&w, &major, &pairs);
        if (r < 0)
                return r;
        if (major != MAJOR_MAP)
                return -EBADMSG;
        if (pairs == 0)
                return 0;
        if (pairs - 1 > (w.end - w.pos) / 2)
                return -EBADMSG;
        r = walker_skip(&w, 2 * (pairs - 1));
        if (r < 0)
                return r;
        r = walker_head(&w, &major, &value);
        if (r < 0)
                return r;
        if (major != MAJOR_UINT || value != PEER_KEY_DATA)
                return 0;
        header_offset = w.pos;
        r = walker_head(&w, &major, &value);
        if (r < 0)
                return r;
        if (major != MAJOR_BYTES || value != w.end - w.pos)
                return -EBADMSG;
        *ret_span = (struct peer_payload_span){
                .header_offset = header_offset,
                .data_offset = w.pos,
                .data_len = (size_t)value,
        };
        return 1;
}

int peer_payload_encode(struct msg *m, bool with_data, uint8_t **ret, size_t *ret_len)
{
        struct peer_payload_span span;
        struct msg_map body;
        uint8_t *enc;
        size_t len;
        int r;

        if (with_data) {
                body = msg_body(m);
                r = msg_map_set_bytes(&body, PEER_KEY_DATA, "", 0);
                if (r < 0)
                        return r;
        }
        r = msg_encode(m, &enc, &len);
        if (r < 0)
                return r;
        if (with_data && (peer_payload_find(enc + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE,
                                           len - FRAME_HEADER_SIZE, &span) != 1 ||
                         span.data_len != 0)) {
                free(enc);
                return -EINVAL; /* DATA was set before, in another place */
        }
        *ret = enc;
        *ret_len = len;
        return 0;
}

int peer_payload_frame_head(const uint8_t *frame, size_t frame_len, bool set_reqid, uint64_t reqid,
                            bool with_data, size_t data_len, uint8_t **ret, size_t *ret_len)
{
        const uint8_t *body = frame + FRAME_HEADER_SIZE;
        size_t body_len, from = 0, tail_end, len;
        struct peer_payload_span span;
        struct cbor_check_reader rd;
        uint64_t n;
        uint8_t *out;

        if (frame_len <= FRAME_HEADER_SIZE || frame_decode_header(frame) != frame_len - FRAME_HEADER_SIZE)
                return -EINVAL;
        body_len = tail_end = frame_len - FRAME_HEADER_SIZE;
        if (!with_data)
                data_len = 0;
        if (with_data) {
                /* the body ends with DATA, an empty byte string: 0x40 */
                if (peer_payload_find(body, body_len, body_len, &span) != 1 || span.data_len != 0)
                        return -EINVAL;
                tail_end = span.header_offset;
        }
        out = malloc(frame_len + PEER_PAYLOAD_HEAD_GROWTH);
        if (!out)
                return -ENOMEM;
        len = FRAME_HEADER_SIZE;
        if (set_reqid) {
                cbor_check_reader_init(&rd, body, body_len);
                if (cbor_check_read_array(&rd, &n) < 0 || n != 4 || cbor_check_read_uint(&rd, &n) < 0 ||
                    cbor_check_read_uint(&rd, &n) < 0) {
                        free(out);
                        return -EINVAL;
                }
                memcpy(out + len, body, rd.pos);
                len += rd.pos;
                if (cbor_check_read_uint(&rd, &n) < 0 || rd.pos > tail_end) {
                        free(out);
                        return -EINVAL;
                }
                len += cbor_encode_uint(reqid, out + len, 9);
                from = rd.pos;
        }
        memcpy(out + len, body + from, tail_end - from);
        len += tail_end - from;
        if (with_data)
                len += cbor_encode_bytestring_start(data_len, out + len, 9);
        if (data_len > PEER_DATA_MAX || len - FRAME_HEADER_SIZE > PEER_MAX_BODY - data_len) {
                free(out);
                return -EMSGSIZE;
        }
        frame_encode_header((uint32_t)(len - FRAME_HEADER_SIZE + data_len), out);
        *ret = out;
        *ret_len = len;
        return 0;
}
