/* SPDX-License-Identifier: MIT */
/* chuted: parse the command line and config, then bring the daemon up in
 * order (umask and no core dumps, log, state dir, keys, identity, loop,
 * workers, repository, roots, peer hosting and listener, control socket,
 * signals, READY=1) and down in reverse. Without a key (--no-key) the
 * repository, roots and peers wait for key import. Runs in the foreground; systemd (or the user) supervises it. */
#include "parse.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "commands.h"
#include "ctl-server.h"
#include "daemon.h"
#include "crypto.h"
#include "identity.h"
#include "peer-host.h"
#include "peer-server.h"
#include "index.h"
#include "keyring.h"
#include "http-api.h"
#include "log.h"
#include "notify.h"
#include "cache.h"
#include "replicate.h"
#include "repo.h"
#include "root.h"
#include "state-dir.h"
#include "test-hook.h"
#include "watch.h"
#include "workers.h"

static void usage(FILE *f)
{
        fprintf(f, "usage: chuted [OPTIONS]\n"
                   "\n"
                   "Continuous, encrypted, deduplicated backup daemon. Runs in the foreground.\n"
                   "\n"
                   "  -c, --config FILE      configuration file (default /etc/chute/chuted.conf as root,\n"
                   "                         $XDG_CONFIG_HOME/chute/chuted.conf otherwise)\n"
                   "  -d, --state-dir DIR    state directory (index, keys, packs)\n"
                   "  -s, --socket PATH      control socket\n"
                   "  -l, --log-level LEVEL  err, warning, notice, info or debug\n"
                   "  -w, --watch DIR        watch DIR (added as a root at start; repeatable)\n"
                   "      --user             user-mode defaults even when run as root\n"
                   "      --no-key           when the master secret is missing, start without it and\n"
                   "                         wait for 'chutectl key import CODE' instead of refusing\n"
                   "  -h, --help             this help\n"
                   "  -V, --version          print the version\n"
                   "\n"
                   "See chuted(8) and chuted.conf(5).\n");
}

/* mkdir, then the mode as asked: the umask (077) must not narrow a
 * directory others need to reach, like the socket's. */
static int mkdir_mode(const char *path, mode_t mode)
{
        if (mkdir(path, mode) < 0)
                return errno == EEXIST ? 0 : -errno;
        return chmod(path, mode) < 0 ? -errno : 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                int r = mkdir_mode(p, 0755);
                if (r < 0)
                        return r;
                *s = '/';
        }
        return mkdir_mode(p, mode);
}

static int dirname_mkdir(const char *file, mode_t mode)
{
        _cleanup_free_ char *p = strdup(file);
        if (!p)
                return -ENOMEM;
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = '\0';
        return mkdir_p(p, mode);
}

/* How long systemd should wait for a bring-up that blocks the loop (the
 * repository re-indexes the packs it cannot match to the index). */
#define BRING_UP_TIMEOUT_USEC (UINT64_C(15) * 60 * 1000000)

/* Every few seconds, the readers' idle transactions end (repo_release_readers). */
#define READER_RELEASE_SEC 5

static void on_reader_release(evutil_socket_t fd, short what, void *arg)
{
        struct daemon *d = arg;
        (void)fd, (void)what;
        if (d->repo)
                repo_release_readers(d->repo);
}

static int daemon_bring_up_repo(struct daemon *d)
{
        struct repo *repo = NULL;
        struct index *nokey = d->index; /* kept until the repository is up */
        int r = test_hook_fail("bring-up") ? -EIO : repo_open(d, &repo);
        if (r < 0)
                return r;
        r = keyring_check_index(d, repo_index(repo));
        if (r < 0)
                goto fail;
        r = watch_new(d, &d->watch);
        if (r < 0) {
                log_error_errno(r, "Cannot set up inotify");
                goto fail;
        }
        d->repo = repo;
        d->index = repo_index(repo);
        d->reader_release = event_new(d->base, -1, EV_PERSIST, on_reader_release, d);
        if (!d->reader_release || event_add(d->reader_release, &(struct timeval){ READER_RELEASE_SEC, 0 }) < 0) {
                r = log_oom();
                goto fail;
        }
        r = replicate_start(d, &d->replicate);
        if (r < 0)
                goto fail;
        r = cache_start(d, &d->cache);
        if (r < 0)
                goto fail;
        /* friends' packs: hosting, then the listener that admits peers to it */
        r = peer_host_new(d, &d->peer_host);
        if (r < 0)
                goto fail;
        r = peer_server_new(d, &d->peer_server);
        if (r < 0)
                goto fail;
        /* last: its snapshots start on the workers at once, and the
         * failure path below closes the repository they read (it fails
         * only before it starts any) */
        r = root_start_all(d);
        if (r < 0)
                goto fail;
        /* up: the no-key connection (if any) gives way to the repository's */
        if (nokey)
                index_close(nokey);
        return 0;
fail:
        peer_server_free(d->peer_server);
        d->peer_server = NULL;
        peer_host_free(d->peer_host);
        d->peer_host = NULL;
        root_stop_all(d);
        cache_stop(d->cache);
        d->cache = NULL;
        replicate_stop(d->replicate);
        d->replicate = NULL;
        root_free_all(d);
        watch_free(d->watch);
        d->watch = NULL;
        if (d->reader_release)
                event_free(d->reader_release);
        d->reader_release = NULL;
        d->repo = NULL;
        d->index = nokey;
        repo_close(repo);
        return r;
}

int daemon_bring_up(struct daemon *d)
{
        notify_long_work_begin(BRING_UP_TIMEOUT_USEC);
        int r = daemon_bring_up_repo(d);
        notify_long_work_end();
        return r;
}

int daemon_open_index_only(struct daemon *d)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/index.db", d->config.state_dir) < 0)
                return log_oom();
        /* No index yet: leave it to the first start with a key, or the
         * next normal start would take the new index for data. */
        if (access(path, F_OK) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(-errno, "Cannot look up the index %s", path);
        }
        int r = index_open(path, 0, &d->index);
        if (r < 0)
                return log_error_errno(r, "Cannot open the index %s", path);
        return 0;
}

/* The control socket: the one the service manager passed (chuted.socket,
 * LISTEN_FDS/LISTEN_PID), or our own at the configured path. */
static int daemon_listen_control(struct daemon *d)
{
        struct sockaddr_un sa = {};
        socklen_t len = sizeof(sa);
        int n = sd_listen_fds(1), r;

        if (n < 0)
                log_warning_errno(n, "Cannot take the sockets passed by the service manager, ignoring");
        if (n <= 0) {
                r = dirname_mkdir(d->config.socket_path, 0755);
                if (r >= 0)
                        r = ctl_server_new(d, d->config.socket_path, &d->ctl);
                if (r < 0)
                        return log_error_errno(r, "Cannot listen on the control socket %s", d->config.socket_path);
                return 0;
        }
        if (n > 1)
                log_warning("The service manager passed %d sockets: the first is the control socket, ignoring the rest", n);
        int fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                return log_error_errno(-EINVAL, "The socket passed by the service manager is not a listening "
                                                "UNIX stream socket (check ListenStream= in chuted.socket)");
        /* libevent's listener needs it non-blocking; systemd passes it blocking */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(-errno, "Cannot make the passed control socket non-blocking");
        /* its path, for the log and status (the configured one is not used) */
        if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && len > offsetof(struct sockaddr_un, sun_path) &&
            sa.sun_path[0]) {
                char *path = strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
                if (path) {
                        free(d->config.socket_path);
                        d->config.socket_path = path;
                }
        }
        r = ctl_server_new_fd(d, fd, &d->ctl);
        if (r < 0)
                return log_error_errno(r, "Cannot listen on the control socket passed by the service manager");
        log_info("Control socket %s passed by the service manager", d->config.socket_path);
        return 0;
}

void daemon_stop(struct daemon *d)
{
        if (d->stopping)
                return;
        __atomic_store_n(&d->stopping, true, __ATOMIC_RELAXED); /* read by restore workers */
        notify_stopping();
        log_event(LOG_INFO, MSGID_DAEMON_STOPPING, NULL, "Stopping");
        root_stop_all(d);
        /* Give work in flight a moment; the loop exits when it is done or at 4 s. */
        struct timeval tv = {4, 0};
        event_base_loopexit(d->base, &tv);
        if (!root_busy(d))
                event_base_loopexit(d->base, NULL);
}

void daemon_update_status(struct daemon *d)
{
        char line[256];
        if (!d->have_key) {
                notify_status("no key loaded: chutectl key import CODE");
                return;
        }
        root_status_line(d, line, sizeof(line));
        notify_status("%s", line);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct daemon *d = arg;
        if (sig == SIGHUP) {
                notify_reloading();
                log_info("Reloading the configuration");
                struct settings fresh;
                _cleanup_free_ char *error = NULL;
                settings_init_defaults(&fresh, getuid());
                const char *file = d->config_file ? d->config_file : settings_default_path(getuid());
                int r = settings_load_file(&fresh, file, d->config_file != NULL, &error);
                if (r < 0) {
                        log_error("Keeping the old configuration: %s", error ? error : strerror(-r));
                } else {
                        /* paths that are open cannot change without a restart */
                        log_set_level(fresh.log_level);
                        d->config.log_level = fresh.log_level;
                        d->config.quiet_period_ns = fresh.quiet_period_ns;
                        d->config.max_delay_ns = fresh.max_delay_ns;
                        d->config.rescan_interval_ns = fresh.rescan_interval_ns;
                        d->config.poll_interval_ns = fresh.poll_interval_ns; /* from each root's next poll */
                        d->config.compression_level = fresh.compression_level;
                        if (d->repo)
                                repo_set_compression(d->repo, fresh.compression_level);
                        char *group = d->config.socket_group;
                        d->config.socket_group = fresh.socket_group;
                        fresh.socket_group = group; /* freed with fresh */
                        d->config.control_max_clients = fresh.control_max_clients;
                        d->config.control_idle_timeout_ns = fresh.control_idle_timeout_ns;
                        ctl_server_reload(d->ctl);
                }
                settings_done(&fresh);
                notify_ready_after_reload();
                daemon_update_status(d);
                return;
        }
        log_info("Received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        daemon_stop(d);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"state-dir", required_argument, NULL, 'd'},
                {"socket", required_argument, NULL, 's'},
                {"log-level", required_argument, NULL, 'l'},
                {"watch", required_argument, NULL, 'w'},
                {"user", no_argument, NULL, 'U'},
                {"no-key", no_argument, NULL, 'K'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        struct daemon d = {.start_ns = now_ns()};
        const char *opt_state = NULL, *opt_socket = NULL, *opt_level = NULL;
        char **opt_watch = calloc((size_t)argc + 1, sizeof(char *));
        size_t n_watch = 0;
        bool user_mode = false, no_key = false;
        int c, r, level = -1;

        /* Secrets: every file chuted creates is private unless it sets a
         * mode itself (the socket, restored files), and no core dump or
         * same-user ptrace can read the keys out of the process. */
        umask(077);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* and no core file at all: with fs.suid_dumpable = 2 a crash still
         * writes one, and per-thread key schedules live outside the
         * keyring's locked, undumpable page */
        (void)setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
        /* Open files: the soft limit up to the hard one, as systemd asks of
         * a service that needs more than 1024 (walks keep directories open
         * while they are listed ahead, peers and stores hold sockets). */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &nofile);
        }

        if (!opt_watch)
                return 1;
        while ((c = getopt_long(argc, argv, "c:d:s:l:w:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        d.config_file = optarg;
                        break;
                case 'd':
                        opt_state = optarg;
                        break;
                case 's':
                        opt_socket = optarg;
                        break;
                case 'l':
                        opt_level = optarg;
                        level = parse_log_level(optarg);
                        if (level < 0) {
                                fprintf(stderr, "chuted: bad log level \"%s\" (err, warning, notice, info, debug)\n",
                                        optarg);
                                free(opt_watch);
                                return 2;
                        }
                        break;
                case 'w':
                        opt_watch[n_watch++] = optarg;
                        break;
                case 'U':
                        user_mode = true;
                        break;
                case 'K':
                        no_key = true;
                        break;
                case 'h':
                        usage(stdout);
                        free(opt_watch);
                        return 0;
                case 'V':
                        printf("chuted %s\n", PACKAGE_VERSION);
                        free(opt_watch);
                        return 0;
                default:
                        usage(stderr);
                        free(opt_watch);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "chuted: unexpected argument \"%s\"\n", argv[optind]);
                usage(stderr);
                free(opt_watch);
                return 2;
        }

        uid_t mode_uid = user_mode && getuid() == 0 ? 65534 : getuid();
        settings_init_defaults(&d.config, mode_uid);
        if (user_mode && getuid() == 0) {
                /* root asked for user-mode paths: keep them, but it is still root */
                d.config.system_mode = 0;
        }
        {
                _cleanup_free_ char *error = NULL;
                const char *file = d.config_file ? d.config_file : settings_default_path(mode_uid);
                r = settings_load_file(&d.config, file, d.config_file != NULL, &error);
                if (r < 0) {
                        fprintf(stderr, "chuted: %s\n", error ? error : strerror(-r));
                        free(opt_watch);
                        settings_done(&d.config);
                        return 1;
                }
        }
        if (opt_state) {
                free(d.config.state_dir);
                d.config.state_dir = strdup(opt_state);
        }
        if (opt_socket) {
                free(d.config.socket_path);
                d.config.socket_path = strdup(opt_socket);
        }
        if (opt_level)
                d.config.log_level = level;
        for (size_t i = 0; i < n_watch; i++)
                settings_add_watch(&d.config, opt_watch[i]);
        free(opt_watch);

        log_open("chuted");
        log_set_level(d.config.log_level);

        r = mkdir_p(d.config.state_dir, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create the state directory %s", d.config.state_dir);
                goto out;
        }
        /* Before anything else touches the state dir: a refusal here must
         * leave it exactly as it was. */
        r = keyring_setup(&d, no_key);
        if (r < 0)
                goto out;
        r = state_dir_fix_modes(d.config.state_dir);
        if (r < 0)
                goto out;

        evthread_use_pthreads();
        d.base = event_base_new();
        if (!d.base) {
                r = log_oom();
                goto out;
        }
        r = workers_new(d.base, d.config.workers, &d.workers);
        if (r < 0) {
                log_error_errno(r, "Cannot start the worker pool");
                goto out;
        }
        r = d.have_key ? daemon_bring_up(&d) : daemon_open_index_only(&d);
        if (r < 0)
                goto out;

        r = http_api_new(&d, &d.http_api);
        if (r >= 0)
                r = daemon_listen_control(&d);
        if (r < 0)
                goto out;

        signal(SIGPIPE, SIG_IGN);
        d.sig_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
        d.sig_int = evsignal_new(d.base, SIGINT, on_signal, &d);
        d.sig_hup = evsignal_new(d.base, SIGHUP, on_signal, &d);
        if (!d.sig_term || !d.sig_int || !d.sig_hup || evsignal_add(d.sig_term, NULL) < 0 ||
            evsignal_add(d.sig_int, NULL) < 0 || evsignal_add(d.sig_hup, NULL) < 0) {
                r = log_oom();
                goto out;
        }

        notify_watchdog_start(d.base);
        notify_ready();
        daemon_update_status(&d);
        {
                _cleanup_free_ char *id = NULL;
                if (d.have_key)
                        identity_format_id(d.node_id, &id);
                log_event(LOG_INFO, MSGID_DAEMON_STARTED, NULL,
                          "chuted %s started: node %s, state %s, socket %s, %u workers", PACKAGE_VERSION,
                          id ? id : "none (no key loaded)", d.config.state_dir, d.config.socket_path,
                          workers_count(d.workers));
        }
        event_base_dispatch(d.base);
        r = 0;
out:
        notify_watchdog_stop();
        if (d.sig_hup)
                event_free(d.sig_hup);
        if (d.sig_int)
                event_free(d.sig_int);
        if (d.sig_term)
                event_free(d.sig_term);
        ctl_server_free(d.ctl);
        http_api_free(d.http_api);
        peer_server_free(d.peer_server);
        peer_host_free(d.peer_host);
        root_stop_all(&d);
        replicate_stop(d.replicate); /* before the workers that bring its results to the loop */
        d.replicate = NULL;
        workers_free(d.workers); /* waits for running jobs */
        cache_stop(d.cache); /* after the workers: no pass, no read in flight */
        d.cache = NULL;
        root_free_all(&d);
        watch_free(d.watch);
        if (d.reader_release)
                event_free(d.reader_release);
        if (d.repo)
                repo_close(d.repo);
        else if (d.index)
                index_close(d.index); /* no-key mode's own connection */
        if (d.base)
                event_base_free(d.base);
        identity_free(d.identity);
        keys_free(d.keyring);
        settings_done(&d.config);
        return r < 0 ? 1 : 0;
}
