/* SPDX-License-Identifier: MIT */
/* Prune's phases (prune.h, docs/prune.md): plan (live set, usage per pack,
 * which packs go and which are repacked), mark, repack, wait, check again
 * and retire. Each step is its own transaction; a crash between any two
 * leaves condemned packs that the next prune finishes (or keeps). */
#include "prune.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "retention-apply.h"
#include "store.h"
#include "test-hook.h"

struct pack_use {
        struct oid id;
        uint64_t size;
        int64_t created_ns;
        int64_t condemned_ns;
        uint64_t used, unused;   /* record bytes */
        uint32_t n_used, n_unused;
        bool local;              /* not evicted (local_copy = cache) */
        bool drop, repack;
};

/* A growing list of ids: unused objects, the rows of a pack, the packs of a delete queue. */
struct id_list {
        struct oid *ids;
        size_t n, cap;
};

struct plan {
        struct prune_job *job;
        struct idset live;
        struct pack_use *packs;
        size_t n_packs, cap_packs;
        size_t cursor;           /* object pass: current pack */
        int64_t start_ns;
        bool marked;             /* packs condemned by this run (rolled back on failure) */
        int64_t forgotten_before; /* snapshots forgotten before this run began */
};

static void fail(struct prune_job *job, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct prune_job *job, int err, const char *fmt, ...)
{
        va_list ap;

        if (job->error)
                return;
        job->error = err;
        va_start(ap, fmt);
        vsnprintf(job->error_text, sizeof(job->error_text), fmt, ap);
        va_end(ap);
}

static void phase(struct prune_job *job, const char *name, uint64_t total)
{
        __atomic_store_n(&job->progress_done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&job->progress_total, total, __ATOMIC_RELAXED);
        __atomic_store_n(&job->phase, name, __ATOMIC_RELEASE);
}

/* The client went away, or chuted is stopping. */
static bool cancelled(struct prune_job *job)
{
        return __atomic_load_n(&job->cancel, __ATOMIC_RELAXED) != 0 ||
               __atomic_load_n(&job->daemon->stopping, __ATOMIC_RELAXED);
}

static bool stop_cb(void *userdata)
{
        return cancelled(userdata);
}

/* Readers pin an index read transaction for up to 0.5 s (repo-read.c): a
 * location they looked up just before the move must still be there. */
#define PRUNE_GRACE_MIN_NS INT64_C(1000000000)

/* Commit when k >= 0, else roll back; k or the commit's error. */
static int end_tx(struct index *wr, int k)
{
        if (k < 0) {
                index_rollback(wr);
                return k;
        }
        return index_commit(wr);
}

static int id_list_add(struct id_list *l, const struct oid *id)
{
        if (!GROW(l->ids, l->n, l->cap, 256))
                return -ENOMEM;
        l->ids[l->n++] = *id;
        return 0;
}

static int object_id_cb(const struct index_object *o, void *userdata)
{
        return id_list_add(userdata, &o->id);
}

/* Un-condemn pack: puts deduplicate against it again (they look in the
 * index); -ENOENT when the pack is gone (retired). */
static int release_pack(struct index *wr, const struct oid *pack)
{
        return index_prune_condemn(wr, pack, 0);
}

/* ---- plan ------------------------------------------------------------------- */

static int pack_cb(const struct index_prune_pack *p, void *userdata)
{
        struct plan *pl = userdata;
        if (!GROW(pl->packs, pl->n_packs, pl->cap_packs, 256))
                return -ENOMEM;
        pl->packs[pl->n_packs++] = (struct pack_use){
                .id = p->id, .size = p->size, .created_ns = p->created_ns, .condemned_ns = p->condemned_ns,
                .local = p->local != 0,
        };
        return 0;
}

/* Objects come by pack id, packs are listed by id: walk both in step. */
static int object_cb(const struct index_object *o, void *userdata)
{
        struct plan *pl = userdata;

        while (pl->cursor < pl->n_packs && oid_cmp(&pl->packs[pl->cursor].id, &o->pack) < 0)
                pl->cursor++;
        if (pl->cursor == pl->n_packs || oid_cmp(&pl->packs[pl->cursor].id, &o->pack) != 0)
                return 0; /* a pack added after the listing */
        struct pack_use *u = &pl->packs[pl->cursor];
        if (idset_has(&pl->live, &o->id)) {
                u->used += o->length;
                u->n_used++;
        } else {
                u->unused += o->length;
                u->n_unused++;
        }
        return 0;
}

static int by_unused_fraction(const void *a, const void *b)
{
        const struct pack_use *x = *(const struct pack_use *const *)a, *y = *(const struct pack_use *const *)b;
        /* x->unused / x->size > y->unused / y->size, without division */
        __uint128_t l = (__uint128_t)x->unused * y->size, r = (__uint128_t)y->unused * x->size;
        return l > r ? -1 : l < r ? 1 : 0;
}

/* Decide what goes: packs with no live object, then the packs with the
 * largest unused fraction until the unused bytes left are within
 * max_unused percent (and max_repack allows). */
static int choose(struct plan *pl)
{
        struct prune_job *job = pl->job;
        struct prune_stats *st = &job->st;
        _cleanup_free_ struct pack_use **partial = calloc(pl->n_packs + 1, sizeof(*partial));
        size_t n_partial = 0;
        uint64_t unused_left = 0, kept_bytes = 0;

        if (!partial)
                return -ENOMEM;
        for (size_t i = 0; i < pl->n_packs; i++) {
                struct pack_use *u = &pl->packs[i];
                st->packs++;
                st->bytes += u->size;
                st->used_bytes += u->used;
                st->unused_bytes += u->unused;
                if (u->condemned_ns || u->created_ns >= pl->start_ns)
                        continue; /* marked by a prune running (none: one at a time), or too new */
                if (u->n_used == 0) {
                        u->drop = true;
                        st->delete_packs++;
                        st->delete_bytes += u->size;
                        st->removed_objects += u->n_unused;
                        continue;
                }
                kept_bytes += u->size;
                if (u->unused > 0) {
                        partial[n_partial++] = u;
                        unused_left += u->unused;
                }
        }
        qsort(partial, n_partial, sizeof(*partial), by_unused_fraction);
        uint64_t allowed = (uint64_t)((__uint128_t)kept_bytes * job->opt.max_unused / 100);
        for (size_t i = 0; i < n_partial && unused_left > allowed; i++) {
                struct pack_use *u = partial[i];
                if (job->opt.max_repack && st->repack_bytes + u->size > job->opt.max_repack)
                        continue;
                u->repack = true;
                st->repack_packs++;
                st->repack_bytes += u->size;
                st->repack_written += u->used;
                st->removed_objects += u->n_unused;
                unused_left -= u->unused;
        }
        st->unused_after = unused_left;
        return 0;
}

static int plan_make(struct plan *pl)
{
        struct prune_job *job = pl->job;
        struct repo *repo = job->daemon->repo;
        int k;

        /* packs a job running now may have written belong to a snapshot
         * the live set cannot see yet: only older packs are candidates */
        pl->start_ns = now_ns();
        int64_t oldest = repo_prune_oldest_job(repo);
        if (oldest < pl->start_ns)
                pl->start_ns = oldest;
        struct index *kv = repo_reader_get(repo);
        if (kv) {
                if (index_kv_get_int(kv, RETENTION_KV_FORGOTTEN, &pl->forgotten_before) < 0)
                        pl->forgotten_before = 0;
                repo_reader_put(repo, kv);
        }
        phase(job, "live", 0);
        k = prune_live(job, &pl->live, &job->st.snapshots);
        if (k < 0) {
                fail(job, k, k == -ECANCELED ? "cancelled"
                                             : "cannot read what the snapshots reach (%s): run chutectl check",
                     strerror(-k));
                return k;
        }
        phase(job, "usage", 0);
        struct index *rd = repo_reader_get(repo);
        if (!rd) {
                fail(job, -EIO, "cannot open the index");
                return -EIO;
        }
        k = index_begin(rd);
        if (k >= 0) {
                k = index_prune_foreach_pack(rd, 0, pack_cb, pl);
                if (k >= 0)
                        k = index_prune_foreach_object_by_pack(rd, object_cb, pl);
                index_commit(rd);
        }
        repo_reader_put(repo, rd);
        if (k >= 0)
                k = choose(pl);
        if (k < 0)
                fail(job, k, "cannot read the index: %s", strerror(-k));
        return k;
}

/* ---- mark and repack ------------------------------------------------------------ */

struct mark_ctx {
        struct plan *pl;
        int64_t ns;
};

static int mark_cb(struct index *wr, void *userdata)
{
        struct mark_ctx *mc = userdata;
        struct plan *pl = mc->pl;
        int k = index_begin(wr);

        for (size_t i = 0; i < pl->n_packs && k >= 0; i++)
                if (pl->packs[i].drop || pl->packs[i].repack)
                        k = index_prune_condemn(wr, &pl->packs[i].id, mc->ns);
        return end_tx(wr, k);
}

struct copy_ctx {
        struct plan *pl;
        struct oid pack;
        uint8_t *buf;
        size_t cap;
        int err;
};

static int copy_cb(const struct index_object *o, void *userdata)
{
        struct copy_ctx *cc = userdata;
        struct prune_job *job = cc->pl->job;
        struct repo *repo = job->daemon->repo;
        int k;

        if (!idset_has(&cc->pl->live, &o->id))
                return 0;
        if (cancelled(job))
                return -ECANCELED;
        if (o->length > cc->cap) {
                uint8_t *b = realloc(cc->buf, o->length);
                if (!b)
                        return -ENOMEM;
                cc->buf = b;
                cc->cap = o->length;
        }
        k = repo_read_record(repo, &cc->pack, o->offset, o->length, cc->buf);
        /* never copy a damaged record into a pack that hashes as whole */
        if (k >= 0)
                k = repo_check_record(repo, &o->id, cc->buf, o->length);
        if (k < 0) {
                cc->err = k;
                return k;
        }
        k = repo_put_record(repo, &o->id, (enum object_type)o->type, cc->buf, o->length);
        if (k >= 0)
                __atomic_add_fetch(&job->progress_done, o->length, __ATOMIC_RELAXED);
        return k;
}

/* *ret_epoch: the gate's epoch of the mark; *ret_ns: the clock once the
 * repack's packs are committed (their created_ns are at most that). */
static int mark_and_repack(struct plan *pl, uint64_t *ret_epoch, int64_t *ret_ns)
{
        struct prune_job *job = pl->job;
        struct repo *repo = job->daemon->repo;
        struct mark_ctx mc = { .pl = pl, .ns = now_ns() };
        int k;

        phase(job, "mark", 0);
        /* condemned in the index first: from now on a new copy of one of
         * their objects takes over its row */
        k = repo_with_writer(repo, mark_cb, &mc);
        if (k < 0) {
                fail(job, k, "cannot mark packs in the index: %s", strerror(-k));
                return k;
        }
        pl->marked = true;
        /* then a new epoch for the gate: the mark has committed, so from
         * now on a put's lookup in the index no longer finds the objects of
         * condemned packs and stores them again */
        *ret_epoch = repo_prune_mark(repo);

        phase(job, "repack", job->st.repack_written);
        struct copy_ctx cc = { .pl = pl };
        struct index *rd = repo_reader_get(repo);
        if (!rd) {
                fail(job, -EIO, "cannot open the index");
                return -EIO;
        }
        for (size_t i = 0; i < pl->n_packs && k >= 0; i++) {
                if (!pl->packs[i].repack)
                        continue;
                cc.pack = pl->packs[i].id;
                k = index_object_foreach_in_pack(rd, &cc.pack, copy_cb, &cc);
                if (!pl->packs[i].local)
                        job->st.repack_remote++;
        }
        repo_reader_put(repo, rd);
        free(cc.buf);
        if (k >= 0)
                k = repo_flush(repo);
        *ret_ns = now_ns();
        if (k < 0) {
                char hex[OID_HEX_SIZE];
                oid_to_hex(&cc.pack, hex);
                if (k == -ECANCELED)
                        fail(job, k, "cancelled");
                else if (cc.err == -EBADMSG)
                        fail(job, k, "pack %s holds a damaged record: nothing was deleted; run chutectl check "
                             "--read-data --repair", hex);
                else if (cc.err)
                        fail(job, k, "cannot read pack %s to repack it: %s (nothing was deleted)", hex,
                             strerror(-k));
                else
                        fail(job, k, "cannot write the repacked objects: %s", strerror(-k));
        }
        return k;
}

/* ---- wait, check again, retire ------------------------------------------------ */

/* Wait until the monotonic clock reaches until_ns: a wall clock stepped
 * forward would end the grace at once. */
static int grace_wait(struct prune_job *job, int64_t until_ns)
{
        while (monotonic_ns() < until_ns) {
                if (cancelled(job))
                        return -ECANCELED;
                int64_t left = until_ns - monotonic_ns();
                struct timespec ts = { 0, left > 200000000 ? 200000000 : (left > 0 ? left : 0) };
                nanosleep(&ts, NULL);
        }
        return 0;
}

struct retire_ctx {
        struct prune_job *job;
        int64_t after_ns;       /* the clock once the repack's packs were committed */
        struct idset *live;
        struct index_prune_pack *condemned;
        size_t n, cap;
};

static int condemned_cb(const struct index_prune_pack *p, void *userdata)
{
        struct retire_ctx *rc = userdata;
        if (!GROW(rc->condemned, rc->n, rc->cap, 64))
                return -ENOMEM;
        rc->condemned[rc->n++] = *p;
        return 0;
}

struct one_pack {
        struct retire_ctx *rc;
        const struct index_prune_pack *p;
};

/* On the writer: keep the pack (an object of it is live again) or retire
 * it; its rows are read on the writer, so nothing moves in between. */
static int retire_cb(struct index *wr, void *userdata)
{
        struct one_pack *op = userdata;
        struct prune_job *job = op->rc->job;
        struct id_list ids = { 0 };
        bool needed = false;
        int k = index_object_foreach_in_pack(wr, &op->p->id, object_id_cb, &ids);

        for (size_t i = 0; k >= 0 && i < ids.n && !needed; i++)
                needed = idset_has(op->rc->live, &ids.ids[i]);
        if (k >= 0 && needed) {
                k = release_pack(wr, &op->p->id);
                if (k >= 0)
                        job->st.kept_packs++;
        } else if (k >= 0) {
                k = index_prune_retire(wr, &op->p->id, op->rc->after_ns);
                if (k >= 0) {
                        job->st.retired_packs++;
                        job->st.retired_bytes += op->p->size;
                }
        }
        free(ids.ids);
        return k;
}

static int retire(struct prune_job *job, int64_t after_ns)
{
        struct repo *repo = job->daemon->repo;
        struct idset live;
        struct retire_ctx rc = { .job = job, .after_ns = after_ns, .live = &live };
        int k;

        idset_init(&live);
        phase(job, "check", 0);
        k = prune_live(job, &live, NULL);
        if (k < 0) {
                fail(job, k, k == -ECANCELED ? "cancelled" : "cannot read what the snapshots reach (%s)",
                     strerror(-k));
                goto out;
        }
        struct index *rd = repo_reader_get(repo);
        if (!rd) {
                k = -EIO;
                fail(job, k, "cannot open the index");
                goto out;
        }
        k = index_prune_foreach_pack(rd, 1, condemned_cb, &rc);
        repo_reader_put(repo, rd);
        phase(job, "delete", rc.n);
        for (size_t i = 0; i < rc.n && k >= 0; i++) {
                k = repo_with_writer(repo, retire_cb, &(struct one_pack){ .rc = &rc, .p = &rc.condemned[i] });
                __atomic_add_fetch(&job->progress_done, 1, __ATOMIC_RELAXED);
        }
        if (k < 0) {
                fail(job, k, "cannot retire condemned packs: %s", strerror(-k));
                goto out;
        }
        k = prune_delete_local(job->daemon);
        if (k < 0)
                fail(job, k, "cannot delete local pack files: %s", strerror(-k));
out:
        free(rc.condemned);
        idset_done(&live);
        return k;
}

/* ---- local deletes --------------------------------------------------------------- */

static int local_cb(const struct index_pack_delete *del, void *userdata)
{
        return id_list_add(userdata, &del->pack);
}

struct done_ctx {
        const struct oid *ids;
        size_t n;
};

static int local_done_cb(struct index *wr, void *userdata)
{
        struct done_ctx *dc = userdata;
        int k = index_begin(wr);
        for (size_t i = 0; i < dc->n && k >= 0; i++)
                k = index_pack_delete_done(wr, &dc->ids[i], 0);
        return end_tx(wr, k);
}

int prune_delete_local(struct daemon *d)
{
        struct repo *repo = d->repo;
        int total = 0, k;

        for (;;) {
                struct id_list lc = { 0 };
                struct index *rd = repo_reader_get(repo);
                if (!rd)
                        return -EIO;
                k = index_pack_deletes_page(rd, 0, 0, false, 256, local_cb, &lc);
                repo_reader_put(repo, rd);
                size_t done = 0;
                for (size_t i = 0; k >= 0 && i < lc.n; i++) {
                        int r = store_del(repo_store(repo), &lc.ids[i]);
                        if (r < 0 && r != -ENOENT)
                                k = r; /* its row stays: tried again by the next prune */
                        else
                                lc.ids[done++] = lc.ids[i];
                }
                if (done > 0) {
                        int r = repo_with_writer(repo, local_done_cb, &(struct done_ctx){ .ids = lc.ids, .n = done });
                        if (r < 0 && k >= 0)
                                k = r;
                }
                free(lc.ids);
                if (k < 0)
                        return k;
                total += (int)done;
                if (lc.n < 256)
                        return total;
        }
}

/* ---- the job ---------------------------------------------------------------------- */

struct finish_ctx {
        int64_t now;
        int64_t forgotten_before;
        bool retired; /* packs (and their objects) are gone */
};

/* The prune is recorded; snapshots forgotten while it ran stay counted
 * (their data may be in packs it did not look at). */
static int finish_cb(struct index *wr, void *userdata)
{
        struct finish_ctx *fc = userdata;
        int64_t forgotten = 0;
        int k = index_begin(wr);

        if (k >= 0 && index_kv_get_int(wr, RETENTION_KV_FORGOTTEN, &forgotten) < 0)
                forgotten = 0;
        forgotten -= fc->forgotten_before;
        if (k >= 0 && forgotten > 0) {
                k = index_kv_set_int(wr, RETENTION_KV_FORGOTTEN, forgotten);
        } else if (k >= 0) {
                k = index_kv_delete(wr, RETENTION_KV_PENDING_SINCE);
                if (k >= 0 || k == -ENOENT)
                        k = index_kv_delete(wr, RETENTION_KV_FORGOTTEN);
        }
        if (k >= 0 || k == -ENOENT)
                k = index_kv_set_int(wr, PRUNE_KV_LAST, fc->now);
        /* the fingerprints of the objects retired (docs/fingerprints.md) */
        if (k >= 0 && fc->retired) {
                int n = index_fingerprint_prune(wr);
                k = n < 0 ? n : 0;
        }
        return end_tx(wr, k);
}

/* Un-condemn what this run marked (nothing was deleted under a mark yet,
 * or it is retired already: its row is gone): puts deduplicate against it
 * again. */
static int rollback_cb(struct index *wr, void *userdata)
{
        struct plan *pl = userdata;
        int k = index_begin(wr);

        for (size_t i = 0; i < pl->n_packs && k >= 0; i++) {
                if (!pl->packs[i].drop && !pl->packs[i].repack)
                        continue;
                k = release_pack(wr, &pl->packs[i].id);
                if (k == -ENOENT)
                        k = 0; /* retired */
        }
        return end_tx(wr, k);
}

static void rollback(struct plan *pl)
{
        int k = repo_with_writer(pl->job->daemon->repo, rollback_cb, pl);

        if (k < 0)
                log_warning_errno(k, "Prune: cannot release the packs it marked; the next start releases them");
}

void prune_run(struct prune_job *job)
{
        struct plan pl = { .job = job };
        struct repo *repo = job->daemon->repo;
        uint64_t epoch = 0;
        int64_t repacked_ns = 0;
        int k;

        idset_init(&pl.live);
        k = plan_make(&pl);
        if (k < 0 || job->opt.dry_run)
                goto out;
        test_hook_pause("prune-mark"); /* tests: a snapshot between the plan and the mark */
        if (job->st.delete_packs + job->st.repack_packs > 0) {
                k = mark_and_repack(&pl, &epoch, &repacked_ns);
                idset_done(&pl.live); /* the check after the wait makes its own */
                idset_init(&pl.live);
                if (k < 0)
                        goto out;
                phase(job, "wait", 0);
                k = repo_prune_wait(repo, epoch, stop_cb, job);
                /* at least as long as a reader's pinned lookup may be stale */
                if (k >= 0)
                        k = grace_wait(job, monotonic_ns() + MAX(job->opt.grace_ns, PRUNE_GRACE_MIN_NS));
                if (k < 0) {
                        fail(job, k, "cancelled while waiting for running jobs");
                        goto out;
                }
                /* a clock set back during the wait must not order the
                 * deletes before the packs the repack wrote */
                k = retire(job, repacked_ns);
                if (k < 0)
                        goto out;
        }
        struct finish_ctx fc = { .now = now_ns(), .forgotten_before = pl.forgotten_before,
                                 .retired = job->st.retired_packs > 0 };
        k = repo_with_writer(repo, finish_cb, &fc);
        if (k < 0)
                fail(job, k, "cannot record the prune in the index: %s", strerror(-k));
        struct index *rd = repo_reader_get(repo);
        struct index_stats s;
        if (rd && index_stats(rd, &s) >= 0) {
                job->st.packs_after = s.n_packs;
                job->st.bytes_after = s.pack_bytes;
        }
        if (rd)
                repo_reader_put(repo, rd);
out:
        if (job->error && pl.marked)
                rollback(&pl);
        idset_done(&pl.live);
        free(pl.packs);
}
