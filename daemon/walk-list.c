/* SPDX-License-Identifier: MIT */
/* Listing one directory of a snapshot's walk (see walk-list.h): its entries
 * described from lstat (owner names cached per walk), excludes and cache
 * directory tags applied, sorted by name; extended attributes of entries
 * other than files and directories. Thread-safe, so that the walk can list
 * the subdirectories it is about to enter ahead of it on the worker pool. */

#include "walk-list.h"

#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "exclude.h"
#include "fdpath.h"
#include "log.h"
#include "path.h"
#include "repo.h"
#include "snapshot.h"
#include "workers.h"

struct owner_node {
        uint64_t key; /* (is_group << 32) | id */
        char *name;
};

static int owner_cmp(const void *a, const void *b)
{
        uint64_t x = ((const struct owner_node *)a)->key, y = ((const struct owner_node *)b)->key;
        return x < y ? -1 : x > y;
}

/* The user or group name of id (a new string), NULL if none. Thread-safe. */
static char *lookup_owner(uint32_t id, bool group)
{
        char buf[4096];
        if (group) {
                struct group g, *res = NULL;
                if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
                        return strdup(g.gr_name);
        } else {
                struct passwd p, *res = NULL;
                if (getpwuid_r(id, &p, buf, sizeof(buf), &res) == 0 && res)
                        return strdup(p.pw_name);
        }
        return NULL;
}

static char *owner_name_locked(struct walk *w, uint32_t id, bool group);

/* The name of owner id (a new string, NULL if none), cached per walk; any thread. */
static char *owner_name(struct walk *w, uint32_t id, bool group)
{
        pthread_mutex_lock(&w->owners_lock);
        char *name = owner_name_locked(w, id, group);
        pthread_mutex_unlock(&w->owners_lock);
        return name;
}

static char *owner_name_locked(struct walk *w, uint32_t id, bool group)
{
        struct owner_node key = {.key = (uint64_t)group << 32 | id};
        struct owner_node **found = tfind(&key, &w->owners, owner_cmp);
        if (found)
                return (*found)->name ? strdup((*found)->name) : NULL;

        struct owner_node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->key = key.key;
        n->name = lookup_owner(id, group);
        if (!tsearch(n, &w->owners, owner_cmp)) {
                free(n->name);
                free(n);
                return NULL;
        }
        return n->name ? strdup(n->name) : NULL;
}

static ssize_t list_xattrs(const char *path, int fd, char *names, size_t size)
{
        return path ? llistxattr(path, names, size) : flistxattr(fd, names, size);
}

static ssize_t get_xattr(const char *path, int fd, const char *name, void *value, size_t size)
{
        return path ? lgetxattr(path, name, value, size) : fgetxattr(fd, name, value, size);
}

static int xattr_cmp(const void *a, const void *b)
{
        return strcmp(((const struct object_xattr *)a)->name, ((const struct object_xattr *)b)->name);
}

/* A list or a value can grow between asking its size and reading it:
 * ERANGE then, and the two are tried again, this many times at most. */
#define XATTR_TRIES 4

/* The value of one attribute into a new buffer: its length, -ENODATA when
 * it vanished meanwhile, another -errno, or -E2BIG. */
static ssize_t read_xattr(const char *path, int fd, const char *name, char **ret)
{
        for (int tries = 0; tries < XATTR_TRIES; tries++) {
                ssize_t vl = get_xattr(path, fd, name, NULL, 0);
                if (vl < 0)
                        return -errno;
                if ((size_t)vl > OBJECT_XATTR_VALUE_MAX)
                        return -E2BIG;
                char *v = malloc(vl ? (size_t)vl : 1);
                if (!v)
                        return -ENOMEM;
                ssize_t got = get_xattr(path, fd, name, v, (size_t)vl);
                if (got >= 0) {
                        *ret = v;
                        return got;
                }
                int err = errno;
                free(v);
                if (err != ERANGE)
                        return -err;
        }
        return -ERANGE;
}

int walk_read_xattrs(const char *path, int fd, struct object_entry *e)
{
        _cleanup_free_ char *names = NULL;
        ssize_t n = -1;

        for (int tries = 0; n < 0 && tries < XATTR_TRIES; tries++) {
                n = list_xattrs(path, fd, NULL, 0);
                if (n <= 0)
                        return n < 0 && errno != ENOTSUP && errno != ENODATA ? -errno : 0;
                free(names);
                names = malloc((size_t)n);
                if (!names)
                        return -ENOMEM;
                n = list_xattrs(path, fd, names, (size_t)n);
                if (n < 0 && errno != ERANGE)
                        return -errno;
        }
        if (n < 0)
                return -ERANGE;
        size_t count = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
                count++;
        if (count == 0)
                return 0;
        if (count > OBJECT_XATTRS_MAX)
                return -E2BIG;
        e->xattrs = calloc(count, sizeof(*e->xattrs));
        if (!e->xattrs)
                return -ENOMEM;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *name = names + i;
                char *value = NULL;
                ssize_t vl = read_xattr(path, fd, name, &value);
                if (vl == -ENODATA)
                        continue; /* removed meanwhile */
                if (vl < 0)
                        return (int)vl; /* not "no such attribute": the caller counts an error */
                struct object_xattr *x = &e->xattrs[e->n_xattrs];
                x->value = (uint8_t *)value;
                x->name = strdup(name);
                if (!x->name) {
                        free(x->value);
                        x->value = NULL;
                        return -ENOMEM;
                }
                x->value_len = (size_t)vl;
                e->n_xattrs++;
        }
        if (e->n_xattrs > 1)
                qsort(e->xattrs, e->n_xattrs, sizeof(*e->xattrs), xattr_cmp);
        return 0;
}

static enum object_kind kind_of(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFREG:
                return OBJECT_KIND_FILE;
        case S_IFDIR:
                return OBJECT_KIND_DIR;
        case S_IFLNK:
                return OBJECT_KIND_SYMLINK;
        case S_IFIFO:
                return OBJECT_KIND_FIFO;
        case S_IFCHR:
                return OBJECT_KIND_CHARDEV;
        case S_IFBLK:
                return OBJECT_KIND_BLOCKDEV;
        case S_IFSOCK:
                return OBJECT_KIND_SOCKET;
        default:
                return 0;
        }
}


/* A group number derived from the inode, so that subtrees reused from an
 * earlier snapshot keep consistent groups; 0 for a single link. */
static uint64_t hardlink_group(const struct stat *st)
{
        if (st->st_nlink <= 1)
                return 0;
        uint64_t g = ((uint64_t)st->st_dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)st->st_ino;
        g ^= g >> 31;
        return g ? g : 1;
}

/* Fill the metadata part of an entry from a stat. */
int walk_entry_from_stat(struct walk *w, const char *name, const struct stat *st, struct object_entry *e)
{
        e->name_len = strlen(name);
        e->name = malloc(e->name_len + 1);
        if (!e->name)
                return -ENOMEM;
        memcpy(e->name, name, e->name_len + 1);
        e->kind = kind_of(st->st_mode);
        e->mode = st->st_mode & 07777;
        e->uid = st->st_uid;
        e->gid = st->st_gid;
        e->user = owner_name(w, st->st_uid, false);
        e->group = owner_name(w, st->st_gid, true);
        e->mtime_ns = walk_ts_ns(st->st_mtim);
        e->ctime_ns = walk_ts_ns(st->st_ctim);
        e->nlink = st->st_nlink;
        if (e->kind == OBJECT_KIND_FILE)
                e->size = (uint64_t)st->st_size;
        if (e->kind == OBJECT_KIND_CHARDEV || e->kind == OBJECT_KIND_BLOCKDEV)
                e->rdev = st->st_rdev;
        e->hardlink = e->kind != OBJECT_KIND_DIR ? hardlink_group(st) : 0;
        return 0;
}

int walk_entry_refresh(struct object_entry *e, const struct stat *st, int fd)
{
        e->kind = kind_of(st->st_mode);
        e->mode = st->st_mode & 07777;
        e->uid = st->st_uid;
        e->gid = st->st_gid;
        free(e->user);
        free(e->group);
        e->user = lookup_owner(st->st_uid, false);
        e->group = lookup_owner(st->st_gid, true);
        e->mtime_ns = walk_ts_ns(st->st_mtim);
        e->ctime_ns = walk_ts_ns(st->st_ctim);
        e->nlink = st->st_nlink;
        e->size = (uint64_t)st->st_size;
        e->hardlink = hardlink_group(st);
        for (size_t i = 0; i < e->n_xattrs; i++) {
                free(e->xattrs[i].name);
                free(e->xattrs[i].value);
        }
        free(e->xattrs);
        e->xattrs = NULL;
        e->n_xattrs = 0;
        return walk_read_xattrs(NULL, fd, e);
}

/* Read the extended attributes of entry e, named relpath, in the directory
 * open as dirfd: through that fd, not whatever the full path reaches now. */
void walk_entry_xattrs(struct walk *w, int dirfd, const char *relpath, struct object_entry *e)
{
        struct snapshot_job *job = w->job;
        char at[PATH_MAX];
        _cleanup_free_ char *full = NULL;
        int r = fdpath_proc(dirfd, (const char *)e->name, at, sizeof(at));
        if (r < 0 && !(full = snapshot_full_path(job, relpath))) {
                snapshot_job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
                return;
        }
        r = walk_read_xattrs(r >= 0 ? at : full, -1, e);
        if (r < 0 && r != -ENOENT) {
                log_warning_errno(r, "Cannot read extended attributes of %s/%s, storing without them",
                                  job->path, relpath);
                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
        }
}

static int listed_cmp(const void *a, const void *b)
{
        const struct object_entry *x = a, *y = b; /* e is the first member */
        return object_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* The layered matcher for directory relpath: its .chuteignore over ex. */
static struct exclude *dir_excludes(struct walk *w, int dirfd, const char *relpath, const struct exclude *ex)
{
        struct exclude *here = NULL;
        _cleanup_close_ int fd = openat(dirfd, EXCLUDE_FILE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return exclude_ref(ex);
        if (st.st_size > EXCLUDE_TEXT_MAX) {
                log_warning("%s/%s%s" EXCLUDE_FILE_NAME " is larger than %d bytes, ignoring it", w->job->path,
                            relpath, *relpath ? "/" : "", EXCLUDE_TEXT_MAX);
                return exclude_ref(ex);
        }
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        ssize_t n = text ? pread(fd, text, (size_t)st.st_size, 0) : -1;
        if (n < 0)
                return exclude_ref(ex);
        struct exclude_error err = {0};
        int r = exclude_child(ex, relpath, text, (size_t)n, &err, &here);
        if (r < 0)
                return exclude_ref(ex);
        if (r > 0)
                log_warning("%s/%s%s" EXCLUDE_FILE_NAME ":%u: %s; that line is ignored%s", w->job->path, relpath,
                            *relpath ? "/" : "", err.line, err.reason, r > 1 ? " (and more bad lines)" : "");
        return here;
}

bool walk_cachedir_tagged(int dirfd, const char *name)
{
        char path[4096];
        char buf[EXCLUDE_CACHEDIR_SIGNATURE_LEN];
        if (name)
                snprintf(path, sizeof(path), "%s/" EXCLUDE_CACHEDIR_TAG_NAME, name);
        _cleanup_close_ int fd = openat(dirfd, name ? path : EXCLUDE_CACHEDIR_TAG_NAME,
                                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        return n > 0 && exclude_cachedir_tag_valid(buf, (size_t)n);
}

/* The raw getdents64 records of every name in dirfd (a fresh fd: read
 * from its start), in *buf (len bytes). No DIR stream: it would cost a dup,
 * an fstat and two fcntl per directory. */
#define LIST_BUF_MIN (32 * 1024)
static int read_names(int dirfd, uint8_t **buf, size_t *len)
{
        size_t cap = LIST_BUF_MIN, n = 0;
        uint8_t *b = malloc(cap);
        if (!b)
                return -ENOMEM;
        for (;;) {
                if (cap - n < LIST_BUF_MIN / 2) {
                        uint8_t *g = realloc(b, cap * 2);
                        if (!g) {
                                free(b);
                                return -ENOMEM;
                        }
                        b = g;
                        cap *= 2;
                }
                ssize_t k = getdents64(dirfd, b + n, cap - n);
                if (k < 0) {
                        int r = -errno;
                        free(b);
                        return r;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        *buf = b;
        *len = n;
        return 0;
}

#define FOREACH_DIRENT(de, buf, len)                                                                \
        for (const struct dirent64 *de = (const struct dirent64 *)(buf);                           \
             (const uint8_t *)de < (buf) + (len);                                                   \
             de = (const struct dirent64 *)((const uint8_t *)de + de->d_reclen))

/* List directory relpath, open as dirfd, below the patterns ex. */
int walk_list(struct walk *w, int dirfd, const char *relpath, const struct exclude *ex, struct walk_listing *ret)
{
        struct snapshot_job *job = w->job;
        struct walk_listed *v = NULL;
        size_t nv = 0, capv = 0;
        _cleanup_free_ uint8_t *names = NULL;
        size_t len = 0;

        memset(ret, 0, sizeof(*ret));
        int r = read_names(dirfd, &names, &len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                ret->here = exclude_ref(ex);
                ret->error = r;
                log_warning_errno(ret->error, "Cannot list %s/%s, recording it empty", job->path, relpath);
                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                return 0;
        }
        /* the two special names are looked for only when listed: no
         * failing lookup of either in every directory */
        bool has_ignore = false, has_tag = false;
        FOREACH_DIRENT(de, names, len) {
                if (!strcmp(de->d_name, EXCLUDE_FILE_NAME))
                        has_ignore = true;
                else if (!strcmp(de->d_name, EXCLUDE_CACHEDIR_TAG_NAME))
                        has_tag = true;
        }
        ret->cachedir = has_tag && walk_cachedir_tagged(dirfd, NULL);
        if (ret->cachedir) { /* left out whole: nothing in it is looked at */
                ret->here = exclude_ref(ex);
                return 0;
        }
        ret->here = has_ignore ? dir_excludes(w, dirfd, relpath, ex) : exclude_ref(ex);
        struct exclude *here = ret->here;
        bool filtering = here && !exclude_is_empty(here);
        FOREACH_DIRENT(de, names, len) {
                const char *name = de->d_name;
                if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
                        continue;
                struct stat st;
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT) { /* ENOENT: deleted meanwhile, not an error */
                                log_warning_errno(-errno, "Cannot stat %s/%s%s%s, skipping", job->path,
                                                  relpath, *relpath ? "/" : "", name);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        }
                        continue;
                }
                enum object_kind kind = kind_of(st.st_mode);
                if (!kind)
                        continue;
                if (own_files_has(&job->own, st.st_dev, st.st_ino)) {
                        log_debug("Leaving out %s/%s%s%s: it is chuted's own", job->path, relpath,
                                  *relpath ? "/" : "", name);
                        continue;
                }
                /* the relative path: for the patterns and entries that
                 * are neither files nor directories only */
                bool other = kind != OBJECT_KIND_FILE && kind != OBJECT_KIND_DIR;
                _cleanup_free_ char *child_rel = NULL;
                if (filtering || other) {
                        child_rel = path_join(relpath, name);
                        if (!child_rel)
                                goto oom_list;
                }
                if (filtering && exclude_match(here, child_rel, S_ISDIR(st.st_mode)))
                        continue;
                struct object_entry e = {0};
                if (walk_entry_from_stat(w, name, &st, &e) < 0) {
                        object_entry_done(&e);
                        goto oom_list;
                }
                /* a file's extended attributes are read later: not at all
                 * when the file cache says it had none and it is unchanged,
                 * from its open fd when it is read; a directory's from its
                 * fd when it is walked */
                if (other)
                        walk_entry_xattrs(w, dirfd, child_rel, &e);
                if (e.kind == OBJECT_KIND_SYMLINK) {
                        char target[PATH_MAX + 1];
                        ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                        if (n <= 0) {
                                log_warning_errno(n < 0 ? -errno : -EINVAL, "Cannot read symlink %s/%s, skipping",
                                                  job->path, child_rel);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                                object_entry_done(&e);
                                continue;
                        }
                        e.target = malloc((size_t)n + 1);
                        if (!e.target) {
                                object_entry_done(&e);
                                goto oom_list;
                        }
                        memcpy(e.target, target, (size_t)n);
                        e.target[n] = '\0';
                        e.target_len = (size_t)n;
                }
                if (!GROW(v, nv, capv, 64)) {
                        object_entry_done(&e);
                        goto oom_list;
                }
                v[nv].e = e;
                v[nv].st = st;
                nv++;
        }
        if (nv > 1)
                qsort(v, nv, sizeof(*v), listed_cmp);
        ret->v = v;
        ret->n = nv;
        return 0;
oom_list:
        for (size_t k = 0; k < nv; k++)
                object_entry_done(&v[k].e);
        free(v);
        return -ENOMEM;
}

void walk_listing_done(struct walk_listing *l)
{
        for (size_t i = 0; i < l->n; i++)
                object_entry_done(&l->v[i].e);
        free(l->v);
        exclude_free(l->here);
        walk_rows_done(&l->rows);
        memset(l, 0, sizeof(*l));
}

/* ---- listing ahead ---- */

struct walk_ahead {
        struct walk *w;
        int fd;
        char *relpath;
        struct exclude *ex; /* the parent's patterns (a reference) */
        struct walk_listing listing;
        int r;
        bool done;
        pthread_mutex_t lock;
        pthread_cond_t cond;
};

int walk_list_begin(struct walk *w)
{
        unsigned workers = workers_count(w->job->daemon->workers);
        /* each one holds a directory fd open: at most WALK_AHEAD_MAX, and
         * an eighth of the open files allowed */
        w->max_ahead = MIN((size_t)WALK_AHEAD_MAX, MAX((size_t)WALK_AHEAD_MIN, (size_t)workers * WALK_AHEAD_PER_WORKER));
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
                w->max_ahead = MIN(w->max_ahead, (size_t)nofile.rlim_cur / 8);
        return workers_group_new(w->job->daemon->workers, &w->ahead);
}

void walk_list_end(struct walk *w)
{
        workers_group_free(w->ahead); /* every listing ahead was taken or dropped */
        w->ahead = NULL;
}

static void ahead_run(void *arg)
{
        struct walk_ahead *a = arg;
        struct walk *w = a->w;
        int r = walk_list(w, a->fd, a->relpath, a->ex, &a->listing);
        /* a full walk's join rows too, off the walk's own thread (with no
         * connection to be had, the walk loads them itself) */
        struct index *rd = NULL;
        if (r >= 0 && w->full && !a->listing.error && !a->listing.cachedir && (rd = repo_reader_get(w->repo))) {
                a->listing.rows_error = walk_rows_load(rd, w->job->root_id, a->relpath, &a->listing.rows);
                a->listing.has_rows = true;
                repo_reader_put(w->repo, rd);
        }
        pthread_mutex_lock(&a->lock);
        a->r = r;
        a->done = true;
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->lock);
}

struct walk_ahead *walk_ahead_start(struct walk *w, int dirfd, const char *name, const char *relpath,
                                    const struct exclude *ex)
{
        if (!w->ahead || w->n_ahead >= w->max_ahead)
                return NULL;
        struct walk_ahead *a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        a->relpath = strdup(relpath);
        a->fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (!a->relpath || a->fd < 0) { /* the walk tries again itself, and says why */
                if (a->fd >= 0)
                        close(a->fd);
                free(a->relpath);
                free(a);
                return NULL;
        }
        a->w = w;
        a->ex = exclude_ref(ex);
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->cond, NULL);
        w->n_ahead++;
        workers_group_push(w->ahead, ahead_run, a);
        return a;
}

/* Wait for a's listing (run it here if no worker took it yet). */
static void ahead_wait(struct walk *w, struct walk_ahead *a)
{
        if (workers_group_take(w->ahead, a))
                ahead_run(a);
        pthread_mutex_lock(&a->lock);
        while (!a->done)
                pthread_cond_wait(&a->cond, &a->lock);
        pthread_mutex_unlock(&a->lock);
}

static void ahead_free(struct walk *w, struct walk_ahead *a)
{
        walk_listing_done(&a->listing);
        if (a->fd >= 0)
                close(a->fd);
        exclude_free(a->ex);
        free(a->relpath);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->cond);
        free(a);
        w->n_ahead--;
}

int walk_ahead_take(struct walk *w, struct walk_ahead *a, struct walk_listing *ret, int *ret_fd)
{
        ahead_wait(w, a);
        int r = a->r;
        *ret = a->listing;
        memset(&a->listing, 0, sizeof(a->listing));
        *ret_fd = a->fd;
        a->fd = -1;
        ahead_free(w, a);
        return r;
}

void walk_ahead_drop(struct walk *w, struct walk_ahead *a)
{
        if (!a)
                return;
        if (!workers_group_take(w->ahead, a)) /* started: wait for it */
                ahead_wait(w, a);
        ahead_free(w, a);
}

void walk_owners_free(void *p)
{
        struct owner_node *n = p;
        free(n->name);
        free(n);
}

