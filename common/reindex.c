/* SPDX-License-Identifier: MIT */
/* Reindex: list every source store, read each pack's header through
 * store_get range reads (pack_read_header) and index_pack_add it, between
 * index_reindex_begin and index_reindex_end, so the rebuild is atomic.
 * Knows nothing of snapshots (the daemon rebuilds those rows afterwards). */

#include "reindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pack.h"

struct listed_pack {
        struct oid id;
        uint64_t size;
        int local;
        size_t source;
};

struct listing {
        struct listed_pack *packs;
        size_t n, cap;
        size_t source; /* the source being listed */
        int local;
};

static int listing_add(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct listing *l = userdata;

        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 256;
                struct listed_pack *p = reallocarray(l->packs, cap, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                l->packs = p;
                l->cap = cap;
        }
        l->packs[l->n++] = (struct listed_pack){ .id = *pack_id, .size = size, .local = l->local,
                                                 .source = l->source };
        return 0;
}

/* By id; for one id, local copies first, then in source order. */
static int listed_cmp(const void *a, const void *b)
{
        const struct listed_pack *x = a, *y = b;
        int c = oid_cmp(&x->id, &y->id);

        if (c)
                return c;
        if (x->local != y->local)
                return y->local - x->local;
        return x->source < y->source ? -1 : x->source > y->source;
}

struct range_reader {
        struct store *store;
        const struct oid *id;
};

static int range_read(void *userdata, uint64_t offset, void *buf, size_t len)
{
        struct range_reader *rr = userdata;

        return store_get(rr->store, rr->id, offset, len, buf);
}

/* Read one pack's header from its store and add it. Returns the number of
 * entries, -EBADMSG when the pack is unusable (skipped), or -errno. */
static int reindex_pack(struct index *idx, struct store *store, const struct listed_pack *p,
                        const uint8_t pack_key[CRYPTO_KEY_SIZE], size_t *ret_n)
{
        _cleanup_free_ struct pack_entry *entries = NULL;
        _cleanup_free_ struct index_pack_entry *converted = NULL;
        struct range_reader rr = { .store = store, .id = &p->id };
        size_t n = 0;
        int r;

        r = pack_read_header(range_read, &rr, p->size, pack_key, &entries, &n);
        if (r == -ENOENT || r == -ERANGE)
                r = -EBADMSG; /* gone or shorter since the listing: skip it too */
        if (r < 0)
                return r;
        if (n > 0) {
                converted = calloc(n, sizeof(*converted));
                if (!converted)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                converted[i] = (struct index_pack_entry){ .id = entries[i].id,
                                                          .type = entries[i].type,
                                                          .offset = entries[i].offset,
                                                          .length = entries[i].length };
        r = index_pack_add(idx, &p->id, p->size, 0, p->local, converted, n);
        if (r < 0)
                return r == -EBADMSG ? -EIO : r; /* an index error is not a bad pack */
        *ret_n = n;
        return 0;
}

int reindex_run(struct index *idx, const struct reindex_source *sources, size_t n,
                const uint8_t pack_key[CRYPTO_KEY_SIZE], struct reindex_stats *ret_stats)
{
        struct reindex_stats st = { 0 };
        struct listing l = { 0 };
        const struct oid *last_indexed = NULL;
        int r;

        if (!idx || (n && !sources) || !pack_key)
                return -EINVAL;

        /* List every source before touching the index: a failed listing
         * must not make packs disappear. */
        for (size_t s = 0; s < n; s++) {
                l.source = s;
                l.local = !!sources[s].local;
                r = store_list_all(sources[s].store, listing_add, &l);
                if (r < 0)
                        goto out;
        }
        if (l.n > 0)
                qsort(l.packs, l.n, sizeof(*l.packs), listed_cmp);

        r = index_reindex_begin(idx);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < l.n; i++) {
                const struct listed_pack *p = &l.packs[i];
                size_t entries = 0;

                /* one copy per pack; a bad copy lets the next one try */
                if (last_indexed && oid_cmp(last_indexed, &p->id) == 0)
                        continue;
                r = reindex_pack(idx, sources[p->source].store, p, pack_key, &entries);
                if (r == -EBADMSG) {
                        if (i + 1 == l.n || oid_cmp(&l.packs[i + 1].id, &p->id) != 0)
                                st.bad_packs++;
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                last_indexed = &p->id;
                st.packs++;
                st.objects += entries;
                st.bytes += p->size;
        }
        /* Not one readable pack out of several: the wrong key, most likely.
         * Keep the index rather than empty it. */
        if (r >= 0 && st.packs == 0 && st.bad_packs > 0)
                r = -EBADMSG;
        if (r < 0) {
                (void)index_reindex_end(idx, 0);
                goto out;
        }
        r = index_reindex_end(idx, 1);
        if (r < 0)
                goto out;
        if (ret_stats)
                *ret_stats = st;
out:
        free(l.packs);
        return r;
}
