/* SPDX-License-Identifier: MIT */
/* The request handlers, one per control request type, in one table that
 * every front end (control socket, HTTP API) dispatches through. Each
 * handler lives in its own daemon/cmd-*.c file. */
#pragma once

#include <stdbool.h>

#include "request.h"

/* Who may make a request, among those the control socket admits (root,
 * chuted's user, members of socket_group). */
enum command_access {
        COMMAND_READ,  /* reads state; may be allowed to wider audiences */
        COMMAND_WRITE, /* changes state: anyone admitted */
        COMMAND_OWNER, /* the master secret: root and chuted's own user only */
};

struct command {
        uint32_t type;          /* CTL_TYPE_* */
        void (*run)(struct request *r);
        enum command_access access;
};

/* Find the handler for r's type and run it when r->uid may; answers
 * UNSUPPORTED when there is none, DENIED when r->uid may not. */
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
void cmd_prune(struct request *r);
void cmd_stores(struct request *r);
void cmd_verify(struct request *r);
void cmd_check(struct request *r);   /* VERIFY without STORE */
void cmd_reindex(struct request *r);
void cmd_recover(struct request *r);
void cmd_peers(struct request *r);
void cmd_peer_add(struct request *r);
void cmd_peer_remove(struct request *r);
void cmd_peer_approve(struct request *r);
void cmd_store_add(struct request *r);
void cmd_store_remove(struct request *r);
void cmd_peer_set(struct request *r);
void cmd_api_token(struct request *r);
