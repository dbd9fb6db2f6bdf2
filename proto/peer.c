/* SPDX-License-Identifier: MIT */
/* The peer schema tables, generated from proto/peer.def, the name look-ups
 * and the status <-> errno mapping. The codec is proto/msg.c; connections
 * are daemon/peer-conn.c. */
#include "peer.h"

#include <errno.h>

#include "cleanup.h"

static const struct msg_type_def peer_types[] = {
#define PEER_TYPE(symbol, n, k, nm) { .number = n, .kind = MSG_KIND_##k, .name = nm },
#include "peer.def"
};

static const struct msg_key_def peer_keys[] = {
#define PEER_KEY(symbol, n, t, e, nm) \
        { .number = n, .type = MSG_VALUE_##t, .element = MSG_VALUE_##e, .name = nm },
#include "peer.def"
};

static const struct msg_field_def peer_fields[] = {
#define PEER_FIELD(t, k, p) \
        { .type = PEER_TYPE_##t, .key = PEER_KEY_##k, .presence = MSG_PRESENCE_##p },
#include "peer.def"
};

static const struct msg_status_def peer_statuses[] = {
#define PEER_STATUS(symbol, n, i, nm) { .number = n, .id = i, .name = nm },
#include "peer.def"
};

/* Never called: a number used twice in peer.def is a duplicate case label. */
__attribute__((unused)) static void peer_def_numbers_unique(int t, int k, int s)
{
        switch (t) {
#define PEER_TYPE(symbol, n, kind, name) case n:
#include "peer.def"
                break;
        }
        switch (k) {
#define PEER_KEY(symbol, n, type, element, name) case n:
#include "peer.def"
                break;
        }
        switch (s) {
#define PEER_STATUS(symbol, n, id, name) case n:
#include "peer.def"
                break;
        }
}

const struct msg_schema peer_schema = {
        .name = "peer",
        .version = PEER_PROTOCOL_VERSION,
        .min_version = PEER_PROTOCOL_VERSION_MIN,
        .max_body = PEER_MAX_BODY,
        .limits = {
                /* envelope > body > ENTRIES array > entry map: 4; room to grow */
                .max_depth = 6,
                .max_items = 4096,
                .max_string = PEER_DATA_MAX,
                .max_total = 16384,
                .allow_tags = false,
                .allow_floats = false,
        },
        .types = peer_types,
        .n_types = ELEMENTSOF(peer_types),
        .keys = peer_keys,
        .n_keys = ELEMENTSOF(peer_keys),
        .fields = peer_fields,
        .n_fields = ELEMENTSOF(peer_fields),
        .statuses = peer_statuses,
        .n_statuses = ELEMENTSOF(peer_statuses),
        .type_error = PEER_TYPE_ERROR,
        .key_status = PEER_KEY_STATUS,
        .key_message = PEER_KEY_MESSAGE,
        .key_protocol = PEER_KEY_PROTOCOL_MAX,
        .status_bad_request = PEER_STATUS_BAD_REQUEST,
        .status_unsupported_version = PEER_STATUS_UNSUPPORTED_VERSION,
        .status_too_large = PEER_STATUS_TOO_LARGE,
        .status_unsupported = PEER_STATUS_UNSUPPORTED,
        .status_internal = PEER_STATUS_INTERNAL,
};

const char *peer_type_name(uint32_t type)
{
        return msg_type_name(&peer_schema, type);
}

const char *peer_status_name(uint32_t status)
{
        return msg_status_name(&peer_schema, status);
}

const char *peer_status_id(uint32_t status)
{
        const struct msg_status_def *s = msg_schema_status(&peer_schema, status);

        return s ? s->id : NULL;
}

static const struct {
        uint32_t status;
        int err; /* positive errno */
} peer_errnos[] = {
        { PEER_STATUS_OK, 0 },
        { PEER_STATUS_NOT_FOUND, ENOENT },
        { PEER_STATUS_QUOTA, EDQUOT },
        { PEER_STATUS_MISMATCH, EBADMSG },
        { PEER_STATUS_RANGE, ERANGE },
        { PEER_STATUS_BUSY, EBUSY },
        { PEER_STATUS_DENIED, EACCES },
        { PEER_STATUS_BAD_REQUEST, EINVAL },
        { PEER_STATUS_UNSUPPORTED_VERSION, EPROTONOSUPPORT },
        { PEER_STATUS_TOO_LARGE, EMSGSIZE },
        { PEER_STATUS_UNSUPPORTED, EOPNOTSUPP },
        { PEER_STATUS_IO, EIO },
        { PEER_STATUS_NO_HELLO, EPROTO },
        { PEER_STATUS_INTERNAL, EREMOTEIO },
};

int peer_status_to_errno(uint32_t status)
{
        for (size_t i = 0; i < ELEMENTSOF(peer_errnos); i++)
                if (peer_errnos[i].status == status)
                        return -peer_errnos[i].err;
        return -EREMOTEIO;
}

uint32_t peer_status_from_errno(int err)
{
        if (err < 0)
                err = -err;
        if (err == ENOSPC || err == EIO || err == EROFS)
                return PEER_STATUS_IO;
        for (size_t i = 0; i < ELEMENTSOF(peer_errnos); i++)
                if (peer_errnos[i].err == err)
                        return peer_errnos[i].status;
        return PEER_STATUS_INTERNAL;
}
