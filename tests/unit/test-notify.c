/* SPDX-License-Identifier: MIT */
/* Tests for daemon/notify.c: the exact datagrams sent to NOTIFY_SOCKET, the
 * no-op without it, and the watchdog timer on a real libevent loop. */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static char dir[] = "/tmp/chute-notify-XXXXXX";
static char sock_path[108];
static int sock_fd = -1;

static void setup(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        cr_assert_not_null(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/notify", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        cr_assert_geq(sock_fd, 0);
        cr_assert_eq(bind(sock_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        setenv("NOTIFY_SOCKET", sock_path, 1);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
        close(sock_fd);
        unlink(sock_path);
        rmdir(dir);
}

/* The next datagram as a string, or "" when none is waiting. */
static const char *next_datagram(void)
{
        static char buf[512];
        ssize_t n = recv(sock_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
                cr_assert_eq(errno, EAGAIN);
                n = 0;
        }
        buf[n] = '\0';
        return buf;
}

TestSuite(notify, .init = setup, .fini = teardown);

Test(notify, messages)
{
        cr_assert_gt(notify_ready(), 0);
        cr_assert_str_eq(next_datagram(), "READY=1");
        cr_assert_gt(notify_status("Watching %d roots, %s", 3, "idle"), 0);
        cr_assert_str_eq(next_datagram(), "STATUS=Watching 3 roots, idle");
        cr_assert_gt(notify_status("two\nlines"), 0);
        cr_assert_str_eq(next_datagram(), "STATUS=two lines");
        cr_assert_gt(notify_stopping(), 0);
        cr_assert_str_eq(next_datagram(), "STOPPING=1");
        cr_assert_gt(notify_ready_after_reload(), 0);
        cr_assert_str_eq(next_datagram(), "READY=1");
        cr_assert_str_eq(next_datagram(), "");
}

Test(notify, reloading_carries_monotonic_usec)
{
        struct timespec ts;
        unsigned long long usec, now;

        cr_assert_gt(notify_reloading(), 0);
        const char *d = next_datagram();
        cr_assert_eq(sscanf(d, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1, "%s", d);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (unsigned long long)ts.tv_sec * 1000000 + (unsigned long long)ts.tv_nsec / 1000;
        cr_assert(usec <= now && now - usec < 5000000, "MONOTONIC_USEC=%llu, now %llu", usec, now);
}

Test(notify, noop_without_socket)
{
        unsetenv("NOTIFY_SOCKET");
        cr_assert_eq(notify_ready(), 0);
        cr_assert_eq(notify_status("x"), 0);
        cr_assert_eq(notify_reloading(), 0);
        cr_assert_eq(notify_stopping(), 0);
        cr_assert_str_eq(next_datagram(), "");
}

static void stop_loop(evutil_socket_t fd, short what, void *base)
{
        event_base_loopbreak(base);
}

Test(notify, watchdog)
{
        struct event_base *base = event_base_new();
        char pid[32];

        cr_assert_not_null(base);
        /* Off without WATCHDOG_USEC. */
        cr_assert_eq(notify_watchdog_start(base), 0);
        cr_assert_str_eq(next_datagram(), "");

        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("WATCHDOG_PID", pid, 1);
        setenv("WATCHDOG_USEC", "200000", 1); /* 200 ms: keep-alive every 100 ms */
        cr_assert_eq(notify_watchdog_start(base), 1);
        cr_assert_str_eq(next_datagram(), "WATCHDOG=1"); /* sent at once */

        struct timeval tv = { .tv_sec = 0, .tv_usec = 350000 };
        struct event *stop = evtimer_new(base, stop_loop, base);
        evtimer_add(stop, &tv);
        event_base_dispatch(base);
        int n = 0;
        while (strcmp(next_datagram(), "WATCHDOG=1") == 0)
                n++;
        cr_assert(n >= 2 && n <= 4, "%d keep-alives in 350 ms at a 100 ms period", n);

        notify_watchdog_stop();
        evtimer_add(stop, &tv);
        event_base_dispatch(base);
        cr_assert_str_eq(next_datagram(), "", "keep-alive after stop");
        event_free(stop);
        event_base_free(base);
}

Test(notify, long_work)
{
        struct event_base *base = event_base_new();
        char pid[32];

        cr_assert_not_null(base);
        /* Without the watchdog: only the start/stop timeout is extended. */
        cr_assert_gt(notify_long_work_begin(90000000), 0);
        cr_assert_str_eq(next_datagram(), "EXTEND_TIMEOUT_USEC=90000000");
        cr_assert_eq(notify_long_work_end(), 0);
        cr_assert_str_eq(next_datagram(), "");

        /* With it: a keep-alive, a longer timeout, and the configured one back. */
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("WATCHDOG_PID", pid, 1);
        setenv("WATCHDOG_USEC", "200000", 1);
        cr_assert_eq(notify_watchdog_start(base), 1);
        cr_assert_str_eq(next_datagram(), "WATCHDOG=1");
        cr_assert_gt(notify_long_work_begin(90000000), 0);
        cr_assert_str_eq(next_datagram(), "WATCHDOG=1\nWATCHDOG_USEC=90000000\nEXTEND_TIMEOUT_USEC=90000000");
        cr_assert_gt(notify_long_work_end(), 0);
        cr_assert_str_eq(next_datagram(), "WATCHDOG=1\nWATCHDOG_USEC=200000");
        notify_watchdog_stop();
        event_base_free(base);
}
