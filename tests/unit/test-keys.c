/* SPDX-License-Identifier: MIT */
/* Tests for common/keys.c: subkey derivation, the master key file (round
 * trip and every refusal with its errno and reason) and key-file derivation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "keys.h"

static char dir[] = "/tmp/test-keys-XXXXXX";
static char path[256];

static void setup(void)
{
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/master.key", dir);
}

static void teardown(void)
{
        char cmd[300];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(keys, .init = setup, .fini = teardown);

static void write_file(const char *p, const void *buf, size_t len, mode_t mode)
{
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, buf, len), (ssize_t) len);
        cr_assert_eq(fchmod(fd, mode), 0);
        close(fd);
}

static size_t read_file(const char *p, void *buf, size_t size)
{
        int fd = open(p, O_RDONLY);
        ssize_t n;

        cr_assert_geq(fd, 0);
        n = read(fd, buf, size);
        cr_assert_geq(n, 0);
        close(fd);
        return (size_t) n;
}

Test(keys, derive_distinct_and_deterministic)
{
        uint8_t master[32], other[32];
        struct keys a, b, c;

        for (int i = 0; i < 32; i++) {
                master[i] = (uint8_t) i;
                other[i] = (uint8_t) i;
        }
        other[31] ^= 1;
        cr_assert_eq(keys_derive(master, &a), 0);
        cr_assert_eq(keys_derive(master, &b), 0);
        cr_assert_eq(keys_derive(other, &c), 0);

        cr_assert(memcmp(&a, &b, sizeof a) == 0, "derivation is not deterministic");
        cr_assert(memcmp(a.master, master, 32) == 0);

        /* Every subkey differs from the master and from each other. */
        const uint8_t *k[] = { a.master, a.id_key, a.cdc_key, a.enc_key, a.pack_key,
                               a.identity_seed, a.check, a.fingerprint_key, a.fingerprint_row_key };
        for (size_t i = 0; i < 9; i++)
                for (size_t j = i + 1; j < 9; j++)
                        cr_assert(memcmp(k[i], k[j], 16) != 0, "keys %zu and %zu collide", i, j);

        /* Each is HKDF-SHA256(salt none, master, label). */
        uint8_t expect[32];
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, master, 32, KEYS_LABEL_ENC,
                                        strlen(KEYS_LABEL_ENC), expect, 32), 0);
        cr_assert(memcmp(expect, a.enc_key, 32) == 0);
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, master, 32, KEYS_LABEL_CDC,
                                        strlen(KEYS_LABEL_CDC), expect, 16), 0);
        cr_assert(memcmp(expect, a.cdc_key, 16) == 0);
        /* the key check value the index stores: its own label, so it
         * reveals nothing about the keys that seal data */
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, master, 32, KEYS_LABEL_CHECK,
                                        strlen(KEYS_LABEL_CHECK), expect, 32), 0);
        cr_assert(memcmp(expect, a.check, 32) == 0);
        cr_assert(memcmp(a.check, c.check, 32) != 0);
        cr_assert_eq(crypto_hkdf_sha256(NULL, 0, master, 32, KEYS_LABEL_FINGERPRINT,
                                        strlen(KEYS_LABEL_FINGERPRINT), expect, 32), 0);
        cr_assert(memcmp(expect, a.fingerprint_key, 32) == 0);

        /* Another master gives other keys. */
        cr_assert(memcmp(a.id_key, c.id_key, 32) != 0);
        cr_assert(memcmp(a.identity_seed, c.identity_seed, 32) != 0);

        keys_wipe(&a);
        static const uint8_t zero[sizeof a];
        cr_assert(memcmp(&a, zero, sizeof a) == 0, "keys_wipe left key material");
}

/* The VmFlags line of the mapping of /proc/self/smaps that starts at p. */
static void smaps_flags(const void *p, char *ret, size_t size)
{
        char line[512], start[32];
        bool in = false;
        FILE *f = fopen("/proc/self/smaps", "r");

        cr_assert_not_null(f);
        snprintf(start, sizeof start, "%lx-", (unsigned long) (uintptr_t) p);
        ret[0] = '\0';
        while (fgets(line, sizeof line, f)) {
                if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' '))
                        in = !strncmp(line, start, strlen(start));
                if (in && !strncmp(line, "VmFlags:", 8)) {
                        snprintf(ret, size, "%s", line + 8);
                        break;
                }
        }
        fclose(f);
}

Test(keys, new_keys_live_in_their_own_undumped_mapping)
{
        struct keys *k = NULL;
        int lock_error = 1;
        long page = sysconf(_SC_PAGESIZE);
        char flags[512];

        cr_assert_eq(keys_new(&k, &lock_error), 0);
        cr_assert_not_null(k);
        cr_assert_leq(lock_error, 0, "lock_error is 0 or -errno");
        cr_assert_eq((uintptr_t) k % (uintptr_t) page, 0, "not page-aligned");
        static const uint8_t zero[sizeof(struct keys)];
        cr_assert(memcmp(k, zero, sizeof *k) == 0, "keys_new is not zeroed");

        smaps_flags(k, flags, sizeof flags);
        cr_assert(strstr(flags, " dd") != NULL, "no MADV_DONTDUMP on the keys: VmFlags%s", flags);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        /* the sanitizer runtimes intercept mlock and make it a no-op that succeeds */
        (void) lock_error;
#else
        if (lock_error == 0)
                cr_assert(strstr(flags, " lo") != NULL, "mlock said yes but VmFlags%s", flags);
#endif

        uint8_t master[32] = {7};
        cr_assert_eq(keys_derive(master, k), 0);
        keys_free(k);
        keys_free(NULL);
}

Test(keys, create_load_round_trip)
{
        uint8_t m1[32], m2[32], m3[32];
        const char *why = NULL;
        struct stat st;

        cr_assert_eq(keys_create(path, m1), 0);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0400, "mode %o", st.st_mode & 07777);
        cr_assert_eq(st.st_size, 72);

        cr_assert_eq(keys_load(path, m2, &why), 0, "%s", why);
        cr_assert(memcmp(m1, m2, 32) == 0);

        /* 0600 is accepted too. */
        cr_assert_eq(chmod(path, 0600), 0);
        cr_assert_eq(keys_load(path, m3, NULL), 0);
        cr_assert(memcmp(m1, m3, 32) == 0);

        /* Two keys are different, and no temporary file is left behind. */
        char path2[300];
        snprintf(path2, sizeof path2, "%s/second.key", dir);
        cr_assert_eq(keys_create(path2, m3), 0);
        cr_assert(memcmp(m1, m3, 32) != 0);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", dir);
        cr_assert_eq(system(cmd), 0, "stray files in the key directory");
}

Test(keys, create_refuses_to_overwrite)
{
        uint8_t m1[32], m2[32], before[128], after[128];
        size_t n1, n2;

        cr_assert_eq(keys_create(path, m1), 0);
        n1 = read_file(path, before, sizeof before);
        memset(m2, 0xAA, sizeof m2);
        cr_assert_eq(keys_create(path, m2), -EEXIST);
        n2 = read_file(path, after, sizeof after);
        cr_assert_eq(n1, n2);
        cr_assert(memcmp(before, after, n1) == 0, "existing key file was modified");
        for (int i = 0; i < 32; i++)
                cr_assert_eq(m2[i], 0xAA, "ret_master touched on failure");

        /* Also for a file that is not a key file at all. */
        char other[300];
        snprintf(other, sizeof other, "%s/other", dir);
        write_file(other, "hello", 5, 0644);
        cr_assert_eq(keys_create(other, m2), -EEXIST);
        cr_assert_eq(read_file(other, after, sizeof after), 5);

        /* A missing directory is an error, not a crash. */
        char missing[300];
        snprintf(missing, sizeof missing, "%s/nope/master.key", dir);
        cr_assert_eq(keys_create(missing, m2), -ENOENT);
}

Test(keys, load_refuses_group_or_other_access)
{
        uint8_t m[32], untouched[32];
        const char *why = NULL;

        cr_assert_eq(keys_create(path, m), 0);
        memset(untouched, 0x55, sizeof untouched);
        memcpy(m, untouched, sizeof m);

        cr_assert_eq(chmod(path, 0644), 0);
        cr_assert_eq(keys_load(path, m, &why), -EPERM);
        cr_assert_not_null(why);
        cr_assert(strstr(why, "permissions 0644, expected 0400 or 0600"), "why: %s", why);
        cr_assert(memcmp(m, untouched, 32) == 0, "ret_master touched on failure");

        cr_assert_eq(chmod(path, 0420), 0);
        cr_assert_eq(keys_load(path, m, &why), -EPERM);
        cr_assert(strstr(why, "permissions 0420"), "why: %s", why);
        cr_assert_eq(chmod(path, 0402), 0);
        cr_assert_eq(keys_load(path, m, &why), -EPERM);
}

Test(keys, load_refuses_wrong_length)
{
        uint8_t image[80], m[32];
        const char *why = NULL;

        cr_assert_eq(keys_create(path, m), 0);
        cr_assert_eq(read_file(path, image, sizeof image), 72);
        cr_assert_eq(unlink(path), 0);

        write_file(path, image, 17, 0400);
        cr_assert_eq(keys_load(path, m, &why), -EMSGSIZE);
        cr_assert_str_eq(why, "wrong length: 17 bytes, expected 72");

        cr_assert_eq(unlink(path), 0);
        write_file(path, image, 0, 0600);
        cr_assert_eq(keys_load(path, m, &why), -EMSGSIZE);
        cr_assert_str_eq(why, "wrong length: 0 bytes, expected 72");

        cr_assert_eq(unlink(path), 0);
        image[72] = 0;
        write_file(path, image, 73, 0600);
        cr_assert_eq(keys_load(path, m, &why), -EMSGSIZE);
        cr_assert(strstr(why, "wrong length"), "why: %s", why);
}

Test(keys, load_refuses_bad_magic_and_damage)
{
        uint8_t image[72], m[32], loaded[32];
        const char *why = NULL;

        cr_assert_eq(keys_create(path, m), 0);
        cr_assert_eq(read_file(path, image, sizeof image), 72);

        /* Any flipped bit in the secret or the checksum is caught. */
        for (size_t i = 8; i < 72; i++) {
                image[i] ^= 0x01;
                cr_assert_eq(unlink(path), 0);
                write_file(path, image, 72, 0400);
                cr_assert_eq(keys_load(path, loaded, &why), -EBADMSG, "byte %zu", i);
                cr_assert_str_eq(why, "checksum mismatch: file is damaged");
                image[i] ^= 0x01;
        }
        for (size_t i = 0; i < 8; i++) {
                image[i] ^= 0x20;
                cr_assert_eq(unlink(path), 0);
                write_file(path, image, 72, 0400);
                cr_assert_eq(keys_load(path, loaded, &why), -EPROTO, "byte %zu", i);
                cr_assert(strstr(why, "bad magic"), "why: %s", why);
                image[i] ^= 0x20;
        }

        /* Restored, it loads again. */
        cr_assert_eq(unlink(path), 0);
        write_file(path, image, 72, 0400);
        cr_assert_eq(keys_load(path, loaded, &why), 0);
        cr_assert(memcmp(m, loaded, 32) == 0);
}

Test(keys, load_reports_missing_file_and_directories)
{
        uint8_t m[32];
        const char *why = NULL;

        cr_assert_eq(keys_load(path, m, &why), -ENOENT);
        cr_assert(strstr(why, "cannot open"), "why: %s", why);
        cr_assert_eq(chmod(dir, 0700), 0);
        cr_assert_eq(keys_load(dir, m, &why), -EINVAL);
        cr_assert_str_eq(why, "not a regular file");
        /* A FIFO must neither hang open() nor be read. */
        cr_assert_eq(mkfifo(path, 0600), 0);
        cr_assert_eq(keys_load(path, m, &why), -EINVAL);
        cr_assert_str_eq(why, "not a regular file");
        cr_assert_eq(keys_from_key_file(path, m), -EINVAL);
}

Test(keys, key_file_is_sha256_of_contents)
{
        size_t len = 100000 + 7; /* more than one read buffer */
        uint8_t *buf = malloc(len), m[32], expect[32];

        cr_assert_not_null(buf);
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t) (i * 131 + (i >> 8));
        write_file(path, buf, len, 0644);
        cr_assert_eq(keys_from_key_file(path, m), 0);
        cr_assert_eq(crypto_sha256(buf, len, expect), 0);
        cr_assert(memcmp(m, expect, 32) == 0);

        cr_assert_eq(unlink(path), 0);
        write_file(path, "x", 1, 0600);
        cr_assert_eq(keys_from_key_file(path, m), 0);
        cr_assert_eq(crypto_sha256("x", 1, expect), 0);
        cr_assert(memcmp(m, expect, 32) == 0);

        /* Empty files, character devices and missing files are refused. */
        cr_assert_eq(unlink(path), 0);
        write_file(path, "", 0, 0600);
        cr_assert_eq(keys_from_key_file(path, m), -ENODATA);
        cr_assert_eq(keys_from_key_file("/dev/zero", m), -EINVAL);
        cr_assert_eq(keys_from_key_file("/nonexistent/key", m), -ENOENT);
        free(buf);
}
