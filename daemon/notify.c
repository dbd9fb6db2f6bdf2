/* SPDX-License-Identifier: MIT */
/* sd_notify wrappers and the watchdog timer. A failed notification is logged
 * at debug and otherwise ignored: the daemon works the same without systemd. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "notify.h"

static struct event *watchdog_event;
static uint64_t watchdog_usec; /* the configured WATCHDOG_USEC while armed */

static int notify_send(const char *state)
{
        int r;

        if (!getenv("NOTIFY_SOCKET"))
                return 0;
        r = sd_notify(0, state);
        if (r < 0)
                log_debug_errno(r, "sd_notify(\"%s\") failed, ignoring", state);
        return r;
}

int notify_ready(void)
{
        return notify_send("READY=1");
}

int notify_status(const char *fmt, ...)
{
        _cleanup_free_ char *state = NULL, *text = NULL;
        va_list ap;
        int r;

        if (!getenv("NOTIFY_SOCKET"))
                return 0;
        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        /* One line: the protocol is newline-separated assignments. */
        for (char *p = text; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        if (asprintf(&state, "STATUS=%s", text) < 0)
                return -ENOMEM;
        return notify_send(state);
}

int notify_reloading(void)
{
        struct timespec ts;
        char state[64];

        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                 (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
        return notify_send(state);
}

int notify_ready_after_reload(void)
{
        return notify_send("READY=1");
}

int notify_stopping(void)
{
        return notify_send("STOPPING=1");
}

int notify_long_work_begin(uint64_t usec)
{
        char state[128];
        if (watchdog_usec > usec)
                usec = watchdog_usec;
        if (watchdog_event)
                snprintf(state, sizeof(state), "WATCHDOG=1\nWATCHDOG_USEC=%" PRIu64 "\nEXTEND_TIMEOUT_USEC=%" PRIu64,
                         usec, usec);
        else
                snprintf(state, sizeof(state), "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
        return notify_send(state);
}

int notify_long_work_end(void)
{
        char state[64];
        if (!watchdog_event)
                return 0;
        snprintf(state, sizeof(state), "WATCHDOG=1\nWATCHDOG_USEC=%" PRIu64, watchdog_usec);
        return notify_send(state);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *userdata)
{
        notify_send("WATCHDOG=1");
}

int notify_watchdog_start(struct event_base *base)
{
        uint64_t usec = 0;
        int r;

        if (watchdog_event)
                return 1;
        r = sd_watchdog_enabled(0, &usec);
        if (r < 0)
                return log_warning_errno(r, "Cannot read WATCHDOG_USEC, watchdog not armed");
        if (r == 0 || usec == 0)
                return 0;

        watchdog_usec = usec;
        struct timeval tv = { .tv_sec = (time_t)(usec / 2 / 1000000),
                              .tv_usec = (suseconds_t)(usec / 2 % 1000000) };
        watchdog_event = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
        if (!watchdog_event)
                return log_error_errno(-ENOMEM, "Cannot create the watchdog timer");
        if (event_add(watchdog_event, &tv) < 0) {
                notify_watchdog_stop();
                return log_error_errno(-EINVAL, "Cannot arm the watchdog timer");
        }
        notify_send("WATCHDOG=1");
        log_debug("Watchdog armed: keep-alive every %" PRIu64 " ms", usec / 2 / 1000);
        return 1;
}

void notify_watchdog_stop(void)
{
        if (!watchdog_event)
                return;
        event_free(watchdog_event);
        watchdog_event = NULL;
}
