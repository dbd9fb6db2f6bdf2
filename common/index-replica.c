/* SPDX-License-Identifier: MIT */
/* Replica state (table replicas): how far each pack got on each store
 * (pending, uploaded, verified, and when a PROVE last checked it). A missing
 * row means pending, so a new store needs no backfill; the pending pages are
 * the replicator's work queue, the counts its status, the random picks its
 * PROVE challenges. */
#include "index-private.h"

#include <errno.h>
#include <stdbool.h>

#include "crypto.h"

static const struct index_column replica_columns[] = {
        INDEX_COLUMN_OID(struct index_replica, pack, 0),
        INDEX_COLUMN_INT64(struct index_replica, store_id, 0),
        INDEX_COLUMN_INT(struct index_replica, state, 0),
        INDEX_COLUMN_INT64(struct index_replica, updated_ns, 0),
};
static const struct index_row replica_row = INDEX_ROW(struct index_replica, replica_columns, 0, NULL);

int index_replica_set(struct index *idx, const struct oid *pack, int64_t store_id, int state)
{
        struct index_replica replica;
        int r;

        if (state < INDEX_REPLICA_DAMAGED || state > INDEX_REPLICA_VERIFIED)
                return -EINVAL;
        replica = (struct index_replica){
                .pack = *pack,
                .store_id = store_id,
                .state = state,
                .updated_ns = index_now_ns(),
        };
        r = index_row_put(idx,
                          INDEX_CACHED_SQL(STMT_REPLICA_SET,
                                           "INSERT INTO replicas (pack_id, store_id, state, updated_ns) "
                                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pack_id, store_id) "
                                           "DO UPDATE SET state = excluded.state, "
                                           "updated_ns = excluded.updated_ns"),
                          &replica_row, &replica);
        return r < 0 ? r : 0;
}

int index_replica_get(struct index *idx, const struct oid *pack, int64_t store_id)
{
        int state, r;

        r = index_row_get(idx,
                          INDEX_CACHED(STMT_REPLICA_GET,
                                       "SELECT state FROM replicas WHERE pack_id = ?1 AND store_id = ?2",
                                       INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id)),
                          &index_row_int, &state);
        if (r == -ENOENT)
                return INDEX_REPLICA_PENDING;
        return r < 0 ? r : state;
}

int index_replica_damaged(struct index *idx, const struct oid *pack, int64_t store_id)
{
        int damaged = 0;
        int r = index_row_get(idx,
                              INDEX_QUERY("SELECT state = -1 FROM replicas WHERE pack_id = ?1 AND store_id = ?2",
                                          INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id)),
                              &index_row_int, &damaged);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : damaged;
}

int index_replica_count(struct index *idx, const struct oid *pack, int min_state)
{
        int count, r;

        r = index_row_get(idx,
                          INDEX_QUERY("SELECT count(*) FROM replicas WHERE pack_id = ?1 AND state >= ?2",
                                      INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(min_state)),
                          &index_row_int, &count);
        if (r == -ENOENT)
                return -EIO; /* an aggregate always answers */
        return r < 0 ? r : count;
}

int index_replica_held(struct index *idx, const struct oid *pack)
{
        int count, r;

        r = index_row_get(idx,
                          INDEX_QUERY("SELECT count(*) FROM replicas r WHERE r.pack_id = ?1 AND " REPLICA_HELD("r"),
                                      INDEX_VALUE_OID(pack)),
                          &index_row_int, &count);
        if (r == -ENOENT)
                return -EIO; /* an aggregate always answers */
        return r < 0 ? r : count;
}

int index_replica_foreach_pending(struct index *idx, int64_t store_id, index_pack_cb cb,
                                  void *userdata)
{
        return index_row_foreach(
                idx,
                INDEX_QUERY("SELECT " INDEX_PACK_COLUMNS " FROM packs p WHERE NOT EXISTS "
                            "(SELECT 1 FROM replicas r WHERE r.pack_id = p.id AND r.store_id = ?1 "
                            "AND r.state >= 1) ORDER BY id",
                            INDEX_VALUE_INT64(store_id)),
                &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}

/* ---- the replicator's queries --------------------------------------------- */

int index_replica_pending_page(struct index *idx, int64_t store_id, unsigned copies,
                               const struct oid *after, size_t limit, index_pack_cb cb,
                               void *userdata)
{
        if (limit == 0 || limit > INT64_MAX)
                return -EINVAL;
        return index_row_foreach(
                idx,
                INDEX_QUERY("SELECT " INDEX_PACK_COLUMNS " FROM packs p WHERE p.id > ?3 AND "
                            PENDING_WHERE " ORDER BY p.id LIMIT ?4",
                            INDEX_VALUE_INT64(store_id), INDEX_VALUE_INT64(copies),
                            after ? (struct index_value)INDEX_VALUE_OID(after)
                                  : (struct index_value)INDEX_VALUE_BYTES("", 0),
                            INDEX_VALUE_INT64((int64_t)limit)),
                &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}

int index_replica_held_page(struct index *idx, int64_t store_id, const struct oid *after,
                            size_t limit, index_pack_cb cb, void *userdata)
{
        if (limit == 0 || limit > INT64_MAX)
                return -EINVAL;
        return index_row_foreach(
                idx,
                INDEX_QUERY("SELECT " INDEX_PACK_COLUMNS_P " "
                            "FROM replicas r JOIN packs p ON p.id = r.pack_id "
                            "WHERE r.store_id = ?1 AND r.state >= 1 AND r.pack_id > ?2 "
                            "ORDER BY r.pack_id LIMIT ?3",
                            INDEX_VALUE_INT64(store_id),
                            after ? (struct index_value)INDEX_VALUE_OID(after)
                                  : (struct index_value)INDEX_VALUE_BYTES("", 0),
                            INDEX_VALUE_INT64((int64_t)limit)),
                &index_pack_row, (union index_visitor){ .pack = cb }, userdata);
}

static const struct index_column counts_columns[] = {
        INDEX_COLUMN_UINT64(struct index_replica_counts, pending_packs, 0),
        INDEX_COLUMN_UINT64(struct index_replica_counts, pending_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_replica_counts, uploaded_packs, 0),
        INDEX_COLUMN_UINT64(struct index_replica_counts, uploaded_bytes, 0),
        INDEX_COLUMN_UINT64(struct index_replica_counts, verified_packs, 0),
        INDEX_COLUMN_UINT64(struct index_replica_counts, verified_bytes, 0),
        INDEX_COLUMN_INT64(struct index_replica_counts, verified_ns, 0),
};
static const struct index_row counts_row =
        INDEX_ROW(struct index_replica_counts, counts_columns, 0, NULL);

int index_replica_counts(struct index *idx, int64_t store_id, unsigned copies,
                         struct index_replica_counts *ret)
{
        int r = index_row_get(
                idx,
                INDEX_QUERY("SELECT (SELECT count(*) FROM packs p WHERE " PENDING_WHERE "),"
                            " (SELECT coalesce(sum(size), 0) FROM packs p WHERE " PENDING_WHERE "),"
                            " count(*) FILTER (WHERE r.state = 1),"
                            " coalesce(sum(p.size) FILTER (WHERE r.state = 1), 0),"
                            " count(*) FILTER (WHERE r.state = 2),"
                            " coalesce(sum(p.size) FILTER (WHERE r.state = 2), 0),"
                            " coalesce(max(r.verified_ns), 0)"
                            " FROM replicas r JOIN packs p ON p.id = r.pack_id WHERE r.store_id = ?1",
                            INDEX_VALUE_INT64(store_id), INDEX_VALUE_INT64(copies)),
                &counts_row, ret);

        return r == -ENOENT ? -EIO : r; /* an aggregate always answers */
}

int index_replica_set_verified(struct index *idx, const struct oid *pack, int64_t store_id,
                               int64_t verified_ns)
{
        return index_row_exec_one(
                idx, INDEX_QUERY("UPDATE replicas SET state = 2, verified_ns = ?3, updated_ns = ?4 "
                                 "WHERE pack_id = ?1 AND store_id = ?2 AND state >= 1",
                                 INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id),
                                 INDEX_VALUE_INT64(verified_ns), INDEX_VALUE_INT64(index_now_ns())));
}

int index_replica_clear_store(struct index *idx, int64_t store_id)
{
        int r = index_row_exec(idx, INDEX_QUERY("DELETE FROM replicas WHERE store_id = ?1",
                                                INDEX_VALUE_INT64(store_id)));
        return r < 0 ? r : 0;
}

int index_replica_reset(struct index *idx, const struct oid *pack, int64_t store_id)
{
        int r = index_row_exec(
                idx, INDEX_QUERY("UPDATE replicas SET state = 0, verified_ns = 0, updated_ns = ?3 "
                                 "WHERE pack_id = ?1 AND store_id = ?2",
                                 INDEX_VALUE_OID(pack), INDEX_VALUE_INT64(store_id),
                                 INDEX_VALUE_INT64(index_now_ns())));
        return r < 0 ? r : 0;
}

struct pick_row {
        struct oid id;
};
static const struct index_column pick_columns[] = {
        INDEX_COLUMN_OID(struct pick_row, id, 0),
};
static const struct index_row pick_row = INDEX_ROW(struct pick_row, pick_columns, 0, NULL);

/* The first pack store holds with id >= at, wrapping round to the first. */
static int replica_pick(struct index *idx, int64_t store_id, const struct oid *at, struct pick_row *ret)
{
        int r = index_row_get(idx,
                              INDEX_QUERY("SELECT pack_id FROM replicas WHERE store_id = ?1 AND "
                                          "state >= 1 AND pack_id >= ?2 ORDER BY pack_id LIMIT 1",
                                          INDEX_VALUE_INT64(store_id), INDEX_VALUE_OID(at)),
                              &pick_row, ret);
        if (r != -ENOENT)
                return r;
        return index_row_get(idx,
                             INDEX_QUERY("SELECT pack_id FROM replicas WHERE store_id = ?1 AND "
                                         "state >= 1 ORDER BY pack_id LIMIT 1",
                                         INDEX_VALUE_INT64(store_id)),
                             &pick_row, ret);
}

int index_replica_random(struct index *idx, int64_t store_id, size_t n, struct oid *ret_packs,
                         size_t *ret_n)
{
        _cleanup_cursor_ struct index_cursor c = { 0 };
        size_t got = 0;
        int held, r;

        if (n > 0 && !ret_packs)
                return -EINVAL;
        if (n > INT32_MAX)
                return -EINVAL;
        r = index_row_get(idx,
                          INDEX_QUERY("SELECT count(*) FROM replicas WHERE store_id = ?1 AND state >= 1",
                                      INDEX_VALUE_INT64(store_id)),
                          &index_row_int, &held);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        if ((uint64_t)held <= 4 * (uint64_t)n) {
                /* few: shuffle them all (at most 4n rows) */
                struct pick_row row;

                r = index_row_open(idx,
                                   INDEX_QUERY("SELECT pack_id FROM replicas WHERE store_id = ?1 AND "
                                               "state >= 1 ORDER BY random() LIMIT ?2",
                                               INDEX_VALUE_INT64(store_id), INDEX_VALUE_INT64((int64_t)n)),
                                   &c);
                while (r >= 0 && got < n && (r = index_row_next(&c, &pick_row, &row)) > 0)
                        ret_packs[got++] = row.id;
                if (r < 0)
                        return r;
                *ret_n = got;
                return 0;
        }
        /* many: pack ids are SHA-256 values, spread evenly, so the pack at or
         * after a random point is a fair pick, found by the primary key alone
         * (a duplicate, rare among more than 4n, costs another try) */
        for (size_t tries = 0; got < n && tries < 8 * n; tries++) {
                struct oid at;
                struct pick_row id;
                bool dup = false;

                r = crypto_random(at.bytes, sizeof(at.bytes));
                if (r < 0)
                        return r;
                r = replica_pick(idx, store_id, &at, &id);
                if (r == -ENOENT)
                        break; /* all gone meanwhile */
                if (r < 0)
                        return r;
                for (size_t i = 0; i < got && !dup; i++)
                        dup = oid_cmp(&ret_packs[i], &id.id) == 0;
                if (!dup)
                        ret_packs[got++] = id.id;
        }
        *ret_n = got;
        return 0;
}
