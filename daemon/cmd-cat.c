/* SPDX-License-Identifier: MIT */
/* cat: stream a file of a snapshot (from OFFSET when given, without reading
 * what comes before) as DATA messages, then a RESULT with its size. A
 * worker reads and verifies a few extents at a time; the next batch is read
 * only when the client has taken most of the previous one, so a slow or
 * vanished client never makes the daemon buffer the whole file. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cmd-util.h"
#include "crypto.h"
#include "commands.h"
#include "ctl.h"
#include "daemon.h"
#include "index.h"
#include "repo.h"
#include "snaptree.h"
#include "workers.h"

/* DATA payload per message (frames are capped at 1 MiB). */
#define CAT_PIECE (512u * 1024)
/* Read the next batch when less than this waits for the client. */
#define CAT_LOW_WATER (1u << 20)
/* Bytes per batch. */
#define CAT_BATCH (4u << 20)

struct cat_job {
        struct request *r;
        struct oid tree;
        char *relpath;
        bool resolved;
        struct object_tree *t;          /* holds the entry */
        struct object_entry *e;
        struct object_list *list;
        const struct object_extent *ext;
        size_t n_ext, next_ext;
        uint64_t offset;                /* position of the next byte to send */
        uint64_t skip;                  /* the request's OFFSET: start there */
        uint64_t trim;                  /* bytes of the next extent before skip */
        bool first_sent;                /* the first DATA (with SIZE, CONTENT) went */
        uint8_t content[CRYPTO_SHA256_SIZE]; /* the content id: SHA-256 of the extent list */
        int error;
        struct msg **out;               /* DATA messages of this batch */
        size_t n_out;
        bool busy;                      /* a batch is on the workers */
};

static void cat_free(struct cat_job *j)
{
        for (size_t i = 0; i < j->n_out; i++)
                msg_free(j->out[i]);
        free(j->out);
        object_list_free(j->list);
        object_tree_free(j->t);
        free(j->relpath);
        free(j);
}

static int cat_emit(struct cat_job *j, const uint8_t *p, size_t len)
{
        while (len > 0) {
                size_t n = MIN(len, (size_t)CAT_PIECE);
                struct msg *m = msg_new(&ctl_schema, CTL_TYPE_DATA, j->r->reqid);
                if (!m)
                        return -ENOMEM;
                struct msg_map b = msg_body(m);
                msg_map_set_uint(&b, CTL_KEY_OFFSET, j->offset);
                if (!j->first_sent) { /* the first says what follows (HTTP headers) */
                        j->first_sent = true;
                        msg_map_set_uint(&b, CTL_KEY_SIZE, j->e->size);
                        msg_map_set_bytes(&b, CTL_KEY_CONTENT, j->content, sizeof(j->content));
                }
                if (msg_map_set_bytes(&b, CTL_KEY_DATA, p, n) < 0) {
                        msg_free(m);
                        return -ENOMEM;
                }
                struct msg **v = realloc(j->out, (j->n_out + 1) * sizeof(*v));
                if (!v) {
                        msg_free(m);
                        return -ENOMEM;
                }
                j->out = v;
                j->out[j->n_out++] = m;
                j->offset += n;
                p += n;
                len -= n;
        }
        return 0;
}

/* Same content, same chunks: the extent list names the content. */
static int cat_content_id(struct cat_job *j)
{
        struct crypto_sha256 *h = NULL;
        int k = crypto_sha256_new(&h);
        for (size_t i = 0; k >= 0 && i < j->n_ext; i++) {
                uint8_t len[8];
                for (int b = 0; b < 8; b++)
                        len[b] = (uint8_t)(j->ext[i].length >> (56 - 8 * b));
                k = crypto_sha256_update(h, j->ext[i].id.bytes, sizeof(j->ext[i].id.bytes));
                if (k >= 0)
                        k = crypto_sha256_update(h, len, sizeof(len));
        }
        if (k >= 0)
                return crypto_sha256_final(h, j->content);
        crypto_sha256_free(h);
        return k;
}

static void cat_work(void *userdata)
{
        struct cat_job *j = userdata;
        struct repo *repo = j->r->daemon->repo;
        int k = 0;

        if (!j->resolved) {
                k = snaptree_resolve(repo, &j->tree, j->relpath, &j->t, &j->e);
                if (k >= 0 && (!j->e || j->e->kind != OBJECT_KIND_FILE))
                        k = -EISDIR;
                if (k >= 0)
                        k = snaptree_extents(repo, j->e, &j->ext, &j->n_ext, &j->list);
                if (k >= 0)
                        k = cat_content_id(j);
                if (k < 0) {
                        j->error = k;
                        return;
                }
                j->resolved = true;
                /* OFFSET: skip the extents before it, without reading them */
                uint64_t pos = 0;
                while (j->next_ext < j->n_ext && pos + j->ext[j->next_ext].length <= j->skip)
                        pos += j->ext[j->next_ext++].length;
                j->trim = j->next_ext < j->n_ext ? j->skip - pos : 0;
                j->offset = pos + j->trim;
        }
        static const uint8_t zeros[64 * 1024];
        uint64_t batch = 0;
        /* gone: set on the loop; a stale read only costs one more batch */
        while (j->next_ext < j->n_ext && batch < CAT_BATCH && !__atomic_load_n(&j->r->gone, __ATOMIC_RELAXED)) {
                const struct object_extent *x = &j->ext[j->next_ext];
                uint64_t trim = j->trim;
                if (x->hole) {
                        /* a hole may be as long as the file (a sparse disk image):
                         * a batch's worth of it at a time, never all at once */
                        uint64_t left = x->length - trim, take = MIN(left, CAT_BATCH - batch);
                        for (uint64_t done = 0; done < take && k >= 0;) {
                                size_t n = (size_t)MIN(take - done, (uint64_t)sizeof(zeros));
                                k = cat_emit(j, zeros, n);
                                done += n;
                        }
                        if (k < 0) {
                                j->error = k;
                                return;
                        }
                        batch += take;
                        if (take < left) {
                                j->trim = trim + take; /* the rest of this hole next time */
                                break;
                        }
                } else {
                        _cleanup_free_ uint8_t *buf = NULL;
                        size_t len;
                        k = repo_get(repo, &x->id, OBJECT_DATA, (size_t)x->length, &buf, &len);
                        if (k >= 0 && len != x->length)
                                k = -EBADMSG;
                        if (k >= 0)
                                k = cat_emit(j, buf + trim, len - (size_t)trim);
                        if (k < 0) {
                                j->error = k;
                                return;
                        }
                        batch += x->length;
                }
                j->trim = 0;
                j->next_ext++;
        }
}

static void cat_next(struct cat_job *j);

static void cat_done(void *userdata)
{
        struct cat_job *j = userdata;
        struct request *r = j->r;
        j->busy = false;
        if (r->gone) {
                r->on_writable = NULL;
                r->on_gone = NULL;
                r->state = NULL;
                request_unref(r);
                cat_free(j);
                return;
        }
        if (j->error) {
                if (j->error == -ENOENT && !j->resolved)
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not in that snapshot", j->relpath);
                else if (j->error == -EISDIR)
                        request_error(r, CTL_STATUS_BAD_REQUEST, "%s is not a regular file in that snapshot",
                                      *j->relpath ? j->relpath : "the root");
                else if (j->error == -ENOTDIR)
                        request_error(r, CTL_STATUS_NOT_FOUND, "a component of %s is not a directory", j->relpath);
                else
                        request_error_errno(r, j->error, "cannot read %s from the snapshot", j->relpath);
                r->on_writable = NULL;
                r->on_gone = NULL;
                r->state = NULL;
                request_unref(r);
                cat_free(j);
                return;
        }
        for (size_t i = 0; i < j->n_out; i++)
                request_send(r, j->out[i]);
        j->n_out = 0;
        if (j->next_ext >= j->n_ext) {
                struct msg *m = request_result(r);
                if (m) {
                        struct msg_map b = msg_body(m);
                        msg_map_set_uint(&b, CTL_KEY_SIZE, j->offset);
                        msg_map_set_bytes(&b, CTL_KEY_CONTENT, j->content, sizeof(j->content));
                }
                request_reply(r, m);
                r->on_writable = NULL;
                r->on_gone = NULL;
                r->state = NULL;
                request_unref(r);
                cat_free(j);
                return;
        }
        cat_next(j);
}

static void cat_next(struct cat_job *j)
{
        if (j->busy || request_pending(j->r) > CAT_LOW_WATER)
                return; /* on_writable calls again */
        j->busy = true;
        if (workers_submit(j->r->daemon->workers, cat_work, cat_done, j) < 0) {
                j->error = -ENOMEM;
                cat_done(j);
        }
}

static void cat_writable(struct request *r)
{
        if (r->state)
                cat_next(r->state);
}

/* The client left while we waited for it to drain: nothing is on the
 * workers, so end here (a busy job ends in cat_done instead). */
static void cat_gone(struct request *r)
{
        struct cat_job *j = r->state;
        if (!j || j->busy)
                return;
        r->state = NULL;
        cat_free(j);
        request_unref(r);
}

void cmd_cat(struct request *r)
{
        struct index_snapshot s;
        char *rel;
        if (cmd_snapshot_path(r, "cat", true, &s, &rel) < 0)
                return;
        struct cat_job *j = calloc(1, sizeof(*j));
        if (!j) {
                free(rel);
                index_snapshot_done(&s);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return;
        }
        j->relpath = rel;
        j->tree = s.tree;
        msg_map_get_uint(&r->args, CTL_KEY_OFFSET, &j->skip); /* absent: 0 */
        index_snapshot_done(&s);
        j->r = request_ref(r);
        r->state = j;
        r->on_writable = cat_writable;
        r->on_gone = cat_gone;
        cat_next(j);
}
