/* SPDX-License-Identifier: MIT */
/* libFuzzer target for common/cbor-check.c, the strict CBOR gate in front of
 * every object and control decoder: validate, load, skip and the accessors
 * must agree and never crash. Built by `make fuzz` (docs/fuzzing.md). */
#include <errno.h>
#include <stdlib.h>

#include "cbor-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct cbor_check_limits lim = cbor_check_default_limits;
        struct cbor_check_reader r;
        cbor_item_t *item = NULL;
        int v, k;

        lim.allow_tags = size > 0 && (data[0] & 1);
        lim.allow_floats = true;
        v = cbor_check_validate(data, size, &lim);
        k = cbor_check_load(data, size, &lim, &item);
        if (k != v && k != -ENOMEM)
                abort();
        cbor_check_reader_init(&r, data, size);
        if (cbor_check_skip(&r) == 0 && v == 0 && !cbor_check_reader_done(&r))
                abort();
        if (item) {
                uint64_t u;
                char *s = NULL;

                if (cbor_isa_map(item) && cbor_check_map_uint_keys_unique(item) == 0) {
                        (void)cbor_check_map_get_uint(item, 0, &u);
                        if (cbor_check_map_get_string(item, 1, 64, &s) == 0)
                                free(s);
                }
                cbor_decref(&item);
        }
        return 0;
}
