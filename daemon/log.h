/* SPDX-License-Identifier: MIT */
/* Logging for chuted and chutectl (common/ never logs): to journald with
 * structured fields when stderr is connected to the journal, else one human
 * line per message on stderr. Thread-safe: workers log too. The MESSAGE_IDs
 * and CHUTE_* fields are documented in docs/logging.md. */
#pragma once

#include <stddef.h>
#include <syslog.h>

/* One id per event kind, for `journalctl MESSAGE_ID=...`; each is sent by
 * at least one log_event call and listed in docs/logging.md. Never change one. */
#define MSGID_SNAPSHOT_TAKEN "62598d05c6e140cea6306ac59e6dcdb3"
#define MSGID_SNAPSHOT_FAILED "bae2d47e77284a33891b385df25e375d"
#define MSGID_ROOT_ADDED "8b0f3c1e5a7d4f62a9e1c4b7d2f60a13"
#define MSGID_ROOT_REMOVED "c3d94e7a1b2f4c5d8e6a0f9b7c1d2e34"
#define MSGID_ROOT_UNAVAILABLE "0d93d55aab99480a945b6b3547e37459"
#define MSGID_CONTROL_DENIED "e401feb49df2458292da59b96c1d4bf1"
#define MSGID_DAEMON_STARTED "2c41b0faf6c946b9814cbdd22b22a27a"
#define MSGID_DAEMON_STOPPING "40db4b0d850644b7be1cf5abea86ecd5"
/* Attached to every message at LOG_ERR or worse that carries no other id. */
#define MSGID_ERROR "17cfc4b9d14542edac4e0d62168b39c9"
/* Hosting peers' packs (daemon/peer-server.c, peer-host.c, cmd-peer-*.c). */
#define MSGID_PEER_CONNECTED "9fa09a813e124a80898f4e6012a2bbe3"
#define MSGID_PEER_REFUSED "fbfefca07fa64b2f9501b2c368f62554"
#define MSGID_PEER_DISCONNECTED "d408e1f532234e8ab2971ecc13ed07e6"
#define MSGID_PEER_QUOTA "854531bb40f94a64801f71b8e063ca8d"
#define MSGID_PEER_ADDED "31b3c58e3be145c2a93023702952cb47"
#define MSGID_PEER_REMOVED "f413339960194266b0afbbdd7d1b58eb"
#define MSGID_HOSTED_PURGED "ec84e121288d4f5f8ed212501bf47e42"
/* Replicating our packs to stores (daemon/replicate*.c, store-peer*.c). */
#define MSGID_PACK_REPLICATED "4a405706421f456a9d7fad61244fe6b0"
#define MSGID_STORE_CONNECTED "6f1c2b7e9d3a4e58b0c4a1f2d7e96b35"
#define MSGID_STORE_REFUSED "b2e8d4a61c7f4f0e9a35d6c0e1f7a842"
#define MSGID_STORE_QUOTA "0c5a9e3f7b1d42c6a8e0f4b2d9c1a375"
#define MSGID_PACK_DAMAGED "e7d1a0c94b6f4a2d8c3e5b7f0a9d1e62"
/* Reserved (pack sealed), not sent yet: never reuse it.
 *   595c57669b43408a842bbcefb0b9ab2f */

/* The structured fields a message can carry, by their journal names. The
 * field API takes this enum, never a string, so no call site can send a
 * malformed "NAME=value" entry (sd_journal_sendv refuses the whole message). */
enum log_field {
        LOG_FIELD_ROOT,     /* CHUTE_ROOT: absolute path of the watched root */
        LOG_FIELD_SNAPSHOT, /* CHUTE_SNAPSHOT: snapshot id (hex) */
        LOG_FIELD_PEER,     /* CHUTE_PEER: peer node id */
        LOG_FIELD_STORE,    /* CHUTE_STORE: store name */
        _LOG_FIELD_MAX,
};

/* One field of a message: build it with LOG_ROOT() and friends. */
struct log_field_value {
        enum log_field field;
        const char *value; /* NULL leaves the field out */
};

#define LOG_ROOT(path) ((struct log_field_value){ LOG_FIELD_ROOT, (path) })
#define LOG_SNAPSHOT(hex) ((struct log_field_value){ LOG_FIELD_SNAPSHOT, (hex) })
#define LOG_PEER(id) ((struct log_field_value){ LOG_FIELD_PEER, (id) })
#define LOG_STORE(name) ((struct log_field_value){ LOG_FIELD_STORE, (name) })

/* The fields of one log_event, terminated for log_internal:
 *   log_event(LOG_INFO, MSGID_SNAPSHOT_TAKEN, LOG_FIELDS(LOG_ROOT(path), LOG_SNAPSHOT(hex)), "...");
 * Every argument must be a LOG_ROOT()/LOG_SNAPSHOT()/LOG_PEER()/LOG_STORE()
 * entry, checked at compile time (_Generic without a default): a string such
 * as "CHUTE_ROOT" does not compile. One to eight entries. */
#define LOG_FIELDS(...) \
        (LOG_FIELDS_CHECK_(__VA_ARGS__), (const struct log_field_value[]){ __VA_ARGS__, { _LOG_FIELD_MAX, NULL } })
#define LOG_FIELD_CHECK_(x) (void)_Generic((x), struct log_field_value: 0)
#define LOG_FIELDS_CHECK_(...) \
        LOG_FIELDS_PICK_(__VA_ARGS__, LOG_FC8_, LOG_FC7_, LOG_FC6_, LOG_FC5_, LOG_FC4_, LOG_FC3_, LOG_FC2_, \
                         LOG_FC1_, )(__VA_ARGS__)
#define LOG_FIELDS_PICK_(a1, a2, a3, a4, a5, a6, a7, a8, check, ...) check
#define LOG_FC1_(x) LOG_FIELD_CHECK_(x)
#define LOG_FC2_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC1_(__VA_ARGS__)
#define LOG_FC3_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC2_(__VA_ARGS__)
#define LOG_FC4_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC3_(__VA_ARGS__)
#define LOG_FC5_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC4_(__VA_ARGS__)
#define LOG_FC6_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC5_(__VA_ARGS__)
#define LOG_FC7_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC6_(__VA_ARGS__)
#define LOG_FC8_(x, ...) LOG_FIELD_CHECK_(x), LOG_FC7_(__VA_ARGS__)

/* The journal name of a field ("CHUTE_ROOT"), or NULL for a value out of range. */
const char *log_field_name(enum log_field field);

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
int log_internal(int level, int error, const char *message_id, const struct log_field_value *fields,
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

/* A structured event: MESSAGE_ID plus LOG_FIELDS(...) (or NULL for none). */
#define log_event(level, msgid, fields, ...) \
        log_internal((level), 0, (msgid), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)
/* The same, with an errno appended and returned. */
#define log_event_errno(level, r, msgid, fields, ...) \
        log_internal((level), (r), (msgid), (fields), __FILE__, __LINE__, __func__, __VA_ARGS__)
