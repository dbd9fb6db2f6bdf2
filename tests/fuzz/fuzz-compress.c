/* SPDX-License-Identifier: MIT */
/* libFuzzer target for common/compress.c: decompress() of hostile frames into
 * a buffer of fuzzer-chosen size must stay inside it, and anything
 * compress_maybe() produces must decompress back to the input. Input: the
 * output buffer size (u16, big-endian), then the frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t cap, got = 0, clen = 0;
        uint8_t *out, *packed;
        int r;

        if (size < 2)
                return 0;
        cap = (size_t)data[0] << 8 | data[1]; /* at most 64 KiB */
        data += 2;
        size -= 2;

        out = malloc(cap ? cap : 1); /* exact size: ASan sees any overflow */
        if (!out)
                return 0;
        r = decompress(data, size, out, cap, &got);
        if (r == 0 && got > cap)
                abort();

        packed = malloc(compress_bound(size) + 1);
        if (packed && compress_maybe(data, size, 1, packed, compress_bound(size), &clen) == 1) {
                uint8_t *back = malloc(size ? size : 1);

                if (!back || decompress(packed, clen, back, size, &got) != 0 || got != size ||
                    memcmp(back, data, size) != 0)
                        abort();
                free(back);
        }
        free(packed);
        free(out);
        return 0;
}
