/* SPDX-License-Identifier: MIT */
/* The HTTP API server: the listener and its connection cap, evhttp with
 * body size and timeouts, the Host check (DNS rebinding), the bearer token
 * and JSON errors. What each resource does is http-routes.c's. */
#include "http-api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "ctl-json.h"
#include "blob.h"
#include "daemon.h"
#include "http-blob.h"
#include "http-dashboard.h"
#include "http-jobs.h"
#include "http-private.h"
#include "listener-pause.h"
#include "log.h"

void http_send_reply(struct evhttp_request *req, int status, const char *reason)
{
        struct evbuffer *out = evhttp_request_get_output_buffer(req);

        if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
                struct evkeyvalq *h = evhttp_request_get_output_headers(req);
                char len[32];
                snprintf(len, sizeof(len), "%zu", evbuffer_get_length(out));
                if (!evhttp_find_header(h, "Content-Length"))
                        evhttp_add_header(h, "Content-Length", len);
                evbuffer_drain(out, evbuffer_get_length(out));
        }
        evhttp_send_reply(req, status, reason, NULL);
}

void http_send_json(struct evhttp_request *req, int status, json_t *doc)
{
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        char *text = NULL;
        size_t len = 0;

        if (!doc || ctl_json_dump(doc, &text, &len) < 0) {
                json_decref(doc);
                evhttp_send_error(req, 500, NULL);
                return;
        }
        json_decref(doc);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evbuffer_add(out, text, len);
        free(text);
        http_send_reply(req, status, NULL);
}

void http_send_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
        char text[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        http_send_json(req, status, json_pack("{s:s, s:s}", "error", code, "message", text));
}

/* The Host header names us: the bound address with its port, or localhost
 * (with or without our port). Anything else may be a rebound DNS name. */
static bool host_ok(struct http_api *api, const char *host)
{
        char port[16];

        if (!host)
                return false;
        snprintf(port, sizeof(port), ":%u", api->port);
        if (!strcmp(host, api->host))
                return true;
        if (!strcasecmp(host, "localhost"))
                return true;
        size_t n = strlen("localhost");
        return !strncasecmp(host, "localhost", n) && !strcmp(host + n, port);
}

static bool token_ok(struct http_api *api, const char *auth)
{
        static const char prefix[] = "Bearer ";
        unsigned char diff = 0;

        if (!auth || strncmp(auth, prefix, sizeof(prefix) - 1) != 0)
                return false;
        auth += sizeof(prefix) - 1;
        if (strlen(auth) != API_TOKEN_LEN)
                return false;
        for (size_t i = 0; i < API_TOKEN_LEN; i++) /* constant time */
                diff |= (unsigned char)(auth[i] ^ api->token[i]);
        return diff == 0;
}

static struct http_conn_slot *conn_slot(struct http_api *api, struct evhttp_connection *conn)
{
        for (size_t i = 0; i < api->n_conns; i++)
                if (api->conns[i].conn == conn)
                        return &api->conns[i];
        return NULL;
}

static void conn_closed(struct evhttp_connection *conn, void *arg)
{
        struct http_api *api = arg;
        struct http_conn_slot *s = conn_slot(api, conn);

        if (!s)
                return;
        struct http_call *c = s->call;
        *s = api->conns[--api->n_conns];
        if (c)
                http_call_closed(c);
}

void http_api_attach(struct http_api *api, struct evhttp_connection *conn, struct http_call *c)
{
        struct http_conn_slot *s = conn_slot(api, conn);

        if (s)
                s->call = c;
}

/* The connection cap: a connection counts from its first authorized
 * request until it closes; one over the cap gets a 503 and is closed.
 * Idle ones that never send a request are closed by evhttp's timeout. */
static bool conn_admit(struct http_api *api, struct evhttp_request *req)
{
        struct evhttp_connection *conn = evhttp_request_get_connection(req);

        if (conn_slot(api, conn))
                return true;
        if (api->n_conns >= (size_t)api->daemon->config.api_max_clients) {
                log_debug("HTTP API: refused a connection, %zu are open", api->n_conns);
                evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
                http_send_error(req, 503, "busy", "too many connections (max_clients = %d), try again later",
                                api->daemon->config.api_max_clients);
                return false;
        }
        api->conns[api->n_conns++] = (struct http_conn_slot){ .conn = conn };
        evhttp_connection_set_closecb(conn, conn_closed, api);
        return true;
}

static void http_cb(struct evhttp_request *req, void *arg)
{
        struct http_api *api = arg;
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        const char *length = evhttp_find_header(h, "Content-Length");

        /* refused requests take no connection slot and close theirs: a
         * client without the token cannot hold the slots a real one needs */
        if (!host_ok(api, evhttp_find_header(h, "Host"))) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
                http_send_error(req, 403, "forbidden", "the Host header must be %s or localhost", api->host);
                return;
        }
        /* the dashboard's page asks for the token itself (after the Host
         * check: a rebound name gets no page to run in our origin) */
        if (http_dashboard_serve(req))
                return;
        const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
        bool open_metrics = api->daemon->config.api_metrics_public && path && !strcmp(path, "/metrics");
        if (!open_metrics && !token_ok(api, evhttp_find_header(h, "Authorization"))) {
                evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
                evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
                http_send_error(req, 401, "unauthorized",
                                "a valid \"Authorization: Bearer TOKEN\" header is required (chutectl api-token)");
                return;
        }
        if (!conn_admit(api, req))
                return;
        /* evhttp refused bodies over the largest limit (a blob PUT's) before
         * reading them; the other routes take less, whether the body came
         * with a Content-Length or chunked (then only its length tells) */
        uint64_t limit = http_blob_body_limit(evhttp_request_get_command(req), path);
        if ((length && strtoull(length, NULL, 10) > limit) ||
            evbuffer_get_length(evhttp_request_get_input_buffer(req)) > limit) {
                http_send_error(req, 413, "too-large", "request bodies here are limited to %" PRIu64 " bytes", limit);
                return;
        }
        http_routes_handle(api, req);
}

int http_api_token(struct http_api *api, bool rotate, const char **ret)
{
        if (rotate) {
                char fresh[API_TOKEN_LEN + 1];
                int k = api_token_rotate(api->daemon->config.state_dir, fresh);
                if (k < 0)
                        return log_error_errno(k, "Cannot write a new API token in %s", api->daemon->config.state_dir);
                memcpy(api->token, fresh, sizeof(fresh)); /* the old one stops working now */
                log_notice("The HTTP API token was rotated");
        }
        *ret = api->token;
        return 0;
}

static int http_api_listen(struct http_api *api)
{
        const char *spec = api->daemon->config.api_listen;
        struct sockaddr_in sin = { .sin_family = AF_INET };
        const char *colon = strrchr(spec, ':');
        char addr[INET_ADDRSTRLEN];

        if (!colon || (size_t)(colon - spec) >= sizeof(addr))
                return log_error_errno(-EINVAL, "[api] listen = %s is not IPV4:PORT", spec);
        memcpy(addr, spec, (size_t)(colon - spec));
        addr[colon - spec] = '\0';
        api->port = (unsigned)strtoul(colon + 1, NULL, 10);
        if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 || api->port == 0 || api->port > 65535)
                return log_error_errno(-EINVAL, "[api] listen = %s is not IPV4:PORT (the API speaks IPv4 only)", spec);
        sin.sin_port = htons((uint16_t)api->port);
        snprintf(api->host, sizeof(api->host), "%s:%u", addr, api->port);
        api->conns = calloc((size_t)api->daemon->config.api_max_clients + 1, sizeof(*api->conns));
        api->http = evhttp_new(api->daemon->base);
        if (!api->conns || !api->http)
                return log_oom();
        evhttp_set_max_body_size(api->http, MAX(HTTP_MAX_BODY, HTTP_BLOB_MAX_PUT));
        evhttp_set_max_headers_size(api->http, 16384);
        /* a client slow to send its request or to take the reply is cut off */
        uint64_t timeout_s = api->daemon->config.api_timeout_ns / 1000000000;
        evhttp_set_timeout(api->http, timeout_s ? (int)MIN(timeout_s, (uint64_t)INT32_MAX) : 1);
        /* the ones a resource may refuse with a JSON 405; others get evhttp's 501 */
        evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                                      EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                                      EVHTTP_REQ_OPTIONS);
        evhttp_set_gencb(api->http, http_cb, api);
        api->listener = evconnlistener_new_bind(api->daemon->base, NULL, NULL,
                                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                                64, (struct sockaddr *)&sin, sizeof(sin));
        if (!api->listener)
                return log_error_errno(-errno, "Cannot listen for the HTTP API on %s, going on without it", spec);
        if (!evhttp_bind_listener(api->http, api->listener)) {
                evconnlistener_free(api->listener);
                api->listener = NULL;
                return log_oom();
        }
        if (listener_pause_new(api->daemon->base, api->listener, "HTTP API", &api->pause) < 0)
                return log_oom();
        log_info("HTTP API on http://%s/v1/", api->host);
        return 0;
}

int http_api_new(struct daemon *d, struct http_api **ret)
{
        struct http_api *api = calloc(1, sizeof(*api));

        if (!api)
                return log_oom();
        api->daemon = d;
        int k = api_token_load(d->config.state_dir, api->token);
        if (k == -EBADMSG) {
                log_warning("The API token file in %s holds no token, making a new one", d->config.state_dir);
                k = api_token_rotate(d->config.state_dir, api->token);
        }
        if (k < 0) {
                free(api);
                return log_error_errno(k, "Cannot read or make the API token in %s", d->config.state_dir);
        }
        if (d->config.api_listen) {
                http_api_listen(api); /* logged; the daemon goes on without the API */
                k = blob_store_new(d, &api->blobs);
                if (k >= 0) /* the blob root becomes a root with the first complete blob */
                        k = blob_store_start(api->blobs);
                if (k < 0 && !api->blobs)
                        log_warning_errno(k, "Cannot open the blob store in %s, /chute/blob/ answers 503",
                                          d->config.state_dir);
                else if (k < 0 && k != -EAGAIN)
                        log_warning_errno(k, "Cannot add the blob root in %s, trying again with the next blob",
                                          d->config.state_dir);
        }
        *ret = api;
        return 0;
}

void http_api_free(struct http_api *api)
{
        if (!api)
                return;
        http_jobs_free_all(api); /* ends their event streams while the connections are there */
        listener_pause_free(api->pause);
        if (api->http) /* frees the listener bound to it */
                evhttp_free(api->http);
        blob_store_free(api->blobs);
        free(api->conns);
        explicit_bzero(api->token, sizeof(api->token));
        free(api);
}
