/* SPDX-License-Identifier: MIT */
/* Restore (see restore.h). The job thread walks the snapshot's trees depth
 * first and creates every directory, symlink, device, fifo and hard link
 * relative to directory fds; files are written, with their metadata, on the
 * worker pool as the walk finds them (through a window, window.c), every
 * object authenticated (its id recomputed too with --verify). A
 * directory's metadata is set once everything below it is done, deepest
 * first, so creating entries does not disturb the restored mtimes; then
 * its tree is freed, so memory does not grow with the tree. Hard-link
 * groups are tracked by restore-links.c, metadata set by restore-meta.c. */

#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "fdpath.h"
#include "job-error.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "restore-links.h"
#include "restore-meta.h"
#include "restore-target.h"
#include "snaptree.h"
#include "test-hook.h"
#include "window.h"

struct state;

/* A directory being restored, from its creation until its metadata is set:
 * what is pending below it counts 1 while its tree is walked, one per file
 * being written, one per subdirectory not done, one per hard link waiting
 * for its file. At 0 its metadata is set (deepest first, so creating
 * entries does not disturb the restored mtimes) and its tree freed. */
struct rnode {
        struct rnode *parent;
        const struct object_entry *e; /* its entry in the parent's tree; NULL for the top */
        struct object_tree *tree;     /* its entries (file items point into it) */
        char *path;
        size_t pending;
        bool created;                 /* made by this restore (not merged into) */
        LIST_ENTRY(rnode) live;       /* in state.live */
};

struct file_item {
        struct restore_job *job;
        struct state *state;
        struct rnode *node;
        const struct object_entry *e;
        char *path; /* full path of the created file */
        bool first_link; /* the first of its hard-link group: the others wait for it */
        bool failed;     /* not restored whole: the others are not linked to it */
        struct window_item link; /* in state.writes */
};

/* A directory whose metadata waits for the end of the restore. */
struct late_dir {
        char *path;
        bool created;
        struct object_entry meta; /* mode, owner, mtime, xattrs (owned) */
};

struct state {
        struct restore_job *job;
        LIST_HEAD(, rnode) live;    /* directories not done */
        struct late_dir *late;      /* done, metadata set last (deepest first) */
        size_t n_late, cap_late;
        struct window *writes;      /* the test hook "restore-contents" holds them until the walk ends */
        size_t n_files;
        struct restore_links *links;
        bool root_user;
        int tfd;                    /* the directory everything is restored below */
        struct stat keep;           /* chuted's state dir: never replaced, emptied nor merged into */
        bool have_keep;
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

/* The restore stops before its end: a stopping daemon is an error too, so
 * that no client takes a cut restore for a whole one. */
static void cut_short(struct restore_job *job)
{
        if (__atomic_load_n(&job->daemon->stopping, __ATOMIC_RELAXED) && !job_error_get(&job->error))
                job_fail(job, -ECANCELED, "chuted is stopping: the restore to %s was cut short", job->target);
}

static void warn(struct restore_job *job, int error, const char *what, const char *path)
{
        restore_warn(job, error, what, path);
}

static void set_meta_fd(struct state *s, int fd, const char *path, const struct object_entry *e, bool created)
{
        restore_meta_fd(s->job, s->root_user, fd, path, e, created);
}

static void set_meta_path(struct state *s, int dirfd, const char *name, const char *path,
                          const struct object_entry *e)
{
        restore_meta_at(s->job, s->root_user, dirfd, name, path, e);
}

/* ---- directories being restored ---- */

static struct rnode *rnode_new(struct state *s, struct rnode *parent, const struct object_entry *e,
                               const char *path, struct object_tree *tree, bool created)
{
        struct rnode *n = calloc(1, sizeof(*n));
        if (!n || !(n->path = strdup(path))) {
                free(n);
                return NULL;
        }
        n->parent = parent;
        n->e = e;
        n->tree = tree;
        n->created = created;
        n->pending = 1;
        if (parent)
                parent->pending++;
        LIST_INSERT_HEAD(&s->live, n, live);
        return n;
}

static void rnode_free(struct rnode *n)
{
        LIST_REMOVE(n, live);
        object_tree_free(n->tree);
        free(n->path);
        free(n);
}

/* Keep what set_meta_fd needs of n's entry, to set it last. */
static int late_add(struct state *s, const struct rnode *n)
{
        if (!GROW(s->late, s->n_late, s->cap_late, 16))
                return -ENOMEM;
        struct late_dir *l = &s->late[s->n_late];
        *l = (struct late_dir){.path = strdup(n->path), .created = n->created,
                               .meta = {.kind = n->e->kind, .mode = n->e->mode, .uid = n->e->uid,
                                        .gid = n->e->gid, .mtime_ns = n->e->mtime_ns}};
        if (!l->path)
                return -ENOMEM;
        s->n_late++;
        if (n->e->n_xattrs) {
                l->meta.xattrs = calloc(n->e->n_xattrs, sizeof(*l->meta.xattrs));
                if (!l->meta.xattrs)
                        return -ENOMEM;
                for (size_t i = 0; i < n->e->n_xattrs; i++) {
                        const struct object_xattr *x = &n->e->xattrs[i];
                        struct object_xattr *y = &l->meta.xattrs[l->meta.n_xattrs];
                        y->name = strdup(x->name);
                        y->value = malloc(x->value_len ? x->value_len : 1);
                        if (!y->name || !y->value) {
                                free(y->name);
                                free(y->value);
                                return -ENOMEM;
                        }
                        memcpy(y->value, x->value, x->value_len);
                        y->value_len = x->value_len;
                        l->meta.n_xattrs++;
                }
        }
        return 0;
}

/* One thing pending below n is done: set the metadata of the directories
 * this completes (not the top's: restore_gated does that last). */
static void rnode_done(struct state *s, struct rnode *n)
{
        while (n && --n->pending == 0 && n->parent) {
                struct rnode *parent = n->parent;
                /* Without root, a directory without search permission for
                 * its owner keeps it until the end: hard links made later
                 * may need to reach a file in it. */
                bool late = !s->root_user && !(n->e->mode & S_IXUSR);
                if (stop(s->job)) {
                        /* nothing more is set */
                } else if (late) {
                        if (late_add(s, n) < 0)
                                job_fail(s->job, -ENOMEM, "out of memory");
                } else {
                        int fd = fdpath_open(s->tfd, rel_of(s, n->path), O_RDONLY | O_DIRECTORY, 0);
                        if (fd < 0) {
                                warn(s->job, fd, "open directory", n->path);
                        } else {
                                set_meta_fd(s, fd, n->path, n->e, n->created);
                                close(fd);
                        }
                }
                rnode_free(n);
                n = parent;
        }
}

/* Link name in dirfd (full path path) to first, the group's first path. */
static void link_to_first(struct state *s, const char *first, int dirfd, const char *name, const char *path)
{
        const char *first_name;
        _cleanup_close_ int from = fdpath_open_parent(s->tfd, rel_of(s, first), &first_name);
        if (from < 0 || linkat(from, first_name, dirfd, name, 0) < 0)
                warn(s->job, from < 0 ? from : -errno, "create the hard link", path);
}

/* Make a hard link that waited for its group's first file. */
static void link_waiting(const char *first, const char *path, void *waiter, void *userdata)
{
        struct state *s = userdata;
        const char *to_name;
        _cleanup_close_ int to = fdpath_open_parent(s->tfd, rel_of(s, path), &to_name);
        if (to < 0)
                warn(s->job, to, "create the hard link", path);
        else
                link_to_first(s, first, to, to_name, path);
        rnode_done(s, waiter);
}

/* The first name of the group failed: a link to what it left would pass for
 * the file, so each other name is an error of its own. */
static void link_skipped(const char *first, const char *path, void *waiter, void *userdata)
{
        struct state *s = userdata;

        log_warning("Restore: cannot create the hard link %s: its first name %s could not be restored", path,
                    first);
        __atomic_add_fetch(&s->job->errors, 1, __ATOMIC_RELAXED);
        rnode_done(s, waiter);
}

static void item_free(struct file_item *it)
{
        free(it->path);
        free(it);
}

/* Group's first file is written (or failed, or will not come): its other
 * names are linked to it, or skipped. */
static void links_written(struct state *s, uint64_t group, bool failed)
{
        restore_links_written(s->links, group, failed, failed ? link_skipped : link_waiting, s);
}

/* On the job's thread: a file is written; its directory may be done. */
static void write_done(struct window_item *link, void *userdata)
{
        struct state *s = userdata;
        struct file_item *it = window_entry(link, struct file_item, link);
        if (it->first_link)
                links_written(s, it->e->hardlink, it->failed);
        struct rnode *n = it->node;
        item_free(it);
        rnode_done(s, n);
}

static void write_file(struct file_item *it);

/* On a worker: write the file. */
static void write_one(struct window_item *link, void *userdata)
{
        (void)userdata;
        write_file(window_entry(link, struct file_item, link));
}

/* A write that never ran, or was not taken back (the restore failed). */
static void write_drop(struct window_item *link, void *userdata)
{
        (void)userdata;
        item_free(window_entry(link, struct file_item, link));
}

/* Queue file entry e of node (created at path) for writing. */
static int queue_file(struct state *s, struct rnode *node, const char *path, const struct object_entry *e,
                      bool first_link)
{
        struct restore_job *job = s->job;
        struct file_item *it = calloc(1, sizeof(*it));
        if (!it || !(it->path = strdup(path))) {
                free(it);
                return -ENOMEM;
        }
        it->job = job;
        it->state = s;
        it->node = node;
        it->e = e;
        it->first_link = first_link;
        node->pending++;
        s->n_files++;
        __atomic_add_fetch(&job->total_files, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&job->total_bytes, e->size, __ATOMIC_RELAXED);
        window_add(s->writes, &it->link);
        return 0;
}

static int restore_tree(struct state *s, struct rnode *node, int dirfd, const char *dirpath,
                        const struct object_tree *t);

/* Create one entry named name in dirfd (full path path), of node. */
static int restore_entry(struct state *s, struct rnode *node, int dirfd, const char *name, const char *path,
                         const struct object_entry *e)
{
        struct restore_job *job = s->job;
        int r;

        bool first_link = false;
        enum restore_link_place place = RESTORE_LINK_FIRST;
        const char *first = NULL;
        if (e->hardlink && e->kind != OBJECT_KIND_DIR) {
                r = restore_links_place(s->links, e, path, node, &place, &first);
                if (r < 0)
                        return r;
                first_link = place == RESTORE_LINK_FIRST;
        }
        /* --overwrite: what is in the way goes now, except before a file
         * that is written (beside it, renamed over it once whole) and
         * where no link can be made */
        struct stat st;
        if (s->job->overwrite && place != RESTORE_LINK_SKIP && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !(e->kind == OBJECT_KIND_DIR && S_ISDIR(st.st_mode)) &&
            !(e->kind == OBJECT_KIND_FILE && !S_ISDIR(st.st_mode) &&
              (place == RESTORE_LINK_FIRST || place == RESTORE_LINK_OWN))) {
                r = restore_remove_at(dirfd, name, s->have_keep ? &s->keep : NULL);
                if (r < 0) {
                        warn(job, r, "replace", path);
                        if (first_link) /* its group waits for a file that will not come */
                                links_written(s, e->hardlink, true);
                        return 0;
                }
        }
        switch (place) {
        case RESTORE_LINK_FIRST:
                break;
        case RESTORE_LINK_OWN:
                log_warning("Restore: %s was recorded as a hard link of %s but with other content; "
                            "restored as a file of its own",
                            path, first);
                break;
        case RESTORE_LINK_WAIT: /* its file is being written: linked once it is */
                node->pending++;
                return 0;
        case RESTORE_LINK_NOW:
                link_to_first(s, first, dirfd, name, path);
                return 0;
        case RESTORE_LINK_SKIP: /* what is there stays */
                node->pending++;
                link_skipped(first, path, node, s);
                return 0;
        }
        switch (e->kind) {
        case OBJECT_KIND_DIR: {
                /* an existing directory is merged into: with --overwrite, or
                 * on a case-insensitive target (exFAT, CIFS, casefold) where
                 * "Foo" and "foo" of the snapshot are one directory */
                bool created = mkdirat(dirfd, name, 0700) == 0;
                if (!created && errno != EEXIST)
                        return warn(job, -errno, "create directory", path), 0;
                int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return warn(job, -errno, "open directory", path), 0;
                struct stat dst;
                if (!created && s->have_keep && fstat(fd, &dst) == 0 && dst.st_dev == s->keep.st_dev &&
                    dst.st_ino == s->keep.st_ino) {
                        /* a snapshot holding chuted's state dir path (another
                         * node's), restored with --overwrite over it */
                        close(fd);
                        return warn(job, -EBUSY, "restore into chuted's own state directory", path), 0;
                }
                __atomic_add_fetch(&job->dirs, 1, __ATOMIC_RELAXED);
                struct object_tree *sub = NULL;
                r = snaptree_load(job->daemon->repo, &e->subtree, &sub);
                if (r < 0) {
                        close(fd);
                        job_fail(job, r, "cannot read the tree of %s: %s", path, strerror(-r));
                        return r;
                }
                struct rnode *child = rnode_new(s, node, e, path, sub, created);
                if (!child) {
                        object_tree_free(sub);
                        close(fd);
                        return -ENOMEM;
                }
                r = restore_tree(s, child, fd, path, sub);
                close(fd);
                rnode_done(s, child);
                return r;
        }
        case OBJECT_KIND_FILE:
                /* created and written on the pool */
                return queue_file(s, node, path, e, first_link);
        case OBJECT_KIND_SYMLINK:
                if (symlinkat((const char *)e->target, dirfd, name) < 0)
                        return warn(job, -errno, "create symlink", path), 0;
                set_meta_path(s, dirfd, name, path, e);
                return 0;
        case OBJECT_KIND_FIFO:
        case OBJECT_KIND_CHARDEV:
        case OBJECT_KIND_BLOCKDEV:
        case OBJECT_KIND_SOCKET: {
                if (mknodat(dirfd, name, restore_node_type(e->kind) | 0600, (dev_t)e->rdev) < 0)
                        return warn(job, -errno, "create special file", path), 0;
                set_meta_path(s, dirfd, name, path, e);
                return 0;
        }
        }
        return 0;
}

static int restore_tree(struct state *s, struct rnode *node, int dirfd, const char *dirpath,
                        const struct object_tree *t)
{
        for (size_t i = 0; i < t->n_entries && !stop(s->job); i++) {
                const struct object_entry *e = &t->entries[i];
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dirpath, (const char *)e->name) < 0)
                        return -ENOMEM;
                int r = restore_entry(s, node, dirfd, (const char *)e->name, path, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Create a file with a name of its own in dfd (in tmp): what --overwrite
 * writes beside a file it replaces. The fd, or -errno. */
static int open_beside(int dfd, char *tmp, size_t size)
{
        for (int i = 0; i < 16; i++) {
                uint64_t rnd = 0;
                crypto_random(&rnd, sizeof(rnd));
                snprintf(tmp, size, ".chute-restore-%016llx", (unsigned long long)rnd);
                int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0 || errno != EEXIST)
                        return fd < 0 ? -errno : fd;
        }
        return -EEXIST;
}

/* What a failed write left goes: never at the file's name as if restored.
 * name in dfd, or (dfd < 0) the file's own name. */
static void drop_partial(struct file_item *it, int dfd, const char *name)
{
        _cleanup_close_ int own = -1;

        if (dfd < 0)
                dfd = own = fdpath_open_parent(it->state->tfd, rel_of(it->state, it->path), &name);
        if (dfd < 0 || unlinkat(dfd, name, 0) < 0)
                log_debug("Restore: cannot remove what the failed write of %s left: %s", it->path,
                          strerror(dfd < 0 ? -dfd : errno));
}

static void write_file(struct file_item *it)
{
        struct restore_job *job = it->job;
        struct state *s = it->state;
        const struct object_extent *ext = NULL;
        size_t n = 0;
        struct object_list *list = NULL;
        uint64_t off = 0;

        it->failed = true; /* until it is whole */
        if (stop(job))
                return;
        /* below the target's fd with no symlink at any level: a restored
         * directory swapped for a symlink cannot send the write elsewhere */
        int fd = fdpath_open(s->tfd, rel_of(s, it->path), O_WRONLY | O_CREAT | O_EXCL, 0600);
        _cleanup_close_ int dfd = -1; /* --overwrite over a file: written beside it, in dfd */
        const char *name = NULL;
        char tmp[40];
        if (fd == -EEXIST && job->overwrite) {
                dfd = fdpath_open_parent(s->tfd, rel_of(s, it->path), &name);
                fd = dfd < 0 ? dfd : open_beside(dfd, tmp, sizeof(tmp));
        }
        if (fd < 0) {
                warn(job, fd, "create file", it->path);
                return;
        }
        int r = snaptree_extents(job->daemon->repo, it->e, &ext, &n, &list);
        bool read_failed = r < 0; /* not a write: e.g. a pack evicted here whose stores are unreachable */
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (stop(job)) {
                        r = -ECANCELED; /* cut short: never finished as if whole */
                        break;
                }
                if (ext[i].hole) {
                        off += ext[i].length;
                        __atomic_add_fetch(&job->bytes, ext[i].length, __ATOMIC_RELAXED);
                        continue;
                }
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                /* the tag binds the id; --verify recomputes it as well */
                r = (job->verify ? repo_get : repo_get_authenticated)(job->daemon->repo, &ext[i].id, OBJECT_DATA,
                                                                      (size_t)ext[i].length, &buf, &len);
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
                if (r >= 0)
                        __atomic_add_fetch(&job->bytes, ext[i].length, __ATOMIC_RELAXED);
        }
        /* a trailing hole: set the size (data writes already did otherwise) */
        if (r >= 0 && n > 0 && ext[n - 1].hole && ftruncate(fd, (off_t)it->e->size) < 0)
                r = -errno;
        object_list_free(list);
        if (r == -ECANCELED) {
                cut_short(job);
        } else if (r == -EBADMSG || r == -ENOENT) {
                job_fail(job, r, "%s: the backup data is %s", it->path,
                         r == -ENOENT ? "missing from the repository" : "damaged (verification failed)");
        } else if (r == -ENOSPC || r == -EIO || r == -EDQUOT || r == -ENOMEM) {
                job_fail(job, r, "cannot %s %s: %s", read_failed ? "read the backed-up data of" : "write",
                         it->path, strerror(-r));
        } else if (r < 0) {
                warn(job, r, read_failed ? "read the backed-up data of" : "write", it->path);
        } else {
                set_meta_fd(s, fd, it->path, it->e, true); /* O_EXCL */
                if (dfd >= 0 && renameat(dfd, tmp, dfd, name) < 0) {
                        r = -errno;
                        warn(job, r, "replace", it->path);
                }
        }
        close(fd);
        if (r < 0) {
                drop_partial(it, dfd, dfd >= 0 ? tmp : NULL);
                return;
        }
        it->failed = false;
        __atomic_add_fetch(&job->files, 1, __ATOMIC_RELAXED);
}

static void restore_gated(struct restore_job *job)
{
        struct state s = {.job = job, .root_user = geteuid() == 0};
        s.have_keep = stat(job->daemon->config.state_dir, &s.keep) == 0;
        struct object_tree *t = NULL, *holder = NULL; /* holder: the tree e points into */
        struct object_entry *e = NULL;
        struct rnode *top = NULL;
        int tfd = -1, r;

        /* a test pausing "before file contents are written" gets exactly that */
        s.links = restore_links_new();
        r = s.links ? window_new(job->daemon->workers, write_one, write_done, &s, test_hook_armed("restore-contents"),
                                 &s.writes)
                    : -ENOMEM;
        if (r < 0) {
                restore_links_free(s.links);
                job_fail(job, r, "out of memory");
                return;
        }

        int64_t t0 = monotonic_ns();
        struct object_snapshot *snap = NULL;
        r = snaptree_load_snapshot(job->daemon->repo, &job->snapshot, &snap);
        if (r < 0) {
                job_fail(job, r, "cannot read the snapshot object: %s", strerror(-r));
                goto out;
        }
        r = snaptree_resolve(job->daemon->repo, &snap->tree, job->relpath, &t, &e);
        if (r == -ENOENT || r == -ENOTDIR) {
                job_fail(job, -ENOENT, "%s is not in that snapshot", job->relpath);
                goto out;
        }
        if (r < 0) {
                job_fail(job, r, "cannot read the snapshot: %s", strerror(-r));
                goto out;
        }
        holder = t;

        struct stat st;
        bool exists = stat(job->target, &st) == 0;
        if (e && e->kind != OBJECT_KIND_DIR) {
                /* a single entry: TARGET is its new path, or a directory to put it in */
                _cleanup_free_ char *dir = NULL, *path = NULL, *new_name = NULL;
                const char *name = (const char *)e->name;
                if (exists && S_ISDIR(st.st_mode)) {
                        dir = strdup(job->target);
                        r = dir ? 0 : -ENOMEM;
                } else {
                        r = restore_target_split(job->target, &dir, &new_name);
                        name = new_name;
                }
                if (r == -EINVAL) {
                        job_fail(job, -ENOTDIR, "%s names no file to restore %s to", job->target, job->relpath);
                        goto out;
                }
                if (r < 0) {
                        job_fail(job, r, "out of memory");
                        goto out;
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
                top = rnode_new(&s, NULL, NULL, dir, NULL, false);
                r = top ? restore_entry(&s, top, tfd, name, path, e) : -ENOMEM;
        } else {
                if (exists && !S_ISDIR(st.st_mode)) {
                        job_fail(job, -ENOTDIR, "%s exists and is not a directory", job->target);
                        goto out;
                }
                /* a new target is made and opened through its parent, never
                 * by its path again: a symlink put in its place meanwhile is
                 * not followed */
                if (exists) {
                        tfd = open(job->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        r = tfd < 0 ? -errno : 0;
                } else {
                        r = tfd = restore_target_make(job->target);
                }
                if (r < 0) {
                        tfd = -1;
                        if (!exists && (r == -ENOTDIR || r == -ELOOP)) /* made, then swapped */
                                job_fail(job, r, "%s changed while it was made (it is no longer a directory): "
                                                 "restore again", job->target);
                        else
                                job_fail(job, r, "cannot %s %s: %s", exists ? "open" : "create", job->target,
                                         strerror(-r));
                        goto out;
                }
                if ((!exists || !job->overwrite) && !restore_dir_empty(tfd)) {
                        job_fail(job, -EEXIST, exists ? "%s is not empty: restore into a new or empty directory, "
                                                        "or use --overwrite"
                                                      : "%s changed while it was made: restore again",
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
                        t = sub;
                } else {
                        holder = NULL; /* the top's own tree */
                }
                s.tfd = tfd;
                s.base_len = strlen(job->target) + 1;
                top = rnode_new(&s, NULL, NULL, job->target, t, !exists);
                if (!top) {
                        object_tree_free(t);
                        t = NULL;
                }
                r = top ? restore_tree(&s, top, tfd, job->target, t) : -ENOMEM;
        }
        if (r < 0) {
                job_fail(job, r, "restore failed: %s", strerror(-r));
                goto out;
        }
        if (stop(job)) {
                cut_short(job);
                goto out;
        }

        int64_t t1 = monotonic_ns();
        if (window_holding(s.writes))
                test_hook_pause("restore-contents");
        window_finish(s.writes);
        if (stop(job)) {
                cut_short(job);
                goto out;
        }
        int64_t t2 = monotonic_ns();
        for (size_t i = 0; i < s.n_late; i++) { /* in the order done: deepest first */
                int fd = fdpath_open(tfd, rel_of(&s, s.late[i].path), O_RDONLY | O_DIRECTORY, 0);
                if (fd < 0) {
                        warn(job, fd, "open directory", s.late[i].path);
                        continue;
                }
                set_meta_fd(&s, fd, s.late[i].path, &s.late[i].meta, s.late[i].created);
                close(fd);
        }
        if (e && e->kind == OBJECT_KIND_DIR)
                set_meta_fd(&s, tfd, job->target, e, !exists);
        else if (!e && snap->has_root_entry)
                set_meta_fd(&s, tfd, job->target, &snap->root_entry, !exists);
        log_debug("Restore to %s: walk and contents %.3fs, the last contents %.3fs (%zu files), top %.3fs",
                  job->target, (t1 - t0) / 1e9, (t2 - t1) / 1e9, s.n_files, (monotonic_ns() - t2) / 1e9);
out:
        /* after a failure: the writes in flight end first; held ones never ran */
        window_free(s.writes, write_drop);
        while (!LIST_EMPTY(&s.live))
                rnode_free(LIST_FIRST(&s.live));
        object_snapshot_free(snap);
        object_tree_free(holder);
        if (tfd >= 0)
                close(tfd);
        restore_links_free(s.links);
        for (size_t i = 0; i < s.n_late; i++) {
                free(s.late[i].path);
                object_entry_done(&s.late[i].meta);
        }
        free(s.late);
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
