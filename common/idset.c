/* SPDX-License-Identifier: MIT */
/* Open-addressing id set with linear probing and tombstones; see idset.h. */
#include "idset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void idset_init(struct idset *s) { memset(s, 0, sizeof(*s)); }

void idset_done(struct idset *s)
{
        free(s->slots);
        free(s->used);
        memset(s, 0, sizeof(*s));
}

static size_t slot_of(const struct oid *id, size_t cap)
{
        uint64_t h;
        memcpy(&h, id->bytes, sizeof(h));
        return (size_t)h & (cap - 1);
}

bool idset_has(const struct idset *s, const struct oid *id)
{
        if (!s->cap)
                return false;
        for (size_t i = slot_of(id, s->cap), k = 0; k < s->cap; i = (i + 1) & (s->cap - 1), k++) {
                if (s->used[i] == 0)
                        return false;
                if (s->used[i] == 1 && !memcmp(s->slots[i].bytes, id->bytes, OID_SIZE))
                        return true;
        }
        return false;
}

static int grow(struct idset *s)
{
        size_t cap = s->cap ? s->cap * 2 : 1024;
        if ((s->n + 1) * 4 < s->cap * 3 && s->tomb > s->cap / 4)
                cap = s->cap; /* just rehash away the tombstones */
        struct oid *slots = malloc(cap * sizeof(*slots));
        unsigned char *used = calloc(cap, 1);
        if (!slots || !used) {
                free(slots);
                free(used);
                return -ENOMEM;
        }
        for (size_t i = 0; i < s->cap; i++) {
                if (s->used[i] != 1)
                        continue;
                size_t j = slot_of(&s->slots[i], cap);
                while (used[j])
                        j = (j + 1) & (cap - 1);
                used[j] = 1;
                slots[j] = s->slots[i];
        }
        free(s->slots);
        free(s->used);
        s->slots = slots;
        s->used = used;
        s->cap = cap;
        s->tomb = 0;
        return 0;
}

int idset_add(struct idset *s, const struct oid *id)
{
        if (idset_has(s, id))
                return 0;
        if ((s->n + s->tomb + 1) * 4 >= s->cap * 3) {
                int r = grow(s);
                if (r < 0)
                        return r;
        }
        size_t i = slot_of(id, s->cap);
        while (s->used[i] == 1)
                i = (i + 1) & (s->cap - 1);
        if (s->used[i] == 2)
                s->tomb--;
        s->used[i] = 1;
        s->slots[i] = *id;
        s->n++;
        return 1;
}

int idset_remove(struct idset *s, const struct oid *id)
{
        if (!s->cap)
                return 0;
        for (size_t i = slot_of(id, s->cap), k = 0; k < s->cap; i = (i + 1) & (s->cap - 1), k++) {
                if (s->used[i] == 0)
                        return 0;
                if (s->used[i] == 1 && !memcmp(s->slots[i].bytes, id->bytes, OID_SIZE)) {
                        s->used[i] = 2;
                        s->n--;
                        s->tomb++;
                        return 1;
                }
        }
        return 0;
}
