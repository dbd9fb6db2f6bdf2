/* SPDX-License-Identifier: MIT */
/* The packer (see packer.h). Records are sealed without any lock into a
 * per-thread buffer, then appended to a free slot's pack (preferring one
 * already open), an anonymous file in the staging directory. A pack about to
 * overflow is sealed, its writeback started, and queued on the committer; it
 * becomes visible only when the committer stores and commits it. */

#include "packer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "cleanup.h"
#include "committer.h"
#include "keys.h"
#include "pack.h"
#include "record.h"

#define PACKER_MAX_SLOTS 64

/* A pack being filled; owned by one thread at a time (busy). */
struct open_pack {
        struct pack_writer *pw;
        int fd;
        struct oid *ids; /* objects in it, lost if it fails */
        size_t n_ids, cap_ids;
        bool busy;
};

struct packer {
        enum crypto_cipher cipher;
        const struct keys *keys;
        int staging_fd; /* directory of the anonymous pack files */
        struct committer *committer;
        packer_lost_fn lost;
        void *userdata;

        pthread_mutex_t lock; /* slots' busy flags, level, sealed */
        pthread_cond_t slot_free;
        /* n_slots packs for file data, then one for everything else */
        struct open_pack slots[PACKER_MAX_SLOTS + 1];
        size_t n_slots;
        int level;
        uint64_t sealed;
};

static const struct packer_test_hook *test_hook;

void packer_set_test_hook(const struct packer_test_hook *hook)
{
        __atomic_store_n(&test_hook, hook, __ATOMIC_RELEASE);
}

/* Per-thread buffer for sealing records. */
static pthread_key_t seal_key;
static pthread_once_t seal_once = PTHREAD_ONCE_INIT;
struct seal_buf {
        uint8_t *p;
        size_t cap;
};
static void seal_buf_free(void *p)
{
        struct seal_buf *b = p;
        if (b)
                free(b->p);
        free(b);
}
static void seal_key_init(void) { pthread_key_create(&seal_key, seal_buf_free); }

static uint8_t *seal_buffer(size_t need)
{
        pthread_once(&seal_once, seal_key_init);
        struct seal_buf *b = pthread_getspecific(seal_key);
        if (!b) {
                b = calloc(1, sizeof(*b));
                if (!b)
                        return NULL;
                pthread_setspecific(seal_key, b);
        }
        if (b->cap < need) {
                uint8_t *p = realloc(b->p, need);
                if (!p)
                        return NULL;
                b->p = p;
                b->cap = need;
        }
        return b->p;
}

int packer_new(size_t n_slots, enum crypto_cipher cipher, const struct keys *keys, int level,
               const char *staging_dir, struct committer *committer, packer_lost_fn lost, void *userdata,
               struct packer **ret)
{
        struct packer *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->staging_fd = open(staging_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->staging_fd < 0) {
                int k = -errno;
                free(p);
                return k;
        }
        p->cipher = cipher;
        p->keys = keys;
        p->level = level;
        p->committer = committer;
        p->lost = lost;
        p->userdata = userdata;
        p->n_slots = MAX((size_t)1, MIN(n_slots, (size_t)PACKER_MAX_SLOTS));
        for (size_t i = 0; i <= PACKER_MAX_SLOTS; i++)
                p->slots[i].fd = -1;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->slot_free, NULL);
        *ret = p;
        return 0;
}

void packer_free(struct packer *p)
{
        if (!p)
                return;
        for (size_t i = 0; i <= PACKER_MAX_SLOTS; i++) {
                pack_writer_free(p->slots[i].pw);
                if (p->slots[i].fd >= 0)
                        close(p->slots[i].fd);
                free(p->slots[i].ids);
        }
        if (p->staging_fd >= 0)
                close(p->staging_fd);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->slot_free);
        free(p);
}

/* A new anonymous file (O_TMPFILE) for a pack: the store can link it into
 * place as it is, and a crash leaves nothing behind. */
static int pack_file_new(struct packer *p, int *ret_fd)
{
        int fd = openat(p->staging_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

void packer_set_compression(struct packer *p, int level)
{
        pthread_mutex_lock(&p->lock);
        p->level = level;
        pthread_mutex_unlock(&p->lock);
}

uint64_t packer_sealed(struct packer *p)
{
        pthread_mutex_lock(&p->lock);
        uint64_t n = p->sealed;
        pthread_mutex_unlock(&p->lock);
        return n;
}

/* Drop a slot's pack after a failure (the slot is ours: busy). */
static void slot_abandon(struct packer *p, struct open_pack *s)
{
        if (s->n_ids > 0)
                p->lost(p->userdata, s->ids, s->n_ids);
        s->n_ids = 0;
        pack_writer_free(s->pw);
        s->pw = NULL;
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
}

/* Seal the slot's pack and queue it for commit (the slot is ours: busy). */
static int slot_seal(struct packer *p, struct open_pack *s)
{
        struct sealed_pack sp = {.fd = s->fd};
        if (!s->pw)
                return 0;
        int k = pack_writer_seal(s->pw, &sp.id, &sp.size, NULL);
        pack_writer_free(s->pw);
        s->pw = NULL;
        if (k < 0) {
                slot_abandon(p, s);
                return k;
        }
        /* start writing it out now; the commit waits for it later */
        sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        sp.ids = s->ids;
        sp.n_ids = s->n_ids;
        s->ids = NULL;
        s->n_ids = s->cap_ids = 0;
        s->fd = -1;
        k = committer_queue(p->committer, &sp);
        if (k < 0)
                return k;
        pthread_mutex_lock(&p->lock);
        p->sealed++;
        pthread_mutex_unlock(&p->lock);
        return 0;
}

/* File data goes to the data slots; lists, trees, snapshots and
 * tombstones to the metadata slot, so that a pack holds one or the other:
 * a local cache can evict data packs and keep the few, small packs that
 * listing and snapshotting read (and a recovery reads trees without
 * fetching data). */
static bool is_metadata(enum object_type type)
{
        return type != OBJECT_DATA;
}

static struct open_pack *slot_acquire(struct packer *p, enum object_type type)
{
        pthread_mutex_lock(&p->lock);
        if (is_metadata(type)) {
                struct open_pack *s = &p->slots[p->n_slots];
                while (s->busy)
                        pthread_cond_wait(&p->slot_free, &p->lock);
                s->busy = true;
                pthread_mutex_unlock(&p->lock);
                return s;
        }
        for (;;) {
                struct open_pack *best = NULL;
                for (size_t i = 0; i < p->n_slots; i++) {
                        struct open_pack *s = &p->slots[i];
                        if (s->busy)
                                continue;
                        if (s->pw) { /* prefer filling an open pack */
                                best = s;
                                break;
                        }
                        if (!best)
                                best = s;
                }
                if (best) {
                        best->busy = true;
                        pthread_mutex_unlock(&p->lock);
                        return best;
                }
                pthread_cond_wait(&p->slot_free, &p->lock);
        }
}

static void slot_release(struct packer *p, struct open_pack *s)
{
        pthread_mutex_lock(&p->lock);
        s->busy = false;
        pthread_cond_broadcast(&p->slot_free);
        pthread_mutex_unlock(&p->lock);
}

/* Append a sealed record to an open pack (a slot's, opened if needed). */
static int packer_append(struct packer *p, const struct oid *id, enum object_type type, const uint8_t *rec,
                         size_t rlen)
{
        int k = 0;
        struct open_pack *s = slot_acquire(p, type);
        if (s->pw && pack_writer_count(s->pw) > 0 && pack_writer_would_overflow(s->pw, rlen))
                k = slot_seal(p, s);
        if (k >= 0 && !s->pw) {
                k = pack_file_new(p, &s->fd);
                if (k >= 0) {
                        k = pack_writer_new(p->cipher, p->keys->pack_key, s->fd, &s->pw);
                        if (k < 0) {
                                close(s->fd);
                                s->fd = -1;
                        }
                }
        }
        if (k >= 0 && !GROW(s->ids, s->n_ids, s->cap_ids, 256))
                k = -ENOMEM;
        if (k >= 0) {
                k = pack_writer_add(s->pw, id, (uint8_t)type, rec, rlen);
                if (k < 0)
                        slot_abandon(p, s);
        }
        if (k >= 0)
                s->ids[s->n_ids++] = *id;
        slot_release(p, s);
        committer_throttle(p->committer);
        return k;
}

int packer_add(struct packer *p, const struct oid *id, enum object_type type, const void *payload,
               size_t len, size_t *ret_len)
{
        size_t rlen;
        pthread_mutex_lock(&p->lock);
        int level = p->level;
        pthread_mutex_unlock(&p->lock);

        uint8_t *buf = seal_buffer(record_bound(len));
        if (!buf)
                return -ENOMEM;
        int k = record_seal(p->cipher, p->keys->enc_key, id, type, payload, len,
                            level, buf, record_bound(len), &rlen);
        if (k < 0)
                return k;

        const struct packer_test_hook *hook = __atomic_load_n(&test_hook, __ATOMIC_ACQUIRE);
        if (hook)
                hook->before_pack(id, hook->userdata);

        k = packer_append(p, id, type, buf, rlen);
        if (k < 0)
                return k;
        *ret_len = rlen;
        return 0;
}

int packer_add_record(struct packer *p, const struct oid *id, enum object_type type, const void *record,
                      size_t len)
{
        return packer_append(p, id, type, record, len);
}

int packer_seal_all(struct packer *p)
{
        int k = 0;
        for (size_t i = 0; i <= p->n_slots; i++) { /* the metadata slot too */
                struct open_pack *s = &p->slots[i];
                pthread_mutex_lock(&p->lock);
                while (s->busy)
                        pthread_cond_wait(&p->slot_free, &p->lock);
                s->busy = true;
                pthread_mutex_unlock(&p->lock);
                int r = slot_seal(p, s);
                if (r < 0 && k >= 0)
                        k = r;
                slot_release(p, s);
        }
        return k;
}
