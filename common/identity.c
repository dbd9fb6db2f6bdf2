/* SPDX-License-Identifier: MIT */
/* Deterministic node identity with mbedtls 2.28: HMAC_DRBG-SHA256 seeded
 * with the seed alone, private key by rejection sampling from its output,
 * and a self-signed certificate with fixed fields and an RFC 6979 signature,
 * so the DER bytes (and the node id) depend on the seed only. The algorithm
 * is spelt out in docs/keys.md; changing anything here changes every id.
 * mbedtls error codes become -errno here and nowhere else. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/md.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "base32.h"
#include "crypto.h"
#include "identity.h"

/* Never change these: the node id is the hash of the certificate. */
#define IDENTITY_SUBJECT "CN=chute node,O=chute"
#define IDENTITY_NOT_BEFORE "20240101000000"
#define IDENTITY_NOT_AFTER "99991231235959"
#define IDENTITY_SERIAL 1
#define IDENTITY_DER_MAX 1024

struct identity {
        mbedtls_pk_context pk;
        mbedtls_x509_crt crt;
        uint8_t node_id[IDENTITY_ID_SIZE];
};

/* The one place mbedtls error codes become -errno. A code may combine a
 * high-level (0x1000-0x7F80) and a low-level (0x0002-0x007F) part. */
static int identity_errno(int r)
{
        int high, low;

        if (r >= 0)
                return r;
        high = -((-r) & 0xFF80);
        low = -((-r) & 0x007F);
        if (high == MBEDTLS_ERR_X509_ALLOC_FAILED || high == MBEDTLS_ERR_PK_ALLOC_FAILED ||
            high == MBEDTLS_ERR_ECP_ALLOC_FAILED || low == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
            low == MBEDTLS_ERR_ASN1_ALLOC_FAILED)
                return -ENOMEM;
        if (high == MBEDTLS_ERR_X509_BUFFER_TOO_SMALL || low == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL)
                return -ENOBUFS;
        return -EIO;
}

/* d = the first 32-byte big-endian DRBG output with 1 <= d < n; Q = d*G. */
static int identity_make_key(mbedtls_hmac_drbg_context *drbg, mbedtls_pk_context *pk)
{
        mbedtls_ecp_keypair *kp;
        uint8_t buf[32];
        int r;

        r = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        if (r != 0)
                return identity_errno(r);
        kp = mbedtls_pk_ec(*pk);
        r = mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1);
        if (r != 0)
                return identity_errno(r);

        for (;;) {
                r = mbedtls_hmac_drbg_random(drbg, buf, sizeof buf);
                if (r == 0)
                        r = mbedtls_mpi_read_binary(&kp->d, buf, sizeof buf);
                if (r != 0)
                        goto out;
                if (mbedtls_mpi_cmp_int(&kp->d, 1) >= 0 &&
                    mbedtls_mpi_cmp_mpi(&kp->d, &kp->grp.N) < 0)
                        break;
        }
        /* The DRBG also feeds the multiplication's blinding, which does not
         * change the result. */
        r = mbedtls_ecp_mul(&kp->grp, &kp->Q, &kp->d, &kp->grp.G, mbedtls_hmac_drbg_random, drbg);
out:
        crypto_wipe(buf, sizeof buf);
        return identity_errno(r);
}

/* Write the self-signed certificate into der[IDENTITY_DER_MAX]; the DER
 * bytes end at the end of the buffer. Returns their length. */
static int identity_make_cert(mbedtls_hmac_drbg_context *drbg, mbedtls_pk_context *pk,
                              uint8_t *der)
{
        mbedtls_x509write_cert w;
        mbedtls_mpi serial;
        int r;

        mbedtls_x509write_crt_init(&w);
        mbedtls_mpi_init(&serial);

        mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&w, pk);
        mbedtls_x509write_crt_set_issuer_key(&w, pk);
        r = mbedtls_mpi_lset(&serial, IDENTITY_SERIAL);
        if (r == 0)
                r = mbedtls_x509write_crt_set_serial(&w, &serial);
        if (r == 0)
                r = mbedtls_x509write_crt_set_validity(&w, IDENTITY_NOT_BEFORE, IDENTITY_NOT_AFTER);
        if (r == 0)
                r = mbedtls_x509write_crt_set_subject_name(&w, IDENTITY_SUBJECT);
        if (r == 0)
                r = mbedtls_x509write_crt_set_issuer_name(&w, IDENTITY_SUBJECT);
        if (r == 0)
                r = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1);
        if (r == 0)
                r = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
        /* With MBEDTLS_ECDSA_DETERMINISTIC (Debian's default) the signature
         * is RFC 6979; the RNG only blinds the computation. */
        if (r == 0)
                r = mbedtls_x509write_crt_der(&w, der, IDENTITY_DER_MAX, mbedtls_hmac_drbg_random,
                                              drbg);

        mbedtls_mpi_free(&serial);
        mbedtls_x509write_crt_free(&w);
        return identity_errno(r);
}

int identity_new(const uint8_t seed[IDENTITY_SEED_SIZE], struct identity **ret)
{
        mbedtls_hmac_drbg_context drbg;
        struct identity *id;
        uint8_t der[IDENTITY_DER_MAX];
        int r, len;

        if (!seed || !ret)
                return -EINVAL;

        id = calloc(1, sizeof *id);
        if (!id)
                return -ENOMEM;
        mbedtls_pk_init(&id->pk);
        mbedtls_x509_crt_init(&id->crt);
        mbedtls_hmac_drbg_init(&drbg);

        /* NIST SP 800-90A HMAC_DRBG instantiated with the seed as entropy
         * input, no nonce and no personalization string; never reseeded. */
        r = identity_errno(mbedtls_hmac_drbg_seed_buf(
                &drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), seed, IDENTITY_SEED_SIZE));
        if (r < 0)
                goto fail;
        r = identity_make_key(&drbg, &id->pk);
        if (r < 0)
                goto fail;
        len = identity_make_cert(&drbg, &id->pk, der);
        if (len < 0) {
                r = len;
                goto fail;
        }
        r = identity_errno(mbedtls_x509_crt_parse_der(&id->crt, der + IDENTITY_DER_MAX - len,
                                                      (size_t) len));
        if (r < 0)
                goto fail;
        r = identity_id_from_cert_der(id->crt.raw.p, id->crt.raw.len, id->node_id);
        if (r < 0)
                goto fail;

        mbedtls_hmac_drbg_free(&drbg);
        *ret = id;
        return 0;

fail:
        mbedtls_hmac_drbg_free(&drbg);
        identity_free(id);
        return r;
}

void identity_free(struct identity *id)
{
        if (!id)
                return;
        /* mbedtls_pk_free frees the key pair, and mbedtls_mpi_free zeroes
         * the limbs of the private scalar before freeing them. */
        mbedtls_pk_free(&id->pk);
        mbedtls_x509_crt_free(&id->crt);
        free(id);
}

mbedtls_pk_context *identity_pk(struct identity *id)
{
        return &id->pk;
}

mbedtls_x509_crt *identity_cert(struct identity *id)
{
        return &id->crt;
}

void identity_cert_der(const struct identity *id, const uint8_t **ret_der, size_t *ret_len)
{
        *ret_der = id->crt.raw.p;
        *ret_len = id->crt.raw.len;
}

int identity_node_id(const struct identity *id, uint8_t ret[IDENTITY_ID_SIZE])
{
        if (!id || !ret)
                return -EINVAL;
        memcpy(ret, id->node_id, IDENTITY_ID_SIZE);
        return 0;
}

int identity_id_from_cert_der(const uint8_t *der, size_t len, uint8_t ret[IDENTITY_ID_SIZE])
{
        uint8_t digest[CRYPTO_SHA256_SIZE];
        int r;

        if (!der || len == 0 || !ret)
                return -EINVAL;
        r = crypto_sha256(der, len, digest);
        if (r < 0)
                return r;
        memcpy(ret, digest, IDENTITY_ID_SIZE);
        return 0;
}

int identity_format_id(const uint8_t id[IDENTITY_ID_SIZE], char **ret)
{
        if (!id || !ret)
                return -EINVAL;
        return base32_encode(id, IDENTITY_ID_SIZE, IDENTITY_ID_GROUP, ret);
}

int identity_parse_id(const char *str, uint8_t ret[IDENTITY_ID_SIZE])
{
        return base32_decode(str, ret, IDENTITY_ID_SIZE);
}
