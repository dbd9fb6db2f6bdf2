/* SPDX-License-Identifier: MIT */
/* Tests for daemon/config.c: defaults for root and users (XDG variables),
 * every key, repeated paths, and the exact FILE:LINE message of each error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "defaults.h"
#include "settings.h"
#include "compress.h"
#include "crypto.h"
#include "parse.h"

static void clear_xdg(void)
{
        unsetenv("XDG_STATE_HOME");
        unsetenv("XDG_RUNTIME_DIR");
        unsetenv("XDG_CONFIG_HOME");
}

Test(config, defaults_root)
{
        struct settings c;

        setenv("XDG_STATE_HOME", "/nowhere/state", 1);
        settings_init_defaults(&c, 0);
        cr_assert_eq(c.system_mode, 1);
        cr_assert_str_eq(c.state_dir, "/var/lib/chute");
        cr_assert_str_eq(c.socket_path, "/run/chute/chuted.sock");
        cr_assert_null(c.file);
        cr_assert_eq(c.log_level, LOG_INFO);
        cr_assert_eq(c.workers, 0);
        cr_assert_eq(c.cipher, 0);
        cr_assert_eq(c.compression_level, COMPRESS_LEVEL_DEFAULT);
        cr_assert_eq(COMPRESS_LEVEL_DEFAULT, 3);
        cr_assert_null(c.key_file);
        cr_assert_eq(c.one_file_system, 1);
        cr_assert_str_eq(c.socket_group, "chute");
        cr_assert_eq(c.quiet_period_ns, 2 * NSEC_PER_SEC);
        cr_assert_eq(c.max_delay_ns, 60 * NSEC_PER_SEC);
        cr_assert_eq(c.rescan_interval_ns, 3600 * NSEC_PER_SEC);
        cr_assert_eq(c.n_watch, 0);
        cr_assert_eq(c.retention.keep_within_ns, 3600 * NSEC_PER_SEC);
        cr_assert_eq(c.retention.keep_last, 0);
        cr_assert_eq(c.retention.keep_hourly, 48);
        cr_assert_eq(c.retention.keep_daily, 30);
        cr_assert_eq(c.retention.keep_weekly, 52);
        cr_assert_eq(c.retention.keep_monthly, RETENTION_UNLIMITED);
        cr_assert_eq(c.retention.keep_yearly, 0);
        cr_assert_eq(c.retention_auto, 1);
        cr_assert_str_eq(settings_default_path(0), SYSCONFDIR "/chute/chuted.conf");
        settings_done(&c);
        cr_assert_null(c.state_dir);
}

Test(config, defaults_user_xdg)
{
        struct settings c;

        setenv("HOME", "/home/ann", 1);
        setenv("XDG_STATE_HOME", "/x/state", 1);
        setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
        setenv("XDG_CONFIG_HOME", "/x/config", 1);
        settings_init_defaults(&c, 1000);
        cr_assert_eq(c.system_mode, 0);
        cr_assert_str_eq(c.state_dir, "/x/state/chute");
        cr_assert_str_eq(c.socket_path, "/run/user/1000/chute/chuted.sock");
        cr_assert_str_eq(settings_default_path(1000), "/x/config/chute/chuted.conf");
        settings_done(&c);
}

Test(config, defaults_user_without_xdg)
{
        struct settings c;

        clear_xdg();
        setenv("HOME", "/home/ann", 1);
        settings_init_defaults(&c, 1000);
        cr_assert_str_eq(c.state_dir, "/home/ann/.local/state/chute");
        cr_assert_str_eq(c.socket_path, "/home/ann/.local/state/chute/chuted.sock");
        cr_assert_str_eq(settings_default_path(1000), "/home/ann/.config/chute/chuted.conf");
        settings_done(&c);

        /* Relative XDG values are ignored, as the XDG spec says. */
        setenv("XDG_STATE_HOME", "relative/state", 1);
        setenv("XDG_RUNTIME_DIR", "run", 1);
        settings_init_defaults(&c, 1000);
        cr_assert_str_eq(c.state_dir, "/home/ann/.local/state/chute");
        cr_assert_str_eq(c.socket_path, "/home/ann/.local/state/chute/chuted.sock");
        settings_done(&c);
}

Test(config, every_key)
{
        struct settings c;
        char *error = NULL;
        const char *text =
                "# a comment\n"
                "; another\n"
                "[daemon]\n"
                "state_dir = /srv/chute\n"
                "socket = /run/c.sock\n"
                "log_level = debug\n"
                "workers = 6\n"
                "cipher = chacha20-poly1305\n"
                "compression_level = 19\n"
                "key_file = /etc/chute/master.key\n"
                "socket_group = backup\n"
                "control_max_clients = 8\n"
                "control_idle_timeout = 90s\n"
                "\n"
                "[backup]\n"
                "  one_file_system = no\n"
                "[watch]\n"
                "quiet_period = 500ms\n"
                "max_delay = 2m\n"
                "rescan_interval = 1.5h ; inline comment\n"
                "path = /home\n"
                "\tpath = /srv/data with space\n"
                "path = /home\n"
                "[retention]\n"
                "keep_within = 0\n"
                "keep_last = 5\n"
                "keep_hourly = unlimited\n"
                "keep_daily = -1\n"
                "keep_weekly = 0\n"
                "keep_monthly = 1000000\n"
                "keep_yearly = UNLIMITED\n"
                "auto = no\n"
                "[peer]\n"
                "listen = 127.0.0.1:4001\n"
                "name = attic\n"
                "quota = 20G\n"
                "delete_delay = 7d\n"
                "window = 1M\n"
                "[replication]\n"
                "copies = 2\n"
                "upload_limit = 10M\n"
                "download_limit = 1G\n"
                "prove_interval = 12h\n"
                "prove_count = 5\n"
                "local_copy = full\n"
                "cache_size = 2G\n";

        clear_xdg();
        setenv("HOME", "/home/ann", 1);
        settings_init_defaults(&c, 1000);
        cr_assert_eq(settings_load_string(&c, text, "t.conf", &error), 0, "%s", error ? error : "");
        cr_assert_null(error);
        cr_assert_str_eq(c.state_dir, "/srv/chute");
        cr_assert_str_eq(c.socket_path, "/run/c.sock");
        cr_assert_eq(c.log_level, LOG_DEBUG);
        cr_assert_eq(c.workers, 6);
        cr_assert_eq(c.cipher, CRYPTO_CIPHER_CHACHA20_POLY1305);
        cr_assert_eq(c.compression_level, 19);
        cr_assert_str_eq(c.key_file, "/etc/chute/master.key");
        cr_assert_str_eq(c.socket_group, "backup");
        cr_assert_eq(c.control_max_clients, 8);
        cr_assert_eq(c.control_idle_timeout_ns, 90 * NSEC_PER_SEC);
        cr_assert_eq(c.one_file_system, 0);
        cr_assert_eq(c.quiet_period_ns, 500 * NSEC_PER_MSEC);
        cr_assert_eq(c.max_delay_ns, 120 * NSEC_PER_SEC);
        cr_assert_eq(c.rescan_interval_ns, 5400 * NSEC_PER_SEC);
        cr_assert_eq(c.n_watch, 2, "duplicate path kept: %zu", c.n_watch);
        cr_assert_str_eq(c.watch[0], "/home");
        cr_assert_str_eq(c.watch[1], "/srv/data with space");
        cr_assert_eq(c.retention.keep_within_ns, 0);
        cr_assert_eq(c.retention.keep_last, 5);
        cr_assert_eq(c.retention.keep_hourly, RETENTION_UNLIMITED);
        cr_assert_eq(c.retention.keep_daily, RETENTION_UNLIMITED);
        cr_assert_eq(c.retention.keep_weekly, 0);
        cr_assert_eq(c.retention.keep_monthly, 1000000);
        cr_assert_eq(c.retention.keep_yearly, RETENTION_UNLIMITED);
        cr_assert_eq(c.retention_auto, 0);
        cr_assert_str_eq(c.peer_listen, "127.0.0.1:4001");
        cr_assert_str_eq(c.node_name, "attic");
        cr_assert_eq(c.peer_quota, 20ull << 30);
        cr_assert_eq(c.delete_delay_ns, 7 * NSEC_PER_DAY);
        cr_assert_eq(c.peer_window, 1u << 20);
        cr_assert_eq(c.copies, 2);
        cr_assert_eq(c.upload_limit, 10u << 20);
        cr_assert_eq(c.download_limit, 1u << 30);
        cr_assert_eq(c.prove_interval_ns, 12 * NSEC_PER_HOUR);
        cr_assert_eq(c.prove_count, 5);
        cr_assert_eq(c.local_copy, SETTINGS_LOCAL_FULL);
        cr_assert_eq(c.cache_size, 2ull << 30);
        cr_assert_eq(settings_load_string(&c, "[replication]\nlocal_copy = cache\ncache_size = 24M\n",
                                          "c.conf", &error), 0, "%s", error ? error : "");
        cr_assert_eq(c.local_copy, SETTINGS_LOCAL_CACHE);
        cr_assert_eq(c.cache_size, 24ull << 20);
        cr_assert_eq(settings_load_string(&c, "[peer]\nlisten = none\n[replication]\ncopies = all\n",
                                          "n.conf", &error), 0);
        cr_assert_null(c.peer_listen, "none disables the listener");
        cr_assert_eq(c.copies, 0);
        cr_assert_eq(settings_load_string(&c, "[retention]\nkeep_within = 7d\n", "r.conf", &error), 0);
        cr_assert_eq(c.retention.keep_within_ns, 7 * NSEC_PER_DAY);
        cr_assert_eq(settings_load_string(&c, "[daemon]\ncontrol_idle_timeout = 0\n", "r.conf", &error), 0);
        cr_assert_eq(c.control_idle_timeout_ns, 0, "0 turns the idle timeout off");

        /* A second file overrides single keys and adds roots. */
        cr_assert_eq(settings_load_string(&c, "[daemon]\ncipher = aes-256-gcm\nlog_level = 4\n"
                                            "compression_level = 0\n[watch]\npath = /etc\n",
                                        "u.conf", &error), 0);
        cr_assert_eq(c.cipher, CRYPTO_CIPHER_AES256_GCM);
        cr_assert_eq(c.log_level, LOG_WARNING);
        cr_assert_eq(c.compression_level, 0);
        cr_assert_eq(c.n_watch, 3);
        cr_assert_eq(settings_load_string(&c, "[daemon]\ncompression_level = auto\n", "a.conf", &error), 0);
        cr_assert_eq(c.compression_level, COMPRESS_LEVEL_DEFAULT, "auto is the default level");
        cr_assert_eq(settings_load_string(&c, "[daemon]\ncompression_level = 0\n", "z.conf", &error), 0);
        cr_assert_str_eq(c.watch[2], "/etc");
        settings_done(&c);
}

static void expect_error(const char *text, const char *message)
{
        struct settings c;
        char *error = NULL;

        settings_init_defaults(&c, 0);
        cr_assert_eq(settings_load_string(&c, text, "x.conf", &error), -EINVAL, "accepted: %s", text);
        cr_assert_not_null(error);
        cr_assert_str_eq(error, message);
        free(error);
        settings_done(&c);
}

Test(config, errors)
{
        expect_error("[daemon]\nstate_dir = /a\n\n\n\n\ncompresion_level = 3\n",
                     "x.conf:7: unknown key \"compresion_level\" in [daemon]");
        expect_error("[watch]\n\nquiet_period = 2 parsecs\n",
                     "x.conf:3: bad duration \"2 parsecs\" for quiet_period");
        expect_error("[watch]\nmax_delay = 0\n", "x.conf:2: max_delay must be longer than 0");
        expect_error("[daemon]\nstate_dir = var/lib/chute\n",
                     "x.conf:2: state_dir must be an absolute path, not \"var/lib/chute\"");
        expect_error("[watch]\npath = home\n",
                     "x.conf:2: path must be an absolute path, not \"home\"");
        expect_error("[daemon]\nkey_file = ./k\n",
                     "x.conf:2: key_file must be an absolute path, not \"./k\"");
        expect_error("[daemon]\nsocket =\n", "x.conf:2: empty value for socket");
        expect_error("[daemons]\nworkers = 1\n", "x.conf:1: unknown section [daemons]");
        expect_error("\n[nothing]\n", "x.conf:2: unknown section [nothing]");
        expect_error("workers = 1\n", "x.conf:1: key \"workers\" outside any section");
        expect_error("[backup]\nworkers = 1\n", "x.conf:2: unknown key \"workers\" in [backup]");
        expect_error("[daemon]\nlog_level = loud\n",
                     "x.conf:2: bad log level \"loud\" for log_level (err, warning, notice, info or debug)");
        expect_error("[daemon]\nlog_level = 9\n",
                     "x.conf:2: bad log level \"9\" for log_level (err, warning, notice, info or debug)");
        expect_error("[daemon]\nworkers = -1\n",
                     "x.conf:2: bad value \"-1\" for workers (0 for one per core, up to 1024)");
        expect_error("[daemon]\nworkers = 99999999999999999999\n",
                     "x.conf:2: bad value \"99999999999999999999\" for workers (0 for one per core, up to 1024)");
        expect_error("[daemon]\ncompression_level = 20\n",
                     "x.conf:2: bad value \"20\" for compression_level (auto, or 0 to 19)");
        expect_error("[daemon]\ncipher = rot13\n",
                     "x.conf:2: unknown cipher \"rot13\" for cipher (auto, aes-256-gcm or chacha20-poly1305)");
        expect_error("[daemon]\nsocket_group = a b\n",
                     "x.conf:2: bad group name \"a b\" for socket_group");
        expect_error("[daemon]\ncontrol_max_clients = 0\n",
                     "x.conf:2: bad value \"0\" for control_max_clients (1 to 4096)");
        expect_error("[daemon]\ncontrol_max_clients = 4097\n",
                     "x.conf:2: bad value \"4097\" for control_max_clients (1 to 4096)");
        expect_error("[daemon]\ncontrol_idle_timeout = soon\n",
                     "x.conf:2: bad duration \"soon\" for control_idle_timeout");
        expect_error("[backup]\none_file_system = maybe\n",
                     "x.conf:2: bad boolean \"maybe\" for one_file_system (yes or no)");
        expect_error("[retention]\nkeep_daily = -2\n",
                     "x.conf:2: bad value \"-2\" for keep_daily (0 to 1000000, or unlimited)");
        expect_error("[retention]\nkeep_last = many\n",
                     "x.conf:2: bad value \"many\" for keep_last (0 to 1000000, or unlimited)");
        expect_error("[retention]\nkeep_weekly = 1000001\n",
                     "x.conf:2: bad value \"1000001\" for keep_weekly (0 to 1000000, or unlimited)");
        expect_error("[retention]\nkeep_within = forever\n",
                     "x.conf:2: bad duration \"forever\" for keep_within");
        expect_error("[retention]\nauto = sometimes\n",
                     "x.conf:2: bad boolean \"sometimes\" for auto (yes or no)");
        expect_error("[retention]\nkeep_minutely = 5\n",
                     "x.conf:2: unknown key \"keep_minutely\" in [retention]");
        expect_error("[peer]\nlisten = 2001\n",
                     "x.conf:2: bad address \"2001\" for listen (ADDRESS:PORT, or none)");
        expect_error("[peer]\nlisten = 0.0.0.0:70000\n",
                     "x.conf:2: bad address \"0.0.0.0:70000\" for listen (ADDRESS:PORT, or none)");
        expect_error("[peer]\nquota = lots\n",
                     "x.conf:2: bad size \"lots\" for quota (e.g. 500M, 20G, 0)");
        expect_error("[peer]\nwindow = 1K\n", "x.conf:2: window must be between 64K and 1G");
        expect_error("[peer]\nname = 0123456789012345678901234567890123456789012345678901234567890123456789\n",
                     "x.conf:2: bad name \"0123456789012345678901234567890123456789012345678901234567890123456789\" (1 to 64 characters)");
        expect_error("[replication]\ncopies = 65\n",
                     "x.conf:2: bad value \"65\" for copies (all, or 1 to 64)");
        expect_error("[replication]\nlocal_copy = some\n",
                     "x.conf:2: bad value \"some\" for local_copy (full or cache)");
        expect_error("[replication]\ncache_size = lots\n",
                     "x.conf:2: bad size \"lots\" for cache_size (e.g. 500M, 20G, 0)");
        expect_error("[replication]\nprove_interval = 0\n",
                     "x.conf:2: prove_interval must be longer than 0");
        /* a duration that a signed ns clock cannot add: refused, not wrapped */
        expect_error("[peer]\ndelete_delay = 150000d\n",
                     "x.conf:2: delete_delay = 150000d is too long (at most 53375 days)");
        expect_error("[prune]\ngrace = 100000d\n", "x.conf:2: grace = 100000d is too long (at most 53375 days)");
        expect_error("[peer]\nname = caf\xe9\n", "x.conf:2: bad name: not valid UTF-8");
        /* inih's own syntax errors, in the same FILE:LINE form. */
        expect_error("[daemon]\nworkers 4\n",
                     "x.conf:2: syntax error, expected \"[section]\" or \"key = value\"");
        expect_error("[daemon\nworkers = 4\n",
                     "x.conf:1: syntax error, expected \"[section]\" or \"key = value\"");
        /* The first error wins, whichever kind it is. */
        expect_error("[daemon]\nbogus\nworkers = x\n",
                     "x.conf:2: syntax error, expected \"[section]\" or \"key = value\"");
        expect_error("[daemon]\nworkers = x\nbogus\n",
                     "x.conf:2: bad value \"x\" for workers (0 for one per core, up to 1024)");
}

/* chuted.conf(5): [prune] interval = 0 never prunes by itself */
Test(config, prune_interval_zero_is_never)
{
        struct settings c;
        char *error = NULL;

        settings_init_defaults(&c, 0);
        cr_assert_eq(settings_load_string(&c, "[prune]\ninterval = 0\n", "x.conf", &error), 0, "%s", error);
        cr_assert_eq(c.prune_interval_ns, 0);
        settings_done(&c);
}

Test(config, long_line_is_an_error_not_a_split)
{
        char text[600];

        memcpy(text, "[watch]\npath = /", 16);
        memset(text + 16, 'a', 400);
        strcpy(text + 416, "\n");
        expect_error(text, "x.conf:2: line too long (more than 197 characters)");
}

Test(config, files)
{
        char dir[] = "/tmp/chute-config-XXXXXX", path[64], *error = NULL;
        struct settings c;
        FILE *f;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/chuted.conf", dir);
        settings_init_defaults(&c, 0);

        /* Missing: fine unless it must exist. */
        cr_assert_eq(settings_load_file(&c, path, 0, &error), 0);
        cr_assert_null(c.file);
        cr_assert_str_eq(c.state_dir, "/var/lib/chute");
        cr_assert_eq(settings_load_file(&c, path, 1, &error), -ENOENT);
        cr_assert_not_null(error);
        cr_assert(strstr(error, "No such file"), "%s", error);
        free(error);
        error = NULL;

        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs("[daemon]\r\nworkers = 3\r\n[watch]\nquiet_period = 1\n", f);
        fclose(f);
        cr_assert_eq(settings_load_file(&c, path, 1, &error), 0, "%s", error ? error : "");
        cr_assert_str_eq(c.file, path);
        cr_assert_eq(c.workers, 3);
        cr_assert_eq(c.quiet_period_ns, NSEC_PER_SEC);

        f = fopen(path, "w");
        fputs("[daemon]\nworkers = 3\nnope = 1\n", f);
        fclose(f);
        cr_assert_eq(settings_load_file(&c, path, 1, &error), -EINVAL);
        char want[128];
        snprintf(want, sizeof(want), "%s:3: unknown key \"nope\" in [daemon]", path);
        cr_assert_str_eq(error, want);
        free(error);
        error = NULL;

        /* A directory is not a config file. */
        cr_assert_lt(settings_load_file(&c, dir, 1, &error), 0);
        cr_assert_not_null(error);
        free(error);

        settings_done(&c);
        unlink(path);
        rmdir(dir);
}

Test(config, log_level_names)
{
        cr_assert_eq(parse_log_level("err"), LOG_ERR);
        cr_assert_eq(parse_log_level("error"), LOG_ERR);
        cr_assert_eq(parse_log_level("warning"), LOG_WARNING);
        cr_assert_eq(parse_log_level("NOTICE"), LOG_NOTICE);
        cr_assert_eq(parse_log_level("info"), LOG_INFO);
        cr_assert_eq(parse_log_level("debug"), LOG_DEBUG);
        cr_assert_eq(parse_log_level("3"), LOG_ERR);
        cr_assert_eq(parse_log_level("7"), LOG_DEBUG);
        cr_assert_eq(parse_log_level("2"), -EINVAL);
        cr_assert_eq(parse_log_level("8"), -EINVAL);
        cr_assert_eq(parse_log_level("77"), -EINVAL);
        cr_assert_eq(parse_log_level(""), -EINVAL);
        cr_assert_eq(parse_log_level("verbose"), -EINVAL);
}

Test(config, add_watch)
{
        struct settings c;

        settings_init_defaults(&c, 0);
        cr_assert_eq(settings_add_watch(&c, "relative"), -EINVAL);
        cr_assert_eq(settings_add_watch(&c, "/a"), 0);
        cr_assert_eq(settings_add_watch(&c, "/a"), 0);
        cr_assert_eq(settings_add_watch(&c, "/b"), 0);
        cr_assert_eq(c.n_watch, 2);
        settings_done(&c);
}

/* etc/chuted.conf is all comments: with every "#key" uncommented it must
 * parse and give back the built-in defaults (so the sample cannot lie). */
Test(config, sample_file_matches_defaults)
{
        const char *srcdir = getenv("CHUTE_SRCDIR");
        char path[4096], *line = NULL, *text = NULL, *error = NULL;
        size_t size = 0, text_len = 0, uncommented = 0;
        struct settings defaults, c;
        FILE *f, *out;

        snprintf(path, sizeof(path), "%s/etc/chuted.conf", srcdir ? srcdir : ".");
        f = fopen(path, "re");
        cr_assert_not_null(f, "cannot open %s", path);
        out = open_memstream(&text, &text_len);
        while (getline(&line, &size, f) > 0) {
                /* "#key = value" -> "key = value"; prose comments ("# ...") stay. */
                if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && strstr(line, " = ")) {
                        if (strncmp(line, "#path", 5) == 0 || strncmp(line, "#key_file", 9) == 0)
                                continue; /* no default value */
                        fputs(line + 1, out);
                        uncommented++;
                } else
                        fputs(line, out);
        }
        fclose(out);
        fclose(f);
        free(line);
        cr_assert_eq(uncommented, 42, "%zu keys with defaults in the sample", uncommented);

        settings_init_defaults(&defaults, 0);
        settings_init_defaults(&c, 0);
        cr_assert_eq(settings_load_string(&c, text, path, &error), 0, "%s", error ? error : "");
        cr_assert_str_eq(c.state_dir, defaults.state_dir);
        cr_assert_str_eq(c.socket_path, defaults.socket_path);
        cr_assert_str_eq(c.socket_group, defaults.socket_group);
        cr_assert_eq(c.control_max_clients, defaults.control_max_clients);
        cr_assert_eq(c.control_idle_timeout_ns, defaults.control_idle_timeout_ns);
        cr_assert_eq(c.log_level, defaults.log_level);
        cr_assert_eq(c.workers, defaults.workers);
        cr_assert_eq(c.cipher, defaults.cipher);
        cr_assert_eq(c.compression_level, defaults.compression_level);
        cr_assert_eq(c.one_file_system, defaults.one_file_system);
        cr_assert_eq(c.quiet_period_ns, defaults.quiet_period_ns);
        cr_assert_eq(c.max_delay_ns, defaults.max_delay_ns);
        cr_assert_eq(c.rescan_interval_ns, defaults.rescan_interval_ns);
        cr_assert_eq(c.poll_interval_ns, defaults.poll_interval_ns);
        cr_assert_eq(memcmp(&c.retention, &defaults.retention, sizeof(c.retention)), 0);
        cr_assert_eq(c.retention_auto, defaults.retention_auto);
        cr_assert_eq(c.prune_interval_ns, defaults.prune_interval_ns);
        cr_assert_eq(c.prune_grace_ns, defaults.prune_grace_ns);
        cr_assert_eq(c.prune_max_unused, defaults.prune_max_unused);
        cr_assert_eq(c.prune_max_repack, defaults.prune_max_repack);
        cr_assert_str_eq(c.peer_listen, defaults.peer_listen);
        cr_assert_eq(c.peer_quota, defaults.peer_quota);
        cr_assert_eq(c.delete_delay_ns, defaults.delete_delay_ns);
        cr_assert_eq(c.peer_window, defaults.peer_window);
        cr_assert_eq(c.copies, defaults.copies);
        cr_assert_eq(c.upload_limit, defaults.upload_limit);
        cr_assert_eq(c.download_limit, defaults.download_limit);
        cr_assert_eq(c.prove_interval_ns, defaults.prove_interval_ns);
        cr_assert_eq(c.prove_count, defaults.prove_count);
        cr_assert_eq(c.local_copy, defaults.local_copy);
        cr_assert_eq(c.cache_size, defaults.cache_size);
        cr_assert_str_eq(c.api_listen, defaults.api_listen);
        cr_assert_eq(c.api_max_clients, defaults.api_max_clients);
        cr_assert_eq(c.api_timeout_ns, defaults.api_timeout_ns);
        cr_assert_eq(c.api_metrics_public, defaults.api_metrics_public);
        free(text);
        settings_done(&c);
        settings_done(&defaults);
}

/* [store NAME] sections: kept as the stores table's config lines; refused
 * when incomplete, repeated, or with keys an S3 store does not have. */
Test(config, store_sections)
{
        struct settings c;
        char *error = NULL;

        settings_init_defaults(&c, 0);
        cr_assert_eq(settings_load_string(&c,
                                          "[store off-site]\nendpoint = http://127.0.0.1:7480\nbucket = b-1\n"
                                          "access_key_file = /k/a\nsecret_key_file = /k/s\nvirtual_host = yes\n"
                                          "[store second]\nkind = s3\nendpoint = https://x\nbucket = b-2\n"
                                          "access_key_file = /a\nsecret_key_file = /s\nobject_lock_days = 7\n",
                                          "t", &error),
                     0, "%s", error ? error : "");
        cr_assert_eq(c.n_stores, 2);
        cr_assert_str_eq(c.stores[0].name, "off-site");
        cr_assert_str_eq(c.stores[0].config, "endpoint=http://127.0.0.1:7480\nbucket=b-1\naccess_key_file=/k/a\n"
                                             "secret_key_file=/k/s\nvirtual_host=1\n");
        cr_assert(strstr(c.stores[1].config, "object_lock_days=7\n"));
        settings_done(&c);

        static const char *const bad[] = {
                "[store x]\nendpoint = http://h\nbucket = bbb\naccess_key_file = /a\n", /* no secret */
                "[store x]\nendpoint = http://h\nendpoint = http://i\n",
                "[store x]\nwhat = 1\n",
                "[store x]\nkind = peer\n",
                "[store x]\naccess_key_file = relative\n",
                "[store x]\nvirtual_host = maybe\n",
                "[store x]\nobject_lock_days = -1\n",
                "[store bad name!]\nbucket = b\n",
                "[store ]\nbucket = b\n",
                "[store x]\nendpoint = http://h\nbucket = bbb\naccess_key_file = /a\nsecret_key_file = /s\n"
                "[store y]\nbucket = c\n[store x]\nregion = r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                settings_init_defaults(&c, 0);
                error = NULL;
                cr_assert_eq(settings_load_string(&c, bad[i], "t", &error), -EINVAL, "case %zu", i);
                cr_assert_not_null(error);
                free(error);
                settings_done(&c);
        }
}

/* The user-mode socket chutectl tries second as root (./quickstart run's). */
Test(config, defaults_user_socket_for_root)
{
        char *p;

        clear_xdg();
        setenv("HOME", "/root", 1);
        p = defaults_user_socket_path(0);
        cr_assert_str_eq(p, "/root/.local/state/chute/chuted.sock");
        free(p);
        setenv("XDG_RUNTIME_DIR", "/run/user/0", 1);
        p = defaults_user_socket_path(0);
        cr_assert_str_eq(p, "/run/user/0/chute/chuted.sock");
        free(p);
        p = defaults_socket_path(0);
        cr_assert_str_eq(p, DEFAULTS_SYSTEM_SOCKET);
        free(p);
        clear_xdg();
}

Test(config, api_section)
{
        struct settings c;
        char *error = NULL;

        settings_init_defaults(&c, 0);
        cr_assert_str_eq(c.api_listen, "127.0.0.1:2002");
        cr_assert_eq(settings_load_string(&c, "[api]\nlisten = none\nmax_clients = 3\ntimeout = 5s\nmetrics_public = yes\n", "t", &error), 0);
        cr_assert_null(c.api_listen);
        cr_assert_eq(c.api_max_clients, 3);
        cr_assert_eq(c.api_timeout_ns, UINT64_C(5000000000));
        cr_assert_eq(c.api_metrics_public, 1);
        cr_assert_lt(settings_load_string(&c, "[api]\nlisten = 127.0.0.1\n", "t", &error), 0);
        cr_assert(strstr(error, "listen"), "%s", error);
        free(error);
        error = NULL;
        cr_assert_lt(settings_load_string(&c, "[api]\ntimeout = 0\n", "t", &error), 0);
        free(error);
        settings_done(&c);
}
