/* SPDX-License-Identifier: MIT */
/* libFuzzer target for record_open (common/record.c) under the test K_enc:
 * raw records (mask, version and cipher checks before the tag) and
 * fuzzer-chosen plaintexts sealed by the harness (type, flags, zstd
 * payloads). What opens must fit the buffer, and must seal and open again
 * to the same type and bytes. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP (256 * 1024)

/* Seal what was opened with the real sealer and open it again. */
static void round_trip(enum crypto_cipher cipher, enum object_type type, const uint8_t *payload,
                       size_t len)
{
        const struct keys *k = harness_keys();
        uint8_t *rec = malloc(record_bound(len)), *back = malloc(len ? len : 1);
        enum object_type type2;
        size_t rec_len, got;

        if (!rec || !back)
                abort();
        if (record_seal(cipher, k->enc_key, harness_record_id(), type, payload, len,
                        3, rec, record_bound(len), &rec_len) < 0)
                abort();
        if (record_open(k->enc_key, harness_record_id(), rec, rec_len, &type2, back, len, &got) < 0 ||
            type2 != type || got != len || (len && memcmp(back, payload, len) != 0))
                abort();
        free(back);
        free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static uint8_t out[OUT_CAP];
        const struct keys *k = harness_keys();
        enum crypto_cipher cipher;
        enum object_type type;
        uint8_t *rec = NULL;
        const uint8_t *r;
        size_t len, got;
        int ret;

        if (size < 1)
                return 0;
        cipher = harness_cipher(data[0]);
        if (data[0] & 1) {
                if (harness_record_seal(cipher, data + 1, size - 1, &rec, &len) < 0)
                        return 0;
                r = rec;
        } else {
                r = data + 1;
                len = size - 1;
        }
        ret = record_open(k->enc_key, harness_record_id(), r, len, &type, out, sizeof(out), &got);
        if (ret == 0) {
                if (got > sizeof(out) || !oid_type_valid(type))
                        abort();
                round_trip(cipher, type, out, got);
                /* The id is not HMAC(K_id, ...) of this payload. */
                if (record_open_verify(k->enc_key, k->id_key, harness_record_id(), r, len, &type, out,
                                       sizeof(out), &got) == 0)
                        abort();
        }
        free(rec);
        return 0;
}
