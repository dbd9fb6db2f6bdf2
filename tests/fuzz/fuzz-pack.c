/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the pack reader (common/pack.c): trailer and header
 * checks of pack_read_header_buffer under the test pack key. Random bytes
 * never get past an AEAD tag, so structured inputs (harness.h) are sealed
 * first; an accepted header must list sorted, in-bounds, non-overlapping
 * entries that re-encode to exactly the plaintext that was sealed. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What pack_read_header promises about the entries it returns. */
static void check_entries(const struct pack_entry *entries, size_t n, size_t size)
{
        uint64_t prev_end = 0;

        for (size_t i = 0; i < n; i++) {
                const struct pack_entry *e = &entries[i];

                if (!oid_type_valid(e->type) || e->length < RECORD_MIN_SIZE || e->offset < prev_end ||
                    e->offset + e->length > size - PACK_TRAILER_SIZE)
                        abort();
                prev_end = e->offset + e->length;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct keys *k = harness_keys();
        struct pack_entry *entries = NULL;
        uint8_t *pack = NULL, *again = NULL;
        size_t pack_len, n, again_len;

        if (size < 1)
                return 0;
        if (!(data[0] & 1)) {
                if (pack_read_header_buffer(data + 1, size - 1, k->pack_key, &entries, &n) == 0) {
                        check_entries(entries, n, size - 1);
                        free(entries);
                }
                return 0;
        }
        if (harness_pack_build(data, size, &pack, &pack_len) < 0)
                return 0;
        if (pack_read_header_buffer(pack, pack_len, k->pack_key, &entries, &n) == 0) {
                check_entries(entries, n, pack_len);
                /* The decoder is strict: accepted bytes are the only encoding of the entries. */
                if (harness_pack_header_encode(entries, n, &again, &again_len) < 0)
                        abort();
                if (again_len != size - HARNESS_PACK_FIELDS ||
                    memcmp(again, data + HARNESS_PACK_FIELDS, again_len) != 0)
                        abort();
                free(again);
                free(entries);
        }
        free(pack);
        return 0;
}
