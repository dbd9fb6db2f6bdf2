/* SPDX-License-Identifier: MIT */
/* The [store NAME] sections of chuted.conf become rows of the stores table
 * at start: added when new, their config replaced when it changed (the
 * replica rows stay, so nothing is uploaded again). A section removed from
 * the file leaves its store: `chutectl store remove NAME` removes it. */
#include "store-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "store-s3-wire.h"
#include "store-s3.h"

static void sync_one(struct daemon *d, const struct settings_store *s)
{
        struct store_s3_config c = {0};
        _cleanup_free_ char *text = NULL;
        struct index_store row;
        char why[512];
        int r;

        r = store_s3_wire_config_parse(s->config, &c);
        if (r >= 0) {
                r = store_s3_check(&c, why, sizeof(why));
                if (r < 0)
                        log_error("[store %s] in %s: %s, ignoring the section", s->name, d->config.file,
                                  why);
        } else {
                log_error("[store %s] in %s cannot be read, ignoring the section", s->name, d->config.file);
        }
        if (r >= 0)
                r = store_s3_wire_config_format(&c, &text);
        store_s3_wire_config_done(&c);
        if (r < 0)
                return;
        r = index_store_find(d->index, s->name, &row);
        if (r == -ENOENT) {
                r = index_store_add(d->index, s->name, "s3", text, NULL);
                if (r >= 0)
                        log_info("Store %s added from %s", s->name, d->config.file);
        } else if (r >= 0) {
                if (strcmp(row.kind, "s3"))
                        log_error("[store %s] in %s: a %s store has that name, ignoring the section",
                                  s->name, d->config.file, row.kind);
                else if (strcmp(row.config, text)) {
                        r = index_store_set_config(d->index, row.id, text);
                        if (r >= 0)
                                log_info("Store %s: configuration updated from %s", s->name, d->config.file);
                }
                index_store_done(&row);
        }
        if (r < 0)
                log_error_errno(r, "Store %s: cannot record it in the index: %s", s->name,
                                index_last_error(d->index));
}

void store_config_sync(struct daemon *d)
{
        if (!d->index)
                return;
        for (size_t i = 0; i < d->config.n_stores; i++)
                sync_one(d, &d->config.stores[i]);
}
