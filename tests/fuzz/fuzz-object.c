/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the object codecs (common/object*.c): the first byte
 * picks tree, list or snapshot, the rest is the CBOR to decode. What decodes
 * must encode, decode again and encode to the same bytes (the encoding of a
 * decoded object is canonical). */
#include <stdlib.h>
#include <string.h>

#include "object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode obj, decode that, encode again: both encodings must be equal. */
#define ROUND_TRIP(kind, obj)                                                               \
        do {                                                                                \
                struct object_##kind *again = NULL;                                         \
                uint8_t *first = NULL, *second = NULL;                                      \
                size_t first_len, second_len;                                               \
                                                                                            \
                if (object_##kind##_encode(obj, &first, &first_len) != 0 ||                 \
                    object_##kind##_decode(first, first_len, &again) != 0 ||                \
                    object_##kind##_encode(again, &second, &second_len) != 0 ||             \
                    first_len != second_len || memcmp(first, second, first_len) != 0)       \
                        abort();                                                            \
                free(first);                                                                \
                free(second);                                                               \
                object_##kind##_free(again);                                                \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct object_tree *t = NULL;
        struct object_list *l = NULL;
        struct object_snapshot *s = NULL;

        if (size < 1)
                return 0;
        switch (data[0] % 3) {
        case 0:
                if (object_tree_decode(data + 1, size - 1, &t) == 0) {
                        ROUND_TRIP(tree, t);
                        object_tree_free(t);
                }
                break;
        case 1:
                if (object_list_decode(data + 1, size - 1, &l) == 0) {
                        ROUND_TRIP(list, l);
                        object_list_free(l);
                }
                break;
        default:
                if (object_snapshot_decode(data + 1, size - 1, &s) == 0) {
                        ROUND_TRIP(snapshot, s);
                        object_snapshot_free(s);
                }
                break;
        }
        return 0;
}
