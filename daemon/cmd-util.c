/* SPDX-License-Identifier: MIT */
/* Helpers for request handlers; see cmd-util.h. */
#include "cmd-util.h"

#include <event2/event.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "ctl.h"
#include "daemon.h"
#include "identity.h"
#include "parse.h"
#include "root.h"
#include "snaptree.h"

char *cmd_get_path(struct request *r, uint32_t key, bool required, int *ret_error)
{
        const uint8_t *p;
        size_t len;
        *ret_error = 0;
        int k = msg_map_get_bytes(&r->args, key, &p, &len);
        if (k == -ENOENT && !required)
                return NULL;
        if (k < 0 || len == 0 || memchr(p, '\0', len) || len > 4096) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "a path must be 1 to 4096 bytes without NUL");
                *ret_error = -EINVAL;
                return NULL;
        }
        char *s = strndup((const char *)p, len);
        if (!s) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                *ret_error = -ENOMEM;
        }
        return s;
}

int cmd_resolve_snapshot(struct request *r, const char *snap, const char *path,
                         struct index_snapshot *ret)
{
        struct daemon *d = r->daemon;
        int k;

        if (!strcmp(snap, "latest")) {
                struct root *root = NULL;
                if (path)
                        root = root_containing(d, path);
                else if (d->roots && !d->roots->next)
                        root = d->roots;
                if (!root && path) {
                        /* a root that is no longer watched (removed, or recovered
                         * from a store): find it by the snapshots' root paths */
                        k = index_snapshot_latest_containing(d->index, path, ret);
                        if (k >= 0)
                                return 0;
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not inside a watched path", path);
                        return -ENOENT;
                }
                if (!root && !d->roots) {
                        /* nothing watched (a recovered node): the newest snapshot */
                        k = index_snapshot_latest_containing(d->index, NULL, ret);
                        if (k == -ENOTUNIQ)
                                request_error(r, CTL_STATUS_AMBIGUOUS,
                                              "\"latest\" needs a path when snapshots of several paths exist "
                                              "(latest:PATH)");
                        else if (k == -ENOENT)
                                request_error(r, CTL_STATUS_NOT_FOUND, "there is no snapshot yet");
                        else if (k < 0)
                                request_error_errno(r, k, "cannot read snapshots");
                        return k;
                }
                if (!root) {
                        request_error(r, CTL_STATUS_AMBIGUOUS,
                                      "\"latest\" needs a path when several paths are watched (latest:PATH)");
                        return -EINVAL;
                }
                k = index_snapshot_latest(d->index, root->id, ret);
                if (k == -ENOENT)
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s has no snapshot yet", root->path);
                else if (k < 0)
                        request_error_errno(r, k, "cannot read snapshots");
                return k;
        }
        k = index_snapshot_find_prefix(d->index, snap, ret);
        if (k == -ENOENT)
                request_error(r, CTL_STATUS_NOT_FOUND, "no snapshot with id %s", snap);
        else if (k == -ENOTUNIQ)
                request_error(r, CTL_STATUS_AMBIGUOUS, "several snapshots start with %s: type more of the id", snap);
        else if (k == -EINVAL)
                request_error(r, CTL_STATUS_BAD_REQUEST, "\"%s\" is neither \"latest\" nor a snapshot id", snap);
        else if (k < 0)
                request_error_errno(r, k, "cannot read snapshots");
        return k;
}

int cmd_add_snapshot_item(struct request *r, struct msg_map *map, const struct index_snapshot *s)
{
        struct msg_map item;
        int k = msg_map_append_map(map, CTL_KEY_SNAPSHOTS, &item);
        if (k < 0)
                return k;
        return cmd_snapshot_item(r->daemon->index, &item, s);
}

int cmd_snapshot_item(struct index *idx, struct msg_map *map, const struct index_snapshot *s)
{
        struct msg_map item = *map;
        struct index_root ir;
        msg_map_set_bytes(&item, CTL_KEY_ID, s->id.bytes, OID_SIZE);
        msg_map_set_int(&item, CTL_KEY_TIME, s->time_ns);
        if (s->root_path && s->root_path[0])
                msg_map_set_bytes(&item, CTL_KEY_ROOT, s->root_path, strlen(s->root_path));
        else if (index_root_get(idx, s->root_id, &ir) >= 0) {
                msg_map_set_bytes(&item, CTL_KEY_ROOT, ir.path, strlen(ir.path));
                index_root_done(&ir);
        }
        msg_map_set_bytes(&item, CTL_KEY_TREE, s->tree.bytes, OID_SIZE);
        if (!oid_is_null(&s->parent))
                msg_map_set_bytes(&item, CTL_KEY_PARENT, s->parent.bytes, OID_SIZE);
        if (s->hostname)
                msg_map_set_text(&item, CTL_KEY_HOSTNAME, s->hostname);
        msg_map_set_uint(&item, CTL_KEY_FILES, s->files);
        msg_map_set_uint(&item, CTL_KEY_DIRS, s->dirs);
        msg_map_set_uint(&item, CTL_KEY_BYTES, s->bytes);
        msg_map_set_uint(&item, CTL_KEY_NEW_BYTES, s->new_bytes);
        msg_map_set_uint(&item, CTL_KEY_FILES_READ, s->files_read);
        msg_map_set_uint(&item, CTL_KEY_ERRORS, s->errors);
        return 0;
}

static int listing_push(struct cmd_listing *l, struct msg *m)
{
        if (!m)
                return -ENOMEM;
        struct msg **v = realloc(l->msgs, (l->n_msgs + 1) * sizeof(*v));
        if (!v) {
                msg_free(m);
                return -ENOMEM;
        }
        l->msgs = v;
        l->msgs[l->n_msgs++] = m;
        return 0;
}

int cmd_listing_item(struct cmd_listing *l, struct msg_map *ret_item)
{
        if (l->cur && l->in_cur >= CMD_LISTING_BATCH) {
                int k = listing_push(l, l->cur);
                l->cur = NULL;
                l->in_cur = 0;
                if (k < 0)
                        return k;
        }
        if (!l->cur) {
                l->cur = msg_new(&ctl_schema, CTL_TYPE_DATA, l->reqid);
                if (!l->cur)
                        return -ENOMEM;
        }
        struct msg_map b = msg_body(l->cur);
        int k = msg_map_append_map(&b, l->key ? l->key : CTL_KEY_ENTRIES, ret_item);
        if (k >= 0)
                l->in_cur++;
        return k;
}

int cmd_listing_finish(struct cmd_listing *l, struct request *r)
{
        if (l->cur) {
                int k = listing_push(l, l->cur);
                l->cur = NULL;
                if (k < 0)
                        return k;
        }
        return listing_push(l, request_result(r));
}

void cmd_listing_send(struct cmd_listing *l, struct request *r)
{
        for (size_t i = 0; i + 1 < l->n_msgs; i++)
                request_send(r, l->msgs[i]);
        if (l->n_msgs > 0)
                request_reply(r, l->msgs[l->n_msgs - 1]);
        free(l->msgs);
        l->msgs = NULL;
        l->n_msgs = 0;
}

void cmd_listing_flush(struct cmd_listing *l, struct request *r)
{
        for (size_t i = 0; i < l->n_msgs; i++)
                request_send(r, l->msgs[i]);
        free(l->msgs);
        l->msgs = NULL;
        l->n_msgs = 0;
        if (l->cur)
                request_send(r, TAKE_PTR(l->cur));
        l->in_cur = 0;
}

void cmd_listing_done(struct cmd_listing *l)
{
        for (size_t i = 0; i < l->n_msgs; i++)
                msg_free(l->msgs[i]);
        free(l->msgs);
        msg_free(l->cur);
        memset(l, 0, sizeof(*l));
}

int cmd_snapshot_path(struct request *r, const char *verb, bool path_required, struct index_snapshot *ret,
                      char **ret_relpath)
{
        struct daemon *d = r->daemon;
        _cleanup_free_ char *snap = NULL;
        struct index_snapshot s;
        struct index_root ir;
        int k;
        _cleanup_free_ char *path = cmd_get_path(r, CTL_KEY_PATH, path_required, &k);
        if (k < 0 || (path_required && !path))
                return k < 0 ? k : -EINVAL;
        if (msg_map_get_text_dup(&r->args, CTL_KEY_SNAPSHOT, &snap) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s needs a snapshot", verb);
                return -EINVAL;
        }
        k = cmd_resolve_snapshot(r, snap, path, &s);
        if (k < 0)
                return k;
        const char *rel = "";
        bool have_root = index_root_get(d->index, s.root_id, &ir) >= 0;
        const char *root_path = have_root ? ir.path : s.root_path && s.root_path[0] ? s.root_path : NULL;
        if (path) {
                rel = root_path ? snaptree_relpath(root_path, path) : NULL;
                if (!rel) {
                        request_error(r, CTL_STATUS_NOT_FOUND, "%s is not inside %s, the root of that snapshot", path,
                                      root_path ? root_path : "the root");
                        if (have_root)
                                index_root_done(&ir);
                        index_snapshot_done(&s);
                        return -ENOENT;
                }
        }
        char *copy = strdup(rel);
        if (have_root)
                index_root_done(&ir);
        if (!copy) {
                index_snapshot_done(&s);
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return -ENOMEM;
        }
        *ret = s;
        *ret_relpath = copy;
        return 0;
}

int cmd_get_node_id(struct request *r, uint8_t ret[32])
{
        _cleanup_free_ char *node = NULL;
        int k = msg_map_get_text_dup(&r->args, CTL_KEY_NODE, &node);

        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "a node id is needed (chutectl id on that node shows it)");
                return -EINVAL;
        }
        if (strlen(node) > 256 || identity_parse_id(node, ret) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "\"%.80s\" is not a node id (52 base32 characters, as chutectl id shows it)", node);
                return -EINVAL;
        }
        return 0;
}

char *cmd_get_text(struct request *r, uint32_t key, const char *what, size_t max, bool required,
                   int *ret_error)
{
        char *s = NULL;
        int k = msg_map_get_text_dup(&r->args, key, &s);

        *ret_error = 0;
        if (k == -ENOENT && !required)
                return NULL;
        if (k < 0 || !*s || strlen(s) > max) {
                free(s);
                request_error(r, CTL_STATUS_BAD_REQUEST, "%s must be 1 to %zu bytes", what, max);
                *ret_error = -EINVAL;
                return NULL;
        }
        return s;
}

bool cmd_peer_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 64 || name[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
                        return false;
        return true;
}

bool cmd_peer_address_valid(const char *address)
{
        const char *colon = strrchr(address, ':'), *host_end = colon;
        char *end;
        unsigned long port;

        if (!colon || strlen(address) > 255)
                return false;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || colon[1] == '\0' || !isdigit((unsigned char)colon[1]) || port == 0 || port > 65535)
                return false;
        if (address[0] == '[') {
                /* [IPv6]:PORT */
                if (host_end - address < 3 || host_end[-1] != ']')
                        return false;
                for (const char *p = address + 1; p < host_end - 1; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                                return false;
                return true;
        }
        if (host_end == address)
                return false;
        for (const char *p = address; p < host_end; p++)
                if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
                        return false;
        return true;
}

int cmd_refuse_losing_packs(struct request *r, int64_t store_id, const char *name)
{
        char size[FORMAT_SIZE_MAX];
        uint64_t packs = 0, bytes = 0;
        bool force = false;
        int k;

        (void)msg_map_get_bool(&r->args, CTL_KEY_FORCE, &force); /* absent: false */
        if (force)
                return 0;
        /* a pass may have deleted files whose rows still say "local": the
         * count below would miss them */
        if (cache_evicting(r->daemon->cache)) {
                request_error(r, CTL_STATUS_BUSY, "the local cache is evicting packs or checking its files right now; "
                                                  "try again in a moment");
                return -EBUSY;
        }
        k = index_cache_only_on(r->daemon->index, store_id, &packs, &bytes);
        if (k < 0) {
                request_error_errno(r, k, "cannot read which packs only %s holds", name);
                return k;
        }
        if (packs == 0)
                return 0;
        request_error(r, CTL_STATUS_FAILED,
                      "%" PRIu64 " packs (%s) were evicted here (local_copy = cache) and only %s holds them: "
                      "removing it would lose that data; add another store and let them reach it first, "
                      "or remove it with --force",
                      packs, format_size(bytes, size), name);
        return -EBUSY;
}

struct event *cmd_progress_timer(struct daemon *d, void (*cb)(evutil_socket_t, short, void *), void *arg)
{
        struct timeval tv = { 0, 250000 };
        struct event *ev = event_new(d->base, -1, EV_PERSIST, cb, arg);

        if (ev && event_add(ev, &tv) < 0) {
                event_free(ev);
                ev = NULL;
        }
        return ev;
}
