/* SPDX-License-Identifier: MIT */
/* Jobs of the HTTP API: a long request (restore) started by POST answers
 * 202 at once and runs on; GET /v1/jobs/{id} shows its state, progress and
 * result, GET /v1/jobs/{id}/events streams them as Server-Sent Events. */
#pragma once

#include <stdbool.h>

#include <event2/http.h>

struct http_api;
struct http_call;

/* Answer req when path is /v1/restore or under /v1/jobs; false otherwise. */
bool http_jobs_handle(struct http_api *api, struct evhttp_request *req, const char *path);
/* An event stream's call is being freed: stop sending to it. */
void http_jobs_unsubscribe(struct http_call *c);
/* Cancel the running jobs and free them all (the API is going away). */
void http_jobs_free_all(struct http_api *api);
