/* SPDX-License-Identifier: MIT */
/* Hex encoding (hex.h). */
#include "hex.h"

#include <errno.h>

void hex_encode(const void *buf, size_t len, char *ret)
{
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = buf;

        for (size_t i = 0; i < len; i++) {
                ret[2 * i] = digits[p[i] >> 4];
                ret[2 * i + 1] = digits[p[i] & 15];
        }
        ret[2 * len] = '\0';
}

int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode(const char *hex, size_t len, uint8_t *ret)
{
        if (len % 2)
                return -EINVAL;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}
