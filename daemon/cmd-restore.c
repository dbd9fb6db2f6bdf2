/* SPDX-License-Identifier: MIT */
/* restore: put a snapshot (or SNAP:PATH) at a target path, reporting
 * progress every quarter second while a worker does the job (restore.c). */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "restore.h"
#include "snaptree.h"
#include "workers.h"

struct restore_req {
        struct request *r;
        struct restore_job *job;
        struct event *timer;
};

static void restore_tick(evutil_socket_t fd, short what, void *userdata)
{
        struct restore_req *rr = userdata;
        struct restore_job *job = rr->job;
        if (rr->r->gone) {
                __atomic_store_n(&job->gone, true, __ATOMIC_RELAXED);
                return;
        }
        request_progress(rr->r, "restoring", __atomic_load_n(&job->bytes, __ATOMIC_RELAXED),
                         __atomic_load_n(&job->total_bytes, __ATOMIC_RELAXED),
                         __atomic_load_n(&job->files, __ATOMIC_RELAXED));
}

static void restore_work(void *userdata)
{
        struct restore_req *rr = userdata;
        restore_run(rr->job);
}

static void restore_done(void *userdata)
{
        struct restore_req *rr = userdata;
        struct restore_job *job = rr->job;
        struct request *r = rr->r;

        if (rr->timer)
                event_free(rr->timer);
        if (job->error) {
                uint32_t status = job->error == -EEXIST   ? CTL_STATUS_EXISTS
                                  : job->error == -ENOENT ? CTL_STATUS_NOT_FOUND
                                  : job->error == -ENOTDIR ? CTL_STATUS_BAD_REQUEST
                                                          : CTL_STATUS_FAILED;
                request_error(r, status, "%s", job->error_text);
        } else if (job->gone || r->gone) {
                log_info("Restore to %s abandoned: the client went away", job->target);
        } else {
                struct msg *m = request_result(r);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, CTL_KEY_FILES, job->files);
                        msg_map_set_uint(&b, CTL_KEY_BYTES, job->bytes);
                        msg_map_set_uint(&b, CTL_KEY_ERRORS, job->errors);
                }
                log_info("Restored %llu files (%llu bytes) to %s, %llu errors", (unsigned long long)job->files,
                         (unsigned long long)job->bytes, job->target, (unsigned long long)job->errors);
                request_reply(r, m);
        }
        request_unref(r);
        restore_job_free(job);
        free(rr);
}

/* Is path (or the deepest part of it that exists) inside the state dir?
 * Restoring there would overwrite the index, the packs or the blobs. */
static bool inside_state_dir(struct daemon *d, const char *path)
{
        _cleanup_free_ char *state = realpath(d->config.state_dir, NULL);
        _cleanup_free_ char *p = strdup(path);
        _cleanup_free_ char *real = NULL;

        if (!state || !p)
                return false;
        for (;;) {
                real = realpath(p, NULL);
                if (real)
                        break;
                char *slash = strrchr(p, '/');
                if (!slash || slash == p)
                        return false;
                *slash = '\0';
        }
        size_t n = strlen(state);
        return strncmp(real, state, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

void cmd_restore(struct request *r)
{
        struct daemon *d = r->daemon;
        int k;
        _cleanup_free_ char *target = cmd_get_path(r, CTL_KEY_TARGET, true, &k);
        if (!target)
                return;
        if (target[0] != '/') {
                request_error(r, CTL_STATUS_BAD_REQUEST, "the target %s is not an absolute path", target);
                return;
        }
        if (inside_state_dir(r->daemon, target)) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "the target %s is inside chuted's state directory %s: restore elsewhere", target,
                              r->daemon->config.state_dir);
                return;
        }
        struct index_snapshot s;
        char *rel;
        if (cmd_snapshot_path(r, "restore", false, &s, &rel) < 0)
                return;
        struct restore_req *rr = calloc(1, sizeof(*rr));
        struct restore_job *job = calloc(1, sizeof(*job));
        if (job) {
                job->relpath = rel;
                rel = NULL;
                job->target = strdup(target);
        }
        free(rel);
        if (!rr || !job || !job->target) {
                free(rr);
                restore_job_free(job);
                index_snapshot_done(&s);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        bool overwrite = false;
        msg_map_get_bool(&r->args, CTL_KEY_OVERWRITE, &overwrite);
        msg_map_get_bool(&r->args, CTL_KEY_VERIFY_IDS, &job->verify);
        job->daemon = d;
        job->snapshot = s.id;
        job->overwrite = overwrite;
        index_snapshot_done(&s);
        rr->r = request_ref(r);
        rr->job = job;
        rr->timer = cmd_progress_timer(d, restore_tick, rr);
        if (workers_submit(d->workers, restore_work, restore_done, rr) < 0) {
                job->error = -ENOMEM;
                snprintf(job->error_text, sizeof(job->error_text), "out of memory");
                restore_done(rr);
        }
}
