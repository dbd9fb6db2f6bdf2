/* SPDX-License-Identifier: MIT */
/* Bytes as lowercase hex and back: object and pack ids (oid.c), the hex
 * fields of the JSON encoding (proto/ctl-json.c), the API token. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of the len bytes of buf into ret[2 * len + 1], NUL-terminated. */
void hex_encode(const void *buf, size_t len, char *ret);
/* The value of the hex digit c (either case), -1 when it is not one. */
int hex_digit(char c);
/* len hex digits of hex into ret[len / 2]; -EINVAL for an odd len or a non-digit. */
int hex_decode(const char *hex, size_t len, uint8_t *ret);
