/* SPDX-License-Identifier: MIT */
/* Base32 (RFC 4648 alphabet A-Z 2-7, no '=' padding) for text meant to be
 * read, typed or written on paper: recovery codes and node ids. Encoding is
 * upper case and optionally grouped with '-'; decoding ignores case, spaces
 * and dashes and is strict about everything else. No checksum here. */
#pragma once

#include <stddef.h>

/* Number of base32 characters for len bytes (without grouping). */
size_t base32_encoded_len(size_t len);

/* Encode buf[len] as upper-case base32 into a new string, with a '-' after
 * every group characters (group 0: no dashes). */
int base32_encode(const void *buf, size_t len, size_t group, char **ret);

/* Decode exactly len bytes from str, skipping ASCII whitespace and '-', in
 * either case. -EINVAL on a character outside the alphabet, a wrong number of
 * characters, or non-zero unused bits in the last character. */
int base32_decode(const char *str, void *ret_buf, size_t len);
