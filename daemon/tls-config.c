/* SPDX-License-Identifier: MIT */
/* TLS configurations (docs/tls.md): TLS 1.2, ECDHE-ECDSA suites with
 * ChaCha20-Poly1305 first, mutual certificates checked against a profile
 * but trusted only by the caller's pinning, and the export of the record
 * keys that lets libcrypto take the records over (tls-record.c). Not the
 * filter (tls.c). */
#include "tls-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/x509_crt.h>

#include "identity.h"
#include "log.h"

__thread struct tls_conn *tls_handshaking;

/* In preference order; both ends send the same list, the server picks the first. */
static const int tls_suites[] = {
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        0,
};
static const mbedtls_ecp_group_id tls_curves[] = {
        MBEDTLS_ECP_DP_CURVE25519,
        MBEDTLS_ECP_DP_SECP256R1,
        MBEDTLS_ECP_DP_SECP384R1,
        MBEDTLS_ECP_DP_NONE,
};
static const int tls_sig_hashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA512, MBEDTLS_MD_NONE};

/* What a peer certificate may be made of: ECDSA on P-256/P-384, SHA-2. */
static const mbedtls_x509_crt_profile tls_profile = {
        .allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
                       MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
        .allowed_pks = MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY),
        .allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
                          MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1),
        .rsa_min_bitlen = 2048,
};

/* Accept any certificate chain the profile allows: trust, and the validity
 * window, come from the caller pinning the leaf's id. Remembers that id. */
int tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
        struct tls_conn *t = arg;

        *flags &= ~(uint32_t) (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED |
                               MBEDTLS_X509_BADCERT_FUTURE);
        if (depth == 0 && t) {
                if (identity_id_from_cert_der(crt->raw.p, crt->raw.len, t->leaf_id) < 0)
                        return MBEDTLS_ERR_X509_ALLOC_FAILED;
                t->have_leaf_id = true;
        }
        return 0;
}

/* The one place mbedtls error codes become -errno. */
int tls_errno(int r)
{
        if (r >= 0)
                return r;
        if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED || r == MBEDTLS_ERR_X509_ALLOC_FAILED)
                return -ENOMEM;
        return -EIO;
}

static void tls_config_conf_free(struct tls_config *c)
{
        for (int i = 0; i < 2; i++)
                if (c->conf_ready[i])
                        mbedtls_ssl_config_free(&c->conf[i]);
}

void tls_config_free(struct tls_config *c)
{
        tls_config_unref(c);
}

void tls_config_unref(struct tls_config *c)
{
        if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        tls_config_conf_free(c);
        mbedtls_ctr_drbg_free(&c->drbg);
        mbedtls_entropy_free(&c->entropy);
        free(c);
}

/* mbedtls' key block, when the suite is TLS 1.2 ChaCha20-Poly1305: MAC keys
 * (none), client and server write keys, client and server IVs. Kept for the
 * connection whose handshake is running, if it may use libcrypto records. */
static int tls_export_keys(void *arg, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                           size_t keylen, size_t ivlen, const unsigned char client_random[32],
                           const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
        struct tls_conn *t = tls_handshaking;
        bool client;

        (void) arg;
        (void) ms;
        (void) client_random;
        (void) server_random;
        (void) prf;
        if (!t || t->records != TLS_RECORDS_LIBCRYPTO || maclen != 0 || keylen != CRYPTO_KEY_SIZE ||
            ivlen != CRYPTO_NONCE_SIZE ||
            t->ssl.session_negotiate->ciphersuite != MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
                return 0; /* mbedtls keeps the records */
        if (!t->keys) {
                t->keys = calloc(1, sizeof(*t->keys));
                if (!t->keys)
                        return 0;
        }
        client = t->ssl.conf->endpoint == MBEDTLS_SSL_IS_CLIENT;
        memcpy(t->keys->write_key, kb + (client ? 0 : keylen), keylen);
        memcpy(t->keys->read_key, kb + (client ? keylen : 0), keylen);
        memcpy(t->keys->write_iv, kb + 2 * keylen + (client ? 0 : ivlen), ivlen);
        memcpy(t->keys->read_iv, kb + 2 * keylen + (client ? ivlen : 0), ivlen);
        return 0;
}

void tls_keys_free(struct tls_conn *t)
{
        if (!t->keys)
                return;
        crypto_wipe(t->keys, sizeof(*t->keys));
        free(t->keys);
        t->keys = NULL;
}

static uint64_t tls_be64(const unsigned char *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

/* The handshake is done: hand the records to libcrypto when the keys came.
 * mbedtls read exactly the records of the handshake (its BIO asks for a
 * header, then for the rest of one record) and wrote all it had, so the
 * next record each way is the first of ours. */
void tls_take_records(struct tls_conn *t)
{
        int r;

        if (!t->keys)
                return;
        if (t->ssl.session->ciphersuite == MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 &&
            t->ssl.out_left == 0 && t->ssl.in_left == 0 && mbedtls_ssl_get_bytes_avail(&t->ssl) == 0) {
                t->keys->write_seq = tls_be64(t->ssl.cur_out_ctr);
                t->keys->read_seq = tls_be64(t->ssl.in_ctr);
                r = tls_record_new(t->keys, &t->rec);
                if (r < 0)
                        log_debug("TLS records stay with mbedtls: %s", strerror(-r));
        }
        tls_keys_free(t);
}

static int tls_config_setup(struct tls_config *c, enum tls_role role)
{
        mbedtls_ssl_config *conf = &c->conf[role];
        int r;

        mbedtls_ssl_config_init(conf);
        c->conf_ready[role] = true;
        r = mbedtls_ssl_config_defaults(conf, role == TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        if (r != 0)
                return r;
        mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &c->drbg);
        mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
        mbedtls_ssl_conf_ciphersuites(conf, tls_suites);
        mbedtls_ssl_conf_curves(conf, tls_curves);
        mbedtls_ssl_conf_sig_hashes(conf, tls_sig_hashes);
        mbedtls_ssl_conf_cert_profile(conf, &tls_profile);
        /* Both ends must show a certificate. The handshake accepts any
         * self-signed one (tls_verify); the caller pins the peer's id. A CA
         * chain must be set for VERIFY_REQUIRED: our own certificate, so the
         * verify callback sees "not trusted" for everyone else. */
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(conf, identity_cert(c->id), NULL);
        mbedtls_ssl_conf_verify(conf, tls_verify, NULL);
        if (role == TLS_SERVER)
                mbedtls_ssl_conf_cert_req_ca_list(conf, MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
        mbedtls_ssl_conf_export_keys_ext_cb(conf, tls_export_keys, NULL);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
        mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
        mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
        return mbedtls_ssl_conf_own_cert(conf, identity_cert(c->id), identity_pk(c->id));
}

int tls_config_new(struct identity *id, struct tls_config **ret)
{
        static const char personalization[] = "chute tls";
        struct tls_config *c;
        int r;

        if (!id || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->id = id;
        c->refs = 1;
        mbedtls_entropy_init(&c->entropy);
        mbedtls_ctr_drbg_init(&c->drbg);
        r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
                                  (const unsigned char *) personalization, sizeof(personalization) - 1);
        if (r == 0)
                r = tls_config_setup(c, TLS_CLIENT);
        if (r == 0)
                r = tls_config_setup(c, TLS_SERVER);
        if (r != 0) {
                log_debug("mbedtls: TLS configuration failed: -0x%04x", (unsigned) -r);
                tls_config_free(c);
                return tls_errno(r);
        }
        /* for comparisons (bench/replication.sh): every record through mbedtls */
        const char *records = getenv("CHUTE_TLS_RECORDS");
        c->records = records && strcmp(records, "mbedtls") == 0 ? TLS_RECORDS_MBEDTLS : TLS_RECORDS_LIBCRYPTO;
        *ret = c;
        return 0;
}

void tls_config_set_records(struct tls_config *c, enum tls_records records)
{
        c->records = records;
}
