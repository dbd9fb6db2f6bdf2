/* SPDX-License-Identifier: MIT */
/* The API token file; see api-token.h. */
#include "api-token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "hex.h"

static int token_path(const char *state_dir, const char *name, char *buf, size_t len)
{
        int n = snprintf(buf, len, "%s/%s", state_dir, name);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int token_write(const char *state_dir, char ret[API_TOKEN_LEN + 1])
{
        char path[4096], tmp[4096], token[API_TOKEN_LEN + 2];
        uint8_t raw[API_TOKEN_LEN / 2];
        int k;

        if ((k = token_path(state_dir, "api-token", path, sizeof(path))) < 0 ||
            (k = token_path(state_dir, "api-token.new", tmp, sizeof(tmp))) < 0)
                return k;
        k = crypto_random(raw, sizeof(raw));
        if (k < 0)
                return k;
        hex_encode(raw, sizeof(raw), token);
        token[API_TOKEN_LEN] = '\n';
        token[API_TOKEN_LEN + 1] = '\0';
        unlink(tmp);
        _cleanup_(closep) int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0640) < 0 || write(fd, token, API_TOKEN_LEN + 1) != API_TOKEN_LEN + 1 || fsync(fd) < 0) {
                k = errno ? -errno : -EIO;
                unlink(tmp);
                return k;
        }
        if (rename(tmp, path) < 0) {
                k = -errno;
                unlink(tmp);
                return k;
        }
        memcpy(ret, token, API_TOKEN_LEN);
        ret[API_TOKEN_LEN] = '\0';
        return 0;
}

int api_token_load(const char *state_dir, char ret[API_TOKEN_LEN + 1])
{
        char path[4096], buf[API_TOKEN_LEN + 2];
        int k = token_path(state_dir, "api-token", path, sizeof(path));

        if (k < 0)
                return k;
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? token_write(state_dir, ret) : -errno;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < API_TOKEN_LEN)
                return n < 0 ? -errno : -EBADMSG;
        for (size_t i = 0; i < API_TOKEN_LEN; i++)
                if (!strchr("0123456789abcdef", buf[i]) || !buf[i])
                        return -EBADMSG;
        memcpy(ret, buf, API_TOKEN_LEN);
        ret[API_TOKEN_LEN] = '\0';
        return 0;
}

int api_token_rotate(const char *state_dir, char ret[API_TOKEN_LEN + 1])
{
        return token_write(state_dir, ret);
}
