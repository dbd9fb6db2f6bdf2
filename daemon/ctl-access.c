/* SPDX-License-Identifier: MIT */
/* The control socket's access decision (see ctl-access.h): root, chuted's
 * uid or a socket_group member by primary or supplementary groups, with the
 * primary gid alone where the kernel has no SO_PEERGROUPS. Reading the
 * peer's groups is here too; refusing and logging are ctl-server.c's. */
#include "ctl-access.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

int ctl_access_allowed(uid_t own_uid, gid_t socket_gid, uid_t uid, gid_t gid, ctl_access_groups_fn groups,
                       void *userdata, bool *ret_primary_only)
{
        gid_t *list = NULL;
        size_t n = 0;

        if (uid == 0 || uid == own_uid)
                return 1;
        if (socket_gid == (gid_t)-1)
                return 0;
        if (gid == socket_gid)
                return 1;
        int k = groups(userdata, &list, &n);
        if (k == -ENOPROTOOPT) {
                if (ret_primary_only)
                        *ret_primary_only = true;
                return 0; /* the primary gid did not match */
        }
        if (k < 0)
                return k;
        int allowed = 0;
        for (size_t i = 0; i < n && !allowed; i++)
                allowed = list[i] == socket_gid;
        free(list);
        return allowed;
}

int ctl_access_peer_groups(void *userdata, gid_t **ret, size_t *ret_n)
{
        int fd = *(int *)userdata;
        socklen_t len = 64 * sizeof(gid_t);

        for (int tries = 0; tries < 4; tries++) {
                gid_t *list = malloc(len ? len : 1);
                if (!list)
                        return -ENOMEM;
                socklen_t got = len;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, list, &got) == 0) {
                        *ret = list;
                        *ret_n = got / sizeof(gid_t);
                        return 0;
                }
                int k = -errno;
                free(list);
                if (k != -ERANGE)
                        return k;
                len = got > len ? got : len * 2; /* got: the size needed */
        }
        return -ERANGE;
}
