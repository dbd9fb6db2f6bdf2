/* SPDX-License-Identifier: MIT */
/* Option iteration, absolute paths and SNAP[:PATH] splitting for chutectl;
 * see args.h. Nothing here talks to the daemon or prints. */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

void args_init(struct args *a, int argc, char **argv, int first)
{
        *a = (struct args){ .argc = argc, .argv = argv, .next = first };
}

static const struct args_option *find_long(const struct args_option *opts, const char *name,
                                           size_t len)
{
        for (; opts && opts->id; opts++) /* NULL: a verb with no options */
                if (opts->long_name && strlen(opts->long_name) == len &&
                    !strncmp(opts->long_name, name, len))
                        return opts;
        return NULL;
}

static const struct args_option *find_short(const struct args_option *opts, char c)
{
        for (; opts && opts->id; opts++)
                if (opts->short_name == c)
                        return opts;
        return NULL;
}

int args_next(struct args *a, const struct args_option *opts)
{
        const struct args_option *o;
        const char *arg, *eq;

        a->value = NULL;
        if (a->next >= a->argc)
                return ARGS_END;
        arg = a->argv[a->next++];
        if (a->options_done || arg[0] != '-' || arg[1] == '\0') {
                a->value = arg;
                return ARGS_POSITIONAL;
        }
        if (!strcmp(arg, "--")) {
                a->options_done = true;
                return args_next(a, opts);
        }
        if (arg[1] == '-') {
                eq = strchr(arg + 2, '=');
                o = find_long(opts, arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
                if (!o) {
                        snprintf(a->error, sizeof(a->error), "unknown option %.*s",
                                 eq ? (int)(eq - arg) : (int)strlen(arg), arg);
                        return ARGS_ERROR;
                }
                if (!o->has_value && eq) {
                        snprintf(a->error, sizeof(a->error), "option --%s takes no value",
                                 o->long_name);
                        return ARGS_ERROR;
                }
                if (o->has_value && eq) {
                        a->value = eq + 1;
                        return o->id;
                }
        } else {
                o = arg[2] == '\0' ? find_short(opts, arg[1]) : NULL;
                if (!o) {
                        snprintf(a->error, sizeof(a->error), "unknown option %s", arg);
                        return ARGS_ERROR;
                }
        }
        if (o->has_value) {
                if (a->next >= a->argc) {
                        snprintf(a->error, sizeof(a->error), "option %s needs a value", arg);
                        return ARGS_ERROR;
                }
                a->value = a->argv[a->next++];
        }
        return o->id;
}

int args_normalize_path(const char *base, const char *path, char **ret)
{
        if (!path || !*path || (path[0] != '/' && (!base || base[0] != '/')))
                return -EINVAL;
        size_t blen = path[0] == '/' ? 0 : strlen(base);
        size_t cap = blen + strlen(path) + 3;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        size_t n = 0; /* out holds n bytes: "" or "/a/b" */
        for (int pass = 0; pass < 2; pass++) {
                const char *p = pass == 0 ? (blen ? base : "") : path;
                while (*p) {
                        while (*p == '/')
                                p++;
                        const char *end = strchrnul(p, '/');
                        size_t len = (size_t)(end - p);
                        if (len == 0 || (len == 1 && p[0] == '.')) {
                                /* nothing */
                        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                                while (n > 0 && out[n - 1] != '/')
                                        n--;
                                if (n > 0)
                                        n--; /* the slash */
                        } else {
                                out[n++] = '/';
                                memcpy(out + n, p, len);
                                n += len;
                        }
                        p = end;
                }
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

int args_absolute_path_with(const char *arg, const char *cwd, const char *home, char **ret)
{
        _cleanup_free_ char *joined = NULL;

        if (!arg || !*arg)
                return -EINVAL;
        if (arg[0] == '~' && (arg[1] == '\0' || arg[1] == '/')) {
                if (!home || home[0] != '/')
                        return -EINVAL;
                if (asprintf(&joined, "%s/%s", home, arg + 1) < 0)
                        return -ENOMEM;
                arg = joined;
        }
        return args_normalize_path(cwd, arg, ret);
}

static const char *home_of(const char *user, size_t len, char *buf, size_t buflen)
{
        struct passwd pw, *res = NULL;
        char name[LOGIN_NAME_MAX + 1];

        if (len == 0) {
                const char *h = getenv("HOME");
                if (h && h[0] == '/')
                        return h;
                if (getpwuid_r(getuid(), &pw, buf, buflen, &res) != 0 || !res)
                        return NULL;
                return res->pw_dir;
        }
        if (len >= sizeof(name))
                return NULL;
        memcpy(name, user, len);
        name[len] = '\0';
        if (getpwnam_r(name, &pw, buf, buflen, &res) != 0 || !res)
                return NULL;
        return res->pw_dir;
}

int args_absolute_path(const char *arg, char **ret)
{
        char buf[4096];
        _cleanup_free_ char *cwd = NULL, *tilde = NULL;
        const char *home = NULL;

        if (!arg || !*arg)
                return -EINVAL;
        if (arg[0] == '~') {
                const char *slash = strchrnul(arg, '/');
                home = home_of(arg + 1, (size_t)(slash - arg - 1), buf, sizeof(buf));
                if (!home)
                        return -ENOENT;
                if (slash != arg + 1) { /* ~user: rewrite as ~/rest */
                        if (asprintf(&tilde, "~%s", slash) < 0)
                                return -ENOMEM;
                        arg = tilde;
                }
        }
        if (arg[0] != '/' && arg[0] != '~') {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
        }
        return args_absolute_path_with(arg, cwd, home, ret);
}

bool args_path_is_dotted(const char *path)
{
        return !strcmp(path, ".") || !strcmp(path, "..") || !strncmp(path, "./", 2) ||
               !strncmp(path, "../", 3);
}

bool args_path_inside(const char *root, const char *path)
{
        size_t l = strlen(root);

        if (l == 1 && root[0] == '/')
                return path[0] == '/';
        return !strncmp(root, path, l) && (path[l] == '\0' || path[l] == '/');
}

bool args_snap_valid(const char *snap)
{
        size_t n = strlen(snap);

        if (!strcmp(snap, "latest"))
                return true;
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char)snap[i]))
                        return false;
        return true;
}

int args_split_snap(const char *arg, char **ret_snap, char **ret_path)
{
        const char *colon = strchr(arg, ':');
        size_t slen = colon ? (size_t)(colon - arg) : strlen(arg);
        _cleanup_free_ char *snap = strndup(arg, slen), *path = NULL;

        if (!snap)
                return -ENOMEM;
        if (!args_snap_valid(snap))
                return -EINVAL;
        if (strcmp(snap, "latest"))
                for (char *p = snap; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
        if (colon && colon[1]) {
                path = strdup(colon + 1);
                if (!path)
                        return -ENOMEM;
        }
        *ret_snap = TAKE_PTR(snap);
        *ret_path = TAKE_PTR(path);
        return 0;
}
