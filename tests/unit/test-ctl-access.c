/* SPDX-License-Identifier: MIT */
/* The control socket's access decision: root, chuted's uid, socket_group by
 * primary or supplementary group, the primary-gid fallback on kernels
 * without SO_PEERGROUPS, and a real SO_PEERGROUPS read on a socketpair. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl-access.h"

#define OWN 1000
#define GROUP 500

/* A fake groups source: answers error, or the list; counts calls. */
struct fake {
        int error;
        gid_t list[4];
        size_t n;
        int calls;
};

static int fake_groups(void *userdata, gid_t **ret, size_t *ret_n)
{
        struct fake *f = userdata;
        f->calls++;
        if (f->error)
                return f->error;
        *ret = malloc(sizeof(f->list));
        cr_assert_not_null(*ret);
        memcpy(*ret, f->list, sizeof(f->list));
        *ret_n = f->n;
        return 0;
}

Test(ctl_access, owners_and_primary_group_need_no_groups)
{
        struct fake f = { .error = -EIO };
        bool primary_only = false;

        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 0, 0, fake_groups, &f, &primary_only), 1, "root");
        cr_assert_eq(ctl_access_allowed(OWN, GROUP, OWN, 7, fake_groups, &f, &primary_only), 1, "own uid");
        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, GROUP, fake_groups, &f, &primary_only), 1, "primary");
        cr_assert_eq(ctl_access_allowed(OWN, (gid_t)-1, 2000, GROUP, fake_groups, &f, &primary_only), 0,
                     "no socket group: others are refused");
        cr_assert_eq(f.calls, 0, "the groups were never read");
        cr_assert(!primary_only);
}

Test(ctl_access, supplementary_groups)
{
        struct fake f = { .list = { 10, GROUP, 20 }, .n = 3 };

        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, 7, fake_groups, &f, NULL), 1);
        f.list[1] = 30;
        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, 7, fake_groups, &f, NULL), 0);
        cr_assert_eq(f.calls, 2);
}

/* Before 4.13 SO_PEERGROUPS fails with ENOPROTOOPT: a member by primary
 * group is served, others are refused (not an error), and the caller
 * learns it judged on the primary gid alone. */
Test(ctl_access, no_peergroups_falls_back_to_the_primary_gid)
{
        struct fake f = { .error = -ENOPROTOOPT };
        bool primary_only = false;

        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, GROUP, fake_groups, &f, &primary_only), 1);
        cr_assert(!primary_only, "the primary gid matched: groups not needed");
        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, 7, fake_groups, &f, &primary_only), 0);
        cr_assert(primary_only);
}

Test(ctl_access, other_errors_are_errors)
{
        struct fake f = { .error = -EIO };

        cr_assert_eq(ctl_access_allowed(OWN, GROUP, 2000, 7, fake_groups, &f, NULL), -EIO);
}

/* The real reader returns this process's groups on a socketpair. */
Test(ctl_access, peer_groups_of_a_socketpair)
{
        int sv[2];
        gid_t *list = NULL;
        size_t n = 0;
        gid_t mine[256];
        int n_mine = getgroups(256, mine);

        cr_assert_geq(n_mine, 0);
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        int k = ctl_access_peer_groups(&sv[0], &list, &n);
        cr_assert_eq(k, 0, "SO_PEERGROUPS: %s", strerror(-k));
        cr_assert_eq(n, (size_t)n_mine);
        for (size_t i = 0; i < n; i++) {
                bool found = false;
                for (int j = 0; j < n_mine && !found; j++)
                        found = list[i] == mine[j];
                cr_assert(found, "group %u", (unsigned)list[i]);
        }
        free(list);
        close(sv[0]);
        close(sv[1]);
}
