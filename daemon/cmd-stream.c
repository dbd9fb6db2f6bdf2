/* SPDX-License-Identifier: MIT */
/* A listing made on a worker a batch at a time, sent as the client takes
 * it (cmd-stream.h). */
#include "cmd-stream.h"

#include <errno.h>

#include "daemon.h"
#include "workers.h"

/* Make the next batch when less than this waits for the client. */
#define STREAM_LOW_WATER (512u * 1024)

/* The request is over (answered, failed or gone): let go of it. */
static void stream_end(struct cmd_stream *s)
{
        struct request *r = s->r;
        r->on_writable = NULL;
        r->on_gone = NULL;
        r->state = NULL;
        request_unref(r);
        cmd_listing_done(&s->out);
        s->free(s);
}

static void stream_work(void *userdata)
{
        struct cmd_stream *s = userdata;
        int k = s->batch(s);
        s->error = k < 0 ? k : 0;
}

static void stream_next(struct cmd_stream *s);

static void stream_done(void *userdata)
{
        struct cmd_stream *s = userdata;
        struct request *r = s->r;
        s->busy = false;
        if (r->gone) {
                stream_end(s);
        } else if (s->error) {
                s->fail(s);
                stream_end(s);
        } else if (s->finished) {
                cmd_listing_send(&s->out, r);
                stream_end(s);
        } else {
                cmd_listing_flush(&s->out, r);
                stream_next(s);
        }
}

static void stream_next(struct cmd_stream *s)
{
        if (s->busy || request_pending(s->r) > STREAM_LOW_WATER)
                return; /* on_writable calls again */
        s->busy = true;
        if (workers_submit(s->r->daemon->workers, stream_work, stream_done, s) < 0) {
                s->error = -ENOMEM;
                stream_done(s);
        }
}

static void stream_writable(struct request *r)
{
        if (r->state)
                stream_next(r->state);
}

/* The client left while we waited for it to drain: nothing is on the
 * workers, so end here (a busy stream ends in stream_done instead). */
static void stream_gone(struct request *r)
{
        struct cmd_stream *s = r->state;
        if (s && !s->busy)
                stream_end(s);
}

void cmd_stream_start(struct cmd_stream *s, struct request *r)
{
        s->r = request_ref(r);
        s->out.reqid = r->reqid;
        r->state = s;
        r->on_writable = stream_writable;
        r->on_gone = stream_gone;
        stream_next(s);
}
