/* SPDX-License-Identifier: MIT */
/* key export / key import: the recovery code of the master secret. Import
 * loads the key of a node started with --no-key (after checking the code
 * against the data in its state dir) and brings it up, or replaces the key
 * of a node that holds no data yet and is idle. Policy on sources and the
 * check value is daemon/keyring.c. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "commands.h"
#include "crypto.h"
#include "ctl.h"
#include "daemon.h"
#include "identity.h"
#include "index.h"
#include "keyring.h"
#include "log.h"
#include "peer-server.h"
#include "recovery.h"
#include "repo.h"
#include "root.h"
#include "workers.h"

void cmd_key_export(struct request *r)
{
        _cleanup_free_ char *code = NULL;
        int k = recovery_encode(r->daemon->keyring->master, &code);
        if (k < 0) {
                request_error_errno(r, k, "cannot encode the recovery code");
                return;
        }
        struct msg *m = request_result(r);
        if (m) {
                msg_set_secret(m);
                struct msg_map b = msg_body(m);
                msg_map_set_text(&b, CTL_KEY_CODE, code);
                char who[32];
                log_notice("The recovery code was exported to %s", principal_name(r->principal, who));
                request_reply(r, m);
        }
        crypto_wipe(code, strlen(code));
}

/* Decode the request's code into master; answers the request on failure. */
static int key_import_decode(struct request *r, uint8_t master[KEYS_MASTER_SIZE])
{
        const char *code;
        size_t len;

        msg_set_secret(r->msg); /* wiped when the request is freed */
        if (msg_map_get_text(&r->args, CTL_KEY_CODE, &code, &len) < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "key import needs a recovery code");
                return -EINVAL;
        }
        /* CBOR text may hold a NUL: no recovery code does */
        if (memchr(code, 0, len)) {
                request_error(r, CTL_STATUS_BAD_REQUEST, "not a recovery code: it holds a NUL byte");
                return -EINVAL;
        }
        _cleanup_free_ char *copy = strndup(code, len);
        if (!copy) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return -ENOMEM;
        }
        int k = recovery_decode(copy, master);
        crypto_wipe(copy, strlen(copy));
        if (k == -EBADMSG) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "the recovery code's checksum does not match: check for a mistyped character");
                return k;
        }
        if (k < 0) {
                request_error(r, CTL_STATUS_BAD_REQUEST,
                              "not a recovery code: wrong length or a character outside A-Z and 2-7");
                return k;
        }
        return 0;
}

/* Why the keys cannot change now, or NULL: running snapshots and worker
 * jobs (forget, retention, restore, cat, ls, diff) read d->keyring. */
static const char *key_import_busy(struct daemon *d, char *buf, size_t len)
{
        unsigned running = 0;
        for (struct root *root = d->roots; root; root = root->next)
                running += root->running;
        if (running > 0) {
                snprintf(buf, len, "busy: %u snapshot%s running; import the key when chutectl status says idle",
                         running, running == 1 ? "" : "s");
                return buf;
        }
        unsigned jobs = d->workers ? workers_busy(d->workers) : 0;
        if (jobs > 0) {
                snprintf(buf, len,
                         "busy: %u job%s (restore, cat, ls, diff, forget) running; import the key once they "
                         "are done",
                         jobs, jobs == 1 ? "" : "s");
                return buf;
        }
        return NULL;
}

static int count_peer_store(const struct index_store *row, void *userdata)
{
        if (!strcmp(row->kind, "peer"))
                (*(unsigned *)userdata)++;
        return 0;
}

/* Listen for peers again, with the identity now loaded (failures are logged). */
static void key_peers_restart(struct daemon *d)
{
        if (!d->peer_server && peer_server_new(d, &d->peer_server) < 0)
                log_warning("Not listening for peers until chuted is restarted");
}

/* A node with a key: replace it, but only while it holds no data and
 * nothing runs that uses the keys. Nothing changes unless every step
 * works: the new keys are built aside, master.key is replaced last. */
static void key_import_replace(struct request *r, const uint8_t master[KEYS_MASTER_SIZE])
{
        struct daemon *d = r->daemon;
        struct index_stats st;
        struct repo_stats rs;
        char why[160];

        if (d->config.key_file) {
                request_error(r, CTL_STATUS_DENIED,
                              "this node derives its key from key_file %s; edit the configuration instead",
                              d->config.key_file);
                return;
        }
        if (key_import_busy(d, why, sizeof(why))) {
                request_error(r, CTL_STATUS_BUSY, "%s", why);
                return;
        }
        int k = index_stats(d->index, &st);
        if (k < 0) {
                request_error_errno(r, k, "cannot read the index");
                return;
        }
        /* objects_added also counts objects still waiting to be committed */
        repo_get_stats(d->repo, &rs);
        if (st.n_snapshots > 0 || st.n_objects > 0 || rs.objects_added > 0) {
                request_error(r, CTL_STATUS_EXISTS,
                              "this node already has %llu snapshot(s) under its own key; import a key only on a "
                              "new node, or on one started with --no-key",
                              (unsigned long long)st.n_snapshots);
                return;
        }
        if (!memcmp(master, d->keyring->master, KEYS_MASTER_SIZE)) {
                request_reply(r, request_result(r));
                return;
        }
        /* a peer store's connections present the node's identity, which the
         * new key replaces under them */
        unsigned peers = 0;
        k = index_store_foreach(d->index, count_peer_store, &peers);
        if (k >= 0 && peers > 0) {
                request_error(r, CTL_STATUS_BUSY,
                              "busy: %u peer store%s use%s this node's identity; remove %s (chutectl peer remove) "
                              "before importing another key, and add %s again after",
                              peers, peers == 1 ? "" : "s", peers == 1 ? "s" : "", peers == 1 ? "it" : "them",
                              peers == 1 ? "it" : "them");
                return;
        }
        if (k < 0) {
                request_error_errno(r, k, "cannot read the stores");
                return;
        }
        struct keys *old = NULL;
        k = keys_new(&old, NULL);
        if (k < 0) {
                request_error_errno(r, k, "cannot allocate memory for the keys");
                return;
        }
        memcpy(old->master, d->keyring->master, KEYS_MASTER_SIZE);
        /* the peer listener's TLS holds the identity: closed while it changes */
        peer_server_free(d->peer_server);
        d->peer_server = NULL;
        k = keyring_install(d, master); /* all or nothing */
        if (k < 0) {
                key_peers_restart(d);
                keys_free(old);
                request_error_errno(r, k, "cannot load the new master secret; nothing was changed");
                return;
        }
        /* The old check value goes first: were chuted to stop between here
         * and the end, either key is taken for this empty state at the next
         * start, and its check value recorded then. */
        k = index_kv_delete(d->index, KEYRING_CHECK_KV);
        if (k >= 0 || k == -ENOENT)
                k = keyring_write_master(d, master);
        if (k < 0) {
                int k2 = keyring_install(d, old->master);
                keys_free(old);
                if (k2 < 0)
                        log_error_errno(k2, "Cannot load the previous master secret again");
                key_peers_restart(d);
                request_error_errno(r, k, "cannot write the master secret; the previous one is kept");
                return;
        }
        keys_free(old);
        k = index_kv_set(d->index, KEYRING_CHECK_KV, d->keyring->check, sizeof(d->keyring->check));
        if (k < 0)
                log_warning_errno(k, "Cannot record the new key check value; it is recorded at the next start");
        log_notice("Imported a master secret from a recovery code; this node's id changed");
        key_peers_restart(d);
        request_reply(r, request_result(r));
}

/* A node started with --no-key: check the code against the data, save it,
 * load it and start backing up. force: accept a code that nothing can be
 * checked on (objects listed, no pack left). */
static void key_import_load(struct request *r, const uint8_t master[KEYS_MASTER_SIZE], bool force)
{
        struct daemon *d = r->daemon;
        struct keys *candidate = NULL;
        const char *how = NULL;
        bool unchecked = false;

        int k = keys_new(&candidate, NULL);
        if (k >= 0)
                k = keys_derive(master, candidate);
        if (k >= 0)
                k = keyring_matches(d, d->index, candidate, &how, &unchecked);
        keys_free(candidate);
        if (k < 0) {
                request_error_errno(r, k, "cannot check the key against %s", d->config.state_dir);
                return;
        }
        if (k == 0 && unchecked && force) {
                log_warning("Importing a key that nothing could check (%s): --force", how);
        } else if (k == 0 && unchecked) {
                request_error(r, CTL_STATUS_FAILED,
                              "cannot check this recovery code: the index of %s lists backups, but no local pack "
                              "is left to try it on; if you are sure it is this node's code, run 'chutectl key "
                              "import --force CODE'; nothing was changed",
                              d->config.state_dir);
                return;
        } else if (k == 0) {
                log_warning("Refused a key import: the key does not match %s (checked against %s)",
                            d->config.state_dir, how);
                request_error(r, CTL_STATUS_FAILED,
                              "wrong key: this recovery code does not open the backups in %s (checked against "
                              "%s); nothing was changed",
                              d->config.state_dir, how);
                return;
        }
        /* keys first (nothing on disk changes if that fails), then bring-up,
         * then master.key: a code that cannot start the node is not saved */
        k = keyring_install(d, master);
        if (k < 0) {
                request_error_errno(r, k, "cannot load the key; nothing was changed");
                return;
        }
        k = daemon_bring_up(d);
        if (k < 0) {
                keyring_unload(d);
                request_error_errno(r, k, "the key matches, but the daemon cannot start with it; still without a key");
                return;
        }
        if (!d->config.key_file) {
                k = keyring_write_master(d, master);
                if (k < 0) {
                        log_error_errno(k, "Cannot save the imported master secret in %s/master.key",
                                        d->config.state_dir);
                        request_error_errno(r, k,
                                            "the key is loaded and backups run, but saving it in %s/master.key "
                                            "failed: import it again after a restart with --no-key",
                                            d->config.state_dir);
                        daemon_update_status(d);
                        return;
                }
        }
        if (d->config.key_file)
                log_notice("Loaded the master secret from a recovery code (checked against %s); key_file %s is "
                           "still needed at the next start",
                           how, d->config.key_file);
        else
                log_notice("Loaded the master secret from a recovery code (checked against %s) and saved it "
                           "in %s/master.key",
                           how, d->config.state_dir);
        daemon_update_status(d);
        request_reply(r, request_result(r));
}

void cmd_key_import(struct request *r)
{
        uint8_t master[KEYS_MASTER_SIZE];
        bool force = false;

        if (key_import_decode(r, master) < 0)
                return;
        (void)msg_map_get_bool(&r->args, CTL_KEY_FORCE, &force); /* absent: false */
        if (r->daemon->stopping) {
                request_error(r, CTL_STATUS_BUSY, "chuted is stopping; import the key after it starts again");
        } else if (r->daemon->have_key) {
                if (force)
                        request_error(r, CTL_STATUS_BAD_REQUEST,
                                      "--force only applies to a node started with --no-key");
                else
                        key_import_replace(r, master);
        } else {
                key_import_load(r, master, force);
        }
        crypto_wipe(master, sizeof(master));
}
