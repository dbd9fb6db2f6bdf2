/* SPDX-License-Identifier: MIT */
/* Pack writer (streaming, to an fd or memory) and reader (tail range reads,
 * header checks), Padmé size classes and pack ids. Owns the pack layout of
 * docs/formats.md "Packs"; records are opaque here except for their size. */

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "pack.h"
#include "record.h"

static const uint8_t pack_magic[8] = { 'c', 'h', 'u', 't', 'e', 'p', 'a', 'k' };
static const char pack_header_aad[] = "chute pack header v1";

/* Trailer offsets. */
#define TRAILER_NONCE 0
#define TRAILER_CT 12
#define TRAILER_CT_SIZE 16
#define TRAILER_TAG 28
#define TRAILER_CIPHER 44
#define TRAILER_VERSION 45
#define TRAILER_RESERVED 46
#define TRAILER_MAGIC 48
#define TRAILER_CLEAR TRAILER_CIPHER /* AAD = trailer[44..56] */

/* Encrypted header: nonce ‖ AEAD(count u32 ‖ entries) ‖ tag. */
#define HEADER_OVERHEAD (CRYPTO_NONCE_SIZE + 4 + CRYPTO_TAG_SIZE)

#define PAD_CHUNK 65536

struct pack_writer {
        enum crypto_cipher cipher;
        const uint8_t *key; /* borrowed: K_pack stays in the keyring's locked page */
        int fd;
        uint8_t *buf; /* memory mode */
        size_t buf_len, buf_cap;
        struct crypto_sha256 *hash;
        struct pack_entry *entries;
        size_t n_entries, cap_entries;
        uint64_t size;
        int error; /* sticky: the first failure */
        bool sealed;
};

static void put_be32(uint8_t *p, uint32_t v)
{
        v = htobe32(v);
        memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
        v = htobe64(v);
        memcpy(p, &v, 8);
}

static uint32_t get_be32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return be32toh(v);
}

static uint64_t get_be64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return be64toh(v);
}

uint64_t pack_padded_size(uint64_t content_len)
{
        uint64_t e, s, mask;

        if (content_len <= PACK_MIN_SIZE)
                return PACK_MIN_SIZE;
        /* Padmé (Nikitin et al., PETS 2019): keep the top floor(log2 E)+1
         * bits of the length, E = floor(log2 L); overhead <= 2^-(that) */
        e = 63 - (uint64_t) __builtin_clzll(content_len);
        s = 64 - (uint64_t) __builtin_clzll(e);
        mask = (UINT64_C(1) << (e - s)) - 1;
        return (content_len + mask) & ~mask;
}

uint64_t pack_header_size(size_t n)
{
        return HEADER_OVERHEAD + (uint64_t) n * PACK_ENTRY_SIZE;
}

int pack_writer_new(enum crypto_cipher cipher, const uint8_t pack_key[CRYPTO_KEY_SIZE], int fd,
                    struct pack_writer **ret)
{
        struct pack_writer *w;
        int r;

        if (!crypto_cipher_valid(cipher) || !pack_key || !ret)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->cipher = cipher;
        w->key = pack_key;
        w->fd = fd;
        r = crypto_sha256_new(&w->hash);
        if (r < 0) {
                pack_writer_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

void pack_writer_free(struct pack_writer *w)
{
        if (!w)
                return;
        crypto_sha256_free(w->hash);
        free(w->buf);
        free(w->entries);
        free(w);
}

/* Write bytes to the sink and the hash; any failure is sticky. */
static int pack_writer_emit(struct pack_writer *w, const void *data, size_t len)
{
        const uint8_t *p = data;
        int r;

        if (w->error < 0)
                return w->error;
        if (len == 0)
                return 0;
        r = crypto_sha256_update(w->hash, data, len);
        if (r < 0)
                return (w->error = r);

        if (w->fd < 0) {
                if (w->buf_cap - w->buf_len < len) {
                        size_t want = MAX(w->buf_cap * 2, w->buf_len + len);
                        uint8_t *b = realloc(w->buf, want);

                        if (!b)
                                return (w->error = -ENOMEM);
                        w->buf = b;
                        w->buf_cap = want;
                }
                memcpy(w->buf + w->buf_len, p, len);
                w->buf_len += len;
        } else {
                while (len > 0) {
                        ssize_t k = write(w->fd, p, len);

                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return (w->error = -errno);
                        }
                        if (k == 0)
                                return (w->error = -EIO);
                        p += k;
                        len -= (size_t) k;
                }
        }
        return 0;
}

int pack_writer_add(struct pack_writer *w, const struct oid *id, uint8_t type, const void *record,
                    size_t len)
{
        struct pack_entry *e;
        int r;

        if (!w || !id || !record || w->sealed)
                return -EINVAL;
        if (w->error < 0)
                return w->error;
        if (!oid_type_valid(type) || len < RECORD_MIN_SIZE || len > UINT32_MAX)
                return -EINVAL;
        if (w->n_entries + 1 > PACK_MAX_ENTRIES ||
            w->size + len + pack_header_size(w->n_entries + 1) + PACK_TRAILER_SIZE > PACK_MAX_SIZE)
                return -EFBIG;

        if (w->n_entries == w->cap_entries) {
                size_t want = w->cap_entries ? w->cap_entries * 2 : 64;

                e = reallocarray(w->entries, want, sizeof(*e));
                if (!e)
                        return -ENOMEM;
                w->entries = e;
                w->cap_entries = want;
        }

        r = pack_writer_emit(w, record, len);
        if (r < 0)
                return r;

        e = &w->entries[w->n_entries++];
        e->id = *id;
        e->type = type;
        e->offset = w->size;
        e->length = (uint32_t) len;
        w->size += len;
        return 0;
}

uint64_t pack_writer_size(const struct pack_writer *w)
{
        return w->size;
}

size_t pack_writer_count(const struct pack_writer *w)
{
        return w->n_entries;
}

/* The pack's size sealed, before padding, with n more records of len bytes
 * in all: records, header, trailer. */
static uint64_t sealed_content(const struct pack_writer *w, size_t n, size_t len)
{
        return w->size + len + pack_header_size(w->n_entries + n) + PACK_TRAILER_SIZE;
}

/* The target is a size class of its own (2^24): a pack sealed at or below
 * it, header and trailer included, pads to no more than the target. */
int pack_writer_full(const struct pack_writer *w)
{
        return sealed_content(w, 0, 0) >= PACK_TARGET_SIZE;
}

int pack_writer_would_overflow(const struct pack_writer *w, size_t len)
{
        return w->n_entries > 0 && sealed_content(w, 1, len) > PACK_TARGET_SIZE;
}

int pack_writer_seal(struct pack_writer *w, struct oid *ret_pack_id, uint64_t *ret_size,
                     uint8_t **ret_bytes)
{
        _cleanup_free_ uint8_t *header = NULL, *pad = NULL;
        uint8_t trailer[PACK_TRAILER_SIZE] = {}, plain_trailer[TRAILER_CT_SIZE] = {};
        uint64_t header_len, content, total, remaining;
        struct oid id;
        uint8_t *p;
        int r;

        if (!w || w->sealed)
                return -EINVAL;
        w->sealed = true;
        if (w->error < 0)
                return w->error;

        /* Header: nonce ‖ AEAD(count ‖ entries) ‖ tag, in one buffer. */
        header_len = pack_header_size(w->n_entries);
        header = malloc(header_len);
        if (!header)
                return -ENOMEM;
        r = crypto_random(header, CRYPTO_NONCE_SIZE);
        if (r < 0)
                return r;
        p = header + CRYPTO_NONCE_SIZE;
        put_be32(p, (uint32_t) w->n_entries);
        p += 4;
        for (size_t i = 0; i < w->n_entries; i++, p += PACK_ENTRY_SIZE) {
                const struct pack_entry *e = &w->entries[i];

                memcpy(p, e->id.bytes, OID_SIZE);
                p[32] = e->type;
                p[33] = p[34] = p[35] = 0;
                put_be32(p + 36, e->length);
                put_be64(p + 40, e->offset);
        }
        r = crypto_aead_seal(w->cipher, w->key, header, pack_header_aad, sizeof(pack_header_aad) - 1,
                             header + CRYPTO_NONCE_SIZE, header_len - HEADER_OVERHEAD + 4,
                             header + CRYPTO_NONCE_SIZE, header + header_len - CRYPTO_TAG_SIZE);
        if (r < 0)
                return r;
        r = pack_writer_emit(w, header, header_len);
        if (r < 0)
                return r;

        /* Random padding: zeros would show where the header ends, i.e. the
         * exact content size, which the size class is there to hide. */
        content = w->size + header_len + PACK_TRAILER_SIZE;
        total = pack_padded_size(content);
        remaining = total - content;
        if (remaining > 0) {
                pad = malloc(PAD_CHUNK);
                if (!pad)
                        return -ENOMEM;
        }
        while (remaining > 0) {
                size_t k = (size_t) MIN(remaining, (uint64_t) PAD_CHUNK);

                r = crypto_random(pad, k);
                if (r < 0)
                        return r;
                r = pack_writer_emit(w, pad, k);
                if (r < 0)
                        return r;
                remaining -= k;
        }

        /* Trailer: nonce ‖ AEAD(header offset ‖ length ‖ 0) ‖ tag ‖ cipher ‖ version ‖ 0 0 ‖ magic */
        put_be64(plain_trailer, w->size);
        put_be32(plain_trailer + 8, (uint32_t) header_len);
        trailer[TRAILER_CIPHER] = (uint8_t) w->cipher;
        trailer[TRAILER_VERSION] = PACK_VERSION;
        memcpy(trailer + TRAILER_MAGIC, pack_magic, sizeof(pack_magic));
        r = crypto_random(trailer + TRAILER_NONCE, CRYPTO_NONCE_SIZE);
        if (r < 0)
                return r;
        r = crypto_aead_seal(w->cipher, w->key, trailer + TRAILER_NONCE, trailer + TRAILER_CLEAR,
                             PACK_TRAILER_SIZE - TRAILER_CLEAR, plain_trailer, TRAILER_CT_SIZE,
                             trailer + TRAILER_CT, trailer + TRAILER_TAG);
        if (r < 0)
                return r;
        r = pack_writer_emit(w, trailer, sizeof(trailer));
        if (r < 0)
                return r;

        r = crypto_sha256_final(w->hash, id.bytes);
        w->hash = NULL;
        if (r < 0)
                return (w->error = r);

        if (ret_pack_id)
                *ret_pack_id = id;
        if (ret_size)
                *ret_size = total;
        if (ret_bytes && w->fd < 0) {
                *ret_bytes = TAKE_PTR(w->buf);
                w->buf_len = w->buf_cap = 0;
        }
        return 0;
}

int pack_read_header(pack_read_fn fn, void *userdata, uint64_t size,
                     const uint8_t pack_key[CRYPTO_KEY_SIZE], struct pack_entry **ret_entries,
                     size_t *ret_n)
{
        uint8_t trailer[PACK_TRAILER_SIZE], plain_trailer[TRAILER_CT_SIZE];
        _cleanup_free_ uint8_t *header = NULL;
        _cleanup_free_ struct pack_entry *entries = NULL;
        uint64_t header_off, header_len, area_end, prev_end = 0;
        const uint8_t *p;
        uint32_t count;
        int r;

        if (!fn || !pack_key || !ret_entries || !ret_n)
                return -EINVAL;
        if (size < PACK_TRAILER_SIZE + HEADER_OVERHEAD || size > PACK_MAX_SIZE)
                return -EBADMSG;

        r = fn(userdata, size - PACK_TRAILER_SIZE, trailer, sizeof(trailer));
        if (r < 0)
                return r;
        if (memcmp(trailer + TRAILER_MAGIC, pack_magic, sizeof(pack_magic)) != 0 ||
            trailer[TRAILER_VERSION] != PACK_VERSION || trailer[TRAILER_RESERVED] != 0 ||
            trailer[TRAILER_RESERVED + 1] != 0 || !crypto_cipher_valid(trailer[TRAILER_CIPHER]))
                return -EBADMSG;
        r = crypto_aead_open(trailer[TRAILER_CIPHER], pack_key, trailer + TRAILER_NONCE,
                             trailer + TRAILER_CLEAR, PACK_TRAILER_SIZE - TRAILER_CLEAR,
                             trailer + TRAILER_CT, TRAILER_CT_SIZE, trailer + TRAILER_TAG,
                             plain_trailer);
        if (r < 0)
                return r == -EBADMSG ? -EBADMSG : r;

        header_off = get_be64(plain_trailer);
        header_len = get_be32(plain_trailer + 8);
        area_end = size - PACK_TRAILER_SIZE;
        if (get_be32(plain_trailer + 12) != 0 || header_len < HEADER_OVERHEAD ||
            (header_len - HEADER_OVERHEAD) % PACK_ENTRY_SIZE != 0 || header_off > area_end ||
            header_len > area_end - header_off)
                return -EBADMSG;

        /* Bounded by size, itself bounded by PACK_MAX_SIZE. */
        header = malloc(header_len);
        if (!header)
                return -ENOMEM;
        r = fn(userdata, header_off, header, header_len);
        if (r < 0)
                return r;
        r = crypto_aead_open(trailer[TRAILER_CIPHER], pack_key, header, pack_header_aad,
                             sizeof(pack_header_aad) - 1, header + CRYPTO_NONCE_SIZE,
                             header_len - HEADER_OVERHEAD + 4, header + header_len - CRYPTO_TAG_SIZE,
                             header + CRYPTO_NONCE_SIZE);
        if (r < 0)
                return r == -EBADMSG ? -EBADMSG : r;

        p = header + CRYPTO_NONCE_SIZE;
        count = get_be32(p);
        p += 4;
        if ((uint64_t) count != (header_len - HEADER_OVERHEAD) / PACK_ENTRY_SIZE)
                return -EBADMSG;

        entries = calloc(count ? count : 1, sizeof(*entries));
        if (!entries)
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++, p += PACK_ENTRY_SIZE) {
                struct pack_entry *e = &entries[i];

                memcpy(e->id.bytes, p, OID_SIZE);
                e->type = p[32];
                e->length = get_be32(p + 36);
                e->offset = get_be64(p + 40);
                if (!oid_type_valid(e->type) || p[33] || p[34] || p[35] ||
                    e->length < RECORD_MIN_SIZE || e->offset < prev_end ||
                    e->offset > header_off || e->length > header_off - e->offset)
                        return -EBADMSG;
                prev_end = e->offset + e->length;
        }

        *ret_entries = TAKE_PTR(entries);
        *ret_n = count;
        return 0;
}

static int pack_read_fd(void *userdata, uint64_t offset, void *buf, size_t len)
{
        int fd = *(int *) userdata;
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t k = pread(fd, p, len, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EBADMSG; /* shorter than its stated size: truncated */
                p += k;
                len -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

int pack_read_header_fd(int fd, uint64_t size, const uint8_t pack_key[CRYPTO_KEY_SIZE],
                        struct pack_entry **ret_entries, size_t *ret_n)
{
        if (fd < 0)
                return -EBADF;
        return pack_read_header(pack_read_fd, &fd, size, pack_key, ret_entries, ret_n);
}

struct pack_memory {
        const uint8_t *bytes;
        size_t size;
};

static int pack_read_memory(void *userdata, uint64_t offset, void *buf, size_t len)
{
        const struct pack_memory *m = userdata;

        if (offset > m->size || len > m->size - offset)
                return -EBADMSG;
        memcpy(buf, m->bytes + offset, len);
        return 0;
}

int pack_read_header_buffer(const void *buf, size_t size, const uint8_t pack_key[CRYPTO_KEY_SIZE],
                            struct pack_entry **ret_entries, size_t *ret_n)
{
        struct pack_memory m = { .bytes = buf, .size = size };

        if (!buf && size > 0)
                return -EINVAL;
        return pack_read_header(pack_read_memory, &m, size, pack_key, ret_entries, ret_n);
}

int pack_verify_buffer(const void *bytes, size_t size, const struct oid *expected)
{
        uint8_t digest[CRYPTO_SHA256_SIZE];
        int r;

        if ((!bytes && size > 0) || !expected)
                return -EINVAL;
        r = crypto_sha256(bytes, size, digest);
        if (r < 0)
                return r;
        return memcmp(digest, expected->bytes, OID_SIZE) == 0 ? 0 : -EBADMSG;
}

int pack_id_fd(int fd, struct oid *ret_id, uint64_t *ret_size)
{
        struct crypto_sha256 *s = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t offset = 0;
        struct oid id;
        int r;

        if (fd < 0 || !ret_id)
                return -EINVAL;
        buf = malloc(PAD_CHUNK * 4);
        if (!buf)
                return -ENOMEM;
        r = crypto_sha256_new(&s);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t k = pread(fd, buf, PAD_CHUNK * 4, (off_t) offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        crypto_sha256_free(s);
                        return r;
                }
                if (k == 0)
                        break;
                r = crypto_sha256_update(s, buf, (size_t) k);
                if (r < 0) {
                        crypto_sha256_free(s);
                        return r;
                }
                offset += (uint64_t) k;
        }
        r = crypto_sha256_final(s, id.bytes);
        if (r < 0)
                return r;
        *ret_id = id;
        if (ret_size)
                *ret_size = offset;
        return 0;
}

int pack_verify_fd(int fd, const struct oid *expected)
{
        struct oid id;
        int r;

        if (!expected)
                return -EINVAL;
        r = pack_id_fd(fd, &id, NULL);
        if (r < 0)
                return r;
        return oid_cmp(&id, expected) == 0 ? 0 : -EBADMSG;
}
