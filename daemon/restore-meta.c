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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdpath.h"
#include "log.h"

/* the names the kernel gives POSIX ACLs among extended attributes */
#define ACL_ACCESS_XATTR "system.posix_acl_access"
#define ACL_DEFAULT_XATTR "system.posix_acl_default"

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

static bool has_xattr(const struct object_entry *e, const char *name)
{
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (!strcmp(e->xattrs[i].name, name))
                        return true;
        return false;
}

/* The ACLs a new inode took from a default ACL of the directory it was
 * made in (the target's parent, or a restored directory's own default
 * ACL), where the snapshot has none for it: removed, so that the restored
 * entry's permissions are those recorded, not the target's. fd is the
 * inode's fd, or -1 and proc its /proc/self/fd path (an O_PATH fd). */
static void drop_inherited_acls(struct restore_job *job, int fd, const char *proc, const char *path,
                                const struct object_entry *e)
{
        static const char *const names[] = {ACL_ACCESS_XATTR, ACL_DEFAULT_XATTR};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (i == 1 && e->kind != OBJECT_KIND_DIR)
                        break; /* only directories have a default ACL */
                if (has_xattr(e, names[i]))
                        continue;
                int r = fd >= 0 ? fremovexattr(fd, names[i]) : removexattr(proc, names[i]);
                if (r < 0 && errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP)
                        restore_warn(job, -errno, "remove the inherited ACL of", path);
        }
}

void restore_meta_fd(struct restore_job *job, bool root_user, int fd, const char *path,
                     const struct object_entry *e, bool created)
{
        /* root:root too: a file made in a setgid directory has its group */
        if (root_user && fchown(fd, e->uid, e->gid) < 0)
                restore_warn(job, -errno, "set the owner of", path);
        set_xattrs_fd(job, fd, path, e);
        if (created) /* an existing directory merged into keeps the ACLs it had */
                drop_inherited_acls(job, fd, NULL, path, e);
        if (fchmod(fd, e->mode) < 0)
                restore_warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (futimens(fd, ts) < 0)
                restore_warn(job, -errno, "set the times of", path);
}

mode_t restore_node_type(enum object_kind kind)
{
        switch (kind) {
        case OBJECT_KIND_FIFO:
                return S_IFIFO;
        case OBJECT_KIND_SOCKET:
                return S_IFSOCK;
        case OBJECT_KIND_CHARDEV:
                return S_IFCHR;
        case OBJECT_KIND_BLOCKDEV:
                return S_IFBLK;
        default:
                return 0;
        }
}

/* A fifo, socket or device node made by the restore: its owner, xattrs,
 * mode and times set on that very inode, held open with O_PATH, after
 * checking it is still such a node. By name (fchmodat follows symlinks)
 * a user who owns the target's directories could swap the new node for a
 * symlink between the calls and have the mode set on /etc/shadow. */
static void meta_node(struct restore_job *job, bool root_user, int dirfd, const char *name, const char *path,
                      const struct object_entry *e)
{
        int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        char proc[64];

        if (fd < 0 || fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != restore_node_type(e->kind)) {
                restore_warn(job, fd < 0 ? -errno : -ESTALE, "set the metadata of (it was replaced meanwhile)",
                             path);
                if (fd >= 0)
                        close(fd);
                return;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd); /* the inode itself, not a name */
        if (root_user && fchownat(fd, "", e->uid, e->gid, AT_EMPTY_PATH) < 0)
                restore_warn(job, -errno, "set the owner of", path);
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (setxattr(proc, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].value_len, 0) < 0)
                        restore_warn(job, -errno, "set extended attribute on", path);
        drop_inherited_acls(job, -1, proc, path, e);
        if (chmod(proc, e->mode) < 0)
                restore_warn(job, -errno, "set the mode of", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (utimensat(AT_FDCWD, proc, ts, 0) < 0)
                restore_warn(job, -errno, "set the times of", path);
        close(fd);
}

void restore_meta_at(struct restore_job *job, bool root_user, int dirfd, const char *name, const char *path,
                     const struct object_entry *e)
{
        bool link = e->kind == OBJECT_KIND_SYMLINK;
        if (!link) {
                meta_node(job, root_user, dirfd, name, path, e);
                return;
        }
        if (root_user && fchownat(dirfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                restore_warn(job, -errno, "set the owner of", path);
        /* the name in dirfd, not whatever the full path reaches now */
        char at[PATH_MAX];
        const char *xpath = e->n_xattrs && fdpath_proc(dirfd, name, at, sizeof(at)) >= 0 ? at : path;
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (lsetxattr(xpath, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].value_len, 0) < 0)
                        restore_warn(job, -errno, "set extended attribute on", path);
        struct timespec ts[2];
        mtime_times(e->mtime_ns, ts);
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                restore_warn(job, -errno, "set the times of", path);
}

/* Remove name in parent, a directory with all it holds; with dry, only
 * find whether that would meet chuted's state dir (-EBUSY) or a mount point
 * (-EXDEV), removing nothing. */
static int remove_at(int parent, const char *name, const struct stat *keep, bool dry)
{
        struct stat st, pst;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return dry ? 0 : unlinkat(parent, name, 0) < 0 ? -errno : 0;
        if (keep && st.st_dev == keep->st_dev && st.st_ino == keep->st_ino)
                return -EBUSY; /* chuted's own state dir: never emptied */
        /* a mount point in the way is not emptied (rm --one-file-system) */
        if (fstat(parent, &pst) < 0)
                return -errno;
        if (st.st_dev != pst.st_dev)
                return -EXDEV;
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
                        r = remove_at(dirfd(d), de->d_name, keep, dry);
        closedir(d);
        if (r < 0 || dry)
                return r;
        return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int restore_remove_at(int parent, const char *name, const struct stat *keep)
{
        /* a directory that cannot go whole is left whole: not half emptied */
        int r = remove_at(parent, name, keep, true);
        return r < 0 ? r : remove_at(parent, name, keep, false);
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

