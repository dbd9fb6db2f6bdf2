/* SPDX-License-Identifier: MIT */
/* log-level: report or change the log level at run time. */
#include "parse.h"

#include <stdlib.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl.h"
#include "log.h"

void cmd_log_level(struct request *r)
{
        _cleanup_free_ char *level = NULL;
        if (msg_map_get_text_dup(&r->args, CTL_KEY_LEVEL, &level) >= 0) {
                int l = parse_log_level(level);
                if (l < 0) {
                        request_error(r, CTL_STATUS_BAD_REQUEST, "unknown log level \"%s\" (err, warning, notice, info, debug)",
                                      level);
                        return;
                }
                log_set_level(l);
                log_notice("Log level set to %s", log_level_to_string(l));
        }
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_text(&b, CTL_KEY_LEVEL, log_level_to_string(log_get_level()));
        request_reply(r, m);
}
