/* SPDX-License-Identifier: MIT */
/* libFuzzer target for common/object.c: every decoder on every input; what
 * decodes must re-encode. Build by hand:
 *   clang -g -fsanitize=fuzzer,address,undefined -Icommon tests/fuzz/fuzz-object.c \
 *         common/object.c common/cbor-check.c common/oid.c common/crypto.c \
 *         -lcbor -lcrypto -o fuzz-object */
#include <stdlib.h>

#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct object_tree *t = NULL;
        struct object_list *l = NULL;
        struct object_snapshot *s = NULL;
        uint8_t *out = NULL;
        size_t len;

        if (object_tree_decode(data, size, &t) == 0) {
                if (object_tree_encode(t, &out, &len) != 0)
                        abort();
                free(out);
                object_tree_free(t);
        }
        if (object_list_decode(data, size, &l) == 0) {
                if (object_list_encode(l, &out, &len) != 0)
                        abort();
                free(out);
                object_list_free(l);
        }
        if (object_snapshot_decode(data, size, &s) == 0) {
                if (object_snapshot_encode(s, &out, &len) != 0)
                        abort();
                free(out);
                object_snapshot_free(s);
        }
        return 0;
}
