/* SPDX-License-Identifier: MIT */
/* id: this node's id (SHA-256 of its certificate) and host name. */
#include <unistd.h>

#include "commands.h"
#include "ctl.h"
#include "daemon.h"

void cmd_id(struct request *r)
{
        struct msg *m = request_result(r);
        char host[256] = "";
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_bytes(&b, CTL_KEY_ID, r->daemon->node_id, sizeof(r->daemon->node_id));
        gethostname(host, sizeof(host) - 1);
        msg_map_set_text(&b, CTL_KEY_NAME, host);
        request_reply(r, m);
}
