/* SPDX-License-Identifier: MIT */
/* Helpers every chutectl verb uses: connecting with the exit-3 message,
 * one call with the daemon's ERROR turned into "chutectl: <message>" and
 * exit 1, usage errors, path arguments and reply fields; see verb.h. */
#include "verb.h"

#include "ctl-json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void vmessage(const char *fmt, va_list ap)
{
        fflush(stdout);
        fputs("chutectl: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int verb_usage(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap);
        va_end(ap);
        fputs("Try 'chutectl help' for the verbs and their arguments.\n", stderr);
        return EXIT_USAGE;
}

int verb_fail(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(fmt, ap);
        va_end(ap);
        return EXIT_FAILED;
}

int verb_connect(struct verb_context *c, bool quiet)
{
        int k;

        if (c->client)
                return EXIT_OK;
        k = client_connect(c->socket_path, &c->client);
        /* no daemon there (no socket, or a stale one): the other default place */
        if ((k == -ENOENT || k == -ECONNREFUSED) && c->socket_second) {
                int k2 = client_connect(c->socket_second, &c->client);
                if (k2 >= 0) {
                        c->socket_path = c->socket_second;
                        return EXIT_OK;
                }
                if (k2 != -ENOENT && k2 != -ECONNREFUSED) {
                        c->socket_path = c->socket_second; /* report the one that has a daemon */
                        k = k2;
                }
        }
        if (k < 0) {
                if (quiet)
                        return EXIT_UNREACHABLE;
                if (c->socket_second && (k == -ENOENT || k == -ECONNREFUSED))
                        verb_fail("cannot reach chuted at %s nor at %s: %s", c->socket_path, c->socket_second,
                                  strerror(-k));
                else
                        verb_fail("cannot reach chuted at %s: %s", c->socket_path, strerror(-k));
                if (k == -EACCES)
                        fputs("chutectl: members of group \"chute\" may use the system daemon's socket\n"
                              "chutectl: (adduser $USER chute, then log in again)\n",
                              stderr);
                else
                        fputs("chutectl: start chuted (systemctl start chuted, or systemctl --user start chuted),\n"
                              "chutectl: or point --socket or CHUTE_SOCKET at its control socket\n",
                              stderr);
                return EXIT_UNREACHABLE;
        }
        return EXIT_OK;
}

struct msg *verb_request(struct verb_context *c, enum ctl_type type)
{
        struct msg *m = c->client ? client_request(c->client, type) : NULL;

        if (!m)
                verb_fail("out of memory");
        return m;
}

static void default_progress(struct msg *m, void *userdata)
{
        struct verb_context *c = userdata;
        const char *phase = NULL;
        size_t phase_len = 0;
        uint64_t done = 0, total = 0, files = 0;

        if (ctl_msg_get_text(m, CTL_KEY_PHASE, &phase, &phase_len) < 0)
                phase_len = 0;
        ctl_msg_get_uint(m, CTL_KEY_DONE, &done);
        ctl_msg_get_uint(m, CTL_KEY_TOTAL, &total);
        ctl_msg_get_uint(m, CTL_KEY_FILES, &files);
        output_progress_update(&c->progress, phase, phase_len, files, done, total);
}

/* The daemon's sentence, without control characters that could drive the terminal. */
static void print_daemon_message(const char *s, size_t len)
{
        fflush(stdout);
        fputs("chutectl: ", stderr);
        for (size_t i = 0; i < len; i++)
                fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], stderr);
        fputc('\n', stderr);
}

struct call_relay {
        struct verb_context *c;
        const struct client_handlers *h;
};

static void relay_progress(struct msg *m, void *userdata)
{
        struct call_relay *r = userdata;

        if (r->h && r->h->progress)
                r->h->progress(m, r->h->userdata);
        else
                default_progress(m, r->c);
}

static int relay_data(struct msg *m, void *userdata)
{
        struct call_relay *r = userdata;

        if (!r->h || !r->h->data)
                return -EBADMSG;
        return r->h->data(m, r->h->userdata);
}

int verb_call(struct verb_context *c, struct msg *m, const struct client_handlers *h,
              struct msg **ret)
{
        struct call_relay relay = { .c = c, .h = h };
        struct client_handlers mine = { .progress = relay_progress, .userdata = &relay };
        struct msg *reply = NULL;
        int k;

        if (!m)
                return EXIT_FAILED;
        if (h && h->data)
                mine.data = relay_data;
        k = client_call(c->client, m, &mine, &reply);
        msg_free(m);
        output_progress_clear(&c->progress);
        if (k == -ECANCELED)
                return EXIT_FAILED; /* a data handler stopped: it said why, or chose not to */
        if (k < 0)
                return verb_fail("%s", client_error(c->client));
        if (msg_type(reply) == CTL_TYPE_ERROR) {
                const char *text = NULL;
                size_t len = 0;
                if (ctl_msg_get_text(reply, CTL_KEY_MESSAGE, &text, &len) < 0 || len == 0) {
                        uint64_t status = 0;
                        ctl_msg_get_uint(reply, CTL_KEY_STATUS, &status);
                        text = ctl_status_name((uint32_t)status) ?: "the request failed";
                        len = strlen(text);
                }
                print_daemon_message(text, len);
                msg_free(reply);
                return EXIT_FAILED;
        }
        *ret = reply;
        return EXIT_OK;
}

char *verb_path_arg(const char *arg, const char *what)
{
        char *p = NULL;
        int k = args_absolute_path(arg, &p);

        if (k == -ENOENT)
                verb_usage("%s %s: no such user or no home directory", what, arg);
        else if (k < 0)
                verb_usage("%s \"%s\" is not a usable path: %s", what, arg, strerror(-k));
        return k < 0 ? NULL : p;
}

struct snap_roots {
        const char *snap; /* an id prefix, or NULL for every root */
        enum ctl_key key, path_key; /* ROOTS/PATH of paths, SNAPSHOTS/ROOT of snapshots */
        char **roots;
        size_t n;
};

/* Add the roots of body's key maps (of snapshots matching the prefix). */
static int snap_roots_collect(struct snap_roots *s, struct msg *m)
{
        struct msg_map body = msg_body(m), item;
        size_t count = 0;

        if (msg_map_get_count(&body, s->key, &count) == -EBADMSG)
                return -EBADMSG;
        for (size_t i = 0; i < count; i++) {
                if (msg_map_get_map_at(&body, s->key, i, &item) < 0)
                        return -EBADMSG;
                if (s->snap) {
                        char hex[65];
                        verb_hex(&item, CTL_KEY_ID, 64, hex, sizeof(hex));
                        if (strncmp(hex, s->snap, strlen(s->snap)))
                                continue;
                }
                char *root = verb_dup_bytes(&item, s->path_key);
                bool dup = !root || !*root;
                for (size_t j = 0; j < s->n && !dup; j++)
                        dup = !strcmp(s->roots[j], root);
                char **v = dup ? NULL : realloc(s->roots, (s->n + 1) * sizeof(*v));
                if (!v) {
                        free(root);
                        continue;
                }
                s->roots = v;
                s->roots[s->n++] = root;
        }
        return 0;
}

static int snap_roots_data(struct msg *m, void *userdata)
{
        struct snap_roots *s = userdata;
        struct msg_map body = msg_body(m);
        size_t n;

        if (msg_map_get_count(&body, s->key, &n) < 0)
                return -EBADMSG;
        return snap_roots_collect(s, m);
}

/* Roots the daemon knows for snap: the watched ones for "latest" (else
 * those with snapshots), the root of the matching snapshots for an id prefix
 * (the snapshots list comes in DATA messages). */
static int snap_roots(struct verb_context *c, const char *snap, char ***ret, size_t *ret_n)
{
        bool latest = !strcmp(snap, "latest");
        struct snap_roots s = { 0 };
        int ex = EXIT_OK;

        for (int pass = latest ? 0 : 1; pass < 2 && s.n == 0 && ex == EXIT_OK; pass++) {
                struct msg *reply = NULL;
                struct client_handlers h = { .data = snap_roots_data, .userdata = &s };
                s.snap = latest ? NULL : snap;
                s.key = pass == 0 ? CTL_KEY_ROOTS : CTL_KEY_SNAPSHOTS;
                s.path_key = pass == 0 ? CTL_KEY_PATH : CTL_KEY_ROOT;
                ex = verb_call(c, verb_request(c, pass == 0 ? CTL_TYPE_PATHS : CTL_TYPE_SNAPSHOTS),
                               pass == 0 ? NULL : &h, &reply);
                if (ex != EXIT_OK)
                        break;
                if (snap_roots_collect(&s, reply) < 0)
                        ex = verb_fail("malformed reply from chuted");
                msg_free(reply);
        }
        *ret = s.roots;
        *ret_n = s.n;
        return ex;
}

int verb_snap_path(struct verb_context *c, const char *snap, const char *rel, char **ret)
{
        _cleanup_free_ char *abs = NULL;
        char **roots = NULL;
        size_t n = 0;
        int ex;

        *ret = NULL;
        if (!rel)
                return EXIT_OK;
        abs = verb_path_arg(rel, "path");
        if (!abs)
                return EXIT_USAGE;
        if (rel[0] == '/' || rel[0] == '~' || args_path_is_dotted(rel)) {
                *ret = TAKE_PTR(abs);
                return EXIT_OK;
        }
        ex = snap_roots(c, snap, &roots, &n);
        if (ex == EXIT_OK) {
                bool inside = false;
                for (size_t i = 0; i < n && !inside; i++)
                        inside = args_path_inside(roots[i], abs);
                if (!inside && n == 1) {
                        char *under = NULL;
                        if (args_normalize_path(roots[0], rel, &under) >= 0) {
                                free(abs);
                                abs = under;
                        }
                }
                *ret = TAKE_PTR(abs);
        }
        for (size_t i = 0; i < n; i++)
                free(roots[i]);
        free(roots);
        return ex;
}

int verb_flush(void)
{
        if (fflush(stdout) == 0 && !ferror(stdout))
                return EXIT_OK;
        if (errno == EPIPE)
                return EXIT_OK;
        return verb_fail("cannot write the output: %s", strerror(errno));
}

int verb_json(json_t *doc)
{
        if (!doc)
                return verb_fail("out of memory");
        output_json_print(stdout, doc);
        json_decref(doc);
        return verb_flush();
}

json_t *verb_json_uint(const struct msg_map *map, enum ctl_key key)
{
        uint64_t v;

        if (msg_map_get_uint(map, key, &v) < 0)
                return json_null();
        return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *verb_json_str(const struct msg_map *map, enum ctl_key key)
{
        const uint8_t *p;
        const char *t;
        size_t len;

        if (msg_map_get_bytes(map, key, &p, &len) >= 0)
                return output_json_bytes(p, len);
        if (msg_map_get_text(map, key, &t, &len) >= 0)
                return output_json_bytes(t, len);
        return json_null();
}

json_t *verb_json_time(const struct msg_map *map, enum ctl_key key)
{
        char buf[OUTPUT_TIME_MAX];
        int64_t ns;

        if (msg_map_get_int(map, key, &ns) < 0)
                return json_null();
        return json_string(output_time_rfc3339(ns, buf));
}

char *verb_dup_bytes(const struct msg_map *map, enum ctl_key key)
{
        const uint8_t *p;
        const char *t;
        size_t len = 0;

        if (msg_map_get_bytes(map, key, &p, &len) >= 0)
                return strndup(len ? (const char *)p : "", len);
        if (msg_map_get_text(map, key, &t, &len) >= 0)
                return strndup(len ? t : "", len);
        return strdup("");
}

uint64_t verb_uint(const struct msg_map *map, enum ctl_key key, uint64_t def)
{
        uint64_t v;

        return msg_map_get_uint(map, key, &v) < 0 ? def : v;
}

void verb_hex(const struct msg_map *map, enum ctl_key key, size_t max_chars, char *buf,
              size_t buflen)
{
        const uint8_t *p;
        size_t len = 0, n = 0;

        buf[0] = '\0';
        if (msg_map_get_bytes(map, key, &p, &len) < 0)
                return;
        for (size_t i = 0; i < len && n + 2 < buflen && n < max_chars; i++) {
                snprintf(buf + n, buflen - n, "%02x", p[i]);
                n += 2;
        }
        if (n > max_chars)
                n = max_chars;
        buf[n] = '\0';
}

json_t *verb_snapshot_json(const struct msg_map *item)
{
        /* the schema's own names and forms: the same as GET /v1/snapshots */
        return ctl_json_from_map(item);
}

int verb_force_name(int argc, char **argv, const char *what, const char *name, const char **ret_name,
                    bool *ret_force)
{
        enum { OPT_FORCE = 1 };
        static const struct args_option opts[] = { { "force", 0, false, OPT_FORCE }, { 0 } };
        const char *arg = NULL;
        bool force = false;
        struct args a;
        int k;

        args_init(&a, argc, argv, 2);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("%s: %s", what, a.error);
                if (k == OPT_FORCE)
                        force = true;
                else if (arg)
                        return verb_usage("%s takes [--force] and one name, not more", what);
                else
                        arg = a.value;
        }
        if (!arg)
                return verb_usage("%s needs %s", what, name);
        *ret_name = arg;
        *ret_force = force;
        return EXIT_OK;
}

int verb_no_args(int argc, char **argv)
{
        static const struct args_option opts[] = { { 0 } };
        struct args a;
        int k;

        args_init(&a, argc, argv, 1);
        k = args_next(&a, opts);
        if (k == ARGS_ERROR)
                return verb_usage("%s: %s", argv[0], a.error);
        if (k != ARGS_END)
                return verb_usage("%s takes no arguments", argv[0]);
        return EXIT_OK;
}
