/* SPDX-License-Identifier: MIT */
/* daemon/file-cache.c: content references round trip, damage is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file-cache.h"

Test(file_cache, inline_round_trip_and_damage)
{
        struct object_extent ext[3] = {0};
        memset(ext[0].id.bytes, 1, OID_SIZE);
        ext[0].length = 1000;
        ext[1].hole = true;
        ext[1].length = 5000;
        memset(ext[2].id.bytes, 2, OID_SIZE);
        ext[2].length = 7;
        struct object_entry e = {.extents = ext, .n_extents = 3, .size = 6007};
        uint8_t *buf;
        size_t len;
        cr_assert_eq(file_cache_encode(&e, true, &buf, &len), 0);

        struct object_entry back = {0};
        cr_assert_eq(file_cache_decode(buf, len, &back), FILE_CACHE_NO_XATTRS, "no xattrs: said so");
        {
                uint8_t *unknown;
                size_t ulen;
                struct object_entry u = {0};
                cr_assert_eq(file_cache_encode(&e, false, &unknown, &ulen), 0);
                cr_assert_eq(file_cache_decode(unknown, ulen, &u), 0, "not read: never said to be none");
                free(u.extents);
                free(unknown);
        }
        cr_assert_eq(back.n_extents, 3);
        cr_assert_eq(back.size, 6007);
        cr_assert(back.extents[1].hole);
        cr_assert_eq(memcmp(back.extents[2].id.bytes, ext[2].id.bytes, OID_SIZE), 0);
        free(back.extents);

        /* every truncation and a wrong size are refused */
        for (size_t cut = 0; cut < len; cut++) {
                struct object_entry x = {0};
                cr_assert_lt(file_cache_decode(buf, cut, &x), 0, "cut at %zu", cut);
        }
        buf[2] ^= 1; /* size no longer matches the extents */
        struct object_entry x = {0};
        cr_assert_eq(file_cache_decode(buf, len, &x), -EBADMSG);
        free(buf);
}

Test(file_cache, list_reference)
{
        char name[] = "user.a";
        uint8_t value[] = "b";
        struct object_xattr x = {.name = name, .value = value, .value_len = 1};
        struct object_entry e = {.has_list = true, .size = 1ull << 40, .xattrs = &x, .n_xattrs = 1};
        memset(e.list.bytes, 9, OID_SIZE);
        uint8_t *buf;
        size_t len;
        cr_assert_eq(file_cache_encode(&e, true, &buf, &len), 0);
        struct object_entry back = {0};
        cr_assert_eq(file_cache_decode(buf, len, &back), 0, "it had extended attributes");
        cr_assert(back.has_list);
        cr_assert_eq(back.size, 1ull << 40);
        cr_assert_eq(memcmp(back.list.bytes, e.list.bytes, OID_SIZE), 0);
        buf[1] |= 4; /* an unknown flag */
        cr_assert_eq(file_cache_decode(buf, len, &back), -EBADMSG);
        buf[1] &= (uint8_t)~4;
        buf[0] = 2; /* unknown version */
        cr_assert_eq(file_cache_decode(buf, len, &back), -EBADMSG);
        free(buf);
}
