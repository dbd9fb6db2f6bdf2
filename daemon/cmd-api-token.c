/* SPDX-License-Identifier: MIT */
/* api-token: the HTTP API's bearer token, after making a new one when
 * asked (the old one stops working at once). Owner only: the token gives
 * the owner's rights. */
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "http-api.h"

void cmd_api_token(struct request *r)
{
        bool rotate = false;
        const char *token;

        msg_map_get_bool(&r->args, CTL_KEY_ROTATE, &rotate);
        if (r->principal.token && rotate) {
                request_error(r, CTL_STATUS_DENIED, "the token is rotated over the control socket only");
                return;
        }
        int k = r->daemon->http_api ? http_api_token(r->daemon->http_api, rotate, &token) : -ENOENT;
        if (k < 0) {
                request_error_errno(r, k, "cannot %s the API token", rotate ? "rotate" : "read");
                return;
        }
        struct msg *m = request_result(r);
        if (m) {
                msg_set_secret(m);
                struct msg_map b = msg_body(m);
                msg_map_set_text(&b, CTL_KEY_TOKEN, token);
        }
        request_reply(r, m);
}
