/* SPDX-License-Identifier: MIT */
/* The command table and dispatch; see commands.h. */
#include "commands.h"

#include "cleanup.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"

static const struct command commands[] = {
        {CTL_TYPE_STATUS, cmd_status, true},
        {CTL_TYPE_VERSION, cmd_version, true},
        {CTL_TYPE_ID, cmd_id, true},
        {CTL_TYPE_KEY_EXPORT, cmd_key_export, false},
        {CTL_TYPE_KEY_IMPORT, cmd_key_import, false},
        {CTL_TYPE_LOG_LEVEL, cmd_log_level, false},
        {CTL_TYPE_ADD, cmd_add, false},
        {CTL_TYPE_REMOVE, cmd_remove, false},
        {CTL_TYPE_PATHS, cmd_paths, true},
        {CTL_TYPE_SNAPSHOT, cmd_snapshot, false},
        {CTL_TYPE_SNAPSHOTS, cmd_snapshots, true},
        {CTL_TYPE_LS, cmd_ls, true},
        {CTL_TYPE_CAT, cmd_cat, false},
        {CTL_TYPE_DIFF, cmd_diff, true},
        {CTL_TYPE_RESTORE, cmd_restore, false},
        {CTL_TYPE_FORGET, cmd_forget, false},
};

/* The requests a daemon started with --no-key answers before key import. */
static bool commands_work_without_key(uint32_t type)
{
        return type == CTL_TYPE_STATUS || type == CTL_TYPE_VERSION || type == CTL_TYPE_KEY_IMPORT ||
               type == CTL_TYPE_LOG_LEVEL;
}

void commands_dispatch(struct request *r)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (commands[i].type == r->type) {
                        log_debug("Request %s (id %llu) from uid %u", msg_type_name(&ctl_schema, r->type),
                                  (unsigned long long)r->reqid, (unsigned)r->uid);
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
