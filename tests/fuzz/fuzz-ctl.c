/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the control codec: any input is a frame body for
 * ctl_msg_decode and a stream start for frame_peek. A refused body must come
 * with a known status and a sentence; an accepted one must re-encode, decode
 * again and re-encode to the same bytes. Built by `make fuzz`; running one
 * target by hand: docs/fuzzing.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read every known key back with the getter of its type. */
static void read_all(struct msg *m)
{
        struct msg_map body = msg_body(m);

        for (size_t i = 0; i < ctl_schema.n_keys; i++) {
                const struct msg_key_def *kd = &ctl_schema.keys[i];
                const uint8_t *p;
                const char *t;
                size_t n;
                uint64_t u;
                int64_t v;
                bool b;
                struct msg_map child;

                switch (kd->type) {
                case MSG_VALUE_UINT:
                        if (msg_map_get_uint(&body, kd->number, &u) == -EBADMSG)
                                abort();
                        break;
                case MSG_VALUE_INT:
                        if (msg_map_get_int(&body, kd->number, &v) == -EBADMSG)
                                abort();
                        break;
                case MSG_VALUE_BOOL:
                        if (msg_map_get_bool(&body, kd->number, &b) == -EBADMSG)
                                abort();
                        break;
                case MSG_VALUE_TEXT:
                        if (msg_map_get_text(&body, kd->number, &t, &n) == -EBADMSG)
                                abort();
                        break;
                case MSG_VALUE_BYTES:
                        if (msg_map_get_bytes(&body, kd->number, &p, &n) == -EBADMSG)
                                abort();
                        break;
                case MSG_VALUE_ARRAY:
                        if (msg_map_get_count(&body, kd->number, &n) < 0)
                                break;
                        for (size_t j = 0; j < n && kd->element == MSG_VALUE_MAP; j++)
                                if (msg_map_get_map_at(&body, kd->number, j, &child) < 0)
                                        abort();
                        break;
                default:
                        break;
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct msg *m = NULL, *again = NULL;
        struct msg_error e;
        uint8_t *first = NULL, *second = NULL;
        size_t first_len, second_len, body;

        (void)frame_peek(data, size, CTL_MAX_BODY, &body);
        if (ctl_msg_decode(data, size, &m, &e) < 0) {
                if (!ctl_status_name(e.status) || e.text[0] == '\0')
                        abort();
                return 0;
        }
        read_all(m);
        if (ctl_msg_encode(m, &first, &first_len) < 0)
                abort();
        if (ctl_msg_decode(first + FRAME_HEADER_SIZE, first_len - FRAME_HEADER_SIZE, &again,
                           &e) < 0)
                abort();
        if (ctl_msg_encode(again, &second, &second_len) < 0)
                abort();
        if (first_len != second_len || memcmp(first, second, first_len) != 0)
                abort();
        free(first);
        free(second);
        ctl_msg_free(again);
        ctl_msg_free(m);
        return 0;
}
