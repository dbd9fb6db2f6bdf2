/* SPDX-License-Identifier: MIT */
/* Peers (table peers): nodes this one talks to, by node id. An approved peer
 * has a unique name, a quota and a delete delay for the packs it keeps here,
 * and an address when we also replicate to it; a pending node (approved 0, no
 * name) is one that connected without being approved, kept for `peer approve`
 * (at most INDEX_PEER_PENDING_MAX of them, the least recently seen dropped).
 * The packs themselves are index-hosted.c's; the stores row of a peer we
 * replicate to is index-store.c's. */
#include "index-private.h"

#include <errno.h>

/* name and address bind NULL when empty: several pending rows share no name */
#define PEER_COLUMNS \
        "id, name, address, approved, quota, delete_delay_ns, first_seen_ns, last_seen_ns, last_address"
#define PEER_SELECT                                                                              \
        "SELECT id, coalesce(name, ''), coalesce(address, ''), approved, quota, delete_delay_ns," \
        " first_seen_ns, last_seen_ns, last_address FROM peers "

static int peer_visit(union index_visitor visitor, const void *row, void *userdata)
{
        return visitor.peer(row, userdata);
}

static const struct index_column peer_columns[] = {
        INDEX_COLUMN_OID(struct index_peer, id, 0),
        INDEX_COLUMN_TEXT(struct index_peer, name, 0),
        INDEX_COLUMN_TEXT(struct index_peer, address, 0),
        INDEX_COLUMN_INT(struct index_peer, approved, 0),
        INDEX_COLUMN_UINT64(struct index_peer, quota, 0),
        INDEX_COLUMN_INT64(struct index_peer, delete_delay_ns, 0),
        INDEX_COLUMN_INT64(struct index_peer, first_seen_ns, 0),
        INDEX_COLUMN_INT64(struct index_peer, last_seen_ns, 0),
        INDEX_COLUMN_TEXT(struct index_peer, last_address, 0),
};
static const struct index_row peer_row = INDEX_ROW(struct index_peer, peer_columns, 0, peer_visit);

void index_peer_done(struct index_peer *peer)
{
        index_row_free(&peer_row, peer);
}

static int peer_check(const char *name, uint64_t quota, int64_t delete_delay_ns)
{
        if (!name || !*name || quota > INT64_MAX || delete_delay_ns < 0)
                return -EINVAL;
        return 0;
}

int index_peer_add(struct index *idx, const struct oid *id, const char *name, const char *address,
                   uint64_t quota, int64_t delete_delay_ns)
{
        int64_t now = index_now_ns();
        int r;

        r = peer_check(name, quota, delete_delay_ns);
        if (r < 0)
                return r;
        /* a pending row of the same id becomes this peer; an approved one stays */
        r = index_row_exec(idx,
                           INDEX_QUERY("INSERT INTO peers (" PEER_COLUMNS ") "
                                       "VALUES (?1, ?2, nullif(?3, ''), 1, ?4, ?5, ?6, 0, '') "
                                       "ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                                       " address = excluded.address, approved = 1,"
                                       " quota = excluded.quota,"
                                       " delete_delay_ns = excluded.delete_delay_ns "
                                       "WHERE approved = 0",
                                       INDEX_VALUE_OID(id), INDEX_VALUE_TEXT(name),
                                       INDEX_VALUE_TEXT(address ? address : ""),
                                       INDEX_VALUE_INT64((int64_t)quota),
                                       INDEX_VALUE_INT64(delete_delay_ns), INDEX_VALUE_INT64(now)));
        if (r < 0)
                return r; /* -EEXIST: the name is taken */
        return r == 0 ? -EEXIST : 0;
}

int index_peer_pending(struct index *idx, const struct oid *id, const char *address, int64_t now_ns)
{
        int r;

        r = index_begin(idx);
        if (r < 0)
                return r;
        r = index_row_exec(idx,
                           INDEX_QUERY("INSERT INTO peers (id, approved, first_seen_ns, last_seen_ns,"
                                       " last_address) VALUES (?1, 0, ?2, ?2, ?3) "
                                       "ON CONFLICT (id) DO UPDATE SET last_seen_ns = excluded.last_seen_ns,"
                                       " last_address = excluded.last_address",
                                       INDEX_VALUE_OID(id), INDEX_VALUE_INT64(now_ns),
                                       INDEX_VALUE_TEXT(address ? address : "")));
        if (r >= 0)
                r = index_row_exec(idx,
                                   INDEX_QUERY("DELETE FROM peers WHERE approved = 0 AND id NOT IN "
                                               "(SELECT id FROM peers WHERE approved = 0 "
                                               " ORDER BY last_seen_ns DESC, id LIMIT ?1)",
                                               INDEX_VALUE_INT64(INDEX_PEER_PENDING_MAX)));
        return index_end(idx, r < 0 ? r : 0);
}

int index_peer_get(struct index *idx, const struct oid *id, struct index_peer *ret)
{
        return index_row_get(idx, INDEX_QUERY(PEER_SELECT "WHERE id = ?1", INDEX_VALUE_OID(id)),
                             &peer_row, ret);
}

int index_peer_find(struct index *idx, const char *name, struct index_peer *ret)
{
        if (!name || !*name)
                return -EINVAL;
        return index_row_get(idx, INDEX_QUERY(PEER_SELECT "WHERE name = ?1", INDEX_VALUE_TEXT(name)),
                             &peer_row, ret);
}

int index_peer_approve(struct index *idx, const struct oid *id, const char *name, uint64_t quota,
                       int64_t delete_delay_ns)
{
        int r;

        r = peer_check(name, quota, delete_delay_ns);
        if (r < 0)
                return r;
        r = index_row_exec(idx,
                           INDEX_QUERY("UPDATE peers SET approved = 1, name = ?2, quota = ?3,"
                                       " delete_delay_ns = ?4 WHERE id = ?1 AND approved = 0",
                                       INDEX_VALUE_OID(id), INDEX_VALUE_TEXT(name),
                                       INDEX_VALUE_INT64((int64_t)quota),
                                       INDEX_VALUE_INT64(delete_delay_ns)));
        if (r < 0)
                return r; /* -EEXIST: the name is taken */
        if (r > 0)
                return 0;
        r = index_row_exists(idx, INDEX_QUERY("SELECT 1 FROM peers WHERE id = ?1", INDEX_VALUE_OID(id)));
        if (r < 0)
                return r;
        return r ? -EALREADY : -ENOENT;
}

int index_peer_set_quota(struct index *idx, const struct oid *id, uint64_t quota)
{
        if (quota > INT64_MAX)
                return -EINVAL;
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE peers SET quota = ?2 WHERE id = ?1 AND approved",
                                                   INDEX_VALUE_OID(id), INDEX_VALUE_INT64((int64_t)quota)));
}

int index_peer_remove(struct index *idx, const struct oid *id)
{
        return index_row_exec_one(idx, INDEX_QUERY("DELETE FROM peers WHERE id = ?1", INDEX_VALUE_OID(id)));
}

int index_peer_touch(struct index *idx, const struct oid *id, int64_t now_ns, const char *address)
{
        return index_row_exec_one(idx, INDEX_QUERY("UPDATE peers SET last_seen_ns = ?2, last_address = ?3 "
                                                   "WHERE id = ?1",
                                                   INDEX_VALUE_OID(id), INDEX_VALUE_INT64(now_ns),
                                                   INDEX_VALUE_TEXT(address ? address : "")));
}

int index_peer_foreach(struct index *idx, index_peer_cb cb, void *userdata)
{
        return index_row_foreach(idx,
                                 INDEX_SQL(PEER_SELECT "ORDER BY approved DESC, name, last_seen_ns DESC, id"),
                                 &peer_row, (union index_visitor){ .peer = cb }, userdata);
}
