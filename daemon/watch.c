/* SPDX-License-Identifier: MIT */
/* inotify watching (see watch.h). Each watched directory has a node
 * mapping its watch descriptor to (root, path relative to the root). An
 * event marks the directory whose listing changed as dirty; a directory's
 * own attribute change dirties its parent (its metadata lives there); a new
 * directory is watched at once and scanned by the next snapshot, which also
 * catches files created in it before its watch existed. */

#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "own-files.h"
#include "path.h"
#include "root.h"

#define WATCH_MASK                                                                                  \
        (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
         IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR | IN_DONT_FOLLOW)

struct wnode {
        int wd;
        struct root *root;
        char *relpath; /* "" for the root */
        char **own;    /* names of chuted's own files in this directory: their events are ignored */
        size_t n_own;
        unsigned gen;  /* w->gen when watch_tree last found it in its root */
};

struct watch {
        struct daemon *daemon;
        int fd;
        struct event *ev;
        struct wnode **by_wd;
        size_t cap;
        bool limit_warned;
        unsigned gen;         /* bumped by each rescan of the watches after an overflow */
        bool incomplete;      /* watch_tree skipped a directory it could not read: no sweep */
        struct own_files own; /* as of the last watch_root_start */
};

static void node_free(struct watch *w, int wd)
{
        if (wd < 0 || (size_t)wd >= w->cap || !w->by_wd[wd])
                return;
        for (size_t i = 0; i < w->by_wd[wd]->n_own; i++)
                free(w->by_wd[wd]->own[i]);
        free(w->by_wd[wd]->own);
        free(w->by_wd[wd]->relpath);
        free(w->by_wd[wd]);
        w->by_wd[wd] = NULL;
}

static int node_set(struct watch *w, int wd, struct root *root, const char *relpath)
{
        if ((size_t)wd >= w->cap) {
                size_t cap = w->cap ? w->cap : 256;
                while (cap <= (size_t)wd)
                        cap *= 2;
                struct wnode **v = realloc(w->by_wd, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                memset(v + w->cap, 0, (cap - w->cap) * sizeof(*v));
                w->by_wd = v;
                w->cap = cap;
        }
        struct wnode *n = w->by_wd[wd];
        char *p = strdup(relpath);
        if (!p)
                return -ENOMEM;
        if (n) {
                if (n->root != root) {
                        n->root->watches--;
                        root->watches++;
                }
                free(n->relpath);
        } else {
                n = calloc(1, sizeof(*n));
                if (!n) {
                        free(p);
                        return -ENOMEM;
                }
                w->by_wd[wd] = n;
                root->watches++;
        }
        n->wd = wd;
        n->root = root;
        n->relpath = p;
        n->gen = w->gen;
        return 0;
}

/* Remember that name in n is one of chuted's own files. */
static int node_add_own(struct wnode *n, const char *name)
{
        for (size_t i = 0; i < n->n_own; i++)
                if (!strcmp(n->own[i], name))
                        return 0;
        char **v = realloc(n->own, (n->n_own + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        n->own = v;
        if (!(n->own[n->n_own] = strdup(name)))
                return -ENOMEM;
        n->n_own++;
        return 0;
}

static bool node_is_own(const struct wnode *n, const char *name)
{
        for (size_t i = 0; i < n->n_own; i++)
                if (!strcmp(n->own[i], name))
                        return true;
        return false;
}

static bool own_ino(const struct watch *w, ino_t ino)
{
        for (size_t i = 0; i < w->own.n; i++)
                if (w->own.v[i].ino == ino)
                        return true;
        return false;
}

static void warn_limit(struct watch *w, struct root *root)
{
        if (w->limit_warned)
                return;
        w->limit_warned = true;
        long cur = -1;
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
        if (f && fscanf(f, "%ld", &cur) != 1)
                cur = -1;
        char now[32] = "unknown here"; /* /proc/sys hidden, as under chuted.service's ProcSubset=pid */
        if (cur > 0)
                snprintf(now, sizeof(now), "%ld", cur);
        log_event(LOG_WARNING, MSGID_ROOT_UNAVAILABLE, LOG_FIELDS(LOG_ROOT(root->path)),
                  "The inotify watch limit is reached (fs.inotify.max_user_watches = %s) while watching %s; "
                  "it falls back to periodic rescans. Raise the limit with: sysctl fs.inotify.max_user_watches=%ld",
                  now, root->path, cur > 0 ? cur * 4 : 524288);
}

/* Watch dir relpath of root and every directory below it. */
static int watch_tree(struct watch *w, struct root *root, const char *relpath, dev_t root_dev)
{
        _cleanup_free_ char *full = *relpath ? NULL : strdup(root->path);
        if (*relpath && asprintf(&full, "%s/%s", root->path, relpath) < 0)
                return -ENOMEM;
        if (!full)
                return -ENOMEM;
        struct stat self;
        if (lstat(full, &self) == 0 && own_files_has(&w->own, self.st_dev, self.st_ino))
                return 0; /* chuted's state dir: never watched */
        int wd = inotify_add_watch(w->fd, full, WATCH_MASK);
        if (wd < 0) {
                if (errno == ENOSPC) {
                        warn_limit(w, root);
                        return -ENOSPC;
                }
                /* the root itself, a directory through a symlink (IN_DONT_FOLLOW):
                 * not watched, so it must be polled, not shown as watching */
                if (!*relpath && errno == ENOTDIR)
                        return -ELOOP;
                /* vanished meanwhile, or not a directory any more: the snapshot will see */
                if (errno == EACCES)
                        w->incomplete = true;
                return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -errno;
        }
        int r = node_set(w, wd, root, relpath);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) { /* gone or replaced meanwhile: fine; out of fds or memory: not */
                if (errno == EACCES)
                        w->incomplete = true; /* its subdirectories' watches stay as they are */
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EACCES ? 0 : -errno;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                w->incomplete = true;
                return 0;
        }
        TAKE_FD(fd);
        struct dirent *de;
        int first_error = 0;
        r = 0;
        while (r >= 0) {
                errno = 0;
                if (!(de = readdir(d))) {
                        if (errno)
                                w->incomplete = true; /* an I/O error part way */
                        break;
                }
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                struct stat st;
                if (own_ino(w, de->d_ino)) {
                        /* maybe chuted's own file (the inode number says so cheaply) */
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            own_files_has(&w->own, st.st_dev, st.st_ino)) {
                                r = node_add_own(w->by_wd[wd], de->d_name);
                                continue;
                        }
                }
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT)
                                w->incomplete = true; /* a directory without search permission */
                        continue;
                }
                if (!S_ISDIR(st.st_mode))
                        continue;
                if (root->one_fs && st.st_dev != root_dev)
                        continue;
                _cleanup_free_ char *child = path_join(relpath, de->d_name);
                if (!child) {
                        r = -ENOMEM;
                        break;
                }
                /* one subtree that cannot be watched (too deep, say) does
                 * not leave its later siblings unwatched: the first error is
                 * returned once they are done, unless nothing more can be */
                int k = watch_tree(w, root, child, root_dev);
                if (k < 0 && first_error == 0)
                        first_error = k;
                if (k == -ENOSPC || k == -ENOMEM)
                        r = k;
        }
        closedir(d);
        return r < 0 ? r : first_error;
}

static void unwatch_node(struct watch *w, struct root *root, size_t i)
{
        inotify_rm_watch(w->fd, w->by_wd[i]->wd);
        root->watches--;
        node_free(w, (int)i);
}

/* Remove the watches of relpath and everything below it. */
static void unwatch_tree(struct watch *w, struct root *root, const char *relpath)
{
        size_t len = strlen(relpath);
        for (size_t i = 0; i < w->cap; i++) {
                struct wnode *n = w->by_wd[i];
                if (!n || n->root != root)
                        continue;
                if (*relpath && (strncmp(n->relpath, relpath, len) || (n->relpath[len] && n->relpath[len] != '/')))
                        continue;
                unwatch_node(w, root, i);
        }
}

/* After a full watch_tree of root: the watches it did not find again are
 * on directories that left the root, or were deleted, while their events
 * were lost (a queue overflow): their events would name paths that are
 * not there any more. */
static void unwatch_stale(struct watch *w, struct root *root)
{
        for (size_t i = 0; i < w->cap; i++) {
                struct wnode *n = w->by_wd[i];
                if (!n || n->root != root || n->gen == w->gen)
                        continue;
                unwatch_node(w, root, i);
        }
}

static void handle(struct watch *w, const struct inotify_event *ev)
{
        if (ev->mask & IN_Q_OVERFLOW) {
                log_warning("The inotify event queue overflowed: every watched root is rescanned");
                w->gen++;
                for (struct root *root = w->daemon->roots; root; root = root->next) {
                        if (root->state == ROOT_UNAVAILABLE || root->polling)
                                continue;
                        /* lost events may hide new, renamed and removed
                         * directories: watch the tree again (existing watches
                         * keep their descriptors and get their current paths),
                         * then drop the ones not found in it */
                        struct stat st;
                        w->incomplete = false;
                        int r = stat(root->path, &st) == 0 ? watch_tree(w, root, "", st.st_dev) : -errno;
                        if (r == -ENOSPC)
                                root_set_polling(root);
                        else if (r >= 0 && !w->incomplete) /* what could not be read keeps its watches */
                                unwatch_stale(w, root);
                        root_mark_full(root);
                }
                return;
        }
        if (ev->wd < 0 || (size_t)ev->wd >= w->cap || !w->by_wd[ev->wd])
                return;
        struct wnode *n = w->by_wd[ev->wd];
        struct root *root = n->root;

        if (ev->mask & IN_IGNORED) {
                root->watches--;
                node_free(w, ev->wd);
                return;
        }
        if (ev->len == 0 || !ev->name[0]) {
                /* an event on the directory itself */
                if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
                        if (!*n->relpath)
                                root_gone(root);
                        return;
                }
                if (ev->mask & IN_ATTRIB) {
                        /* its entry is in its parent's listing (the root's: "") */
                        _cleanup_free_ char *parent = path_parent(n->relpath);
                        if (parent)
                                root_mark_dirty(root, parent, false);
                        else
                                root_mark_full(root); /* out of memory: a full walk */
                }
                return;
        }
        if (node_is_own(n, ev->name))
                return; /* chuted's own file changed: nothing to back up */
        bool deep = false;
        if (!strcmp(ev->name, ".chuteignore") || !strcmp(ev->name, "CACHEDIR.TAG"))
                deep = true; /* what is excluded below this directory may have changed */
        root_mark_dirty(root, n->relpath, deep);
        if (ev->mask & IN_ISDIR) {
                _cleanup_free_ char *child = path_join(n->relpath, ev->name);
                if (!child)
                        return;
                if (ev->mask & IN_MOVED_FROM)
                        unwatch_tree(w, root, child);
                if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
                        struct stat st;
                        if (stat(root->path, &st) == 0) {
                                int r = watch_tree(w, root, child, st.st_dev);
                                if (r < 0 && r != -ENOSPC)
                                        log_warning_errno(r, "Cannot watch %s/%s; %s is rescanned periodically "
                                                          "instead", root->path, child, root->path);
                                if (r < 0)
                                        root_set_polling(root);
                        }
                        /* its content is new to the next snapshot: list it all */
                        root_mark_dirty(root, child, true);
                }
        }
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
        struct watch *w = arg;
        char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        for (int rounds = 0; rounds < 16; rounds++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        return;
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        handle(w, ev);
                        p += sizeof(*ev) + ev->len;
                }
        }
}

int watch_new(struct daemon *d, struct watch **ret)
{
        struct watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->daemon = d;
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
                int r = -errno;
                free(w);
                return r;
        }
        w->ev = event_new(d->base, w->fd, EV_READ | EV_PERSIST, on_inotify, w);
        if (!w->ev || event_add(w->ev, NULL) < 0) {
                watch_free(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

void watch_free(struct watch *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->cap; i++)
                node_free(w, (int)i);
        free(w->by_wd);
        if (w->ev)
                event_free(w->ev);
        close(w->fd);
        free(w);
}

int watch_root_start(struct watch *w, struct root *root)
{
        own_files_get(w->daemon, &w->own);
        struct stat st;
        if (stat(root->path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        int r = watch_tree(w, root, "", st.st_dev);
        if (r < 0)
                unwatch_tree(w, root, "");
        return r;
}

void watch_root_stop(struct watch *w, struct root *root)
{
        if (w)
                unwatch_tree(w, root, "");
}

unsigned watch_root_count(const struct watch *w, const struct root *root)
{
        return root->watches > 0 ? (unsigned)root->watches : 0;
}
