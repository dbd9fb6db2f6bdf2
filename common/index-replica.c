/* SPDX-License-Identifier: MIT */
/* Replica state (table replicas): how far each pack got on each store
 * (pending, uploaded, verified). A missing row means pending, so a new store
 * needs no backfill; the pending listing is the replicator's work queue. */
#include "index-private.h"

#include <errno.h>

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

        if (state < INDEX_REPLICA_PENDING || state > INDEX_REPLICA_VERIFIED)
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
