/* SPDX-License-Identifier: MIT */
/* The master secret and everything derived from it (DESIGN.md §4): the
 * master key file in the state dir (create, load, or derive from a key
 * file/device) and the HKDF-SHA256 subkeys. The file format and the labels
 * are in docs/keys.md. No logging: failures come back as -errno + a reason. */
#pragma once

#include <stdint.h>

#define KEYS_MASTER_SIZE 32

/* HKDF-SHA256 info labels, one per subkey. Never change them: every id,
 * ciphertext and the node identity depend on them. */
#define KEYS_LABEL_ID "chute/v1/object-id"
#define KEYS_LABEL_CDC "chute/v1/cdc"
#define KEYS_LABEL_ENC "chute/v1/enc"
#define KEYS_LABEL_PACK "chute/v1/pack"
#define KEYS_LABEL_IDENTITY "chute/v1/node-identity"
#define KEYS_LABEL_CHECK "chute/v1/key-check"
#define KEYS_LABEL_FINGERPRINT "chute/v1/chunk-fingerprint"
#define KEYS_LABEL_FINGERPRINT_ROW "chute/v1/chunk-fingerprint-row"

struct keys {
        uint8_t master[KEYS_MASTER_SIZE];
        uint8_t id_key[32];        /* K_id: object ids (oid_compute) */
        uint8_t cdc_key[16];       /* K_cdc: chunker PRF */
        uint8_t enc_key[32];       /* K_enc: object AEAD */
        uint8_t pack_key[32];      /* K_pack: pack headers */
        uint8_t identity_seed[32]; /* seed for identity_new() */
        uint8_t check[32];         /* key check value: stored in the index, never secret */
        uint8_t fingerprint_key[32]; /* K_fp: chunk fingerprints (local only, docs/fingerprints.md) */
        uint8_t fingerprint_row_key[32]; /* K_fprow: the tag of each fingerprint row */
};

/* A zeroed struct keys in memory of its own: excluded from core dumps
 * (MADV_DONTDUMP) and, where RLIMIT_MEMLOCK allows, locked in RAM.
 * *ret_lock_error (if not NULL) is 0 when locked, else mlock's -errno. */
int keys_new(struct keys **ret, int *ret_lock_error);
/* Wipe, unlock and unmap; NULL is fine. */
void keys_free(struct keys *k);

/* Derive every subkey from master into *ret (which also gets a copy of master). */
int keys_derive(const uint8_t master[KEYS_MASTER_SIZE], struct keys *ret);

/* Create a new master secret file at path (mode 0400, fsync'ed, atomically;
 * -EEXIST if path exists, never overwrites) and return the secret. */
int keys_create(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE]);

/* Write the given master secret as a new file at path, like keys_create. */
int keys_create_from(const char *path, const uint8_t master[KEYS_MASTER_SIZE]);
/* Load a master secret file. On failure *ret_why (if not NULL) points to a
 * sentence saying what is wrong, valid until the next keys_ call in this
 * thread: -EPERM group/other permissions, -EMSGSIZE wrong length, -EPROTO bad
 * magic, -EBADMSG checksum mismatch, -EINVAL not a regular file, or the
 * errno of open/read. */
int keys_load(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE], const char **ret_why);

/* Master secret = SHA-256 of the whole contents of a key file or block
 * device (read until EOF); -ENODATA if it is empty. */
int keys_from_key_file(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE]);

/* Overwrite every key in *k. */
void keys_wipe(struct keys *k);
