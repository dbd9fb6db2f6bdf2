/* SPDX-License-Identifier: MIT */
/* main() for fuzz targets built without libFuzzer: feed each file named on
 * the command line to LLVMFuzzerTestOneInput once, as libFuzzer does with
 * file arguments. A crash or abort() in the target fails the run; this is
 * how `make check` replays the committed corpora (fuzz-corpus.sh). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the whole file into a malloc'ed buffer of exactly its size. */
static int replay_read(const char *path, uint8_t **ret, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL, *bigger;
        size_t len = 0, cap = 0, k;

        if (!f)
                return -errno;
        for (;;) {
                if (len == cap) {
                        cap = cap ? 2 * cap : 4096;
                        bigger = realloc(buf, cap);
                        if (!bigger) {
                                free(buf);
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf = bigger;
                }
                k = fread(buf + len, 1, cap - len, f);
                len += k;
                if (k == 0)
                        break;
        }
        if (ferror(f)) {
                free(buf);
                fclose(f);
                return -EIO;
        }
        fclose(f);
        /* An exact-size copy, so ASan sees a read one past the end. */
        *ret = malloc(len ? len : 1);
        if (!*ret) {
                free(buf);
                return -ENOMEM;
        }
        memcpy(*ret, buf, len);
        free(buf);
        *ret_len = len;
        return 0;
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                uint8_t *data = NULL;
                size_t len = 0;
                int r = replay_read(argv[i], &data, &len);

                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return 2;
                }
                LLVMFuzzerTestOneInput(data, len);
                free(data);
        }
        printf("replayed %d input(s)\n", argc - 1);
        return 0;
}
