/* SPDX-License-Identifier: MIT */
/* Base32 encode/decode, RFC 4648 alphabet without padding. The one base32
 * implementation in the tree, shared by recovery.c and identity.c. Strict:
 * the unused low bits of the last character must be zero, so every
 * character of a valid string carries information and no two strings decode
 * to the same bytes (apart from case and grouping). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"

static const char base32_alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t base32_encoded_len(size_t len)
{
        return (len * 8 + 4) / 5;
}

int base32_encode(const void *buf, size_t len, size_t group, char **ret)
{
        const uint8_t *p = buf;
        size_t n_chars, n_dashes = 0, o = 0, written = 0;
        unsigned bits = 0, n_bits = 0;
        char *s;

        if (!ret || (!buf && len > 0))
                return -EINVAL;
        if (len > (SIZE_MAX - 8) / 8)
                return -EOVERFLOW;

        n_chars = base32_encoded_len(len);
        if (group > 0 && n_chars > 0)
                n_dashes = (n_chars - 1) / group;
        s = malloc(n_chars + n_dashes + 1);
        if (!s)
                return -ENOMEM;

        for (size_t i = 0; i < len || n_bits > 0;) {
                unsigned v;

                if (n_bits < 5 && i < len) {
                        bits = (bits << 8) | p[i++];
                        n_bits += 8;
                }
                if (n_bits >= 5) {
                        v = (bits >> (n_bits - 5)) & 31;
                        n_bits -= 5;
                } else {
                        /* last character: pad the remaining bits with zeros */
                        v = (bits << (5 - n_bits)) & 31;
                        n_bits = 0;
                }
                if (group > 0 && written > 0 && written % group == 0)
                        s[o++] = '-';
                s[o++] = base32_alphabet[v];
                written++;
        }
        s[o] = '\0';
        *ret = s;
        return 0;
}

static int base32_value(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a';
        if (c >= '2' && c <= '7')
                return c - '2' + 26;
        return -1;
}

static int base32_is_separator(char c)
{
        return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int base32_decode(const char *str, void *ret_buf, size_t len)
{
        uint8_t *out = ret_buf;
        size_t n_chars = 0, o = 0;
        unsigned bits = 0, n_bits = 0, n_pad;
        int last = 0;

        if (!str || (!ret_buf && len > 0))
                return -EINVAL;
        if (len > (SIZE_MAX - 8) / 8)
                return -EOVERFLOW;

        /* Validate everything before writing to ret_buf, which stays
         * untouched on failure. */
        for (const char *c = str; *c; c++) {
                if (base32_is_separator(*c))
                        continue;
                last = base32_value(*c);
                if (last < 0)
                        return -EINVAL;
                n_chars++;
        }
        if (n_chars != base32_encoded_len(len))
                return -EINVAL;
        n_pad = (unsigned) (n_chars * 5 - len * 8);
        if (n_chars > 0 && (last & ((1 << n_pad) - 1)) != 0)
                return -EINVAL;

        for (const char *c = str; *c && o < len; c++) {
                if (base32_is_separator(*c))
                        continue;
                bits = ((bits << 5) | (unsigned) base32_value(*c)) & 0xfff;
                n_bits += 5;
                if (n_bits >= 8) {
                        out[o++] = (uint8_t) (bits >> (n_bits - 8));
                        n_bits -= 8;
                }
        }
        return 0;
}
