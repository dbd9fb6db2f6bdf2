/* SPDX-License-Identifier: MIT */
/* Packs (DESIGN §5): records ‖ encrypted header ‖ random padding ‖ trailer,
 * padded to a Padmé size class, id = SHA-256 of the sealed bytes. The writer
 * streams to an fd (or memory); the reader needs only a range read at the
 * tail. Layout: docs/formats.md "Packs". Records themselves: record.h. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "oid.h"

#define PACK_VERSION 1
#define PACK_TARGET_SIZE (16u * 1024 * 1024) /* seal when records, header and trailer reach this */
#define PACK_MIN_SIZE 1024u                  /* smallest size class */
#define PACK_MAX_SIZE (1ull << 30)           /* readers refuse larger packs */
#define PACK_TRAILER_SIZE 56
#define PACK_ENTRY_SIZE 48                   /* one header entry, plaintext */
#define PACK_MAX_ENTRIES (PACK_MAX_SIZE / 32) /* 32 = smallest record */

/* One record in a pack, as listed by its header. */
struct pack_entry {
        struct oid id;
        uint8_t type;       /* enum object_type */
        uint64_t offset;    /* from the start of the pack */
        uint32_t length;    /* of the sealed record */
};

struct pack_writer;

/* Start a pack written to fd from its current position (fd < 0: in memory).
 * The writer does not own fd, never fsyncs it and never closes it. It
 * borrows pack_key (no copy of the key outside the keyring's locked page):
 * keep it valid until pack_writer_free. */
int pack_writer_new(enum crypto_cipher cipher, const uint8_t pack_key[CRYPTO_KEY_SIZE], int fd,
                    struct pack_writer **ret);
/* Append one sealed record (record_seal output) of object id and type. */
int pack_writer_add(struct pack_writer *w, const struct oid *id, uint8_t type, const void *record,
                    size_t len);
/* Bytes of records appended so far. */
uint64_t pack_writer_size(const struct pack_writer *w);
/* Number of records appended so far. */
size_t pack_writer_count(const struct pack_writer *w);
/* True when the pack (records, header, trailer) reached PACK_TARGET_SIZE
 * and should be sealed. */
int pack_writer_full(const struct pack_writer *w);
/* True when a record of len bytes (and its header entry) would push it past
 * the target (a non-empty pack should be sealed first): sealed, it then
 * pads to PACK_TARGET_SIZE at most, a size class of its own. */
int pack_writer_would_overflow(const struct pack_writer *w, size_t len);
/* Write header, padding and trailer; ret_pack_id gets the pack id, ret_size
 * the sealed size. In memory mode ret_bytes (if not NULL) takes the buffer
 * (free it). After seal (success or not) only pack_writer_free is allowed. */
int pack_writer_seal(struct pack_writer *w, struct oid *ret_pack_id, uint64_t *ret_size,
                     uint8_t **ret_bytes);
/* Free the writer (NULL is fine); an unsealed pack is abandoned. */
void pack_writer_free(struct pack_writer *w);

/* Sealed size for content_len bytes of records + header + trailer. */
uint64_t pack_padded_size(uint64_t content_len);
/* Exact plaintext-header size for n entries once encrypted. */
uint64_t pack_header_size(size_t n);

/* Range reader: read exactly len bytes at offset into buf, or -errno. */
typedef int (*pack_read_fn)(void *userdata, uint64_t offset, void *buf, size_t len);

/* Read and check the header of a pack of size bytes through fn: trailer,
 * then header (two range reads at the tail). Entries are sorted by offset,
 * inside the record area and non-overlapping; -EBADMSG otherwise. */
int pack_read_header(pack_read_fn fn, void *userdata, uint64_t size,
                     const uint8_t pack_key[CRYPTO_KEY_SIZE], struct pack_entry **ret_entries,
                     size_t *ret_n);
/* pack_read_header on a file descriptor (pread). */
int pack_read_header_fd(int fd, uint64_t size, const uint8_t pack_key[CRYPTO_KEY_SIZE],
                        struct pack_entry **ret_entries, size_t *ret_n);
/* pack_read_header on bytes in memory. */
int pack_read_header_buffer(const void *buf, size_t size, const uint8_t pack_key[CRYPTO_KEY_SIZE],
                            struct pack_entry **ret_entries, size_t *ret_n);

/* SHA-256 of bytes[size] must equal expected; -EBADMSG otherwise. */
int pack_verify_buffer(const void *bytes, size_t size, const struct oid *expected);
/* SHA-256 of the whole file fd (read with pread from 0) must equal expected. */
int pack_verify_fd(int fd, const struct oid *expected);
/* Compute the id of the pack in fd (SHA-256 of its bytes, pread from 0); size into ret_size. */
int pack_id_fd(int fd, struct oid *ret_id, uint64_t *ret_size);
