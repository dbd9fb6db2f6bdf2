/* SPDX-License-Identifier: MIT */
/* fd-relative path resolution (see fdpath.h). openat2(2) with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS does it in one call; where the
 * kernel lacks it (before 5.6, or a seccomp filter refuses it) or the path
 * is too long for one call (PATH_MAX), each component is opened in turn
 * with O_NOFOLLOW | O_DIRECTORY. */

#include "fdpath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

static bool no_openat2;

/* Each component of relpath must be a plain name. */
static bool relpath_ok(const char *relpath)
{
        if (!*relpath || *relpath == '/')
                return false;
        for (const char *p = relpath; *p;) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p = *end ? end + 1 : end;
        }
        return true;
}

/* The fallback: walk the components one openat at a time, in a copy of
 * relpath cut at each '/', so that a path of any length works (openat2 and
 * openat refuse one of PATH_MAX bytes or more; each name still has to fit
 * NAME_MAX, which the kernel checks). */
static int open_by_components(int dirfd, const char *relpath, int flags, mode_t mode)
{
        _cleanup_free_ char *copy = strdup(relpath);
        if (!copy)
                return -ENOMEM;
        int cur = -1;
        char *name = copy;
        for (;;) {
                char *slash = strchr(name, '/');
                if (!slash) {
                        int fd = openat(cur < 0 ? dirfd : cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
                        int r = fd < 0 ? -errno : fd;
                        if (cur >= 0)
                                close(cur);
                        return r;
                }
                *slash = '\0';
                int next = openat(cur < 0 ? dirfd : cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int err = errno;
                struct stat st;
                /* O_DIRECTORY wins over O_NOFOLLOW: a symlink says ENOTDIR */
                if (next < 0 && err == ENOTDIR && fstatat(cur < 0 ? dirfd : cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode))
                        err = ELOOP;
                if (cur >= 0)
                        close(cur);
                if (next < 0)
                        return -err;
                cur = next;
                name = slash + 1;
        }
}

int fdpath_open(int dirfd, const char *relpath, int flags, mode_t mode)
{
        if (!relpath_ok(relpath))
                return -EINVAL;
        if (!(flags & O_CREAT))
                mode = 0;
        if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
                struct open_how how = {
                        .flags = (unsigned)(flags | O_NOFOLLOW | O_CLOEXEC),
                        .mode = mode,
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                };
                long fd = syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                if (errno != ENOSYS && errno != EPERM && errno != ENAMETOOLONG)
                        return -errno;
                if (errno == ENOSYS)
                        __atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
                /* EPERM: a seccomp filter, or the file's own permission (O_NOATIME):
                 * the component walk tells which. ENAMETOOLONG: the whole
                 * path is PATH_MAX or longer (a deep tree), or one name is
                 * over NAME_MAX: the walk opens one name at a time, and says
                 * ENAMETOOLONG again only in the second case. */
        }
        return open_by_components(dirfd, relpath, flags, mode);
}

int fdpath_open_parent(int dirfd, const char *relpath, const char **ret_name)
{
        const char *slash = strrchr(relpath, '/');
        if (!slash) {
                if (!relpath_ok(relpath))
                        return -EINVAL;
                int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return -errno;
                *ret_name = relpath;
                return fd;
        }
        if (!relpath_ok(slash + 1))
                return -EINVAL;
        /* any length: fdpath_open walks a path past PATH_MAX one name at a time */
        _cleanup_free_ char *parent = strndup(relpath, (size_t)(slash - relpath));
        if (!parent)
                return -ENOMEM;
        int fd = fdpath_open(dirfd, parent, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOTDIR) {
                /* O_DIRECTORY wins over O_NOFOLLOW: tell a symlink apart */
                int link = fdpath_open(dirfd, parent, O_PATH, 0);
                struct stat st;
                if (link >= 0 && fstat(link, &st) == 0 && S_ISLNK(st.st_mode))
                        fd = -ELOOP;
                if (link >= 0)
                        close(link);
        }
        if (fd >= 0)
                *ret_name = slash + 1;
        return fd;
}

int fdpath_proc(int fd, const char *name, char *buf, size_t size)
{
        static int have_proc = -1;
        int have = __atomic_load_n(&have_proc, __ATOMIC_RELAXED);
        if (have < 0) {
                have = access("/proc/self/fd", F_OK) == 0;
                __atomic_store_n(&have_proc, have, __ATOMIC_RELAXED);
        }
        if (!have)
                return -ENOENT;
        int n = snprintf(buf, size, "/proc/self/fd/%d/%s", fd, name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void fdpath_force_component_walk(int on)
{
        __atomic_store_n(&no_openat2, on != 0, __ATOMIC_RELAXED);
}
