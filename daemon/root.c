/* SPDX-License-Identifier: MIT */
/* Watched roots in memory and the scheduling of their snapshots (see
 * root.h). One snapshot per root at a time: a request that arrives while
 * one runs is answered by the next run, which starts as soon as the
 * current one ends, so it sees every change made before it was asked. */

#include "root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "log.h"
#include "own-files.h"
#include "path.h"
#include "repo.h"
#include "request.h"
#include "retention-apply.h"
#include "snapshot.h"
#include "watch.h"
#include "workers.h"

/* While a root is unavailable, look for it again this often. */
#define ROOT_RETRY_SEC 5

static int start_run(struct root *root, bool automatic);
static void root_watch_start(struct root *root);

const char *root_state_name(enum root_state s)
{
        switch (s) {
        case ROOT_IDLE:
                return "idle";
        case ROOT_SCANNING:
                return "scanning";
        case ROOT_BACKING_UP:
                return "backing up";
        case ROOT_UNAVAILABLE:
                return "unavailable";
        }
        return "unknown";
}

static void root_free(struct root *root)
{
        if (root->debounce)
                event_free(root->debounce);
        if (root->rescan)
                event_free(root->rescan);
        if (root->retry)
                event_free(root->retry);
        pathset_done(&root->dirty);
        pathset_done(&root->deep);
        free(root->last_dirty);
        for (size_t i = 0; i < root->n_waiters; i++)
                request_unref(root->waiters[i]);
        for (size_t i = 0; i < root->n_next_waiters; i++)
                request_unref(root->next_waiters[i]);
        free(root->waiters);
        free(root->next_waiters);
        free(root->path);
        free(root->excludes);
        free(root);
}

static struct root *root_new(struct daemon *d, const struct index_root *ir)
{
        struct root *root = calloc(1, sizeof(*root));
        if (!root)
                return NULL;
        root->daemon = d;
        root->id = ir->id;
        root->path = strdup(ir->path);
        root->excludes = strdup(ir->excludes ? ir->excludes : "");
        root->one_fs = ir->one_fs;
        pathset_init(&root->dirty);
        pathset_init(&root->deep);
        if (!root->path || !root->excludes) {
                root_free(root);
                return NULL;
        }
        struct index_snapshot s;
        if (index_snapshot_latest(d->index, root->id, &s) >= 0) {
                root->last_snapshot_ns = s.time_ns;
                root->last_snapshot = s.id;
                index_snapshot_done(&s);
        }
        struct stat st;
        if (stat(root->path, &st) < 0 || !S_ISDIR(st.st_mode))
                root->state = ROOT_UNAVAILABLE;
        return root;
}

static void root_link(struct daemon *d, struct root *root)
{
        struct root **p = &d->roots;
        while (*p)
                p = &(*p)->next;
        *p = root;
}

static int load_cb(const struct index_root *ir, void *userdata)
{
        struct daemon *d = userdata;
        struct root *root = root_new(d, ir);
        if (!root)
                return -ENOMEM;
        root_link(d, root);
        return 0;
}

int root_start_all(struct daemon *d)
{
        int r = index_root_foreach(d->index, load_cb, d);
        if (r < 0)
                return log_error_errno(r, "Cannot load the watched roots from the index");
        for (size_t i = 0; i < d->config.n_watch; i++) {
                char *abs = realpath(d->config.watch[i], NULL);
                if (!abs) {
                        log_warning_errno(-errno, "Cannot watch %s, ignoring", d->config.watch[i]);
                        continue;
                }
                struct root *outer = root_containing(d, abs), *inner = root_inside(d, abs);
                if (outer && strcmp(outer->path, abs))
                        log_warning("Cannot watch %s: it is inside %s, which is already watched; ignoring it", abs,
                                    outer->path);
                else if (inner)
                        log_warning("Cannot watch %s: it contains %s, which is already watched; ignoring it", abs,
                                    inner->path);
                else if (!outer) {
                        r = root_add(d, abs, "", NULL);
                        if (r == -EPERM)
                                log_warning("Cannot watch %s: it is inside chuted's state directory %s, which "
                                            "is never backed up; ignoring it", abs, d->config.state_dir);
                        else if (r < 0)
                                log_warning_errno(r, "Cannot watch %s, ignoring", abs);
                }
                free(abs);
        }
        /* Watch, then scan: what changed while chuted was down becomes a
         * snapshot (none is made when nothing changed). */
        for (struct root *root = d->roots; root; root = root->next)
                if (!root->rescan) { /* root_add started the ones it added */
                        root_watch_start(root);
                        if (root->state != ROOT_UNAVAILABLE) {
                                root->full = true;
                                start_run(root, true);
                        }
                }
        return 0;
}

void root_stop_all(struct daemon *d)
{
        for (struct root *root = d->roots; root; root = root->next) {
                __atomic_store_n(&root->cancel, 1, __ATOMIC_RELAXED);
                if (root->debounce)
                        event_del(root->debounce);
                if (root->rescan)
                        event_del(root->rescan);
                if (root->retry)
                        event_del(root->retry);
        }
}

bool root_busy(struct daemon *d)
{
        for (struct root *root = d->roots; root; root = root->next)
                if (root->running)
                        return true;
        return false;
}

void root_free_all(struct daemon *d)
{
        while (d->roots) {
                struct root *next = d->roots->next;
                root_free(d->roots);
                d->roots = next;
        }
}

void root_status_line(struct daemon *d, char *buf, size_t len)
{
        unsigned n = 0, running = 0;
        int64_t last = 0;
        for (struct root *root = d->roots; root; root = root->next) {
                n++;
                running += root->running;
                if (root->last_snapshot_ns > last)
                        last = root->last_snapshot_ns;
        }
        if (last) {
                int64_t ago = (now_ns() - last) / 1000000000;
                snprintf(buf, len, "%u root%s, %s, last snapshot %llds ago", n, n == 1 ? "" : "s",
                         running ? "backing up" : "idle", (long long)ago);
        } else {
                snprintf(buf, len, "%u root%s, %s, no snapshot yet", n, n == 1 ? "" : "s",
                         running ? "backing up" : "idle");
        }
}

struct root *root_find(struct daemon *d, const char *path)
{
        for (struct root *root = d->roots; root; root = root->next)
                if (!strcmp(root->path, path))
                        return root;
        return NULL;
}

struct root *root_containing(struct daemon *d, const char *path)
{
        struct root *best = NULL;
        size_t best_len = 0;
        for (struct root *root = d->roots; root; root = root->next) {
                size_t l = strlen(root->path);
                if (path_within(path, root->path) && l >= best_len) {
                        best = root;
                        best_len = l;
                }
        }
        return best;
}

struct root *root_inside(struct daemon *d, const char *path)
{
        for (struct root *root = d->roots; root; root = root->next)
                if (strcmp(root->path, path) && path_within(root->path, path))
                        return root;
        return NULL;
}

struct root *root_by_id(struct daemon *d, int64_t id)
{
        for (struct root *root = d->roots; root; root = root->next)
                if (root->id == id)
                        return root;
        return NULL;
}

int root_add(struct daemon *d, const char *path, const char *excludes, struct root **ret)
{
        struct stat st;
        if (path[0] != '/')
                return -EINVAL;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (root_find(d, path))
                return -EEXIST;
        {
                struct own_files own;
                own_files_get(d, &own);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                int r = own_files_in_state_dir(&own, fd);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EPERM;
        }
        int64_t id;
        int r = index_root_add(d->index, path, excludes ? excludes : "", d->config.one_file_system, &id);
        if (r < 0)
                return r;
        struct index_root ir = {.id = id,
                                .path = (char *)path,
                                .excludes = (char *)(excludes ? excludes : ""),
                                .one_fs = d->config.one_file_system};
        struct root *root = root_new(d, &ir);
        if (!root)
                return -ENOMEM;
        root_link(d, root);
        log_event(LOG_INFO, MSGID_ROOT_ADDED, LOG_FIELDS(LOG_ROOT(path)), "Watching %s", path);
        if (d->base && d->watch) {
                root_watch_start(root);
                root->full = true;
                root->first_event_ns = root->last_event_ns = monotonic_ns();
                if (root->debounce) {
                        /* the first snapshot comes after the quiet period, like any change */
                        struct timeval tv = {(time_t)(d->config.quiet_period_ns / 1000000000),
                                             (suseconds_t)(d->config.quiet_period_ns % 1000000000 / 1000)};
                        event_add(root->debounce, &tv);
                }
        }
        if (ret)
                *ret = root;
        return 0;
}

int root_remove(struct daemon *d, const char *path)
{
        struct root **p = &d->roots;
        while (*p && strcmp((*p)->path, path))
                p = &(*p)->next;
        if (!*p)
                return -ENOENT;
        struct root *root = *p;
        if (root->running)
                return -EBUSY;
        int r = index_root_remove(d->index, root->id);
        if (r < 0)
                return r;
        watch_root_stop(d->watch, root);
        *p = root->next;
        log_event(LOG_INFO, MSGID_ROOT_REMOVED, LOG_FIELDS(LOG_ROOT(path)),
                  "Stopped watching %s (its snapshots are kept)", path);
        root_free(root);
        return 0;
}

struct run {
        struct root *root;
        struct snapshot_job *job;
        bool automatic;
};

static void snapshot_done(void *userdata);

static void snapshot_work(void *userdata)
{
        struct run *run = userdata;
        snapshot_run(run->job);
}

static int start_run(struct root *root, bool automatic)
{
        struct daemon *d = root->daemon;
        struct run *run = calloc(1, sizeof(*run));
        struct snapshot_job *job = calloc(1, sizeof(*job));
        if (!run || !job) {
                free(run);
                free(job);
                return -ENOMEM;
        }
        job->daemon = d;
        job->root_id = root->id;
        job->path = strdup(root->path);
        job->excludes = strdup(root->excludes);
        job->one_fs = root->one_fs;
        own_files_get(d, &job->own);
        job->cancel = &root->cancel;
        job->progress_files = &root->progress_files;
        job->progress_bytes = &root->progress_bytes;
        if (!job->path || !job->excludes) {
                snapshot_job_free(job);
                free(run);
                return -ENOMEM;
        }
        /* An automatic run covers the changes seen so far; a requested one
         * walks everything (it must catch what inotify cannot see). */
        job->full = !automatic || root->full;
        job->skip_if_unchanged = automatic;
        pathset_merge(&job->dirty, &root->dirty);
        pathset_merge(&job->deep, &root->deep);
        free(root->last_dirty);
        root->last_dirty = NULL;
        root->full = false;
        root->first_event_ns = root->last_event_ns = 0;
        root->pending = 0;
        if (root->debounce)
                event_del(root->debounce);
        run->root = root;
        run->job = job;
        run->automatic = automatic;
        /* the requests queued so far are answered by this run */
        free(root->waiters);
        root->waiters = NULL;
        root->n_waiters = 0;
        if (!automatic) {
                root->waiters = root->next_waiters;
                root->n_waiters = root->n_next_waiters;
                root->next_waiters = NULL;
                root->n_next_waiters = 0;
                root->next_manual = false;
        }
        root->running = true;
        root->again = false;
        root->state = ROOT_BACKING_UP;
        root->progress_files = root->progress_bytes = 0;
        int r = workers_submit(d->workers, snapshot_work, snapshot_done, run);
        if (r < 0) {
                root->running = false;
                root->state = ROOT_IDLE;
                snapshot_job_free(job);
                free(run);
                return r;
        }
        daemon_update_status(d);
        return 0;
}

static void reply_snapshot(struct request *req, struct root *root, const struct snapshot_job *job)
{
        struct msg *m = request_result(req);
        if (!m)
                return;
        struct msg_map body = msg_body(m), item;
        if (msg_map_append_map(&body, CTL_KEY_SNAPSHOTS, &item) >= 0) {
                msg_map_set_bytes(&item, CTL_KEY_ID, job->id.bytes, OID_SIZE);
                msg_map_set_int(&item, CTL_KEY_TIME, job->time_ns);
                msg_map_set_bytes(&item, CTL_KEY_ROOT, root->path, strlen(root->path));
                msg_map_set_bytes(&item, CTL_KEY_TREE, job->tree.bytes, OID_SIZE);
                msg_map_set_uint(&item, CTL_KEY_FILES, job->stats.files);
                msg_map_set_uint(&item, CTL_KEY_DIRS, job->stats.dirs);
                msg_map_set_uint(&item, CTL_KEY_BYTES, job->stats.bytes);
                msg_map_set_uint(&item, CTL_KEY_NEW_BYTES, job->stats.new_bytes);
                msg_map_set_uint(&item, CTL_KEY_FILES_READ, job->stats.files_read);
                msg_map_set_uint(&item, CTL_KEY_ERRORS, job->stats.errors);
        }
        request_reply(req, m);
}

static void arm_debounce(struct root *root, int64_t delay_ns)
{
        if (!root->debounce)
                return;
        if (delay_ns < 0)
                delay_ns = 0;
        struct timeval tv = {(time_t)(delay_ns / 1000000000), (suseconds_t)(delay_ns % 1000000000 / 1000)};
        event_add(root->debounce, &tv);
}

/* The snapshot counters of status and GET /metrics. */
static void root_count(struct daemon *d, const struct snapshot_job *job, bool cancelled)
{
        static const double bounds[DAEMON_N_DURATION_BUCKETS] = DAEMON_DURATION_BUCKETS;
        struct daemon_counters *c = &d->counters;
        int64_t ms = (now_ns() - job->time_ns) / 1000000;
        size_t b = 0;

        if (job->error != 0) {
                if (!cancelled)
                        c->snapshots_failed++;
                return;
        }
        if (job->unchanged)
                return;
        c->snapshots_taken++;
        c->bytes_scanned += job->stats.bytes;
        c->bytes_new += job->stats.new_bytes;
        c->file_errors += job->stats.errors;
        if (ms < 0)
                ms = 0;
        while (b < DAEMON_N_DURATION_BUCKETS && (double)ms / 1000 > bounds[b])
                b++;
        c->duration[b]++;
        c->duration_ms += (uint64_t)ms;
}

static void snapshot_done(void *userdata)
{
        struct run *run = userdata;
        struct root *root = run->root;
        struct snapshot_job *job = run->job;
        struct daemon *d = root->daemon;
        char hex[OID_HEX_SIZE];

        root->running = false;
        root->state = ROOT_IDLE;
        root_count(d, job, root->cancel || d->stopping);
        /* what an error left short is walked again by the next run (a
         * change starts it, or the periodic rescan), not reused */
        if (job->error == 0 && (job->retry_full || pathset_merge(&root->dirty, &job->retry) < 0))
                root->full = true;
        if (job->error == 0 && job->unchanged) {
                log_debug("Nothing changed in %s since its last snapshot", root->path);
        } else if (job->error == 0 && !oid_is_null(&job->id)) {
                root->last_snapshot_ns = job->time_ns;
                root->last_snapshot = job->id;
                oid_to_hex(&job->id, hex);
                log_event(LOG_INFO, MSGID_SNAPSHOT_TAKEN,
                          LOG_FIELDS(LOG_ROOT(root->path), LOG_SNAPSHOT(hex)),
                          "Snapshot %.12s of %s: %llu files (%llu read), %llu bytes, %llu new, %llu errors", hex,
                          root->path, (unsigned long long)job->stats.files,
                          (unsigned long long)job->stats.files_read, (unsigned long long)job->stats.bytes,
                          (unsigned long long)job->stats.new_bytes, (unsigned long long)job->stats.errors);
                for (size_t i = 0; i < root->n_waiters; i++)
                        reply_snapshot(root->waiters[i], root, job);
                retention_apply_root(d, root);
                if (__atomic_load_n(&job->changed_link, __ATOMIC_RELAXED)) {
                        log_debug("A file with other hard links changed in %s: a full walk follows",
                                  root->path);
                        root_mark_full(root);
                }
        } else {
                bool cancel = root->cancel || d->stopping;
                bool gone = job->error == -ENOENT || job->error == -ENOTDIR;
                if (!cancel)
                        log_event(LOG_ERR, MSGID_SNAPSHOT_FAILED, LOG_FIELDS(LOG_ROOT(root->path)),
                                  "Snapshot of %s failed: %s", root->path,
                                  job->error_text[0] ? job->error_text : strerror(-job->error));
                for (size_t i = 0; i < root->n_waiters; i++) {
                        if (cancel)
                                request_error(root->waiters[i], CTL_STATUS_BUSY,
                                              "the snapshot of %s was interrupted: chuted is stopping",
                                              root->path);
                        else
                                request_error(root->waiters[i], CTL_STATUS_FAILED, "snapshot of %s failed: %s",
                                              root->path,
                                              job->error_text[0] ? job->error_text : strerror(-job->error));
                }
                if (!cancel && gone)
                        root_gone(root);
                else if (!cancel) {
                        /* try again later, with everything it had to do: a
                         * requested run took the changes seen so far too */
                        root->full = true;
                        root->pending++;
                        if (!root->first_event_ns)
                                root->first_event_ns = root->last_event_ns = monotonic_ns();
                        arm_debounce(root, (int64_t)d->config.max_delay_ns);
                }
        }
        for (size_t i = 0; i < root->n_waiters; i++)
                request_unref(root->waiters[i]);
        root->n_waiters = 0;
        snapshot_job_free(job);
        free(run);
        if (d->stopping) {
                if (!root_busy(d))
                        event_base_loopexit(d->base, NULL);
                return;
        }
        if (root->n_next_waiters > 0 || root->next_manual) {
                int r = start_run(root, false);
                if (r < 0)
                        log_error_errno(r, "Cannot start the next snapshot of %s", root->path);
        } else if (root->again) {
                int r = start_run(root, true);
                if (r < 0)
                        log_error_errno(r, "Cannot start the next snapshot of %s", root->path);
        } else if (root->first_event_ns && root->debounce && !evtimer_pending(root->debounce, NULL)) {
                arm_debounce(root, 0); /* the callback decides how long is left */
        }
        daemon_update_status(d);
}

int root_snapshot(struct root *root, struct request *waiter)
{
        if (root->daemon->stopping)
                return -ESHUTDOWN;
        if (waiter) {
                struct request **v = realloc(root->next_waiters, (root->n_next_waiters + 1) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                root->next_waiters = v;
                root->next_waiters[root->n_next_waiters++] = request_ref(waiter);
        }
        if (root->running) {
                root->next_manual = true;
                return 0;
        }
        return start_run(root, false);
}

/* ---- continuous protection ---- */

static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
        struct root *root = arg;
        struct daemon *d = root->daemon;
        if (!root->first_event_ns || d->stopping || root->state == ROOT_UNAVAILABLE)
                return;
        int64_t now = monotonic_ns();
        int64_t quiet_left = root->last_event_ns + (int64_t)d->config.quiet_period_ns - now;
        int64_t max_left = root->first_event_ns + (int64_t)d->config.max_delay_ns - now;
        if (quiet_left > 0 && max_left > 0) {
                arm_debounce(root, MIN(quiet_left, max_left));
                return;
        }
        if (root->running) {
                root->again = true;
                return;
        }
        int r = start_run(root, true);
        if (r < 0) {
                log_error_errno(r, "Cannot start a snapshot of %s, retrying", root->path);
                arm_debounce(root, (int64_t)d->config.quiet_period_ns);
        }
}

static void note_change(struct root *root)
{
        int64_t now = monotonic_ns();
        root->pending++;
        root->last_event_ns = now;
        if (!root->first_event_ns)
                root->first_event_ns = now;
        /* During a run the timer waits too: the next run is due only after its
         * own quiet period (or max_delay), counted from these changes. */
        if (root->debounce && !evtimer_pending(root->debounce, NULL))
                arm_debounce(root, (int64_t)root->daemon->config.quiet_period_ns);
}

void root_mark_dirty(struct root *root, const char *relpath, bool deep)
{
        if (root->state == ROOT_UNAVAILABLE)
                return;
        if (deep || !root->last_dirty || strcmp(root->last_dirty, relpath)) {
                if (pathset_add(deep ? &root->deep : &root->dirty, relpath) < 0) {
                        root->full = true; /* out of memory: fall back to a full walk */
                } else if (!deep) {
                        free(root->last_dirty);
                        root->last_dirty = strdup(relpath);
                }
        }
        note_change(root);
}

void root_mark_full(struct root *root)
{
        if (root->state == ROOT_UNAVAILABLE)
                return;
        root->full = true;
        note_change(root);
}

void root_mark_full_all(struct daemon *d)
{
        for (struct root *root = d->roots; root; root = root->next)
                root_mark_full(root);
}

static void arm_rescan(struct root *root);

static void on_rescan(evutil_socket_t fd, short what, void *arg)
{
        struct root *root = arg;
        if (root->state == ROOT_UNAVAILABLE || root->daemon->stopping)
                return;
        log_debug("Periodic rescan of %s", root->path);
        /* polled: watched again once it can be (the limit raised, the deep
         * directory gone); a try that fails leaves no watch behind */
        if (root->polling && root->daemon->watch && watch_root_start(root->daemon->watch, root) >= 0) {
                root->polling = false;
                log_event(LOG_NOTICE, MSGID_ROOT_UNAVAILABLE, LOG_FIELDS(LOG_ROOT(root->path)),
                          "%s can be watched again; no more periodic rescans in its place", root->path);
                arm_rescan(root);
        }
        root->full = true;
        if (root->running) {
                root->again = true;
                return;
        }
        int r = start_run(root, true);
        if (r < 0)
                log_error_errno(r, "Cannot start a rescan of %s", root->path);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
        struct root *root = arg;
        struct stat st;
        if (root->state != ROOT_UNAVAILABLE || stat(root->path, &st) < 0 || !S_ISDIR(st.st_mode))
                return;
        event_del(root->retry);
        log_event(LOG_NOTICE, MSGID_ROOT_UNAVAILABLE, LOG_FIELDS(LOG_ROOT(root->path)),
                  "%s is back; watching it again", root->path);
        root->state = ROOT_IDLE;
        root_watch_start(root);
        if (root->state != ROOT_UNAVAILABLE)
                root_mark_full(root);
}

void root_gone(struct root *root)
{
        struct daemon *d = root->daemon;
        if (root->state == ROOT_UNAVAILABLE)
                return;
        log_event(LOG_WARNING, MSGID_ROOT_UNAVAILABLE, LOG_FIELDS(LOG_ROOT(root->path)),
                  "%s is gone (deleted, moved or unmounted); its snapshots are kept, and it is watched "
                  "again when it comes back", root->path);
        watch_root_stop(d->watch, root);
        root->state = ROOT_UNAVAILABLE;
        root->polling = false;
        if (root->debounce)
                event_del(root->debounce);
        if (root->retry) {
                struct timeval tv = {ROOT_RETRY_SEC, 0};
                event_add(root->retry, &tv);
        }
        daemon_update_status(d);
}

static void arm_rescan(struct root *root)
{
        struct daemon *d = root->daemon;
        uint64_t ns = d->config.rescan_interval_ns;
        if (root->polling && ns > d->config.poll_interval_ns)
                ns = d->config.poll_interval_ns;
        struct timeval tv = {(time_t)(ns / 1000000000), (suseconds_t)(ns % 1000000000 / 1000)};
        if (root->rescan)
                event_add(root->rescan, &tv);
}

void root_set_polling(struct root *root)
{
        if (root->polling)
                return;
        watch_root_stop(root->daemon->watch, root);
        root->polling = true;
        arm_rescan(root);
}

static void root_watch_start(struct root *root)
{
        struct daemon *d = root->daemon;
        if (!root->debounce)
                root->debounce = evtimer_new(d->base, on_debounce, root);
        if (!root->rescan)
                root->rescan = event_new(d->base, -1, EV_PERSIST, on_rescan, root);
        if (!root->retry)
                root->retry = event_new(d->base, -1, EV_PERSIST, on_retry, root);
        int r = watch_root_start(d->watch, root);
        if (r == -ENOSPC) {
                root->polling = true;
        } else if (r == -ENOENT || r == -ENOTDIR) {
                root->state = ROOT_IDLE; /* so that root_gone logs it */
                root_gone(root);
                return;
        } else if (r < 0) {
                log_warning_errno(r, "Cannot watch %s; it is rescanned periodically instead", root->path);
                root->polling = true;
        } else {
                root->polling = false;
        }
        arm_rescan(root);
}

const char *root_status_name(const struct root *root)
{
        if (root->state == ROOT_UNAVAILABLE)
                return "unavailable";
        if (root->running)
                return root->state == ROOT_SCANNING ? "scanning" : "backing up";
        return root->polling ? "polling" : "watching";
}
