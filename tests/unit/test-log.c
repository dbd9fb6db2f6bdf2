/* SPDX-License-Identifier: MIT */
/* Tests for daemon/log.c: the stderr line format with CHUTE_* fields, level
 * filtering, the errno variants' return value, and journal detection. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char path[] = "/tmp/chute-log-XXXXXX";
static int saved_stderr = -1;

static void setup(void)
{
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        saved_stderr = dup(STDERR_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        unsetenv("JOURNAL_STREAM");
        log_open("chuted");
        log_set_level(LOG_INFO);
}

static void teardown(void)
{
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        unlink(path);
}

static char *captured(void)
{
        static char buf[16384];
        int fd = open(path, O_RDONLY);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n < 0 ? 0 : n] = '\0';
        return buf;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, stderr_lines)
{
        char want[1024];
        int pid = (int)getpid();

        cr_assert_eq(log_to_journal(), 0);
        log_info("hello %s", "world");
        log_debug("not shown at info");
        cr_assert_eq(log_error_errno(-ENOENT, "Cannot open %s", "/x"), -ENOENT);
        cr_assert_eq(log_warning_errno(EACCES, "positive errno"), -EACCES);
        log_event(LOG_NOTICE, MSGID_SNAPSHOT_TAKEN,
                  LOG_FIELDS("CHUTE_ROOT=/home", "OTHER=hidden", "CHUTE_SNAPSHOT=ab12"), "Snapshot taken");
        log_set_level(LOG_DEBUG);
        log_debug("now shown");
        snprintf(want, sizeof(want),
                 "chuted[%d]: info: hello world\n"
                 "chuted[%d]: error: Cannot open /x: No such file or directory\n"
                 "chuted[%d]: warning: positive errno: Permission denied\n"
                 "chuted[%d]: notice: Snapshot taken [root=/home snapshot=ab12]\n"
                 "chuted[%d]: debug: now shown\n",
                 pid, pid, pid, pid, pid);
        cr_assert_str_eq(captured(), want);
}

Test(log, filtered_errno_still_returned_and_errno_kept)
{
        log_set_level(LOG_ERR);
        cr_assert_eq(log_get_level(), LOG_ERR);
        errno = EBUSY;
        cr_assert_eq(log_debug_errno(-EIO, "hidden"), -EIO);
        cr_assert_eq(errno, EBUSY);
        cr_assert_str_eq(captured(), "");
}

Test(log, long_message_is_one_line)
{
        char big[10000];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        log_info("%s", big);
        const char *out = captured();
        cr_assert_gt(strlen(out), 8000);
        cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "exactly one newline, at the end");
}

Test(log, journal_stream_detection)
{
        struct stat st;
        char env[64];

        cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
        log_open(NULL);
        cr_assert_eq(log_to_journal(), 1);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino + 1);
        setenv("JOURNAL_STREAM", env, 1);
        log_open(NULL);
        cr_assert_eq(log_to_journal(), 0);
}
