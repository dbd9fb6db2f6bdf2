/* SPDX-License-Identifier: MIT */
/* Talking to the service manager: sd_notify READY/STATUS/RELOADING/STOPPING
 * and the watchdog keep-alive on a libevent timer. Everything is a no-op when
 * NOTIFY_SOCKET is not set (chuted run by hand). Loop thread only. */
#pragma once

#include <stdint.h>

struct event_base;

/* READY=1: the index is open and every listener is up. */
int notify_ready(void);
/* STATUS=<one line>: shown by systemctl status. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC= (systemd >= 253 checks it), on SIGHUP. */
int notify_reloading(void);
/* READY=1 again once a reload is done. */
int notify_ready_after_reload(void);
/* STOPPING=1 at the start of shutdown. */
int notify_stopping(void);
/* When WatchdogSec= is set, send WATCHDOG=1 from the loop every half interval.
 * Returns 1 when armed, 0 when the watchdog is off, -errno on failure. */
int notify_watchdog_start(struct event_base *base);
/* Around work that blocks the loop for long (bringing the repository up
 * after key import): WATCHDOG=1 and, when the watchdog is armed, a watchdog
 * timeout of at least usec (WATCHDOG_USEC=), plus EXTEND_TIMEOUT_USEC=usec
 * for a start or stop in progress. notify_long_work_end sends WATCHDOG=1 and
 * puts the configured watchdog timeout back. */
int notify_long_work_begin(uint64_t usec);
int notify_long_work_end(void);
/* Disarm and free the watchdog timer (safe when never armed). */
void notify_watchdog_stop(void);
