/* SPDX-License-Identifier: MIT */
/* What tls.c (the filter) and tls-config.c (configurations, certificate
 * checks, key export) share: the two structures and a few helpers. Not for
 * use outside daemon/tls*.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "tls-record.h"
#include "tls.h"

/* Largest plaintext of one record (TLS 1.2, no max_fragment_length). */
#define TLS_RECORD_MAX 16384
/* Ciphertext queued on the socket bufferevent: the output filter stops at
 * HIGH (plus one record) and resumes when the socket has drained to LOW. */
#define TLS_UNDER_WRITE_HIGH (512u << 10)
#define TLS_UNDER_WRITE_LOW (256u << 10)
/* Bytes per read()/write() on the socket (libevent's default is 16 KiB). */
#define TLS_UNDER_IO_MAX (128u << 10)

struct tls_config {
        struct identity *id;
        mbedtls_entropy_context entropy;
        mbedtls_ctr_drbg_context drbg;
        mbedtls_ssl_config conf[2]; /* by enum tls_role */
        bool conf_ready[2];
        enum tls_records records;
        /* the owner's reference and one per connection: libevent may
         * finalize a connection after its owner freed the configuration */
        unsigned refs;
};

/* Drop a reference to c; the last one frees it. */
void tls_config_unref(struct tls_config *c);

struct tls_conn {
        mbedtls_ssl_context ssl;
        struct bufferevent *bev;   /* the filter, handed to the user */
        struct bufferevent *under; /* the socket */
        /* the filter's own callbacks on the socket, called from ours */
        bufferevent_data_cb filter_readcb, filter_writecb;
        bufferevent_event_cb filter_eventcb;
        void *filter_arg;

        bool handshake_done;
        bool ended;           /* EOF or ERROR reported: nothing more is processed */
        bool failed;          /* ended by an error: no close_notify */
        bool under_eof;       /* the socket reached EOF; report once the input is decrypted */
        bool got_close_notify;
        bool sent_close_notify;
        bool have_peer_id;
        uint8_t peer_id[TLS_PEER_ID_SIZE];
        uint8_t leaf_id[TLS_PEER_ID_SIZE]; /* from the verify callback, valid once the handshake is done */
        bool have_leaf_id;

        /* Record boundaries of the ciphertext handed to mbedtls, to tell a
         * clean close from a cut record. */
        uint8_t record_header[5];
        unsigned record_header_len;
        size_t record_left;

        /* After the handshake of a ChaCha20-Poly1305 suite, libcrypto seals
         * and opens the records (tls-record.c) with the keys mbedtls exported
         * during it; mbedtls is then only asked for the peer's certificate. */
        enum tls_records records;
        struct tls_record_keys *keys; /* exported by mbedtls, until the handshake ends */
        struct tls_record *rec;
        struct tls_config *config; /* referenced until the connection is freed */

        char error[200];
        uint8_t scratch[TLS_RECORD_MAX]; /* to coalesce small chains into one record */
};


/* The connection whose handshake step runs on this thread: mbedtls hands the
 * exported keys to a callback of the configuration, not of the connection. */
extern __thread struct tls_conn *tls_handshaking;

/* The one place mbedtls error codes become -errno. */
int tls_errno(int r);
/* mbedtls' certificate check: any chain the profile allows; remembers the
 * leaf's id in the tls_conn given as arg. */
int tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags);
/* Wipe and free the keys mbedtls exported (none is fine). */
void tls_keys_free(struct tls_conn *t);
/* The handshake is done: hand the records to libcrypto when the keys came. */
void tls_take_records(struct tls_conn *t);
