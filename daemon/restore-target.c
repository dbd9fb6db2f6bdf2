/* SPDX-License-Identifier: MIT */
/* The target of a restore (see restore-target.h). */

#include "restore-target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "test-hook.h"

int restore_target_split(const char *target, char **ret_dir, char **ret_name)
{
        _cleanup_free_ char *t = strdup(target);
        char *dir, *name, *slash;

        if (!t)
                return -ENOMEM;
        for (size_t n = strlen(t); n > 1 && t[n - 1] == '/'; n--)
                t[n - 1] = '\0';
        slash = strrchr(t, '/');
        name = slash ? slash + 1 : t;
        if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
                return -EINVAL;
        name = strdup(name);
        if (slash == t)
                dir = strdup("/");
        else if (slash)
                dir = strndup(t, (size_t)(slash - t));
        else
                dir = strdup(".");
        if (!name || !dir) {
                free(name);
                free(dir);
                return -ENOMEM;
        }
        *ret_dir = dir;
        *ret_name = name;
        return 0;
}

int restore_target_make(const char *target)
{
        _cleanup_free_ char *parent = NULL, *name = NULL;
        _cleanup_close_ int pfd = -1;
        int fd, r;

        r = restore_target_split(target, &parent, &name);
        if (r < 0)
                return r;
        pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return -errno;
        if (mkdirat(pfd, name, 0700) < 0)
                return -errno;
        test_hook_pause("restore-target"); /* tests: the new target swapped for a symlink */
        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}
