/* SPDX-License-Identifier: MIT */
/* Logging for chuted and chutectl (common/ never logs): to journald with
 * structured fields when stderr is connected to the journal, else one human
 * line per message on stderr. Thread-safe: workers log too. The MESSAGE_IDs
 * and CHUTE_* fields are documented in docs/logging.md. */
#pragma once

#include <syslog.h>

/* One id per event kind, for `journalctl MESSAGE_ID=...`. Never change one. */
#define MSGID_SNAPSHOT_TAKEN "62598d05c6e140cea6306ac59e6dcdb3"
#define MSGID_SNAPSHOT_FAILED "bae2d47e77284a33891b385df25e375d"
#define MSGID_PACK_SEALED "595c57669b43408a842bbcefb0b9ab2f"
#define MSGID_PACK_REPLICATED "4a405706421f456a9d7fad61244fe6b0"
#define MSGID_PEER_CONNECTED "9fa09a813e124a80898f4e6012a2bbe3"
#define MSGID_PEER_REFUSED "fbfefca07fa64b2f9501b2c368f62554"
#define MSGID_ROOT_UNAVAILABLE "0d93d55aab99480a945b6b3547e37459"
#define MSGID_CONTROL_DENIED "e401feb49df2458292da59b96c1d4bf1"
#define MSGID_DAEMON_STARTED "2c41b0faf6c946b9814cbdd22b22a27a"
#define MSGID_DAEMON_STOPPING "40db4b0d850644b7be1cf5abea86ecd5"
/* Attached to every message at LOG_ERR or worse that carries no other id. */
#define MSGID_ROOT_ADDED "8b0f3c1e5a7d4f62a9e1c4b7d2f60a13"
#define MSGID_ROOT_REMOVED "c3d94e7a1b2f4c5d8e6a0f9b7c1d2e34"
#define MSGID_ERROR "17cfc4b9d14542edac4e0d62168b39c9"

/* A NULL-terminated "KEY=value" list for log_event:
 * log_event(LOG_INFO, MSGID_PEER_CONNECTED, LOG_FIELDS(peer_field), "..."). */
#define LOG_FIELDS(...) ((const char *[]){ __VA_ARGS__, NULL })

/* Choose the target (journal if fd 2 is the journal stream, else stderr) and the identifier. */
void log_open(const char *ident);
/* Drop messages less severe than level (LOG_ERR..LOG_DEBUG); default LOG_INFO. */
void log_set_level(int level);
/* The current maximum level logged. */
int log_get_level(void);
/* "error", "warning", "notice", "info", "debug" (and "emerg", "alert", "crit"). */
const char *log_level_to_string(int level);
/* True when messages go to the journal rather than to stderr. */
int log_to_journal(void);

/* Log one message; error is a negative (or positive) errno to append as
 * ": strerror" and send as ERRNO=, or 0. Returns -|error|. errno is preserved. */
int log_internal(int level, int error, const char *message_id, const char *const *fields,
                 const char *file, int line, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 8, 9)));

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), NULL, NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

/* Log with ": strerror(-r)" appended and return r (negative). */
#define log_debug_errno(r, ...) log_full_errno(LOG_DEBUG, (r), __VA_ARGS__)
#define log_info_errno(r, ...) log_full_errno(LOG_INFO, (r), __VA_ARGS__)
#define log_notice_errno(r, ...) log_full_errno(LOG_NOTICE, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, (r), __VA_ARGS__)
/* Log "out of memory" at error level and return -ENOMEM. */
#define log_oom() log_error_errno(-ENOMEM, "Out of memory")
#define log_error_errno(r, ...) log_full_errno(LOG_ERR, (r), __VA_ARGS__)

/* A structured event: MESSAGE_ID plus "KEY=value" fields (CHUTE_ROOT=,
 * CHUTE_SNAPSHOT=, CHUTE_PEER=, CHUTE_STORE=); fields may be NULL. */
#define log_event(level, msgid, fields, ...) \
        log_internal((level), 0, (msgid), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)
/* The same, with an errno appended and returned. */
#define log_event_errno(level, r, msgid, fields, ...) \
        log_internal((level), (r), (msgid), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)
