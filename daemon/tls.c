/* SPDX-License-Identifier: MIT */
/* The mbedtls bufferevent (docs/tls.md): a libevent filter whose input filter
 * runs the handshake and decrypts, and whose output filter encrypts, mbedtls'
 * BIO reading and writing the socket bufferevent's evbuffers. The filter only
 * forwards the socket's events, so our callbacks sit on the socket in front of
 * the filter's and report CONNECTED / EOF / ERROR ourselves, deferred. Not the
 * pinning (the caller's). mbedtls error codes become -errno here only. */
#include "tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "cleanup.h"
#include "log.h"

/* Largest plaintext of one record (TLS 1.2, no max_fragment_length). */
#define TLS_RECORD_MAX 16384
/* Ciphertext queued on the socket bufferevent: the output filter stops at
 * HIGH (plus one record) and resumes when the socket has drained to LOW. */
#define TLS_UNDER_WRITE_HIGH (512u << 10)
#define TLS_UNDER_WRITE_LOW (256u << 10)
/* Bytes per read()/write() on the socket (libevent's default is 16 KiB). */
#define TLS_UNDER_IO_MAX (128u << 10)

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

struct tls_config {
        struct identity *id;
        mbedtls_entropy_context entropy;
        mbedtls_ctr_drbg_context drbg;
        mbedtls_ssl_config conf[2]; /* by enum tls_role */
        bool conf_ready[2];
};

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

        char error[200];
        uint8_t scratch[TLS_RECORD_MAX]; /* to coalesce small chains into one record */
};

static void tls_under_read(struct bufferevent *under, void *arg);

/* The one place mbedtls error codes become -errno. */
static int tls_errno(int r)
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
        if (!c)
                return;
        tls_config_conf_free(c);
        mbedtls_ctr_drbg_free(&c->drbg);
        mbedtls_entropy_free(&c->entropy);
        free(c);
}

static int tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags);

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
        *ret = c;
        return 0;
}

/* The connection behind a TLS bufferevent, or NULL when bev is none. */
static struct tls_conn *tls_conn_of(struct bufferevent *bev)
{
        struct bufferevent *under;
        bufferevent_data_cb readcb;
        void *arg;

        if (!bev)
                return NULL;
        under = bufferevent_get_underlying(bev);
        if (!under)
                return NULL;
        bufferevent_getcb(under, &readcb, NULL, NULL, &arg);
        return readcb == tls_under_read ? arg : NULL;
}

/* Tell the user what happened (deferred: never from inside mbedtls). EOF and
 * ERROR are final and reported once. */
static void tls_report(struct tls_conn *t, short what, int err)
{
        if (t->ended)
                return;
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
                t->ended = true;
        if (err)
                errno = err; /* libevent hands it to the callback as the socket error */
        bufferevent_trigger_event(t->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

/* End the connection with BEV_EVENT_ERROR; why (and mbedtls' text for r, when
 * not 0) becomes tls_last_error(). */
static void tls_fail(struct tls_conn *t, short direction, int err, int r, const char *why)
{
        char text[128] = "";

        if (t->ended)
                return;
        if (r != 0) {
                mbedtls_strerror(r, text, sizeof(text));
                log_debug("mbedtls: %s: %s (-0x%04x)", why, text, (unsigned) -r);
                if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
                        char info[128] = "";
                        char *nl;
                        mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                                     mbedtls_ssl_get_verify_result(&t->ssl));
                        nl = strchr(info, '\n');
                        if (nl)
                                *nl = '\0';
                        snprintf(t->error, sizeof(t->error), "%s: peer certificate refused: %s", why, info);
                } else
                        snprintf(t->error, sizeof(t->error), "%s: %s", why, text);
        } else
                snprintf(t->error, sizeof(t->error), "%s", why);
        t->failed = true;
        /* whatever else arrives is not looked at */
        bufferevent_disable(t->under, EV_READ);
        evbuffer_drain(bufferevent_get_input(t->under), evbuffer_get_length(bufferevent_get_input(t->under)));
        tls_report(t, BEV_EVENT_ERROR | direction, err);
}

/* Follow the record headers of the ciphertext mbedtls consumes. */
static void tls_track_records(struct tls_conn *t, const uint8_t *p, size_t n)
{
        while (n > 0) {
                if (t->record_left > 0) {
                        size_t k = MIN(n, t->record_left);
                        t->record_left -= k;
                        p += k;
                        n -= k;
                        continue;
                }
                t->record_header[t->record_header_len++] = *p++;
                n--;
                if (t->record_header_len == sizeof(t->record_header)) {
                        t->record_left = (size_t) t->record_header[3] << 8 | t->record_header[4];
                        t->record_header_len = 0;
                }
        }
}

/* mbedtls BIO: ciphertext from the socket bufferevent's input. */
static int tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
        struct tls_conn *t = arg;
        int n = evbuffer_remove(bufferevent_get_input(t->under), buf, MIN(len, (size_t) INT32_MAX));

        if (n <= 0)
                return MBEDTLS_ERR_SSL_WANT_READ;
        tls_track_records(t, buf, (size_t) n);
        return n;
}

/* mbedtls BIO: ciphertext to the socket bufferevent's output (always all of it;
 * the output filter bounds how much it encrypts at a time). */
static int tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
        struct tls_conn *t = arg;

        len = MIN(len, (size_t) INT32_MAX);
        if (evbuffer_add(bufferevent_get_output(t->under), buf, len) < 0)
                return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        return (int) len;
}

/* Accept any certificate chain the profile allows: trust, and the validity
 * window, come from the caller pinning the leaf's id. Remembers that id. */
static int tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
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

/* Run the handshake as far as the input allows: 1 done (now or before), 0 more
 * input needed, -1 failed (reported). */
static int tls_handshake(struct tls_conn *t)
{
        int r;

        if (t->handshake_done)
                return 1;
        r = mbedtls_ssl_handshake(&t->ssl);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                return 0;
        if (r != 0) {
                /* mbedtls leaves this one without an alert: tell the peer why */
                if (r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
                        (void) mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                                              MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
                tls_fail(t, BEV_EVENT_READING, EPROTO, r, "TLS handshake failed");
                return -1;
        }
        if (!t->have_leaf_id) {
                tls_fail(t, BEV_EVENT_READING, EPROTO, 0, "TLS handshake failed: no peer certificate");
                return -1;
        }
        memcpy(t->peer_id, t->leaf_id, sizeof(t->peer_id));
        t->have_peer_id = true;
        t->handshake_done = true;
        tls_report(t, BEV_EVENT_CONNECTED, 0);
        /* the read timeout covered the handshake; it starts again now */
        if (bufferevent_get_enabled(t->bev) & EV_READ)
                bufferevent_enable(t->bev, EV_READ);
        /* what the user wrote while we were shaking hands */
        if (evbuffer_get_length(bufferevent_get_output(t->bev)) > 0)
                bufferevent_flush(t->bev, EV_WRITE, BEV_NORMAL);
        return 1;
}

/* Once the socket is at EOF and every byte it gave has been decrypted, say
 * how the connection ended. */
static void tls_check_eof(struct tls_conn *t)
{
        if (!t->under_eof || t->ended)
                return;
        if (evbuffer_get_length(bufferevent_get_input(t->under)) > 0 || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0)
                return; /* the input filter has more to do first */
        if (!t->handshake_done)
                tls_fail(t, BEV_EVENT_READING, ECONNRESET, 0, "connection closed during the TLS handshake");
        else if (t->record_left > 0 || t->record_header_len > 0)
                tls_fail(t, BEV_EVENT_READING, ECONNRESET, 0, "connection closed in the middle of a TLS record");
        else {
                /* at a record boundary: the peer's framing tells whether anything is missing */
                snprintf(t->error, sizeof(t->error), "connection closed without close_notify");
                tls_report(t, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
        }
}

/* Decrypt into dst all the ciphertext the socket has given. This passes the
 * user's read high watermark by up to one socket read (TLS_UNDER_IO_MAX): the
 * filter stops reading the socket once the input is full, so ciphertext never
 * waits in the socket bufferevent, where libevent would not look at it again
 * after a bufferevent_disable/enable(EV_READ) (nor plaintext inside mbedtls).
 * Returns the bytes added (also when the connection ended on the way: t->ended). */
static size_t tls_decrypt(struct tls_conn *t, struct evbuffer *dst)
{
        size_t produced = 0;

        for (;;) {
                struct evbuffer_iovec v[2];
                int n, k = 0, r = 0;

                n = evbuffer_reserve_space(dst, TLS_RECORD_MAX, v, 2);
                if (n <= 0) {
                        tls_fail(t, BEV_EVENT_READING, ENOMEM, 0, "out of memory");
                        break;
                }
                /* one record: into v[0], and on into v[1] if v[0] was too short */
                for (; k < n; k++) {
                        r = mbedtls_ssl_read(&t->ssl, v[k].iov_base, v[k].iov_len);
                        if (r <= 0)
                                break;
                        v[k].iov_len = (size_t) r;
                        produced += (size_t) r;
                        if (mbedtls_ssl_get_bytes_avail(&t->ssl) == 0) {
                                k++;
                                break;
                        }
                }
                if (k > 0 && evbuffer_commit_space(dst, v, k) < 0) {
                        tls_fail(t, BEV_EVENT_READING, ENOMEM, 0, "out of memory");
                        break;
                }
                if (r > 0)
                        continue;
                if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                        break;
                if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
                        t->got_close_notify = true;
                        /* answer it while the socket is still there; then nothing more is read */
                        if (!t->sent_close_notify && mbedtls_ssl_close_notify(&t->ssl) == 0)
                                t->sent_close_notify = true;
                        evbuffer_drain(bufferevent_get_input(t->under),
                                       evbuffer_get_length(bufferevent_get_input(t->under)));
                        tls_report(t, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
                        break;
                }
                tls_fail(t, BEV_EVENT_READING, EPROTO, r, "TLS record refused");
                break;
        }
        return produced;
}

/* Input filter: ciphertext from the socket (src) to plaintext for the user (dst). */
static enum bufferevent_filter_result tls_filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                    ev_ssize_t limit, enum bufferevent_flush_mode mode, void *arg)
{
        struct tls_conn *t = arg;
        size_t produced = 0;

        if (!t->ended && tls_handshake(t) > 0)
                produced = tls_decrypt(t, dst);
        tls_check_eof(t);
        if (t->ended)
                evbuffer_drain(src, evbuffer_get_length(src));
        /* BEV_OK makes the filter wake the user's read callback (before the EOF or ERROR) */
        if (produced > 0)
                return BEV_OK;
        return t->ended ? BEV_ERROR : BEV_NEED_MORE;
}

/* Output filter: the user's plaintext (src) to records on the socket (dst),
 * about dst_limit bytes at a time. Holds everything until the handshake is done. */
static enum bufferevent_filter_result tls_filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                     ev_ssize_t limit, enum bufferevent_flush_mode mode, void *arg)
{
        struct tls_conn *t = arg;
        size_t before = evbuffer_get_length(dst);
        bool wrote = false;

        if (t->failed || t->sent_close_notify)
                return BEV_ERROR;
        if (!t->handshake_done)
                return BEV_NEED_MORE;
        while (evbuffer_get_length(src) > 0) {
                struct evbuffer_iovec v;
                const uint8_t *p;
                size_t len;
                int r;

                if (limit >= 0 && evbuffer_get_length(dst) - before >= (size_t) limit)
                        break;
                if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
                        break;
                len = MIN(evbuffer_get_length(src), (size_t) TLS_RECORD_MAX);
                if (v.iov_len >= len)
                        p = v.iov_base; /* straight from the user's chain */
                else {
                        /* small chains (a frame header, then its payload) share a record */
                        if (evbuffer_copyout(src, t->scratch, len) != (ev_ssize_t) len)
                                break;
                        p = t->scratch;
                }
                r = mbedtls_ssl_write(&t->ssl, p, len);
                if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                        break;
                if (r < 0) {
                        tls_fail(t, BEV_EVENT_WRITING, EPROTO, r, "TLS write failed");
                        return BEV_ERROR;
                }
                evbuffer_drain(src, (size_t) r);
                wrote = true;
        }
        if (mode == BEV_FINISHED && evbuffer_get_length(src) == 0 && !t->sent_close_notify) {
                if (mbedtls_ssl_close_notify(&t->ssl) == 0)
                        t->sent_close_notify = true;
                wrote = true;
        }
        return wrote ? BEV_OK : BEV_NEED_MORE;
}

/* Socket callbacks, in front of the filter's. */
static void tls_under_read(struct bufferevent *under, void *arg)
{
        struct tls_conn *t = arg;
        t->filter_readcb(under, t->filter_arg);
}

static void tls_under_write(struct bufferevent *under, void *arg)
{
        struct tls_conn *t = arg;
        t->filter_writecb(under, t->filter_arg);
}

static void tls_under_event(struct bufferevent *under, short what, void *arg)
{
        struct tls_conn *t = arg;
        int err = errno;

        if (what & BEV_EVENT_CONNECTED)
                return; /* TCP is up; the user hears CONNECTED after the handshake */
        if (what & BEV_EVENT_ERROR) {
                char why[128];
                snprintf(why, sizeof(why), "connection error: %s", strerror(err ? err : EIO));
                tls_fail(t, what & (BEV_EVENT_READING | BEV_EVENT_WRITING), err ? err : EIO, 0, why);
                return;
        }
        if (what & BEV_EVENT_EOF) {
                t->under_eof = true;
                /* decrypt what is left (the filter hands it on and wakes the user) */
                if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
                        t->filter_readcb(under, t->filter_arg);
                tls_check_eof(t);
                return;
        }
        if (!t->ended)
                bufferevent_trigger_event(t->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

/* Write the socket's pending output now, without blocking; true when all of it went. */
static bool tls_flush_now(struct tls_conn *t)
{
        struct evbuffer *out = bufferevent_get_output(t->under);
        int fd = bufferevent_getfd(t->under);
        bool ok = true;

        if (fd < 0)
                return false;
        /* a socket bufferevent freezes its output's start: only it drains it */
        evbuffer_unfreeze(out, 1);
        while (ok && evbuffer_get_length(out) > 0) {
                struct evbuffer_iovec v[16];
                struct iovec iov[16];
                struct msghdr msg = {.msg_iov = iov};
                int n = MIN(evbuffer_peek(out, -1, NULL, v, 16), 16);
                ssize_t sent;

                for (int i = 0; i < n; i++)
                        iov[i] = (struct iovec){.iov_base = v[i].iov_base, .iov_len = v[i].iov_len};
                msg.msg_iovlen = (size_t) n;
                sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
                ok = sent > 0 && evbuffer_drain(out, (size_t) sent) == 0;
        }
        evbuffer_freeze(out, 1);
        return ok;
}

/* The filter is being destroyed (the user freed it): send close_notify when the
 * socket takes it now, then let go. The socket is freed after this. */
static void tls_conn_free(void *arg)
{
        struct tls_conn *t = arg;

        if (!t)
                return;
        if (t->handshake_done && !t->failed && t->under && tls_flush_now(t) && !t->sent_close_notify &&
            mbedtls_ssl_close_notify(&t->ssl) == 0) {
                t->sent_close_notify = true;
                (void) tls_flush_now(t);
        }
        mbedtls_ssl_free(&t->ssl);
        free(t);
}

int tls_wrap(struct tls_config *c, struct bufferevent *under, enum tls_role role, struct bufferevent **ret)
{
        struct tls_conn *t;
        struct bufferevent *bev;
        int r;

        if (!under)
                return -EINVAL;
        if (!c || !ret || (role != TLS_CLIENT && role != TLS_SERVER)) {
                bufferevent_free(under);
                return -EINVAL;
        }
        t = calloc(1, sizeof(*t));
        if (!t) {
                bufferevent_free(under);
                return -ENOMEM;
        }
        mbedtls_ssl_init(&t->ssl);
        r = mbedtls_ssl_setup(&t->ssl, &c->conf[role]);
        if (r != 0) {
                log_debug("mbedtls: TLS connection setup failed: -0x%04x", (unsigned) -r);
                tls_conn_free(t);
                bufferevent_free(under);
                return tls_errno(r);
        }
        mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
        mbedtls_ssl_set_verify(&t->ssl, tls_verify, t);
        t->under = under;

        bev = bufferevent_filter_new(under, tls_filter_in, tls_filter_out,
                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, tls_conn_free, t);
        if (!bev) {
                tls_conn_free(t);
                bufferevent_free(under);
                return -ENOMEM;
        }
        t->bev = bev;
        bufferevent_getcb(under, &t->filter_readcb, &t->filter_writecb, &t->filter_eventcb, &t->filter_arg);
        bufferevent_setcb(under, tls_under_read, tls_under_write, tls_under_event, t);
        bufferevent_setwatermark(under, EV_WRITE, TLS_UNDER_WRITE_LOW, TLS_UNDER_WRITE_HIGH);
        bufferevent_set_max_single_read(under, TLS_UNDER_IO_MAX);
        bufferevent_set_max_single_write(under, TLS_UNDER_IO_MAX);
        bufferevent_enable(bev, EV_READ | EV_WRITE);

        if (role == TLS_CLIENT)
                (void) tls_handshake(t); /* ClientHello; a failure is reported as an event */
        *ret = bev;
        return 0;
}

int tls_peer_id(struct bufferevent *bev, uint8_t ret_id[TLS_PEER_ID_SIZE])
{
        struct tls_conn *t = tls_conn_of(bev);

        if (!t)
                return -EINVAL;
        if (!t->handshake_done || !t->have_peer_id)
                return -ENOTCONN;
        memcpy(ret_id, t->peer_id, TLS_PEER_ID_SIZE);
        return 0;
}

const char *tls_ciphersuite(struct bufferevent *bev)
{
        struct tls_conn *t = tls_conn_of(bev);

        if (!t || !t->handshake_done)
                return NULL;
        return mbedtls_ssl_get_ciphersuite(&t->ssl);
}

const char *tls_last_error(struct bufferevent *bev)
{
        struct tls_conn *t = tls_conn_of(bev);

        if (!t)
                return "not a TLS connection";
        return t->error[0] ? t->error : "no error";
}
