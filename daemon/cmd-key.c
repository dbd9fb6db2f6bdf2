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
#include "recovery.h"
#include "repo.h"
#include "root.h"

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
                log_notice("The recovery code was exported to uid %u", (unsigned)r->uid);
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
        _cleanup_free_ char *copy = strndup(code, len);
        if (!copy) {
                request_error(r, CTL_STATUS_INTERNAL, "out of memory");
                return -ENOMEM;
        }
        int k = recovery_decode(copy, master);
        crypto_wipe(copy, len);
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

/* Running snapshots, which read d->keyring from the workers. */
static unsigned key_import_running(struct daemon *d)
{
        unsigned n = 0;
        for (struct root *root = d->roots; root; root = root->next)
                n += root->running;
        return n;
}

/* A node with a key: replace it, but only while it holds no data and
 * nothing runs that uses the keys. */
static void key_import_replace(struct request *r, const uint8_t master[KEYS_MASTER_SIZE])
{
        struct daemon *d = r->daemon;
        struct index_stats st;
        struct repo_stats rs;

        if (d->config.key_file) {
                request_error(r, CTL_STATUS_DENIED,
                              "this node derives its key from key_file %s; edit the configuration instead",
                              d->config.key_file);
                return;
        }
        unsigned running = key_import_running(d);
        if (running > 0) {
                request_error(r, CTL_STATUS_BUSY,
                              "busy: %u snapshot%s running; import the key when chutectl status says idle",
                              running, running == 1 ? "" : "s");
                return;
        }
        int k = index_stats(d->index, &st);
        if (k < 0) {
                request_error_errno(r, k, "cannot read the index");
                return;
        }
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
        k = keyring_write_master(d, master);
        if (k < 0) {
                request_error_errno(r, k, "cannot write the master secret");
                return;
        }
        k = keyring_install(d, master);
        if (k >= 0)
                k = index_kv_set(d->index, KEYRING_CHECK_KV, d->keyring->check, sizeof(d->keyring->check));
        if (k < 0) {
                request_error_errno(r, k, "the new master secret is saved, but loading it failed; restart chuted");
                return;
        }
        log_notice("Imported a master secret from a recovery code; this node's id changed");
        request_reply(r, request_result(r));
}

/* A node started with --no-key: check the code against the data, save it,
 * load it and start backing up. */
static void key_import_load(struct request *r, const uint8_t master[KEYS_MASTER_SIZE])
{
        struct daemon *d = r->daemon;
        struct keys candidate;
        const char *how = NULL;

        int k = keys_derive(master, &candidate);
        if (k >= 0)
                k = keyring_matches(d, d->index, &candidate, &how);
        keys_wipe(&candidate);
        if (k < 0) {
                request_error_errno(r, k, "cannot check the key against %s", d->config.state_dir);
                return;
        }
        if (k == 0) {
                log_warning("Refused a key import: the key does not match %s (checked against %s)",
                            d->config.state_dir, how);
                request_error(r, CTL_STATUS_FAILED,
                              "wrong key: this recovery code does not open the backups in %s (checked against "
                              "%s); nothing was changed",
                              d->config.state_dir, how);
                return;
        }
        if (!d->config.key_file) {
                k = keyring_write_master(d, master);
                if (k < 0) {
                        request_error_errno(r, k, "cannot write the master secret");
                        return;
                }
        }
        k = keyring_install(d, master);
        if (k >= 0) {
                k = daemon_bring_up(d);
                if (k < 0) {
                        keyring_unload(d);
                        (void)daemon_open_index_only(d);
                }
        }
        if (k < 0) {
                request_error_errno(r, k, "the key matches, but the daemon cannot start with it");
                return;
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

        if (key_import_decode(r, master) < 0)
                return;
        if (r->daemon->have_key)
                key_import_replace(r, master);
        else
                key_import_load(r, master);
        crypto_wipe(master, sizeof(master));
}
