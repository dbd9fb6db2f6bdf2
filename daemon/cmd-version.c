/* SPDX-License-Identifier: MIT */
/* version: chuted's package version and control protocol version. */
#include "commands.h"
#include "ctl.h"

void cmd_version(struct request *r)
{
        struct msg *m = request_result(r);
        if (!m)
                return;
        struct msg_map b = msg_body(m);
        msg_map_set_text(&b, CTL_KEY_VERSION, PACKAGE_VERSION);
        msg_map_set_uint(&b, CTL_KEY_PROTOCOL, CTL_PROTOCOL_VERSION);
        request_reply(r, m);
}
