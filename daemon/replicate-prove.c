/* SPDX-License-Identifier: MIT */
/* PROVE rounds: every prove_interval each store is challenged on prove_count
 * of its packs, half picked at random and half the next ones of a rotation
 * through all of them in id order (so every pack is read back in time). A
 * challenge is SHA-256(nonce || pack) from the store against the same over
 * the local copy; a pack missing or different there is deleted on the store
 * and uploaded again. verify --store runs a round over every pack at once. */
#include "replicate-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "crypto.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "store-runner.h"
#include "store.h"

/* Challenges in flight per round (the store's other threads upload). */
#define PROVE_PARALLEL 2
#define PROVE_NONCE_SIZE 32

struct replicate_round {
        struct replicate_store *rs;
        bool all;             /* every pack the store holds (verify --store) */
        struct oid *picks;    /* a scheduled round's packs */
        size_t n_picks, next_pick;
        struct oid cursor;    /* all: the last pack listed */
        bool have_cursor;
        bool listed_all;
        struct replicate_item page[REPLICATE_PAGE];
        size_t page_pos, page_len;
        unsigned in_flight;
        bool cancelled;
        struct oid rotation_end; /* scheduled: where the rotation got to */
        bool have_rotation_end;
        struct replicate_verify_result result;
        replicate_verify_done_fn done;
        void *userdata;
        /* a scheduled round: verify --store asked meanwhile, started when it ends */
        bool then_verify;
        replicate_verify_done_fn then_done;
        void *then_userdata;
};

static struct replicate_round *round_new(struct replicate_store *rs, bool all, replicate_verify_done_fn done,
                                         void *userdata);

struct prove_job {
        struct replicate_store *rs;
        struct replicate_round *round;
        struct replicate_item item;
        int result;        /* 0 equal, -EBADMSG different, -ENOENT missing there; -ECANCELED not run */
        bool local_failed; /* no local copy to compare with */
        bool evicted;      /* no local copy (local_copy = cache): never delete the store's */
        int delete_result; /* after a bad answer: the DELETE's */
};

static void round_next(struct replicate_round *round);

static void key_name(char *buf, size_t len, const struct replicate_store *rs, const char *what)
{
        snprintf(buf, len, "replicate.%lld.%s", (long long)rs->id, what);
}

static void prove_check(struct prove_job *j);

/* The pack stays here for the whole PROVE (a slow store may take longer
 * than the evictor's notion of "recently used"), and a while after. */
static void prove_work(void *userdata)
{
        struct prove_job *j = userdata;
        struct cache *cache = j->rs->rep->d->cache;

        cache_hold(cache, &j->item.id);
        prove_check(j);
        cache_mark_busy(cache, &j->item.id);
}

static void prove_check(struct prove_job *j)
{
        uint8_t nonce[PROVE_NONCE_SIZE], want[CRYPTO_SHA256_SIZE], got[CRYPTO_SHA256_SIZE];
        int r;

        struct daemon *d = j->rs->rep->d;
        struct store *local = repo_store(d->repo);
        uint64_t size;

        r = crypto_random(nonce, sizeof(nonce));
        if (r >= 0)
                r = store_prove(local, &j->item.id, nonce, sizeof(nonce), want);
        if (r == -ENOENT) {
                /* evicted here (local_copy = cache): no answer to compare a
                 * PROVE with, so read the pack back and check its hash; a
                 * damaged copy stays until the upload has a good one from
                 * another store (prove_done) */
                j->evicted = true;
                j->result = replicate_fetch_check(j->rs->store, &j->item.id, j->item.size);
                return;
        } else if (r < 0) {
                j->local_failed = true;
                j->result = r;
                return;
        } else {
                r = store_prove(j->rs->store, &j->item.id, nonce, sizeof(nonce), got);
                if (r >= 0 && memcmp(want, got, sizeof(want)) != 0)
                        r = -EBADMSG;
        }
        j->result = r;
        if (r == -EBADMSG || r == -ENOENT) {
                /* the host keeps a deleted pack marked; a new PUT replaces it.
                 * Only while the local copy is here to upload again: the
                 * evictor holds the lock from its last look to its deletion */
                cache_delete_lock(); /* the pack is held in the cache since prove_work began */
                if (store_stat(local, &j->item.id, &size) >= 0) {
                        j->delete_result = store_del(j->rs->store, &j->item.id);
                        if (j->delete_result == -ENOENT)
                                j->delete_result = 0;
                } else {
                        j->evicted = true;
                }
                cache_delete_unlock();
        }
}

static void round_finish(struct replicate_round *round)
{
        struct replicate_store *rs = round->rs;
        char key[64];

        if (rs->round == round)
                rs->round = NULL;
        if (!round->cancelled && !round->all) {
                key_name(key, sizeof(key), rs, "prove_last_ns");
                index_kv_set_int(rs->rep->d->index, key, now_ns());
                if (round->have_rotation_end) {
                        key_name(key, sizeof(key), rs, "prove_cursor");
                        index_kv_set(rs->rep->d->index, key, round->rotation_end.bytes, OID_SIZE);
                }
        }
        if (!round->cancelled)
                log_full(round->result.errors ? LOG_WARNING : LOG_INFO,
                         "Store %s: %s: %llu packs challenged, %llu missing or damaged (uploaded again), %llu unanswered",
                         rs->name, round->all ? "verification" : "PROVE round",
                         (unsigned long long)round->result.packs, (unsigned long long)round->result.errors,
                         (unsigned long long)round->result.failed);
        if (round->done)
                round->done(round->cancelled ? -ECANCELED : 0, &round->result, round->userdata);
        if (round->then_verify) {
                struct replicate_round *next = NULL;
                if (!round->cancelled && !rs->stopped)
                        next = round_new(rs, true, round->then_done, round->then_userdata);
                if (next) {
                        log_info("Store %s: verifying every pack it holds", rs->name);
                        round_next(next);
                } else {
                        struct replicate_verify_result none = { 0 };
                        round->then_done(round->cancelled || rs->stopped ? -ECANCELED : -ENOMEM, &none,
                                         round->then_userdata);
                }
        }
        free(round->picks);
        replicate_store_unref(rs);
        free(round);
}

/* The replica of pack on rs back to pending (or damaged: a copy is still
 * there, which the upload deletes once it has a good one to put), and the
 * pack queued there again with the size the index knows (a scheduled pick
 * carries only the id); the reset's error. */
static int upload_again(struct replicate_store *rs, const struct oid *pack, bool damaged)
{
        struct index_pack p;
        int r = damaged ? index_replica_set(rs->rep->d->index, pack, rs->id, INDEX_REPLICA_DAMAGED)
                        : index_replica_reset(rs->rep->d->index, pack, rs->id);

        if (r >= 0 && index_pack_lookup(rs->rep->d->index, pack, &p) >= 0)
                replicate_store_requeue(rs, pack, p.size);
        return r;
}

static void prove_done(void *userdata)
{
        struct prove_job *j = userdata;
        struct replicate_round *round = j->round;
        struct replicate_store *rs = j->rs;
        char hex[OID_HEX_SIZE];

        round->in_flight--;
        if (rs->stopped || round->cancelled || j->result == -ECANCELED) {
                if (!round->cancelled && j->result == -ECANCELED)
                        round->result.failed++;
                goto out;
        }
        oid_to_hex(&j->item.id, hex);
        round->result.packs++;
        if (j->result >= 0) {
                replicate_store_refused(rs, false, NULL);
                int r = index_replica_set_verified(rs->rep->d->index, &j->item.id, rs->id, now_ns());
                if (r < 0 && r != -ENOENT)
                        log_error_errno(r, "Store %s: cannot record pack %s as verified: %s", rs->name, hex,
                                        index_last_error(rs->rep->d->index));
        } else if (j->local_failed) {
                round->result.failed++;
                log_debug("Store %s: no local copy of pack %s to challenge it with: %s", rs->name, hex,
                          strerror(-j->result));
        } else if (j->evicted && (j->result == -EBADMSG || j->result == -ENOENT)) {
                round->result.errors++;
                log_event(LOG_ERR, MSGID_PACK_DAMAGED, LOG_FIELDS(LOG_STORE(rs->name)),
                          "Store %s: pack %s is %s there and was evicted here (local_copy = cache); %s", rs->name,
                          hex, j->result == -ENOENT ? "missing" : "damaged",
                          j->result == -ENOENT ? "copying it from another store if one holds it"
                                               : "it no longer counts as a copy; it is replaced from another store "
                                                 "that holds the pack, and kept meanwhile (objects in it that still "
                                                 "check may be read)");
                /* the upload fetches it from another store; a damaged copy
                 * is deleted only once a good one is at hand */
                (void)upload_again(rs, &j->item.id, j->result == -EBADMSG);
        } else if (j->result == -EBADMSG || j->result == -ENOENT) {
                round->result.errors++;
                log_event(LOG_WARNING, MSGID_PACK_DAMAGED, LOG_FIELDS(LOG_STORE(rs->name)),
                          "Store %s: pack %s is %s there; %s", rs->name, hex,
                          j->result == -ENOENT ? "missing" : "damaged",
                          j->delete_result >= 0 ? "uploading it again"
                                                : "its deletion failed (Object Lock?); uploading a good copy over it");
                /* A copy known bad is no copy, whether or not it could be
                 * deleted: pending again (damaged while it is still there:
                 * the upload deletes it before it puts the good one), so
                 * that the evictor never counts it (it would drop the good
                 * local copy for it) */
                int r = upload_again(rs, &j->item.id, j->result == -EBADMSG && j->delete_result < 0);
                if (r < 0)
                        log_error_errno(r, "Store %s: cannot mark pack %s to upload again: %s", rs->name, hex,
                                        index_last_error(rs->rep->d->index));
        } else {
                round->result.failed++;
                log_debug("Store %s: PROVE of pack %s failed: %s", rs->name, hex, strerror(-j->result));
                if (replicate_refusal(j->result))
                        replicate_store_refused(rs, true, j->result == -EACCES ? "access denied"
                                                                               : "the bucket is gone");
        }
out:
        free(j);
        if (!round->cancelled && !rs->stopped)
                round_next(round);
        else if (round->in_flight == 0)
                round_finish(round);
        replicate_store_unref(rs);
}

static int round_page_add(const struct index_pack *pack, void *userdata)
{
        struct replicate_round *round = userdata;

        round->page[round->page_len++] = (struct replicate_item){ .id = pack->id, .size = pack->size };
        round->cursor = pack->id;
        round->have_cursor = true;
        return 0;
}

/* The next pack of the round, or false when there is none. */
static bool round_take(struct replicate_round *round, struct replicate_item *ret)
{
        struct replicate_store *rs = round->rs;

        if (!round->all) {
                if (round->next_pick == round->n_picks)
                        return false;
                *ret = (struct replicate_item){ .id = round->picks[round->next_pick++] };
                return true;
        }
        if (round->page_pos == round->page_len) {
                if (round->listed_all)
                        return false;
                round->page_pos = round->page_len = 0;
                int r = index_replica_held_page(rs->rep->d->index, rs->id, round->have_cursor ? &round->cursor : NULL,
                                                REPLICATE_PAGE, round_page_add, round);
                if (r < 0 || round->page_len < REPLICATE_PAGE)
                        round->listed_all = true;
                if (r < 0)
                        log_error_errno(r, "Store %s: cannot list its packs: %s", rs->name,
                                        index_last_error(rs->rep->d->index));
                if (round->page_len == 0)
                        return false;
        }
        *ret = round->page[round->page_pos++];
        return true;
}

static void round_next(struct replicate_round *round)
{
        struct replicate_store *rs = round->rs;
        struct replicate_item item;

        while (round->in_flight < PROVE_PARALLEL && round_take(round, &item)) {
                struct prove_job *j = calloc(1, sizeof(*j));
                if (!j) {
                        log_oom();
                        break;
                }
                *j = (struct prove_job){ .rs = rs, .round = round, .item = item, .result = -ECANCELED };
                rs->refs++;
                round->in_flight++;
                if (store_runner_submit(rs->runner, prove_work, prove_done, j) < 0) {
                        round->in_flight--;
                        rs->refs--;
                        free(j);
                        break;
                }
        }
        if (round->in_flight == 0)
                round_finish(round);
}

static struct replicate_round *round_new(struct replicate_store *rs, bool all, replicate_verify_done_fn done,
                                         void *userdata)
{
        struct replicate_round *round = calloc(1, sizeof(*round));

        if (!round)
                return NULL;
        round->rs = rs;
        round->all = all;
        round->done = done;
        round->userdata = userdata;
        rs->refs++;
        rs->round = round;
        return round;
}

struct rotation {
        struct oid *picks;
        size_t n, max;
        struct oid last;
        bool any;
};

static int rotation_add(const struct index_pack *pack, void *userdata)
{
        struct rotation *rot = userdata;

        rot->last = pack->id;
        rot->any = true;
        for (size_t i = 0; i < rot->n; i++)
                if (oid_cmp(&rot->picks[i], &pack->id) == 0)
                        return 0;
        if (rot->n < rot->max)
                rot->picks[rot->n++] = pack->id;
        return 0;
}

/* A scheduled round: prove_count packs, half at random, half the next of the rotation. */
static int round_start_scheduled(struct replicate_store *rs)
{
        struct index *idx = rs->rep->d->index;
        unsigned count = rs->rep->d->config.prove_count;
        size_t n_random = (count + 1) / 2, n = 0;
        struct replicate_round *round;
        void *cursor = NULL;
        size_t cursor_len = 0;
        char key[64];
        int r;

        if (count == 0 || rs->round)
                return 0;
        round = round_new(rs, false, NULL, NULL);
        if (!round)
                return -ENOMEM;
        round->picks = calloc(count, sizeof(*round->picks));
        if (!round->picks) {
                round_finish(round);
                return -ENOMEM;
        }
        r = index_replica_random(idx, rs->id, n_random, round->picks, &n);
        if (r < 0)
                n = 0;
        struct rotation rot = { .picks = round->picks, .n = n, .max = count };
        key_name(key, sizeof(key), rs, "prove_cursor");
        bool have_cursor = index_kv_get(idx, key, &cursor, &cursor_len) >= 0 && cursor_len == OID_SIZE;
        r = index_replica_held_page(idx, rs->id, have_cursor ? (const struct oid *)cursor : NULL, count - n,
                                    rotation_add, &rot);
        if (r >= 0 && !rot.any && have_cursor) /* the end: round again from the first */
                r = index_replica_held_page(idx, rs->id, NULL, count - n, rotation_add, &rot);
        free(cursor);
        round->n_picks = rot.n;
        if (rot.any) {
                round->rotation_end = rot.last;
                round->have_rotation_end = true;
        }
        round_next(round);
        return 0;
}

static void schedule(struct replicate_store *rs, uint64_t delay_ns)
{
        struct timeval tv = { .tv_sec = (time_t)(delay_ns / 1000000000),
                              .tv_usec = (suseconds_t)(delay_ns % 1000000000 / 1000) };

        evtimer_add(rs->prove_timer, &tv);
}

static void on_prove_timer(evutil_socket_t fd, short what, void *userdata)
{
        struct replicate_store *rs = userdata;

        (void)fd;
        (void)what;
        if (rs->stopped)
                return;
        if (round_start_scheduled(rs) < 0)
                log_oom();
        schedule(rs, rs->rep->d->config.prove_interval_ns);
}

int replicate_prove_start(struct replicate_store *rs)
{
        uint64_t interval = rs->rep->d->config.prove_interval_ns;
        int64_t last = 0, now = now_ns(), delay;
        char key[64];

        rs->prove_timer = evtimer_new(rs->rep->d->base, on_prove_timer, rs);
        if (!rs->prove_timer)
                return -ENOMEM;
        if (interval == 0 || rs->rep->d->config.prove_count == 0)
                return 0;
        key_name(key, sizeof(key), rs, "prove_last_ns");
        if (index_kv_get_int(rs->rep->d->index, key, &last) < 0 || last <= 0 || last > now)
                last = now; /* first round one interval from now */
        delay = last + (int64_t)interval - now;
        schedule(rs, delay > 0 ? (uint64_t)delay : 0);
        return 0;
}

void replicate_prove_stop(struct replicate_store *rs)
{
        if (rs->prove_timer) {
                event_free(rs->prove_timer);
                rs->prove_timer = NULL;
        }
        if (rs->round) {
                struct replicate_round *round = rs->round;
                round->cancelled = true;
                rs->round = NULL;
                if (round->in_flight == 0)
                        round_finish(round);
                /* else the last job's done finishes it */
        }
}

int replicate_verify_store(struct daemon *d, const char *name, replicate_verify_done_fn done, void *userdata)
{
        struct replicate_store *rs = NULL;
        struct replicate_round *round;

        if (d->replicate)
                for (rs = d->replicate->stores; rs; rs = rs->next)
                        if (!strcmp(rs->name, name))
                                break;
        if (!rs)
                return -ENOENT;
        if (rs->round && !rs->round->all && !rs->round->then_verify) {
                /* a scheduled round is running: the verification follows it */
                rs->round->then_verify = true;
                rs->round->then_done = done;
                rs->round->then_userdata = userdata;
                return 0;
        }
        if (rs->round)
                return -EBUSY;
        round = round_new(rs, true, done, userdata);
        if (!round)
                return -ENOMEM;
        log_info("Store %s: verifying every pack it holds", rs->name);
        round_next(round);
        return 0;
}
