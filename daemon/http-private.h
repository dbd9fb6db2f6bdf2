/* SPDX-License-Identifier: MIT */
/* What http-api.c (server, auth, limits) and http-routes.c (the /v1
 * resources) share: the server, one call (an HTTP request in flight as a
 * control request) and the JSON replies. Not for other files. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "api-token.h"
#include "request.h"

#define HTTP_MAX_BODY (1024 * 1024)

struct listener_pause;

struct http_api {
        struct daemon *daemon;
        struct evhttp *http;
        struct evconnlistener *listener;
        struct listener_pause *pause; /* after an accept error */
        char token[API_TOKEN_LEN + 1];
        char host[64];          /* the bound "ADDRESS:PORT" */
        unsigned port;
        /* connections that sent a request, and the call each is answering */
        struct http_conn_slot { struct evhttp_connection *conn; struct http_call *call; } *conns;
        size_t n_conns;
        uint64_t next_reqid;
        /* jobs (http-jobs.c), newest first */
        struct http_job *jobs;
        unsigned n_jobs;
        uint64_t next_job;
        struct blob_store *blobs;   /* /chute/blob/ (http-blob.c); NULL when it cannot open */
};

/* One HTTP request being answered by a control request. */
struct http_call {
        struct http_api *api;
        struct evhttp_request *req;  /* NULL once the connection closed */
        struct request *r;
        int route;                   /* HTTP_ROUTE_* of http-routes.c */
        json_t *items;               /* DATA items collected (snapshots; a one-message listing) */
        size_t n_streamed;           /* entries of a listing sent so far */
        /* paging of GET /v1/snapshots */
        char *after;
        uint64_t limit;
        bool after_seen; /* snapshots: the item after= names went by; those after it are kept */
        bool more;       /* snapshots: items past the page went by (dropped) */
        /* file download */
        bool started, head_done, discard;
        bool ranged;
        uint64_t range_start, range_end; /* inclusive, after the first DATA */
        uint64_t pos;                    /* bytes of the file seen so far */
        char *range, *if_none_match;
        /* an event stream of a job (http-jobs.c) */
        struct http_job *job;
        struct http_call *next_event;
};

/* Send {"error": code, "message": text} with status. */
void http_send_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Send doc (taken) as JSON with status. */
void http_send_json(struct evhttp_request *req, int status, json_t *doc);
/* evhttp_send_reply with the output buffer as the body; to a HEAD, the
 * headers only, with the Content-Length the body has (evhttp 2.1 would
 * send the body after a HEAD's headers, and a keep-alive client would read
 * it as the start of the next response). */
void http_send_reply(struct evhttp_request *req, int status, const char *reason);
/* One byte range as a Range header writes it: "bytes=A-B" (B >= A),
 * "bytes=A-" (last = UINT64_MAX) or "bytes=-N" (suffix, last = N); decimal
 * digits only. */
struct http_range {
        uint64_t first, last;
        bool suffix;
};
/* 1 when h is exactly one such range, 0 otherwise (several ranges, another
 * unit, a sign, blanks, B < A, an overflow: the header is then ignored). */
int http_range_syntax(const char *h, struct http_range *ret);
/* Parse h against size: 1 ranged, 0 ignore the header (see
 * http_range_syntax), -ERANGE unsatisfiable. */
int http_parse_range(const char *h, uint64_t size, uint64_t *ret_start, uint64_t *ret_end);
/* True when an If-None-Match header matches etag (or is "*"). */
bool http_etag_matches(const char *header, const char *etag);
/* Route an authorised request: build the control message and dispatch it. */
void http_routes_handle(struct http_api *api, struct evhttp_request *req);
/* The HTTP status for a CTL_STATUS_*. */
int http_status_of(uint64_t ctl_status);
/* The JSON body of a request, or NULL when it has none; -EINVAL after answering 400. */
int http_read_body(struct evhttp_request *req, json_t **ret);
/* Free a call that is not (or no longer) running a request. */
void http_call_free(struct http_call *c);
/* The call's request is over: detach it from its connection. */
void http_call_end(struct http_call *c);
/* c answers on conn now: a close of conn cancels it (http_call_closed). */
void http_api_attach(struct http_api *api, struct evhttp_connection *conn, struct http_call *c);
/* The connection of c closed under it. */
void http_call_closed(struct http_call *c);
