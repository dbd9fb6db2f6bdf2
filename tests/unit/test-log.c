/* SPDX-License-Identifier: MIT */
/* Tests for daemon/log.c: the stderr line format with CHUTE_* fields, level
 * filtering, the errno variants' return value, journal detection, and what is
 * handed to sd_journal_sendv (wrapped at link time: -Wl,--wrap): every entry
 * is NAME=value with a valid journal field name. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

/* What the last sd_journal_sendv call got, and what it answers. */
static char sent[64][1024];
static int n_sent = -1;
static int sendv_result;

int __wrap_sd_journal_sendv(const struct iovec *iov, int n);
int __wrap_sd_journal_sendv(const struct iovec *iov, int n)
{
        n_sent = n;
        for (int i = 0; i < n && i < 64; i++)
                snprintf(sent[i], sizeof(sent[i]), "%.*s", (int)iov[i].iov_len, (const char *)iov[i].iov_base);
        return sendv_result;
}

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
                  LOG_FIELDS(LOG_ROOT("/home"), LOG_PEER(NULL), LOG_SNAPSHOT("ab12")), "Snapshot taken");
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

/* Point JOURNAL_STREAM at our stderr, so log_open picks the journal. */
static void journal_on(void)
{
        struct stat st;
        char env[64];

        cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
        log_open("chuted");
        cr_assert_eq(log_to_journal(), 1);
        n_sent = -1;
        sendv_result = 0;
}

/* journal-fields.c's rule: [A-Z0-9_], at most 64, no leading digit, and a
 * leading '_' is reserved for fields journald adds itself. */
static bool field_name_valid(const char *name, size_t len)
{
        if (len == 0 || len > 64 || name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
                        return false;
        return true;
}

static void assert_entries_valid(void)
{
        cr_assert_gt(n_sent, 0, "sd_journal_sendv was called");
        for (int i = 0; i < n_sent; i++) {
                const char *eq = strchr(sent[i], '=');
                cr_assert_not_null(eq, "entry %d \"%s\" is NAME=value", i, sent[i]);
                cr_assert(field_name_valid(sent[i], (size_t)(eq - sent[i])), "entry %d \"%s\": bad field name", i,
                          sent[i]);
        }
}

static bool was_sent(const char *entry)
{
        for (int i = 0; i < n_sent; i++)
                if (strcmp(sent[i], entry) == 0)
                        return true;
        return false;
}

Test(log, journal_entries_are_name_value)
{
        journal_on();
        cr_assert_eq(log_event_errno(LOG_WARNING, -ENOENT, MSGID_SNAPSHOT_FAILED,
                                     LOG_FIELDS(LOG_ROOT("/srv/photos"), LOG_SNAPSHOT("5f2a"), LOG_PEER("node1"),
                                                LOG_STORE("local")),
                                     "Snapshot of %s failed", "/srv/photos"),
                     -ENOENT);
        assert_entries_valid();
        cr_assert(was_sent("CHUTE_ROOT=/srv/photos"));
        cr_assert(was_sent("CHUTE_SNAPSHOT=5f2a"));
        cr_assert(was_sent("CHUTE_PEER=node1"));
        cr_assert(was_sent("CHUTE_STORE=local"));
        cr_assert(was_sent("MESSAGE_ID=" MSGID_SNAPSHOT_FAILED));
        cr_assert(was_sent("MESSAGE=Snapshot of /srv/photos failed: No such file or directory"));
        cr_assert(was_sent("PRIORITY=4"));
        cr_assert(was_sent("ERRNO=2"));
        cr_assert(was_sent("SYSLOG_IDENTIFIER=chuted"));
        cr_assert_str_eq(captured(), "", "nothing on stderr when the journal took it");
}

Test(log, every_field_has_a_valid_journal_name)
{
        journal_on();
        for (int f = 0; f < _LOG_FIELD_MAX; f++) {
                const char *name = log_field_name((enum log_field)f);
                char want[128];

                cr_assert_not_null(name, "field %d has a name", f);
                cr_assert(field_name_valid(name, strlen(name)), "field %d: \"%s\" is a valid name", f, name);
                cr_assert_eq(strncmp(name, "CHUTE_", 6), 0, "field %d: \"%s\" is a CHUTE_ field", f, name);
                log_event(LOG_INFO, NULL, LOG_FIELDS(((struct log_field_value){ (enum log_field)f, "v=1 x" })), "m");
                assert_entries_valid();
                snprintf(want, sizeof(want), "%s=v=1 x", name);
                cr_assert(was_sent(want), "field %d sent as %s", f, want);
        }
        cr_assert_null(log_field_name(_LOG_FIELD_MAX));
        cr_assert_null(log_field_name((enum log_field)-1));
}

Test(log, null_value_leaves_the_field_out)
{
        journal_on();
        log_event(LOG_INFO, MSGID_ROOT_ADDED, LOG_FIELDS(LOG_ROOT(NULL), LOG_SNAPSHOT("ab")), "m");
        assert_entries_valid();
        for (int i = 0; i < n_sent; i++)
                cr_assert_neq(strncmp(sent[i], "CHUTE_ROOT", 10), 0, "no CHUTE_ROOT entry: %s", sent[i]);
        cr_assert(was_sent("CHUTE_SNAPSHOT=ab"));
        /* no fields at all */
        log_event(LOG_INFO, MSGID_DAEMON_STARTED, NULL, "started");
        assert_entries_valid();
        cr_assert(was_sent("MESSAGE_ID=" MSGID_DAEMON_STARTED));
}

Test(log, journal_refusal_falls_back_to_a_stderr_line)
{
        journal_on();
        sendv_result = -EINVAL;
        log_event(LOG_NOTICE, MSGID_ROOT_ADDED, LOG_FIELDS(LOG_ROOT("/srv/photos")), "Watching %s", "/srv/photos");
        char want[256];
        snprintf(want, sizeof(want), "chuted[%d]: notice: Watching /srv/photos [root=/srv/photos]\n", (int)getpid());
        cr_assert_str_eq(captured(), want);
}
