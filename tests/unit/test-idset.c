/* SPDX-License-Identifier: MIT */
/* common/idset.c: add, find, remove, growth and tombstones. */
#include <criterion/criterion.h>
#include <string.h>

#include "idset.h"

static struct oid make(uint32_t i)
{
        struct oid id;
        memset(&id, 0, sizeof(id));
        /* spread like a keyed hash would, and collide on purpose in the low bits */
        uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
        memcpy(id.bytes, &h, sizeof(h));
        memcpy(id.bytes + 8, &i, sizeof(i));
        return id;
}

Test(idset, add_has_remove_many)
{
        struct idset s;
        idset_init(&s);
        for (uint32_t i = 0; i < 100000; i++) {
                struct oid id = make(i);
                cr_assert_eq(idset_add(&s, &id), 1);
        }
        struct oid again = make(7);
        cr_assert_eq(idset_add(&s, &again), 0, "already there");
        cr_assert_eq(s.n, 100000);
        for (uint32_t i = 0; i < 100000; i += 2) {
                struct oid id = make(i);
                cr_assert_eq(idset_remove(&s, &id), 1);
        }
        for (uint32_t i = 0; i < 100000; i++) {
                struct oid id = make(i);
                cr_assert_eq(idset_has(&s, &id), i % 2 == 1, "id %u", i);
        }
        struct oid absent = make(200000);
        cr_assert_eq(idset_remove(&s, &absent), 0);
        /* churn through tombstones without growing for ever */
        for (uint32_t round = 0; round < 20; round++)
                for (uint32_t i = 0; i < 1000; i++) {
                        struct oid id = make(300000 + i);
                        cr_assert_eq(idset_add(&s, &id), 1);
                        cr_assert_eq(idset_remove(&s, &id), 1);
                }
        cr_assert_leq(s.cap, (size_t)1 << 18);
        idset_done(&s);
}

Test(idset, empty_set)
{
        struct idset s;
        idset_init(&s);
        struct oid id = make(1);
        cr_assert(!idset_has(&s, &id));
        cr_assert_eq(idset_remove(&s, &id), 0);
        idset_done(&s);
}
