/* SPDX-License-Identifier: MIT */
/* Generic codec for chute's framed CBOR protocols. A message is one CBOR
 * array [version, type, request-id, body-map] with unsigned integer keys,
 * checked against a schema (struct msg_schema) that a .def file generates
 * (proto/ctl.def now, proto/peer.def later). Owns building, encoding to
 * length-prefixed frames and strict decoding; not the schemas, not I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "cbor-check.h"
#include "cleanup.h"

/* CBOR type of a body value, as a .def file names it. */
enum msg_value {
        MSG_VALUE_ANY = 0, /* array element type: items not checked */
        MSG_VALUE_UINT,
        MSG_VALUE_INT,
        MSG_VALUE_TEXT,
        MSG_VALUE_BYTES,
        MSG_VALUE_BOOL,
        MSG_VALUE_ARRAY,
        MSG_VALUE_MAP, /* nested map, keys from the schema's key space */
};

enum msg_kind {
        MSG_KIND_REQUEST, /* keys as declared by fields */
        MSG_KIND_RESULT,  /* final reply: any known key */
        MSG_KIND_REPLY,   /* other replies: keys as declared by fields */
};

enum msg_presence {
        MSG_PRESENCE_REQUIRED,
        MSG_PRESENCE_OPTIONAL,
        MSG_PRESENCE_REPLY, /* carried by the RESULT answering this request */
};

struct msg_type_def {
        uint32_t number;
        enum msg_kind kind;
        const char *name;
};

struct msg_key_def {
        uint32_t number;
        enum msg_value type;
        enum msg_value element;
        const char *name;
};

struct msg_field_def {
        uint32_t type;
        uint32_t key;
        enum msg_presence presence;
};

struct msg_status_def {
        uint32_t number;
        const char *id;   /* stable machine form, "not-found" */
        const char *name; /* human form, "not found" */
};

/* Everything the codec knows about one protocol. */
struct msg_schema {
        const char *name;     /* "control", "peer": used in error texts */
        uint64_t version;     /* sent in every message */
        uint64_t min_version; /* oldest version accepted */
        size_t max_body;      /* frame body cap, bytes */
        struct cbor_check_limits limits;
        const struct msg_type_def *types;
        size_t n_types;
        const struct msg_key_def *keys;
        size_t n_keys;
        const struct msg_field_def *fields;
        size_t n_fields;
        const struct msg_status_def *statuses;
        size_t n_statuses;
        /* the schema's own numbers for what the codec itself reports */
        uint32_t type_error;
        uint32_t key_status;
        uint32_t key_message;
        uint32_t key_protocol;
        uint32_t status_bad_request;
        uint32_t status_unsupported_version;
        uint32_t status_too_large;
        uint32_t status_unsupported;
        uint32_t status_internal;
};

/* Why a frame body was refused: the status to answer with and one sentence. */
struct msg_error {
        uint32_t status;
        bool have_reqid; /* the envelope got far enough to read the request id */
        uint64_t reqid;
        char text[192];
};

struct msg;

/* A map inside a message (the body or a nested one): a borrowed handle,
 * valid while the message lives. */
struct msg_map {
        const struct msg_schema *schema;
        cbor_item_t *item;
        const struct msg_type_def *type; /* set for the body, NULL for nested maps */
};

/* ---- schema look-ups ---- */

/* Definition of message type number, or NULL. */
const struct msg_type_def *msg_schema_type(const struct msg_schema *s, uint64_t number);
/* Definition of key number, or NULL. */
const struct msg_key_def *msg_schema_key(const struct msg_schema *s, uint64_t number);
/* Definition of status number, or NULL. */
const struct msg_status_def *msg_schema_status(const struct msg_schema *s, uint64_t number);
/* Definition of the message type called name ("key-export"), or NULL. */
const struct msg_type_def *msg_schema_type_by_name(const struct msg_schema *s, const char *name);
/* Name of a message type ("add"), or NULL. */
const char *msg_type_name(const struct msg_schema *s, uint64_t type);
/* Human name of a status ("not found"), or NULL. */
const char *msg_status_name(const struct msg_schema *s, uint64_t status);
/* Name of a CBOR value type ("uint", "text", ...). */
const char *msg_value_name(enum msg_value v);

/* ---- building ---- */

/* New message of a known type with an empty body, or NULL (unknown type, no memory). */
struct msg *msg_new(const struct msg_schema *s, uint32_t type, uint64_t reqid);
/* Free a message and every map handle into it; NULL is fine. */
void msg_free(struct msg *m);
/* The message carries a secret (a recovery code): msg_free overwrites every
 * string in it, and whoever encodes it should wipe the encoded bytes. */
void msg_set_secret(struct msg *m);
bool msg_is_secret(const struct msg *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct msg *, msg_free)
/* Error reply: status and message (a C string; NULL: the status name) for reqid, or NULL. */
struct msg *msg_new_error(const struct msg_schema *s, uint64_t reqid, uint32_t status,
                          const char *message);
/* Error reply for a body msg_decode refused, with its status, sentence and reqid (0 if unread). */
struct msg *msg_new_decode_error(const struct msg_schema *s, const struct msg_error *e);

/* Setters on a map; the key must be known with that type (and, on the body
 * of a REQUEST/REPLY, declared for its type): -EINVAL otherwise. A key set
 * twice keeps the last value. -ENOMEM. */
int msg_map_set_uint(struct msg_map *map, uint32_t key, uint64_t value);
int msg_map_set_int(struct msg_map *map, uint32_t key, int64_t value);
int msg_map_set_bool(struct msg_map *map, uint32_t key, bool value);
/* Text from a C string. */
int msg_map_set_text(struct msg_map *map, uint32_t key, const char *value);
/* Text of len bytes (UTF-8). */
int msg_map_set_textn(struct msg_map *map, uint32_t key, const char *value, size_t len);
int msg_map_set_bytes(struct msg_map *map, uint32_t key, const void *value, size_t len);
/* Append a new empty map to the ARRAY-of-MAP key (created on first use);
 * *ret_child is a handle to fill it. */
int msg_map_append_map(struct msg_map *map, uint32_t key, struct msg_map *ret_child);
/* Append a text (C string) to an ARRAY-of-TEXT key. */
int msg_map_append_text(struct msg_map *map, uint32_t key, const char *value);
/* Append a byte string to an ARRAY-of-BYTES key. */
int msg_map_append_bytes(struct msg_map *map, uint32_t key, const void *value, size_t len);
/* Append an unsigned integer to an ARRAY-of-UINT key. */
int msg_map_append_uint(struct msg_map *map, uint32_t key, uint64_t value);

/* Handle on the body map of m. */
struct msg_map msg_body(struct msg *m);
/* Header fields. */
uint32_t msg_type(const struct msg *m);
/* Kind of m's type: a daemon refuses what is not a request. */
enum msg_kind msg_kind(const struct msg *m);
uint64_t msg_reqid(const struct msg *m);
uint64_t msg_version(const struct msg *m);
const struct msg_schema *msg_schema(const struct msg *m);

/* ---- encoding and decoding ---- */

/* Encode m as one frame (4-byte length + CBOR, definite lengths only) into a
 * new malloc'ed buffer. -EINVAL if a required key is missing, -EMSGSIZE over
 * the schema's max_body, -ENOMEM. */
int msg_encode(const struct msg *m, uint8_t **ret_buf, size_t *ret_len);
/* Decode one frame body (the bytes after the length header) strictly:
 * envelope, version, known type, uint request id, body map with unique uint
 * keys, every known key's type (nested maps too), required keys; unknown
 * keys are ignored. On failure fills *ret_error (if not NULL) and returns
 * -EMSGSIZE (too large), -EPROTONOSUPPORT (version), -EOPNOTSUPP (unknown
 * type), -EBADMSG (anything else malformed) or -ENOMEM. */
int msg_decode(const struct msg_schema *s, const uint8_t *buf, size_t len, struct msg **ret,
               struct msg_error *ret_error);

/* ---- getters: 0, -ENOENT when absent, -EBADMSG on a wrong type ---- */

int msg_map_get_uint(const struct msg_map *map, uint32_t key, uint64_t *ret);
int msg_map_get_int(const struct msg_map *map, uint32_t key, int64_t *ret);
int msg_map_get_bool(const struct msg_map *map, uint32_t key, bool *ret);
/* Text borrowed from the message: not NUL-terminated. */
int msg_map_get_text(const struct msg_map *map, uint32_t key, const char **ret, size_t *ret_len);
/* Text as a new malloc'ed C string; -EBADMSG also when it holds a NUL. */
int msg_map_get_text_dup(const struct msg_map *map, uint32_t key, char **ret);
/* Bytes borrowed from the message. */
int msg_map_get_bytes(const struct msg_map *map, uint32_t key, const uint8_t **ret,
                      size_t *ret_len);
/* Number of items of an array key. */
int msg_map_get_count(const struct msg_map *map, uint32_t key, size_t *ret);
/* Item index of an array key as a map handle (-ENOENT past the end). */
int msg_map_get_map_at(const struct msg_map *map, uint32_t key, size_t index,
                       struct msg_map *ret);
/* Item index of an array key as borrowed text. */
int msg_map_get_text_at(const struct msg_map *map, uint32_t key, size_t index, const char **ret,
                        size_t *ret_len);
/* Item index of an array key as borrowed bytes. */
int msg_map_get_bytes_at(const struct msg_map *map, uint32_t key, size_t index,
                         const uint8_t **ret, size_t *ret_len);
/* Item index of an array key as an unsigned integer. */
int msg_map_get_uint_at(const struct msg_map *map, uint32_t key, size_t index, uint64_t *ret);
/* The raw libcbor value of key (borrowed), or NULL: for what the helpers lack. */
cbor_item_t *msg_map_get_item(const struct msg_map *map, uint32_t key);
