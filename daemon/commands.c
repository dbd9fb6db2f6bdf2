/* SPDX-License-Identifier: MIT */
/* The command table and dispatch; see commands.h. */
#include "commands.h"

#include "cleanup.h"
#include "ctl.h"
#include "log.h"

static const struct command commands[] = {
        {CTL_T_STATUS, cmd_status, true},
        {CTL_T_VERSION, cmd_version, true},
        {CTL_T_ID, cmd_id, true},
        {CTL_T_KEY_EXPORT, cmd_key_export, false},
        {CTL_T_KEY_IMPORT, cmd_key_import, false},
        {CTL_T_LOG_LEVEL, cmd_log_level, false},
        {CTL_T_ADD, cmd_add, false},
        {CTL_T_REMOVE, cmd_remove, false},
        {CTL_T_PATHS, cmd_paths, true},
        {CTL_T_SNAPSHOT, cmd_snapshot, false},
        {CTL_T_SNAPSHOTS, cmd_snapshots, true},
        {CTL_T_LS, cmd_ls, true},
        {CTL_T_CAT, cmd_cat, false},
        {CTL_T_DIFF, cmd_diff, true},
        {CTL_T_RESTORE, cmd_restore, false},
};

void commands_dispatch(struct request *r)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (commands[i].type == r->type) {
                        log_debug("Request %s (id %llu) from uid %u", msg_type_name(&ctl_schema, r->type),
                                  (unsigned long long)r->reqid, (unsigned)r->uid);
                        commands[i].run(r);
                        return;
                }
        request_error(r, CTL_S_UNSUPPORTED, "request \"%s\" is not supported by this chuted",
                      msg_type_name(&ctl_schema, r->type));
}
