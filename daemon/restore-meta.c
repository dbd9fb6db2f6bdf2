/* SPDX-License-Identifier: MIT */
/* What restore does to one entry besides its content (see restore-meta.h):
 * owner, extended attributes, mode and times, set through an fd or by name
 * in a directory fd (never through a full path); removing what is in the
 * way for --overwrite; and the warnings that count as a restore's errors. */

#include "restore-meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdpath.h"
#include "log.h"

void restore_warn(struct restore_job *job, int error, const char *what, const char *path)
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
                        restore_warn(job, -errno, "set extended attribute on", path);
}

void restore_meta_fd(struct restore_job *job, bool root_user, int fd, const char *path,
                     const struct object_entry *e)
{
        if (root_user && (e->uid != 0 || e->gid != 0) && fchown(fd, e->uid, e->gid) < 0)
                restore_warn(job, -errno, "set the owner of", path);
        set_xattrs_fd(job, fd, path, e);
        if (fchmod(fd, e->mode) < 0)
                restore_warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (futimens(fd, ts) < 0)
                restore_warn(job, -errno, "set the times of", path);
}

void restore_meta_at(struct restore_job *job, bool root_user, int dirfd, const char *name, const char *path,
                     const struct object_entry *e)
{
        bool link = e->kind == OBJECT_KIND_SYMLINK;
        if (root_user && fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                restore_warn(job, -errno, "set the owner of", path);
        /* the name in dirfd, not whatever the full path reaches now */
        char at[PATH_MAX];
        const char *xpath = e->n_xattrs && fdpath_proc(dirfd, name, at, sizeof(at)) >= 0 ? at : path;
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (lsetxattr(xpath, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].value_len, 0) < 0)
                        restore_warn(job, -errno, "set extended attribute on", path);
        if (!link && fchmodat(dirfd, name, e->mode, 0) < 0)
                restore_warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                restore_warn(job, -errno, "set the times of", path);
}

int restore_remove_at(int parent, const char *name)
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
                        r = restore_remove_at(dirfd(d), de->d_name);
        closedir(d);
        if (r < 0)
                return r;
        return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

bool restore_dir_empty(int fd)
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

