/* SPDX-License-Identifier: MIT */
/* The hard-link groups of a restore (see restore-links.h): an array of
 * groups in the order met, an open-addressing index over it by group, and
 * the paths waiting for a group's file, chained per group. */

#include "restore-links.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cleanup.h"
#include "crypto.h"
#include "log.h"

/* A path linked once its group's file is written. */
struct waiting {
        char *path;
        void *waiter;
        size_t next; /* the next path waiting on the same file: index + 1, 0 none */
};

struct group {
        uint64_t id;
        uint8_t content[CRYPTO_SHA256_SIZE]; /* entry_content of the first entry */
        char *path;
        bool pending;   /* a file queued for writing, not yet written */
        bool failed;    /* that file could not be restored */
        size_t waiting; /* the first path waiting for it: index + 1, 0 none */
};

struct restore_links {
        struct group *groups;
        size_t n, cap;
        size_t *slots;    /* open addressing over groups by id: index + 1, 0 empty */
        size_t slots_cap; /* a power of two, at least twice n */
        struct waiting *waiting;
        size_t n_waiting, cap_waiting;
};

struct restore_links *restore_links_new(void)
{
        return calloc(1, sizeof(struct restore_links));
}

void restore_links_free(struct restore_links *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->groups[i].path);
        free(l->groups);
        free(l->slots);
        for (size_t i = 0; i < l->n_waiting; i++)
                free(l->waiting[i].path);
        free(l->waiting);
        free(l);
}

static size_t slot_of(uint64_t id, size_t cap)
{
        id *= 0x9E3779B97F4A7C15ull;
        return (size_t)(id >> 32) & (cap - 1);
}

/* The index in groups of group id, or -1. */
static ssize_t find(const struct restore_links *l, uint64_t id)
{
        if (!l->slots_cap)
                return -1;
        for (size_t i = slot_of(id, l->slots_cap); l->slots[i]; i = (i + 1) & (l->slots_cap - 1))
                if (l->groups[l->slots[i] - 1].id == id)
                        return (ssize_t)l->slots[i] - 1;
        return -1;
}

/* Index groups[n - 1] by its id (growing the index as needed). */
static int index_last(struct restore_links *l)
{
        if (2 * l->n > l->slots_cap) {
                size_t cap = l->slots_cap ? 2 * l->slots_cap : 256;
                size_t *slots = calloc(cap, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                free(l->slots);
                l->slots = slots;
                l->slots_cap = cap;
                for (size_t k = 0; k + 1 < l->n; k++) {
                        size_t i = slot_of(l->groups[k].id, cap);
                        while (slots[i])
                                i = (i + 1) & (cap - 1);
                        slots[i] = k + 1;
                }
        }
        size_t i = slot_of(l->groups[l->n - 1].id, l->slots_cap);
        while (l->slots[i])
                i = (i + 1) & (l->slots_cap - 1);
        l->slots[i] = l->n;
        return 0;
}

/* What an entry's content is (kind, size, device, target, chunks), to tell
 * whether two entries of one hard-link group recorded the same content. */
static int entry_content(const struct object_entry *e, uint8_t ret[CRYPTO_SHA256_SIZE])
{
        struct crypto_sha256 *h = NULL;
        uint8_t head[2 + 3 * 8];
        int k = crypto_sha256_new(&h);

        head[0] = (uint8_t)e->kind;
        head[1] = e->has_list;
        for (int b = 0; b < 8; b++) {
                head[2 + b] = (uint8_t)(e->size >> (8 * b));
                head[10 + b] = (uint8_t)(e->rdev >> (8 * b));
                head[18 + b] = (uint8_t)((uint64_t)e->n_extents >> (8 * b));
        }
        if (k >= 0)
                k = crypto_sha256_update(h, head, sizeof(head));
        if (k >= 0 && e->has_list)
                k = crypto_sha256_update(h, e->list.bytes, sizeof(e->list.bytes));
        for (size_t i = 0; k >= 0 && i < e->n_extents; i++) {
                uint8_t ext[9];
                ext[0] = e->extents[i].hole;
                for (int b = 0; b < 8; b++)
                        ext[1 + b] = (uint8_t)(e->extents[i].length >> (8 * b));
                k = crypto_sha256_update(h, ext, sizeof(ext));
                if (k >= 0)
                        k = crypto_sha256_update(h, e->extents[i].id.bytes, sizeof(e->extents[i].id.bytes));
        }
        if (k >= 0 && e->target_len)
                k = crypto_sha256_update(h, e->target, e->target_len);
        if (k >= 0)
                return crypto_sha256_final(h, ret); /* frees it */
        crypto_sha256_free(h);
        return k;
}

int restore_links_place(struct restore_links *l, const struct object_entry *e, const char *path, void *waiter,
                        enum restore_link_place *ret, const char **ret_first)
{
        uint8_t content[CRYPTO_SHA256_SIZE];
        int r = entry_content(e, content);
        if (r < 0)
                return r;
        ssize_t k = find(l, e->hardlink);
        if (k >= 0) {
                struct group *g = &l->groups[k];
                *ret_first = g->path;
                if (memcmp(g->content, content, sizeof(content)) != 0) {
                        /* the snapshot recorded other content for this link than
                         * for the group's first (a change seen through one of its
                         * paths only, before the next full walk): each path gets
                         * what was recorded for it */
                        *ret = RESTORE_LINK_OWN;
                        return 0;
                }
                if (!g->pending) {
                        *ret = g->failed ? RESTORE_LINK_SKIP : RESTORE_LINK_NOW;
                        return 0;
                }
                if (!GROW(l->waiting, l->n_waiting, l->cap_waiting, 64))
                        return -ENOMEM;
                struct waiting *w = &l->waiting[l->n_waiting];
                if (!(w->path = strdup(path)))
                        return -ENOMEM;
                w->waiter = waiter;
                w->next = g->waiting;
                g->waiting = ++l->n_waiting;
                *ret = RESTORE_LINK_WAIT;
                return 0;
        }
        if (!GROW(l->groups, l->n, l->cap, 64))
                return -ENOMEM;
        struct group *g = &l->groups[l->n];
        *g = (struct group){ .id = e->hardlink, .path = strdup(path), .pending = e->kind == OBJECT_KIND_FILE };
        memcpy(g->content, content, sizeof(content));
        if (!g->path)
                return -ENOMEM;
        l->n++;
        if (index_last(l) < 0)
                return -ENOMEM;
        *ret = RESTORE_LINK_FIRST;
        return 0;
}

void restore_links_written(struct restore_links *l, uint64_t group, bool failed, restore_link_fn fn,
                           void *userdata)
{
        ssize_t k = find(l, group);
        if (k < 0 || !l->groups[k].pending)
                return;
        struct group *g = &l->groups[k];
        size_t next = g->waiting;
        g->waiting = 0;
        g->pending = false;
        g->failed = failed;
        while (next) {
                struct waiting *w = &l->waiting[next - 1];
                next = w->next;
                fn(g->path, w->path, w->waiter, userdata);
                free(w->path);
                w->path = NULL;
        }
}
