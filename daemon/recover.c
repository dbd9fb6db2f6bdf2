/* SPDX-License-Identifier: MIT */
/* Disaster recovery from one store (DESIGN §5): undelete what a peer has
 * marked, copy every pack the store holds into the local pack directory
 * (hash-checked by the local store), rebuild packs and objects from the
 * packs alone (reindex_run), then the snapshot rows from the decrypted
 * snapshot objects, less those a tombstone names (forgotten.c). Runs on a
 * worker thread; the request glue is cmd-recover.c. Never deletes a pack. */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "forgotten.h"
#include "idset.h"
#include "index.h"
#include "job-error.h"
#include "object.h"
#include "reindex.h"
#include "replicate.h"
#include "repo.h"
#include "retention-apply.h"
#include "root.h"
#include "store-peer.h"
#include "store.h"
#include "test-hook.h"

/* Bytes fetched per GET while copying a pack. */
#define RECOVER_RANGE (4u << 20)

struct recover_listing {
        struct oid *ids;
        uint64_t *sizes;
        uint8_t *states; /* recover: what each pack is known to be there (INDEX_REPLICA_*), or NULL */
        size_t n, cap;
        struct recover_job *job;
};

static int listing_add(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct recover_listing *l = userdata;

        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 256;
                struct oid *ids = reallocarray(l->ids, cap, sizeof(*ids));
                if (!ids)
                        return -ENOMEM;
                l->ids = ids;
                uint64_t *sizes = reallocarray(l->sizes, cap, sizeof(*sizes));
                if (!sizes)
                        return -ENOMEM;
                l->sizes = sizes;
                l->cap = cap;
        }
        l->ids[l->n] = *pack_id;
        l->sizes[l->n] = size;
        l->n++;
        __atomic_add_fetch(&l->job->total_bytes, size, __ATOMIC_RELAXED);
        return 0;
}

static void recover_fail(struct recover_job *job, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void recover_fail(struct recover_job *job, int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        job_error_set(&job->error, job->error_text, sizeof(job->error_text), err, fmt, ap);
        va_end(ap);
}

/* Copy pack id (size bytes) from the store into the local pack directory. */
static int recover_copy_pack(struct recover_job *job, const struct oid *id, uint64_t size)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t off = 0;
        int r;

        fd = open(job->staging_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        buf = malloc(RECOVER_RANGE);
        if (!buf)
                return -ENOMEM;
        while (off < size) {
                size_t n = size - off < RECOVER_RANGE ? (size_t)(size - off) : RECOVER_RANGE;

                if (__atomic_load_n(&job->cancel, __ATOMIC_RELAXED))
                        return -ECANCELED;
                r = store_get(job->store, id, off, n, buf);
                if (r < 0)
                        return r;
                for (size_t done = 0; done < n;) {
                        ssize_t w = pwrite(fd, buf + done, n - done, (off_t)(off + done));
                        if (w < 0)
                                return -errno;
                        done += (size_t)w;
                }
                off += n;
                __atomic_add_fetch(&job->bytes, n, __ATOMIC_RELAXED);
        }
        /* not trusted: the local store hashes the bytes against the id */
        return store_put(job->local, id, fd, size, 0);
}

static int snapshot_id_cb(const struct index_object *o, void *userdata)
{
        return listing_add(userdata, &o->id, 0);
}

struct snapshot_rows {
        struct index_snapshot *rows;
        size_t n;
        struct oid *hidden; /* snapshot objects a tombstone names */
        size_t n_hidden;
        struct recover_job *job;
};

static int snapshot_rows_write(struct index *wr, void *userdata)
{
        struct snapshot_rows *sr = userdata;
        int r = index_begin(wr);

        if (r < 0)
                return r;
        /* a row a tombstone names (a crash between the tombstone and the
         * forget's delete): the forget takes effect now */
        for (size_t i = 0; i < sr->n_hidden; i++) {
                r = index_snapshot_delete(wr, &sr->hidden[i]);
                if (r < 0 && r != -ENOENT) {
                        index_rollback(wr);
                        return r;
                }
                if (r >= 0)
                        sr->job->rows_dropped++;
        }
        for (size_t i = 0; i < sr->n; i++) {
                struct index_root root;

                /* a root watched here under the same path owns the snapshot */
                if (index_root_find(wr, sr->rows[i].root_path, &root) >= 0) {
                        sr->rows[i].root_id = root.id;
                        index_root_done(&root);
                }
                r = index_snapshot_add(wr, &sr->rows[i]);
                if (r == -EEXIST) /* already known */
                        continue;
                if (r < 0) {
                        index_rollback(wr);
                        return r;
                }
                sr->job->snapshots++;
        }
        return index_commit(wr);
}

/* Read every tombstone, then every snapshot object the reindex found, and
 * add the missing rows of those no tombstone names. */
static int recover_snapshots(struct recover_job *job)
{
        struct recover_listing ids = { .job = job };
        struct snapshot_rows sr = { .job = job };
        struct idset gone;
        struct index *rd;
        uint64_t bad = 0;
        int r;

        idset_init(&gone);
        r = forgotten_collect(job->daemon->repo, &gone, &job->tombstones, &bad);
        if (r < 0)
                goto out;
        job->bad_tombstones = bad;
        rd = repo_reader_get(job->daemon->repo);
        if (!rd) {
                r = -EIO;
                goto out;
        }
        r = index_object_foreach_type(rd, OBJECT_SNAPSHOT, snapshot_id_cb, &ids);
        repo_reader_put(job->daemon->repo, rd);
        if (r < 0)
                goto out;
        sr.rows = calloc(ids.n ? ids.n : 1, sizeof(*sr.rows));
        sr.hidden = calloc(ids.n ? ids.n : 1, sizeof(*sr.hidden));
        if (!sr.rows || !sr.hidden) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < ids.n; i++) {
                _cleanup_free_ uint8_t *payload = NULL;
                struct object_snapshot *snap = NULL;
                size_t len;

                if (idset_has(&gone, &ids.ids[i])) {
                        sr.hidden[sr.n_hidden++] = ids.ids[i];
                        job->forgotten++;
                        continue;
                }

                r = repo_get(job->daemon->repo, &ids.ids[i], OBJECT_SNAPSHOT, 0, &payload, &len);
                if (r >= 0)
                        r = object_snapshot_decode(payload, len, &snap);
                if (r < 0) {
                        job->bad_snapshots++;
                        continue;
                }
                struct index_snapshot *row = &sr.rows[sr.n];
                *row = (struct index_snapshot){
                        .id = ids.ids[i],
                        .root_id = 0, /* no root here yet; the path is kept */
                        .time_ns = snap->time_ns,
                        .tree = snap->tree,
                        .hostname = strdup(snap->hostname ? snap->hostname : ""),
                        .tags = strdup(""),
                        .root_path = strdup((const char *)snap->root),
                        .files = snap->stats.files,
                        .dirs = snap->stats.dirs,
                        .bytes = snap->stats.bytes,
                        .new_bytes = snap->stats.new_bytes,
                        .errors = snap->stats.errors,
                        .files_read = snap->stats.files_read,
                };
                if (snap->has_parent)
                        row->parent = snap->parent;
                object_snapshot_free(snap);
                sr.n++;
                if (!row->hostname || !row->tags || !row->root_path) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        r = repo_with_writer(job->daemon->repo, snapshot_rows_write, &sr);
out:
        for (size_t i = 0; i < sr.n; i++)
                index_snapshot_done(&sr.rows[i]);
        free(sr.rows);
        free(sr.hidden);
        idset_done(&gone);
        free(ids.ids);
        free(ids.sizes);
        return r;
}

struct replica_marks {
        struct recover_listing *listing;
        int64_t store_id;
};

/* What the store holds, as far as it is known: VERIFIED where its copy
 * was read here and hashed, UPLOADED where only its listing says so (of
 * the size the index has), nothing for a copy found damaged or of another
 * size (pending: uploaded again from here if the pack is here). */
static int replicas_write(struct index *wr, void *userdata)
{
        struct replica_marks *m = userdata;
        const struct recover_listing *l = m->listing;
        int r = index_begin(wr);

        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                int state = l->states ? l->states[i] : INDEX_REPLICA_UPLOADED;
                struct index_pack pack;
                if (state == INDEX_REPLICA_PENDING || index_pack_lookup(wr, &l->ids[i], &pack) < 0 ||
                    pack.size != l->sizes[i])
                        continue;
                r = index_replica_set(wr, &l->ids[i], m->store_id, state);
                if (r < 0 && r != -ENOENT) {
                        index_rollback(wr);
                        return r;
                }
        }
        return index_commit(wr);
}

struct reindex_call {
        struct recover_job *job;
        struct reindex_stats stats;
};

static int reindex_write(struct index *wr, void *userdata)
{
        struct reindex_call *c = userdata;
        struct reindex_source local = { .store = c->job->local, .local = 1 };

        return reindex_run(wr, &local, 1, c->job->daemon->keyring->pack_key, &c->stats);
}

static void recover_run_held(struct recover_job *job);

void recover_run(struct recover_job *job)
{
        retention_forgets_hold();
        recover_run_held(job);
        retention_forgets_release();
}

static void recover_run_held(struct recover_job *job)
{
        struct recover_listing l = { .job = job };
        struct reindex_call rc = { .job = job };
        int r;

        if (store_is_peer(job->store)) {
                r = store_peer_undelete_all(job->store, &job->undeleted);
                if (r < 0) {
                        char why[STORE_EXPLAIN_SIZE];
                        recover_fail(job, r, "cannot undelete the packs marked on %s: %s", job->store_name,
                                     store_strerror(job->store, r, why, sizeof(why)));
                        goto out;
                }
        }
        r = store_list_all(job->store, listing_add, &l);
        if (r < 0) {
                char why[STORE_EXPLAIN_SIZE]; /* its own words: which bucket, which address */
                recover_fail(job, r, "cannot list the packs on %s: %s", job->store_name,
                             store_strerror(job->store, r, why, sizeof(why)));
                goto out;
        }
        /* a pack here already (same size) is not read there: only listed */
        l.states = malloc(l.n ? l.n : 1);
        if (!l.states) {
                recover_fail(job, -ENOMEM, "out of memory");
                goto out;
        }
        memset(l.states, INDEX_REPLICA_UPLOADED, l.n);
        for (size_t i = 0; i < l.n; i++) {
                uint64_t have;

                if (store_stat(job->local, &l.ids[i], &have) >= 0 && have == l.sizes[i]) {
                        __atomic_add_fetch(&job->bytes, l.sizes[i], __ATOMIC_RELAXED);
                        continue;
                }
                r = recover_copy_pack(job, &l.ids[i], l.sizes[i]);
                if (r == -EBADMSG || r == -ENOENT || r == -ERANGE) {
                        /* damaged or vanished on the store: skip it, keep going */
                        job->bad_packs++;
                        l.states[i] = INDEX_REPLICA_PENDING;
                        continue;
                }
                if (r < 0) {
                        char hex[OID_HEX_SIZE], why[STORE_EXPLAIN_SIZE];
                        oid_to_hex(&l.ids[i], hex);
                        recover_fail(job, r, "cannot copy pack %s from %s: %s", hex, job->store_name,
                                     store_strerror(job->store, r, why, sizeof(why)));
                        goto out;
                }
                job->packs_copied++;
                l.states[i] = INDEX_REPLICA_VERIFIED; /* read from there, hash checked */
        }
        r = repo_with_writer(job->daemon->repo, reindex_write, &rc);
        if (r < 0) {
                recover_fail(job, r, "cannot rebuild the index from the packs: %s",
                             r == -EBADMSG ? "no pack could be read with this key" : strerror(-r));
                goto out;
        }
        job->packs = rc.stats.packs;
        job->objects = rc.stats.objects;
        r = repo_reload_known(job->daemon->repo);
        if (r < 0) {
                recover_fail(job, r, "cannot load the recovered object ids: %s", strerror(-r));
                goto out;
        }
        r = recover_snapshots(job);
        if (r < 0) {
                recover_fail(job, r, "cannot rebuild the snapshot list: %s", strerror(-r));
                goto out;
        }
        struct replica_marks marks = { .listing = &l, .store_id = job->store_id };
        r = repo_with_writer(job->daemon->repo, replicas_write, &marks);
        if (r < 0)
                recover_fail(job, r, "cannot record the packs held by %s: %s", job->store_name, strerror(-r));
out:
        free(l.ids);
        free(l.sizes);
        free(l.states);
}

struct reindex_sources {
        struct recover_job *job;
        struct reindex_stats stats;
};

static int reindex_sources_write(struct index *wr, void *userdata)
{
        struct reindex_sources *c = userdata;
        struct recover_job *job = c->job;
        _cleanup_free_ struct reindex_source *src = calloc(job->n_extra + 1, sizeof(*src));

        if (!src)
                return -ENOMEM;
        src[0] = (struct reindex_source){ .store = job->local, .local = 1 };
        for (size_t i = 0; i < job->n_extra; i++)
                src[i + 1] = (struct reindex_source){ .store = job->extra[i] };
        return reindex_run(wr, src, job->n_extra + 1, job->daemon->keyring->pack_key, &c->stats);
}

static void reindex_run_held(struct recover_job *job);

void recover_reindex_run(struct recover_job *job)
{
        retention_forgets_hold();
        reindex_run_held(job);
        retention_forgets_release();
}

static void reindex_run_held(struct recover_job *job)
{
        test_hook_pause("reindex"); /* tests: a forget asked meanwhile */
        struct reindex_sources rc = { .job = job };
        int r;

        r = repo_with_writer(job->daemon->repo, reindex_sources_write, &rc);
        if (r < 0) {
                recover_fail(job, r, "cannot rebuild the index from the packs: %s",
                             r == -EBADMSG ? "no pack could be read with this key" : strerror(-r));
                return;
        }
        job->packs = rc.stats.packs;
        job->objects = rc.stats.objects;
        job->bad_packs = rc.stats.bad_packs;
        r = repo_reload_known(job->daemon->repo);
        if (r < 0) {
                recover_fail(job, r, "cannot load the object ids found: %s", strerror(-r));
                return;
        }
        r = recover_snapshots(job);
        if (r < 0) {
                recover_fail(job, r, "cannot rebuild the snapshot list: %s", strerror(-r));
                return;
        }
        /* what the stores listed, they hold */
        for (size_t i = 0; i < job->n_extra; i++) {
                struct recover_listing l = { .job = job };
                struct replica_marks marks = { .listing = &l, .store_id = job->extra_ids[i] };

                r = store_list_all(job->extra[i], listing_add, &l);
                if (r >= 0)
                        r = repo_with_writer(job->daemon->repo, replicas_write, &marks);
                free(l.ids);
                free(l.sizes);
                if (r < 0) {
                        recover_fail(job, r, "cannot record the packs a store holds: %s", strerror(-r));
                        return;
                }
        }
}

static const char *recover_turn;

const char recover_turn_reindex[] = "a reindex";
const char recover_turn_recovery[] = "a recovery";

int recover_claim(struct daemon *d, const char *what)
{
        (void)d;
        if (recover_turn)
                return -EBUSY;
        recover_turn = what;
        return 0;
}

void recover_release(struct daemon *d)
{
        (void)d;
        recover_turn = NULL;
}

const char *recover_rebuilding(struct daemon *d)
{
        (void)d;
        return recover_turn == recover_turn_reindex || recover_turn == recover_turn_recovery ? recover_turn : NULL;
}

const char *recover_holder(struct daemon *d)
{
        (void)d;
        return recover_turn;
}

const char *recover_blocker(struct daemon *d)
{
        if (recover_turn)
                return recover_turn;
        if (root_busy(d))
                return "a snapshot";
        if (replicate_deleting(d))
                return "a delete of pruned packs on a store";
        return NULL;
}

void recover_job_free(struct recover_job *job)
{
        if (!job)
                return;
        free(job->extra);
        free(job->extra_ids);
        free(job->store_name);
        free(job->staging_dir);
        free(job);
}
