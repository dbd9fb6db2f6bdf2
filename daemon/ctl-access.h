/* SPDX-License-Identifier: MIT */
/* Who may use the control socket, from a peer's credentials as it had them
 * when it connected: root, chuted's own uid, or a member of socket_group by
 * its primary or supplementary groups (SO_PEERGROUPS). Kernels before 4.13
 * lack SO_PEERGROUPS: then only the primary group counts. No logging and no
 * user-database lookups: ctl-server.c calls it on the loop and logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Fill *ret (malloc'ed) and *ret_n with the peer's supplementary groups;
 * -ENOPROTOOPT when the kernel cannot tell, else -errno. */
typedef int (*ctl_access_groups_fn)(void *userdata, gid_t **ret, size_t *ret_n);

/* 1 when a peer of uid and primary gid may connect, 0 when not, -errno when
 * its groups were needed and could not be read. own_uid: chuted's uid;
 * socket_gid: (gid_t)-1 for none. groups is called only when the answer
 * depends on the supplementary groups; when it says -ENOPROTOOPT the peer
 * is judged on its primary gid alone and *ret_primary_only is set. */
int ctl_access_allowed(uid_t own_uid, gid_t socket_gid, uid_t uid, gid_t gid, ctl_access_groups_fn groups,
                       void *userdata, bool *ret_primary_only);
/* A ctl_access_groups_fn for a connected UNIX socket: userdata points to
 * its fd; SO_PEERGROUPS. */
int ctl_access_peer_groups(void *userdata, gid_t **ret, size_t *ret_n);
