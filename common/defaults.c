/* SPDX-License-Identifier: MIT */
/* Default state, socket and config paths by uid (see defaults.h). Relative
 * XDG variables are ignored, as the XDG base directory spec asks. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* An absolute directory from the environment, or NULL. */
static const char *env_dir(const char *name)
{
        const char *e = getenv(name);
        return e && e[0] == '/' ? e : NULL;
}

static const char *home_dir(uid_t uid)
{
        const char *e = env_dir("HOME");
        struct passwd *pw;

        if (e)
                return e;
        pw = getpwuid(uid);
        if (pw && pw->pw_dir && pw->pw_dir[0] == '/')
                return pw->pw_dir;
        return "/";
}

/* "/home/a" + "/.local/state/chute" without doubling the slash for "/". */
static char *under(const char *dir, const char *rest)
{
        char *p;
        if (asprintf(&p, "%s%s", strcmp(dir, "/") == 0 ? "" : dir, rest) < 0)
                abort();
        return p;
}

static char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                abort();
        return p;
}

char *defaults_state_dir(uid_t uid)
{
        const char *state;

        if (uid == 0)
                return xstrdup("/var/lib/chute");
        state = env_dir("XDG_STATE_HOME");
        return state ? under(state, "/chute") : under(home_dir(uid), "/.local/state/chute");
}

char *defaults_socket_path(uid_t uid)
{
        if (uid == 0)
                return xstrdup(DEFAULTS_SYSTEM_SOCKET);
        return defaults_user_socket_path(uid);
}

char *defaults_user_socket_path(uid_t uid)
{
        const char *runtime, *state_env;
        char *state, *p;

        runtime = env_dir("XDG_RUNTIME_DIR");
        if (runtime)
                return under(runtime, "/chute/chuted.sock");
        /* defaults_state_dir's user-mode answer, for root too */
        state_env = env_dir("XDG_STATE_HOME");
        state = state_env ? under(state_env, "/chute") : under(home_dir(uid), "/.local/state/chute");
        p = under(state, "/chuted.sock");
        free(state);
        return p;
}

char *defaults_config_path(uid_t uid)
{
        const char *dir;

        if (uid == 0)
                return xstrdup(SYSCONFDIR "/chute/chuted.conf");
        dir = env_dir("XDG_CONFIG_HOME");
        return dir ? under(dir, "/chute/chuted.conf") : under(home_dir(uid), "/.config/chute/chuted.conf");
}
