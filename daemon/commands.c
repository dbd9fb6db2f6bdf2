/* SPDX-License-Identifier: MIT */
/* The command table and dispatch; see commands.h. */
#include "commands.h"

#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"

static const struct command commands[] = {
        {CTL_TYPE_STATUS, cmd_status, COMMAND_READ},
        {CTL_TYPE_VERSION, cmd_version, COMMAND_READ},
        {CTL_TYPE_ID, cmd_id, COMMAND_READ},
        {CTL_TYPE_KEY_EXPORT, cmd_key_export, COMMAND_OWNER},
        {CTL_TYPE_KEY_IMPORT, cmd_key_import, COMMAND_OWNER},
        {CTL_TYPE_LOG_LEVEL, cmd_log_level, COMMAND_WRITE},
        {CTL_TYPE_ADD, cmd_add, COMMAND_WRITE},
        {CTL_TYPE_REMOVE, cmd_remove, COMMAND_WRITE},
        {CTL_TYPE_PATHS, cmd_paths, COMMAND_READ},
        {CTL_TYPE_SNAPSHOT, cmd_snapshot, COMMAND_WRITE},
        {CTL_TYPE_SNAPSHOTS, cmd_snapshots, COMMAND_READ},
        {CTL_TYPE_LS, cmd_ls, COMMAND_READ},
        {CTL_TYPE_CAT, cmd_cat, COMMAND_WRITE},
        {CTL_TYPE_DIFF, cmd_diff, COMMAND_READ},
        {CTL_TYPE_RESTORE, cmd_restore, COMMAND_WRITE},
        {CTL_TYPE_FORGET, cmd_forget, COMMAND_WRITE},
        {CTL_TYPE_PRUNE, cmd_prune, COMMAND_WRITE},
        {CTL_TYPE_STORES, cmd_stores, COMMAND_READ},
        {CTL_TYPE_VERIFY, cmd_verify, COMMAND_WRITE},
        {CTL_TYPE_PEERS, cmd_peers, COMMAND_READ},
        /* who may keep packs here and where ours go: the owner's decision */
        {CTL_TYPE_PEER_ADD, cmd_peer_add, COMMAND_OWNER},
        {CTL_TYPE_PEER_REMOVE, cmd_peer_remove, COMMAND_OWNER},
        {CTL_TYPE_PEER_APPROVE, cmd_peer_approve, COMMAND_OWNER},
        {CTL_TYPE_STORE_ADD, cmd_store_add, COMMAND_OWNER},
        {CTL_TYPE_STORE_REMOVE, cmd_store_remove, COMMAND_OWNER},
        {CTL_TYPE_PEER_SET, cmd_peer_set, COMMAND_OWNER},
        /* rebuilds the index from a store: the owner's, like key import */
        {CTL_TYPE_RECOVER, cmd_recover, COMMAND_OWNER},
        {CTL_TYPE_REINDEX, cmd_reindex, COMMAND_OWNER},
        /* the HTTP API's token carries the owner's rights */
        {CTL_TYPE_API_TOKEN, cmd_api_token, COMMAND_OWNER},
};

/* The requests a daemon started with --no-key answers before key import. */
static bool commands_work_without_key(uint32_t type)
{
        return type == CTL_TYPE_STATUS || type == CTL_TYPE_VERSION || type == CTL_TYPE_KEY_IMPORT ||
               type == CTL_TYPE_LOG_LEVEL || type == CTL_TYPE_API_TOKEN;
}

static bool allowed(const struct command *c, struct principal who)
{
        if (c->access != COMMAND_OWNER)
                return true; /* the front end admitted the caller */
        return who.uid == 0 || who.uid == getuid(); /* the token holder is chuted's own user */
}

void commands_dispatch(struct request *r)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (commands[i].type == r->type) {
                        const char *name = msg_type_name(&ctl_schema, r->type);
                        char who[32];
                        log_debug("Request %s (id %llu) from %s", name, (unsigned long long)r->reqid,
                                  principal_name(r->principal, who));
                        if (!allowed(&commands[i], r->principal)) {
                                log_notice("Refused %s to %s: only root and chuted's user (uid %u) may",
                                           name, who, (unsigned)getuid());
                                request_error(r, CTL_STATUS_DENIED,
                                              "permission denied: %s is only for root and chuted's own user, "
                                              "not for members of its group",
                                              name);
                                return;
                        }
                        if (!r->daemon->have_key && !commands_work_without_key(r->type)) {
                                request_error(r, CTL_STATUS_FAILED,
                                              "no key loaded: chuted was started with --no-key; load this "
                                              "node's recovery code with 'chutectl key import CODE'");
                                return;
                        }
                        commands[i].run(r);
                        return;
                }
        request_error(r, CTL_STATUS_UNSUPPORTED, "request \"%s\" is not supported by this chuted",
                      msg_type_name(&ctl_schema, r->type));
}
