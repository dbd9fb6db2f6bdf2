/* SPDX-License-Identifier: MIT */
/* Packs: write/seal/read round trips (memory and fd), detection of
 * truncation, flipped bytes, wrong ids and wrong keys, size classes and
 * their overhead. */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "pack.h"
#include "record.h"

static uint8_t enc_key[32], id_key[32], pack_key[32];

static void setup(void)
{
        cr_assert_eq(crypto_random(enc_key, sizeof(enc_key)), 0);
        cr_assert_eq(crypto_random(id_key, sizeof(id_key)), 0);
        cr_assert_eq(crypto_random(pack_key, sizeof(pack_key)), 0);
}

TestSuite(pack, .init = setup);

/* Object i: i*37 % 5000 + 1 bytes of a pattern depending on i. */
static size_t object_make(size_t i, uint8_t *buf)
{
        size_t len = i * 37 % 5000 + 1;

        for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t) (i * 131 + k * 7);
        return len;
}

/* Seal n objects into a pack (in memory when fd < 0); ids into ids[]. */
static uint8_t *pack_make(enum crypto_cipher cipher, size_t n, size_t extra, int fd, struct oid *ids,
                          struct oid *ret_pack_id, uint64_t *ret_size)
{
        struct pack_writer *w;
        uint8_t payload[5000 + 64], rec[5000 + 64 + RECORD_OVERHEAD], *bytes = NULL;

        cr_assert_eq(pack_writer_new(cipher, pack_key, fd, &w), 0);
        for (size_t i = 0; i < n; i++) {
                size_t len = object_make(i, payload) + (i == 0 ? extra : 0), rlen;

                cr_assert_eq(oid_compute(id_key, OBJECT_DATA, payload, len, &ids[i]), 0);
                cr_assert_eq(record_seal(cipher, enc_key, &ids[i], OBJECT_DATA, payload, len, 0, rec,
                                         sizeof(rec), &rlen),
                             0);
                cr_assert_eq(pack_writer_add(w, &ids[i], OBJECT_DATA, rec, rlen), 0);
        }
        cr_assert_eq(pack_writer_count(w), n);
        cr_assert_eq(pack_writer_seal(w, ret_pack_id, ret_size, fd < 0 ? &bytes : NULL), 0);
        cr_assert_eq(pack_writer_add(w, &ids[0], OBJECT_DATA, rec, 64), -EINVAL);
        pack_writer_free(w);
        return bytes;
}

/* Read every record of the pack through its header and check its content. */
static void pack_check(const uint8_t *bytes, uint64_t size, const struct oid *ids, size_t n)
{
        _cleanup_free_ struct pack_entry *entries = NULL;
        uint8_t payload[5000 + 64], want[5000 + 64];
        size_t count = 0;

        cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &count), 0);
        cr_assert_eq(count, n);
        for (size_t i = 0; i < n; i++) {
                enum object_type type;
                size_t got, wlen = object_make(i, want);

                cr_assert(oid_cmp(&entries[i].id, &ids[i]) == 0);
                cr_assert_eq(entries[i].type, OBJECT_DATA);
                cr_assert_eq(record_open_verify(enc_key, id_key, &entries[i].id,
                                                bytes + entries[i].offset, entries[i].length, &type,
                                                payload, sizeof(payload), &got),
                             0);
                cr_assert_eq(got, wlen);
                cr_assert(memcmp(payload, want, got) == 0);
        }
}

Test(pack, round_trip_memory_both_ciphers)
{
        enum crypto_cipher ciphers[] = { CRYPTO_CIPHER_AES256_GCM, CRYPTO_CIPHER_CHACHA20_POLY1305 };

        for (size_t c = 0; c < ELEMENTSOF(ciphers); c++) {
                struct oid ids[1000], pack_id;
                uint64_t size;
                _cleanup_free_ uint8_t *bytes = pack_make(ciphers[c], 1000, 0, -1, ids, &pack_id, &size);

                cr_assert_not_null(bytes);
                cr_assert_eq(pack_padded_size(size), size); /* a size class */
                cr_assert_eq(pack_verify_buffer(bytes, size, &pack_id), 0);
                pack_check(bytes, size, ids, 1000);
        }
}

Test(pack, empty_pack)
{
        struct oid pack_id;
        uint64_t size;
        _cleanup_free_ uint8_t *bytes = pack_make(CRYPTO_CIPHER_AES256_GCM, 0, 0, -1, NULL, &pack_id, &size);

        cr_assert_eq(size, PACK_MIN_SIZE);
        pack_check(bytes, size, NULL, 0);
}

Test(pack, round_trip_fd_matches_id)
{
        struct oid ids[300], pack_id, computed;
        uint64_t size, file_size;
        _cleanup_free_ struct pack_entry *entries = NULL;
        _cleanup_close_ int fd = memfd_create("pack", MFD_CLOEXEC);
        size_t n;

        cr_assert_geq(fd, 0);
        cr_assert_null(pack_make(CRYPTO_CIPHER_AES256_GCM, 300, 0, fd, ids, &pack_id, &size));
        cr_assert_eq(pack_id_fd(fd, &computed, &file_size), 0);
        cr_assert_eq(file_size, size);
        cr_assert(oid_cmp(&computed, &pack_id) == 0);
        cr_assert_eq(pack_verify_fd(fd, &pack_id), 0);
        cr_assert_eq(pack_read_header_fd(fd, size, pack_key, &entries, &n), 0);
        cr_assert_eq(n, 300);
        cr_assert(oid_cmp(&entries[299].id, &ids[299]) == 0);

        /* Verify rejects a different id, and a file with a flipped byte. */
        computed.bytes[0] ^= 1;
        cr_assert_eq(pack_verify_fd(fd, &computed), -EBADMSG);
        uint8_t byte;
        cr_assert_eq(pread(fd, &byte, 1, 100), 1);
        byte ^= 0xff; /* a real change whatever the byte was (writing 0xff was a no-op 1 time in 256) */
        cr_assert_eq(pwrite(fd, &byte, 1, 100), 1);
        cr_assert_eq(pack_verify_fd(fd, &pack_id), -EBADMSG);
}

Test(pack, hostile_packs_rejected)
{
        struct oid ids[50], pack_id, other;
        uint64_t size;
        _cleanup_free_ uint8_t *bytes = pack_make(CRYPTO_CIPHER_CHACHA20_POLY1305, 50, 0, -1, ids, &pack_id, &size);
        struct pack_entry *entries = NULL;
        uint8_t wrong_key[32];
        size_t n = 12345;

        /* Truncation anywhere, and a wrong id. */
        for (uint64_t cut = 0; cut < size; cut += (cut < 200 ? 1 : 97)) {
                cr_assert_eq(pack_read_header_buffer(bytes, cut, pack_key, &entries, &n), -EBADMSG,
                             "truncated to %llu accepted", (unsigned long long) cut);
                cr_assert_eq(pack_verify_buffer(bytes, cut, &pack_id), -EBADMSG);
        }
        other = pack_id;
        other.bytes[5] ^= 0x80;
        cr_assert_eq(pack_verify_buffer(bytes, size, &other), -EBADMSG);

        /* A flipped byte anywhere changes the id; in the header or trailer it
         * also fails to read. */
        for (uint64_t i = 0; i < size; i += 13) {
                bytes[i] ^= 0x20;
                cr_assert_eq(pack_verify_buffer(bytes, size, &pack_id), -EBADMSG);
                bytes[i] ^= 0x20;
        }
        for (uint64_t i = size - PACK_TRAILER_SIZE; i < size; i++) {
                bytes[i] ^= 0x01;
                cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &n), -EBADMSG);
                bytes[i] ^= 0x01;
        }
        /* Wrong key. */
        cr_assert_eq(crypto_random(wrong_key, sizeof(wrong_key)), 0);
        cr_assert_eq(pack_read_header_buffer(bytes, size, wrong_key, &entries, &n), -EBADMSG);
        /* A pack claiming an absurd size, and garbage of every small size. */
        cr_assert_eq(pack_read_header_buffer(bytes, PACK_MAX_SIZE + 1, pack_key, &entries, &n), -EBADMSG);
        cr_assert_null(entries);
        cr_assert_eq(n, 12345);
        cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &n), 0);
        free(entries);
}

Test(pack, header_flip_detected)
{
        struct oid ids[20], pack_id;
        uint64_t size;
        _cleanup_free_ uint8_t *bytes = pack_make(CRYPTO_CIPHER_AES256_GCM, 20, 0, -1, ids, &pack_id, &size);
        _cleanup_free_ struct pack_entry *entries = NULL;
        uint64_t header_start;
        size_t n;

        cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &n), 0);
        header_start = entries[n - 1].offset + entries[n - 1].length;
        for (uint64_t i = header_start; i < header_start + pack_header_size(20); i++) {
                struct pack_entry *e = NULL;

                bytes[i] ^= 0x40;
                cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &e, &n), -EBADMSG);
                bytes[i] ^= 0x40;
        }
}

Test(pack, nearly_equal_packs_share_a_size_class)
{
        struct oid ids[400], id_a, id_b;
        uint64_t size_a, size_b;
        _cleanup_free_ uint8_t *a = pack_make(CRYPTO_CIPHER_AES256_GCM, 400, 0, -1, ids, &id_a, &size_a);
        _cleanup_free_ uint8_t *b = pack_make(CRYPTO_CIPHER_AES256_GCM, 400, 5, -1, ids, &id_b, &size_b);

        cr_assert_eq(size_a, size_b);
        cr_assert(oid_cmp(&id_a, &id_b) != 0);
}

Test(pack, padding_overhead_bounded)
{
        uint64_t prev = 0;

        for (uint64_t len = 1024; len <= UINT64_C(64) << 20; len += len / 97 + 1) {
                uint64_t padded = pack_padded_size(len);

                cr_assert_geq(padded, len);
                cr_assert_leq((padded - len) * 100, len * 12, "%llu pads to %llu",
                              (unsigned long long) len, (unsigned long long) padded);
                cr_assert_geq(padded, prev);
                prev = padded;
        }
        /* Few classes: a size class covers many content sizes. */
        cr_assert_eq(pack_padded_size(16u << 20), pack_padded_size((16u << 20) - 1000));
        cr_assert_eq(pack_padded_size(100), PACK_MIN_SIZE);
}

Test(pack, writer_limits)
{
        struct pack_writer *w;
        uint8_t rec[RECORD_MIN_SIZE] = {};
        struct oid id = {};

        cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, -1, &w), 0);
        cr_assert_eq(pack_writer_add(w, &id, OBJECT_DATA, rec, RECORD_MIN_SIZE - 1), -EINVAL);
        cr_assert_eq(pack_writer_add(w, &id, 0, rec, sizeof(rec)), -EINVAL);
        cr_assert_not(pack_writer_full(w));
        cr_assert_not(pack_writer_would_overflow(w, PACK_TARGET_SIZE + 1));
        cr_assert_eq(pack_writer_add(w, &id, OBJECT_DATA, rec, sizeof(rec)), 0);
        cr_assert(pack_writer_would_overflow(w, PACK_TARGET_SIZE));
        cr_assert_eq(pack_writer_size(w), sizeof(rec));
        pack_writer_free(w);
}

Test(pack, full_pack_at_target)
{
        static uint8_t payload[1 << 20], rec[(1 << 20) + RECORD_OVERHEAD];
        _cleanup_free_ uint8_t *bytes = NULL;
        _cleanup_free_ struct pack_entry *entries = NULL;
        struct pack_writer *w;
        struct oid pack_id;
        uint64_t size;
        size_t n = 0;

        cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, -1, &w), 0);
        while (!pack_writer_full(w)) {
                struct oid id;
                size_t rlen;

                cr_assert_eq(crypto_random(payload, 64), 0);
                cr_assert_eq(oid_compute(id_key, OBJECT_DATA, payload, sizeof(payload), &id), 0);
                cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, payload,
                                         sizeof(payload), 0, rec, sizeof(rec), &rlen),
                             0);
                cr_assert_eq(pack_writer_add(w, &id, OBJECT_DATA, rec, rlen), 0);
                n++;
        }
        cr_assert_eq(n, 16);
        cr_assert_eq(pack_writer_seal(w, &pack_id, &size, &bytes), 0);
        pack_writer_free(w);
        cr_assert_leq(size, (16u << 20) + (16u << 20) / 8);
        cr_assert_eq(pack_verify_buffer(bytes, size, &pack_id), 0);
        cr_assert_eq(pack_read_header_buffer(bytes, size, pack_key, &entries, &n), 0);
        cr_assert_eq(n, 16);
}

/* Filled as the packer fills it (sealed before a record would overflow),
 * a pack pads to the target at most: the header and trailer count too, so
 * it never spills into the next size class (16.5 MiB). Small records make
 * the header large (tens of KiB) and leave little room at the end: just
 * what used to spill. */
Test(pack, sealed_before_overflow_stays_in_the_target_class)
{
        static uint8_t payload[16 << 10], rec[(16 << 10) + RECORD_OVERHEAD];
        cr_assert_eq(pack_padded_size(PACK_TARGET_SIZE), PACK_TARGET_SIZE);
        for (int round = 0; round < 4; round++) {
                struct pack_writer *w;
                struct oid pack_id;
                uint64_t size;
                size_t n = 0;

                cr_assert_eq(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, pack_key, -1, &w), 0);
                for (;;) {
                        struct oid id;
                        size_t rlen, len;
                        uint32_t r;

                        cr_assert_eq(crypto_random(&r, sizeof(r)), 0);
                        len = (2u << 10) + r % (14u << 10);
                        cr_assert_eq(crypto_random(payload, len), 0);
                        cr_assert_eq(oid_compute(id_key, OBJECT_DATA, payload, len, &id), 0);
                        cr_assert_eq(record_seal(CRYPTO_CIPHER_AES256_GCM, enc_key, &id, OBJECT_DATA, payload,
                                                 len, 0, rec, sizeof(rec), &rlen),
                                     0);
                        if (pack_writer_would_overflow(w, rlen))
                                break;
                        cr_assert_eq(pack_writer_add(w, &id, OBJECT_DATA, rec, rlen), 0);
                        n++;
                }
                cr_assert_eq(pack_writer_seal(w, &pack_id, &size, NULL), 0);
                pack_writer_free(w);
                cr_assert_leq(size, PACK_TARGET_SIZE, "round %d: %zu records sealed to %llu bytes", round, n,
                              (unsigned long long)size);
                cr_assert_geq(size, PACK_TARGET_SIZE - (1u << 20));
        }
}

/* Forgeries made with the right key, so the AEAD passes and only the
 * reader's own checks stand between them and the caller. */
static void be_put(uint8_t *p, uint64_t v, int bytes)
{
        for (int i = bytes - 1; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t) v;
}

static uint64_t be_get(const uint8_t *p, int bytes)
{
        uint64_t v = 0;

        for (int i = 0; i < bytes; i++)
                v = v << 8 | p[i];
        return v;
}

static void trailer_forge(uint8_t *bytes, uint64_t size, uint64_t header_off, uint64_t header_len,
                          uint32_t reserved)
{
        uint8_t *t = bytes + size - PACK_TRAILER_SIZE, pt[16];

        be_put(pt, header_off, 8);
        be_put(pt + 8, header_len, 4);
        be_put(pt + 12, reserved, 4);
        cr_assert_eq(crypto_aead_seal(t[44], pack_key, t, t + 44, 12, pt, sizeof(pt), t + 12, t + 28), 0);
}

static void trailer_read(const uint8_t *bytes, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
        const uint8_t *t = bytes + size - PACK_TRAILER_SIZE;
        uint8_t pt[16];

        cr_assert_eq(crypto_aead_open(t[44], pack_key, t, t + 44, 12, t + 12, 16, t + 28, pt), 0);
        *ret_off = be_get(pt, 8);
        *ret_len = be_get(pt + 8, 4);
}

/* Decrypt the header, let edit change its plaintext, encrypt it again. */
static void header_forge(uint8_t *bytes, uint64_t size, void (*edit)(uint8_t *plain, size_t len))
{
        static const char aad[] = "chute pack header v1";
        uint64_t off, len;
        uint8_t *h, *plain, cipher = bytes[size - PACK_TRAILER_SIZE + 44];

        trailer_read(bytes, size, &off, &len);
        h = bytes + off;
        plain = malloc(len - 28);
        cr_assert_eq(crypto_aead_open(cipher, pack_key, h, aad, sizeof(aad) - 1, h + 12, len - 28,
                                      h + len - 16, plain),
                     0);
        edit(plain, len - 28);
        cr_assert_eq(crypto_aead_seal(cipher, pack_key, h, aad, sizeof(aad) - 1, plain, len - 28,
                                      h + 12, h + len - 16),
                     0);
        free(plain);
}

static void edit_count_huge(uint8_t *p, size_t len)
{
        (void) len;
        be_put(p, 0xffffffffu, 4);
}

static void edit_overlap(uint8_t *p, size_t len)
{
        (void) len;
        /* entry 1 starts one byte before entry 0 ends */
        be_put(p + 4 + 48 + 40, be_get(p + 4 + 40, 8) + be_get(p + 4 + 36, 4) - 1, 8);
}

static void edit_offset_outside(uint8_t *p, size_t len)
{
        be_put(p + len - 8, UINT64_C(1) << 40, 8); /* last entry's offset */
}

static void edit_length_outside(uint8_t *p, size_t len)
{
        be_put(p + len - 12, 0xffffffffu, 4); /* last entry's length */
}

static void edit_length_tiny(uint8_t *p, size_t len)
{
        (void) len;
        be_put(p + 4 + 36, RECORD_MIN_SIZE - 1, 4);
}

static void edit_type(uint8_t *p, size_t len)
{
        (void) len;
        p[4 + 32] = 0;
}

static void edit_reserved(uint8_t *p, size_t len)
{
        (void) len;
        p[4 + 34] = 1;
}

static void edit_nothing(uint8_t *p, size_t len)
{
        (void) p;
        (void) len;
}

Test(pack, forged_trailer_and_header_rejected)
{
        void (*edits[])(uint8_t *, size_t) = { edit_count_huge,     edit_overlap,     edit_offset_outside,
                                               edit_length_outside, edit_length_tiny, edit_type,
                                               edit_reserved };
        struct oid ids[10], pack_id;
        uint64_t size, off, len;
        _cleanup_free_ uint8_t *bytes = pack_make(CRYPTO_CIPHER_AES256_GCM, 10, 0, -1, ids, &pack_id, &size);
        _cleanup_free_ uint8_t *copy = malloc(size);
        struct pack_entry *entries = NULL;
        size_t n;

        trailer_read(bytes, size, &off, &len);
        cr_assert_eq(len, pack_header_size(10));

        /* The forging helpers themselves keep a pack readable. */
        memcpy(copy, bytes, size);
        trailer_forge(copy, size, off, len, 0);
        header_forge(copy, size, edit_nothing);
        cr_assert_eq(pack_read_header_buffer(copy, size, pack_key, &entries, &n), 0);
        cr_assert_eq(n, 10);
        free(entries);
        entries = NULL;

        uint64_t bad[][3] = {
                { size, len, 0 },                          /* header past the end */
                { size - PACK_TRAILER_SIZE - len + 1, len, 0 }, /* header overlapping the trailer */
                { UINT64_MAX - 10, len, 0 },               /* offset overflow */
                { off, len - 1, 0 },                       /* not 32 + 48n */
                { off, 0, 0 },                             /* shorter than any header */
                { off, 0xffffffffu, 0 },                   /* huge */
                { off, len, 1 },                           /* reserved bits */
                { off + 1, len, 0 },                       /* wrong place: tag fails */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                memcpy(copy, bytes, size);
                trailer_forge(copy, size, bad[i][0], bad[i][1], (uint32_t) bad[i][2]);
                cr_assert_eq(pack_read_header_buffer(copy, size, pack_key, &entries, &n), -EBADMSG,
                             "forged trailer %zu accepted", i);
                cr_assert_null(entries);
        }
        for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
                memcpy(copy, bytes, size);
                header_forge(copy, size, edits[i]);
                cr_assert_eq(pack_read_header_buffer(copy, size, pack_key, &entries, &n), -EBADMSG,
                             "forged header %zu accepted", i);
                cr_assert_null(entries);
        }
}
