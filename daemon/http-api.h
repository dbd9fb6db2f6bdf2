/* SPDX-License-Identifier: MIT */
/* The HTTP API (DESIGN.md §8): evhttp on [api] listen (IPv4, default
 * 127.0.0.1:2002), bearer token, Host check against DNS rebinding, body and
 * connection limits, JSON errors. Requests become control messages run by
 * commands_dispatch like the control socket's (routes: http-routes.c). */
#pragma once

#include <stdbool.h>

struct daemon;
struct http_api;

/* Load (or make) the token and listen when [api] listen is not none. A
 * listener that cannot bind is logged and left out: backups go on. */
int http_api_new(struct daemon *d, struct http_api **ret);
void http_api_free(struct http_api *api);
/* The token now in force (a new one first when rotate); -errno. */
int http_api_token(struct http_api *api, bool rotate, const char **ret);
