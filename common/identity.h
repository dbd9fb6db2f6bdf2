/* SPDX-License-Identifier: MIT */
/* The node identity (DESIGN.md §4, §7): an ECDSA P-256 key and a self-signed
 * X.509 certificate, both reproduced byte for byte from a 32-byte seed
 * (keys.identity_seed), so a node restored from its recovery code keeps its
 * id. The node id is SHA-256 of the DER certificate, shown as grouped
 * base32. One of mbedtls' two users (with daemon/tls.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define IDENTITY_SEED_SIZE 32
#define IDENTITY_ID_SIZE 32
#define IDENTITY_ID_GROUP 4

struct identity;

/* Build the key and certificate from seed; same seed, same bytes. */
int identity_new(const uint8_t seed[IDENTITY_SEED_SIZE], struct identity **ret);
/* Free an identity and wipe its private key (NULL is fine). */
void identity_free(struct identity *id);

/* The private key, for mbedtls_ssl_conf_own_cert(). */
mbedtls_pk_context *identity_pk(struct identity *id);
/* The parsed certificate, for mbedtls_ssl_conf_own_cert(). */
mbedtls_x509_crt *identity_cert(struct identity *id);
/* The DER certificate bytes (owned by id). */
void identity_cert_der(const struct identity *id, const uint8_t **ret_der, size_t *ret_len);

/* This node's id: SHA-256 of its DER certificate. */
int identity_node_id(const struct identity *id, uint8_t ret[IDENTITY_ID_SIZE]);
/* Any node's id from the DER certificate it presented. */
int identity_id_from_cert_der(const uint8_t *der, size_t len, uint8_t ret[IDENTITY_ID_SIZE]);

/* A node id as upper-case base32 in dash-separated groups of 4 (new string). */
int identity_format_id(const uint8_t id[IDENTITY_ID_SIZE], char **ret);
/* Parse a node id in that form, ignoring dashes, spaces and case; -EINVAL if malformed. */
int identity_parse_id(const char *str, uint8_t ret[IDENTITY_ID_SIZE]);
