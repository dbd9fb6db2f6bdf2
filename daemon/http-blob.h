/* SPDX-License-Identifier: MIT */
/* The parachute blob interface of the HTTP API: the /chute/blob/ routes
 * (http-blob.c) over the blob store (blob.c). Auth, the Host check and the
 * connection cap are http-api.c's, as for /v1. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <event2/http.h>

struct http_api;

/* One PUT body is held in memory before it is written: a larger file goes
 * up in several ranged or windowed PUTs. evhttp refuses a longer
 * Content-Length with 413 before reading the body. */
#define HTTP_BLOB_MAX_PUT (8 * 1024 * 1024)
/* The largest window GET .../{chunk-bytes}/{n}/hash/sha256 hashes. */
#define HTTP_BLOB_MAX_HASH_WINDOW (64 * 1024 * 1024)

/* True when path is under /chute/blob. */
bool http_blob_route(const char *path);
/* The body limit of a request for path with method. */
uint64_t http_blob_body_limit(enum evhttp_cmd_type method, const char *path);
/* Answer an authorised request under /chute/blob. */
void http_blob_handle(struct http_api *api, struct evhttp_request *req, const char *path);
