/* SPDX-License-Identifier: MIT */
/* Object ids (keyed HMAC over type and plaintext) and their text form. */
#include "oid.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"

int oid_compute(const uint8_t id_key[32], enum object_type type, const void *buf, size_t len,
                struct oid *ret)
{
        uint8_t t = (uint8_t)type;
        struct crypto_piece pieces[] = {{&t, 1}, {buf, len}};

        if (!oid_type_valid(type))
                return -EINVAL;
        return crypto_hmac_sha256(id_key, 32, pieces, 2, ret->bytes);
}

int oid_type_valid(int type) { return type >= OBJECT_DATA && type <= OBJECT_TOMBSTONE; }

const char *oid_type_name(int type)
{
        static const char *const names[] = {
                [OBJECT_DATA] = "data",
                [OBJECT_LIST] = "list",
                [OBJECT_TREE] = "tree",
                [OBJECT_SNAPSHOT] = "snapshot",
                [OBJECT_TOMBSTONE] = "tombstone",
        };
        return oid_type_valid(type) ? names[type] : NULL;
}

void oid_to_hex(const struct oid *id, char ret[OID_HEX_SIZE])
{
        hex_encode(id->bytes, OID_SIZE, ret);
}

int oid_prefix_from_hex(const char *hex, struct oid *ret)
{
        struct oid id = { { 0 } };
        size_t len = strlen(hex);

        if (len == 0 || len > 2 * OID_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int v = hex_digit(hex[i]);

                if (v < 0)
                        return -EINVAL;
                id.bytes[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
        }
        *ret = id;
        return (int)len;
}

int oid_from_hex(const char *hex, struct oid *ret)
{
        struct oid id;

        if (oid_prefix_from_hex(hex, &id) != 2 * OID_SIZE)
                return -EINVAL;
        *ret = id;
        return 0;
}

int oid_cmp(const struct oid *a, const struct oid *b) { return memcmp(a->bytes, b->bytes, OID_SIZE); }

int oid_is_null(const struct oid *id)
{
        for (size_t i = 0; i < OID_SIZE; i++)
                if (id->bytes[i])
                        return 0;
        return 1;
}
