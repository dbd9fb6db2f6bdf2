/* SPDX-License-Identifier: MIT */
/* libFuzzer target for chuted's config parser (daemon/settings.c): the first
 * byte picks settings_load_string or settings_load_file (through a memfd,
 * so NUL bytes and long lines reach the line reader); the rest is the file.
 * A refusal must come with a "NAME:..." message, an acceptance with values
 * inside their documented bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_settings(const struct settings *c)
{
        if (c->workers > SETTINGS_WORKERS_MAX || c->compression_level < 0 ||
            c->compression_level > SETTINGS_COMPRESSION_MAX || c->log_level < LOG_ERR ||
            c->log_level > LOG_DEBUG || !c->state_dir || !c->socket_path)
                abort();
        for (size_t i = 0; i < c->n_watch; i++)
                if (!c->watch[i] || c->watch[i][0] != '/')
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int fd = -1;
        static char path[64];
        struct settings c;
        char *error = NULL, *text;
        const char *name;
        int r;

        if (size < 1)
                return 0;
        settings_init_defaults(&c, 1000);
        if (data[0] & 1) {
                if (fd < 0) {
                        fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
                        if (fd < 0)
                                abort();
                        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                }
                if (ftruncate(fd, 0) < 0 ||
                    pwrite(fd, data + 1, size - 1, 0) != (ssize_t) (size - 1))
                        abort();
                name = path;
                r = settings_load_file(&c, path, 1, &error);
        } else {
                text = strndup((const char *) data + 1, size - 1);
                if (!text)
                        abort();
                name = "fuzz.conf";
                r = settings_load_string(&c, text, name, &error);
                free(text);
        }
        if (r < 0) {
                if (!error || strncmp(error, name, strlen(name)) != 0 || error[strlen(name)] != ':')
                        abort();
        } else {
                if (error)
                        abort();
                check_settings(&c);
        }
        free(error);
        settings_done(&c);
        return 0;
}
