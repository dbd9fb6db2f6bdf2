/* SPDX-License-Identifier: MIT */
/* The daemon's own files by device and inode (see own-files.h). Stats are
 * taken when asked (at each snapshot start and watch start), so a socket
 * bound or a key file replaced after start-up is still recognised. */

#include "own-files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "daemon.h"

static void add(struct own_files *o, const char *path)
{
        struct stat st;
        if (!path || !*path || o->n >= OWN_FILES_MAX || stat(path, &st) < 0)
                return;
        o->v[o->n].dev = st.st_dev;
        o->v[o->n].ino = st.st_ino;
        o->n++;
}

void own_files_get(const struct daemon *d, struct own_files *ret)
{
        struct own_files o = {0};
        add(&o, d->config.state_dir);
        o.have_state = o.n == 1;
        struct stat st;
        char blobs[4096];
        if (o.have_state && (size_t)snprintf(blobs, sizeof(blobs), "%s/%s", d->config.state_dir, BLOB_DIR) <
                                    sizeof(blobs) &&
            stat(blobs, &st) == 0 && S_ISDIR(st.st_mode)) {
                o.have_blobs = true;
                o.blobs_dev = st.st_dev;
                o.blobs_ino = st.st_ino;
        }
        add(&o, d->config.key_file);
        add(&o, d->config.socket_path);
        *ret = o;
}

bool own_files_has(const struct own_files *o, dev_t dev, ino_t ino)
{
        for (size_t i = 0; i < o->n; i++)
                if (o->v[i].dev == dev && o->v[i].ino == ino)
                        return true;
        return false;
}

int own_files_in_state_dir(const struct own_files *o, int dirfd)
{
        if (!o->have_state)
                return 0;
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        /* up through ".." until a directory is its own parent */
        int r = -ELOOP;
        for (unsigned depth = 0; depth < 4096; depth++) {
                struct stat st, up;
                if (fstat(fd, &st) < 0) {
                        r = -errno;
                        break;
                }
                if (st.st_dev == o->v[0].dev && st.st_ino == o->v[0].ino) {
                        r = 1;
                        break;
                }
                if (o->have_blobs && st.st_dev == o->blobs_dev && st.st_ino == o->blobs_ino) {
                        r = 0; /* the blob root is backed up, though it lies in the state dir */
                        break;
                }
                int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0) {
                        r = -errno;
                        break;
                }
                close(fd);
                fd = parent;
                if (fstat(fd, &up) < 0) {
                        r = -errno;
                        break;
                }
                if (up.st_dev == st.st_dev && up.st_ino == st.st_ino) {
                        r = 0; /* the root of the file system tree */
                        break;
                }
        }
        close(fd);
        return r;
}
