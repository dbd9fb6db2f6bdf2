/* SPDX-License-Identifier: MIT */
/* Tombstones through the repository: forgotten_write encodes a forget's rows
 * as tombstone objects (tombstone_fit decides the split), puts them and
 * flushes; forgotten_collect lists the tombstone objects of the index and
 * decodes each into an id set. Deciding what to forget is retention-apply.c,
 * using the set recover.c. */
#include "forgotten.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "object.h"
#include "repo.h"
#include "tombstone.h"

/* Put the tombstone of entries[0..n) (n fits one object). */
static int put_one(struct repo *repo, const char *hostname, int64_t now, struct tombstone_entry *entries,
                   size_t n)
{
        struct tombstone t = { .time_ns = now, .hostname = (char *)hostname, .entries = entries, .n_entries = n };
        _cleanup_free_ uint8_t *buf = NULL;
        struct oid id;
        size_t len;
        int k = tombstone_encode(&t, &buf, &len);

        if (k < 0)
                return k;
        return repo_put(repo, OBJECT_TOMBSTONE, buf, len, &id, NULL);
}

int forgotten_write(struct repo *repo, const struct index_snapshot *rows, size_t n, int64_t now)
{
        _cleanup_free_ struct tombstone_entry *entries = NULL;
        char hostname[OBJECT_HOSTNAME_MAX + 1] = "";
        static const char unknown_root[] = "?";
        size_t done = 0;
        int k, written = 0;

        if (n == 0)
                return 0;
        /* a pack that fails after its put is seen only here: the tombstone
         * must be durable before any row goes */
        uint64_t failures_before = repo_failures(repo);
        if (gethostname(hostname, sizeof(hostname) - 1) < 0 || !hostname[0])
                strcpy(hostname, "localhost");
        entries = calloc(n, sizeof(*entries));
        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const char *root = rows[i].root_path;
                size_t len = root ? strnlen(root, OBJECT_ROOT_MAX + 1) : 0;

                /* the path is informational: one too long or unknown is replaced */
                if (len == 0 || len > OBJECT_ROOT_MAX) {
                        root = unknown_root;
                        len = 1;
                }
                entries[i] = (struct tombstone_entry){ .id = rows[i].id, .time_ns = rows[i].time_ns,
                                                       .root = (uint8_t *)root, .root_len = len };
        }
        while (done < n) {
                size_t fit = tombstone_fit(hostname, entries + done, n - done);

                if (fit == 0)
                        return -EINVAL; /* a null id: not a snapshot row */
                k = put_one(repo, hostname, now, entries + done, fit);
                if (k < 0)
                        return k;
                done += fit;
                written++;
        }
        k = repo_flush(repo);
        if (k >= 0 && repo_failures(repo) != failures_before)
                k = -EIO;
        return k < 0 ? k : written;
}

struct tombstone_ids {
        struct oid *ids;
        size_t n, cap;
};

static int tombstone_id_cb(const struct index_object *o, void *userdata)
{
        struct tombstone_ids *l = userdata;

        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 16;
                struct oid *ids = reallocarray(l->ids, cap, sizeof(*ids));

                if (!ids)
                        return -ENOMEM;
                l->ids = ids;
                l->cap = cap;
        }
        l->ids[l->n++] = o->id;
        return 0;
}

int forgotten_collect(struct repo *repo, struct idset *set, uint64_t *ret_tombstones, uint64_t *ret_bad)
{
        struct tombstone_ids l = { 0 };
        struct index *rd = repo_reader_get(repo);
        uint64_t read = 0, bad = 0;
        int k;

        if (!rd)
                return -EIO;
        k = index_object_foreach_type(rd, OBJECT_TOMBSTONE, tombstone_id_cb, &l);
        repo_reader_put(repo, rd);
        for (size_t i = 0; k >= 0 && i < l.n; i++) {
                _cleanup_free_ uint8_t *payload = NULL;
                struct tombstone *t = NULL;
                size_t len;

                k = repo_get(repo, &l.ids[i], OBJECT_TOMBSTONE, 0, &payload, &len);
                if (k >= 0)
                        k = tombstone_decode(payload, len, &t);
                if (k == -ENOMEM)
                        break;
                if (k < 0) {
                        bad++;
                        k = 0;
                        continue;
                }
                for (size_t j = 0; k >= 0 && j < t->n_entries; j++)
                        k = idset_add(set, &t->entries[j].id);
                tombstone_free(t);
                read++;
        }
        free(l.ids);
        if (k < 0)
                return k;
        *ret_tombstones = read;
        *ret_bad = bad;
        return 0;
}
