/* SPDX-License-Identifier: MIT */
/* The recovery code: the master secret as text for paper, base32 (RFC 4648
 * alphabet) of master || 4-byte checksum, in dash-separated groups of 4.
 * Format in docs/keys.md. Pure code, no I/O. */
#pragma once

#include <stdint.h>

#include "keys.h"

#define RECOVERY_CHECKSUM_SIZE 4
#define RECOVERY_GROUP 4

/* Encode master as a new recovery code string ("ABCD-EFGH-...-XY"). */
int recovery_encode(const uint8_t master[KEYS_MASTER_SIZE], char **ret_code);

/* Decode a recovery code, with or without dashes/spaces, in either case.
 * -EINVAL for a bad character, wrong length or non-zero padding bits,
 * -EBADMSG when the checksum does not match. */
int recovery_decode(const char *code, uint8_t ret_master[KEYS_MASTER_SIZE]);
