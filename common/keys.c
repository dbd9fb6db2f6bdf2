/* SPDX-License-Identifier: MIT */
/* The master secret file (create, load with strict checks, or derive from
 * a key file/device) and HKDF-SHA256 derivation of the subkeys. File format
 * and labels: docs/keys.md. Crypto goes through crypto.h only; this file
 * never logs, it explains refusals through *ret_why. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "crypto.h"
#include "keys.h"

/* "CHUTEMK1" (the last byte is the format version) || master || SHA-256 of both. */
#define KEYS_FILE_MAGIC "CHUTEMK1"
#define KEYS_FILE_MAGIC_SIZE 8
#define KEYS_FILE_SIZE (KEYS_FILE_MAGIC_SIZE + KEYS_MASTER_SIZE + CRYPTO_SHA256_SIZE)

static _Thread_local char keys_why[192];

static int keys_derive_one(const uint8_t master[KEYS_MASTER_SIZE], const char *label,
                           uint8_t *out, size_t out_len)
{
        return crypto_hkdf_sha256(NULL, 0, master, KEYS_MASTER_SIZE, label, strlen(label), out,
                                  out_len);
}

int keys_derive(const uint8_t master[KEYS_MASTER_SIZE], struct keys *ret)
{
        struct keys k;
        int r;

        if (!master || !ret)
                return -EINVAL;

        memcpy(k.master, master, KEYS_MASTER_SIZE);
        r = keys_derive_one(master, KEYS_LABEL_ID, k.id_key, sizeof k.id_key);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_CDC, k.cdc_key, sizeof k.cdc_key);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_ENC, k.enc_key, sizeof k.enc_key);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_PACK, k.pack_key, sizeof k.pack_key);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_IDENTITY, k.identity_seed,
                                    sizeof k.identity_seed);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_CHECK, k.check, sizeof k.check);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_FINGERPRINT, k.fingerprint_key,
                                    sizeof k.fingerprint_key);
        if (r >= 0)
                r = keys_derive_one(master, KEYS_LABEL_FINGERPRINT_ROW, k.fingerprint_row_key,
                                    sizeof k.fingerprint_row_key);
        if (r >= 0)
                *ret = k;
        keys_wipe(&k);
        return r < 0 ? r : 0;
}

void keys_wipe(struct keys *k)
{
        if (k)
                crypto_wipe(k, sizeof *k);
}

/* Whole pages, so that madvise and mlock cover nothing else. */
static size_t keys_mapping_size(void)
{
        size_t page = (size_t) sysconf(_SC_PAGESIZE);

        return (sizeof(struct keys) + page - 1) / page * page;
}

int keys_new(struct keys **ret, int *ret_lock_error)
{
        size_t size = keys_mapping_size();
        void *p;

        if (!ret)
                return -EINVAL;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (madvise(p, size, MADV_DONTDUMP) < 0 || madvise(p, size, MADV_DONTFORK) < 0) {
                int r = -errno;

                munmap(p, size);
                return r;
        }
        if (ret_lock_error)
                *ret_lock_error = mlock(p, size) < 0 ? -errno : 0;
        else
                (void) mlock(p, size);
        *ret = p;
        return 0;
}

void keys_free(struct keys *k)
{
        size_t size = keys_mapping_size();

        if (!k)
                return;
        crypto_wipe(k, size);
        (void) munlock(k, size);
        munmap(k, size);
}

/* The file image of a master secret. */
static int keys_file_image(const uint8_t master[KEYS_MASTER_SIZE], uint8_t ret[KEYS_FILE_SIZE])
{
        memcpy(ret, KEYS_FILE_MAGIC, KEYS_FILE_MAGIC_SIZE);
        memcpy(ret + KEYS_FILE_MAGIC_SIZE, master, KEYS_MASTER_SIZE);
        return crypto_sha256(ret, KEYS_FILE_MAGIC_SIZE + KEYS_MASTER_SIZE,
                             ret + KEYS_FILE_MAGIC_SIZE + KEYS_MASTER_SIZE);
}

static int keys_write_all(int fd, const uint8_t *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Read up to len bytes, stopping early only at EOF; returns the count. */
static ssize_t keys_read_all(int fd, uint8_t *buf, size_t len)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = read(fd, buf + done, len - done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

static int keys_fsync_parent(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int fd = -1;

        if (!copy)
                return -ENOMEM;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int keys_create(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE])
{
        uint8_t master[KEYS_MASTER_SIZE];

        if (!path || !ret_master)
                return -EINVAL;
        int r = crypto_random(master, sizeof master);
        if (r >= 0)
                r = keys_create_from(path, master);
        if (r >= 0)
                memcpy(ret_master, master, sizeof master);
        crypto_wipe(master, sizeof master);
        return r;
}

int keys_create_from(const char *path, const uint8_t master[KEYS_MASTER_SIZE])
{
        _cleanup_free_ char *tmp = NULL;
        uint8_t image[KEYS_FILE_SIZE];
        int fd = -1, r;

        if (!path || !master)
                return -EINVAL;
        if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
                return -ENOMEM;

        r = keys_file_image(master, image);
        if (r < 0)
                goto out;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        if (fchmod(fd, 0400) < 0) {
                r = -errno;
                goto out_unlink;
        }
        r = keys_write_all(fd, image, sizeof image);
        if (r < 0)
                goto out_unlink;
        if (fsync(fd) < 0) {
                r = -errno;
                goto out_unlink;
        }
        if (close(fd) < 0) {
                fd = -1;
                r = -errno;
                goto out_unlink;
        }
        fd = -1;

        /* link() fails with EEXIST instead of replacing, unlike rename(). */
        if (link(tmp, path) < 0) {
                r = -errno;
                goto out_unlink;
        }
        (void) unlink(tmp);
        r = keys_fsync_parent(path);
        if (r < 0) {
                /* The file exists but may not survive a crash: do not hand
                 * out a secret that could be lost. */
                (void) unlink(path);
                goto out;
        }
        r = 0;
        goto out;

out_unlink:
        if (fd >= 0)
                close(fd);
        (void) unlink(tmp);
out:
        crypto_wipe(image, sizeof image);
        return r;
}

__attribute__((format(printf, 3, 4)))
static int keys_fail(const char **ret_why, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(keys_why, sizeof keys_why, fmt, ap);
        va_end(ap);
        if (ret_why)
                *ret_why = keys_why;
        return r;
}

int keys_load(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE], const char **ret_why)
{
        _cleanup_close_ int fd = -1;
        uint8_t image[KEYS_FILE_SIZE + 1], check[CRYPTO_SHA256_SIZE];
        struct stat st;
        ssize_t n;
        int r;

        if (!path || !ret_master)
                return keys_fail(ret_why, -EINVAL, "invalid arguments");

        /* O_NONBLOCK: a FIFO planted at path must not hang us in open(). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                return keys_fail(ret_why, r, "cannot open: %s", strerror(-r));
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                return keys_fail(ret_why, r, "cannot stat: %s", strerror(-r));
        }
        if (!S_ISREG(st.st_mode))
                return keys_fail(ret_why, -EINVAL, "not a regular file");
        if (st.st_mode & 0077)
                return keys_fail(ret_why, -EPERM,
                                 "permissions %04o, expected 0400 or 0600: group or others "
                                 "can access it",
                                 (unsigned) (st.st_mode & 07777));

        n = keys_read_all(fd, image, sizeof image);
        if (n < 0)
                return keys_fail(ret_why, (int) n, "cannot read: %s", strerror((int) -n));
        if ((size_t) n != KEYS_FILE_SIZE) {
                crypto_wipe(image, sizeof image);
                if ((size_t) n > KEYS_FILE_SIZE)
                        return keys_fail(ret_why, -EMSGSIZE,
                                         "wrong length: more than %d bytes, expected %d",
                                         KEYS_FILE_SIZE, KEYS_FILE_SIZE);
                return keys_fail(ret_why, -EMSGSIZE, "wrong length: %zd bytes, expected %d", n,
                                 KEYS_FILE_SIZE);
        }
        if (memcmp(image, KEYS_FILE_MAGIC, KEYS_FILE_MAGIC_SIZE) != 0) {
                crypto_wipe(image, sizeof image);
                return keys_fail(ret_why, -EPROTO,
                                 "bad magic: not a chute master key file (or an unknown version)");
        }
        r = crypto_sha256(image, KEYS_FILE_MAGIC_SIZE + KEYS_MASTER_SIZE, check);
        if (r < 0) {
                crypto_wipe(image, sizeof image);
                return keys_fail(ret_why, r, "cannot compute checksum: %s", strerror(-r));
        }
        if (memcmp(check, image + KEYS_FILE_MAGIC_SIZE + KEYS_MASTER_SIZE, sizeof check) != 0) {
                crypto_wipe(image, sizeof image);
                return keys_fail(ret_why, -EBADMSG, "checksum mismatch: file is damaged");
        }

        memcpy(ret_master, image + KEYS_FILE_MAGIC_SIZE, KEYS_MASTER_SIZE);
        crypto_wipe(image, sizeof image);
        return 0;
}

int keys_from_key_file(const char *path, uint8_t ret_master[KEYS_MASTER_SIZE])
{
        _cleanup_close_ int fd = -1;
        struct crypto_sha256 *sha = NULL;
        uint8_t buf[16384], digest[CRYPTO_SHA256_SIZE];
        struct stat st;
        size_t total = 0;
        int r;

        if (!path || !ret_master)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* A character device such as /dev/urandom would never reach EOF. */
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return -EINVAL;

        r = crypto_sha256_new(&sha);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (n == 0)
                        break;
                r = crypto_sha256_update(sha, buf, (size_t) n);
                if (r < 0)
                        goto fail;
                total += (size_t) n;
        }
        crypto_wipe(buf, sizeof buf);
        if (total == 0) {
                r = -ENODATA;
                goto fail;
        }
        r = crypto_sha256_final(sha, digest);
        if (r < 0)
                return r;
        memcpy(ret_master, digest, sizeof digest);
        crypto_wipe(digest, sizeof digest);
        return 0;

fail:
        crypto_wipe(buf, sizeof buf);
        crypto_sha256_free(sha);
        return r;
}
