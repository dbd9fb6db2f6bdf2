/* SPDX-License-Identifier: MIT */
/* The subset rule of check --read-data-subset: parsing "N/T" and "P%", the
 * slice of a pack id (its first eight bytes, big-endian, modulo T) and
 * selection sampling for a percentage. Pure: no I/O, no randomness of its
 * own (the caller passes random bits). */
#include "check-subset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>



static int parse_u32(const char *s, size_t len, uint32_t max, uint32_t *ret)
{
        uint64_t v = 0;

        if (len == 0 || len > 10)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

int check_subset_parse(const char *s, struct check_subset *ret)
{
        struct check_subset out = { 0 };
        size_t len;
        const char *slash;

        if (!s || !*s)
                return -EINVAL;
        len = strlen(s);
        slash = strchr(s, '/');
        if (slash) {
                if (parse_u32(s, (size_t)(slash - s), CHECK_SUBSET_SLICES_MAX, &out.n) < 0 ||
                    parse_u32(slash + 1, strlen(slash + 1), CHECK_SUBSET_SLICES_MAX, &out.t) < 0 ||
                    out.n < 1 || out.n > out.t)
                        return -EINVAL;
                out.kind = CHECK_SUBSET_SLICE;
        } else if (s[len - 1] == '%') {
                const char *dot = memchr(s, '.', len - 1);
                size_t int_len = dot ? (size_t)(dot - s) : len - 1;
                uint32_t whole, frac = 0;

                if (parse_u32(s, int_len, 100, &whole) < 0)
                        return -EINVAL;
                if (dot) {
                        size_t flen = (size_t)(s + len - 1 - (dot + 1));
                        if (flen < 1 || flen > 3 || parse_u32(dot + 1, flen, 999, &frac) < 0)
                                return -EINVAL;
                        for (size_t i = flen; i < 3; i++)
                                frac *= 10;
                }
                out.permille = whole * 1000 + frac;
                if (out.permille == 0 || out.permille > 100000)
                        return -EINVAL;
                out.kind = CHECK_SUBSET_PERCENT;
        } else {
                return -EINVAL;
        }
        *ret = out;
        return 0;
}

void check_subset_format(const struct check_subset *s, char *buf, size_t len)
{
        if (len == 0)
                return;
        if (s->kind == CHECK_SUBSET_SLICE)
                snprintf(buf, len, "%u/%u", s->n, s->t);
        else if (s->kind == CHECK_SUBSET_PERCENT && s->permille % 1000 == 0)
                snprintf(buf, len, "%u%%", s->permille / 1000);
        else if (s->kind == CHECK_SUBSET_PERCENT)
                snprintf(buf, len, "%u.%03u%%", s->permille / 1000, s->permille % 1000);
        else
                buf[0] = '\0';
}

uint32_t check_subset_slice_of(const struct oid *pack, uint32_t t)
{
        uint64_t v = 0;

        if (t == 0)
                return 0;
        for (size_t i = 0; i < 8; i++)
                v = v << 8 | pack->bytes[i];
        return (uint32_t)(v % t) + 1;
}

void check_sample_init(struct check_sample *st, const struct check_subset *s, uint64_t count)
{
        st->left = count;
        st->want = count;
        if (s->kind == CHECK_SUBSET_PERCENT) {
                /* ceil(count * permille / 100000) without overflow for any count */
                uint64_t q = count / 100000, r = count % 100000;
                st->want = q * s->permille + (r * s->permille + 99999) / 100000;
                if (st->want > count)
                        st->want = count;
        }
}

bool check_subset_take(const struct check_subset *s, struct check_sample *st, const struct oid *pack,
                       uint64_t random)
{
        bool take;

        switch (s->kind) {
        case CHECK_SUBSET_SLICE:
                return check_subset_slice_of(pack, s->t) == s->n;
        case CHECK_SUBSET_PERCENT:
                if (st->left == 0)
                        return false;
                /* Knuth's algorithm S: take with probability want/left */
                take = random % st->left < st->want;
                st->left--;
                if (take)
                        st->want--;
                return take;
        default:
                return true;
        }
}
