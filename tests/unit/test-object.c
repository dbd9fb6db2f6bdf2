/* SPDX-License-Identifier: MIT */
/* Tests for common/object*.c: tree, list and snapshot round trips with every
 * kind and field, every malformed case the decoder must refuse, 100,000-entry
 * trees, and 10,000 garbage/mutated inputs under a 64 MiB allocation cap. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc-limit.h"
#include "object.h"

static struct oid mkoid(uint8_t b)
{
        struct oid id;

        memset(id.bytes, b, OID_SIZE);
        return id;
}

static uint8_t *dupmem(const void *p, size_t n)
{
        uint8_t *s = malloc(n + 1);

        cr_assert_not_null(s);
        memcpy(s, p, n);
        s[n] = 0;
        return s;
}

static void set_name(struct object_entry *e, const char *name)
{
        e->name_len = strlen(name);
        e->name = dupmem(name, e->name_len);
}

static void base_entry(struct object_entry *e, const char *name, enum object_kind kind)
{
        memset(e, 0, sizeof(*e));
        set_name(e, name);
        e->kind = kind;
        e->mode = 0644;
        e->uid = 1000;
        e->gid = 100;
        e->mtime_ns = 1700000000123456789;
        e->ctime_ns = 1700000001000000000;
        switch (kind) {
        case OBJECT_KIND_DIR:
                e->subtree = mkoid(0xd1);
                e->mode = 0755;
                break;
        case OBJECT_KIND_SYMLINK:
                e->target_len = 6;
                e->target = dupmem("../x\xff" "y", 6);
                break;
        case OBJECT_KIND_CHARDEV:
        case OBJECT_KIND_BLOCKDEV:
                e->rdev = 0x0801;
                break;
        default:
                break;
        }
}

/* One entry of every kind and every optional field. */
static struct object_tree *full_tree(void)
{
        struct object_tree *t = object_tree_new();
        struct object_entry e;

        cr_assert_not_null(t);
        base_entry(&e, "dir", OBJECT_KIND_DIR);
        e.mode = 01777; /* sticky */
        e.nlink = 3;
        cr_assert_eq(object_tree_append(t, &e), 0);

        base_entry(&e, "sparse\xc3\x28", OBJECT_KIND_FILE); /* not UTF-8 */
        e.mode = 06755; /* setuid, setgid */
        e.user = strdup("alice");
        e.group = strdup("staff");
        e.mtime_ns = -5; /* before 1970 */
        e.ctime_ns = INT64_MIN;
        e.n_extents = 3;
        e.extents = calloc(3, sizeof(*e.extents));
        e.extents[0] = (struct object_extent){ .id = mkoid(1), .length = 1048576 };
        e.extents[1] = (struct object_extent){ .hole = true, .length = UINT64_C(1) << 40 };
        e.extents[2] = (struct object_extent){ .id = mkoid(2), .length = 7 };
        e.size = 1048576 + (UINT64_C(1) << 40) + 7;
        e.hardlink = 42;
        e.nlink = 2;
        e.n_xattrs = 2;
        e.xattrs = calloc(2, sizeof(*e.xattrs));
        e.xattrs[0].name = strdup("security.selinux");
        e.xattrs[0].value = dupmem("ctx\0bin", 7);
        e.xattrs[0].value_len = 7;
        e.xattrs[1].name = strdup("user.empty");
        e.xattrs[1].value_len = 0;
        cr_assert_eq(object_tree_append(t, &e), 0);

        base_entry(&e, "big", OBJECT_KIND_FILE);
        e.has_list = true;
        e.list = mkoid(0x11);
        e.size = UINT64_C(5) << 30;
        cr_assert_eq(object_tree_append(t, &e), 0);

        base_entry(&e, "empty", OBJECT_KIND_FILE);
        cr_assert_eq(object_tree_append(t, &e), 0);
        base_entry(&e, "link", OBJECT_KIND_SYMLINK);
        e.mode = 0777;
        cr_assert_eq(object_tree_append(t, &e), 0);
        base_entry(&e, "fifo", OBJECT_KIND_FIFO);
        cr_assert_eq(object_tree_append(t, &e), 0);
        base_entry(&e, "tty", OBJECT_KIND_CHARDEV);
        e.uid = UINT32_MAX;
        cr_assert_eq(object_tree_append(t, &e), 0);
        base_entry(&e, "sda", OBJECT_KIND_BLOCKDEV);
        e.rdev = 0;
        cr_assert_eq(object_tree_append(t, &e), 0);
        base_entry(&e, "sock", OBJECT_KIND_SOCKET);
        cr_assert_eq(object_tree_append(t, &e), 0);
        object_tree_sort(t);
        return t;
}

static void assert_entry_eq(const struct object_entry *a, const struct object_entry *b)
{
        cr_assert_eq(a->name_len, b->name_len);
        cr_assert_eq(memcmp(a->name, b->name, a->name_len), 0);
        cr_assert_eq(b->name[b->name_len], 0);
        cr_assert_eq(a->kind, b->kind);
        cr_assert_eq(a->mode, b->mode);
        cr_assert_eq(a->uid, b->uid);
        cr_assert_eq(a->gid, b->gid);
        cr_assert_eq(!a->user, !b->user);
        if (a->user)
                cr_assert_str_eq(a->user, b->user);
        cr_assert_eq(!a->group, !b->group);
        if (a->group)
                cr_assert_str_eq(a->group, b->group);
        cr_assert_eq(a->mtime_ns, b->mtime_ns);
        cr_assert_eq(a->ctime_ns, b->ctime_ns);
        cr_assert_eq(a->size, b->size);
        cr_assert_eq(a->rdev, b->rdev);
        cr_assert_eq(a->nlink, b->nlink);
        cr_assert_eq(a->hardlink, b->hardlink);
        cr_assert_eq(a->n_xattrs, b->n_xattrs);
        for (size_t i = 0; i < a->n_xattrs; i++) {
                cr_assert_str_eq(a->xattrs[i].name, b->xattrs[i].name);
                cr_assert_eq(a->xattrs[i].value_len, b->xattrs[i].value_len);
                if (a->xattrs[i].value_len)
                        cr_assert_eq(memcmp(a->xattrs[i].value, b->xattrs[i].value,
                                            a->xattrs[i].value_len), 0);
        }
        cr_assert_eq(a->target_len, b->target_len);
        if (a->target_len)
                cr_assert_eq(memcmp(a->target, b->target, a->target_len), 0);
        cr_assert_eq(a->n_extents, b->n_extents);
        for (size_t i = 0; i < a->n_extents; i++) {
                cr_assert_eq(a->extents[i].hole, b->extents[i].hole);
                cr_assert_eq(a->extents[i].length, b->extents[i].length);
                cr_assert_eq(oid_cmp(&a->extents[i].id, &b->extents[i].id), 0);
        }
        cr_assert_eq(a->has_list, b->has_list);
        cr_assert_eq(oid_cmp(&a->list, &b->list), 0);
        cr_assert_eq(oid_cmp(&a->subtree, &b->subtree), 0);
}

Test(object, tree_round_trip_every_kind_and_field)
{
        struct object_tree *t = full_tree(), *d = NULL;
        uint8_t *buf = NULL, *buf2 = NULL;
        size_t len, len2;
        bool kinds[8] = {};

        cr_assert_eq(object_tree_encode(t, &buf, &len), 0);
        cr_assert_eq(object_tree_decode(buf, len, &d), 0);
        cr_assert_eq(d->n_entries, t->n_entries);
        for (size_t i = 0; i < t->n_entries; i++) {
                assert_entry_eq(&t->entries[i], &d->entries[i]);
                kinds[t->entries[i].kind] = true;
        }
        for (int k = OBJECT_KIND_FILE; k <= OBJECT_KIND_SOCKET; k++)
                cr_assert(kinds[k], "kind %s not covered", object_kind_name(k));
        /* deterministic: decoding and re-encoding gives the same bytes */
        cr_assert_eq(object_tree_encode(d, &buf2, &len2), 0);
        cr_assert_eq(len, len2);
        cr_assert_eq(memcmp(buf, buf2, len), 0);
        free(buf);
        free(buf2);
        object_tree_free(t);
        object_tree_free(d);

        /* the empty tree */
        t = object_tree_new();
        cr_assert_eq(object_tree_encode(t, &buf, &len), 0);
        cr_assert_eq(len, 1);
        cr_assert_eq(object_tree_decode(buf, len, &d), 0);
        cr_assert_eq(d->n_entries, 0);
        free(buf);
        object_tree_free(t);
        object_tree_free(d);
}

Test(object, names_order)
{
        cr_assert_lt(object_name_cmp((const uint8_t *)"a", 1, (const uint8_t *)"ab", 2), 0);
        cr_assert_lt(object_name_cmp((const uint8_t *)"ab", 2, (const uint8_t *)"b", 1), 0);
        cr_assert_lt(object_name_cmp((const uint8_t *)"z", 1, (const uint8_t *)"\xff", 1), 0);
        cr_assert_eq(object_name_cmp((const uint8_t *)"ab", 2, (const uint8_t *)"ab", 2), 0);
        cr_assert(object_name_valid((const uint8_t *)"...", 3));
        cr_assert(object_name_valid((const uint8_t *)".x", 2));
        cr_assert_not(object_name_valid((const uint8_t *)"", 0));
        cr_assert_not(object_name_valid((const uint8_t *)".", 1));
        cr_assert_not(object_name_valid((const uint8_t *)"..", 2));
        cr_assert_not(object_name_valid((const uint8_t *)"a/b", 3));
        cr_assert_not(object_name_valid((const uint8_t *)"a\0b", 3));
}

static int encode_one(struct object_entry *e)
{
        struct object_tree t = { .entries = e, .n_entries = 1 };
        uint8_t *buf = NULL;
        size_t len;
        int r = object_tree_encode(&t, &buf, &len);

        free(buf);
        object_entry_done(e);
        return r;
}

Test(object, encoder_rejects_invalid)
{
        static const char *const bad[] = { "", ".", "..", "a/b", "/" };
        struct object_entry e, two[2];
        struct object_tree t = { .entries = two, .n_entries = 2 };
        uint8_t *buf = NULL;
        size_t len;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                base_entry(&e, bad[i], OBJECT_KIND_FIFO);
                cr_assert_eq(encode_one(&e), -EINVAL, "name '%s'", bad[i]);
        }
        base_entry(&e, "x", OBJECT_KIND_FIFO);
        e.name_len = 3;
        free(e.name);
        e.name = dupmem("a\0b", 3);
        cr_assert_eq(encode_one(&e), -EINVAL);
        base_entry(&e, "d", OBJECT_KIND_DIR);
        e.subtree = mkoid(0);
        cr_assert_eq(encode_one(&e), -EINVAL, "dir without subtree");
        base_entry(&e, "l", OBJECT_KIND_SYMLINK);
        free(e.target);
        e.target = NULL;
        e.target_len = 0;
        cr_assert_eq(encode_one(&e), -EINVAL, "symlink without target");
        base_entry(&e, "f", OBJECT_KIND_FILE);
        e.size = 5;
        cr_assert_eq(encode_one(&e), -EINVAL, "size without content");
        base_entry(&e, "f", OBJECT_KIND_FILE);
        e.n_extents = OBJECT_INLINE_EXTENTS_MAX + 1;
        e.extents = calloc(e.n_extents, sizeof(*e.extents));
        for (size_t i = 0; i < e.n_extents; i++)
                e.extents[i] = (struct object_extent){ .id = mkoid(3), .length = 1 };
        e.size = e.n_extents;
        cr_assert_eq(encode_one(&e), -EINVAL, "too many inline extents");
        base_entry(&e, "f", OBJECT_KIND_FIFO);
        e.mode = 010644;
        cr_assert_eq(encode_one(&e), -EINVAL, "type bits in mode");
        base_entry(&e, "f", OBJECT_KIND_FIFO);
        e.rdev = 1;
        cr_assert_eq(encode_one(&e), -EINVAL, "rdev on a fifo");

        /* duplicate and unsorted names: the encoder does not sort */
        base_entry(&two[0], "a", OBJECT_KIND_FIFO);
        base_entry(&two[1], "a", OBJECT_KIND_FIFO);
        cr_assert_eq(object_tree_encode(&t, &buf, &len), -EINVAL);
        object_entry_done(&two[1]);
        base_entry(&two[1], "B", OBJECT_KIND_FIFO);
        cr_assert_eq(object_tree_encode(&t, &buf, &len), -EINVAL);
        object_tree_sort(&t);
        cr_assert_eq(object_tree_encode(&t, &buf, &len), 0);
        free(buf);
        object_entry_done(&two[0]);
        object_entry_done(&two[1]);
}

/* ---- a tiny raw CBOR writer for hand-made malformed inputs ---- */

struct raw {
        uint8_t b[8192];
        size_t n;
};

static void rh(struct raw *r, int major, uint64_t v)
{
        if (v < 24) {
                r->b[r->n++] = (uint8_t)(major << 5 | v);
        } else if (v <= 0xff) {
                r->b[r->n++] = (uint8_t)(major << 5 | 24);
                r->b[r->n++] = (uint8_t)v;
        } else {
                r->b[r->n++] = (uint8_t)(major << 5 | 27);
                for (int i = 7; i >= 0; i--)
                        r->b[r->n++] = (uint8_t)(v >> (8 * i));
        }
}

static void rs(struct raw *r, int major, const void *p, size_t n)
{
        rh(r, major, n);
        memcpy(r->b + r->n, p, n);
        r->n += n;
}

static void rid(struct raw *r, uint8_t b, size_t n)
{
        uint8_t id[64];

        memset(id, b, sizeof(id));
        rs(r, 2, id, n);
}

/* Field selection for a raw entry: bit k set = emit key k in the base form. */
enum {
        F_BASE = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8),
};

struct raw_entry {
        const char *name;
        size_t name_len;
        uint64_t kind;
        unsigned keys;   /* which of keys 0..17 to emit */
        int variant;     /* a deliberate defect, see raw_put_entry */
};

enum {
        V_NONE,
        V_NAME_TEXT,
        V_KIND_TEXT,
        V_MODE_NEG,
        V_MODE_BIG,
        V_UID_BIG,
        V_MTIME_BYTES,
        V_SUBTREE_SHORT,
        V_KEY_SWAP,
        V_KEY_DUP,
        V_USER_TEXT,
        V_CONTENT_SUM,
        V_CONTENT_EMPTY,
        V_EXTENT_ZERO,
        V_EXTENT_ID31,
        V_EXTENT_TRIPLE,
        V_XATTR_DUP,
        V_XATTR_UNSORTED,
        V_UNKNOWN_KEY, /* valid: an unknown key is skipped */
        V_STRING_KEY,
};

static void raw_put_entry(struct raw *r, const struct raw_entry *e)
{
        unsigned keys = e->keys;
        size_t name_len = e->name_len ? e->name_len : strlen(e->name);
        int pairs = __builtin_popcount(keys) + (e->variant == V_KEY_DUP) +
                    (e->variant == V_UNKNOWN_KEY) + (e->variant == V_STRING_KEY);

        rh(r, 5, (uint64_t)pairs);
        if (e->variant == V_STRING_KEY)
                rs(r, 3, "k", 1), rh(r, 0, 1);
        for (int k = 0; k <= 17; k++) {
                if (!(keys & (1u << k)))
                        continue;
                if (e->variant == V_KEY_SWAP && k == 3) {
                        rh(r, 0, 4), rh(r, 0, 100), rh(r, 0, 3), rh(r, 0, 1000);
                        k = 4;
                        continue;
                }
                rh(r, 0, (uint64_t)k);
                switch (k) {
                case 0:
                        rs(r, e->variant == V_NAME_TEXT ? 3 : 2, e->name, name_len);
                        break;
                case 1:
                        if (e->variant == V_KIND_TEXT)
                                rs(r, 3, "file", 4);
                        else
                                rh(r, 0, e->kind);
                        break;
                case 2:
                        if (e->variant == V_MODE_NEG)
                                rh(r, 1, 0);
                        else
                                rh(r, 0, e->variant == V_MODE_BIG ? 010000 : 0644);
                        break;
                case 3:
                        rh(r, 0, e->variant == V_UID_BIG ? UINT64_C(1) << 32 : 1000);
                        break;
                case 4:
                        rh(r, 0, 100);
                        break;
                case 5:
                        rs(r, e->variant == V_USER_TEXT ? 3 : 2, "bob", 3);
                        break;
                case 7:
                        if (e->variant == V_MTIME_BYTES)
                                rs(r, 2, "t", 1);
                        else
                                rh(r, 1, 99);
                        break;
                case 8:
                        rh(r, 0, 5);
                        break;
                case 9:
                        rh(r, 0, 10);
                        break;
                case 10:
                        rh(r, 0, 7);
                        break;
                case 11:
                        rh(r, 4, 2);
                        rh(r, 4, 2);
                        rs(r, 2, e->variant == V_XATTR_UNSORTED ? "user.b" : "user.a", 6);
                        rs(r, 2, "v", 1);
                        rh(r, 4, 2);
                        rs(r, 2, e->variant == V_XATTR_DUP ? "user.a" : "user.b", 6);
                        rs(r, 2, "", 0);
                        break;
                case 12:
                        rs(r, 2, "target", 6);
                        break;
                case 15:
                        if (e->variant == V_CONTENT_EMPTY) {
                                rh(r, 4, 0);
                                break;
                        }
                        rh(r, 4, 2);
                        rh(r, 4, e->variant == V_EXTENT_TRIPLE ? 3 : 2);
                        rid(r, 0x33, e->variant == V_EXTENT_ID31 ? 31 : 32);
                        rh(r, 0, e->variant == V_EXTENT_ZERO ? 0 : 4);
                        if (e->variant == V_EXTENT_TRIPLE)
                                rh(r, 0, 0);
                        rh(r, 4, 2);
                        rs(r, 2, "", 0);
                        rh(r, 0, e->variant == V_CONTENT_SUM ? 5 : 6);
                        break;
                case 16:
                case 17:
                        rid(r, 0x44, e->variant == V_SUBTREE_SHORT ? 31 : 32);
                        break;
                default:
                        rh(r, 0, 1);
                        break;
                }
                if (e->variant == V_KEY_DUP && k == 2)
                        rh(r, 0, 2), rh(r, 0, 0600);
        }
        if (e->variant == V_UNKNOWN_KEY) {
                rh(r, 0, 200);
                rh(r, 5, 1), rh(r, 0, 1), rh(r, 4, 2), rs(r, 3, "new", 3), rh(r, 1, 7);
        }
}

static int decode_entries(const struct raw_entry *e, size_t n, bool trailing)
{
        struct object_tree *t = NULL;
        struct raw r = {};
        int k;

        rh(&r, 4, n);
        for (size_t i = 0; i < n; i++)
                raw_put_entry(&r, &e[i]);
        if (trailing)
                r.b[r.n++] = 0x00;
        k = object_tree_decode(r.b, r.n, &t);
        if (k == 0)
                cr_assert_not_null(t);
        else
                cr_assert_null(t, "nothing returned on failure");
        object_tree_free(t);
        return k;
}

static int decode1(const char *name, uint64_t kind, unsigned keys, int variant)
{
        struct raw_entry e = { .name = name, .kind = kind, .keys = keys, .variant = variant };

        return decode_entries(&e, 1, false);
}

#define FILE_CONTENT (F_BASE | (1 << 9) | (1 << 15))

Test(object, decoder_accepts_hand_made_valid)
{
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE, V_NONE), 0);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_NONE), 0);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 5) | (1 << 11), V_NONE), 0);
        cr_assert_eq(decode1("d", OBJECT_KIND_DIR, F_BASE | (1 << 17), V_NONE), 0);
        cr_assert_eq(decode1("l", OBJECT_KIND_SYMLINK, F_BASE | (1 << 12), V_NONE), 0);
        cr_assert_eq(decode1("c", OBJECT_KIND_CHARDEV, F_BASE | (1 << 10), V_NONE), 0);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 9) | (1 << 16), V_NONE), 0);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE, V_UNKNOWN_KEY), 0,
                     "unknown keys are ignored");
}

Test(object, decoder_rejects_bad_names)
{
        static const char *const bad[] = { "", ".", "..", "a/b", "/" };
        struct raw_entry e[2] = {
                { .name = "a", .kind = OBJECT_KIND_FIFO, .keys = F_BASE },
                { .name = "a", .kind = OBJECT_KIND_FIFO, .keys = F_BASE },
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert_eq(decode1(bad[i], OBJECT_KIND_FIFO, F_BASE, V_NONE), -EBADMSG,
                             "name '%s'", bad[i]);
        {
                struct raw_entry nul = { .name = "a\0b", .name_len = 3, .kind = OBJECT_KIND_FIFO,
                                         .keys = F_BASE };

                cr_assert_eq(decode_entries(&nul, 1, false), -EBADMSG);
        }
        cr_assert_eq(decode_entries(e, 2, false), -EBADMSG, "duplicate names");
        e[0].name = "b";
        cr_assert_eq(decode_entries(e, 2, false), -EBADMSG, "unsorted names");
        e[0].name = "ab";
        cr_assert_eq(decode_entries(e, 2, false), -EBADMSG, "longer name first");
        e[1].name = "abc";
        cr_assert_eq(decode_entries(e, 2, false), 0);
        cr_assert_eq(decode_entries(e, 2, true), -EBADMSG, "trailing bytes");
}

Test(object, decoder_rejects_wrong_types_and_missing_keys)
{
        static const int variants[] = { V_NAME_TEXT, V_KIND_TEXT, V_MODE_NEG, V_MODE_BIG,
                                        V_UID_BIG, V_MTIME_BYTES, V_KEY_SWAP, V_KEY_DUP,
                                        V_STRING_KEY };

        for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
                cr_assert_eq(decode1("f", OBJECT_KIND_FIFO, F_BASE, variants[i]), -EBADMSG,
                             "variant %d", variants[i]);
        cr_assert_eq(decode1("f", OBJECT_KIND_FIFO, F_BASE | (1 << 5), V_USER_TEXT), -EBADMSG);
        cr_assert_eq(decode1("d", OBJECT_KIND_DIR, F_BASE | (1 << 17), V_SUBTREE_SHORT), -EBADMSG);
        for (int k = 0; k <= 8; k++) {
                if (!(F_BASE & (1u << k)))
                        continue;
                cr_assert_eq(decode1("f", OBJECT_KIND_FIFO, F_BASE & ~(1u << k), V_NONE), -EBADMSG,
                             "missing key %d", k);
        }
        cr_assert_eq(decode1("f", 0, F_BASE, V_NONE), -EBADMSG, "kind 0");
        cr_assert_eq(decode1("f", 8, F_BASE, V_NONE), -EBADMSG, "kind 8");
        {
                /* not an array; an array of non-maps */
                static const uint8_t m[] = { 0xa0 };
                static const uint8_t a[] = { 0x81, 0x01 };
                struct object_tree *t = NULL;

                cr_assert_eq(object_tree_decode(m, sizeof(m), &t), -EBADMSG);
                cr_assert_eq(object_tree_decode(a, sizeof(a), &t), -EBADMSG);
                cr_assert_eq(object_tree_decode(NULL, 0, &t), -EBADMSG);
                cr_assert_null(t);
        }
}

Test(object, decoder_rejects_kind_inconsistency)
{
        cr_assert_eq(decode1("d", OBJECT_KIND_DIR, F_BASE, V_NONE), -EBADMSG, "dir without subtree");
        cr_assert_eq(decode1("l", OBJECT_KIND_SYMLINK, F_BASE, V_NONE), -EBADMSG,
                     "symlink without target");
        cr_assert_eq(decode1("c", OBJECT_KIND_CHARDEV, F_BASE, V_NONE), -EBADMSG,
                     "device without rdev");
        cr_assert_eq(decode1("f", OBJECT_KIND_FIFO, F_BASE | (1 << 10), V_NONE), -EBADMSG,
                     "rdev on a fifo");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 17), V_NONE), -EBADMSG,
                     "file with subtree");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 12), V_NONE), -EBADMSG,
                     "file with target");
        cr_assert_eq(decode1("d", OBJECT_KIND_DIR, F_BASE | (1 << 15) | (1 << 17), V_NONE),
                     -EBADMSG, "dir with content");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT | (1 << 16), V_NONE), -EBADMSG,
                     "content and list");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_CONTENT_SUM), -EBADMSG,
                     "extent sum differs from size");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 15), V_NONE), -EBADMSG,
                     "content without size");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 9), V_NONE), -EBADMSG,
                     "size without content");
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_CONTENT_EMPTY), -EBADMSG);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_EXTENT_ZERO), -EBADMSG);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_EXTENT_ID31), -EBADMSG);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, FILE_CONTENT, V_EXTENT_TRIPLE), -EBADMSG);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 11), V_XATTR_DUP), -EBADMSG);
        cr_assert_eq(decode1("f", OBJECT_KIND_FILE, F_BASE | (1 << 11), V_XATTR_UNSORTED),
                     -EBADMSG);
}

Test(object, list_round_trip_and_rejects)
{
        struct object_extent ext[3] = {
                { .id = mkoid(9), .length = 4 << 20 },
                { .hole = true, .length = 12345 },
                { .id = mkoid(8), .length = 1 },
        };
        struct object_list l = { .extents = ext, .n_extents = 3 }, *d = NULL;
        uint8_t *buf = NULL;
        size_t len;

        cr_assert_eq(object_list_encode(&l, &buf, &len), 0);
        cr_assert_eq(object_list_decode(buf, len, &d), 0);
        cr_assert_eq(d->n_extents, 3);
        for (size_t i = 0; i < 3; i++) {
                cr_assert_eq(d->extents[i].hole, ext[i].hole);
                cr_assert_eq(d->extents[i].length, ext[i].length);
                cr_assert_eq(oid_cmp(&d->extents[i].id, &ext[i].id), 0);
        }
        object_list_free(d);
        d = NULL;
        /* trailing byte */
        buf = realloc(buf, len + 1);
        buf[len] = 0;
        cr_assert_eq(object_list_decode(buf, len + 1, &d), -EBADMSG);
        cr_assert_null(d);
        free(buf);

        ext[1].id = mkoid(1); /* a hole with an id */
        cr_assert_eq(object_list_encode(&l, &buf, &len), -EINVAL);
        ext[1] = (struct object_extent){ .id = mkoid(1), .length = OBJECT_DATA_MAX + 1 };
        cr_assert_eq(object_list_encode(&l, &buf, &len), -EINVAL);
        ext[1].length = 0;
        cr_assert_eq(object_list_encode(&l, &buf, &len), -EINVAL);
        ext[1] = (struct object_extent){ .length = 1 }; /* data with a null id */
        cr_assert_eq(object_list_encode(&l, &buf, &len), -EINVAL);
}

static struct object_snapshot *sample_snapshot(bool parent)
{
        struct object_snapshot *s = calloc(1, sizeof(*s));

        s->time_ns = 1763700000000000000;
        s->hostname = strdup("nas.example");
        s->root_len = 9;
        s->root = dupmem("/home/\xe9t\xe9", 9);
        s->tree = mkoid(0x77);
        s->has_parent = parent;
        if (parent)
                s->parent = mkoid(0x66);
        s->stats = (struct object_snapshot_stats){ 1, 2, 3, 4, 5, 6 };
        if (parent) {
                s->n_tags = 2;
                s->tags = calloc(2, sizeof(char *));
                s->tags[0] = strdup("daily");
                s->tags[1] = strdup("caf\xc3\xa9");
        }
        return s;
}

Test(object, snapshot_round_trip_and_rejects)
{
        for (int p = 0; p < 2; p++) {
                struct object_snapshot *s = sample_snapshot(p), *d = NULL;
                uint8_t *buf = NULL;
                size_t len;

                cr_assert_eq(object_snapshot_encode(s, &buf, &len), 0);
                cr_assert_eq(object_snapshot_decode(buf, len, &d), 0);
                cr_assert_eq(d->time_ns, s->time_ns);
                cr_assert_str_eq(d->hostname, s->hostname);
                cr_assert_eq(d->root_len, s->root_len);
                cr_assert_eq(memcmp(d->root, s->root, s->root_len), 0);
                cr_assert_eq(oid_cmp(&d->tree, &s->tree), 0);
                cr_assert_eq(d->has_parent, s->has_parent);
                cr_assert_eq(oid_cmp(&d->parent, &s->parent), 0);
                cr_assert_eq(memcmp(&d->stats, &s->stats, sizeof(s->stats)), 0);
                cr_assert_eq(d->n_tags, s->n_tags);
                for (size_t i = 0; i < s->n_tags; i++)
                        cr_assert_str_eq(d->tags[i], s->tags[i]);
                object_snapshot_free(d);
                d = NULL;
                for (size_t cut = 0; cut < len; cut++)
                        cr_assert_eq(object_snapshot_decode(buf, cut, &d), -EBADMSG);
                buf = realloc(buf, len + 1);
                buf[len] = 0xf6;
                cr_assert_eq(object_snapshot_decode(buf, len + 1, &d), -EBADMSG);
                cr_assert_null(d);
                free(buf);
                object_snapshot_free(s);
        }
        {
                struct object_snapshot *s = sample_snapshot(true);
                uint8_t *buf = NULL;
                size_t len;

                free(s->tags[1]);
                s->tags[1] = strdup("\xff"); /* not UTF-8 */
                cr_assert_eq(object_snapshot_encode(s, &buf, &len), -EINVAL);
                s->tags[1][0] = 'x';
                s->tree = mkoid(0);
                cr_assert_eq(object_snapshot_encode(s, &buf, &len), -EINVAL);
                object_snapshot_free(s);
        }
        {
                /* hand-made: missing tree, wrong types, unknown key */
                struct object_snapshot *d = NULL;
                struct raw r = {};

                rh(&r, 5, 3), rh(&r, 0, 0), rh(&r, 0, 1), rh(&r, 0, 1), rs(&r, 3, "h", 1);
                rh(&r, 0, 2), rs(&r, 2, "/", 1);
                cr_assert_eq(object_snapshot_decode(r.b, r.n, &d), -EBADMSG, "missing tree");
                r.n = 0;
                rh(&r, 5, 4), rh(&r, 0, 0), rh(&r, 0, 1), rh(&r, 0, 1), rs(&r, 2, "h", 1);
                rh(&r, 0, 2), rs(&r, 2, "/", 1), rh(&r, 0, 3), rid(&r, 1, 32);
                cr_assert_eq(object_snapshot_decode(r.b, r.n, &d), -EBADMSG, "hostname as bytes");
                r.n = 0;
                rh(&r, 5, 5), rh(&r, 0, 0), rh(&r, 0, 1), rh(&r, 0, 1), rs(&r, 3, "h", 1);
                rh(&r, 0, 2), rs(&r, 2, "/", 1), rh(&r, 0, 3), rid(&r, 1, 32);
                rh(&r, 0, 99), rs(&r, 3, "future", 6);
                cr_assert_eq(object_snapshot_decode(r.b, r.n, &d), 0, "unknown key ignored");
                cr_assert_str_eq(d->hostname, "h");
                object_snapshot_free(d);
        }
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(object, hundred_thousand_entries)
{
        struct object_tree *t = object_tree_new(), *d = NULL;
        uint8_t *buf = NULL;
        size_t len;
        double t0, t1, t2;

        for (int i = 100000; i > 0; i--) { /* appended in reverse order */
                struct object_entry e;
                char name[32];

                snprintf(name, sizeof(name), "file-%06d", i);
                base_entry(&e, name, OBJECT_KIND_FILE);
                e.n_extents = 1;
                e.extents = calloc(1, sizeof(*e.extents));
                e.extents[0] = (struct object_extent){ .id = mkoid((uint8_t)i | 1), .length = i };
                e.size = i;
                cr_assert_eq(object_tree_append(t, &e), 0);
        }
        t0 = now();
        object_tree_sort(t);
        cr_assert_eq(object_tree_encode(t, &buf, &len), 0);
        t1 = now();
        cr_assert_eq(object_tree_decode(buf, len, &d), 0);
        t2 = now();
        cr_assert_eq(d->n_entries, 100000);
        cr_assert_str_eq((char *)d->entries[0].name, "file-000001");
        cr_assert_eq(d->entries[99999].size, 100000);
        cr_log_info("100000 entries, %zu bytes: sort+encode %.3f s, decode %.3f s", len, t1 - t0,
                    t2 - t1);
        cr_assert_lt(t1 - t0, 5.0);
        cr_assert_lt(t2 - t1, 5.0);
        free(buf);
        object_tree_free(t);
        object_tree_free(d);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
        uint64_t x = rng_state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return rng_state = x;
}

/* Run every decoder on buf; a success must re-encode (decoder accepts only
 * what the encoder would write). */
static int decode_all(const uint8_t *buf, size_t len)
{
        struct object_tree *t = NULL;
        struct object_list *l = NULL;
        struct object_snapshot *s = NULL;
        uint8_t *out = NULL;
        size_t out_len;
        int a, b, c, ok = 0;

        a = object_tree_decode(buf, len, &t);
        b = object_list_decode(buf, len, &l);
        c = object_snapshot_decode(buf, len, &s);
        cr_assert(a == 0 || a == -EBADMSG || a == -E2BIG, "tree %d", a);
        cr_assert(b == 0 || b == -EBADMSG || b == -E2BIG, "list %d", b);
        cr_assert(c == 0 || c == -EBADMSG || c == -E2BIG, "snapshot %d", c);
        if (a == 0) {
                cr_assert_eq(object_tree_encode(t, &out, &out_len), 0);
                free(out);
                ok++;
        }
        if (b == 0) {
                cr_assert_eq(object_list_encode(l, &out, &out_len), 0);
                free(out);
                ok++;
        }
        if (c == 0) {
                cr_assert_eq(object_snapshot_encode(s, &out, &out_len), 0);
                free(out);
                ok++;
        }
        object_tree_free(t);
        object_list_free(l);
        object_snapshot_free(s);
        return ok;
}

Test(object, garbage_and_mutations)
{
        static const uint8_t picks[] = { 0x1b, 0x3b, 0x5a, 0x5b, 0x5f, 0x9a, 0x9b, 0x9f, 0xba,
                                         0xbb, 0xbf, 0xff, 0x00, 0x01, 0x02, 0x0f, 0x11, 0x18,
                                         0x20, 0x40, 0x58, 0x80, 0x82, 0xa1, 0xa7 };
        struct object_tree *t = full_tree();
        struct object_snapshot *s = sample_snapshot(true);
        struct object_extent ext[2] = { { .id = mkoid(5), .length = 9 },
                                        { .hole = true, .length = 3 } };
        struct object_list l = { .extents = ext, .n_extents = 2 };
        uint8_t *seeds[3];
        size_t seed_len[3];
        uint8_t buf[4096];
        int accepted = 0;

        cr_assert_eq(object_tree_encode(t, &seeds[0], &seed_len[0]), 0);
        cr_assert_eq(object_list_encode(&l, &seeds[1], &seed_len[1]), 0);
        cr_assert_eq(object_snapshot_encode(s, &seeds[2], &seed_len[2]), 0);
        for (int i = 0; i < 3; i++)
                cr_assert_lt(seed_len[i], sizeof(buf) / 2);

        for (int iter = 0; iter < 3000; iter++) {
                size_t len = rng() % 512;

                for (size_t i = 0; i < len; i++)
                        buf[i] = rng() % 3 ? (uint8_t)rng() : picks[rng() % sizeof(picks)];
                decode_all(buf, len);
        }
        for (int iter = 0; iter < 7000; iter++) {
                int which = iter % 3;
                size_t len = seed_len[which];
                int edits = 1 + rng() % 3;

                memcpy(buf, seeds[which], len);
                for (int e = 0; e < edits; e++) {
                        size_t at = rng() % len;

                        switch (rng() % 5) {
                        case 0:
                                buf[at] = picks[rng() % sizeof(picks)];
                                break;
                        case 1:
                                buf[at] ^= (uint8_t)(1u << (rng() % 8));
                                break;
                        case 2:
                                buf[at] = (uint8_t)rng();
                                break;
                        case 3:
                                len = at + 1;
                                break;
                        default: /* duplicate a slice */
                                if (len + 16 < sizeof(buf)) {
                                        memmove(buf + at + 16, buf + at, len - at);
                                        len += 16;
                                }
                                break;
                        }
                }
                accepted += decode_all(buf, len);
        }
        cr_assert_gt(accepted, 0, "some mutations should still decode");
        for (int i = 0; i < 3; i++)
                cr_assert_eq(decode_all(seeds[i], seed_len[i]), 1);
        if (alloc_limit_active())
                cr_assert_eq(alloc_limit_violations(), 0, "an allocation exceeded 64 MiB");
        for (int i = 0; i < 3; i++)
                free(seeds[i]);
        object_tree_free(t);
        object_snapshot_free(s);
}

Test(object, kind_names)
{
        cr_assert_str_eq(object_kind_name(OBJECT_KIND_FILE), "file");
        cr_assert_str_eq(object_kind_name(OBJECT_KIND_SOCKET), "socket");
        cr_assert_null(object_kind_name(0));
        cr_assert_null(object_kind_name(8));
}

Test(object, snapshot_root_entry_round_trip)
{
        struct object_snapshot s = {0};
        uint8_t *buf = NULL;
        size_t len;
        struct object_snapshot *back = NULL;

        s.time_ns = 1700000000123456789;
        s.hostname = (char *)"host";
        s.root = (uint8_t *)"/srv/data";
        s.root_len = 9;
        memset(s.tree.bytes, 0x42, OID_SIZE);
        s.has_root_entry = true;
        s.root_entry.name = (uint8_t *)"data";
        s.root_entry.name_len = 4;
        s.root_entry.kind = OBJECT_KIND_DIR;
        s.root_entry.mode = 01750;
        s.root_entry.uid = 1000;
        s.root_entry.gid = 100;
        s.root_entry.mtime_ns = 1600000000987654321;
        s.root_entry.subtree = s.tree;
        cr_assert_eq(object_snapshot_encode(&s, &buf, &len), 0);
        cr_assert_eq(object_snapshot_decode(buf, len, &back), 0);
        cr_assert(back->has_root_entry);
        cr_assert_eq(back->root_entry.mode, 01750);
        cr_assert_eq(back->root_entry.mtime_ns, 1600000000987654321);
        cr_assert_eq(oid_cmp(&back->root_entry.subtree, &s.tree), 0);
        object_snapshot_free(back);
        free(buf);

        /* a root entry that does not point at the snapshot's tree is refused */
        s.root_entry.subtree.bytes[0] ^= 1;
        cr_assert_eq(object_snapshot_encode(&s, &buf, &len), -EINVAL);
        s.root_entry.subtree.bytes[0] ^= 1;
        s.root_entry.kind = OBJECT_KIND_FILE;
        cr_assert_eq(object_snapshot_encode(&s, &buf, &len), -EINVAL);
}
