/* SPDX-License-Identifier: MIT */
/* The JSON encoding of control messages, driven by proto/ctl.def: key names
 * and types from CTL_KEY, special forms (hex ids, RFC 3339 times) from
 * CTL_JSON. One implementation for chutectl --json and the HTTP API, both
 * ways (replies to JSON, JSON request bodies to messages), plus the JSON
 * text writer that keeps non-UTF-8 bytes as "\udcXX". No I/O but a FILE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ctl.h"

/* The body (or a nested map) as a JSON object named by ctl.def: every key
 * present in it, unknown ones left out; NULL on no memory. */
json_t *ctl_json_from_map(const struct msg_map *map);
/* The body of m as a JSON object (see ctl_json_from_map); an ERROR becomes
 * {"error": status id, "message": text}. */
json_t *ctl_json_from_msg(struct msg *m);
/* The RESULT m answering a request of type request as JSON: as
 * ctl_json_from_msg, with the list keys the request declares as REPLY
 * present even when empty ([]). */
json_t *ctl_json_from_result(struct msg *m, uint32_t request);
/* True when key holds a time (ns since the epoch; JSON: RFC 3339), as
 * ctl.def's CTL_JSON says. */
bool ctl_json_key_is_time(uint32_t key);
/* Append the JSON form of key's value in map to the object o (nothing when
 * absent): for building documents from parts of several messages. */
int ctl_json_set_key(json_t *o, const struct msg_map *map, uint32_t key);

/* A request of type for reqid from the JSON object body (NULL: empty):
 * every member must be a key ctl.def declares for that request, of the
 * right type; required keys must be there. -EINVAL with a sentence in
 * err on anything else, -ENOMEM. */
int ctl_json_to_msg(const json_t *body, uint32_t type, uint64_t reqid, struct msg **ret,
                    char *err, size_t errlen);

/* Write s (len raw bytes) as a JSON string literal: UTF-8 as is, control
 * characters escaped, other bytes as "\udcXX"; -EIO on a write error. */
int ctl_json_write_string(FILE *f, const char *s, size_t len);
/* Write doc as JSON text (pretty: 2-space indent; else compact) and a newline. */
int ctl_json_write(FILE *f, const json_t *doc, bool pretty);
/* doc as a new malloc'ed JSON text (compact, newline at the end). */
int ctl_json_dump(const json_t *doc, char **ret, size_t *ret_len);
/* Parse an RFC 3339 time ("2026-11-21T22:30:01.5Z", offsets allowed) to ns since the epoch. */
int ctl_json_parse_time(const char *s, int64_t *ret);
