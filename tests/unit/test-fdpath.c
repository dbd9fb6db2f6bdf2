/* SPDX-License-Identifier: MIT */
/* common/fdpath.c: opening below a directory fd never follows a symlink at
 * any level nor leaves the directory, with openat2 and with the component
 * walk used where openat2 is missing; fdpath_proc reaches a name in a
 * directory fd. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fdpath.h"

static char base[64];
static int dirfd_;

static void mk(const char *rel, bool dir)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", base, rel);
        if (dir)
                cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
        else
                cr_assert_eq(close(open(p, O_WRONLY | O_CREAT, 0644)), 0);
}

static void setup(void)
{
        strcpy(base, "/tmp/test-fdpath.XXXXXX");
        cr_assert_not_null(mkdtemp(base));
        mk("in", true);
        mk("in/a", true);
        mk("in/a/b", true);
        mk("in/a/b/f", false);
        mk("out", true);
        mk("out/f", false);
        char p[PATH_MAX], t[PATH_MAX];
        snprintf(p, sizeof(p), "%s/in/a/l", base);
        cr_assert_eq(symlink("b", p), 0);
        snprintf(p, sizeof(p), "%s/in/escape", base);
        snprintf(t, sizeof(t), "%s/out", base);
        cr_assert_eq(symlink(t, p), 0);
        snprintf(p, sizeof(p), "%s/in", base);
        dirfd_ = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dirfd_, 0);
}

static void teardown(void)
{
        fdpath_force_component_walk(0);
        close(dirfd_);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        cr_assert_eq(system(cmd), 0);
}

static bool exists(const char *rel)
{
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", base, rel);
        return lstat(p, &st) == 0;
}

static void check_rules(void)
{
        int fd = fdpath_open(dirfd_, "a/b/f", O_RDONLY, 0);
        cr_assert_geq(fd, 0, "a plain path opens: %s", strerror(-fd));
        close(fd);
        fd = fdpath_open(dirfd_, "a/b", O_RDONLY | O_DIRECTORY, 0);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(fdpath_open(dirfd_, "a/l/f", O_RDONLY, 0), -ELOOP, "a symlink in the middle");
        cr_assert_eq(fdpath_open(dirfd_, "a/l", O_RDONLY, 0), -ELOOP, "a symlink at the end");
        cr_assert_eq(fdpath_open(dirfd_, "escape/f", O_RDONLY, 0), -ELOOP, "a symlink out of the directory");
        cr_assert_eq(fdpath_open(dirfd_, "escape/new", O_WRONLY | O_CREAT | O_EXCL, 0600), -ELOOP);
        cr_assert_not(exists("out/new"), "nothing created through the symlink");
        cr_assert_eq(fdpath_open(dirfd_, "../out/f", O_RDONLY, 0), -EINVAL, "no ..");
        cr_assert_eq(fdpath_open(dirfd_, "a/../../out/f", O_RDONLY, 0), -EINVAL);
        cr_assert_eq(fdpath_open(dirfd_, "/etc/passwd", O_RDONLY, 0), -EINVAL, "no absolute path");
        cr_assert_eq(fdpath_open(dirfd_, "", O_RDONLY, 0), -EINVAL);
        cr_assert_eq(fdpath_open(dirfd_, "a//b", O_RDONLY, 0), -EINVAL);
        cr_assert_eq(fdpath_open(dirfd_, "a/missing/f", O_RDONLY, 0), -ENOENT);
        fd = fdpath_open(dirfd_, "a/b/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
        cr_assert_geq(fd, 0, "create below: %s", strerror(-fd));
        close(fd);
        cr_assert(exists("in/a/b/new"));
        const char *name = NULL;
        fd = fdpath_open_parent(dirfd_, "a/b/f", &name);
        cr_assert_geq(fd, 0);
        cr_assert_str_eq(name, "f");
        struct stat st;
        cr_assert_eq(fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        close(fd);
        cr_assert_eq(fdpath_open_parent(dirfd_, "escape/f", &name), -ELOOP);
        fd = fdpath_open_parent(dirfd_, "top", &name);
        cr_assert_geq(fd, 0, "a name at the top: a copy of the directory fd");
        cr_assert_str_eq(name, "top");
        close(fd);
}

Test(fdpath, openat2, .init = setup, .fini = teardown)
{
        check_rules();
}

Test(fdpath, component_walk, .init = setup, .fini = teardown)
{
        fdpath_force_component_walk(1);
        check_rules();
}

Test(fdpath, proc_path_reaches_a_name_in_a_directory_fd, .init = setup, .fini = teardown)
{
        char p[64];
        cr_assert_eq(fdpath_proc(dirfd_, "escape", p, sizeof(p)), 0);
        struct stat st;
        cr_assert_eq(lstat(p, &st), 0);
        cr_assert(S_ISLNK(st.st_mode), "the name itself, not what it points to");
        cr_assert_eq(fdpath_proc(dirfd_, "a", p, 8), -ENAMETOOLONG);
}
