/* SPDX-License-Identifier: MIT */
/* TEMPORARY, deleted once TLS, CONN and HOST are merged: the replicator's
 * interface with no store running, so the tree builds meanwhile. The real
 * one is replicate.c (not built yet). */
#include "replicate.h"

#include <errno.h>
#include <stdlib.h>

#include "daemon.h"

struct replicate {
        struct daemon *d;
};

int replicate_start(struct daemon *d, struct replicate **ret)
{
        struct replicate *rep = calloc(1, sizeof(*rep));
        if (!rep)
                return -ENOMEM;
        rep->d = d;
        *ret = rep;
        return 0;
}

void replicate_stop(struct replicate *rep)
{
        free(rep);
}

void replicate_reload(struct daemon *d)
{
        (void)d;
}

void replicate_pack_committed(struct daemon *d, const struct oid *pack, uint64_t size)
{
        (void)d;
        (void)pack;
        (void)size;
}

int replicate_store_status(struct daemon *d, int64_t store_id, struct replicate_store_status *ret)
{
        (void)d;
        (void)store_id;
        (void)ret;
        return -ENOENT;
}

int replicate_verify_store(struct daemon *d, const char *name, replicate_verify_done_fn done,
                           void *userdata)
{
        (void)d;
        (void)name;
        (void)done;
        (void)userdata;
        return -ENOENT;
}
