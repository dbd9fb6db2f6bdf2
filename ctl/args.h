/* SPDX-License-Identifier: MIT */
/* chutectl's argument handling: a small option iterator for the verbs, path
 * arguments made absolute (~ expansion, lexical "." and ".." against the
 * cwd, no file system access) and SNAP[:PATH] splitting. Pure except where
 * a comment says it reads the environment; prints nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One option a verb accepts: --long_name / -short_name, with a value or not. */
struct args_option {
        const char *long_name;
        char short_name; /* 0: none */
        bool has_value;
        int id;          /* > 0, returned by args_next */
};

enum {
        ARGS_END = 0,         /* no more arguments */
        ARGS_POSITIONAL = -1, /* value is a positional argument */
        ARGS_ERROR = -2,      /* error holds the reason (usage error) */
};

/* Iterator over argv[first..argc-1]; "--" ends the options. */
struct args {
        int argc;
        char **argv;
        int next;
        bool options_done;
        const char *value; /* the option's value or the positional argument */
        char error[160];
};

/* Start iterating over argv[first..argc-1]. */
void args_init(struct args *a, int argc, char **argv, int first);
/* Next item: an option id (value set when it takes one), ARGS_POSITIONAL,
 * ARGS_END, or ARGS_ERROR (unknown option, missing value). opts ends with a
 * zeroed entry. */
int args_next(struct args *a, const struct args_option *opts);

/* Join path to base (absolute) unless path is absolute, then normalise
 * lexically: no empty or "." components, ".." removes the previous one (and
 * stays at "/"), no trailing slash. New string; -EINVAL for an empty path
 * or a relative base. */
int args_normalize_path(const char *base, const char *path, char **ret);
/* Expand a leading "~" or "~/" with home, then args_normalize_path against
 * cwd. New string; -EINVAL for an empty path. */
int args_absolute_path_with(const char *arg, const char *cwd, const char *home, char **ret);
/* args_absolute_path_with for the current process: reads $HOME (or the
 * password database) and getcwd(); "~user/..." looks user up. */
int args_absolute_path(const char *arg, char **ret);
/* Does path start with "./" or "../", or equal "." or ".."? */
bool args_path_is_dotted(const char *path);
/* Is path (normalised, absolute) root itself or below it? */
bool args_path_inside(const char *root, const char *path);

/* "latest", or 1 to 64 hex digits. */
bool args_snap_valid(const char *snap);
/* Split "SNAP[:PATH]" at the first ':'. *ret_snap: SNAP (hex lower-cased);
 * *ret_path: PATH as typed, NULL when absent or empty. -EINVAL when SNAP
 * is not args_snap_valid. */
int args_split_snap(const char *arg, char **ret_snap, char **ret_path);
