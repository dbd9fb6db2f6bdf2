/* SPDX-License-Identifier: MIT */
/* What the local store's two files share: store-local.c (uploads, commit,
 * delete, the store itself) and store-local-read.c (the read-fd cache, get,
 * list, prove). Users see only store-local.h and store.h. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "store-local.h"

#define IO_CHUNK (256 * 1024)

/* Open pack files kept for reads: restores read thousands of small
 * objects, and an open/fstat/close per object is most of their cost. */
#define FD_CACHE_SIZE 32

struct fd_slot {
        struct oid id;
        int fd;          /* -1: empty */
        uint64_t size;
        unsigned refs;   /* readers using fd right now */
        uint64_t used;   /* LRU clock */
        bool dead;       /* deleted: close once refs drops to 0 */
};

struct store_local {
        struct store base;
        int dir_fd;
        pthread_mutex_t fd_lock;
        struct fd_slot fds[FD_CACHE_SIZE];
        uint64_t clock;
};


/* "ab" + '/' + 64 hex + ".part" + NUL */
#define LOCAL_PATH_SIZE (4 + 2 * OID_SIZE + 6)

static inline struct store_local *to_local(struct store *s)
{
        return (struct store_local *) s;
}

static inline void pack_path(const struct oid *id, char ret[LOCAL_PATH_SIZE])
{
        char hex[OID_HEX_SIZE];

        oid_to_hex(id, hex);
        snprintf(ret, LOCAL_PATH_SIZE, "%.2s/%s", hex, hex);
}

static inline void partial_path(const struct oid *id, char ret[LOCAL_PATH_SIZE])
{
        char hex[OID_HEX_SIZE];

        oid_to_hex(id, hex);
        snprintf(ret, LOCAL_PATH_SIZE, "tmp/%s.part", hex);
}

static inline void fanout_name(const struct oid *id, char ret[3])
{
        char hex[OID_HEX_SIZE];

        oid_to_hex(id, hex);
        ret[0] = hex[0];
        ret[1] = hex[1];
        ret[2] = '\0';
}

/* pread exactly len bytes at offset; -EIO when the file is shorter. */
static inline int read_exact(int fd, void *buf, size_t len, uint64_t offset)
{
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t k = pread(fd, p, len, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO; /* shrank under us */
                p += k;
                len -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

/* ---- store-local-read.c ---- */
/* Forget a cached fd of a pack that is deleted or replaced. */
void store_local_read_forget(struct store_local *l, const struct oid *pack_id);
/* The store ops of the read side. */
int store_local_read_get(struct store *s, const struct oid *pack_id, uint64_t offset, size_t len, void *buf);
int store_local_read_list(struct store *s, const struct oid *after, size_t max, store_list_fn fn, void *userdata,
                          int *ret_more);
int store_local_read_prove(struct store *s, const struct oid *pack_id, const void *nonce, size_t nonce_len,
                           uint8_t ret_digest[CRYPTO_SHA256_SIZE]);
