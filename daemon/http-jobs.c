/* SPDX-License-Identifier: MIT */
/* Jobs of the HTTP API: POST /v1/restore runs the restore request of the
 * control socket (cmd-restore.c) with the job as its front end, answers 202
 * with the job's Location, and keeps its progress and its end for
 * GET /v1/jobs/{id} and the Server-Sent Events of /v1/jobs/{id}/events.
 *
 *   POST /v1/restore {snapshot, target, path?, overwrite?, verify?}
 *     -> 202 Location: /v1/jobs/7   {"id": "7", "state": "running", ...}
 *   GET /v1/jobs/7/events
 *     -> event: progress  data: {"id": "7", "state": "running", "progress": {...}}   (as it goes)
 *        event: done      data: {"id": "7", "state": "done", "result": {...}}         (then the end) */
#include "http-jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "commands.h"
#include "ctl-json.h"
#include "daemon.h"
#include "http-private.h"
#include "log.h"

#define HTTP_JOBS_MAX 16 /* kept at once: the oldest finished one goes first */

enum http_job_state { HTTP_JOB_RUNNING, HTTP_JOB_DONE, HTTP_JOB_FAILED };

struct http_job {
        struct http_job *next;
        struct http_api *api;
        uint64_t id;
        const char *kind;
        enum http_job_state state;
        uint64_t error_status; /* the CTL_STATUS_* of a failed one */
        struct request *r;     /* NULL once cancelled */
        json_t *progress, *result, *error;
        struct http_call *events; /* the streams following it */
};

static const char *state_name(enum http_job_state s)
{
        return s == HTTP_JOB_RUNNING ? "running" : s == HTTP_JOB_DONE ? "done" : "failed";
}

static json_t *job_doc(const struct http_job *job)
{
        char id[24];
        snprintf(id, sizeof(id), "%" PRIu64, job->id);
        json_t *doc = json_pack("{s:s, s:s, s:s}", "id", id, "kind", job->kind, "state", state_name(job->state));
        if (doc && job->progress)
                json_object_set(doc, "progress", job->progress);
        if (doc && job->result)
                json_object_set(doc, "result", job->result);
        if (doc && job->error)
                json_object_set(doc, "error", job->error);
        return doc;
}

/* One event to one stream: "event: NAME\ndata: JSON\n\n" (the JSON is one line). */
static void event_send(struct http_call *c, const char *name, const json_t *doc)
{
        char *text = NULL;
        size_t len = 0;
        struct evbuffer *buf = evbuffer_new();

        if (buf && doc && ctl_json_dump(doc, &text, &len) >= 0) {
                while (len > 0 && text[len - 1] == '\n')
                        len--;
                evbuffer_add_printf(buf, "event: %s\ndata: ", name);
                evbuffer_add(buf, text, len);
                evbuffer_add(buf, "\n\n", 2);
                evhttp_send_reply_chunk(c->req, buf);
        }
        free(text);
        if (buf)
                evbuffer_free(buf);
}

/* End a stream: the last chunk, then the call is freed. */
static void event_end(struct http_call *c)
{
        struct evhttp_request *req = c->req;
        http_call_end(c);
        if (req)
                evhttp_send_reply_end(req);
        http_call_free(c); /* unsubscribes */
}

static void job_publish(struct http_job *job)
{
        json_t *doc = job_doc(job);
        bool over = job->state != HTTP_JOB_RUNNING;

        for (struct http_call *c = job->events, *next; c; c = next) {
                next = c->next_event;
                if (c->req)
                        event_send(c, over ? "done" : "progress", doc);
                if (over)
                        event_end(c);
        }
        json_decref(doc);
}

void http_jobs_unsubscribe(struct http_call *c)
{
        for (struct http_call **p = &c->job->events; *p; p = &(*p)->next_event) {
                if (*p == c) {
                        *p = c->next_event;
                        break;
                }
        }
        c->job = NULL;
        c->next_event = NULL;
}

static void job_free(struct http_job *job)
{
        while (job->events)
                event_end(job->events);
        if (job->r) {
                struct request *r = job->r;
                job->r = NULL;
                request_cancel(r); /* the handler stops; what it sends goes nowhere */
                request_unref(r);
        }
        json_decref(job->progress);
        json_decref(job->result);
        json_decref(job->error);
        free(job);
}

/* ---- the job as the request's front end ---- */

static void job_send(struct request *r, struct msg *m, bool final)
{
        struct http_job *job = r->frontend;

        if (!job) {
                msg_free(m);
                return;
        }
        if (msg_type(m) == CTL_TYPE_ERROR) {
                struct msg_map b = msg_body(m);
                job->error_status = CTL_STATUS_INTERNAL;
                msg_map_get_uint(&b, CTL_KEY_STATUS, &job->error_status);
                job->error = ctl_json_from_msg(m);
                job->state = HTTP_JOB_FAILED;
        } else if (msg_type(m) == CTL_TYPE_PROGRESS) {
                json_decref(job->progress);
                job->progress = ctl_json_from_msg(m);
        } else if (final) {
                job->result = ctl_json_from_result(m, r->type);
                job->state = HTTP_JOB_DONE;
        }
        msg_free(m);
        if (final && job->state == HTTP_JOB_RUNNING)
                job->state = HTTP_JOB_FAILED; /* a final message that is neither */
        job_publish(job);
}

static size_t job_pending(struct request *r)
{
        (void)r;
        return 0; /* progress is kept, not queued */
}

static void job_release(struct request *r)
{
        (void)r; /* the job owns the request, not the other way round */
}

static const struct request_ops http_job_ops = {
        .send = job_send,
        .pending = job_pending,
        .release = job_release,
};

/* ---- the resources ---- */

static struct http_job *job_find(struct http_api *api, const char *id, size_t len)
{
        char *end;
        char text[24];

        if (len == 0 || len >= sizeof(text))
                return NULL;
        memcpy(text, id, len);
        text[len] = '\0';
        uint64_t n = strtoull(text, &end, 10);
        if (*end || text[0] < '0' || text[0] > '9')
                return NULL;
        for (struct http_job *job = api->jobs; job; job = job->next)
                if (job->id == n)
                        return job;
        return NULL;
}

/* Room for one more job: drop the oldest finished one when full. */
static bool jobs_make_room(struct http_api *api)
{
        if (api->n_jobs < HTTP_JOBS_MAX)
                return true;
        struct http_job **oldest = NULL;
        for (struct http_job **p = &api->jobs; *p; p = &(*p)->next)
                if ((*p)->state != HTTP_JOB_RUNNING)
                        oldest = p;
        if (!oldest)
                return false;
        struct http_job *job = *oldest;
        *oldest = job->next;
        api->n_jobs--;
        job_free(job);
        return true;
}

static void job_start(struct http_api *api, struct evhttp_request *req, uint32_t type, const char *kind)
{
        char err[256] = "", location[48];
        json_t *args = NULL;
        struct msg *m = NULL;

        if (http_read_body(req, &args) < 0)
                return;
        int k = ctl_json_to_msg(args, type, ++api->next_reqid, &m, err, sizeof(err));
        json_decref(args);
        if (k < 0) {
                if (k == -ENOMEM)
                        http_send_error(req, 500, "internal", "out of memory");
                else
                        http_send_error(req, 400, "bad-request", "%s", err);
                return;
        }
        struct http_job *job = calloc(1, sizeof(*job));
        if (!job || !jobs_make_room(api)) {
                msg_free(m);
                if (job)
                        http_send_error(req, 503, "busy", "%d jobs are running, try again later", HTTP_JOBS_MAX);
                else
                        http_send_error(req, 500, "internal", "out of memory");
                free(job);
                return;
        }
        job->api = api;
        job->id = ++api->next_job;
        job->kind = kind;
        job->r = request_new(api->daemon, m, principal_token(), &http_job_ops, job);
        if (!job->r) {
                msg_free(m);
                free(job);
                http_send_error(req, 500, "internal", "out of memory");
                return;
        }
        commands_dispatch(job->r); /* the job keeps the first reference */
        if (job->state == HTTP_JOB_FAILED) {
                /* refused before it started (no such snapshot, a bad target): say so now */
                json_t *error = json_incref(job->error);
                int status = http_status_of(job->error_status);
                job_free(job);
                http_send_json(req, status, error);
                return;
        }
        job->next = api->jobs;
        api->jobs = job;
        api->n_jobs++;
        log_debug("HTTP API: job %" PRIu64 " (%s) started", job->id, kind);
        snprintf(location, sizeof(location), "/v1/jobs/%" PRIu64, job->id);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
        http_send_json(req, 202, job_doc(job));
}

static void job_events(struct http_api *api, struct evhttp_request *req, struct http_job *job)
{
        struct http_call *c = calloc(1, sizeof(*c));
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);

        if (!c) {
                http_send_error(req, 500, "internal", "out of memory");
                return;
        }
        c->api = api;
        c->req = req;
        c->started = true;
        evhttp_add_header(out, "Content-Type", "text/event-stream");
        evhttp_add_header(out, "Cache-Control", "no-store");
        evhttp_send_reply_start(req, 200, "OK");
        c->job = job;
        c->next_event = job->events;
        job->events = c;
        http_api_attach(api, evhttp_request_get_connection(req), c); /* a close unsubscribes */
        json_t *doc = job_doc(job);
        bool over = job->state != HTTP_JOB_RUNNING;
        event_send(c, over ? "done" : "progress", doc);
        json_decref(doc);
        if (over)
                event_end(c);
}

bool http_jobs_handle(struct http_api *api, struct evhttp_request *req, const char *path)
{
        enum evhttp_cmd_type method = evhttp_request_get_command(req);
        bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;

        if (!strcmp(path, "/v1/restore")) {
                if (method != EVHTTP_REQ_POST)
                        http_send_error(req, 405, "method-not-allowed", "%s takes POST", path);
                else
                        job_start(api, req, CTL_TYPE_RESTORE, "restore");
                return true;
        }
        if (!strcmp(path, "/v1/jobs")) {
                if (!get) {
                        http_send_error(req, 405, "method-not-allowed", "%s takes GET", path);
                        return true;
                }
                json_t *list = json_array();
                for (struct http_job *job = api->jobs; job && list; job = job->next)
                        json_array_append_new(list, job_doc(job));
                http_send_json(req, 200, list ? json_pack("{s:o}", "jobs", list) : NULL);
                return true;
        }
        if (strncmp(path, "/v1/jobs/", 9) != 0)
                return false;
        const char *id = path + 9, *slash = strchr(id, '/');
        size_t len = slash ? (size_t)(slash - id) : strlen(id);
        bool events = slash && !strcmp(slash, "/events");
        if (slash && !events) {
                http_send_error(req, 404, "not-found", "no such resource: %s", path);
                return true;
        }
        struct http_job *job = job_find(api, id, len);
        if (!job) {
                http_send_error(req, 404, "not-found", "no such job: %.*s", (int)MIN(len, 64), id);
                return true;
        }
        if (!get || (events && method != EVHTTP_REQ_GET)) {
                http_send_error(req, 405, "method-not-allowed", "%s takes GET", path);
                return true;
        }
        if (events)
                job_events(api, req, job);
        else
                http_send_json(req, 200, job_doc(job));
        return true;
}

void http_jobs_free_all(struct http_api *api)
{
        while (api->jobs) {
                struct http_job *job = api->jobs;
                api->jobs = job->next;
                job_free(job);
        }
        api->n_jobs = 0;
}
