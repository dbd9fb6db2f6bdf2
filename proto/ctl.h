/* SPDX-License-Identifier: MIT */
/* The control protocol (chutectl <-> chuted over the UNIX socket): enums
 * generated from proto/ctl.def, the schema for the generic codec in
 * proto/msg.h, and typed ctl_msg_* wrappers around it. The message flow and
 * the version bump rule are in ctl.def; the wire format in docs/protocol.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Bump by the rule at the top of proto/ctl.def. */
#define CTL_PROTOCOL_VERSION 2
/* Oldest version this side still accepts. Version 2: the snapshots list
 * comes in DATA messages (key SNAPSHOTS), its RESULT is empty. */
#define CTL_PROTOCOL_VERSION_MIN 1
/* Largest frame body (the CBOR item after the 4-byte length). */
#define CTL_MAX_BODY (1024 * 1024)

enum ctl_type {
#define CTL_TYPE(symbol, number, kind, name) CTL_TYPE_##symbol = number,
#include "ctl.def"
};

enum ctl_key {
#define CTL_KEY(symbol, number, type, element, name) CTL_KEY_##symbol = number,
#include "ctl.def"
};

enum ctl_status {
#define CTL_STATUS(symbol, number, id, name) CTL_STATUS_##symbol = number,
#include "ctl.def"
};

/* The control schema, for the msg_* functions. */
extern const struct msg_schema ctl_schema;

/* Name of a message type ("key-export"), or NULL when unknown. */
const char *ctl_type_name(uint32_t type);
/* Message type called name, or -ENOENT. */
int ctl_type_from_name(const char *name);
/* Human name of a status ("not found"), or NULL when unknown. */
const char *ctl_status_name(uint32_t status);
/* Stable machine name of a status ("not-found"), or NULL when unknown. */
const char *ctl_status_id(uint32_t status);

/* New control message of type with request id reqid, or NULL. */
static inline struct msg *ctl_msg_new(enum ctl_type type, uint64_t reqid)
{
        return msg_new(&ctl_schema, type, reqid);
}

/* ERROR reply for reqid with a status and one sentence, or NULL. */
static inline struct msg *ctl_msg_error(uint64_t reqid, enum ctl_status status,
                                        const char *message)
{
        return msg_new_error(&ctl_schema, reqid, status, message);
}

/* Free a message; NULL is fine. */
static inline void ctl_msg_free(struct msg *m)
{
        msg_free(m);
}

/* Set a body key (see msg_map_set_*): -EINVAL if the key is not declared for the message or of another type. */
static inline int ctl_msg_set_uint(struct msg *m, enum ctl_key key, uint64_t value)
{
        struct msg_map b = msg_body(m);

        return msg_map_set_uint(&b, key, value);
}

/* Set a signed integer body key. */
static inline int ctl_msg_set_int(struct msg *m, enum ctl_key key, int64_t value)
{
        struct msg_map b = msg_body(m);

        return msg_map_set_int(&b, key, value);
}

/* Set a boolean body key. */
static inline int ctl_msg_set_bool(struct msg *m, enum ctl_key key, bool value)
{
        struct msg_map b = msg_body(m);

        return msg_map_set_bool(&b, key, value);
}

/* Set a text body key from a C string. */
static inline int ctl_msg_set_text(struct msg *m, enum ctl_key key, const char *value)
{
        struct msg_map b = msg_body(m);

        return msg_map_set_text(&b, key, value);
}

/* Set a byte string body key. */
static inline int ctl_msg_set_bytes(struct msg *m, enum ctl_key key, const void *value,
                                    size_t len)
{
        struct msg_map b = msg_body(m);

        return msg_map_set_bytes(&b, key, value, len);
}

/* Append a new map to an array-of-maps body key; fill it with msg_map_set_*. */
static inline int ctl_msg_append_map(struct msg *m, enum ctl_key key, struct msg_map *ret_child)
{
        struct msg_map b = msg_body(m);

        return msg_map_append_map(&b, key, ret_child);
}

/* Append a C string to an array-of-text body key. */
static inline int ctl_msg_append_text(struct msg *m, enum ctl_key key, const char *value)
{
        struct msg_map b = msg_body(m);

        return msg_map_append_text(&b, key, value);
}

/* Encode as one length-prefixed frame (see msg_encode). */
static inline int ctl_msg_encode(const struct msg *m, uint8_t **ret_buf, size_t *ret_len)
{
        return msg_encode(m, ret_buf, ret_len);
}

/* Strictly decode one frame body (the bytes after the length; see msg_decode). */
static inline int ctl_msg_decode(const uint8_t *buf, size_t len, struct msg **ret,
                                 struct msg_error *ret_error)
{
        return msg_decode(&ctl_schema, buf, len, ret, ret_error);
}

/* Body getters: 0, -ENOENT when absent, -EBADMSG on a wrong type. */
static inline int ctl_msg_get_uint(struct msg *m, enum ctl_key key, uint64_t *ret)
{
        struct msg_map b = msg_body(m);

        return msg_map_get_uint(&b, key, ret);
}

/* Signed integer body key. */
static inline int ctl_msg_get_int(struct msg *m, enum ctl_key key, int64_t *ret)
{
        struct msg_map b = msg_body(m);

        return msg_map_get_int(&b, key, ret);
}

/* Boolean body key. */
static inline int ctl_msg_get_bool(struct msg *m, enum ctl_key key, bool *ret)
{
        struct msg_map b = msg_body(m);

        return msg_map_get_bool(&b, key, ret);
}

/* Text body key, borrowed and not NUL-terminated. */
static inline int ctl_msg_get_text(struct msg *m, enum ctl_key key, const char **ret,
                                   size_t *ret_len)
{
        struct msg_map b = msg_body(m);

        return msg_map_get_text(&b, key, ret, ret_len);
}

/* Byte string body key, borrowed. */
static inline int ctl_msg_get_bytes(struct msg *m, enum ctl_key key, const uint8_t **ret,
                                    size_t *ret_len)
{
        struct msg_map b = msg_body(m);

        return msg_map_get_bytes(&b, key, ret, ret_len);
}
