/* SPDX-License-Identifier: MIT */
/* Sizes, durations and booleans as people write them, and back. Every parser
 * takes the whole string (surrounding blanks allowed), refuses signs, junk and
 * trailing garbage, and detects overflow instead of wrapping. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "cleanup.h"
#include "parse.h"

struct unit {
        const char *suffix;
        uint64_t factor;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Parse "DIGITS[.DIGITS] [UNIT]" and multiply by the unit's factor. A bare
 * number uses units[0] (suffix ""). Fractions are exact up to 19 digits,
 * then truncated; a fraction of the smallest step (1 byte, 1 ns) is junk. */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units, uint64_t *ret)
{
        uint64_t whole = 0, frac = 0, frac_scale = 1;
        bool has_frac = false;
        const char *p = s, *unit_start, *unit_end;
        const struct unit *unit = NULL;

        if (!s)
                return -EINVAL;
        while (is_blank(*p))
                p++;
        if (!is_digit(*p))
                return -EINVAL;
        for (; is_digit(*p); p++) {
                unsigned d = (unsigned)(*p - '0');
                if (whole > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                whole = whole * 10 + d;
        }
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                has_frac = true;
                for (; is_digit(*p); p++) {
                        if (frac_scale > UINT64_MAX / 100)
                                continue; /* 19 digits kept: finer is noise */
                        frac = frac * 10 + (unsigned)(*p - '0');
                        frac_scale *= 10;
                }
        }
        while (is_blank(*p))
                p++;
        unit_start = p;
        unit_end = p + strlen(p);
        while (unit_end > unit_start && is_blank(unit_end[-1]))
                unit_end--;
        for (size_t i = 0; i < n_units; i++) {
                size_t n = strlen(units[i].suffix);
                if (n == (size_t)(unit_end - unit_start) &&
                    strncasecmp(unit_start, units[i].suffix, n) == 0) {
                        unit = &units[i];
                        break;
                }
        }
        if (!unit)
                return -EINVAL;
        if (has_frac && frac != 0 && unit->factor == 1)
                return -EINVAL;

        unsigned __int128 v = (unsigned __int128)whole * unit->factor;
        v += (unsigned __int128)frac * unit->factor / frac_scale;
        if (v > UINT64_MAX)
                return -ERANGE;
        *ret = (uint64_t)v;
        return 0;
}

#define KIB UINT64_C(1024)

static const struct unit size_units[] = {
        { "", 1 },
        { "b", 1 },
        { "k", KIB }, { "kb", KIB }, { "kib", KIB },
        { "m", KIB * KIB }, { "mb", KIB * KIB }, { "mib", KIB * KIB },
        { "g", KIB * KIB * KIB }, { "gb", KIB * KIB * KIB }, { "gib", KIB * KIB * KIB },
        { "t", KIB * KIB * KIB * KIB }, { "tb", KIB * KIB * KIB * KIB },
        { "tib", KIB * KIB * KIB * KIB },
};

int parse_size(const char *s, uint64_t *ret)
{
        return parse_scaled(s, size_units, ELEMENTSOF(size_units), ret);
}

static const struct unit duration_units[] = {
        { "", NSEC_PER_SEC },
        { "ns", 1 },
        { "us", NSEC_PER_USEC },
        { "ms", NSEC_PER_MSEC },
        { "s", NSEC_PER_SEC }, { "sec", NSEC_PER_SEC },
        { "m", NSEC_PER_MINUTE }, { "min", NSEC_PER_MINUTE },
        { "h", NSEC_PER_HOUR },
        { "d", NSEC_PER_DAY },
};

int parse_duration_ns(const char *s, uint64_t *ret)
{
        return parse_scaled(s, duration_units, ELEMENTSOF(duration_units), ret);
}

int parse_bool(const char *s)
{
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* value/unit with one decimal, rounded to nearest; ".0" dropped. Callers
 * size buf for their unit range; a longer result is cut, never overrun. */
static void format_tenths(char *buf, size_t size, uint64_t tenths, const char *sep, const char *unit)
{
        char tmp[64];
        size_t n;

        if (tenths % 10 == 0)
                snprintf(tmp, sizeof(tmp), "%" PRIu64 "%s%s", tenths / 10, sep, unit);
        else
                snprintf(tmp, sizeof(tmp), "%" PRIu64 ".%u%s%s", tenths / 10, (unsigned)(tenths % 10),
                         sep, unit);
        n = MIN(strlen(tmp), size - 1);
        memcpy(buf, tmp, n);
        buf[n] = '\0';
}

static uint64_t round_tenths(uint64_t v, uint64_t unit)
{
        return (uint64_t)(((unsigned __int128)v * 10 + unit / 2) / unit);
}

const char *format_size(uint64_t bytes, char buf[static FORMAT_SIZE_MAX])
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

        if (bytes < KIB) {
                snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 " B", bytes);
                return buf;
        }
        size_t i = 0;
        uint64_t unit = KIB;
        /* Move up while the value would print as 1024 or more of this unit. */
        while (i + 1 < ELEMENTSOF(units) && round_tenths(bytes, unit) >= 10240) {
                unit *= KIB;
                i++;
        }
        format_tenths(buf, FORMAT_SIZE_MAX, round_tenths(bytes, unit), " ", units[i]);
        return buf;
}

const char *format_rate(uint64_t bytes_per_s, char buf[static FORMAT_RATE_MAX])
{
        if (bytes_per_s == 0)
                return strcpy(buf, "none");
        format_size(bytes_per_s, buf);
        strcat(buf, "/s");
        return buf;
}

const char *format_duration_ns(uint64_t ns, char buf[static FORMAT_DURATION_MAX])
{
        static const struct unit units[] = {
                { "d", NSEC_PER_DAY }, { "h", NSEC_PER_HOUR }, { "m", NSEC_PER_MINUTE },
                { "s", NSEC_PER_SEC }, { "ms", NSEC_PER_MSEC }, { "us", NSEC_PER_USEC },
        };

        if (ns == 0) {
                snprintf(buf, FORMAT_DURATION_MAX, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (ns >= units[i].factor) {
                        format_tenths(buf, FORMAT_DURATION_MAX, round_tenths(ns, units[i].factor), "",
                                      units[i].suffix);
                        return buf;
                }
        snprintf(buf, FORMAT_DURATION_MAX, "%" PRIu64 "ns", ns);
        return buf;
}

int parse_log_level(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } names[] = {
                { "err", LOG_ERR },         { "error", LOG_ERR },   { "warning", LOG_WARNING },
                { "warn", LOG_WARNING },    { "notice", LOG_NOTICE }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG },
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i].name) == 0)
                        return names[i].level;
        if (s[0] >= '0' + LOG_ERR && s[0] <= '0' + LOG_DEBUG && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}
