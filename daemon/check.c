/* SPDX-License-Identifier: MIT */
/* The check job on a worker thread: pack rows against the local pack files
 * and the stores (phase "index"), the chosen packs read whole and every
 * record authenticated ("reading"), PROVE of them on each store that holds
 * them ("proving"), --repair of local copies from a store with a good one
 * and of store copies from here ("repairing"), then the snapshots walked to
 * name what the remaining damage reaches (check-walk.c). */
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "cond.h"
#include "crypto.h"
#include "daemon.h"
#include "index.h"
#include "job-error.h"
#include "keys.h"
#include "pack.h"
#include "record.h"
#include "replicate.h"
#include "repo.h"
#include "store-local.h"
#include "store.h"

#define CHECK_NONCE_SIZE 32
#define CHECK_RECORD_MAX (256u << 20)

struct check_pack {
        struct oid id;
        uint64_t size;
        bool local;    /* the row says the file is here */
        bool selected; /* read_data reads it */
        bool bad;      /* the local copy is missing or damaged */
        bool fetched;  /* evicted: read back whole from a store */
        bool tried;    /* evicted: some store was asked */
};

struct check_packs {
        struct check_pack *p;
        size_t n, cap;
};

static void check_fail(struct check_job *job, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check_fail(struct check_job *job, int err, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        job_error_set(&job->error, job->error_text, sizeof(job->error_text), err, fmt, ap);
        va_end(ap);
}

const char *check_state_name(enum check_state s)
{
        return s == CHECK_MISSING ? "missing" : s == CHECK_DAMAGED ? "damaged" : "unanswered";
}

static void set_phase(struct check_job *job, const char *phase, uint64_t total)
{
        __atomic_store_n(&job->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&job->total, total, __ATOMIC_RELAXED);
        __atomic_store_n(&job->phase, phase, __ATOMIC_RELEASE);
}

static bool cancelled(struct check_job *job)
{
        return __atomic_load_n(&job->cancel, __ATOMIC_RELAXED);
}

/* Record one finding; the list keeps the first CHECK_DAMAGED_MAX. */
static struct check_damage *damage_add(struct check_job *job, const struct check_pack *p, int64_t store_id,
                                       enum check_state state, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static struct check_damage *damage_add(struct check_job *job, const struct check_pack *p, int64_t store_id,
                                       enum check_state state, const char *fmt, ...)
{
        struct check_damage *d;
        va_list ap;

        if (state != CHECK_UNANSWERED)
                job->damaged_total++;
        else
                job->unanswered++;
        if (job->n_damaged >= CHECK_DAMAGED_MAX)
                return NULL;
        if (job->n_damaged == job->cap_damaged) {
                size_t cap = job->cap_damaged ? 2 * job->cap_damaged : 16;
                d = reallocarray(job->damaged, cap, sizeof(*d));
                if (!d)
                        return NULL;
                job->damaged = d;
                job->cap_damaged = cap;
        }
        d = &job->damaged[job->n_damaged++];
        *d = (struct check_damage){ .pack = p->id, .size = p->size, .store_id = store_id, .state = state };
        va_start(ap, fmt);
        vsnprintf(d->message, sizeof(d->message), fmt, ap);
        va_end(ap);
        return d;
}

static int packs_add(const struct index_pack *pack, void *userdata)
{
        struct check_packs *l = userdata;

        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 256;
                struct check_pack *p = reallocarray(l->p, cap, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                l->p = p;
                l->cap = cap;
        }
        l->p[l->n++] = (struct check_pack){ .id = pack->id, .size = pack->size, .local = pack->local != 0 };
        return 0;
}

/* Phase "index": each pack row has its file here (of its size) or, evicted,
 * a store that holds it. */
static int check_index(struct check_job *job, struct index *rd, struct check_packs *packs)
{
        struct store *local = repo_store(job->daemon->repo);
        struct check_sample sample;
        int r;

        struct index_check_counts counts;

        r = index_check_counts(rd, &counts);
        if (r < 0)
                return r;
        job->orphans = counts.orphan_objects;
        r = index_pack_foreach(rd, packs_add, packs);
        if (r < 0)
                return r;
        job->packs = packs->n;
        set_phase(job, "index", packs->n);
        check_sample_init(&sample, &job->subset, packs->n);
        for (size_t i = 0; i < packs->n; i++) {
                struct check_pack *p = &packs->p[i];
                uint64_t size = 0, rnd = 0;

                if (job->subset.kind == CHECK_SUBSET_PERCENT)
                        (void)crypto_random(&rnd, sizeof(rnd));
                p->selected = job->read_data && check_subset_take(&job->subset, &sample, &p->id, rnd);
                if (p->local) {
                        r = store_stat(local, &p->id, &size);
                        if (r == -ENOENT && job->daemon->config.local_copy == SETTINGS_LOCAL_CACHE &&
                            index_replica_held(rd, &p->id) > 0) {
                                /* evicted since the rows were read (the file goes
                                 * first, the row on the loop after): looked at as
                                 * evicted, below */
                                p->local = false;
                        } else if (r == -ENOENT) {
                                p->bad = true;
                                damage_add(job, p, 0, CHECK_MISSING, "the pack file is missing here");
                        } else if (r < 0) {
                                return r;
                        } else if (size != p->size) {
                                p->bad = true;
                                damage_add(job, p, 0, CHECK_DAMAGED, "the pack file has %llu of its %llu bytes",
                                           (unsigned long long)size, (unsigned long long)p->size);
                        }
                }
                if (!p->local) {
                        r = index_replica_count(rd, &p->id, INDEX_REPLICA_UPLOADED);
                        if (r < 0)
                                return r;
                        int held = r > 0 ? index_replica_held(rd, &p->id) : 0;
                        if (held < 0)
                                return held;
                        if (r == 0) {
                                p->bad = true;
                                damage_add(job, p, 0, CHECK_MISSING,
                                           "evicted here and no store holds it");
                        } else if (held == 0) {
                                damage_add(job, p, 0, CHECK_UNANSWERED,
                                           "evicted here, and the only stores that hold it refuse this node");
                        }
                }
                __atomic_add_fetch(&job->done, 1, __ATOMIC_RELAXED);
        }
        return 0;
}

/* Read the pack in fd whole: its hash, its header, every record. 0, or
 * -EBADMSG with why in msg. */
static int read_pack(struct check_job *job, int fd, const struct check_pack *p, char *msg, size_t msg_len)
{
        const struct keys *keys = job->daemon->keyring;
        _cleanup_free_ struct pack_entry *entries = NULL;
        _cleanup_free_ uint8_t *rec = NULL, *out = NULL;
        size_t n = 0, rec_cap = 0, out_cap = 0;
        int r;

        r = pack_verify_fd(fd, &p->id);
        if (r == -EBADMSG) {
                snprintf(msg, msg_len, "its bytes do not hash to its id");
                return r;
        }
        if (r < 0)
                return r;
        r = pack_read_header_fd(fd, p->size, keys->pack_key, &entries, &n);
        if (r == -EBADMSG) {
                snprintf(msg, msg_len, "its header does not authenticate");
                return r;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const struct pack_entry *e = &entries[i];
                enum object_type type;
                size_t len;

                if (cancelled(job))
                        return -ECANCELED;
                if (e->length > CHECK_RECORD_MAX)
                        return -EBADMSG;
                if (e->length > rec_cap) {
                        free(rec);
                        rec_cap = e->length;
                        rec = malloc(rec_cap);
                        if (!rec)
                                return -ENOMEM;
                }
                for (size_t done = 0; done < e->length;) {
                        ssize_t k = pread(fd, rec + done, e->length - done, (off_t)(e->offset + done));
                        if (k < 0)
                                return -errno;
                        if (k == 0)
                                return -EBADMSG;
                        done += (size_t)k;
                }
                size_t want = record_plain_size(e->length);
                for (;;) {
                        if (want > out_cap) {
                                free(out);
                                out_cap = want > 4096 ? want : 4096;
                                out = malloc(out_cap);
                                if (!out)
                                        return -ENOMEM;
                        }
                        r = record_open_verify(keys->enc_key, keys->id_key, &e->id, rec, e->length, &type, out,
                                               out_cap, &len);
                        if (r == -ENOBUFS && out_cap < CHECK_RECORD_MAX) {
                                want = out_cap * 4;
                                continue;
                        }
                        break;
                }
                if (r == -EBADMSG || r == -ENOBUFS || (r >= 0 && type != e->type)) {
                        char hex[OID_HEX_SIZE];
                        oid_to_hex(&e->id, hex);
                        snprintf(msg, msg_len, "record %.16s (%zu of %zu) does not authenticate", hex, i + 1, n);
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Phase "reading": the chosen local packs, whole. */
static int check_read(struct check_job *job, struct check_packs *packs)
{
        struct store *local = repo_store(job->daemon->repo);
        uint64_t total = 0;
        int r;

        for (size_t i = 0; i < packs->n; i++)
                if (packs->p[i].selected && packs->p[i].local && !packs->p[i].bad)
                        total += packs->p[i].size;
        set_phase(job, "reading", total);
        for (size_t i = 0; i < packs->n && !cancelled(job); i++) {
                struct check_pack *p = &packs->p[i];
                _cleanup_close_ int fd = -1;
                char msg[160] = "";

                if (!p->selected || !p->local || p->bad)
                        continue;
                cache_mark_busy(job->daemon->cache, &p->id);
                r = store_local_open(local, &p->id, &fd);
                if (r == -ENOENT) {
                        /* evicted since the listing: the stores answer for it */
                        p->local = false;
                        continue;
                }
                if (r >= 0)
                        r = read_pack(job, fd, p, msg, sizeof(msg));
                if (r == -EBADMSG) {
                        p->bad = true;
                        damage_add(job, p, 0, CHECK_DAMAGED, "%s", msg[0] ? msg : "it cannot be read");
                } else if (r < 0) {
                        return r;
                }
                job->packs_read++;
                __atomic_add_fetch(&job->done, p->size, __ATOMIC_RELAXED);
        }
        return cancelled(job) ? -ECANCELED : 0;
}

/* Phase "proving": each store that holds a chosen pack answers a PROVE,
 * compared with the local copy's answer; an evicted pack is read back from
 * the first store that holds it (there is nothing here to compare with). */
static int check_prove(struct check_job *job, struct index *rd, struct check_packs *packs)
{
        struct store *local = repo_store(job->daemon->repo);
        int r;

        set_phase(job, "proving", packs->n * job->n_stores);
        for (size_t s = 0; s < job->n_stores && !cancelled(job); s++) {
                struct check_store *cs = &job->stores[s];

                for (size_t i = 0; i < packs->n && !cancelled(job); i++) {
                        struct check_pack *p = &packs->p[i];
                        uint8_t nonce[CHECK_NONCE_SIZE], want[CRYPTO_SHA256_SIZE], got[CRYPTO_SHA256_SIZE];

                        __atomic_add_fetch(&job->done, 1, __ATOMIC_RELAXED);
                        if (!p->selected || index_replica_get(rd, &p->id, cs->id) < INDEX_REPLICA_UPLOADED)
                                continue;
                        if (!p->local) {
                                if (p->fetched)
                                        continue; /* one store's good copy is enough */
                                r = replicate_fetch_check(cs->store, &p->id, p->size);
                                p->tried = true;
                                p->fetched = r >= 0;
                        } else if (p->bad) {
                                continue; /* nothing to compare with: repair will fetch it */
                        } else {
                                cache_mark_busy(job->daemon->cache, &p->id); /* not evicted meanwhile */
                                r = crypto_random(nonce, sizeof(nonce));
                                if (r >= 0)
                                        r = store_prove(local, &p->id, nonce, sizeof(nonce), want);
                                if (r == -ENOENT) {
                                        /* evicted here all the same (before the mark): nothing
                                         * to compare with, so read the store's copy back */
                                        p->local = false;
                                        r = replicate_fetch_check(cs->store, &p->id, p->size);
                                        p->tried = true;
                                        p->fetched = r >= 0;
                                } else if (r < 0) {
                                        /* the local copy is the problem: once, and repair
                                         * fetches a good copy from a store */
                                        p->bad = true;
                                        damage_add(job, p, 0, CHECK_DAMAGED, "the pack file cannot be read here: %s",
                                                   strerror(-r));
                                        continue;
                                } else {
                                        r = store_prove(cs->store, &p->id, nonce, sizeof(nonce), got);
                                        if (r >= 0 && memcmp(want, got, sizeof(want)) != 0)
                                                r = -EBADMSG;
                                }
                        }
                        if (r >= 0)
                                job->packs_proved++;
                        else if (r == -ENOENT)
                                damage_add(job, p, cs->id, CHECK_MISSING, "store %s does not have it", cs->name);
                        else if (r == -EBADMSG)
                                damage_add(job, p, cs->id, CHECK_DAMAGED, "store %s holds a damaged copy",
                                           cs->name);
                        else {
                                char why[STORE_EXPLAIN_SIZE];
                                damage_add(job, p, cs->id, CHECK_UNANSWERED, "store %s did not answer: %s",
                                           cs->name, store_strerror(cs->store, r, why, sizeof(why)));
                        }
                }
        }
        /* an evicted pack no store had a good copy of is lost */
        for (size_t i = 0; i < packs->n; i++) {
                struct check_pack *p = &packs->p[i];
                if (!p->local && p->tried && !p->fetched) {
                        p->bad = true;
                        damage_add(job, p, 0, CHECK_MISSING, "evicted here and no store has a good copy");
                }
        }
        return cancelled(job) ? -ECANCELED : 0;
}

static const struct check_pack *pack_find(const struct check_packs *packs, const struct oid *id)
{
        size_t lo = 0, hi = packs->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = oid_cmp(&packs->p[mid].id, id);
                if (c == 0)
                        return &packs->p[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

struct replica_reset {
        const struct oid *pack;
        int64_t store_id;
};

static int replica_reset_write(struct index *wr, void *userdata)
{
        struct replica_reset *rr = userdata;

        return index_replica_reset(wr, rr->pack, rr->store_id);
}

static struct check_store *store_of(struct check_job *job, int64_t id)
{
        for (size_t s = 0; s < job->n_stores; s++)
                if (job->stores[s].id == id)
                        return &job->stores[s];
        return NULL;
}

/* Phase "repairing": a local copy from a store with a good one (hashed on
 * the way, then hashed again by the local store's put); a store's bad copy
 * deleted there and queued for upload again. */
static void check_repair(struct check_job *job, struct check_packs *packs)
{
        struct store *local = repo_store(job->daemon->repo);

        set_phase(job, "repairing", job->n_damaged);
        for (size_t i = 0; i < job->n_damaged && !cancelled(job); i++) {
                struct check_damage *d = &job->damaged[i];
                const struct check_pack *p = pack_find(packs, &d->pack);
                int r;

                __atomic_add_fetch(&job->done, 1, __ATOMIC_RELAXED);
                if (d->state == CHECK_UNANSWERED || !p)
                        continue;
                if (d->store_id == 0) {
                        _cleanup_close_ int fd = -1;

                        if (!p->local)
                                continue; /* evicted and held by no store: nothing to fetch from */
                        r = replicate_fetch_pack(job->daemon, &d->pack, d->size, &fd);
                        if (r < 0) {
                                snprintf(d->message + strlen(d->message), sizeof(d->message) - strlen(d->message),
                                         "; no store has a good copy");
                                continue;
                        }
                        /* renamed over the bad file: a crash or a full disk on
                         * the way leaves it as it was, never no file at all */
                        r = store_put(local, &d->pack, fd, d->size, STORE_PUT_REPLACE);
                        if (r < 0) {
                                snprintf(d->message + strlen(d->message), sizeof(d->message) - strlen(d->message),
                                         "; writing the copy fetched failed: %s", strerror(-r));
                                continue;
                        }
                } else {
                        struct check_store *cs = store_of(job, d->store_id);
                        struct replica_reset rr = { .pack = &d->pack, .store_id = d->store_id };

                        uint64_t have;

                        if (!cs || p->bad)
                                continue; /* no good copy here to upload */
                        /* delete the store's copy only while the local one is
                         * here to upload again (the evictor holds the lock from
                         * its last look to its deletion) */
                        cache_delete_lock();
                        cache_mark_busy(job->daemon->cache, &d->pack);
                        r = store_stat(local, &d->pack, &have);
                        if (r >= 0) {
                                r = store_del(cs->store, &d->pack);
                                if (r == -ENOENT)
                                        r = 0;
                        }
                        cache_delete_unlock();
                        if (r < 0)
                                continue;
                        r = repo_with_writer(job->daemon->repo, replica_reset_write, &rr);
                        if (r < 0)
                                continue;
                }
                d->repaired = true;
                job->repaired_packs++;
        }
}

static int bad_packs_collect(struct check_job *job, const struct check_packs *packs)
{
        for (size_t i = 0; i < packs->n; i++) {
                const struct check_pack *p = &packs->p[i];
                bool repaired = false;

                if (!p->bad)
                        continue;
                for (size_t k = 0; k < job->n_damaged; k++)
                        if (job->damaged[k].store_id == 0 && job->damaged[k].repaired &&
                            oid_cmp(&job->damaged[k].pack, &p->id) == 0)
                                repaired = true;
                if (!repaired) {
                        int r = idset_add(&job->bad_packs, &p->id);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Which local damage another store could mend: say so when not repairing. */
static void mark_repairable(struct check_job *job, struct index *rd)
{
        for (size_t i = 0; i < job->n_damaged; i++) {
                struct check_damage *d = &job->damaged[i];
                size_t len = strlen(d->message);

                if (d->store_id != 0 || d->state == CHECK_UNANSWERED || index_replica_held(rd, &d->pack) <= 0)
                        continue;
                d->repairable = true;
                if (!job->repair)
                        snprintf(d->message + len, sizeof(d->message) - len, "; a store holds a copy (--repair)");
        }
}

void check_run(struct check_job *job)
{
        struct check_packs packs = { 0 };
        struct index *rd = repo_reader_get(job->daemon->repo);
        int r;

        if (!rd) {
                check_fail(job, -EIO, "cannot open the index for reading");
                return;
        }
        r = check_index(job, rd, &packs);
        if (r < 0) {
                check_fail(job, r, "cannot check the pack rows: %s", strerror(-r));
                goto out;
        }
        if (job->read_data) {
                r = check_read(job, &packs);
                if (r >= 0)
                        r = check_prove(job, rd, &packs);
                if (r < 0) {
                        check_fail(job, r, "reading the packs stopped: %s", strerror(-r));
                        goto out;
                }
        }
        mark_repairable(job, rd);
        repo_reader_put(job->daemon->repo, rd);
        rd = NULL;
        if (job->repair)
                check_repair(job, &packs);
        r = bad_packs_collect(job, &packs);
        if (r >= 0)
                r = check_walk_snapshots(job);
        if (r < 0)
                check_fail(job, r, "walking the snapshots stopped: %s", strerror(-r));
out:
        if (rd)
                repo_reader_put(job->daemon->repo, rd);
        free(packs.p);
}

bool check_job_failed(const struct check_job *job)
{
        if (job->missing_objects || job->affected_paths || job->orphans)
                return true;
        for (size_t i = 0; i < job->n_damaged; i++)
                if (job->damaged[i].state != CHECK_UNANSWERED && !job->damaged[i].repaired)
                        return true;
        return job->damaged_total > job->n_damaged; /* beyond the list: not repaired */
}

struct check_job *check_job_new(struct daemon *d)
{
        struct check_job *job = calloc(1, sizeof(*job));

        if (!job)
                return NULL;
        job->daemon = d;
        idset_init(&job->bad_packs);
        pthread_mutex_init(&job->lock, NULL);
        if (cond_init_monotonic(&job->cond) < 0) {
                pthread_mutex_destroy(&job->lock);
                free(job);
                return NULL;
        }
        return job;
}

size_t check_take_affected(struct check_job *job, size_t max_bytes, struct check_affected **ret)
{
        struct check_affected *out = NULL;
        size_t n = 0, bytes = 0;

        pthread_mutex_lock(&job->lock);
        while (n < job->n_affected && (n == 0 || bytes + strlen(job->affected[n].path) + 128 <= max_bytes))
                bytes += strlen(job->affected[n++].path) + 128;
        if (n > 0)
                out = malloc(n * sizeof(*out));
        if (out) {
                memcpy(out, job->affected, n * sizeof(*out));
                memmove(job->affected, job->affected + n, (job->n_affected - n) * sizeof(*out));
                job->n_affected -= n;
                pthread_cond_broadcast(&job->cond);
        } else {
                n = 0;
        }
        pthread_mutex_unlock(&job->lock);
        *ret = out;
        return n;
}

void check_job_free(struct check_job *job)
{
        if (!job)
                return;
        for (size_t i = 0; i < job->n_affected; i++)
                free(job->affected[i].path);
        free(job->affected);
        free(job->damaged);
        idset_done(&job->bad_packs);
        free(job->stores);
        pthread_cond_destroy(&job->cond);
        pthread_mutex_destroy(&job->lock);
        free(job);
}
