/* SPDX-License-Identifier: MIT */
/* GET /metrics: the Prometheus text exposition (format 0.0.4) of a status
 * RESULT, the same reply chutectl status gets: names chute_*, units in the
 * names, _total for counters, roots and stores as labels. Only renders;
 * the request runs through commands_dispatch like any other. */
#include "http-metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-json.h"
#include "ctl.h"

/* A label value: UTF-8 kept, \ " and newline escaped, other bytes as U+FFFD. */
static void label(FILE *f, const uint8_t *p, size_t len)
{
        fputc('"', f);
        for (size_t i = 0; i < len; i++) {
                uint8_t c = p[i];
                size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                bool ok = n > 0 && i + n <= len && !(n == 2 && c < 0xc2);
                for (size_t j = 1; ok && j < n; j++)
                        ok = (p[i + j] & 0xc0) == 0x80;
                if (!ok) {
                        fputs("\xef\xbf\xbd", f);
                        continue;
                }
                if (c == '\\' || c == '"')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else
                        fwrite(p + i, 1, n, f);
                i += n - 1;
        }
        fputc('"', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of key from map, when the map has it. */
static void sample(FILE *f, const char *name, const char *label_name, const uint8_t *lv, size_t lv_len,
                   const struct msg_map *map, uint32_t key)
{
        uint64_t u;
        int64_t i;
        bool b;
        double v;

        bool time = ctl_json_key_is_time(key); /* ns since the epoch, as ctl.def says */

        if (time && msg_map_get_int(map, key, &i) >= 0)
                v = (double)i / 1e9;
        else if (time)
                return;
        else if (msg_map_get_uint(map, key, &u) >= 0)
                v = (double)u;
        else if (msg_map_get_int(map, key, &i) >= 0)
                v = (double)i;
        else if (msg_map_get_bool(map, key, &b) >= 0)
                v = b;
        else
                return;
        fputs(name, f);
        if (label_name) {
                fprintf(f, "{%s=", label_name);
                label(f, lv, lv_len);
                fputc('}', f);
        }
        if (time)
                fprintf(f, " %.3f\n", v);
        else
                fprintf(f, " %.0f\n", v);
}

struct family {
        const char *name, *type, *help;
        uint32_t key;
};

static void per_item(FILE *f, const struct msg_map *body, uint32_t list, uint32_t name_key, const char *label_name,
                     const struct family *fams, size_t n_fams)
{
        size_t n = 0;

        msg_map_get_count(body, list, &n);
        for (size_t k = 0; k < n_fams; k++) {
                head(f, fams[k].name, fams[k].type, fams[k].help);
                for (size_t i = 0; i < n; i++) {
                        struct msg_map item;
                        const uint8_t *lv = NULL;
                        const char *t;
                        size_t len = 0;
                        if (msg_map_get_map_at(body, list, i, &item) < 0)
                                continue;
                        if (msg_map_get_bytes(&item, name_key, &lv, &len) < 0 &&
                            msg_map_get_text(&item, name_key, &t, &len) >= 0)
                                lv = (const uint8_t *)t;
                        if (lv)
                                sample(f, fams[k].name, label_name, lv, len, &item, fams[k].key);
                }
        }
}

/* chute_snapshot_duration_seconds: the status reply's cumulative counts per
 * bucket (bounds DAEMON_DURATION_BUCKETS, then +Inf) and their sum. */
static void histogram(FILE *f, const struct msg_map *body)
{
        static const char *const le[] = { "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "1800", "+Inf" };
        const char *name = "chute_snapshot_duration_seconds";
        uint64_t ms = 0, v = 0;
        size_t n = 0;

        if (msg_map_get_count(body, CTL_KEY_SNAPSHOT_DURATIONS, &n) < 0 || n != sizeof(le) / sizeof(le[0]))
                return;
        head(f, name, "histogram", "How long the snapshots taken since chuted started took.");
        for (size_t i = 0; i < n; i++) {
                if (msg_map_get_uint_at(body, CTL_KEY_SNAPSHOT_DURATIONS, i, &v) < 0)
                        return;
                fprintf(f, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, le[i], v);
        }
        msg_map_get_uint(body, CTL_KEY_SNAPSHOT_MS, &ms);
        fprintf(f, "%s_sum %.3f\n%s_count %" PRIu64 "\n", name, (double)ms / 1000, name, v);
}

int http_metrics_render(struct msg *status, char **ret, size_t *ret_len)
{
        static const struct family daemon[] = {
                { "chute_uptime_seconds", "gauge", "Seconds since chuted started.", CTL_KEY_UPTIME },
                { "chute_pending_changes", "gauge", "Changes seen and not yet in a snapshot, all roots.", CTL_KEY_PENDING },
                { "chute_objects", "gauge", "Objects in the repository.", CTL_KEY_OBJECTS },
                { "chute_packs", "gauge", "Packs in the repository.", CTL_KEY_PACKS },
                { "chute_stored_bytes", "gauge", "Bytes of all packs.", CTL_KEY_BYTES },
                { "chute_padding_bytes", "gauge", "Of those, size-class padding.", CTL_KEY_PADDING_BYTES },
                { "chute_snapshots", "gauge", "Snapshots in the repository.", CTL_KEY_SNAPSHOT_COUNT },
                { "chute_local_packs", "gauge", "Packs kept on this node.", CTL_KEY_LOCAL_PACKS },
                { "chute_local_bytes", "gauge", "Bytes of the packs kept on this node.", CTL_KEY_LOCAL_BYTES },
                { "chute_evicted_packs", "gauge", "Packs only on stores (local_copy = cache).", CTL_KEY_EVICTED },
                { "chute_evicted_bytes", "gauge", "Bytes of the packs only on stores.", CTL_KEY_EVICTED_BYTES },
                { "chute_snapshots_taken_total", "counter", "Snapshots taken since chuted started.",
                  CTL_KEY_SNAPSHOTS_TAKEN },
                { "chute_snapshots_failed_total", "counter", "Snapshots that failed since chuted started.",
                  CTL_KEY_SNAPSHOTS_FAILED },
                { "chute_scanned_bytes_total", "counter", "File bytes in the snapshots taken since chuted started.",
                  CTL_KEY_BYTES_SCANNED },
                { "chute_new_bytes_total", "counter", "Bytes those snapshots added to the repository.", CTL_KEY_BYTES_NEW },
                { "chute_file_errors_total", "counter", "Files a snapshot left out or took as read, since chuted started.",
                  CTL_KEY_FILE_ERRORS },
                { "chute_peer_incoming_connections", "gauge",
                  "Connections peers hold to this node now (its own to stores: chute_store_connected).",
                  CTL_KEY_PEER_CONNECTIONS },
                { "chute_prune_forgotten_snapshots", "gauge", "Snapshots forgotten since the last prune.",
                  CTL_KEY_PRUNE_FORGOTTEN },
                { "chute_prune_last_timestamp_seconds", "gauge", "When the last prune finished.", CTL_KEY_PRUNE_LAST },
                { "chute_prune_condemned_packs", "gauge", "Packs a running prune has marked for deletion.",
                  CTL_KEY_CONDEMNED_PACKS },
                { "chute_prune_deletes_queued", "gauge", "Pruned packs stores (or this node) still have to delete.",
                  CTL_KEY_DELETES_QUEUED },
                { "chute_prune_deletes_queued_bytes", "gauge", "Their bytes.", CTL_KEY_DELETES_QUEUED_BYTES },
        };
        static const struct family roots[] = {
                { "chute_root_pending_changes", "gauge", "Changes seen and not yet in a snapshot.", CTL_KEY_PENDING },
                { "chute_root_watches", "gauge", "inotify watches held for the root.", CTL_KEY_WATCHES },
                { "chute_root_last_snapshot_timestamp_seconds", "gauge", "Time of the root's last snapshot.",
                  CTL_KEY_TIME },
        };
        static const struct family stores[] = {
                { "chute_store_connected", "gauge", "1 when the store's connection is up.", CTL_KEY_CONNECTED },
                { "chute_store_pending_packs", "gauge", "Packs not yet on the store.", CTL_KEY_PENDING },
                { "chute_store_pending_bytes", "gauge", "Bytes of the packs not yet on the store.", CTL_KEY_PENDING_BYTES },
                { "chute_store_packs", "gauge", "Packs the store holds.", CTL_KEY_PACKS },
                { "chute_store_bytes", "gauge", "Bytes of the packs the store holds.", CTL_KEY_BYTES },
                { "chute_store_verified_packs", "gauge", "Packs the store proved it holds.", CTL_KEY_VERIFIED },
                { "chute_store_uploaded_bytes_total", "counter", "Bytes sent to the store since chuted started.",
                  CTL_KEY_UPLOADED },
                { "chute_store_requests_total", "counter", "HTTP requests an S3 store made since chuted started.",
                  CTL_KEY_REQUESTS },
                { "chute_store_retries_total", "counter", "Of those, retries after a failure.", CTL_KEY_RETRIES },
                { "chute_store_used_bytes", "gauge", "Bytes the store says this node uses there.", CTL_KEY_USED },
                { "chute_store_quota_bytes", "gauge", "The quota the store grants this node.", CTL_KEY_QUOTA },
                { "chute_store_last_verified_timestamp_seconds", "gauge", "Time of the store's last good proof.",
                  CTL_KEY_VERIFIED_AT },
        };
        struct msg_map body = msg_body(status);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t k = 0; k < sizeof(daemon) / sizeof(daemon[0]); k++) {
                if (!msg_map_get_item(&body, daemon[k].key))
                        continue;
                head(f, daemon[k].name, daemon[k].type, daemon[k].help);
                sample(f, daemon[k].name, NULL, NULL, 0, &body, daemon[k].key);
        }
        histogram(f, &body);
        per_item(f, &body, CTL_KEY_ROOTS, CTL_KEY_PATH, "root", roots, sizeof(roots) / sizeof(roots[0]));
        per_item(f, &body, CTL_KEY_STORES, CTL_KEY_NAME, "store", stores, sizeof(stores) / sizeof(stores[0]));
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
