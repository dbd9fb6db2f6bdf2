/* SPDX-License-Identifier: MIT */
/* Tests for the peer schema (proto/peer.c, proto/peer.def) through the generic
 * codec: a PUT survives encode and strict decode with DATA as the last key,
 * every status maps to an errno and back, and messages missing a required key
 * are refused on both sides. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "peer.h"

Test(peer, put_round_trip_with_data_last)
{
        uint8_t pack[32], data[300], *frame = NULL;
        size_t len, n;
        const uint8_t *p;
        uint64_t u;
        bool b;
        struct msg *m = peer_msg_new(PEER_TYPE_PUT, 42), *back = NULL;
        struct msg_error e;
        struct msg_map body;

        cr_assert_not_null(m);
        memset(pack, 0xab, sizeof(pack));
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7);
        body = msg_body(m);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 1u << 20), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, 5u << 20), 0);
        cr_assert_eq(msg_map_set_bool(&body, PEER_KEY_COMMIT, true), 0);
        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_DATA, data, sizeof(data)), 0);
        /* keys a PUT does not declare are refused by the setters */
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_LIMIT, 3), -EINVAL);
        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        cr_assert_eq(frame_decode_header(frame), len - FRAME_HEADER_SIZE);
        /* DATA is the last key: its bytes end the frame, right after its head 0x59 0x01 0x2c */
        cr_assert_eq(memcmp(frame + len - sizeof(data), data, sizeof(data)), 0);
        cr_assert_eq(frame[len - sizeof(data) - 3], 0x59);

        cr_assert_eq(msg_decode(&peer_schema, frame + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE, &back, &e), 0,
                     "%s", e.text);
        cr_assert_eq(msg_type(back), PEER_TYPE_PUT);
        cr_assert_eq(msg_reqid(back), 42);
        cr_assert_eq(msg_version(back), PEER_PROTOCOL_VERSION);
        body = msg_body(back);
        cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_PACK, &p, &n), 0);
        cr_assert_eq(n, 32);
        cr_assert_eq(memcmp(p, pack, 32), 0);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_OFFSET, &u), 0);
        cr_assert_eq(u, 1u << 20);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_SIZE, &u), 0);
        cr_assert_eq(u, 5u << 20);
        cr_assert_eq(msg_map_get_bool(&body, PEER_KEY_COMMIT, &b), 0);
        cr_assert(b);
        cr_assert_eq(msg_map_get_bytes(&body, PEER_KEY_DATA, &p, &n), 0);
        cr_assert_eq(n, sizeof(data));
        cr_assert_eq(memcmp(p, data, n), 0);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_DURABLE, &u), -ENOENT);
        free(frame);
        msg_free(back);
        msg_free(m);
}

Test(peer, put_without_data_is_not_encoded)
{
        uint8_t pack[32] = { 0 }, *frame = NULL;
        size_t len;
        struct msg *m = peer_msg_new(PEER_TYPE_PUT, 1);
        struct msg_map body = msg_body(m);

        cr_assert_eq(msg_map_set_bytes(&body, PEER_KEY_PACK, pack, sizeof(pack)), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_OFFSET, 0), 0);
        cr_assert_eq(msg_map_set_uint(&body, PEER_KEY_SIZE, 10), 0);
        cr_assert_eq(msg_encode(m, &frame, &len), -EINVAL);
        cr_assert_null(frame);
        msg_free(m);
}

Test(peer, every_status_maps_to_an_errno_and_back)
{
        for (size_t i = 0; i < peer_schema.n_statuses; i++) {
                uint32_t status = peer_schema.statuses[i].number;
                int err = peer_status_to_errno(status);

                cr_assert_not_null(peer_status_name(status));
                cr_assert_not_null(peer_status_id(status));
                if (status == PEER_STATUS_OK)
                        cr_assert_eq(err, 0);
                else
                        cr_assert_lt(err, 0, "status %s maps to %d", peer_status_id(status), err);
                cr_assert_eq(peer_status_from_errno(err), status, "status %s -> %d -> %u",
                             peer_status_id(status), err, peer_status_from_errno(err));
                /* the sign of the errno does not matter on the way back */
                cr_assert_eq(peer_status_from_errno(-err), status);
        }
        cr_assert_eq(peer_status_to_errno(PEER_STATUS_QUOTA), -EDQUOT);
        cr_assert_eq(peer_status_to_errno(PEER_STATUS_NOT_FOUND), -ENOENT);
        cr_assert_eq(peer_status_to_errno(PEER_STATUS_MISMATCH), -EBADMSG);
        cr_assert_eq(peer_status_to_errno(PEER_STATUS_RANGE), -ERANGE);
        /* an unknown status is a remote error; unknown or disk errnos are INTERNAL / IO */
        cr_assert_eq(peer_status_to_errno(9999), -EREMOTEIO);
        cr_assert_eq(peer_status_from_errno(-ENOSPC), PEER_STATUS_IO);
        cr_assert_eq(peer_status_from_errno(-EROFS), PEER_STATUS_IO);
        cr_assert_eq(peer_status_from_errno(-ENOTTY), PEER_STATUS_INTERNAL);
        cr_assert_null(peer_status_name(9999));
        cr_assert_str_eq(peer_type_name(PEER_TYPE_PROVE), "prove");
        cr_assert_null(peer_type_name(12345));
}

Test(peer, hello_without_protocol_min_is_refused)
{
        /* [1, HELLO, 5, {PROTOCOL_MAX: 1, MAX_FRAME: 1000}] */
        static const uint8_t body[] = { 0x84, 0x01, 0x01, 0x05, 0xa2, 0x04, 0x01, 0x07, 0x19, 0x03, 0xe8 };
        /* the same with PROTOCOL_MIN: 1 added */
        static const uint8_t good[] = { 0x84, 0x01, 0x01, 0x05, 0xa3, 0x03, 0x01, 0x04,
                                        0x01, 0x07, 0x19, 0x03, 0xe8 };
        struct msg *m = NULL;
        struct msg_error e;
        struct msg_map mb;
        uint8_t *frame = NULL;
        size_t len;

        cr_assert_eq(msg_decode(&peer_schema, body, sizeof(body), &m, &e), -EBADMSG);
        cr_assert_null(m);
        cr_assert_eq(e.status, PEER_STATUS_BAD_REQUEST);
        cr_assert(e.have_reqid);
        cr_assert_eq(e.reqid, 5);
        cr_assert_not_null(strstr(e.text, "protocol_min"), "%s", e.text);

        cr_assert_eq(msg_decode(&peer_schema, good, sizeof(good), &m, &e), 0, "%s", e.text);
        cr_assert_eq(msg_type(m), PEER_TYPE_HELLO);
        msg_free(m);

        /* and the encoder will not write one either */
        m = peer_msg_new(PEER_TYPE_HELLO, 1);
        mb = msg_body(m);
        cr_assert_eq(msg_map_set_uint(&mb, PEER_KEY_PROTOCOL_MAX, 1), 0);
        cr_assert_eq(msg_map_set_uint(&mb, PEER_KEY_MAX_FRAME, PEER_MAX_BODY), 0);
        cr_assert_eq(msg_encode(m, &frame, &len), -EINVAL);
        cr_assert_eq(msg_map_set_uint(&mb, PEER_KEY_PROTOCOL_MIN, 1), 0);
        cr_assert_eq(msg_encode(m, &frame, &len), 0);
        free(frame);
        msg_free(m);
}

Test(peer, newer_version_and_unknown_type)
{
        /* [2, PING, 9, {}]: a version this side does not speak */
        static const uint8_t newer[] = { 0x84, 0x02, 0x0b, 0x09, 0xa0 };
        /* [1, 200, 9, {}]: a request type this side does not know */
        static const uint8_t unknown[] = { 0x84, 0x01, 0x18, 0xc8, 0x09, 0xa0 };
        struct msg *m = NULL, *err;
        struct msg_error e;
        struct msg_map body;
        uint64_t u;

        cr_assert_eq(msg_decode(&peer_schema, newer, sizeof(newer), &m, &e), -EPROTONOSUPPORT);
        cr_assert_eq(e.status, PEER_STATUS_UNSUPPORTED_VERSION);
        err = msg_new_decode_error(&peer_schema, &e);
        cr_assert_not_null(err);
        cr_assert_eq(msg_reqid(err), 9);
        body = msg_body(err);
        cr_assert_eq(msg_map_get_uint(&body, PEER_KEY_PROTOCOL_MAX, &u), 0);
        cr_assert_eq(u, PEER_PROTOCOL_VERSION);
        msg_free(err);
        cr_assert_eq(msg_decode(&peer_schema, unknown, sizeof(unknown), &m, &e), -EOPNOTSUPP);
        cr_assert_eq(e.status, PEER_STATUS_UNSUPPORTED);
        cr_assert_eq(e.reqid, 9);
}
