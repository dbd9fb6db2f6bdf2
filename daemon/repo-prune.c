/* SPDX-License-Identifier: MIT */
/* What prune needs of the repository (docs/prune.md): the gate (snapshot
 * and restore jobs register while they run, with the snapshot they build
 * on; prune's mark starts a new epoch and waits until every job of an
 * earlier epoch is over) and reading and checking sealed records to copy
 * (repo_put_record, in repo.c, copies them into new packs). */
#include "repo-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cond.h"
#include "record.h"
#include "repo-read.h"

#define REPO_RECORD_MAX (64 * 1024 * 1024)

static int64_t realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int repo_job_begin(struct repo *r)
{
        int ticket = -1;

        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < r->n_gate; i++)
                if (!r->gate[i].used) {
                        ticket = (int)i;
                        break;
                }
        if (ticket < 0 && GROW(r->gate, r->n_gate, r->cap_gate, 16))
                ticket = (int)r->n_gate++;
        if (ticket >= 0)
                r->gate[ticket] = (struct repo_gate_entry){ .epoch = r->epoch, .start_ns = realtime_ns(),
                                                            .used = true };
        pthread_mutex_unlock(&r->lock);
        return ticket < 0 ? -ENOMEM : ticket;
}

void repo_job_set_parent(struct repo *r, int ticket, const struct oid *snapshot)
{
        if (ticket < 0)
                return;
        pthread_mutex_lock(&r->lock);
        r->gate[ticket].has_parent = snapshot != NULL;
        if (snapshot)
                r->gate[ticket].parent = *snapshot;
        pthread_mutex_unlock(&r->lock);
}

void repo_job_end(struct repo *r, int ticket)
{
        if (ticket < 0)
                return;
        pthread_mutex_lock(&r->lock);
        r->gate[ticket].used = false;
        pthread_cond_broadcast(&r->gate_cond);
        pthread_mutex_unlock(&r->lock);
}

uint64_t repo_prune_mark(struct repo *r)
{
        pthread_mutex_lock(&r->lock);
        uint64_t epoch = ++r->epoch;
        pthread_mutex_unlock(&r->lock);
        return epoch;
}

static bool gate_busy(struct repo *r, uint64_t epoch)
{
        for (size_t i = 0; i < r->n_gate; i++)
                if (r->gate[i].used && r->gate[i].epoch < epoch)
                        return true;
        return false;
}

int repo_prune_wait(struct repo *r, uint64_t epoch, bool (*stop)(void *userdata), void *userdata)
{
        int k = 0;

        pthread_mutex_lock(&r->lock);
        while (gate_busy(r, epoch)) {
                if (stop && stop(userdata)) {
                        k = -ECANCELED;
                        break;
                }
                struct timespec until;
                cond_deadline(&until, 200 * 1000 * 1000);
                pthread_cond_timedwait(&r->gate_cond, &r->lock, &until);
        }
        pthread_mutex_unlock(&r->lock);
        return k;
}

int64_t repo_prune_oldest_job(struct repo *r)
{
        int64_t oldest = INT64_MAX;

        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < r->n_gate; i++)
                if (r->gate[i].used && r->gate[i].start_ns < oldest)
                        oldest = r->gate[i].start_ns;
        pthread_mutex_unlock(&r->lock);
        return oldest;
}

int repo_prune_pins(struct repo *r, struct oid **ret, size_t *ret_n)
{
        struct oid *v = NULL;
        size_t n = 0, cap = 0;
        int k = 0;

        pthread_mutex_lock(&r->lock);
        for (size_t i = 0; i < r->n_gate; i++) {
                if (!r->gate[i].used || !r->gate[i].has_parent)
                        continue;
                if (!GROW(v, n, cap, 8)) {
                        k = -ENOMEM;
                        break;
                }
                v[n++] = r->gate[i].parent;
        }
        pthread_mutex_unlock(&r->lock);
        if (k < 0) {
                free(v);
                return k;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int repo_read_record(struct repo *r, const struct oid *pack, uint64_t offset, size_t len, void *buf)
{
        return repo_read_raw(r->read, pack, offset, len, buf);
}

int repo_check_record(struct repo *r, const struct oid *id, const void *record, size_t len)
{
        size_t cap = MAX(record_plain_size(len), (size_t)4096), out_len;
        enum object_type type;

        for (;;) {
                _cleanup_free_ uint8_t *out = malloc(cap);
                if (!out)
                        return -ENOMEM;
                int k = record_open_verify(r->keys->enc_key, r->keys->id_key, id, record, len, &type, out, cap,
                                           &out_len);
                if (k == -ENOBUFS && cap < REPO_RECORD_MAX) {
                        cap = MIN((size_t)REPO_RECORD_MAX, cap * 4);
                        continue;
                }
                return k < 0 ? k : 0;
        }
}
