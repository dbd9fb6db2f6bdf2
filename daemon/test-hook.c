/* SPDX-License-Identifier: MIT */
/* Test pause and failure points (see test-hook.h). The environment is read once; with
 * CHUTE_TEST_HOOK_DIR unset a pause point costs one load and a branch. */

#include "test-hook.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *hook_dir;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void hook_init(void)
{
        const char *d = getenv("CHUTE_TEST_HOOK_DIR");
        hook_dir = d && *d ? d : NULL;
}

void test_hook_pause(const char *point)
{
        pthread_once(&hook_once, hook_init);
        if (!hook_dir)
                return;
        char wait[4096], reached[4096];
        snprintf(wait, sizeof(wait), "%s/%s.wait", hook_dir, point);
        snprintf(reached, sizeof(reached), "%s/%s.reached", hook_dir, point);
        if (access(wait, F_OK) < 0)
                return;
        log_notice("Test hook %s: paused until %s is removed", point, wait);
        int fd = open(reached, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
        for (int i = 0; i < 6000 && access(wait, F_OK) == 0; i++)
                nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        unlink(reached);
}

bool test_hook_armed(const char *point)
{
        pthread_once(&hook_once, hook_init);
        if (!hook_dir)
                return false;
        char wait[4096];
        snprintf(wait, sizeof(wait), "%s/%s.wait", hook_dir, point);
        return access(wait, F_OK) == 0;
}

bool test_hook_fail(const char *point)
{
        pthread_once(&hook_once, hook_init);
        if (!hook_dir)
                return false;
        char fail[4096];
        snprintf(fail, sizeof(fail), "%s/%s.fail", hook_dir, point);
        if (access(fail, F_OK) < 0)
                return false;
        log_notice("Test hook %s: failing on purpose (%s exists)", point, fail);
        return true;
}
