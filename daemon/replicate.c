/* SPDX-License-Identifier: MIT */
/* The replicator (see replicate.h). Placeholder until the store runner and
 * the peer store are in: no store runs yet. */
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
