/* SPDX-License-Identifier: MIT */
/* Parsing and formatting of the human values found in the config file and on
 * the command line: sizes (K, M, G, T as powers of 1024), durations (ns to
 * days, fractions allowed) and booleans. Pure: no I/O, no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FORMAT_SIZE_MAX 16
#define FORMAT_RATE_MAX (FORMAT_SIZE_MAX + 2)
#define FORMAT_DURATION_MAX 24

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)
#define NSEC_PER_MINUTE (60 * NSEC_PER_SEC)
#define NSEC_PER_HOUR (60 * NSEC_PER_MINUTE)
#define NSEC_PER_DAY (24 * NSEC_PER_HOUR)

/* "4096", "64K", "1.5 GiB", "2tb" -> bytes; -EINVAL on junk, -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *ret);
/* "30" (seconds), "250ms", "1.5s", "10m", "2h", "7d" (also "ns", "us", "min")
 * -> nanoseconds; -EINVAL on junk, -ERANGE on overflow. */
int parse_duration_ns(const char *s, uint64_t *ret);
/* yes/no, true/false, on/off, 1/0 (any case) -> 1 or 0; -EINVAL otherwise. */
int parse_bool(const char *s);
/* Human size with one decimal and a binary unit ("512 B", "1.5 GiB"); returns buf. */
const char *format_size(uint64_t bytes, char buf[static FORMAT_SIZE_MAX]);
/* A rate in bytes per second as format_size and "/s" ("2.0 MiB/s"), or
 * "none" for 0 (no limit); returns buf. */
const char *format_rate(uint64_t bytes_per_s, char buf[static FORMAT_RATE_MAX]);
/* Human duration in one unit that parse_duration_ns reads back ("250ms", "1.5s",
 * "2h", "0"); returns buf. */
const char *format_duration_ns(uint64_t ns, char buf[static FORMAT_DURATION_MAX]);
/* "err", "warning", "notice", "info", "debug" or a syslog number 3..7 -> LOG_*; -EINVAL. */
int parse_log_level(const char *s);
