/* SPDX-License-Identifier: MIT */
/* The request handlers, one per control request type, in one table that
 * every front end (control socket, HTTP API) dispatches through. Each
 * handler lives in its own daemon/cmd-*.c file. */
#pragma once

#include <stdbool.h>

#include "request.h"

struct command {
        uint32_t type;          /* CTL_TYPE_* */
        void (*run)(struct request *r);
        bool read_only;         /* may be allowed to wider audiences */
};

/* Find the handler for r's type and run it; answers UNSUPPORTED when none. */
void commands_dispatch(struct request *r);

/* Handlers (daemon/cmd-*.c). */
void cmd_status(struct request *r);
void cmd_version(struct request *r);
void cmd_id(struct request *r);
void cmd_key_export(struct request *r);
void cmd_key_import(struct request *r);
void cmd_log_level(struct request *r);
void cmd_add(struct request *r);
void cmd_remove(struct request *r);
void cmd_paths(struct request *r);
void cmd_snapshot(struct request *r);
void cmd_snapshots(struct request *r);
void cmd_ls(struct request *r);
void cmd_cat(struct request *r);
void cmd_diff(struct request *r);
void cmd_restore(struct request *r);
void cmd_forget(struct request *r);
