/* SPDX-License-Identifier: MIT */
/* A listing made on a worker a batch at a time (ls, diff): each batch's
 * DATA goes out on the loop, and the next batch is made only once the
 * client has taken most of the last; a client that leaves stops it. The
 * job embeds a struct cmd_stream and says how to make a batch, how to
 * answer an error and how to free itself. */
#pragma once

#include <stdbool.h>

#include "cmd-util.h"
#include "request.h"

struct cmd_stream {
        struct request *r;
        struct cmd_listing out;
        bool busy;     /* a batch is being made on a worker */
        bool finished; /* the listing is complete, its RESULT queued */
        int error;
        /* On a worker: add the next batch of items to out; when there are
         * no more, set finished and queue the RESULT (cmd_listing_finish).
         * Returns 0 or -errno. */
        int (*batch)(struct cmd_stream *s);
        /* On the loop: answer s->error (< 0) with an ERROR. */
        void (*fail)(struct cmd_stream *s);
        /* Free the job (after cmd_listing_done of out). */
        void (*free)(struct cmd_stream *s);
};

/* Take a reference on r and run s to its end (its callbacks set). */
void cmd_stream_start(struct cmd_stream *s, struct request *r);
