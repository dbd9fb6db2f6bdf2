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

/* "deep" below dirfd_: 24 directories of 200-byte names, made one mkdirat
 * at a time (5 KiB, past PATH_MAX), with a file f and a symlink l at the
 * bottom; the path of the bottom directory goes into rel. */
#define DEEP_LEVELS 24
#define DEEP_NAME 200
static void make_deep(char *rel, size_t size)
{
        char name[DEEP_NAME + 1];
        memset(name, 'd', DEEP_NAME);
        name[DEEP_NAME] = '\0';
        int cur = dup(dirfd_);
        cr_assert_geq(cur, 0);
        rel[0] = '\0';
        for (int i = 0; i < DEEP_LEVELS; i++) {
                name[0] = (char)('a' + i);
                cr_assert_eq(mkdirat(cur, name, 0755), 0, "mkdirat at level %d: %s", i, strerror(errno));
                int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                cr_assert_geq(next, 0);
                close(cur);
                cur = next;
                size_t n = strlen(rel);
                snprintf(rel + n, size - n, "%s%s", n ? "/" : "", name);
        }
        cr_assert_eq(close(openat(cur, "f", O_WRONLY | O_CREAT, 0644)), 0);
        cr_assert_eq(symlinkat(".", cur, "l"), 0);
        close(cur);
        cr_assert_gt(strlen(rel), PATH_MAX, "the test path is longer than PATH_MAX");
}

static void check_deep(void)
{
        char deep[DEEP_LEVELS * (DEEP_NAME + 1) + 1], p[sizeof(deep) + 64];
        make_deep(deep, sizeof(deep));

        int fd = fdpath_open(dirfd_, deep, O_RDONLY | O_DIRECTORY, 0);
        cr_assert_geq(fd, 0, "a directory deeper than PATH_MAX opens: %s", strerror(-fd));
        struct stat st;
        cr_assert_eq(fstatat(fd, "f", &st, AT_SYMLINK_NOFOLLOW), 0, "... and it is the bottom one");
        close(fd);

        snprintf(p, sizeof(p), "%s/f", deep);
        fd = fdpath_open(dirfd_, p, O_RDONLY, 0);
        cr_assert_geq(fd, 0, "a file there opens: %s", strerror(-fd));
        close(fd);
        snprintf(p, sizeof(p), "%s/new", deep);
        fd = fdpath_open(dirfd_, p, O_WRONLY | O_CREAT | O_EXCL, 0600);
        cr_assert_geq(fd, 0, "a file there is created: %s", strerror(-fd));
        close(fd);

        const char *name = NULL;
        snprintf(p, sizeof(p), "%s/f", deep);
        fd = fdpath_open_parent(dirfd_, p, &name);
        cr_assert_geq(fd, 0, "the parent of a file deeper than PATH_MAX opens: %s", strerror(-fd));
        cr_assert_str_eq(name, "f");
        cr_assert_eq(linkat(fd, name, fd, "hard", 0), 0, "a hard link is made there");
        cr_assert_eq(fstatat(fd, "hard", &st, AT_SYMLINK_NOFOLLOW), 0);
        cr_assert_eq(st.st_nlink, 2);
        close(fd);

        /* the rules still hold at that depth */
        snprintf(p, sizeof(p), "%s/l/f", deep);
        cr_assert_eq(fdpath_open(dirfd_, p, O_RDONLY, 0), -ELOOP, "a symlink deep down");
        cr_assert_eq(fdpath_open_parent(dirfd_, p, &name), -ELOOP);
        snprintf(p, sizeof(p), "%s/missing/f", deep);
        cr_assert_eq(fdpath_open(dirfd_, p, O_RDONLY, 0), -ENOENT);
        snprintf(p, sizeof(p), "%s/../f", deep);
        cr_assert_eq(fdpath_open(dirfd_, p, O_RDONLY, 0), -EINVAL);
}

Test(fdpath, deeper_than_path_max_openat2, .init = setup, .fini = teardown)
{
        check_deep();
}

Test(fdpath, deeper_than_path_max_component_walk, .init = setup, .fini = teardown)
{
        fdpath_force_component_walk(1);
        check_deep();
}

/* NAME_MAX (255) is the longest name a directory entry can have: one
 * byte more is ENAMETOOLONG, in the middle of a path or at its end. */
static void check_name_max(void)
{
        char name[NAME_MAX + 2], p[2 * sizeof(name)];
        memset(name, 'n', NAME_MAX);
        name[NAME_MAX] = '\0';
        cr_assert_eq(mkdirat(dirfd_, name, 0755), 0);
        snprintf(p, sizeof(p), "%s/f", name);
        int fd = fdpath_open(dirfd_, p, O_WRONLY | O_CREAT | O_EXCL, 0600);
        cr_assert_geq(fd, 0, "a name of NAME_MAX bytes works: %s", strerror(-fd));
        close(fd);
        strcat(name, "n");
        snprintf(p, sizeof(p), "%s/f", name);
        cr_assert_eq(fdpath_open(dirfd_, p, O_RDONLY, 0), -ENAMETOOLONG);
        snprintf(p, sizeof(p), "a/%s", name);
        cr_assert_eq(fdpath_open(dirfd_, p, O_WRONLY | O_CREAT, 0600), -ENAMETOOLONG);
}

Test(fdpath, name_max_openat2, .init = setup, .fini = teardown)
{
        check_name_max();
}

Test(fdpath, name_max_component_walk, .init = setup, .fini = teardown)
{
        fdpath_force_component_walk(1);
        check_name_max();
}
