/* SPDX-License-Identifier: MIT */
/* The mbedtls bufferevent (docs/tls.md): a libevent filter whose input filter
 * runs the handshake and decrypts, and whose output filter encrypts, mbedtls'
 * BIO reading and writing the socket bufferevent's evbuffers; once the
 * handshake is done, libcrypto's records (tls-record.c) when the suite
 * allows. The filter only forwards the socket's events, so our callbacks sit
 * on the socket in front of the filter's and report CONNECTED / EOF / ERROR
 * ourselves, deferred. Not the configurations (tls-config.c) nor the pinning
 * (the caller's). */
#include "tls-private.h"

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

#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "cleanup.h"
#include "log.h"

static void tls_under_read(struct bufferevent *under, void *arg);

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


/* Run the handshake as far as the input allows: 1 done (now or before), 0 more
 * input needed, -1 failed (reported). */
static int tls_handshake(struct tls_conn *t)
{
        int r;

        if (t->handshake_done)
                return 1;
        tls_handshaking = t;
        r = mbedtls_ssl_handshake(&t->ssl);
        tls_handshaking = NULL;
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
        tls_take_records(t);
        tls_report(t, BEV_EVENT_CONNECTED, 0);
        /* the read timeout covered the handshake; it starts again now */
        if (bufferevent_get_enabled(t->bev) & EV_READ)
                bufferevent_enable(t->bev, EV_READ);
        /* what the user wrote while we were shaking hands */
        if (evbuffer_get_length(bufferevent_get_output(t->bev)) > 0)
                bufferevent_flush(t->bev, EV_WRITE, BEV_NORMAL);
        return 1;
}

/* Queue close_notify on the socket; true when it was. */
static bool tls_send_close_notify(struct tls_conn *t)
{
        static const uint8_t close_notify[2] = {1 /* warning */, 0 /* close_notify */};

        if (t->sent_close_notify)
                return true;
        if (t->rec ? tls_record_seal_buf(t->rec, TLS_RECORD_TYPE_ALERT, close_notify, sizeof(close_notify),
                                         bufferevent_get_output(t->under)) == 0
                   : mbedtls_ssl_close_notify(&t->ssl) == 0)
                t->sent_close_notify = true;
        return t->sent_close_notify;
}

/* The peer said close_notify: answer it while the socket is still there;
 * then nothing more is read. */
static void tls_got_close_notify(struct tls_conn *t)
{
        t->got_close_notify = true;
        (void) tls_send_close_notify(t);
        evbuffer_drain(bufferevent_get_input(t->under), evbuffer_get_length(bufferevent_get_input(t->under)));
        tls_report(t, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
}

/* Once the socket is at EOF and every byte it gave has been decrypted, say
 * how the connection ended. */
static void tls_check_eof(struct tls_conn *t)
{
        size_t left = evbuffer_get_length(bufferevent_get_input(t->under));

        if (!t->under_eof || t->ended)
                return;
        if (t->rec) {
                /* the input filter opens every whole record: what is left is part of one */
                if (left > 0)
                        tls_fail(t, BEV_EVENT_READING, ECONNRESET, 0,
                                 "connection closed in the middle of a TLS record");
                else {
                        snprintf(t->error, sizeof(t->error), "connection closed without close_notify");
                        tls_report(t, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
                }
                return;
        }
        if (left > 0 || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0)
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
                        tls_got_close_notify(t);
                        break;
                }
                tls_fail(t, BEV_EVENT_READING, EPROTO, r, "TLS record refused");
                break;
        }
        return produced;
}

/* tls_decrypt with libcrypto's records: every whole record in the socket's
 * input, each opened straight into dst. */
static size_t tls_open_records(struct tls_conn *t, struct evbuffer *dst)
{
        struct evbuffer *src = bufferevent_get_input(t->under);
        size_t produced = 0;

        while (!t->ended) {
                struct evbuffer_iovec v;
                uint8_t type;
                size_t len;
                int r;

                if (evbuffer_reserve_space(dst, TLS_RECORD_PLAIN_MAX, &v, 1) != 1 || v.iov_len < TLS_RECORD_PLAIN_MAX) {
                        tls_fail(t, BEV_EVENT_READING, ENOMEM, 0, "out of memory");
                        break;
                }
                r = tls_record_open(t->rec, src, v.iov_base, &type, &len);
                if (r == 0)
                        break;
                if (r < 0) {
                        tls_fail(t, BEV_EVENT_READING, EPROTO, 0,
                                 r == -EBADMSG ? "TLS record refused: it does not authenticate"
                                               : "TLS record refused: not a TLS 1.2 record of a possible length");
                        break;
                }
                if (type == TLS_RECORD_TYPE_DATA) {
                        v.iov_len = len;
                        if (len > 0 && evbuffer_commit_space(dst, &v, 1) < 0) {
                                tls_fail(t, BEV_EVENT_READING, ENOMEM, 0, "out of memory");
                                break;
                        }
                        produced += len;
                } else if (type == TLS_RECORD_TYPE_ALERT && len == 2 && ((uint8_t *) v.iov_base)[1] == 0) {
                        tls_got_close_notify(t);
                } else if (type == TLS_RECORD_TYPE_ALERT && len == 2) {
                        char why[64];
                        snprintf(why, sizeof(why), "TLS alert %u from the peer", ((uint8_t *) v.iov_base)[1]);
                        tls_fail(t, BEV_EVENT_READING, EPROTO, 0, why);
                } else {
                        /* a handshake record (renegotiation is off), a change_cipher_spec, a bad alert */
                        tls_fail(t, BEV_EVENT_READING, EPROTO, 0, "TLS record refused: unexpected content type");
                }
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
                produced = t->rec ? tls_open_records(t, dst) : tls_decrypt(t, dst);
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
                if (t->rec) {
                        len = MIN(evbuffer_get_length(src), (size_t) TLS_RECORD_PLAIN_MAX);
                        r = tls_record_seal(t->rec, TLS_RECORD_TYPE_DATA, src, len, dst);
                        if (r < 0) {
                                tls_fail(t, BEV_EVENT_WRITING, -r, 0, "TLS write failed");
                                return BEV_ERROR;
                        }
                        evbuffer_drain(src, len);
                        wrote = true;
                        continue;
                }
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
                (void) tls_send_close_notify(t);
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
            tls_send_close_notify(t))
                (void) tls_flush_now(t);
        tls_keys_free(t);
        tls_record_free(t->rec);
        mbedtls_ssl_free(&t->ssl);
        tls_config_unref(t->config);
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
        t->records = c->records;
        t->config = c;
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
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

const char *tls_records(struct bufferevent *bev)
{
        struct tls_conn *t = tls_conn_of(bev);

        if (!t || !t->handshake_done)
                return NULL;
        return t->rec ? "libcrypto" : "mbedtls";
}

const char *tls_last_error(struct bufferevent *bev)
{
        struct tls_conn *t = tls_conn_of(bev);

        if (!t)
                return "not a TLS connection";
        return t->error[0] ? t->error : "no error";
}
