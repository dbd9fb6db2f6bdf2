/* SPDX-License-Identifier: MIT */
/* The peer protocol (chuted <-> chuted over TLS): enums generated from
 * proto/peer.def, the schema for the generic codec in proto/msg.h, and the
 * protocol's limits. The message flow and the version bump rule are in
 * peer.def; the prose in docs/peer-protocol.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Bump by the rule at the top of proto/peer.def. */
#define PEER_PROTOCOL_VERSION 1
/* Oldest version this side still speaks. */
#define PEER_PROTOCOL_VERSION_MIN 1
/* Largest frame body (the CBOR item after the 4-byte length): one 16 MiB
 * range of pack bytes plus the envelope. */
#define PEER_MAX_BODY (16u * 1024 * 1024 + 64 * 1024)
/* Largest DATA of one PUT or GET. */
#define PEER_DATA_MAX (16u * 1024 * 1024)
/* Most pack ids in one HAVE, entries in one LIST page. */
#define PEER_HAVE_MAX 1024
#define PEER_LIST_MAX 1000
/* PROVE nonce length bounds. */
#define PEER_NONCE_MIN 16
#define PEER_NONCE_MAX 64
/* Default TCP port of the peer listener. */
#define PEER_DEFAULT_PORT 2001

enum peer_type {
#define PEER_TYPE(symbol, number, kind, name) PEER_TYPE_##symbol = number,
#include "peer.def"
};

enum peer_key {
#define PEER_KEY(symbol, number, type, element, name) PEER_KEY_##symbol = number,
#include "peer.def"
};

enum peer_status {
#define PEER_STATUS(symbol, number, id, name) PEER_STATUS_##symbol = number,
#include "peer.def"
};

/* The peer schema, for the msg_* functions. */
extern const struct msg_schema peer_schema;

/* Name of a message type ("put"), or NULL when unknown. */
const char *peer_type_name(uint32_t type);
/* Human name of a status ("quota exceeded"), or NULL when unknown. */
const char *peer_status_name(uint32_t status);
/* Stable machine name of a status ("quota"), or NULL when unknown. */
const char *peer_status_id(uint32_t status);
/* The -errno a status stands for on the owner's side (QUOTA: -EDQUOT,
 * NOT_FOUND: -ENOENT, MISMATCH: -EBADMSG, RANGE: -ERANGE, ...). */
int peer_status_to_errno(uint32_t status);
/* The status to answer a host-side -errno with (the inverse, INTERNAL/IO otherwise). */
uint32_t peer_status_from_errno(int err);

/* New peer message of type with request id reqid, or NULL. */
static inline struct msg *peer_msg_new(enum peer_type type, uint64_t reqid)
{
        return msg_new(&peer_schema, type, reqid);
}

/* ERROR reply for reqid with a status and one sentence, or NULL. */
static inline struct msg *peer_msg_error(uint64_t reqid, enum peer_status status,
                                         const char *message)
{
        return msg_new_error(&peer_schema, reqid, status, message);
}
