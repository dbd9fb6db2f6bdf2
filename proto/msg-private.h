/* SPDX-License-Identifier: MIT */
/* The message struct shared by the codec's two files, msg.c (building,
 * encoding, getters) and msg-decode.c (strict decoding); users see only the
 * opaque type of msg.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cbor.h>

#include "msg.h"

struct msg {
        const struct msg_schema *schema;
        const struct msg_type_def *type;
        uint64_t version;
        uint64_t reqid;
        cbor_item_t *body; /* owned reference; indefinite map while building */
        bool built;        /* made by msg_new: setters allowed */
        bool secret;       /* wipe the strings on free */
};

/* Overwrite the bytes of every text and byte string under item (msg.c). */
void msg_wipe_item(cbor_item_t *item);
