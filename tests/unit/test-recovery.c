/* SPDX-License-Identifier: MIT */
/* Tests for common/recovery.c and common/base32.c: round trip, tolerance of
 * grouping and case, and rejection of every single-character substitution,
 * bad characters, wrong lengths and non-zero padding bits. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "crypto.h"
#include "recovery.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void fill(uint8_t m[32], unsigned seed)
{
        for (int i = 0; i < 32; i++)
                m[i] = (uint8_t) (seed * 37 + i * 101 + (seed >> 3));
}

/* The code with dashes and spaces removed. */
static char *strip(const char *code)
{
        char *s = malloc(strlen(code) + 1), *o = s;

        cr_assert_not_null(s);
        for (const char *c = code; *c; c++)
                if (*c != '-' && *c != ' ')
                        *o++ = *c;
        *o = '\0';
        return s;
}

Test(recovery, format)
{
        uint8_t m[32];
        char *code = NULL;

        fill(m, 1);
        cr_assert_eq(recovery_encode(m, &code), 0);
        /* 36 bytes = 58 characters in 15 groups: 14 of 4, one of 2. */
        cr_assert_eq(strlen(code), 58 + 14, "%s", code);
        for (size_t i = 0; code[i]; i++) {
                if (i % 5 == 4)
                        cr_assert_eq(code[i], '-', "%s", code);
                else
                        cr_assert(strchr(alphabet, code[i]), "%s", code);
        }
        free(code);
}

Test(recovery, round_trip)
{
        for (unsigned s = 0; s < 64; s++) {
                uint8_t m[32], back[32];
                char *code = NULL;

                fill(m, s);
                if (s == 0)
                        memset(m, 0, sizeof m);
                if (s == 1)
                        memset(m, 0xff, sizeof m);
                if (s >= 2 && s < 10)
                        cr_assert_eq(crypto_random(m, sizeof m), 0);
                cr_assert_eq(recovery_encode(m, &code), 0);
                cr_assert_eq(recovery_decode(code, back), 0, "%s", code);
                cr_assert(memcmp(m, back, 32) == 0);
                free(code);
        }
}

Test(recovery, grouping_and_case_tolerated)
{
        uint8_t m[32], back[32];
        char *code = NULL, *bare, *lower, *spaced;

        fill(m, 7);
        cr_assert_eq(recovery_encode(m, &code), 0);
        bare = strip(code);
        lower = strdup(code);
        for (char *c = lower; *c; c++)
                *c = (char) tolower((unsigned char) *c);
        spaced = strdup(code);
        for (char *c = spaced; *c; c++)
                if (*c == '-')
                        *c = ' ';

        const char *forms[] = { code, bare, lower, spaced };
        for (size_t i = 0; i < 4; i++) {
                memset(back, 0, sizeof back);
                cr_assert_eq(recovery_decode(forms[i], back), 0, "%s", forms[i]);
                cr_assert(memcmp(m, back, 32) == 0, "%s", forms[i]);
        }
        /* Mixed case, odd spacing, a trailing newline from a paste. */
        char mixed[200];
        snprintf(mixed, sizeof mixed, "  %.10s -- %s\n", lower, bare + 8);
        cr_assert_eq(recovery_decode(mixed, back), 0, "%s", mixed);
        cr_assert(memcmp(m, back, 32) == 0);

        free(code);
        free(bare);
        free(lower);
        free(spaced);
}

Test(recovery, every_substitution_rejected)
{
        for (unsigned s = 0; s < 8; s++) {
                uint8_t m[32], back[32];
                char *code = NULL, *bare;
                size_t len;

                fill(m, s * 1000 + 3);
                if (s >= 4)
                        cr_assert_eq(crypto_random(m, sizeof m), 0);
                cr_assert_eq(recovery_encode(m, &code), 0);
                bare = strip(code);
                len = strlen(bare);
                cr_assert_eq(len, 58);

                for (size_t pos = 0; pos < len; pos++) {
                        char orig = bare[pos];

                        for (const char *a = alphabet; *a; a++) {
                                int r;

                                if (*a == orig)
                                        continue;
                                bare[pos] = *a;
                                memset(back, 0x5a, sizeof back);
                                r = recovery_decode(bare, back);
                                /* The last character's two padding bits give
                                 * -EINVAL; everything else the checksum. */
                                cr_assert(r == -EBADMSG || (pos == len - 1 && r == -EINVAL),
                                          "substitution %c at %zu accepted (r=%d): %s", *a,
                                          pos, r, bare);
                                for (int i = 0; i < 32; i++)
                                        cr_assert_eq(back[i], 0x5a, "output touched on failure");
                        }
                        bare[pos] = orig;
                }
                cr_assert_eq(recovery_decode(bare, back), 0);
                free(bare);
                free(code);
        }
}

Test(recovery, bad_characters_and_lengths_rejected)
{
        uint8_t m[32], back[32];
        char *code = NULL, *bare;
        char buf[128];

        fill(m, 42);
        cr_assert_eq(recovery_encode(m, &code), 0);
        bare = strip(code);

        /* Characters outside the alphabet, including look-alikes. */
        const char bad[] = "0189=_.,/!@";
        for (const char *c = bad; *c; c++) {
                strcpy(buf, bare);
                buf[10] = *c;
                cr_assert_eq(recovery_decode(buf, back), -EINVAL, "%c accepted", *c);
        }
        strcpy(buf, bare);
        buf[3] = (char) 0xC3; /* non-ASCII */
        cr_assert_eq(recovery_decode(buf, back), -EINVAL);

        /* One character short, one too many, empty. */
        strcpy(buf, bare);
        buf[57] = '\0';
        cr_assert_eq(recovery_decode(buf, back), -EINVAL);
        snprintf(buf, sizeof buf, "%sA", bare);
        cr_assert_eq(recovery_decode(buf, back), -EINVAL);
        cr_assert_eq(recovery_decode("", back), -EINVAL);
        cr_assert_eq(recovery_decode("----", back), -EINVAL);

        /* Non-zero padding bits in the last character: 36 bytes use 288 of
         * the 290 bits, so the last character's value must be a multiple of 4. */
        for (const char *a = alphabet; *a; a++) {
                int v = (int) (a - alphabet);

                strcpy(buf, bare);
                buf[57] = *a;
                if (v % 4 != 0)
                        cr_assert_eq(recovery_decode(buf, back), -EINVAL, "pad %c", *a);
                else if (*a == bare[57])
                        cr_assert_eq(recovery_decode(buf, back), 0);
                else
                        cr_assert_eq(recovery_decode(buf, back), -EBADMSG);
        }
        free(bare);
        free(code);
}

Test(base32, known_vectors)
{
        /* RFC 4648 §10 test vectors, without '=' padding. */
        static const struct {
                const char *in, *out;
        } v[] = {
                { "", "" },         { "f", "MY" },           { "fo", "MZXQ" },
                { "foo", "MZXW6" }, { "foob", "MZXW6YQ" },   { "fooba", "MZXW6YTB" },
                { "foobar", "MZXW6YTBOI" },
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                char *s = NULL, back[8] = { 0 };
                size_t n = strlen(v[i].in);

                cr_assert_eq(base32_encode(v[i].in, n, 0, &s), 0);
                cr_assert_str_eq(s, v[i].out);
                cr_assert_eq(base32_encoded_len(n), strlen(v[i].out));
                cr_assert_eq(base32_decode(v[i].out, back, n), 0, "%s", v[i].out);
                cr_assert(memcmp(back, v[i].in, n) == 0);
                free(s);
        }

        char *s = NULL;
        cr_assert_eq(base32_encode("foobar", 6, 3, &s), 0);
        cr_assert_str_eq(s, "MZX-W6Y-TBO-I");
        free(s);
        cr_assert_eq(base32_encode("fooba", 5, 4, &s), 0);
        cr_assert_str_eq(s, "MZXW-6YTB");
        free(s);
        /* "MY" is "f"; "MZ" has a non-zero padding bit. */
        char b;
        cr_assert_eq(base32_decode("MZ", &b, 1), -EINVAL);
        cr_assert_eq(base32_decode("my", &b, 1), 0);
        cr_assert_eq(b, 'f');
}
