/* SPDX-License-Identifier: MIT */
/* Snapshot retention policies (DESIGN §9), with restic forget's --keep-*
 * semantics: which snapshots of ONE root to keep and why. Pure: no I/O, no
 * index; time buckets use the local time zone (localtime_r, so TZ applies).
 * The daemon (daemon/retention-apply.c) reads rows and deletes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "oid.h"

/* A count meaning "every bucket that has a snapshot". */
#define RETENTION_UNLIMITED (-1)

/* Each count is 0 (rule off), N > 0, or RETENTION_UNLIMITED. */
struct retention_policy {
        int64_t keep_within_ns; /* keep everything newer than now - this; 0 = off */
        int keep_last;          /* the N newest */
        int keep_hourly;        /* the newest of each of the last N local hours with snapshots */
        int keep_daily;         /* ... local calendar days */
        int keep_weekly;        /* ... ISO weeks (Monday to Sunday, local) */
        int keep_monthly;       /* ... local calendar months */
        int keep_yearly;        /* ... local calendar years */
};

/* Why a snapshot is kept: a bit set; 0 means forget it. */
enum retention_reason {
        RETENTION_NEWEST = 1 << 0,  /* the newest of the root: always kept */
        RETENTION_WITHIN = 1 << 1,
        RETENTION_LAST = 1 << 2,
        RETENTION_HOURLY = 1 << 3,
        RETENTION_DAILY = 1 << 4,
        RETENTION_WEEKLY = 1 << 5,
        RETENTION_MONTHLY = 1 << 6,
        RETENTION_YEARLY = 1 << 7,
};

/* One snapshot of the root: id and time are input, reasons the output. */
struct retention_snapshot {
        struct oid id;
        int64_t time_ns;
        unsigned reasons; /* enum retention_reason bits; 0 = forget */
};

/* Longest text retention_reasons_format writes, with its NUL. */
#define RETENTION_REASONS_MAX 64

/* The built-in policy: within 1h, hourly 48, daily 30, weekly 52, monthly unlimited. */
void retention_policy_default(struct retention_policy *ret);
/* 0 when p is usable; -EINVAL when a count is below -1, keep_within is
 * negative, or no rule is on at all (restic refuses an empty policy too). */
int retention_policy_check(const struct retention_policy *p);
/* Set reasons for each of the n snapshots (any order; equal times: the later
 * in the array counts as newer) at time now_ns. Returns how many are to be
 * forgotten; -EINVAL (see retention_policy_check), -ENOMEM. */
int retention_select(const struct retention_policy *p, int64_t now_ns,
                     struct retention_snapshot *snapshots, size_t n);
/* "newest, within, last, hourly, daily, weekly, monthly, yearly" (those set);
 * "" for 0. Returns buf. */
const char *retention_reasons_format(unsigned reasons, char buf[static RETENTION_REASONS_MAX]);
