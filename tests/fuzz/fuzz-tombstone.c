/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the tombstone codec (common/tombstone.c): the input is
 * the CBOR to decode. What decodes must encode, decode again and encode to
 * the same bytes (the encoding of a decoded tombstone is canonical). */
#include <stdlib.h>
#include <string.h>

#include "tombstone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tombstone *t = NULL, *again = NULL;
        uint8_t *first = NULL, *second = NULL;
        size_t first_len, second_len;

        if (tombstone_decode(data, size, &t) != 0)
                return 0;
        if (t->n_entries == 0 || tombstone_fit(t->hostname, t->entries, t->n_entries) > t->n_entries)
                abort();
        if (tombstone_encode(t, &first, &first_len) != 0 || tombstone_decode(first, first_len, &again) != 0 ||
            tombstone_encode(again, &second, &second_len) != 0 || first_len != second_len ||
            memcmp(first, second, first_len) != 0 || again->n_entries != t->n_entries)
                abort();
        free(first);
        free(second);
        tombstone_free(again);
        tombstone_free(t);
        return 0;
}
