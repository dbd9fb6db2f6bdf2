/* SPDX-License-Identifier: MIT */
/* Recovery code encode/decode: base32 of master || first 4 bytes of
 * SHA-256("chute/v1/recovery" || master). The checksum catches a mistyped
 * or misread character with probability 1 - 2^-32; strict base32 decoding
 * (zero padding bits) makes sure every character is covered by it. */
#include <errno.h>
#include <string.h>

#include "base32.h"
#include "crypto.h"
#include "recovery.h"

#define RECOVERY_LABEL "chute/v1/recovery"
#define RECOVERY_SIZE (KEYS_MASTER_SIZE + RECOVERY_CHECKSUM_SIZE)

static int recovery_checksum(const uint8_t master[KEYS_MASTER_SIZE],
                             uint8_t ret[RECOVERY_CHECKSUM_SIZE])
{
        uint8_t buf[sizeof RECOVERY_LABEL - 1 + KEYS_MASTER_SIZE], digest[CRYPTO_SHA256_SIZE];
        int r;

        memcpy(buf, RECOVERY_LABEL, sizeof RECOVERY_LABEL - 1);
        memcpy(buf + sizeof RECOVERY_LABEL - 1, master, KEYS_MASTER_SIZE);
        r = crypto_sha256(buf, sizeof buf, digest);
        crypto_wipe(buf, sizeof buf);
        if (r < 0)
                return r;
        memcpy(ret, digest, RECOVERY_CHECKSUM_SIZE);
        return 0;
}

int recovery_encode(const uint8_t master[KEYS_MASTER_SIZE], char **ret_code)
{
        uint8_t buf[RECOVERY_SIZE];
        int r;

        if (!master || !ret_code)
                return -EINVAL;

        memcpy(buf, master, KEYS_MASTER_SIZE);
        r = recovery_checksum(master, buf + KEYS_MASTER_SIZE);
        if (r >= 0)
                r = base32_encode(buf, sizeof buf, RECOVERY_GROUP, ret_code);
        crypto_wipe(buf, sizeof buf);
        return r;
}

int recovery_decode(const char *code, uint8_t ret_master[KEYS_MASTER_SIZE])
{
        uint8_t buf[RECOVERY_SIZE], check[RECOVERY_CHECKSUM_SIZE];
        int r;

        if (!code || !ret_master)
                return -EINVAL;

        r = base32_decode(code, buf, sizeof buf);
        if (r < 0)
                return r;
        r = recovery_checksum(buf, check);
        if (r >= 0 && memcmp(check, buf + KEYS_MASTER_SIZE, sizeof check) != 0)
                r = -EBADMSG;
        if (r >= 0)
                memcpy(ret_master, buf, KEYS_MASTER_SIZE);
        crypto_wipe(buf, sizeof buf);
        return r < 0 ? r : 0;
}
