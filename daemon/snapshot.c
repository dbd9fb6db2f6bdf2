/* SPDX-License-Identifier: MIT */
/* Snapshot of one root (see snapshot.h). Three phases on the job's thread:
 * walk (lstat every entry, reuse content of files the cache says are
 * unchanged), read (changed files, in parallel on the worker pool, biggest
 * first), and assemble (trees bottom-up, the snapshot object, flush the
 * open pack, then commit the file cache and snapshot row in one
 * transaction). A crash anywhere before that commit leaves no reference to
 * anything half-written. */

#include "snapshot.h"

#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "chunker.h"
#include "exclude.h"
#include "path.h"
#include "pathset.h"
#include "snaptree.h"
#include "cleanup.h"
#include "daemon.h"
#include "file-cache.h"
#include "index.h"
#include "log.h"
#include "repo.h"
#include "workers.h"

/* How often a file that changes while read is read again. */
#define READ_ATTEMPTS 3
/* Files changed this close to being read are read again next time: file
 * systems stamp times from the coarse clock, so a change within the same
 * tick leaves them unchanged. A few ticks, at least 20 ms. */
static int64_t racy_ns(void)
{
        static int64_t ns;
        if (!__atomic_load_n(&ns, __ATOMIC_RELAXED)) {
                struct timespec res;
                int64_t v = 20 * 1000 * 1000;
                if (clock_getres(CLOCK_REALTIME_COARSE, &res) == 0 && res.tv_sec == 0 && 4 * res.tv_nsec > v)
                        v = 4 * res.tv_nsec;
                __atomic_store_n(&ns, v, __ATOMIC_RELAXED);
        }
        return ns;
}
/* Read granularity. */
#define READ_STEP (1u << 20)

struct dnode {
        bool reused;             /* unchanged since the parent snapshot: id is its old tree */
        struct object_tree *tree;
        struct dnode **children; /* by entry index; NULL for non-dirs */
        char *relpath;           /* "" for the root */
        struct oid id;
};

struct file_item {
        struct snapshot_job *job;
        struct dnode *dir;
        size_t index;            /* entry index in dir->tree */
        char *relpath;
        struct stat st;          /* from the walk */
        bool read_ok;
        struct file_cache_entry cache; /* what to store in the file cache */
};

struct walk {
        struct snapshot_job *job;
        struct repo *repo;
        dev_t root_dev;
        void *cache;             /* full walks: tsearch tree of struct cache_node, the whole file cache */
        struct index *reader;    /* incremental walks: file cache looked up per file */
        bool incremental;        /* reuse clean subtrees of the parent snapshot */
        const struct pathset *dirty, *deep;
        struct pathset removed;  /* incremental: paths gone since the parent snapshot */
        void *owners;            /* uid/gid -> name */
        struct exclude *excludes; /* the root's patterns */
        struct file_item **items;
        size_t n_items, cap_items;
        struct dnode *root;
};

struct cache_node {
        char *path;
        struct index_file file;
        bool seen;
};

struct owner_node {
        uint64_t key; /* (is_group << 32) | id */
        char *name;
};

static int cache_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cache_node *)a)->path, ((const struct cache_node *)b)->path);
}

static int owner_cmp(const void *a, const void *b)
{
        uint64_t x = ((const struct owner_node *)a)->key, y = ((const struct owner_node *)b)->key;
        return x < y ? -1 : x > y;
}

static void job_fail(struct snapshot_job *job, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void job_fail(struct snapshot_job *job, int error, const char *fmt, ...)
{
        if (job->error)
                return;
        job->error = error;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(job->error_text, sizeof(job->error_text), fmt, ap);
        va_end(ap);
}

static bool cancelled(const struct snapshot_job *job)
{
        return job->error || (job->cancel && __atomic_load_n(job->cancel, __ATOMIC_RELAXED));
}

static char *full_path(const struct snapshot_job *job, const char *relpath)
{
        char *p = NULL;
        if (!*relpath)
                return strdup(job->path);
        if (asprintf(&p, "%s/%s", job->path, relpath) < 0)
                return NULL;
        return p;
}

static char *owner_name(struct walk *w, uint32_t id, bool group)
{
        struct owner_node key = {.key = (uint64_t)group << 32 | id};
        struct owner_node **found = tfind(&key, &w->owners, owner_cmp);
        if (found)
                return (*found)->name ? strdup((*found)->name) : NULL;

        struct owner_node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->key = key.key;
        char buf[4096];
        if (group) {
                struct group g, *res = NULL;
                if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
                        n->name = strdup(g.gr_name);
        } else {
                struct passwd p, *res = NULL;
                if (getpwuid_r(id, &p, buf, sizeof(buf), &res) == 0 && res)
                        n->name = strdup(p.pw_name);
        }
        if (!tsearch(n, &w->owners, owner_cmp)) {
                free(n->name);
                free(n);
                return NULL;
        }
        return n->name ? strdup(n->name) : NULL;
}

static int read_xattrs(const char *path, struct object_entry *e)
{
        ssize_t n = llistxattr(path, NULL, 0);
        if (n <= 0)
                return n < 0 && errno != ENOTSUP && errno != ENODATA ? -errno : 0;
        _cleanup_free_ char *names = malloc((size_t)n);
        if (!names)
                return -ENOMEM;
        n = llistxattr(path, names, (size_t)n);
        if (n < 0)
                return -errno;
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
                ssize_t vl = lgetxattr(path, name, NULL, 0);
                if (vl < 0)
                        continue; /* vanished meanwhile */
                if ((size_t)vl > OBJECT_XATTR_VALUE_MAX)
                        return -E2BIG;
                struct object_xattr *x = &e->xattrs[e->n_xattrs];
                x->value = malloc(vl ? (size_t)vl : 1);
                x->name = strdup(name);
                if (!x->value || !x->name) {
                        free(x->value);
                        free(x->name);
                        return -ENOMEM;
                }
                vl = lgetxattr(path, name, x->value, (size_t)vl);
                if (vl < 0) {
                        free(x->value);
                        free(x->name);
                        continue;
                }
                x->value_len = (size_t)vl;
                e->n_xattrs++;
        }
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

static int64_t ts_ns(struct timespec ts) { return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec; }

/* Fill the metadata part of an entry from a stat. */
static int entry_from_stat(struct walk *w, const char *name, const struct stat *st,
                           struct object_entry *e)
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
        e->mtime_ns = ts_ns(st->st_mtim);
        e->ctime_ns = ts_ns(st->st_ctim);
        e->nlink = st->st_nlink;
        if (e->kind == OBJECT_KIND_FILE)
                e->size = (uint64_t)st->st_size;
        if (e->kind == OBJECT_KIND_CHARDEV || e->kind == OBJECT_KIND_BLOCKDEV)
                e->rdev = st->st_rdev;
        if (e->kind != OBJECT_KIND_DIR && st->st_nlink > 1) {
                /* A group number derived from the inode, so that subtrees reused
                 * from an earlier snapshot keep consistent groups. */
                uint64_t g = ((uint64_t)st->st_dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)st->st_ino;
                g ^= g >> 31;
                e->hardlink = g ? g : 1;
        }
        return 0;
}

static int add_item(struct walk *w, struct file_item *it)
{
        if (!GROW(w->items, w->n_items, w->cap_items, 1024))
                return -ENOMEM;
        w->items[w->n_items++] = it;
        return 0;
}

static bool cache_matches(const struct index_file *c, const struct stat *st)
{
        return c->dev == (uint64_t)st->st_dev && c->ino == (uint64_t)st->st_ino &&
               c->size == (uint64_t)st->st_size && c->mtime_ns == ts_ns(st->st_mtim) &&
               c->ctime_ns == ts_ns(st->st_ctim);
}

static struct dnode *walk_dir(struct walk *w, int dirfd, const char *relpath,
                              const struct object_tree *prev, bool force, const struct exclude *ex);

/* Is the file unchanged according to cache entry c? Then take its content. */
static bool reuse_cached(const struct index_file *c, const struct stat *st, struct object_entry *e)
{
        if (!cache_matches(c, st))
                return false;
        if (file_cache_decode(c->content, c->content_len, e) < 0)
                return false;
        if (e->size == (uint64_t)st->st_size)
                return true;
        free(e->extents);
        e->extents = NULL;
        e->n_extents = 0;
        e->has_list = false;
        return false;
}

/* Decide what to do with one file entry: reuse cached content or queue a read. */
static int plan_file(struct walk *w, struct dnode *dn, size_t index, const char *relpath,
                     const struct stat *st)
{
        struct snapshot_job *job = w->job;
        struct object_entry *e = &dn->tree->entries[index];

        if (w->cache) {
                struct cache_node key = {.path = (char *)relpath};
                struct cache_node **found = tfind(&key, &w->cache, cache_cmp);
                if (found) {
                        (*found)->seen = true;
                        if (reuse_cached(&(*found)->file, st, e))
                                return 0;
                }
        } else if (w->reader) {
                struct index_file f;
                if (index_file_get(w->reader, job->root_id, relpath, &f) >= 0) {
                        bool reused = reuse_cached(&f, st, e);
                        index_file_done(&f);
                        if (reused)
                                return 0;
                }
        }
        e->size = (uint64_t)st->st_size;
        struct file_item *it = calloc(1, sizeof(*it));
        if (!it)
                return -ENOMEM;
        it->job = job;
        it->dir = dn;
        it->index = index;
        it->st = *st;
        it->relpath = strdup(relpath);
        if (!it->relpath) {
                free(it);
                return -ENOMEM;
        }
        return add_item(w, it);
}

/* Add (sign 1) or take away (sign -1) the counts of t's direct entries. */
static void count_direct(struct snapshot_job *job, const struct object_tree *t, int sign)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct object_entry *e = &t->entries[i];
                if (e->kind == OBJECT_KIND_DIR) {
                        job->stats.dirs += (uint64_t)(int64_t)sign;
                } else if (e->kind == OBJECT_KIND_FILE) {
                        job->stats.files += (uint64_t)(int64_t)sign;
                        job->stats.bytes += (uint64_t)((int64_t)sign * (int64_t)e->size);
                }
        }
}

/* Take away everything below an old directory that is gone (recursively). */
static int uncount_subtree(struct walk *w, const struct oid *id)
{
        struct object_tree *t = NULL;
        int r = snaptree_load(w->repo, id, &t);
        if (r < 0)
                return r;
        count_direct(w->job, t, -1);
        for (size_t i = 0; i < t->n_entries && r >= 0; i++)
                if (t->entries[i].kind == OBJECT_KIND_DIR)
                        r = uncount_subtree(w, &t->entries[i].subtree);
        object_tree_free(t);
        return r;
}

static struct dnode *dnode_empty(const char *relpath)
{
        struct dnode *dn = calloc(1, sizeof(*dn));
        if (!dn)
                return NULL;
        dn->tree = object_tree_new();
        dn->relpath = strdup(relpath);
        if (!dn->tree || !dn->relpath) {
                object_tree_free(dn->tree);
                free(dn->relpath);
                free(dn);
                return NULL;
        }
        return dn;
}

static int listed_cmp(const void *a, const void *b)
{
        const struct object_entry *x = a, *y = b; /* e is the first member */
        return object_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* List directory relpath (open as dirfd) into a new dnode. prev is the same
 * directory's tree in the parent snapshot (NULL if none or a full walk);
 * force: everything below must be listed again. */
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

/* A directory tagged as a cache (https://bford.info/cachedir/) is left out. */
static bool has_cachedir_tag(int dirfd, const char *name)
{
        char path[4096];
        char buf[EXCLUDE_CACHEDIR_SIGNATURE_LEN];
        snprintf(path, sizeof(path), "%s/" EXCLUDE_CACHEDIR_TAG_NAME, name);
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        return n > 0 && exclude_cachedir_tag_valid(buf, (size_t)n);
}

static struct dnode *walk_dir(struct walk *w, int dirfd, const char *relpath,
                              const struct object_tree *prev, bool force, const struct exclude *ex)
{
        struct snapshot_job *job = w->job;
        /* entries with the lstat taken while listing, sorted together */
        struct listed {
                struct object_entry e;
                struct stat st;
        } *v = NULL;
        size_t nv = 0, capv = 0;
        struct stat *stats = NULL;
        struct exclude *here = dir_excludes(w, dirfd, relpath, ex);
        bool filtering = here && !exclude_is_empty(here);
        struct dnode *dn = dnode_empty(relpath);
        if (!dn)
                goto oom;

        int fd2 = dup(dirfd);
        DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!dir) {
                if (fd2 >= 0)
                        close(fd2);
                log_warning_errno(-errno, "Cannot list %s/%s, recording it empty", job->path, relpath);
                job->stats.errors++;
                exclude_free(here);
                return dn;
        }
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT) { /* ENOENT: deleted meanwhile, not an error */
                                log_warning_errno(-errno, "Cannot stat %s/%s%s%s, skipping", job->path,
                                                  relpath, *relpath ? "/" : "", de->d_name);
                                job->stats.errors++;
                        }
                        continue;
                }
                if (!kind_of(st.st_mode))
                        continue;
                _cleanup_free_ char *child_rel = path_join(relpath, de->d_name);
                if (!child_rel) {
                        closedir(dir);
                        goto oom_list;
                }
                if (filtering && exclude_match(here, child_rel, S_ISDIR(st.st_mode)))
                        continue;
                if (S_ISDIR(st.st_mode) && has_cachedir_tag(dirfd, de->d_name))
                        continue;
                struct object_entry e = {0};
                if (entry_from_stat(w, de->d_name, &st, &e) < 0) {
                        object_entry_done(&e);
                        closedir(dir);
                        goto oom_list;
                }
                _cleanup_free_ char *child_full = full_path(job, child_rel);
                if (!child_full) {
                        object_entry_done(&e);
                        closedir(dir);
                        goto oom_list;
                }
                int r = read_xattrs(child_full, &e);
                if (r < 0 && r != -ENOENT) {
                        log_warning_errno(r, "Cannot read extended attributes of %s, storing without them",
                                          child_full);
                        job->stats.errors++;
                }
                if (e.kind == OBJECT_KIND_SYMLINK) {
                        char target[PATH_MAX + 1];
                        ssize_t n = readlinkat(dirfd, de->d_name, target, sizeof(target) - 1);
                        if (n <= 0) {
                                log_warning_errno(n < 0 ? -errno : -EINVAL, "Cannot read symlink %s, skipping",
                                                  child_full);
                                job->stats.errors++;
                                object_entry_done(&e);
                                continue;
                        }
                        e.target = malloc((size_t)n + 1);
                        if (!e.target) {
                                object_entry_done(&e);
                                closedir(dir);
                                goto oom_list;
                        }
                        memcpy(e.target, target, (size_t)n);
                        e.target[n] = '\0';
                        e.target_len = (size_t)n;
                }
                if (!GROW(v, nv, capv, 64)) {
                        object_entry_done(&e);
                        closedir(dir);
                        goto oom_list;
                }
                v[nv].e = e;
                v[nv].st = st;
                nv++;
        }
        closedir(dir);
        if (nv > 1)
                qsort(v, nv, sizeof(*v), listed_cmp);
        stats = malloc((nv ? nv : 1) * sizeof(*stats));
        if (!stats)
                goto oom_list;
        for (size_t i = 0; i < nv; i++) {
                stats[i] = v[i].st;
                if (object_tree_append(dn->tree, &v[i].e) < 0) {
                        for (size_t k = i; k < nv; k++)
                                object_entry_done(&v[k].e);
                        free(v);
                        free(stats);
                        goto oom;
                }
        }
        free(v);
        v = NULL;
        object_tree_sort(dn->tree); /* sorts the xattrs; the names are in order already */
        count_direct(job, dn->tree, 1);

        if (prev) {
                /* what the parent snapshot had here and is gone now */
                count_direct(job, prev, -1);
                for (size_t i = 0; i < prev->n_entries; i++) {
                        const struct object_entry *old = &prev->entries[i];
                        const struct object_entry *now = snaptree_find(dn->tree, old->name, old->name_len);
                        if (now && now->kind == old->kind)
                                continue;
                        _cleanup_free_ char *gone = path_join(relpath, (const char *)old->name);
                        if (!gone || pathset_add(&w->removed, gone) < 0)
                                goto oom;
                        if (old->kind == OBJECT_KIND_DIR && uncount_subtree(w, &old->subtree) < 0)
                                job->stats.errors++;
                }
        }

        dn->children = calloc(dn->tree->n_entries ? dn->tree->n_entries : 1, sizeof(*dn->children));
        if (!dn->children)
                goto oom;
        for (size_t i = 0; i < dn->tree->n_entries && !cancelled(job); i++) {
                struct object_entry *e = &dn->tree->entries[i];
                _cleanup_free_ char *child_rel = path_join(relpath, (const char *)e->name);
                if (!child_rel)
                        goto oom;
                const struct stat st = stats[i];
                if (e->kind == OBJECT_KIND_DIR) {
                        const struct object_entry *old =
                                prev ? snaptree_find(prev, e->name, e->name_len) : NULL;
                        if (old && old->kind != OBJECT_KIND_DIR)
                                old = NULL;
                        bool child_force = force || (w->deep && pathset_has(w->deep, child_rel));
                        if (job->one_fs && st.st_dev != w->root_dev) {
                                /* a mount point: recorded, not entered */
                                if (!(dn->children[i] = dnode_empty(child_rel)))
                                        goto oom;
                                continue;
                        }
                        if (old && !child_force && !pathset_has(w->dirty, child_rel) &&
                            !pathset_has_below(w->dirty, child_rel) && !pathset_has_below(w->deep, child_rel)) {
                                /* unchanged since the parent snapshot: keep its tree */
                                if (!(dn->children[i] = calloc(1, sizeof(struct dnode))))
                                        goto oom;
                                dn->children[i]->reused = true;
                                dn->children[i]->id = old->subtree;
                                continue;
                        }
                        struct object_tree *old_tree = NULL;
                        if (old && !child_force && snaptree_load(w->repo, &old->subtree, &old_tree) < 0)
                                old_tree = NULL; /* then it is listed as new */
                        if (old && !old_tree && uncount_subtree(w, &old->subtree) < 0)
                                job->stats.errors++;
                        int cfd = openat(dirfd, (const char *)e->name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                log_warning_errno(-errno, "Cannot open directory %s/%s, recording it empty",
                                                  job->path, child_rel);
                                job->stats.errors++;
                                object_tree_free(old_tree);
                                if (!(dn->children[i] = dnode_empty(child_rel)))
                                        goto oom;
                                continue;
                        }
                        dn->children[i] = walk_dir(w, cfd, child_rel, old_tree, child_force, here);
                        close(cfd);
                        object_tree_free(old_tree);
                        if (!dn->children[i])
                                goto oom;
                } else if (e->kind == OBJECT_KIND_FILE) {
                        if (plan_file(w, dn, i, child_rel, &st) < 0)
                                goto oom;
                }
        }
        free(stats);
        exclude_free(here);
        return dn;
oom_list:
        for (size_t k = 0; k < nv; k++)
                object_entry_done(&v[k].e);
        free(v);
        exclude_free(here);
        job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
        return dn;
oom:
        free(stats);
        exclude_free(here);
        job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
        return dn;
}

/* ---- reading files (worker threads) ---- */

struct reader {
        struct chunker *chunker;
        uint8_t *buf;
        size_t cap;
};

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *p)
{
        struct reader *rd = p;
        if (!rd)
                return;
        chunker_free(rd->chunker);
        free(rd->buf);
        free(rd);
}

static void reader_key_init(void) { pthread_key_create(&reader_key, reader_free); }

static struct reader *reader_get(const struct keys *keys)
{
        pthread_once(&reader_once, reader_key_init);
        struct reader *rd = pthread_getspecific(reader_key);
        if (rd)
                return rd;
        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return NULL;
        rd->cap = 2 * CHUNKER_MAX_SIZE_DEFAULT;
        rd->buf = malloc(rd->cap);
        if (!rd->buf || chunker_new(keys->cdc_key, NULL, &rd->chunker) < 0) {
                reader_free(rd);
                return NULL;
        }
        pthread_setspecific(reader_key, rd);
        return rd;
}

struct extents {
        struct object_extent *v;
        size_t n, cap;
};

static int extents_add(struct extents *x, const struct oid *id, uint64_t len, bool hole)
{
        if (x->n > 0 && hole && x->v[x->n - 1].hole) {
                x->v[x->n - 1].length += len;
                return 0;
        }
        if (!GROW(x->v, x->n, x->cap, 8))
                return -ENOMEM;
        struct object_extent *e = &x->v[x->n++];
        memset(e, 0, sizeof(*e));
        if (id)
                e->id = *id;
        e->length = len;
        e->hole = hole;
        return 0;
}

/* One chunk waiting to be stored: its bytes stay in the read buffer until
 * the batch it belongs to is flushed. */
struct chunk_task {
        struct file_item *it;
        const uint8_t *p;
        size_t len;
        struct oid id;
        int r;
};

/* Chunks cut but not yet stored, at most (a batch fills half the buffer). */
#define CHUNK_BATCH 32

static void chunk_task_run(void *arg)
{
        struct chunk_task *t = arg;
        struct snapshot_job *job = t->it->job;
        uint64_t added = 0;
        t->r = repo_put(job->daemon->repo, OBJECT_DATA, t->p, t->len, &t->id, &added);
        if (t->r < 0)
                return;
        __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_bytes, t->len, __ATOMIC_RELAXED);
}

/* Store the batch (in parallel on the pool when there is more than one
 * chunk: a worker that is busy with its own file leaves them to us), then
 * record the extents in file order. */
static int flush_chunks(struct file_item *it, struct chunk_task *tasks, size_t *n, struct extents *x)
{
        if (*n == 1) {
                chunk_task_run(&tasks[0]);
        } else if (*n > 1) {
                void *items[CHUNK_BATCH];
                for (size_t i = 0; i < *n; i++)
                        items[i] = &tasks[i];
                workers_run_parallel(it->job->daemon->workers, chunk_task_run, items, *n);
        }
        size_t count = *n;
        *n = 0;
        for (size_t i = 0; i < count; i++) {
                if (tasks[i].r < 0)
                        return tasks[i].r;
                int r = extents_add(x, &tasks[i].id, tasks[i].len, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Chunk and store the bytes of fd from offset start to end. */
static int read_region(struct file_item *it, struct reader *rd, int fd, uint64_t start, uint64_t end,
                       struct extents *x)
{
        struct chunk_task tasks[CHUNK_BATCH];
        size_t fill = 0, scan = 0, begin = 0, n_tasks = 0;
        uint64_t pos = start;
        bool eof = false;
        int r;

        chunker_reset(rd->chunker);
        while (!cancelled(it->job)) {
                /* Compact once the consumed part is half of the buffer:
                 * at most one byte moved per byte consumed. A cut always
                 * comes within max_size of begin, so a full buffer never
                 * stalls the scan. The pending chunks live in the consumed
                 * part: store them first. */
                if (!eof && begin >= rd->cap / 2) {
                        r = flush_chunks(it, tasks, &n_tasks, x);
                        if (r < 0)
                                return r;
                        memmove(rd->buf, rd->buf + begin, fill - begin);
                        fill -= begin;
                        scan -= begin;
                        begin = 0;
                }
                if (!eof && fill < rd->cap) {
                        size_t want = MIN(rd->cap - fill, (size_t)(end - pos));
                        ssize_t n = want ? pread(fd, rd->buf + fill, want, (off_t)pos) : 0;
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        if (n == 0)
                                eof = true;
                        fill += (size_t)n;
                        pos += (uint64_t)n;
                }
                size_t cut = scan < fill ? chunker_scan(rd->chunker, rd->buf + scan, fill - scan)
                                         : CHUNKER_NEED_MORE;
                if (cut != CHUNKER_NEED_MORE) {
                        if (n_tasks == CHUNK_BATCH) {
                                r = flush_chunks(it, tasks, &n_tasks, x);
                                if (r < 0)
                                        return r;
                        }
                        tasks[n_tasks++] = (struct chunk_task){.it = it, .p = rd->buf + begin,
                                                               .len = scan + cut - begin};
                        begin = scan = scan + cut;
                        continue;
                }
                scan = fill;
                if (eof) {
                        if (fill > begin) {
                                if (n_tasks == CHUNK_BATCH) {
                                        r = flush_chunks(it, tasks, &n_tasks, x);
                                        if (r < 0)
                                                return r;
                                }
                                tasks[n_tasks++] = (struct chunk_task){.it = it, .p = rd->buf + begin,
                                                                       .len = fill - begin};
                        }
                        return flush_chunks(it, tasks, &n_tasks, x);
                }
        }
        return -ECANCELED;
}

/* Read a whole file into extents, following its holes. */
static int read_content(struct file_item *it, struct reader *rd, int fd, uint64_t size,
                        bool sparse, struct extents *x)
{
        if (!sparse)
                return read_region(it, rd, fd, 0, size, x);
        uint64_t pos = 0;
        while (pos < size) {
                off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO) /* only a hole up to the end */
                                data = (off_t)size;
                        else if (errno == EINVAL) /* no SEEK_DATA here */
                                return read_region(it, rd, fd, pos, size, x);
                        else
                                return -errno;
                }
                if ((uint64_t)data > size)
                        data = (off_t)size;
                if ((uint64_t)data > pos) {
                        int r = extents_add(x, NULL, (uint64_t)data - pos, true);
                        if (r < 0)
                                return r;
                        pos = (uint64_t)data;
                }
                if (pos >= size)
                        break;
                off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
                if (hole < 0)
                        return -errno;
                if ((uint64_t)hole > size)
                        hole = (off_t)size;
                int r = read_region(it, rd, fd, pos, (uint64_t)hole, x);
                if (r < 0)
                        return r;
                pos = (uint64_t)hole;
        }
        return 0;
}

static bool same_version(const struct stat *a, const struct stat *b)
{
        return a->st_size == b->st_size && ts_ns(a->st_mtim) == ts_ns(b->st_mtim) &&
               ts_ns(a->st_ctim) == ts_ns(b->st_ctim) && a->st_ino == b->st_ino;
}

static void read_item(void *arg)
{
        struct file_item *it = arg;
        struct snapshot_job *job = it->job;
        struct object_entry *e = &it->dir->tree->entries[it->index];
        _cleanup_free_ char *path = full_path(job, it->relpath);
        struct reader *rd = reader_get(job->daemon->keyring);
        struct extents x = {0};
        int r = 0;

        if (cancelled(job))
                return;
        if (!path || !rd) {
                job_fail(job, -ENOMEM, "out of memory");
                return;
        }
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME);
        if (fd < 0 && errno == EPERM)
                fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                goto unreadable;
        }
        struct stat before = it->st, after;
        int64_t read_start = now_ns();
        for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
                if (fstat(fd, &before) < 0) {
                        r = -errno;
                        break;
                }
                if (!S_ISREG(before.st_mode)) {
                        r = -EINVAL;
                        break;
                }
                x.n = 0;
                bool sparse = (uint64_t)before.st_blocks * 512 < (uint64_t)before.st_size;
                r = read_content(it, rd, fd, (uint64_t)before.st_size, sparse, &x);
                if (r < 0)
                        break;
                if (fstat(fd, &after) < 0) {
                        r = -errno;
                        break;
                }
                if (same_version(&before, &after))
                        break;
                if (attempt == READ_ATTEMPTS - 1) {
                        log_warning("%s kept changing while it was read; storing it as read", path);
                        before = after;
                }
        }
        close(fd);
        if (r == -ECANCELED) {
                free(x.v);
                return;
        }
        if (r < 0)
                goto unreadable;

        uint64_t size = 0;
        for (size_t i = 0; i < x.n; i++)
                size += x.v[i].length;
        e->size = size;
        e->mtime_ns = ts_ns(before.st_mtim);
        e->ctime_ns = ts_ns(before.st_ctim);
        if (x.n > OBJECT_INLINE_EXTENTS_MAX) {
                struct object_list list = {.extents = x.v, .n_extents = x.n};
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                uint64_t added = 0;
                r = object_list_encode(&list, &buf, &len);
                if (r >= 0)
                        r = repo_put(job->daemon->repo, OBJECT_LIST, buf, len, &e->list, &added);
                if (r < 0) {
                        free(x.v);
                        job_fail(job, r, "cannot store the extent list of %s", path);
                        return;
                }
                __atomic_add_fetch(&job->stats.new_bytes, added, __ATOMIC_RELAXED);
                e->has_list = true;
                free(x.v);
        } else {
                e->extents = x.v;
                e->n_extents = x.n;
        }
        it->cache.dev = (uint64_t)before.st_dev;
        it->cache.ino = (uint64_t)before.st_ino;
        it->cache.size = (uint64_t)before.st_size;
        it->cache.mtime_ns = ts_ns(before.st_mtim);
        it->cache.ctime_ns = ts_ns(before.st_ctim);
        /* "Racily clean": a file changed in the same timestamp tick as we read
         * it could change again without its times moving. Such an entry must
         * not let the next snapshot skip the file (0 never matches a ctime). */
        if (ts_ns(before.st_ctim) >= read_start - racy_ns() || ts_ns(before.st_mtim) >= read_start - racy_ns())
                it->cache.ctime_ns = 0;
        it->cache.mode = before.st_mode;
        it->read_ok = true;
        __atomic_add_fetch(&job->stats.files_read, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(job->progress_files, 1, __ATOMIC_RELAXED);
        return;

unreadable:
        free(x.v);
        if (r == -ENOMEM || r == -ENOSPC || r == -EIO) {
                job_fail(job, r, "cannot store %s: %s", path, strerror(-r));
                return;
        }
        log_warning_errno(r, "Cannot read %s, it is left out of this snapshot", path);
        __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&job->stats.files, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&job->stats.bytes, e->size, __ATOMIC_RELAXED);
        e->kind = 0; /* dropped when the tree is assembled */
}

static int item_size_cmp(const void *a, const void *b)
{
        const struct file_item *x = *(struct file_item *const *)a, *y = *(struct file_item *const *)b;
        return x->st.st_size < y->st.st_size ? 1 : x->st.st_size > y->st.st_size ? -1 : 0;
}

/* ---- assembling ---- */

/* Remove entries marked dropped (kind 0) keeping order. */
static void tree_compact(struct dnode *dn)
{
        size_t j = 0;
        for (size_t i = 0; i < dn->tree->n_entries; i++) {
                if (dn->tree->entries[i].kind == 0) {
                        object_entry_done(&dn->tree->entries[i]);
                        continue;
                }
                if (j != i) {
                        dn->tree->entries[j] = dn->tree->entries[i];
                        dn->children[j] = dn->children[i];
                }
                j++;
        }
        dn->tree->n_entries = j;
}

static int store_tree(struct walk *w, struct dnode *dn)
{
        struct snapshot_job *job = w->job;
        if (dn->reused)
                return 0;
        for (size_t i = 0; i < dn->tree->n_entries; i++)
                if (dn->children && dn->children[i]) {
                        int r = store_tree(w, dn->children[i]);
                        if (r < 0)
                                return r;
                }
        if (dn->children)
                tree_compact(dn);
        for (size_t i = 0; i < dn->tree->n_entries; i++)
                if (dn->children && dn->children[i])
                        dn->tree->entries[i].subtree = dn->children[i]->id;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        uint64_t added = 0;
        int r = object_tree_encode(dn->tree, &buf, &len);
        if (r < 0) {
                job_fail(job, r, "cannot encode the tree of %s/%s", job->path, dn->relpath);
                return r;
        }
        r = repo_put(w->repo, OBJECT_TREE, buf, len, &dn->id, &added);
        if (r < 0) {
                job_fail(job, r, "cannot store the tree of %s/%s", job->path, dn->relpath);
                return r;
        }
        job->stats.new_bytes += added;
        return 0;
}

static void dnode_free(struct dnode *dn)
{
        if (!dn)
                return;
        if (dn->children && dn->tree)
                for (size_t i = 0; i < dn->tree->n_entries; i++)
                        dnode_free(dn->children[i]);
        free(dn->children);
        object_tree_free(dn->tree);
        free(dn->relpath);
        free(dn);
}

static int load_cache_cb(const char *path, const struct index_file *file, void *userdata)
{
        struct walk *w = userdata;
        struct cache_node *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->path = strdup(path);
        n->file = *file;
        n->file.content = malloc(file->content_len ? file->content_len : 1);
        if (!n->path || !n->file.content) {
                free(n->path);
                free(n->file.content);
                free(n);
                return -ENOMEM;
        }
        memcpy(n->file.content, file->content, file->content_len);
        if (!tsearch(n, &w->cache, cache_cmp)) {
                free(n->path);
                free(n->file.content);
                free(n);
                return -ENOMEM;
        }
        return 0;
}

static void cache_node_free(void *p)
{
        struct cache_node *n = p;
        free(n->path);
        free(n->file.content);
        free(n);
}

static void owner_node_free(void *p)
{
        struct owner_node *n = p;
        free(n->name);
        free(n);
}

struct commit_ctx {
        struct walk *w;
        struct object_snapshot *snap;
        const struct oid *parent;
        char **removed;
        size_t n_removed;
};

static __thread struct commit_ctx *collect_ctx;

static void collect_unseen(const void *nodep, VISIT which, int depth)
{
        if (which != postorder && which != leaf)
                return;
        struct cache_node *n = *(struct cache_node *const *)nodep;
        struct commit_ctx *c = collect_ctx;
        if (n->seen || !c)
                return;
        char **v = realloc(c->removed, (c->n_removed + 1) * sizeof(char *));
        if (!v)
                return;
        c->removed = v;
        c->removed[c->n_removed++] = n->path;
}

static int commit_cb(struct index *wr, void *userdata)
{
        struct commit_ctx *c = userdata;
        struct walk *w = c->w;
        struct snapshot_job *job = w->job;
        int r = index_begin(wr);
        if (r < 0)
                return r;
        /* forget what is gone first: a path may be gone as a file and back as a directory */
        for (size_t i = 0; i < c->n_removed; i++) {
                r = index_file_delete_prefix(wr, job->root_id, c->removed[i]);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < w->removed.n; i++) {
                r = index_file_delete_prefix(wr, job->root_id, w->removed.paths[i]);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < w->n_items; i++) {
                struct file_item *it = w->items[i];
                if (!it->read_ok)
                        continue;
                struct object_entry *e = &it->dir->tree->entries[it->index];
                _cleanup_free_ uint8_t *blob = NULL;
                size_t blob_len;
                r = file_cache_encode(e, &blob, &blob_len);
                if (r < 0)
                        goto fail;
                struct index_file f = {
                        .dev = it->cache.dev,
                        .ino = it->cache.ino,
                        .size = it->cache.size,
                        .mtime_ns = it->cache.mtime_ns,
                        .ctime_ns = it->cache.ctime_ns,
                        .mode = it->cache.mode,
                        .content = blob,
                        .content_len = blob_len,
                };
                r = index_file_put(wr, job->root_id, it->relpath, &f);
                if (r < 0)
                        goto fail;
        }
        if (!job->unchanged) {
                struct index_snapshot row = {
                        .id = job->id,
                        .root_id = job->root_id,
                        .time_ns = job->time_ns,
                        .tree = job->tree,
                        .hostname = c->snap->hostname,
                        .tags = (char *)"",
                        .files = job->stats.files,
                        .dirs = job->stats.dirs,
                        .bytes = job->stats.bytes,
                        .new_bytes = job->stats.new_bytes,
                        .errors = job->stats.errors,
                        .files_read = job->stats.files_read,
                };
                if (c->parent)
                        row.parent = *c->parent;
                r = index_snapshot_add(wr, &row);
                if (r < 0)
                        goto fail;
        }
        return index_commit(wr);
fail:
        index_rollback(wr);
        return r;
}

/* Same root entry metadata (the tree ids are compared separately)? */
static bool root_entry_same(const struct object_entry *a, const struct object_entry *b)
{
        if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid || a->mtime_ns != b->mtime_ns ||
            a->n_xattrs != b->n_xattrs)
                return false;
        for (size_t i = 0; i < a->n_xattrs; i++)
                if (strcmp(a->xattrs[i].name, b->xattrs[i].name) ||
                    a->xattrs[i].value_len != b->xattrs[i].value_len ||
                    memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].value_len))
                        return false;
        return true;
}

void snapshot_run(struct snapshot_job *job)
{
        struct daemon *d = job->daemon;
        struct walk w = {.job = job, .repo = d->repo};
        struct object_snapshot snap = {0};
        struct object_snapshot *prev_snap = NULL;
        struct object_tree *prev_root = NULL;
        struct commit_ctx cc = {.w = &w, .snap = &snap};
        struct index_snapshot parent = {0};
        bool have_parent = false;
        char hostname[256] = "";
        int r;

        pathset_init(&w.removed);
        job->time_ns = now_ns();
        uint64_t failures_before = repo_failures(d->repo);
        int rootfd = open(job->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat rst;
        if (rootfd < 0 || fstat(rootfd, &rst) < 0) {
                job_fail(job, -errno, "cannot open %s: %s", job->path, strerror(errno));
                if (rootfd >= 0)
                        close(rootfd);
                return;
        }
        w.root_dev = rst.st_dev;

        w.reader = repo_reader_get(d->repo);
        if (!w.reader) {
                close(rootfd);
                job_fail(job, -ENOMEM, "cannot open the index");
                return;
        }
        if (index_snapshot_latest(w.reader, job->root_id, &parent) >= 0)
                have_parent = true;
        /* Incremental: reuse the parent snapshot's trees outside the dirty
         * directories. It needs the parent's objects to be readable. */
        if (have_parent && !job->full && snaptree_load_snapshot(d->repo, &parent.id, &prev_snap) >= 0 &&
            snaptree_load(d->repo, &prev_snap->tree, &prev_root) >= 0) {
                w.incremental = true;
                w.dirty = &job->dirty;
                w.deep = &job->deep;
                pathset_freeze(&job->dirty);
                pathset_freeze(&job->deep);
                job->stats = prev_snap->stats;
                job->stats.new_bytes = job->stats.files_read = job->stats.errors = 0;
        } else {
                r = index_file_foreach(w.reader, job->root_id, "", load_cache_cb, &w);
                if (r < 0) {
                        close(rootfd);
                        job_fail(job, r, "cannot read the file cache: %s", strerror(-r));
                        goto out;
                }
        }

        struct exclude_error xerr = {0};
        r = exclude_new(job->excludes, &xerr, &w.excludes);
        if (r < 0) {
                close(rootfd);
                job_fail(job, r, "bad exclude pattern on line %u: %s", xerr.line,
                         xerr.reason ? xerr.reason : strerror(-r));
                goto out;
        }
        int64_t t0 = monotonic_ns(), t1, t2, t3, t4;
        /* phase 1: walk */
        w.root = walk_dir(&w, rootfd, "", prev_root, w.incremental && pathset_has(&job->deep, ""), w.excludes);
        close(rootfd);
        if (cancelled(job) || !w.root)
                goto out;

        t1 = monotonic_ns();
        /* phase 2: read changed files, biggest first, on every worker */
        if (w.n_items > 1)
                qsort(w.items, w.n_items, sizeof(*w.items), item_size_cmp);
        workers_run_parallel(d->workers, read_item, (void **)w.items, w.n_items);
        if (cancelled(job))
                goto out;
        t2 = monotonic_ns();

        /* phase 3: trees, snapshot object, flush, commit */
        r = store_tree(&w, w.root);
        if (r < 0)
                goto out;
        job->tree = w.root->id;
        gethostname(hostname, sizeof(hostname) - 1);
        snap.time_ns = job->time_ns;
        snap.hostname = hostname;
        snap.root = (uint8_t *)job->path;
        snap.root_len = strlen(job->path);
        snap.tree = job->tree;
        if (have_parent) {
                snap.has_parent = true;
                snap.parent = parent.id;
                cc.parent = &parent.id;
        }
        snap.stats = job->stats;
        {
                const char *base = strrchr(job->path, '/');
                base = base && base[1] ? base + 1 : "root";
                r = entry_from_stat(&w, base, &rst, &snap.root_entry);
                if (r >= 0)
                        r = read_xattrs(job->path, &snap.root_entry);
                if (r < 0) {
                        job_fail(job, r, "cannot read the metadata of %s", job->path);
                        goto out;
                }
                snap.root_entry.nlink = 0;
                snap.root_entry.subtree = job->tree;
                snap.has_root_entry = true;
        }
        if (job->skip_if_unchanged && have_parent) {
                if (!prev_snap)
                        snaptree_load_snapshot(d->repo, &parent.id, &prev_snap);
                if (prev_snap && !oid_cmp(&prev_snap->tree, &job->tree) && prev_snap->has_root_entry &&
                    root_entry_same(&prev_snap->root_entry, &snap.root_entry))
                        job->unchanged = true;
        }
        if (!job->unchanged) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len;
                r = object_snapshot_encode(&snap, &buf, &len);
                if (r < 0) {
                        job_fail(job, r, "cannot encode the snapshot");
                        goto out;
                }
                r = repo_put(d->repo, OBJECT_SNAPSHOT, buf, len, &job->id, NULL);
                if (r < 0) {
                        job_fail(job, r, "cannot store the snapshot: %s", strerror(-r));
                        goto out;
                }
        }
        t3 = monotonic_ns();
        r = repo_flush(d->repo);
        if (r >= 0 && repo_failures(d->repo) != failures_before)
                r = -EIO;
        if (r < 0) {
                job_fail(job, r, "cannot write packs: %s", strerror(-r));
                goto out;
        }
        if (w.cache) {
                collect_ctx = &cc;
                twalk(w.cache, collect_unseen);
                collect_ctx = NULL;
        }
        t4 = monotonic_ns();
        r = repo_with_writer(d->repo, commit_cb, &cc);
        if (r < 0)
                job_fail(job, r, "cannot commit the snapshot to the index: %s", strerror(-r));
        log_debug("Snapshot of %s (%s%s): walk %.3fs, read %.3fs (%zu files), trees %.3fs, packs durable %.3fs, "
                  "commit %.3fs", job->path, w.incremental ? "incremental" : "full",
                  job->unchanged ? ", unchanged" : "", (t1 - t0) / 1e9, (t2 - t1) / 1e9, w.n_items,
                  (t3 - t2) / 1e9, (t4 - t3) / 1e9, (monotonic_ns() - t4) / 1e9);
out:
        if (snap.has_root_entry)
                object_entry_done(&snap.root_entry);
        object_snapshot_free(prev_snap);
        object_tree_free(prev_root);
        repo_reader_put(d->repo, w.reader);
        free(cc.removed);
        pathset_done(&w.removed);
        if (have_parent)
                index_snapshot_done(&parent);
        for (size_t i = 0; i < w.n_items; i++) {
                free(w.items[i]->relpath);
                free(w.items[i]);
        }
        free(w.items);
        dnode_free(w.root);
        tdestroy(w.cache, cache_node_free);
        tdestroy(w.owners, owner_node_free);
        exclude_free(w.excludes);
}

void snapshot_job_free(struct snapshot_job *job)
{
        if (!job)
                return;
        pathset_done(&job->dirty);
        pathset_done(&job->deep);
        free(job->path);
        free(job->excludes);
        free(job);
}
