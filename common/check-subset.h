/* SPDX-License-Identifier: MIT */
/* Which packs a `chutectl check --read-data-subset` reads: "N/T" is the N-th
 * of T fixed slices of the pack ids (a pack's slice follows from its id
 * alone, so slices 1..T cover every pack exactly once), "P%" a random P
 * percent (selection sampling: exactly ceil(count * P / 100) of count). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oid.h"

#define CHECK_SUBSET_SLICES_MAX 1000000u

enum check_subset_kind {
        CHECK_SUBSET_ALL = 0, /* every pack */
        CHECK_SUBSET_SLICE,   /* n-th of t */
        CHECK_SUBSET_PERCENT, /* a random percent */
};

struct check_subset {
        enum check_subset_kind kind;
        uint32_t n, t;        /* SLICE: 1 <= n <= t <= CHECK_SUBSET_SLICES_MAX */
        uint32_t permille;    /* PERCENT: 1..100000 thousandths of a percent */
};

/* Parse "N/T" or "P%" (P a decimal number, 0 < P <= 100, up to three
 * decimals); -EINVAL when s is neither. */
int check_subset_parse(const char *s, struct check_subset *ret);
/* Write the subset back in the form parse takes ("" for ALL). */
void check_subset_format(const struct check_subset *s, char *buf, size_t len);
/* The slice (1..t) pack id falls in when there are t slices. */
uint32_t check_subset_slice_of(const struct oid *pack, uint32_t t);

/* Selection sampling over a stream of count packs: which to take. */
struct check_sample {
        uint64_t want; /* still to take */
        uint64_t left; /* still to see */
};
/* Start a pass over count packs for subset s (ALL and SLICE take by id:
 * check_subset_take decides for them too). */
void check_sample_init(struct check_sample *st, const struct check_subset *s, uint64_t count);
/* Whether to read pack (the next of the stream); random: 64 uniform bits,
 * used by PERCENT only. */
bool check_subset_take(const struct check_subset *s, struct check_sample *st, const struct oid *pack,
                       uint64_t random);
