/* SPDX-License-Identifier: MIT */
/* chutectl entry point: global options (anywhere before "--"), the socket
 * choice (--socket, then $CHUTE_SOCKET, then the system and the user-mode
 * daemon's sockets from common/defaults.c), the verb table, help, and dispatch. Each verb lives in
 * ctl/verb-*.c; what they share in ctl/verb.c. */
#include "defaults.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verb.h"

static int verb_help(struct verb_context *c, int argc, char **argv);

static const struct verb verbs[] = {
        { "status", verb_status, "status" },
        { "add", verb_add, "add PATH [--exclude PATTERN]..." },
        { "remove", verb_remove, "remove PATH" },
        { "paths", verb_paths, "paths" },
        { "snapshot", verb_snapshot, "snapshot [PATH]" },
        { "snapshots", verb_snapshots, "snapshots [--root PATH]" },
        { "ls", verb_ls, "ls SNAP[:PATH] [-R]" },
        { "cat", verb_cat, "cat SNAP:PATH" },
        { "restore", verb_restore, "restore SNAP[:PATH] TARGET [--overwrite] [--verify]" },
        { "diff", verb_diff, "diff SNAP1 SNAP2 [PATH]" },
        { "forget", verb_forget,
          "forget [SNAP] [--root PATH] [--keep-last|-hourly|-daily|-weekly|-monthly|-yearly N]\n"
          "         [--keep-within DURATION] [--dry-run]" },
        { "stores", verb_stores, "stores" },
        { "verify", verb_verify, "verify --store NAME" },
        { "recover", verb_recover, "recover STORE" },
        { "check", verb_check, "check [--read-data | --read-data-subset N/T|P%] [--repair]" },
        { "reindex", verb_reindex, "reindex [--from STORE]" },
        { "prune", verb_prune, "prune [--dry-run] [--max-unused PERCENT] [--max-repack SIZE]" },
        { "id", verb_id, "id" },
        { "key", verb_key, "key export | key import [--force] CODE" },
        { "peer", verb_peer,
          "peer add NAME ADDRESS|- ID [--quota SIZE] [--upload-limit RATE] [--download-limit RATE]\n"
          "  peer set NAME [--upload-limit RATE] [--download-limit RATE]\n"
          "  peer remove NAME|ID\n"
          "  peer approve ID [--name NAME] [--quota SIZE]" },
        { "peers", verb_peers, "peers" },
        { "store", verb_store,
          "store add NAME s3 --endpoint URL --bucket B --access-key-file F --secret-key-file F\n"
          "      [--prefix P] [--region R] [--virtual-host] [--object-lock-days N]\n"
          "  store remove NAME" },
        { "log-level", verb_log_level, "log-level [LEVEL]" },
        { "version", verb_version, "version" },
        { "api-token", verb_api_token, "api-token [--rotate]" },
        { "help", verb_help, "help" },
};

static void print_help(FILE *f)
{
        fprintf(f, "Usage: chutectl [--socket PATH] [--json] VERB [ARGS]\n"
                   "Control chuted, the continuous backup daemon.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %s\n", verbs[i].synopsis);
        fprintf(f, "\nSNAP is a snapshot id prefix (hex) or \"latest\"; PATH is a path as on this\n"
                   "machine (relative paths are taken from the current directory, or from the\n"
                   "snapshot's root in SNAP:PATH). Options:\n"
                   "  --socket PATH  chuted's control socket (also $CHUTE_SOCKET)\n"
                   "  --json         print one JSON document on stdout\n"
                   "  --version      print chutectl's version\n"
                   "Exit status: 0 ok, 1 failed, 2 usage error, 3 chuted not reachable.\n"
                   "See chutectl(1).\n");
}

static int verb_help(struct verb_context *c, int argc, char **argv)
{
        print_help(stdout);
        return verb_flush();
}

/* With no --socket and no $CHUTE_SOCKET, two places are tried: as root the
 * system daemon's socket, then the user-mode daemon's (./quickstart run);
 * as anyone else their own user daemon's, then the system daemon's (which
 * members of group "chute" may use). */
static void default_sockets(char **ret_first, char **ret_second)
{
        uid_t uid = getuid();
        char *user = defaults_user_socket_path(uid), *system = strdup(DEFAULTS_SYSTEM_SOCKET);

        if (!system)
                abort(); /* as defaults_*() do on out-of-memory */

        *ret_first = uid == 0 ? system : user;
        *ret_second = uid == 0 ? user : system;
}

int main(int argc, char **argv)
{
        struct verb_context c = { 0 };
        _cleanup_free_ char **rest = calloc((size_t)argc + 1, sizeof(*rest));
        _cleanup_free_ char *socket_default = NULL, *socket_second = NULL;
        const char *socket_opt = NULL, *env;
        int n = 0, ex;
        bool dashdash = false;

        signal(SIGPIPE, SIG_IGN);
        if (!rest) {
                fputs("chutectl: out of memory\n", stderr);
                return EXIT_FAILED;
        }
        /* global options anywhere up to "--"; the rest goes to the verb */
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (dashdash || a[0] != '-') {
                        rest[n++] = argv[i];
                        continue;
                }
                if (!strcmp(a, "--")) {
                        dashdash = true;
                        if (n > 0)
                                rest[n++] = argv[i];
                } else if (!strcmp(a, "--json")) {
                        c.json = true;
                } else if (!strcmp(a, "--socket")) {
                        if (i + 1 >= argc)
                                return verb_usage("option --socket needs a path");
                        socket_opt = argv[++i];
                } else if (!strncmp(a, "--socket=", 9)) {
                        socket_opt = a + 9;
                } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        print_help(stdout);
                        return verb_flush();
                } else if (!strcmp(a, "--version") && n == 0) {
                        printf("chutectl %s\n", PACKAGE_VERSION);
                        return verb_flush();
                } else if (n == 0) {
                        return verb_usage("unknown option %s", a);
                } else {
                        rest[n++] = argv[i]; /* the verb's own option */
                }
        }
        if (n == 0)
                return verb_usage("no verb given");
        if (socket_opt && !*socket_opt)
                return verb_usage("--socket needs a non-empty path");
        env = getenv("CHUTE_SOCKET");
        if (socket_opt)
                c.socket_path = socket_opt;
        else if (env && *env)
                c.socket_path = env;
        else {
                default_sockets(&socket_default, &socket_second);
                c.socket_path = socket_default;
                c.socket_second = socket_second;
        }
        output_progress_init(&c.progress, STDERR_FILENO);
        if (!c.json && strcmp(rest[0], "cat") != 0)
                (void)output_filter_terminal(); /* raw bytes only where they are asked for */

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (strcmp(rest[0], verbs[i].name))
                        continue;
                ex = verbs[i].run(&c, n, rest);
                client_free(c.client);
                return ex;
        }
        return verb_usage("unknown verb \"%s\"", rest[0]);
}
