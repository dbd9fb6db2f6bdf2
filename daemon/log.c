/* SPDX-License-Identifier: MIT */
/* The log sink: decides once (log_open) between journald and stderr, filters
 * by level, and writes each message in one call (sd_journal_sendv or one
 * write(2) of a whole line) so threads never interleave. It owns no policy on
 * what is logged; callers decide that. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* CODE_FILE, CODE_LINE and CODE_FUNC are the caller's, sent by us: without
 * this, sd_journal_sendv adds log.c's own as second values of each. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define LOG_LINE_MAX 8192
#define LOG_FIELDS_MAX 32

static int log_max_level = LOG_INFO;
static bool log_journal;
static char log_ident[64] = "chuted";

/* True when fd 2 is the stream systemd connected to the journal for us. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        char trailing;

        if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &trailing) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *ident)
{
        if (ident)
                snprintf(log_ident, sizeof(log_ident), "%s", ident);
        log_journal = stderr_is_journal();
}

void log_set_level(int level)
{
        if (level < LOG_EMERG)
                level = LOG_EMERG;
        if (level > LOG_DEBUG)
                level = LOG_DEBUG;
        __atomic_store_n(&log_max_level, level, __ATOMIC_RELAXED);
}

int log_get_level(void)
{
        return __atomic_load_n(&log_max_level, __ATOMIC_RELAXED);
}

int log_to_journal(void)
{
        return log_journal;
}

/* Journal names ([A-Z0-9_], not starting with '_' or a digit) and the short
 * form shown on stderr. */
static const struct {
        const char *journal, *text;
} log_fields[_LOG_FIELD_MAX] = {
        [LOG_FIELD_ROOT] = { "CHUTE_ROOT", "root" },
        [LOG_FIELD_SNAPSHOT] = { "CHUTE_SNAPSHOT", "snapshot" },
        [LOG_FIELD_PEER] = { "CHUTE_PEER", "peer" },
        [LOG_FIELD_STORE] = { "CHUTE_STORE", "store" },
};

const char *log_field_name(enum log_field field)
{
        if ((unsigned)field >= _LOG_FIELD_MAX)
                return NULL;
        return log_fields[field].journal;
}

/* Each field of a list that can be sent: in range and with a value. */
#define FOREACH_FIELD(f, fields, i)                                                              \
        for (size_t i = 0; i < LOG_FIELDS_MAX && (fields) && (unsigned)(fields)[i].field < _LOG_FIELD_MAX; i++) \
                if (((f) = &(fields)[i])->value)

const char *log_level_to_string(int level)
{
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
                [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };
        if (level < 0 || (size_t)level >= ELEMENTSOF(names))
                return "unknown";
        return names[level];
}

static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                p += k;
                n -= (size_t)k;
        }
}

/* Append printf output to buf[*len], truncating at size (always NUL-terminated). */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (*len >= size - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *len, size - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        *len = MIN(*len + (size_t)n, size - 1);
}

/* "ident[pid]: level: message [root=/home peer=ab12]\n" in one write(2). */
static void log_write_stderr(int level, const char *message, const struct log_field_value *fields)
{
        char line[LOG_LINE_MAX + 512];
        const struct log_field_value *f;
        size_t len = 0;
        bool bracket = false;

        append(line, sizeof(line), &len, "%s[%d]: %s: %s", log_ident, (int)getpid(),
               log_level_to_string(level), message);
        FOREACH_FIELD(f, fields, i) {
                append(line, sizeof(line), &len, "%s%s=%s", bracket ? " " : " [", log_fields[f->field].text,
                       f->value);
                bracket = true;
        }
        if (bracket)
                append(line, sizeof(line), &len, "]");
        /* Room for the newline is always kept: append stops one byte short. */
        if (len >= sizeof(line) - 1)
                len = sizeof(line) - 2;
        line[len++] = '\n';
        write_all(STDERR_FILENO, line, len);
}

static int log_write_journal(int level, int error, const char *message_id, const struct log_field_value *fields,
                             const char *file, int line, const char *func, const char *message)
{
        char priority[16], code_line[32], errno_field[32];
        _cleanup_free_ char *message_field = NULL, *id_field = NULL, *ident_field = NULL,
                            *file_field = NULL, *func_field = NULL;
        char *field_entries[LOG_FIELDS_MAX];
        const struct log_field_value *f;
        struct iovec iov[8 + LOG_FIELDS_MAX];
        size_t n = 0, n_entries = 0;
        int r = -ENOMEM;

        if (asprintf(&message_field, "MESSAGE=%s", message) < 0 ||
            asprintf(&ident_field, "SYSLOG_IDENTIFIER=%s", log_ident) < 0 ||
            asprintf(&file_field, "CODE_FILE=%s", file ? file : "") < 0 ||
            asprintf(&func_field, "CODE_FUNC=%s", func ? func : "") < 0)
                return -ENOMEM;
        if (message_id && asprintf(&id_field, "MESSAGE_ID=%s", message_id) < 0)
                return -ENOMEM;
        FOREACH_FIELD(f, fields, i) {
                if (asprintf(&field_entries[n_entries], "%s=%s", log_fields[f->field].journal, f->value) < 0)
                        goto out;
                n_entries++;
        }
        snprintf(priority, sizeof(priority), "PRIORITY=%d", level);
        snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);

#define IOV_STR(s) (iov[n++] = (struct iovec){ .iov_base = (void *)(s), .iov_len = strlen(s) })
        IOV_STR(priority);
        IOV_STR(ident_field);
        IOV_STR(message_field);
        if (id_field)
                IOV_STR(id_field);
        IOV_STR(file_field);
        IOV_STR(code_line);
        IOV_STR(func_field);
        if (error != 0) {
                snprintf(errno_field, sizeof(errno_field), "ERRNO=%d", abs(error));
                IOV_STR(errno_field);
        }
        for (size_t i = 0; i < n_entries; i++)
                IOV_STR(field_entries[i]);
#undef IOV_STR
        r = sd_journal_sendv(iov, (int)n);
out:
        for (size_t i = 0; i < n_entries; i++)
                free(field_entries[i]);
        return r;
}

int log_internal(int level, int error, const char *message_id, const struct log_field_value *fields,
                 const char *file, int line, const char *func, const char *fmt, ...)
{
        int saved_errno = errno;
        int ret = error > 0 ? -error : error;
        char message[LOG_LINE_MAX];
        size_t len = 0;
        va_list ap;

        if (level > log_get_level())
                return ret;

        va_start(ap, fmt);
        int n = vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        len = n < 0 ? 0 : MIN((size_t)n, sizeof(message) - 1);
        message[len] = '\0';
        if (error != 0) {
                char errbuf[128];
                append(message, sizeof(message), &len, ": %s",
                       strerror_r(abs(error), errbuf, sizeof(errbuf)));
        }
        if (!message_id && level <= LOG_ERR)
                message_id = MSGID_ERROR;

        if (!log_journal ||
            log_write_journal(level, error, message_id, fields, file, line, func, message) < 0)
                log_write_stderr(level, message, fields);

        errno = saved_errno;
        return ret;
}
