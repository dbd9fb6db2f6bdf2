/* SPDX-License-Identifier: MIT */
/* The daemon's master secret (DESIGN §4, docs/keys.md): which source it
 * comes from at start (key_file, master.key, or a new one for an empty state
 * only), the refusal when it is missing over existing data, the no-key mode
 * (--no-key), the key check value kept in the index, and checking an
 * imported key against the data. The key file formats are common/keys.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "keys.h"

struct daemon;
struct index;

/* Index kv key holding the key check value (HKDF(master, KEYS_LABEL_CHECK)). */
#define KEYRING_CHECK_KV "key_check"

/* Allocate d->keyring and load the master secret into it. 0 with
 * d->have_key set; 0 without it in no-key mode (allow_no_key and the key is
 * missing); -errno, logged with the way to recover, when chuted must not
 * start. Changes nothing on disk unless it creates a key for an empty state. */
int keyring_setup(struct daemon *d, bool allow_no_key);

/* Derive every key and the identity from master into d; sets d->have_key
 * and bumps d->key_generation. All or nothing: on failure d's keys and
 * identity are as they were. */
int keyring_install(struct daemon *d, const uint8_t master[KEYS_MASTER_SIZE]);

/* Forget the loaded key (after a failed bring-up): wipe, clear have_key. */
void keyring_unload(struct daemon *d);

/* Compare d's keys with the key check value in idx, recording it when it is
 * missing and the key is known to be right (no data yet, or it opens a
 * pack). -EKEYREJECTED (logged) when the stored value differs, or when there
 * is none and the key opens none of the packs tried. */
int keyring_check_index(struct daemon *d, struct index *idx);

/* Does candidate open the data of d's state dir? Decided by the key check
 * value in idx (NULL: no index yet), else by trial-decrypting pack headers,
 * else yes when there is no data at all. 1 yes, 0 no, or 0 with
 * *ret_unchecked when the index lists objects but no pack is left to try;
 * *ret_how says what decided it. -errno on I/O errors. */
int keyring_matches(struct daemon *d, struct index *idx, const struct keys *candidate, const char **ret_how,
                    bool *ret_unchecked);

/* Write master as master.key in the state dir (0400, atomically replacing
 * whatever is there, durable: the directory is fsync'ed after the rename). */
int keyring_write_master(struct daemon *d, const uint8_t master[KEYS_MASTER_SIZE]);
