/* SPDX-License-Identifier: MIT */
/* The walk of a snapshot (see walk.h): lstat every listed entry relative to
 * its directory's fd, decide per file between the file cache and a read, per
 * directory between the parent snapshot's tree and a new listing, and keep
 * the totals. Runs on the job's thread only; reads no file content. */

#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "assemble.h"
#include "cleanup.h"
#include "exclude.h"
#include "fdpath.h"
#include "index.h"
#include "log.h"
#include "path.h"
#include "snapshot.h"
#include "snaptree.h"

/* A full walk's file-cache rows for one directory's children. */
struct child_row {
        char *name;
        size_t name_len;
        bool subdir; /* rows lie below it (none for itself) */
        bool seen;
        struct index_file file; /* content owned */
};

struct child_rows {
        struct child_row *v;
        size_t n, cap;
        size_t skip; /* the directory's prefix in the rows' paths */
};

struct owner_node {
        uint64_t key; /* (is_group << 32) | id */
        char *name;
};

static int child_row_cmp(const void *a, const void *b)
{
        const struct child_row *x = a, *y = b;
        int c = object_name_cmp((const uint8_t *)x->name, x->name_len, (const uint8_t *)y->name, y->name_len);
        return c ? c : (int)x->subdir - (int)y->subdir;
}

static int child_row_cb(const char *path, const struct index_file *file, void *userdata)
{
        struct child_rows *c = userdata;
        if (!GROW(c->v, c->n, c->cap, 16))
                return -ENOMEM;
        struct child_row *row = &c->v[c->n];
        memset(row, 0, sizeof(*row));
        row->name_len = strlen(path + c->skip);
        row->name = strdup(path + c->skip);
        if (!row->name)
                return -ENOMEM;
        if (file) {
                row->file = *file;
                row->file.content = malloc(file->content_len ? file->content_len : 1);
                if (!row->file.content) {
                        free(row->name);
                        return -ENOMEM;
                }
                if (file->content_len)
                        memcpy(row->file.content, file->content, file->content_len);
        } else {
                row->subdir = true;
        }
        c->n++;
        return 0;
}

static void child_rows_done(struct child_rows *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].name);
                free(c->v[i].file.content);
        }
        free(c->v);
        memset(c, 0, sizeof(*c));
}

/* The file-cache rows of relpath's children, sorted by name. */
static int child_rows_load(struct walk *w, const char *relpath, struct child_rows *c)
{
        c->skip = *relpath ? strlen(relpath) + 1 : 0;
        int r = index_file_foreach_child(w->reader, w->job->root_id, relpath, child_row_cb, c);
        if (r < 0)
                return r;
        if (c->n > 1)
                qsort(c->v, c->n, sizeof(*c->v), child_row_cmp);
        return 0;
}

static struct child_row *child_row_find(struct child_rows *c, const uint8_t *name, size_t len, bool subdir)
{
        struct child_row key = {.name = (char *)name, .name_len = len, .subdir = subdir};
        return c->n ? bsearch(&key, c->v, c->n, sizeof(*c->v), child_row_cmp) : NULL;
}

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

int walk_read_xattrs(const char *path, int fd, struct object_entry *e)
{
        ssize_t n = list_xattrs(path, fd, NULL, 0);
        if (n <= 0)
                return n < 0 && errno != ENOTSUP && errno != ENODATA ? -errno : 0;
        _cleanup_free_ char *names = malloc((size_t)n);
        if (!names)
                return -ENOMEM;
        n = list_xattrs(path, fd, names, (size_t)n);
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
                ssize_t vl = get_xattr(path, fd, name, NULL, 0);
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
                vl = get_xattr(path, fd, name, x->value, (size_t)vl);
                if (vl < 0) {
                        free(x->value);
                        free(x->name);
                        continue;
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

static bool cache_matches(const struct index_file *c, const struct stat *st)
{
        return c->dev == (uint64_t)st->st_dev && c->ino == (uint64_t)st->st_ino &&
               c->size == (uint64_t)st->st_size && c->mtime_ns == walk_ts_ns(st->st_mtim) &&
               c->ctime_ns == walk_ts_ns(st->st_ctim);
}


/* Read the extended attributes of entry e, named relpath, in the directory
 * open as dirfd: through that fd, not whatever the full path reaches now. */
static void walk_entry_xattrs(struct walk *w, int dirfd, const char *relpath, struct object_entry *e)
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

/* Is the file unchanged according to cache entry c? Then take its content:
 * file_cache_decode's flags, or -ENOENT. */
static int reuse_cached(const struct index_file *c, const struct stat *st, struct object_entry *e)
{
        if (!cache_matches(c, st))
                return -ENOENT;
        int k = file_cache_decode(c->content, c->content_len, e);
        if (k < 0)
                return -ENOENT;
        if (e->size == (uint64_t)st->st_size)
                return k;
        free(e->extents);
        e->extents = NULL;
        e->n_extents = 0;
        e->has_list = false;
        return -ENOENT;
}

/* Decide what to do with one file entry: reuse cached content (full walks:
 * the row the directory's join found, if any) or queue a read. Its extended
 * attributes: none if the cache says it had none, else read here (reused)
 * or by the reader from the open file. */
static int plan_file(struct walk *w, int dirfd, struct dnode *dn, size_t index, const char *relpath,
                     const struct stat *st, const struct index_file *cached)
{
        struct object_entry *e = &dn->tree->entries[index];
        int k = -ENOENT;

        if (cached) {
                k = reuse_cached(cached, st, e);
        } else if (!w->full) {
                struct index_file f;
                if (index_file_get(w->reader, w->job->root_id, relpath, &f) >= 0) {
                        k = reuse_cached(&f, st, e);
                        index_file_done(&f);
                }
        }
        if (k >= 0) {
                if (!(k & FILE_CACHE_NO_XATTRS))
                        walk_entry_xattrs(w, dirfd, relpath, e);
                return 0;
        }
        e->size = (uint64_t)st->st_size;
        return assemble_read(w, dn, index, relpath, st);
}

/* Add (sign 1) or take away (sign -1) the counts of t's direct entries. */
static void count_direct(struct snapshot_job *job, const struct object_tree *t, int sign)
{
        for (size_t i = 0; i < t->n_entries; i++) {
                const struct object_entry *e = &t->entries[i];
                if (e->kind == OBJECT_KIND_DIR) {
                        __atomic_add_fetch(&job->stats.dirs, (uint64_t)(int64_t)sign, __ATOMIC_RELAXED);
                } else if (e->kind == OBJECT_KIND_FILE) {
                        __atomic_add_fetch(&job->stats.files, (uint64_t)(int64_t)sign, __ATOMIC_RELAXED);
                        __atomic_add_fetch(&job->stats.bytes, (uint64_t)((int64_t)sign * (int64_t)e->size),
                                           __ATOMIC_RELAXED);
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

/* An empty directory (not entered: a mount point, or not openable) as entry
 * index of parent. */
static void walk_empty_dir(struct walk *w, struct dnode *parent, size_t index, const char *relpath)
{
        struct dnode *dn = assemble_dir(w, parent, index, relpath);
        if (dn)
                assemble_listed(w, dn);
}

/* prev is the same directory's tree in the parent snapshot (NULL if none or a
 * full walk); force: everything below must be listed again. */
void walk_dir(struct walk *w, int dirfd, struct dnode *parent, size_t index, const char *relpath,
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
        struct child_rows rows = {0};
        struct exclude *here = dir_excludes(w, dirfd, relpath, ex);
        bool filtering = here && !exclude_is_empty(here);
        struct dnode *dn = assemble_dir(w, parent, index, relpath);
        if (!dn) {
                exclude_free(here);
                return;
        }

        int fd2 = dup(dirfd);
        DIR *dir = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!dir) {
                if (fd2 >= 0)
                        close(fd2);
                log_warning_errno(-errno, "Cannot list %s/%s, recording it empty", job->path, relpath);
                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                exclude_free(here);
                assemble_listed(w, dn);
                return;
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
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        }
                        continue;
                }
                if (!kind_of(st.st_mode))
                        continue;
                if (own_files_has(&job->own, st.st_dev, st.st_ino)) {
                        log_debug("Leaving out %s/%s%s%s: it is chuted's own", job->path, relpath,
                                  *relpath ? "/" : "", de->d_name);
                        continue;
                }
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
                if (walk_entry_from_stat(w, de->d_name, &st, &e) < 0) {
                        object_entry_done(&e);
                        closedir(dir);
                        goto oom_list;
                }
                /* a file's extended attributes are read later: not at all
                 * when the file cache says it had none and it is unchanged,
                 * from its open fd when it is read; a directory's from its
                 * fd when it is walked */
                if (e.kind != OBJECT_KIND_FILE && e.kind != OBJECT_KIND_DIR)
                        walk_entry_xattrs(w, dirfd, child_rel, &e);
                if (e.kind == OBJECT_KIND_SYMLINK) {
                        char target[PATH_MAX + 1];
                        ssize_t n = readlinkat(dirfd, de->d_name, target, sizeof(target) - 1);
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
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                }
        }

        /* a full walk joins the listing with the directory's file-cache rows */
        if (w->full) {
                int r = child_rows_load(w, relpath, &rows);
                if (r < 0) {
                        snapshot_job_fail(job, r, "cannot read the file cache: %s", strerror(-r));
                        goto out;
                }
        }
        for (size_t i = 0; i < dn->tree->n_entries && !snapshot_cancelled(job); i++) {
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
                                walk_entry_xattrs(w, dirfd, child_rel, e);
                                walk_empty_dir(w, dn, i, child_rel);
                                continue;
                        }
                        if (old && !child_force && !pathset_has(w->dirty, child_rel) &&
                            !pathset_has_below(w->dirty, child_rel) && !pathset_has_below(w->deep, child_rel)) {
                                /* unchanged since the parent snapshot: keep its tree */
                                walk_entry_xattrs(w, dirfd, child_rel, e);
                                e->subtree = old->subtree;
                                continue;
                        }
                        struct object_tree *old_tree = NULL;
                        if (old && !child_force && snaptree_load(w->repo, &old->subtree, &old_tree) < 0)
                                old_tree = NULL; /* then it is listed as new */
                        if (old && !old_tree && uncount_subtree(w, &old->subtree) < 0)
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        int cfd = openat(dirfd, (const char *)e->name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                log_warning_errno(-errno, "Cannot open directory %s/%s, recording it empty",
                                                  job->path, child_rel);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                                object_tree_free(old_tree);
                                walk_entry_xattrs(w, dirfd, child_rel, e);
                                walk_empty_dir(w, dn, i, child_rel);
                                continue;
                        }
                        int xr = walk_read_xattrs(NULL, cfd, e);
                        if (xr < 0 && xr != -ENOENT) {
                                log_warning_errno(xr, "Cannot read extended attributes of %s/%s, storing without them",
                                                  job->path, child_rel);
                                __atomic_add_fetch(&job->stats.errors, 1, __ATOMIC_RELAXED);
                        }
                        struct child_row *below = w->full ? child_row_find(&rows, e->name, e->name_len, true) : NULL;
                        if (below)
                                below->seen = true; /* its own walk joins those rows */
                        walk_dir(w, cfd, dn, i, child_rel, old_tree, child_force, here);
                        close(cfd);
                        object_tree_free(old_tree);
                } else if (e->kind == OBJECT_KIND_FILE) {
                        struct child_row *row = w->full ? child_row_find(&rows, e->name, e->name_len, false) : NULL;
                        if (row)
                                row->seen = true;
                        if (plan_file(w, dirfd, dn, i, child_rel, &st, row ? &row->file : NULL) < 0)
                                goto oom;
                }
        }
        /* rows of what is gone (or left out now): forgotten at the commit */
        for (size_t i = 0; i < rows.n && !snapshot_cancelled(job); i++) {
                if (rows.v[i].seen)
                        continue;
                _cleanup_free_ char *gone = path_join(relpath, rows.v[i].name);
                if (!gone || pathset_add(&w->removed, gone) < 0)
                        goto oom;
        }
out:
        free(stats);
        child_rows_done(&rows);
        exclude_free(here);
        assemble_listed(w, dn);
        return;
oom_list:
        for (size_t k = 0; k < nv; k++)
                object_entry_done(&v[k].e);
        free(v);
oom:
        snapshot_job_fail(job, -ENOMEM, "out of memory while walking %s", job->path);
        goto out;
}

static void owner_node_free(void *p)
{
        struct owner_node *n = p;
        free(n->name);
        free(n);
}

void walk_done(struct walk *w)
{
        assemble_done(w);
        pathset_done(&w->removed);
        tdestroy(w->owners, owner_node_free);
        exclude_free(w->excludes);
}
