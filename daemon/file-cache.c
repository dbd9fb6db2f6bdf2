/* SPDX-License-Identifier: MIT */
/* File cache content references (see file-cache.h). Layout, little endian:
 *   u8 version (1) | u8 flags (bit 0: list, bit 1: the file had no extended
 *   attributes) | u64 size |
 *   list:   32-byte list id
 *   inline: u32 n | n x (u8 hole | u64 length | 32-byte id unless hole) */
#include "file-cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FILE_CACHE_VERSION 1

static void put_u64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

int file_cache_encode(const struct object_entry *e, bool xattrs_known, uint8_t **ret, size_t *ret_len)
{
        size_t len = 2 + 8 + (e->has_list ? OID_SIZE : 4 + e->n_extents * (1 + 8 + OID_SIZE));
        uint8_t *buf = malloc(len), *p = buf;
        if (!buf)
                return -ENOMEM;
        *p++ = FILE_CACHE_VERSION;
        *p++ = (e->has_list ? 1 : 0) | (xattrs_known && e->n_xattrs == 0 ? FILE_CACHE_NO_XATTRS : 0);
        put_u64(p, e->size);
        p += 8;
        if (e->has_list) {
                memcpy(p, e->list.bytes, OID_SIZE);
                p += OID_SIZE;
        } else {
                uint32_t n = (uint32_t)e->n_extents;
                for (int i = 0; i < 4; i++)
                        *p++ = (uint8_t)(n >> (8 * i));
                for (size_t i = 0; i < e->n_extents; i++) {
                        *p++ = e->extents[i].hole ? 1 : 0;
                        put_u64(p, e->extents[i].length);
                        p += 8;
                        if (!e->extents[i].hole) {
                                memcpy(p, e->extents[i].id.bytes, OID_SIZE);
                                p += OID_SIZE;
                        }
                }
        }
        *ret = buf;
        *ret_len = (size_t)(p - buf);
        return 0;
}

int file_cache_decode(const void *buf, size_t len, struct object_entry *e)
{
        const uint8_t *p = buf, *end = p + len;
        if (len < 10 || p[0] != FILE_CACHE_VERSION || (p[1] & ~(1u | FILE_CACHE_NO_XATTRS)))
                return -EBADMSG;
        bool list = p[1] & 1;
        int flags = p[1] & FILE_CACHE_NO_XATTRS;
        uint64_t size = get_u64(p + 2);
        p += 10;
        if (list) {
                if (end - p != OID_SIZE)
                        return -EBADMSG;
                memcpy(e->list.bytes, p, OID_SIZE);
                e->has_list = true;
                e->extents = NULL;
                e->n_extents = 0;
                e->size = size;
                return flags;
        }
        if (end - p < 4)
                return -EBADMSG;
        uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        if (n > OBJECT_INLINE_EXTENTS_MAX || (size_t)(end - p) < (size_t)n * 9)
                return -EBADMSG;
        struct object_extent *v = n ? calloc(n, sizeof(*v)) : NULL;
        if (n && !v)
                return -ENOMEM;
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
                if (end - p < 9 || p[0] > 1)
                        goto bad;
                v[i].hole = p[0];
                v[i].length = get_u64(p + 1);
                p += 9;
                if (!v[i].hole) {
                        if (end - p < OID_SIZE)
                                goto bad;
                        memcpy(v[i].id.bytes, p, OID_SIZE);
                        p += OID_SIZE;
                }
                if (v[i].length == 0 || total + v[i].length < total)
                        goto bad;
                total += v[i].length;
        }
        if (p != end || total != size)
                goto bad;
        e->has_list = false;
        e->extents = v;
        e->n_extents = n;
        e->size = size;
        return flags;
bad:
        free(v);
        return -EBADMSG;
}
