/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the peer protocol's receive path: any input is a
 * frame body, walked by peer_payload_find (whole and cut short) and decoded
 * as daemon/peer-conn.c does: with DATA found last, the head with an empty
 * DATA; else the whole body. Invariants: a cut head answers the same or
 * "need more"; a body that decodes whole also decodes from its head; what
 * decodes re-encodes to bytes that decode and re-encode the same, DATA still
 * last, and peer_payload_frame_head puts the bytes back where the walk finds
 * them; refusals carry a known status and a sentence. docs/fuzzing.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "peer-payload.h"
#include "peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const struct msg_error *e)
{
        if (!peer_status_name(e->status) || e->text[0] == '\0')
                abort();
}

/* Re-encode m, decode, re-encode: the same bytes; with_data: DATA still last,
 * and the head made to send data_len bytes after it has them where the walk
 * looks for them. */
static void check_round_trip(const struct msg *m, bool with_data, size_t data_len)
{
        struct peer_payload_span span;
        struct msg *again = NULL;
        struct msg_error e;
        uint8_t *first = NULL, *second = NULL, *head;
        size_t first_len, second_len, head_len;

        if (msg_encode(m, &first, &first_len) < 0)
                abort();
        if (msg_decode(&peer_schema, first + FRAME_HEADER_SIZE, first_len - FRAME_HEADER_SIZE, &again, &e) < 0)
                abort();
        if (msg_type(again) != msg_type(m) || msg_reqid(again) != msg_reqid(m))
                abort();
        if (msg_encode(again, &second, &second_len) < 0)
                abort();
        if (first_len != second_len || memcmp(first, second, first_len) != 0)
                abort();
        if (with_data && (peer_payload_find(first + FRAME_HEADER_SIZE, first_len - FRAME_HEADER_SIZE,
                                            first_len - FRAME_HEADER_SIZE, &span) != 1 ||
                          span.data_len != 0))
                abort();
        if (with_data) {
                int r = peer_payload_frame_head(first, first_len, true, data_len * 31, true, data_len, &head,
                                                &head_len);

                if (r == -EMSGSIZE && (data_len > PEER_DATA_MAX ||
                                       data_len + first_len + PEER_PAYLOAD_HEAD_GROWTH > PEER_MAX_BODY))
                        goto out; /* too much for one frame: refusing is right */
                if (r < 0)
                        abort();
                if (frame_decode_header(head) != head_len - FRAME_HEADER_SIZE + data_len ||
                    peer_payload_find(head + FRAME_HEADER_SIZE, head_len - FRAME_HEADER_SIZE,
                                      head_len - FRAME_HEADER_SIZE + data_len, &span) != 1 ||
                    span.data_offset != head_len - FRAME_HEADER_SIZE || span.data_len != data_len)
                        abort();
                free(head);
        }
out:
        free(first);
        free(second);
        msg_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct peer_payload_span span = { 0 }, cut_span;
        struct msg *whole = NULL, *head = NULL;
        struct msg_error e;
        uint8_t *copy;
        size_t body;
        int found, r;

        (void)frame_peek(data, size, PEER_MAX_BODY, &body);

        found = peer_payload_find(data, size, size, &span);
        if (found != 1 && found != 0 && found != -EBADMSG)
                abort();
        if (found == 1 && (span.header_offset >= span.data_offset || span.data_offset > size ||
                           span.data_len != size - span.data_offset || data[span.header_offset] >> 5 != 2))
                abort();
        /* every cut of the head: the same answer, or "walk more" */
        for (size_t cut = 0; cut < size; cut += 1 + cut / 8) {
                r = peer_payload_find(data, cut, size, &cut_span);
                if (r != -EAGAIN && r != found)
                        abort();
                if (found == 1 && cut >= span.data_offset && r != 1)
                        abort();
                if (r == 1 && memcmp(&cut_span, &span, sizeof(span)) != 0)
                        abort();
        }

        r = msg_decode(&peer_schema, data, size, &whole, &e);
        if (r < 0)
                check_refusal(&e);
        if (found == 1) {
                copy = malloc(span.header_offset + 1);
                if (!copy)
                        abort();
                memcpy(copy, data, span.header_offset);
                copy[span.header_offset] = 0x40;
                if (msg_decode(&peer_schema, copy, span.header_offset + 1, &head, &e) < 0) {
                        check_refusal(&e);
                        if (whole) /* an empty DATA cannot make a good message bad */
                                abort();
                } else {
                        if (whole && (msg_type(whole) != msg_type(head) || msg_reqid(whole) != msg_reqid(head)))
                                abort();
                        check_round_trip(head, true, span.data_len);
                }
                free(copy);
        }
        if (whole)
                check_round_trip(whole, false, 0);
        msg_free(head);
        msg_free(whole);
        return 0;
}
