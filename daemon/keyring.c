/* SPDX-License-Identifier: MIT */
/* The daemon's master secret (see keyring.h): loading it at start, refusing
 * to replace a lost one over existing data, the no-key mode, the key check
 * value in the index and checking a candidate key against the packs. The
 * keys live in one never-dumped, locked mapping (keys_new) for the daemon's
 * lifetime; only its content changes. */
#include "keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "daemon.h"
#include "identity.h"
#include "index.h"
#include "log.h"
#include "pack.h"
#include "state-dir.h"
#include "store-local.h"
#include "store.h"
#include "test-hook.h"

/* How many packs a candidate key may try before it is called wrong: one
 * damaged pack must not make the right key look wrong. */
#define KEYRING_TRIAL_PACKS 4

#define KEYRING_HOW_TO_RECOVER                                                                     \
        "start chuted with --no-key and run 'chutectl key import CODE' with this node's recovery " \
        "code (from 'chutectl key export')"

static char *keyring_master_path(struct daemon *d)
{
        char *path = NULL;
        if (asprintf(&path, "%s/master.key", d->config.state_dir) < 0)
                return NULL;
        return path;
}

int keyring_install(struct daemon *d, const uint8_t master[KEYS_MASTER_SIZE])
{
        struct identity *id = NULL;
        struct keys *fresh = NULL;
        /* Derive and build the identity aside (in protected memory), then
         * swap: a failure leaves the loaded keys exactly as they were. */
        int r = keys_new(&fresh, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot allocate memory for the keys");
        r = keys_derive(master, fresh);
        if (r < 0) {
                keys_free(fresh);
                return log_error_errno(r, "Cannot derive keys");
        }
        r = test_hook_fail("key-install") ? -EIO : identity_new(fresh->identity_seed, &id);
        if (r < 0) {
                keys_free(fresh);
                return log_error_errno(r, "Cannot build the node identity");
        }
        memcpy(d->keyring, fresh, sizeof(*fresh));
        keys_free(fresh);
        identity_free(d->identity);
        d->identity = id;
        identity_node_id(d->identity, d->node_id);
        d->have_key = true;
        /* cached key material elsewhere (the readers' chunkers) is rebuilt */
        __atomic_add_fetch(&d->key_generation, 1, __ATOMIC_RELEASE);
        return 0;
}

void keyring_unload(struct daemon *d)
{
        keys_wipe(d->keyring);
        identity_free(d->identity);
        d->identity = NULL;
        memset(d->node_id, 0, sizeof(d->node_id));
        d->have_key = false;
        __atomic_add_fetch(&d->key_generation, 1, __ATOMIC_RELEASE);
}

static int keyring_sync_dir(const char *dir)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int keyring_write_master(struct daemon *d, const uint8_t master[KEYS_MASTER_SIZE])
{
        _cleanup_free_ char *path = keyring_master_path(d), *tmp = NULL;
        if (!path || asprintf(&tmp, "%s.import", path) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        /* keys_create_from never replaces; rename then does, atomically,
         * and the directory's fsync makes the rename survive a crash */
        int r = keys_create_from(tmp, master);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        r = keyring_sync_dir(d->config.state_dir);
        if (r < 0)
                return r;
        uint8_t check[KEYS_MASTER_SIZE];
        r = keys_load(path, check, NULL);
        if (r >= 0 && memcmp(check, master, sizeof(check)) != 0)
                r = -EIO;
        crypto_wipe(check, sizeof(check));
        return r;
}

/* Start without a key: say why and what to do. */
static int keyring_no_key(const char *what)
{
        log_warning("Starting without a key (--no-key): %s. Nothing is watched or backed up until "
                    "'chutectl key import CODE' loads this node's recovery code",
                    what);
        return 0;
}

static int keyring_from_key_file(struct daemon *d, bool allow_no_key, uint8_t master[KEYS_MASTER_SIZE])
{
        int r = keys_from_key_file(d->config.key_file, master);
        if (r >= 0)
                return 1;
        if (allow_no_key) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "key_file %s cannot be read (%s)", d->config.key_file, strerror(-r)) < 0)
                        return log_oom();
                return keyring_no_key(what);
        }
        log_error("Refusing to start: the configured key_file %s cannot be read (%s), and chuted never "
                  "falls back to a new secret. Make %s available (mount the key device) and start again; "
                  "or start chuted with --no-key and run 'chutectl key import CODE' with this node's "
                  "recovery code",
                  d->config.key_file, strerror(-r), d->config.key_file);
        return r;
}

static int keyring_from_state_dir(struct daemon *d, bool allow_no_key, uint8_t master[KEYS_MASTER_SIZE])
{
        _cleanup_free_ char *path = keyring_master_path(d);
        const char *why = NULL;
        if (!path)
                return log_oom();
        int r = keys_load(path, master, &why);
        if (r >= 0)
                return 1;
        if (r != -ENOENT) {
                if (allow_no_key) {
                        _cleanup_free_ char *what = NULL;
                        if (asprintf(&what, "the master secret %s is refused (%s)", path, why ? why : strerror(-r)) < 0)
                                return log_oom();
                        return keyring_no_key(what);
                }
                log_error("Refusing to start: the master secret %s is refused: %s. Repair %s, or "
                          KEYRING_HOW_TO_RECOVER,
                          path, why ? why : strerror(-r), path);
                return r;
        }

        _cleanup_free_ char *what = NULL;
        int holds = state_dir_holds_data(d->config.state_dir, &what);
        if (holds < 0)
                return log_error_errno(holds, "Cannot look into the state directory %s", d->config.state_dir);
        if (holds > 0) {
                if (allow_no_key) {
                        _cleanup_free_ char *msg = NULL;
                        if (asprintf(&msg, "the master secret %s is missing and %s holds %s", path,
                                     d->config.state_dir, what) < 0)
                                return log_oom();
                        return keyring_no_key(msg);
                }
                log_error("Refusing to start: the master secret %s is missing, but %s holds backup data "
                          "(%s) sealed under it, and chuted never creates a new secret over existing data. "
                          "Put the original master.key back, or " KEYRING_HOW_TO_RECOVER,
                          path, d->config.state_dir, what);
                return -ENOKEY;
        }
        if (allow_no_key)
                return keyring_no_key("this state has no master secret yet");
        r = keys_create(path, master);
        if (r < 0)
                return log_error_errno(r, "Cannot create the master secret %s", path);
        log_notice("Created a new master secret in %s; save the recovery code now (chutectl key export)", path);
        return 1;
}

int keyring_setup(struct daemon *d, bool allow_no_key)
{
        uint8_t master[KEYS_MASTER_SIZE];
        int lock_error = 0;
        int r = keys_new(&d->keyring, &lock_error);
        if (r < 0)
                return log_error_errno(r, "Cannot allocate memory for the keys");
        if (lock_error < 0)
                log_debug("Cannot lock the keys in memory (%s), ignoring", strerror(-lock_error));

        if (d->config.key_file)
                r = keyring_from_key_file(d, allow_no_key, master);
        else
                r = keyring_from_state_dir(d, allow_no_key, master);
        if (r > 0)
                r = keyring_install(d, master);
        crypto_wipe(master, sizeof(master));
        return r;
}

struct keyring_trial {
        struct store *store;
        const uint8_t *pack_key;
        unsigned tried;
        bool opened;
};

static int keyring_read_cb(void *userdata, uint64_t offset, void *buf, size_t len)
{
        const void *const *ctx = userdata;
        return store_get((struct store *)ctx[0], ctx[1], offset, len, buf);
}

static int keyring_trial_cb(void *userdata, const struct oid *pack_id, uint64_t size)
{
        struct keyring_trial *t = userdata;
        const void *ctx[2] = {t->store, pack_id};
        struct pack_entry *entries = NULL;
        size_t n = 0;

        t->tried++;
        if (!t->opened && pack_read_header(keyring_read_cb, ctx, size, t->pack_key, &entries, &n) >= 0) {
                free(entries);
                t->opened = true;
        }
        return 0;
}

/* 1 when pack_key opens one of the first few local packs, 0 when none
 * opens, -ENOENT when there is no pack to try. */
static int keyring_opens_a_pack(struct daemon *d, const uint8_t *pack_key)
{
        _cleanup_free_ char *dir = NULL;
        struct keyring_trial t = {.pack_key = pack_key};
        if (asprintf(&dir, "%s/packs", d->config.state_dir) < 0)
                return -ENOMEM;
        int r = store_local_new(dir, &t.store);
        if (r < 0)
                return r;
        int more;
        r = store_list(t.store, NULL, KEYRING_TRIAL_PACKS, keyring_trial_cb, &t, &more);
        store_free(t.store);
        if (r < 0)
                return r;
        if (t.tried == 0)
                return -ENOENT;
        return t.opened ? 1 : 0;
}

/* What decided whether a key matches the data. */
enum keyring_evidence {
        KEYRING_BY_CHECK_VALUE, /* the key check value in the index */
        KEYRING_BY_PACKS,       /* a trial decryption of pack headers */
        KEYRING_BY_EMPTY,       /* no data at all: any key is right */
        KEYRING_BY_NOTHING,     /* objects listed, but nothing to check on */
};

static const char *const keyring_evidence_text[] = {
        [KEYRING_BY_CHECK_VALUE] = "the key check value in the index",
        [KEYRING_BY_PACKS] = "the headers of the local packs",
        [KEYRING_BY_EMPTY] = "an empty state (no key check value, no pack, no object)",
        [KEYRING_BY_NOTHING] = "nothing (the index lists objects, but no local pack is left to try)",
};

/* 1 match, 0 mismatch (or KEYRING_BY_NOTHING: cannot tell), -errno. */
static int keyring_compare(struct daemon *d, struct index *idx, const struct keys *candidate,
                           enum keyring_evidence *ret_by)
{
        _cleanup_free_ void *stored = NULL;
        size_t len = 0;
        int r = idx ? index_kv_get(idx, KEYRING_CHECK_KV, &stored, &len) : -ENOENT;
        if (r >= 0) {
                *ret_by = KEYRING_BY_CHECK_VALUE;
                return len == sizeof(candidate->check) && !memcmp(stored, candidate->check, len);
        }
        if (r != -ENOENT)
                return r;
        r = keyring_opens_a_pack(d, candidate->pack_key);
        if (r >= 0) {
                *ret_by = KEYRING_BY_PACKS;
                return r;
        }
        if (r != -ENOENT)
                return r;
        struct index_stats st = {0};
        r = idx ? index_stats(idx, &st) : 0; /* no index (a fresh --no-key state): nothing in it */
        if (r < 0)
                return r;
        *ret_by = st.n_objects > 0 || st.n_snapshots > 0 ? KEYRING_BY_NOTHING : KEYRING_BY_EMPTY;
        return *ret_by == KEYRING_BY_EMPTY;
}

int keyring_matches(struct daemon *d, struct index *idx, const struct keys *candidate, const char **ret_how,
                    bool *ret_unchecked)
{
        enum keyring_evidence by = KEYRING_BY_NOTHING;
        int r = keyring_compare(d, idx, candidate, &by);
        *ret_how = keyring_evidence_text[by];
        *ret_unchecked = by == KEYRING_BY_NOTHING;
        return r;
}

int keyring_check_index(struct daemon *d, struct index *idx)
{
        enum keyring_evidence by = KEYRING_BY_NOTHING;
        int r = keyring_compare(d, idx, d->keyring, &by);
        if (r < 0)
                return log_error_errno(r, "Cannot check the master secret against the index");
        if (by == KEYRING_BY_CHECK_VALUE) {
                if (r > 0)
                        return 0;
                log_error("Refusing to start: the master secret (from %s) is not the one this state "
                          "directory's backups were made with: the key check value in %s/index.db differs. "
                          "Start with the right key_file or master.key, or " KEYRING_HOW_TO_RECOVER,
                          d->config.key_file ? d->config.key_file : "master.key", d->config.state_dir);
                return -EKEYREJECTED;
        }
        if (r == 0 && by == KEYRING_BY_PACKS) {
                log_error("Refusing to start: the master secret (from %s) opens none of the local packs tried in "
                          "%s/packs, so it is not the one this state directory's backups were made with. Start "
                          "with the right key_file or master.key, or " KEYRING_HOW_TO_RECOVER,
                          d->config.key_file ? d->config.key_file : "master.key", d->config.state_dir);
                return -EKEYREJECTED;
        }
        if (r == 0) {
                log_warning("Cannot confirm the master secret: checked against %s; "
                            "not recording a key check value",
                            keyring_evidence_text[by]);
                return 0;
        }
        r = index_kv_set(idx, KEYRING_CHECK_KV, d->keyring->check, sizeof(d->keyring->check));
        if (r < 0)
                return log_error_errno(r, "Cannot record the key check value in the index");
        log_debug("Recorded the key check value (the key was checked against %s)", keyring_evidence_text[by]);
        return 0;
}
