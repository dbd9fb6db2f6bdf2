/* SPDX-License-Identifier: MIT */
/* Seed generator for tests/fuzz/corpus: valid inputs for every binary-format
 * target, made by the real encoders (object codecs, ctl codec, record_seal,
 * pack_writer, compress) in the layouts of harness.h. Deterministic except
 * where the format itself is random (nonces, padding). Run by `make
 * fuzz-seeds`; hand-made edge cases sit beside its output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compress.h"
#include "ctl.h"
#include "frame.h"
#include "harness.h"
#include "object.h"
#include "peer.h"
#include "tombstone.h"

static const char *seeds_dir;

static void seeds_write(const char *target, const char *name, uint8_t prefix_len, const uint8_t *prefix,
                        const void *data, size_t len)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", seeds_dir, target);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                perror(path);
                exit(1);
        }
        snprintf(path, sizeof(path), "%s/%s/%s", seeds_dir, target, name);
        f = fopen(path, "wb");
        if (!f || fwrite(prefix, 1, prefix_len, f) != prefix_len ||
            (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
                perror(path);
                exit(1);
        }
}

static void seeds_check(int r, const char *what)
{
        if (r < 0) {
                fprintf(stderr, "make-seeds: %s: %s\n", what, strerror(-r));
                exit(1);
        }
}

static struct oid seeds_oid(uint8_t b)
{
        struct oid id;

        memset(id.bytes, b, OID_SIZE);
        return id;
}

static uint8_t *seeds_dup(const void *p, size_t n)
{
        uint8_t *s = malloc(n + 1);

        if (!s)
                exit(1);
        memcpy(s, p, n);
        s[n] = 0;
        return s;
}

static void seeds_entry(struct object_entry *e, const char *name, enum object_kind kind)
{
        *e = (struct object_entry){ .kind = kind, .mode = 0644, .uid = 1000, .gid = 100,
                                    .mtime_ns = 1700000000123456789, .ctime_ns = 1700000001000000000 };
        e->name_len = strlen(name);
        e->name = seeds_dup(name, e->name_len);
        if (kind == OBJECT_KIND_DIR) {
                e->subtree = seeds_oid(0xd1);
                e->mode = 0755;
        } else if (kind == OBJECT_KIND_SYMLINK) {
                e->target_len = 5;
                e->target = seeds_dup("../x\xff", 5);
        } else if (kind == OBJECT_KIND_CHARDEV) {
                e->rdev = 0x0801;
        }
}

static void seeds_object(const char *name, uint8_t kind, const uint8_t *buf, size_t len)
{
        char other[64];

        seeds_write("object", name, 1, &kind, buf, len);
        snprintf(other, sizeof(other), "object-%s", name);
        seeds_write("cbor-check", other, 0, NULL, buf, len);
}

static void seeds_tombstone(void)
{
        struct tombstone_entry e[2] = {
                { .id = seeds_oid(0x21), .time_ns = 1700000000000000000, .root = seeds_dup("/home/a", 7),
                  .root_len = 7 },
                { .id = seeds_oid(0x22), .time_ns = -5, .root = seeds_dup("/srv", 4), .root_len = 4 },
        };
        struct tombstone t = { .time_ns = 1700000000000000001, .hostname = "node-a", .entries = e,
                               .n_entries = 2 };
        uint8_t *buf;
        size_t len;

        seeds_check(tombstone_encode(&t, &buf, &len), "tombstone");
        seeds_write("tombstone", "two", 0, NULL, buf, len);
        seeds_write("cbor-check", "tombstone-two", 0, NULL, buf, len);
        free(buf);
        free(e[0].root);
        free(e[1].root);
}

static void seeds_objects(void)
{
        struct object_tree *t = object_tree_new();
        struct object_extent ext[3] = {
                { .id = seeds_oid(1), .length = 1048576 },
                { .hole = true, .length = 4096 },
                { .id = seeds_oid(2), .length = 7 },
        };
        struct object_list list = { .extents = ext, .n_extents = 3 };
        struct object_snapshot snap = {
                .time_ns = 1763700000000000000, .hostname = (char *) "nas.example",
                .root = (uint8_t *) "/home/alice", .root_len = 11, .tree = seeds_oid(0x77),
                .has_parent = true, .parent = seeds_oid(0x66),
                .stats = { 1, 2, 3, 4, 5, 6 },
        };
        char *tags[] = { (char *) "daily", (char *) "caf\xc3\xa9" };
        struct object_entry e;
        uint8_t *buf;
        size_t len;

        if (!t)
                exit(1);
        seeds_entry(&e, "dir", OBJECT_KIND_DIR);
        e.nlink = 3;
        seeds_check(object_tree_append(t, &e), "tree");
        seeds_entry(&e, "file", OBJECT_KIND_FILE);
        e.user = strdup("alice");
        e.group = strdup("staff");
        e.n_extents = 3;
        e.extents = malloc(sizeof(ext));
        memcpy(e.extents, ext, sizeof(ext));
        e.size = 1048576 + 4096 + 7;
        e.hardlink = 2;
        e.nlink = 2;
        e.n_xattrs = 1;
        e.xattrs = calloc(1, sizeof(*e.xattrs));
        e.xattrs[0].name = strdup("user.comment");
        e.xattrs[0].value = seeds_dup("hi", 2);
        e.xattrs[0].value_len = 2;
        seeds_check(object_tree_append(t, &e), "tree");
        seeds_entry(&e, "big", OBJECT_KIND_FILE);
        e.has_list = true;
        e.list = seeds_oid(0x11);
        e.size = UINT64_C(5) << 30;
        seeds_check(object_tree_append(t, &e), "tree");
        seeds_entry(&e, "link", OBJECT_KIND_SYMLINK);
        seeds_check(object_tree_append(t, &e), "tree");
        seeds_entry(&e, "tty", OBJECT_KIND_CHARDEV);
        seeds_check(object_tree_append(t, &e), "tree");
        seeds_entry(&e, "fifo", OBJECT_KIND_FIFO);
        seeds_check(object_tree_append(t, &e), "tree");
        object_tree_sort(t);
        seeds_check(object_tree_encode(t, &buf, &len), "tree encode");
        seeds_object("tree", 0, buf, len);
        free(buf);
        object_tree_free(t);

        t = object_tree_new();
        seeds_check(object_tree_encode(t, &buf, &len), "empty tree encode");
        seeds_object("tree-empty", 0, buf, len);
        free(buf);
        object_tree_free(t);

        seeds_check(object_list_encode(&list, &buf, &len), "list encode");
        seeds_object("list", 1, buf, len);
        free(buf);

        seeds_check(object_snapshot_encode(&snap, &buf, &len), "snapshot encode");
        seeds_object("snapshot", 2, buf, len);
        free(buf);
        snap.tags = tags;
        snap.n_tags = 2;
        snap.has_root_entry = true;
        seeds_entry(&snap.root_entry, "alice", OBJECT_KIND_DIR);
        snap.root_entry.subtree = snap.tree;
        seeds_check(object_snapshot_encode(&snap, &buf, &len), "snapshot encode");
        seeds_object("snapshot-tags-root", 2, buf, len);
        free(buf);
        object_entry_done(&snap.root_entry);
}

/* One message of each type, with every field it declares (sample values). */
static void seeds_ctl(void)
{
        static const uint8_t id[32] = { 0x42 };

        for (size_t i = 0; i < ctl_schema.n_types; i++) {
                const struct msg_type_def *td = &ctl_schema.types[i];
                struct msg *m = ctl_msg_new(td->number, 7);
                char other[64];
                uint8_t *frame;
                size_t len;

                if (!m)
                        exit(1);
                for (size_t f = 0; f < ctl_schema.n_fields; f++) {
                        const struct msg_field_def *fd = &ctl_schema.fields[f];
                        const struct msg_key_def *kd = msg_schema_key(&ctl_schema, fd->key);
                        struct msg_map body = msg_body(m), child;

                        if (fd->type != td->number || fd->presence == MSG_PRESENCE_REPLY || !kd)
                                continue;
                        switch (kd->type) {
                        case MSG_VALUE_UINT: msg_map_set_uint(&body, kd->number, 3); break;
                        case MSG_VALUE_INT: msg_map_set_int(&body, kd->number, -1700000000); break;
                        case MSG_VALUE_BOOL: msg_map_set_bool(&body, kd->number, true); break;
                        case MSG_VALUE_TEXT: msg_map_set_text(&body, kd->number, "latest"); break;
                        case MSG_VALUE_BYTES: msg_map_set_bytes(&body, kd->number, id, sizeof(id)); break;
                        case MSG_VALUE_ARRAY:
                                if (kd->element == MSG_VALUE_TEXT)
                                        msg_map_append_text(&body, kd->number, "*.tmp");
                                else if (kd->element == MSG_VALUE_MAP &&
                                         msg_map_append_map(&body, kd->number, &child) == 0)
                                        msg_map_set_uint(&child, CTL_KEY_SIZE, 9);
                                break;
                        default:
                                break;
                        }
                }
                seeds_check(ctl_msg_encode(m, &frame, &len), td->name);
                seeds_write("ctl", td->name, 0, NULL, frame + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE);
                snprintf(other, sizeof(other), "ctl-%s", td->name);
                seeds_write("cbor-check", other, 0, NULL, frame + FRAME_HEADER_SIZE,
                            len - FRAME_HEADER_SIZE);
                free(frame);
                ctl_msg_free(m);
        }
}

static void seeds_peer_write(struct msg *m, const char *name)
{
        uint8_t *frame;
        size_t len;

        seeds_check(msg_encode(m, &frame, &len), name);
        seeds_write("peer", name, 0, NULL, frame + FRAME_HEADER_SIZE, len - FRAME_HEADER_SIZE);
        free(frame);
        msg_free(m);
}

/* One peer request of each type with every field it declares (DATA, last in
 * peer.def's PUT, carries 100 bytes), and the replies that have structure:
 * a GET result with DATA, a LIST page of nested maps, HELLO's, an ERROR. */
static void seeds_peer(void)
{
        static const uint8_t id[32] = { 0x42 }, bytes[100] = { 0xda };
        struct msg_map body, child;
        struct msg *m;

        for (size_t i = 0; i < peer_schema.n_types; i++) {
                const struct msg_type_def *td = &peer_schema.types[i];

                if (td->kind != MSG_KIND_REQUEST)
                        continue;
                m = peer_msg_new(td->number, 7);
                if (!m)
                        exit(1);
                body = msg_body(m);
                for (size_t f = 0; f < peer_schema.n_fields; f++) {
                        const struct msg_field_def *fd = &peer_schema.fields[f];
                        const struct msg_key_def *kd = msg_schema_key(&peer_schema, fd->key);

                        if (fd->type != td->number || fd->presence == MSG_PRESENCE_REPLY || !kd)
                                continue;
                        switch (kd->type) {
                        case MSG_VALUE_UINT: msg_map_set_uint(&body, kd->number, 1); break;
                        case MSG_VALUE_INT: msg_map_set_int(&body, kd->number, 1700000000123456789); break;
                        case MSG_VALUE_BOOL: msg_map_set_bool(&body, kd->number, true); break;
                        case MSG_VALUE_TEXT: msg_map_set_text(&body, kd->number, "node-a"); break;
                        case MSG_VALUE_BYTES:
                                if (kd->number == PEER_KEY_DATA)
                                        msg_map_set_bytes(&body, kd->number, bytes, sizeof(bytes));
                                else
                                        msg_map_set_bytes(&body, kd->number, id, sizeof(id));
                                break;
                        case MSG_VALUE_ARRAY:
                                if (kd->element == MSG_VALUE_TEXT)
                                        msg_map_append_text(&body, kd->number, "undelete");
                                else if (kd->element == MSG_VALUE_BYTES)
                                        msg_map_append_bytes(&body, kd->number, id, sizeof(id));
                                break;
                        default:
                                break;
                        }
                }
                seeds_peer_write(m, td->name);
        }

        m = peer_msg_new(PEER_TYPE_RESULT, 8);
        body = msg_body(m);
        msg_map_set_bytes(&body, PEER_KEY_DATA, bytes, sizeof(bytes));
        seeds_peer_write(m, "result-get");

        m = peer_msg_new(PEER_TYPE_RESULT, 9);
        body = msg_body(m);
        for (int i = 0; i < 3; i++) {
                seeds_check(msg_map_append_map(&body, PEER_KEY_ENTRIES, &child), "entries");
                msg_map_set_bytes(&child, PEER_KEY_PACK, id, sizeof(id));
                msg_map_set_uint(&child, PEER_KEY_SIZE, 1000u << i);
                if (i == 1)
                        msg_map_set_int(&child, PEER_KEY_DELETED_AT, 1700000000000000000);
        }
        msg_map_set_bool(&body, PEER_KEY_MORE, true);
        seeds_peer_write(m, "result-list");

        m = peer_msg_new(PEER_TYPE_RESULT, 1);
        body = msg_body(m);
        msg_map_set_uint(&body, PEER_KEY_PROTOCOL_MAX, PEER_PROTOCOL_VERSION);
        msg_map_set_uint(&body, PEER_KEY_QUOTA, 1ull << 40);
        msg_map_set_uint(&body, PEER_KEY_USED, 123456789);
        msg_map_set_uint(&body, PEER_KEY_DELETE_DELAY, 30 * 86400);
        seeds_peer_write(m, "result-hello");

        seeds_peer_write(peer_msg_error(10, PEER_STATUS_QUOTA, "quota exceeded"), "error");
}

static void seeds_compress(void)
{
        static const char text[] = "chute chute chute: the same words again and again and again, "
                                   "and again and again and again and again and again and again.";
        uint8_t out[512], cap[2] = { 0, sizeof(text) };
        size_t len;

        if (compress_maybe(text, sizeof(text), 3, out, sizeof(out), &len) != 1)
                exit(1);
        seeds_write("compress", "frame", 2, cap, out, len);
        cap[1] = 16; /* the frame does not fit: -ENOBUFS */
        seeds_write("compress", "frame-too-big", 2, cap, out, len);
}

/* Records of harness_record_id(): sealed whole (raw mode) and as plaintext. */
static void seeds_records(uint8_t ret_records[][256], size_t ret_len[3])
{
        const struct keys *k = harness_keys();
        static const char text[] = "a record payload that compresses: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        static const struct { const char *name; enum crypto_cipher cipher; enum object_type type;
                              size_t len; int level; } r[] = {
                { "data", CRYPTO_CIPHER_AES256_GCM, OBJECT_DATA, 40, 0 },
                { "data-zstd", CRYPTO_CIPHER_CHACHA20_POLY1305, OBJECT_DATA, sizeof(text), 3 },
                { "tree-empty", CRYPTO_CIPHER_AES256_GCM, OBJECT_TREE, 0, 0 },
        };

        for (size_t i = 0; i < 3; i++) {
                uint8_t mode = r[i].cipher == CRYPTO_CIPHER_CHACHA20_POLY1305 ? 2 : 0, *plain;
                size_t len, plain_len;
                char name[64];

                seeds_check(record_seal(r[i].cipher, k->enc_key, harness_record_id(), r[i].type, text,
                                        r[i].len, r[i].level, ret_records[i], 256, &len), "record_seal");
                snprintf(name, sizeof(name), "raw-%s", r[i].name);
                seeds_write("record", name, 1, &mode, ret_records[i], len);
                seeds_check(harness_record_plain(ret_records[i], len, &plain, &plain_len), "open");
                mode |= 1;
                snprintf(name, sizeof(name), "plain-%s", r[i].name);
                seeds_write("record", name, 1, &mode, plain, plain_len);
                free(plain);
                ret_len[i] = len;
        }
}

/* A real pack of those records (raw mode) and its header plaintext. */
static void seeds_pack(uint8_t records[][256], const size_t len[3])
{
        const struct keys *k = harness_keys();
        struct pack_writer *w;
        uint8_t *pack, *plain, fields[HARNESS_PACK_FIELDS], mode = 0;
        uint64_t size, header_off;
        size_t plain_len;

        seeds_check(pack_writer_new(CRYPTO_CIPHER_AES256_GCM, k->pack_key, -1, &w), "pack_writer_new");
        for (size_t i = 0; i < 3; i++) {
                struct oid id = seeds_oid((uint8_t) (i + 1));

                seeds_check(pack_writer_add(w, &id, OBJECT_DATA, records[i], len[i]), "pack add");
        }
        seeds_check(pack_writer_seal(w, NULL, &size, &pack), "pack seal");
        pack_writer_free(w);
        seeds_write("pack", "raw-pack", 1, &mode, pack, size);
        seeds_check(harness_pack_header_plain(pack, size, &plain, &plain_len, &header_off), "header");
        fields[0] = 1;
        fields[1] = (uint8_t) (header_off >> 8);
        fields[2] = (uint8_t) header_off;
        memset(fields + 3, 0xff, 8); /* header where it really is */
        memset(fields + 11, 0, 4);
        seeds_write("pack", "header", sizeof(fields), fields, plain, plain_len);
        fields[0] = 3; /* ChaCha20-Poly1305, no entries */
        fields[1] = fields[2] = 0;
        seeds_write("pack", "header-empty", sizeof(fields), fields, (const uint8_t[4]){ 0 }, 4);
        free(plain);
        free(pack);
}

int main(int argc, char **argv)
{
        uint8_t records[3][256];
        size_t len[3];

        if (argc != 2) {
                fprintf(stderr, "usage: make-seeds CORPUS_DIR\n");
                return 2;
        }
        seeds_dir = argv[1];
        if (mkdir(seeds_dir, 0755) < 0 && errno != EEXIST) {
                perror(seeds_dir);
                return 1;
        }
        seeds_objects();
        seeds_tombstone();
        seeds_ctl();
        seeds_peer();
        seeds_compress();
        seeds_records(records, len);
        seeds_pack(records, len);
        return 0;
}
