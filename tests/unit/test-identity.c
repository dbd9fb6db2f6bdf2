/* SPDX-License-Identifier: MIT */
/* Tests for common/identity.c: the certificate is reproducible byte for
 * byte from the seed, parses, verifies against itself and matches its key;
 * different seeds give different ids; the id text form round-trips. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "crypto.h"
#include "identity.h"

static void seed_fill(uint8_t seed[32], uint8_t base)
{
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t) (base + i);
}

Test(identity, reproducible_from_seed)
{
        struct identity *a = NULL, *b = NULL;
        const uint8_t *da, *db;
        size_t la, lb;
        uint8_t seed[32], ida[32], idb[32], idc[32];

        seed_fill(seed, 0);
        cr_assert_eq(identity_new(seed, &a), 0);
        cr_assert_eq(identity_new(seed, &b), 0);
        identity_cert_der(a, &da, &la);
        identity_cert_der(b, &db, &lb);
        cr_assert_gt(la, 100);
        cr_assert_eq(la, lb);
        cr_assert(memcmp(da, db, la) == 0, "certificate bytes differ for the same seed");
        cr_assert(da != db);

        cr_assert_eq(identity_node_id(a, ida), 0);
        cr_assert_eq(identity_node_id(b, idb), 0);
        cr_assert(memcmp(ida, idb, 32) == 0);

        /* The id is SHA-256 of the DER, and the peer-side helper agrees. */
        cr_assert_eq(crypto_sha256(da, la, idc), 0);
        cr_assert(memcmp(ida, idc, 32) == 0);
        cr_assert_eq(identity_id_from_cert_der(db, lb, idc), 0);
        cr_assert(memcmp(ida, idc, 32) == 0);

        /* The private keys are equal too. */
        cr_assert_eq(mbedtls_mpi_cmp_mpi(&mbedtls_pk_ec(*identity_pk(a))->d,
                                         &mbedtls_pk_ec(*identity_pk(b))->d), 0);

        identity_free(a);
        identity_free(b);
        identity_free(NULL);
}

Test(identity, known_answer)
{
        /* Pins the derivation: if this changes (an mbedtls upgrade that
         * encodes differently, an edit to identity.c), every node would
         * get a new id and its peers would refuse it. */
        struct identity *id = NULL;
        uint8_t seed[32], node[32];
        char *text = NULL;

        seed_fill(seed, 0);
        cr_assert_eq(identity_new(seed, &id), 0);
        cr_assert_eq(identity_node_id(id, node), 0);
        cr_assert_eq(identity_format_id(node, &text), 0);
        cr_assert_str_eq(text, "AVI3-VSFO-UTCS-RMUW-5TU6-AIJQ-7SQW-OXQF-XBAY-DWIY-SVHP-QTHE-2DVQ");
        free(text);
        identity_free(id);
}

Test(identity, different_seeds_different_ids)
{
        uint8_t ids[8][32], seed[32];

        for (int i = 0; i < 8; i++) {
                struct identity *id = NULL;

                seed_fill(seed, 0);
                seed[i * 4] ^= 0x80; /* one bit apart from each other */
                cr_assert_eq(identity_new(seed, &id), 0);
                cr_assert_eq(identity_node_id(id, ids[i]), 0);
                for (int j = 0; j < i; j++)
                        cr_assert(memcmp(ids[i], ids[j], 32) != 0, "seeds %d and %d collide", i,
                                  j);
                identity_free(id);
        }
}

Test(identity, certificate_is_valid_and_self_signed)
{
        struct identity *id = NULL;
        mbedtls_x509_crt crt;
        const uint8_t *der;
        size_t len;
        uint8_t seed[32], hash[32];
        uint32_t flags = 0;
        char buf[256];

        seed_fill(seed, 0x40);
        cr_assert_eq(identity_new(seed, &id), 0);
        identity_cert_der(id, &der, &len);

        /* An independent parse of the bytes. */
        mbedtls_x509_crt_init(&crt);
        cr_assert_eq(mbedtls_x509_crt_parse_der(&crt, der, len), 0);
        cr_assert_eq(crt.version, 3);
        cr_assert_eq(crt.serial.len, 1);
        cr_assert_eq(crt.serial.p[0], 1);
        cr_assert_eq(crt.valid_from.year, 2024);
        cr_assert_eq(crt.valid_to.year, 9999);
        cr_assert_gt(mbedtls_x509_dn_gets(buf, sizeof buf, &crt.subject), 0);
        cr_assert_str_eq(buf, "CN=chute node, O=chute");
        cr_assert_gt(mbedtls_x509_dn_gets(buf, sizeof buf, &crt.issuer), 0);
        cr_assert_str_eq(buf, "CN=chute node, O=chute");
        cr_assert_eq(mbedtls_pk_get_type(&crt.pk), MBEDTLS_PK_ECKEY);
        cr_assert_eq(mbedtls_pk_ec(crt.pk)->grp.id, MBEDTLS_ECP_DP_SECP256R1);
        cr_assert_eq(crt.sig_md, MBEDTLS_MD_SHA256);

        /* Its own key verifies its signature... */
        cr_assert_eq(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), crt.tbs.p,
                                crt.tbs.len, hash), 0);
        cr_assert_eq(mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, hash, 32, crt.sig.p,
                                       crt.sig.len), 0);
        /* ...it verifies as a chain with itself as the trust anchor (for a
         * self-signed end-entity certificate in the trust list mbedtls checks
         * dates and names, not the signature: that is the check above)... */
        cr_assert_eq(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL), 0,
                     "flags %#x", flags);
        /* ...and the private key belongs to the certificate's public key. */
        cr_assert_eq(mbedtls_pk_check_pair(&crt.pk, identity_pk(id)), 0);
        cr_assert_eq(mbedtls_pk_check_pair(&identity_cert(id)->pk, identity_pk(id)), 0);
        cr_assert(mbedtls_pk_can_do(identity_pk(id), MBEDTLS_PK_ECDSA));

        /* A flipped bit in the signed part breaks the signature, so the
         * check above can fail. */
        uint8_t *copy = malloc(len);
        mbedtls_x509_crt bad;
        cr_assert_not_null(copy);
        memcpy(copy, der, len);
        mbedtls_x509_crt_init(&bad);
        size_t at = (size_t) (crt.serial.p - crt.raw.p); /* serial 1 -> 0 */
        copy[at] ^= 1;
        cr_assert_eq(mbedtls_x509_crt_parse_der(&bad, copy, len), 0);
        cr_assert_eq(bad.serial.p[0], 0);
        cr_assert_eq(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bad.tbs.p,
                                bad.tbs.len, hash), 0);
        cr_assert_neq(mbedtls_pk_verify(&bad.pk, MBEDTLS_MD_SHA256, hash, 32, bad.sig.p,
                                        bad.sig.len), 0);
        mbedtls_x509_crt_free(&bad);
        free(copy);

        mbedtls_x509_crt_free(&crt);
        identity_free(id);
}

Test(identity, id_text_round_trip)
{
        uint8_t id[32], back[32];
        char *text = NULL;

        for (int i = 0; i < 32; i++)
                id[i] = (uint8_t) (i * 7 + 3);
        cr_assert_eq(identity_format_id(id, &text), 0);
        /* 52 characters in 13 groups of 4. */
        cr_assert_eq(strlen(text), 52 + 12, "%s", text);
        cr_assert_eq(text[4], '-');
        cr_assert_eq(identity_parse_id(text, back), 0);
        cr_assert(memcmp(id, back, 32) == 0);

        /* Without dashes, lower case. */
        char plain[80], *o = plain;
        for (const char *c = text; *c; c++)
                if (*c != '-')
                        *o++ = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        *o = '\0';
        memset(back, 0, sizeof back);
        cr_assert_eq(identity_parse_id(plain, back), 0, "%s", plain);
        cr_assert(memcmp(id, back, 32) == 0);

        /* Malformed: truncated, bad character, padding bits set (52 chars
         * carry 260 bits for 256, so the last value must be a multiple of 16). */
        plain[51] = '\0';
        cr_assert_eq(identity_parse_id(plain, back), -EINVAL);
        plain[51] = 'a';
        plain[0] = '1';
        cr_assert_eq(identity_parse_id(plain, back), -EINVAL);
        plain[0] = (char) tolower((unsigned char) text[0]);
        plain[51] = 'b'; /* value 1 */
        cr_assert_eq(identity_parse_id(plain, back), -EINVAL);
        cr_assert_eq(identity_parse_id("", back), -EINVAL);
        free(text);
}
