/* SPDX-License-Identifier: MIT */
/* Restore (see restore.h). Phase 1 walks the snapshot's trees and creates
 * every directory, symlink, device, fifo and empty file, and the hard links,
 * relative to directory fds; phase 2 writes file contents and their
 * metadata in parallel on the worker pool, verifying every object; phase 3
 * sets directory metadata deepest first, so creating entries does not
 * disturb the restored mtimes. */

#include "restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "fdpath.h"
#include "job-error.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "snaptree.h"
#include "test-hook.h"
#include "workers.h"

struct state;

struct file_item {
        struct restore_job *job;
        struct state *state;
        const struct object_entry *e;
        char *path; /* full path of the created file */
};

struct dir_item {
        const struct object_entry *e; /* NULL for the target itself */
        char *path;
};

struct hardlink {
        uint64_t group;
        char *path;
};

/* A hard link to a file, made once the file has been written. */
struct deferred_link {
        const char *target; /* borrowed from the hardlink list */
        char *path;
};

struct state {
        struct restore_job *job;
        struct object_tree **trees; /* kept alive: items point into them */
        size_t n_trees, cap_trees;
        struct file_item **files;
        size_t n_files, cap_files;
        struct dir_item *dirs;
        size_t n_dirs, cap_dirs;
        struct hardlink *links;
        size_t n_links, cap_links;
        size_t *link_slots;      /* open addressing over links by group: index + 1, 0 empty */
        size_t link_cap;         /* a power of two, at least twice n_links */
        struct deferred_link *deferred;
        size_t n_deferred, cap_deferred;
        bool root_user;
        int tfd;                    /* the directory everything is restored below */
        size_t base_len;            /* paths are "BASE/REL": REL starts here */
};

/* The part of a full path below s->tfd. */
static const char *rel_of(const struct state *s, const char *path)
{
        return path + s->base_len;
}


static void job_fail(struct restore_job *job, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void job_fail(struct restore_job *job, int error, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        job_error_set(&job->error, job->error_text, sizeof(job->error_text), error, fmt, ap);
        va_end(ap);
}

static bool stop(const struct restore_job *job)
{
        return job_error_get(&job->error) || __atomic_load_n(&job->gone, __ATOMIC_RELAXED) ||
               __atomic_load_n(&job->daemon->stopping, __ATOMIC_RELAXED);
}

static void warn(struct restore_job *job, int error, const char *what, const char *path)
{
        log_warning_errno(error, "Restore: cannot %s %s", what, path);
        __atomic_add_fetch(&job->errors, 1, __ATOMIC_RELAXED);
}

/* atime and mtime both set to the recorded mtime (ns, may be before 1970). */
static void mtime_times(int64_t ns, struct timespec ts[2])
{
        ts[0].tv_sec = ns / 1000000000;
        ts[0].tv_nsec = ns % 1000000000;
        if (ts[0].tv_nsec < 0) {
                ts[0].tv_sec -= 1;
                ts[0].tv_nsec += 1000000000;
        }
        ts[1] = ts[0];
}

static void set_xattrs_fd(struct restore_job *job, int fd, const char *path, const struct object_entry *e)
{
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].value_len, 0) < 0)
                        warn(job, -errno, "set extended attribute on", path);
}

/* Owner, mode, xattrs and times of an entry that is not a symlink, via fd. */
static void set_meta_fd(struct state *s, int fd, const char *path, const struct object_entry *e)
{
        struct restore_job *job = s->job;
        if (s->root_user && (e->uid != 0 || e->gid != 0) && fchown(fd, e->uid, e->gid) < 0)
                warn(job, -errno, "set the owner of", path);
        set_xattrs_fd(job, fd, path, e);
        if (fchmod(fd, e->mode) < 0)
                warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (futimens(fd, ts) < 0)
                warn(job, -errno, "set the times of", path);
}

static void set_meta_path(struct state *s, int dirfd, const char *name, const char *path,
                          const struct object_entry *e)
{
        struct restore_job *job = s->job;
        bool link = e->kind == OBJECT_KIND_SYMLINK;
        if (s->root_user && fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                warn(job, -errno, "set the owner of", path);
        /* the name in dirfd, not whatever the full path reaches now */
        char at[PATH_MAX];
        const char *xpath = e->n_xattrs && fdpath_proc(dirfd, name, at, sizeof(at)) >= 0 ? at : path;
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (lsetxattr(xpath, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].value_len, 0) < 0)
                        warn(job, -errno, "set extended attribute on", path);
        if (!link && fchmodat(dirfd, name, e->mode, 0) < 0)
                warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                warn(job, -errno, "set the times of", path);
}

/* Remove what is at dirfd/name (for --overwrite), recursively for dirs. */
static int remove_at(int parent, const char *name)
{
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent, name, 0) < 0 ? -errno : 0;
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && r >= 0)
                        r = remove_at(dirfd(d), de->d_name);
        closedir(d);
        if (r < 0)
                return r;
        return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static size_t link_slot(uint64_t group, size_t cap)
{
        group *= 0x9E3779B97F4A7C15ull;
        return (size_t)(group >> 32) & (cap - 1);
}

static const char *hardlink_find(struct state *s, uint64_t group)
{
        if (!s->link_cap)
                return NULL;
        for (size_t i = link_slot(group, s->link_cap); s->link_slots[i]; i = (i + 1) & (s->link_cap - 1))
                if (s->links[s->link_slots[i] - 1].group == group)
                        return s->links[s->link_slots[i] - 1].path;
        return NULL;
}

/* Index links[n_links - 1] by its group (growing the index as needed). */
static int hardlink_index(struct state *s)
{
        if (2 * s->n_links > s->link_cap) {
                size_t cap = s->link_cap ? 2 * s->link_cap : 256;
                size_t *slots = calloc(cap, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                free(s->link_slots);
                s->link_slots = slots;
                s->link_cap = cap;
                for (size_t k = 0; k + 1 < s->n_links; k++) {
                        size_t i = link_slot(s->links[k].group, cap);
                        while (slots[i])
                                i = (i + 1) & (cap - 1);
                        slots[i] = k + 1;
                }
        }
        size_t i = link_slot(s->links[s->n_links - 1].group, s->link_cap);
        while (s->link_slots[i])
                i = (i + 1) & (s->link_cap - 1);
        s->link_slots[i] = s->n_links;
        return 0;
}

static int restore_tree(struct state *s, int dirfd, const char *dirpath, const struct object_tree *t);

/* Create one entry named name in dirfd (full path path). */
static int restore_entry(struct state *s, int dirfd, const char *name, const char *path,
                         const struct object_entry *e)
{
        struct restore_job *job = s->job;
        int r;

        if (s->job->overwrite) {
                struct stat st;
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    !(e->kind == OBJECT_KIND_DIR && S_ISDIR(st.st_mode))) {
                        r = remove_at(dirfd, name);
                        if (r < 0)
                                return warn(job, r, "replace", path), 0;
                }
        }
        if (e->hardlink && e->kind != OBJECT_KIND_DIR) {
                const char *first = hardlink_find(s, e->hardlink);
                if (first && e->kind == OBJECT_KIND_FILE) {
                        /* the file is created and written in the parallel phase */
                        if (!GROW(s->deferred, s->n_deferred, s->cap_deferred, 64))
                                return -ENOMEM;
                        s->deferred[s->n_deferred].target = first;
                        s->deferred[s->n_deferred].path = strdup(path);
                        if (!s->deferred[s->n_deferred].path)
                                return -ENOMEM;
                        s->n_deferred++;
                        return 0;
                }
                if (first) {
                        const char *first_name;
                        int pfd = fdpath_open_parent(s->tfd, rel_of(s, first), &first_name);
                        if (pfd < 0 || linkat(pfd, first_name, dirfd, name, 0) < 0)
                                warn(job, pfd < 0 ? pfd : -errno, "create the hard link", path);
                        if (pfd >= 0)
                                close(pfd);
                        return 0;
                }
                if (!GROW(s->links, s->n_links, s->cap_links, 64))
                        return -ENOMEM;
                s->links[s->n_links].group = e->hardlink;
                s->links[s->n_links].path = strdup(path);
                if (!s->links[s->n_links].path)
                        return -ENOMEM;
                s->n_links++;
                if (hardlink_index(s) < 0)
                        return -ENOMEM;
        }
        switch (e->kind) {
        case OBJECT_KIND_DIR: {
                if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
                        return warn(job, -errno, "create directory", path), 0;
                int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return warn(job, -errno, "open directory", path), 0;
                if (!GROW(s->dirs, s->n_dirs, s->cap_dirs, 64)) {
                        close(fd);
                        return -ENOMEM;
                }
                s->dirs[s->n_dirs].e = e;
                s->dirs[s->n_dirs].path = strdup(path);
                if (!s->dirs[s->n_dirs].path) {
                        close(fd);
                        return -ENOMEM;
                }
                s->n_dirs++;
                __atomic_add_fetch(&job->dirs, 1, __ATOMIC_RELAXED);
                struct object_tree *sub = NULL;
                r = snaptree_load(job->daemon->repo, &e->subtree, &sub);
                if (r < 0) {
                        close(fd);
                        job_fail(job, r, "cannot read the tree of %s: %s", path, strerror(-r));
                        return r;
                }
                if (!GROW(s->trees, s->n_trees, s->cap_trees, 64)) {
                        object_tree_free(sub);
                        close(fd);
                        return -ENOMEM;
                }
                s->trees[s->n_trees++] = sub;
                r = restore_tree(s, fd, path, sub);
                close(fd);
                return r;
        }
        case OBJECT_KIND_FILE: {
                /* created and written in the parallel phase */
                struct file_item *it = calloc(1, sizeof(*it));
                if (!it || !GROW(s->files, s->n_files, s->cap_files, 64)) {
                        free(it);
                        return -ENOMEM;
                }
                it->job = job;
                it->state = s;
                it->e = e;
                it->path = strdup(path);
                if (!it->path) {
                        free(it);
                        return -ENOMEM;
                }
                s->files[s->n_files++] = it;
                __atomic_add_fetch(&job->total_files, 1, __ATOMIC_RELAXED);
                __atomic_add_fetch(&job->total_bytes, e->size, __ATOMIC_RELAXED);
                return 0;
        }
        case OBJECT_KIND_SYMLINK:
                if (symlinkat((const char *)e->target, dirfd, name) < 0)
                        return warn(job, -errno, "create symlink", path), 0;
                set_meta_path(s, dirfd, name, path, e);
                return 0;
        case OBJECT_KIND_FIFO:
        case OBJECT_KIND_CHARDEV:
        case OBJECT_KIND_BLOCKDEV:
        case OBJECT_KIND_SOCKET: {
                mode_t type = e->kind == OBJECT_KIND_FIFO      ? S_IFIFO
                              : e->kind == OBJECT_KIND_CHARDEV ? S_IFCHR
                              : e->kind == OBJECT_KIND_BLOCKDEV ? S_IFBLK
                                                                : S_IFSOCK;
                if (mknodat(dirfd, name, type | 0600, (dev_t)e->rdev) < 0)
                        return warn(job, -errno, "create special file", path), 0;
                set_meta_path(s, dirfd, name, path, e);
                return 0;
        }
        }
        return 0;
}

static int restore_tree(struct state *s, int dirfd, const char *dirpath, const struct object_tree *t)
{
        for (size_t i = 0; i < t->n_entries && !stop(s->job); i++) {
                const struct object_entry *e = &t->entries[i];
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dirpath, (const char *)e->name) < 0)
                        return -ENOMEM;
                int r = restore_entry(s, dirfd, (const char *)e->name, path, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void write_file(void *arg)
{
        struct file_item *it = arg;
        struct restore_job *job = it->job;
        const struct object_extent *ext = NULL;
        size_t n = 0;
        struct object_list *list = NULL;
        uint64_t off = 0;

        if (stop(job))
                return;
        /* below the target's fd with no symlink at any level: a restored
         * directory swapped for a symlink cannot send the write elsewhere */
        int fd = fdpath_open(it->state->tfd, rel_of(it->state, it->path), O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
                warn(job, fd, "create file", it->path);
                return;
        }
        int r = snaptree_extents(job->daemon->repo, it->e, &ext, &n, &list);
        bool read_failed = r < 0; /* not a write: e.g. a pack evicted here whose stores are unreachable */
        for (size_t i = 0; r >= 0 && i < n && !stop(job); i++) {
                if (ext[i].hole) {
                        off += ext[i].length;
                        continue;
                }
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                r = repo_get(job->daemon->repo, &ext[i].id, OBJECT_DATA, (size_t)ext[i].length, &buf, &len);
                if (r >= 0 && len != ext[i].length)
                        r = -EBADMSG;
                read_failed = r < 0;
                for (size_t done = 0; r >= 0 && done < len;) {
                        ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(off + done));
                        if (w < 0) {
                                if (errno != EINTR)
                                        r = -errno;
                                continue;
                        }
                        done += (size_t)w;
                }
                off += ext[i].length;
                __atomic_add_fetch(&job->bytes, ext[i].length, __ATOMIC_RELAXED);
        }
        /* a trailing hole: set the size (data writes already did otherwise) */
        if (r >= 0 && n > 0 && ext[n - 1].hole && ftruncate(fd, (off_t)it->e->size) < 0)
                r = -errno;
        object_list_free(list);
        if (r == -EBADMSG || r == -ENOENT) {
                job_fail(job, r, "%s: the backup data is %s", it->path,
                         r == -ENOENT ? "missing from the repository" : "damaged (verification failed)");
        } else if (r == -ENOSPC || r == -EIO || r == -EDQUOT || r == -ENOMEM) {
                job_fail(job, r, "cannot %s %s: %s", read_failed ? "read the backed-up data of" : "write",
                         it->path, strerror(-r));
        } else if (r < 0) {
                warn(job, r, read_failed ? "read the backed-up data of" : "write", it->path);
        } else {
                set_meta_fd(it->state, fd, it->path, it->e);
                __atomic_add_fetch(&job->files, 1, __ATOMIC_RELAXED);
        }
        close(fd);
}

static bool dir_empty(int fd)
{
        int fd2 = dup(fd);
        DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!d) {
                if (fd2 >= 0)
                        close(fd2);
                return false;
        }
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        empty = false;
                        break;
                }
        closedir(d);
        return empty;
}

static void restore_gated(struct restore_job *job)
{
        struct state s = {.job = job, .root_user = geteuid() == 0};
        struct object_tree *t = NULL;
        struct object_entry *e = NULL;
        int tfd = -1, r;

        int64_t t0 = monotonic_ns();
        struct object_snapshot *snap = NULL;
        r = snaptree_load_snapshot(job->daemon->repo, &job->snapshot, &snap);
        if (r < 0) {
                job_fail(job, r, "cannot read the snapshot object: %s", strerror(-r));
                return;
        }
        r = snaptree_resolve(job->daemon->repo, &snap->tree, job->relpath, &t, &e);
        if (r == -ENOENT || r == -ENOTDIR) {
                job_fail(job, -ENOENT, "%s is not in that snapshot", job->relpath);
                object_snapshot_free(snap);
                return;
        }
        if (r < 0) {
                job_fail(job, r, "cannot read the snapshot: %s", strerror(-r));
                object_snapshot_free(snap);
                return;
        }
        if (!GROW(s.trees, s.n_trees, s.cap_trees, 64)) {
                object_tree_free(t);
                job_fail(job, -ENOMEM, "out of memory");
                return;
        }
        s.trees[s.n_trees++] = t;

        struct stat st;
        bool exists = stat(job->target, &st) == 0;
        if (e && e->kind != OBJECT_KIND_DIR) {
                /* a single entry: TARGET is its new path, or a directory to put it in */
                _cleanup_free_ char *dir = NULL, *path = NULL;
                const char *name;
                if (exists && S_ISDIR(st.st_mode)) {
                        dir = strdup(job->target);
                        name = (const char *)e->name;
                } else {
                        dir = strdup(job->target);
                        char *slash = dir ? strrchr(dir, '/') : NULL;
                        if (!dir) {
                                job_fail(job, -ENOMEM, "out of memory");
                                goto out;
                        }
                        if (slash == dir) {
                                name = job->target + 1;
                                dir[1] = '\0';
                        } else if (slash) {
                                *slash = '\0';
                                name = job->target + (slash - dir) + 1;
                        } else {
                                free(dir);
                                dir = strdup(".");
                                name = job->target;
                        }
                }
                tfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (tfd < 0) {
                        job_fail(job, -errno, "cannot open %s: %s", dir, strerror(errno));
                        goto out;
                }
                if (asprintf(&path, "%s/%s", dir, name) < 0) {
                        job_fail(job, -ENOMEM, "out of memory");
                        goto out;
                }
                s.tfd = tfd;
                s.base_len = strlen(dir) + 1;
                if (!job->overwrite && faccessat(tfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                        job_fail(job, -EEXIST, "%s exists: use --overwrite to replace it", path);
                        goto out;
                }
                r = restore_entry(&s, tfd, name, path, e);
        } else {
                if (!exists) {
                        if (mkdir(job->target, 0700) < 0) {
                                job_fail(job, -errno, "cannot create %s: %s", job->target, strerror(errno));
                                goto out;
                        }
                } else if (!S_ISDIR(st.st_mode)) {
                        job_fail(job, -ENOTDIR, "%s exists and is not a directory", job->target);
                        goto out;
                }
                tfd = open(job->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (tfd < 0) {
                        job_fail(job, -errno, "cannot open %s: %s", job->target, strerror(errno));
                        goto out;
                }
                if (exists && !job->overwrite && !dir_empty(tfd)) {
                        job_fail(job, -EEXIST, "%s is not empty: restore into a new or empty directory, or use --overwrite",
                                 job->target);
                        goto out;
                }
                if (e) {
                        struct object_tree *sub = NULL;
                        r = snaptree_load(job->daemon->repo, &e->subtree, &sub);
                        if (r < 0) {
                                job_fail(job, r, "cannot read the snapshot: %s", strerror(-r));
                                goto out;
                        }
                        if (!GROW(s.trees, s.n_trees, s.cap_trees, 64)) {
                                object_tree_free(sub);
                                job_fail(job, -ENOMEM, "out of memory");
                                goto out;
                        }
                        s.trees[s.n_trees++] = sub;
                        t = sub;
                }
                s.tfd = tfd;
                s.base_len = strlen(job->target) + 1;
                r = restore_tree(&s, tfd, job->target, t);
        }
        if (r < 0) {
                job_fail(job, r, "restore failed: %s", strerror(-r));
                goto out;
        }
        if (stop(job))
                goto out;

        int64_t t1 = monotonic_ns();
        test_hook_pause("restore-contents");
        workers_run_parallel(job->daemon->workers, write_file, (void **)s.files, s.n_files);
        if (stop(job))
                goto out;
        for (size_t i = 0; i < s.n_deferred; i++) {
                const char *from_name, *to_name;
                _cleanup_close_ int from = fdpath_open_parent(tfd, rel_of(&s, s.deferred[i].target), &from_name);
                _cleanup_close_ int to = from < 0 ? -1 : fdpath_open_parent(tfd, rel_of(&s, s.deferred[i].path), &to_name);
                if (from < 0 || to < 0)
                        warn(job, from < 0 ? from : to, "create the hard link", s.deferred[i].path);
                else if (linkat(from, from_name, to, to_name, 0) < 0)
                        warn(job, -errno, "create the hard link", s.deferred[i].path);
        }
        int64_t t2 = monotonic_ns();
        for (size_t i = s.n_dirs; i-- > 0;) {
                int fd = fdpath_open(tfd, rel_of(&s, s.dirs[i].path), O_RDONLY | O_DIRECTORY, 0);
                if (fd < 0) {
                        warn(job, fd, "open directory", s.dirs[i].path);
                        continue;
                }
                set_meta_fd(&s, fd, s.dirs[i].path, s.dirs[i].e);
                close(fd);
        }
        if (e && e->kind == OBJECT_KIND_DIR)
                set_meta_fd(&s, tfd, job->target, e);
        else if (!e && snap->has_root_entry)
                set_meta_fd(&s, tfd, job->target, &snap->root_entry);
        log_debug("Restore to %s: create %.3fs, contents %.3fs (%zu files), directories %.3fs", job->target,
                  (t1 - t0) / 1e9, (t2 - t1) / 1e9, s.n_files, (monotonic_ns() - t2) / 1e9);
out:
        object_snapshot_free(snap);
        if (tfd >= 0)
                close(tfd);
        for (size_t i = 0; i < s.n_files; i++) {
                free(s.files[i]->path);
                free(s.files[i]);
        }
        free(s.files);
        for (size_t i = 0; i < s.n_dirs; i++)
                free(s.dirs[i].path);
        free(s.dirs);
        for (size_t i = 0; i < s.n_links; i++)
                free(s.links[i].path);
        free(s.links);
        free(s.link_slots);
        for (size_t i = 0; i < s.n_deferred; i++)
                free(s.deferred[i].path);
        free(s.deferred);
        for (size_t i = 0; i < s.n_trees; i++)
                object_tree_free(s.trees[i]);
        free(s.trees);
}

void restore_job_free(struct restore_job *job)
{
        if (!job)
                return;
        free(job->relpath);
        free(job->target);
        free(job);
}

void restore_run(struct restore_job *job)
{
        /* prune's gate: the packs this reads stay until it is over, and what
         * the snapshot reaches is kept even if it is forgotten meanwhile */
        int gate = repo_job_begin(job->daemon->repo);
        if (gate < 0) {
                job_fail(job, gate, "out of memory");
                return;
        }
        repo_job_set_parent(job->daemon->repo, gate, &job->snapshot);
        /* pinned, then checked: a forget just before the pin is seen here */
        struct index *rd = repo_reader_get(job->daemon->repo);
        struct index_snapshot row;
        int k = rd ? index_snapshot_get(rd, &job->snapshot, &row) : -EIO;
        if (rd)
                repo_reader_put(job->daemon->repo, rd);
        if (k >= 0) {
                index_snapshot_done(&row);
                restore_gated(job);
        } else {
                job_fail(job, k == -ENOENT ? -ENOENT : k, "%s", k == -ENOENT ? "the snapshot was forgotten meanwhile"
                                                                          : "cannot read the index");
        }
        repo_job_end(job->daemon->repo, gate);
}
