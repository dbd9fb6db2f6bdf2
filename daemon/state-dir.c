/* SPDX-License-Identifier: MIT */
/* The state directory as files (see state-dir.h): the "holds data" test that
 * guards against replacing a lost key, and the permission repair at start.
 * Everything goes through directory fds with O_NOFOLLOW, so a symlink planted
 * in the state dir is neither followed nor chmod'ed. */
#include "state-dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define STATE_DIR_INDEX "index.db"
#define STATE_DIR_PACKS "packs"

static const char *const state_dir_index_files[] = {
        STATE_DIR_INDEX, STATE_DIR_INDEX "-wal", STATE_DIR_INDEX "-shm", STATE_DIR_INDEX "-journal",
};

/* A pack fan-out directory is named by two lower-case hex digits. */
static bool state_dir_is_fanout(const char *name)
{
        return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

/* Count the regular files in the fan-out directories of packs_fd. */
static int state_dir_count_packs(int packs_fd, unsigned long *ret)
{
        int fd = dup(packs_fd);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        unsigned long n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!state_dir_is_fanout(de->d_name))
                        continue;
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                DIR *sd = fdopendir(sub);
                if (!sd) {
                        close(sub);
                        continue;
                }
                struct dirent *e;
                while ((e = readdir(sd))) {
                        struct stat st;
                        if (e->d_name[0] != '.' && fstatat(dirfd(sd), e->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                            S_ISREG(st.st_mode))
                                n++;
                }
                closedir(sd);
        }
        closedir(d);
        *ret = n;
        return 0;
}

int state_dir_holds_data(const char *dir, char **ret_what)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;

        /* Any index file: the index is created right after the key, so an
         * index without its key means the key went missing. */
        const char *index = NULL;
        for (size_t i = 0; i < ELEMENTSOF(state_dir_index_files); i++) {
                struct stat st;
                if (fstatat(dfd, state_dir_index_files[i], &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                        index = state_dir_index_files[i];
                        break;
                }
                if (errno != ENOENT)
                        return -errno;
        }
        unsigned long packs = 0;
        _cleanup_close_ int pfd = openat(dfd, STATE_DIR_PACKS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd >= 0) {
                int r = state_dir_count_packs(pfd, &packs);
                if (r < 0)
                        return r;
        } else if (errno != ENOENT) {
                return -errno;
        }
        if (!index && packs == 0)
                return 0;
        if (ret_what) {
                char *what = NULL;
                int n;
                if (index && packs)
                        n = asprintf(&what, "%s and %lu pack(s)", index, packs);
                else if (index)
                        n = asprintf(&what, "%s", index);
                else
                        n = asprintf(&what, "%lu pack(s)", packs);
                if (n < 0)
                        return -ENOMEM;
                *ret_what = what;
        }
        return 1;
}

/* chmod the entry name of dir_fd to mode unless it has it already; only a
 * directory (want_dir) or a regular file, never through a symlink. Returns
 * 1 when it changed something. */
static int state_dir_fix_one(int dir_fd, const char *dir_path, const char *name, bool want_dir, mode_t mode)
{
        struct stat st;

        /* stat and chmod by name, without opening: a file of mode 0000 or
         * 0200 cannot be opened for reading, yet is ours to chmod. A symlink
         * is seen as such (AT_SYMLINK_NOFOLLOW) and left alone; fchmodat
         * only ever follows the name to the regular file or directory seen. */
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return 0;
        if ((st.st_mode & 07777) == mode)
                return 0;
        if (fchmodat(dir_fd, name, mode, 0) < 0)
                return log_error_errno(-errno, "Cannot set the permissions of %s/%s to %04o", dir_path, name,
                                       (unsigned)mode);
        log_notice("Fixed the permissions of %s/%s: %04o, now %04o", dir_path, name, (unsigned)(st.st_mode & 07777),
                   (unsigned)mode);
        return 1;
}

/* Fix a pack directory (packs/xx or packs/tmp) and the files in it. */
static int state_dir_fix_pack_dir(int packs_fd, const char *packs_path, const char *name)
{
        int fixed = 0, r;

        r = state_dir_fix_one(packs_fd, packs_path, name, true, 0700);
        if (r < 0)
                return r;
        fixed += r;
        int fd = openat(packs_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fixed;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", packs_path, name) < 0) {
                closedir(d);
                return -ENOMEM;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                r = state_dir_fix_one(dirfd(d), path, de->d_name, false, 0600);
                if (r < 0)
                        break;
                fixed += r;
        }
        closedir(d);
        return r < 0 ? r : fixed;
}

int state_dir_fix_modes(const char *dir)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fixed = 0, r;

        if (dfd < 0)
                return log_error_errno(-errno, "Cannot open the state directory %s", dir);
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return log_error_errno(-errno, "Cannot stat the state directory %s", dir);
        if ((st.st_mode & 07777) != 0700) {
                if (fchmod(dfd, 0700) < 0)
                        return log_error_errno(-errno, "Cannot set the permissions of %s to 0700", dir);
                log_notice("Fixed the permissions of %s: %04o, now 0700", dir, (unsigned)(st.st_mode & 07777));
                fixed++;
        }
        for (size_t i = 0; i < ELEMENTSOF(state_dir_index_files); i++) {
                r = state_dir_fix_one(dfd, dir, state_dir_index_files[i], false, 0600);
                if (r < 0)
                        return r;
                fixed += r;
        }
        r = state_dir_fix_one(dfd, dir, STATE_DIR_PACKS, true, 0700);
        if (r < 0)
                return r;
        fixed += r;

        _cleanup_free_ char *packs_path = NULL;
        if (asprintf(&packs_path, "%s/%s", dir, STATE_DIR_PACKS) < 0)
                return log_oom();
        int pfd = openat(dfd, STATE_DIR_PACKS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0)
                return fixed;
        DIR *d = fdopendir(pfd);
        if (!d) {
                close(pfd);
                return log_error_errno(-errno, "Cannot read %s", packs_path);
        }
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                if (!state_dir_is_fanout(de->d_name) && strcmp(de->d_name, "tmp") != 0)
                        continue;
                r = state_dir_fix_pack_dir(dirfd(d), packs_path, de->d_name);
                if (r < 0)
                        break;
                fixed += r;
        }
        closedir(d);
        if (r < 0)
                return log_error_errno(r, "Cannot fix the permissions under %s", packs_path);
        return fixed;
}
