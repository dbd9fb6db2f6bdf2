/* SPDX-License-Identifier: MIT */
/* The dashboard of the HTTP API: GET / and its script and style sheet,
 * compiled into chuted from dashboard/ (daemon/dashboard-assets.c, made by
 * xxd at build time), served without the token and under a strict CSP. */
#pragma once

#include <stdbool.h>

#include <event2/http.h>

/* Answer req when it asks for a page of the dashboard; false when it does not. */
bool http_dashboard_serve(struct evhttp_request *req);
