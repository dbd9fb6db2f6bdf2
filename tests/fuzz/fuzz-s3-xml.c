/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the XML an S3 service sends back (daemon/store-s3-wire.c):
 * the input is one body, parsed as a ListObjectsV2 result and as an error.
 * Keys and tokens handed out never exceed STORE_S3_TEXT_MAX; a truncated
 * listing always comes with a token. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-s3-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_key(void *userdata, const char *key, uint64_t size)
{
        (void)userdata;
        (void)size;
        if (strlen(key) > STORE_S3_TEXT_MAX)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        bool truncated = false;
        char *token = NULL, code[64];

        if (store_s3_wire_parse_list((const char *)data, size, check_key, NULL, &truncated, &token, NULL) >= 0) {
                if (truncated && (!token || !*token || strlen(token) > STORE_S3_TEXT_MAX))
                        abort();
                if (!truncated && token)
                        abort();
        }
        free(token);
        for (int cut = 0; cut < 2; cut++) { /* a whole body, and the first bytes of one */
                store_s3_wire_parse_error((const char *)data, size, cut, code, sizeof(code));
                if (strlen(code) >= sizeof(code))
                        abort();
        }
        return 0;
}
