/* SPDX-License-Identifier: MIT */
/* daemon/tls-record.c: once mbedtls has shaken hands, libcrypto seals and
 * opens the ChaCha20-Poly1305 records. The bytes on the wire are TLS 1.2's,
 * so a libcrypto end talks to an mbedtls end, both directions, 16 MiB and
 * odd sizes, and close_notify each way; a forged, an overlong or a replayed
 * record ends the connection with a clear error. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "cleanup.h"
#include "tls-harness.h"
#include "tls-record.h"
#include "tls.h"

static bool server_ended(struct ctx *c)
{
        return c->server.end_events != 0;
}

/* Both directions at once, 16 MiB and odd sizes, with the client's and the
 * server's records sealed as told. */
static void exchange(enum tls_records client, enum tls_records server)
{
        struct ctx c;
        size_t len_a, len_b;
        uint8_t *a = make_payload(7, &len_a), *b = make_payload(8, &len_b);

        ctx_init(&c);
        tls_config_set_records(c.cfg_a, client);
        tls_config_set_records(c.cfg_b, server);
        c.server_send = b;
        c.server_send_len = len_b;
        c.server.expect = a;
        c.server.expect_len = len_a;
        connect_client(&c);
        c.client.expect = b;
        c.client.expect_len = len_b;
        write_pieces(c.client.bev, a);
        c.done = both_got_all;
        cr_assert(run(&c, 40), "incomplete: client %zu of %zu, server %zu of %zu", c.client.got, len_b,
                  c.server.got, len_a);
        cr_assert_eq(c.client.end_events, 0, "client: %s", c.client.error);
        cr_assert_eq(c.server.end_events, 0, "server: %s", c.server.error);
        cr_assert(!c.client.mismatch && !c.server.mismatch, "bytes differ");
        cr_assert_eq(c.client.got, len_b);
        cr_assert_eq(c.server.got, len_a);
        cr_assert_str_eq(tls_records(c.client.bev), client == TLS_RECORDS_LIBCRYPTO ? "libcrypto" : "mbedtls");
        cr_assert_str_eq(tls_records(c.server.bev), server == TLS_RECORDS_LIBCRYPTO ? "libcrypto" : "mbedtls");
        cr_assert_leq(c.client.max_ciphertext_queued, 1 * MIB);
        cr_assert_leq(c.server.max_ciphertext_queued, 1 * MIB);
        ctx_done(&c);
        free(a);
        free(b);
}

Test(tls_records, libcrypto_client_mbedtls_server, .timeout = 60)
{
        exchange(TLS_RECORDS_LIBCRYPTO, TLS_RECORDS_MBEDTLS);
}

Test(tls_records, mbedtls_client_libcrypto_server, .timeout = 60)
{
        exchange(TLS_RECORDS_MBEDTLS, TLS_RECORDS_LIBCRYPTO);
}

Test(tls_records, libcrypto_both_ends, .timeout = 60)
{
        exchange(TLS_RECORDS_LIBCRYPTO, TLS_RECORDS_LIBCRYPTO);
}

/* The client writes, frees its end (close_notify) and the server must see
 * every byte, then a clean EOF. */
static void close_notify(enum tls_records client, enum tls_records server)
{
        static const char bye[] = "last words, then close_notify";
        struct ctx c;

        ctx_init(&c);
        tls_config_set_records(c.cfg_a, client);
        tls_config_set_records(c.cfg_b, server);
        connect_client(&c);
        cr_assert_eq(evbuffer_add(bufferevent_get_output(c.client.bev), bye, sizeof(bye)), 0);
        c.client.free_on_written = true;
        c.server.expect = (const uint8_t *) bye;
        c.server.expect_len = sizeof(bye);
        c.done = server_ended;
        cr_assert(run(&c, 10));
        cr_assert_null(c.client.bev, "the client freed its end");
        cr_assert_eq(c.server.got, sizeof(bye));
        cr_assert(!c.server.mismatch);
        cr_assert_eq(c.server.end_events, BEV_EVENT_EOF | BEV_EVENT_READING, "events 0x%x: %s",
                     c.server.end_events, c.server.error);
        cr_assert_str_eq(c.server.error, "no error", "a close_notify came");
        ctx_done(&c);
}

Test(tls_records, close_notify_from_libcrypto_to_mbedtls, .timeout = 30)
{
        close_notify(TLS_RECORDS_LIBCRYPTO, TLS_RECORDS_MBEDTLS);
}

Test(tls_records, close_notify_from_mbedtls_to_libcrypto, .timeout = 30)
{
        close_notify(TLS_RECORDS_MBEDTLS, TLS_RECORDS_LIBCRYPTO);
}

Test(tls_records, close_notify_between_libcrypto_ends, .timeout = 30)
{
        close_notify(TLS_RECORDS_LIBCRYPTO, TLS_RECORDS_LIBCRYPTO);
}

/* Once connected, the client's socket sends raw bytes after one real record. */
static const uint8_t *raw_bytes;
static size_t raw_len;

static void send_raw_once(struct end *e)
{
        struct ctx *c = e->ctx;

        if (!raw_bytes || !c->client.connected)
                return;
        cr_assert_eq(write(client_fd(c), raw_bytes, raw_len), (ssize_t) raw_len);
        raw_bytes = NULL;
}

/* The server has libcrypto's records; the client sends "ping" sealed
 * properly, then the raw record: the server gets "ping", then an error
 * whose text says why. */
static void refused(const uint8_t *raw, size_t len, const char *why)
{
        static const char ping[] = "ping";
        struct ctx c;

        ctx_init(&c);
        connect_client(&c);
        cr_assert_eq(evbuffer_add(bufferevent_get_output(c.client.bev), ping, sizeof(ping)), 0);
        c.server.expect = (const uint8_t *) ping;
        c.server.expect_len = sizeof(ping);
        /* the server echoes nothing; the raw bytes go once the server has read ping */
        raw_bytes = raw;
        raw_len = len;
        c.done = server_ended;
        c.server.on_read = send_raw_once;
        cr_assert(run(&c, 10), "the server did not end the connection");
        cr_assert_eq(c.server.got, sizeof(ping));
        cr_assert(!c.server.mismatch);
        cr_assert(c.server.end_events & BEV_EVENT_ERROR, "events 0x%x: %s", c.server.end_events, c.server.error);
        cr_assert_not_null(strstr(c.server.error, why), "error: %s", c.server.error);
        ctx_done(&c);
}

Test(tls_records, forged_record_does_not_authenticate, .timeout = 30)
{
        uint8_t forged[5 + 64];

        forged[0] = 0x17;
        forged[1] = 0x03;
        forged[2] = 0x03;
        forged[3] = 0;
        forged[4] = 64;
        fill_random(forged + 5, 64, 9);
        refused(forged, sizeof(forged), "does not authenticate");
}

Test(tls_records, overlong_record_is_refused_before_its_bytes, .timeout = 30)
{
        /* 16384 + 16 + 1 bytes promised: refused on the header alone */
        static const uint8_t overlong[] = {0x17, 0x03, 0x03, 0x40, 0x11};
        refused(overlong, sizeof(overlong), "not a TLS 1.2 record of a possible length");
}

Test(tls_records, wrong_version_is_refused, .timeout = 30)
{
        static const uint8_t tls10[] = {0x17, 0x03, 0x01, 0x00, 0x20};
        refused(tls10, sizeof(tls10), "not a TLS 1.2 record");
}

Test(tls_records, short_record_is_refused, .timeout = 30)
{
        /* less than a tag */
        static const uint8_t short_record[] = {0x17, 0x03, 0x03, 0x00, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                               11, 12, 13, 14, 15};
        refused(short_record, sizeof(short_record), "not a TLS 1.2 record");
}

/* ---- the record layer alone ---------------------------------------------------- */

/* Two record layers facing each other: a's write keys are b's read keys. */
static void record_pair(struct tls_record **a, struct tls_record **b)
{
        struct tls_record_keys ka = {0}, kb = {0};

        fill_random(ka.write_key, sizeof(ka.write_key), 10);
        fill_random(ka.read_key, sizeof(ka.read_key), 11);
        fill_random(ka.write_iv, sizeof(ka.write_iv), 12);
        fill_random(ka.read_iv, sizeof(ka.read_iv), 13);
        ka.write_seq = 1;
        ka.read_seq = 1;
        memcpy(kb.write_key, ka.read_key, sizeof(kb.write_key));
        memcpy(kb.read_key, ka.write_key, sizeof(kb.read_key));
        memcpy(kb.write_iv, ka.read_iv, sizeof(kb.write_iv));
        memcpy(kb.read_iv, ka.write_iv, sizeof(kb.read_iv));
        kb.write_seq = 1;
        kb.read_seq = 1;
        cr_assert_eq(tls_record_new(&ka, a), 0);
        cr_assert_eq(tls_record_new(&kb, b), 0);
}

Test(tls_records, seal_and_open_sizes_across_chains)
{
        static const size_t sizes[] = {0, 1, 100, 16383, 16384};
        struct tls_record *a, *b;
        struct evbuffer *src = evbuffer_new(), *wire = evbuffer_new();
        static uint8_t plain[16385], out[TLS_RECORD_PLAIN_MAX]; /* one more than a record holds */
        uint8_t type;
        size_t len;

        record_pair(&a, &b);
        fill_random(plain, sizeof(plain), 14);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                /* the plaintext in small pieces, as evbuffer chains */
                for (size_t off = 0; off < sizes[i]; off += 1000)
                        cr_assert_eq(evbuffer_add(src, plain + off, MIN(1000, sizes[i] - off)), 0);
                cr_assert_eq(tls_record_seal(a, TLS_RECORD_TYPE_DATA, src, sizes[i], wire), 0);
                cr_assert_eq(evbuffer_get_length(src), sizes[i], "seal does not drain its source");
                evbuffer_drain(src, sizes[i]);
                cr_assert_eq(evbuffer_get_length(wire), 5 + sizes[i] + 16);
                cr_assert_eq(tls_record_open(b, wire, out, &type, &len), 1);
                cr_assert_eq(type, TLS_RECORD_TYPE_DATA);
                cr_assert_eq(len, sizes[i]);
                cr_assert(memcmp(out, plain, len) == 0);
                cr_assert_eq(evbuffer_get_length(wire), 0);
        }
        cr_assert_eq(evbuffer_add(src, plain, 16385), 0);
        cr_assert_eq(tls_record_seal(a, TLS_RECORD_TYPE_DATA, src, 16385, wire), -EINVAL);
        tls_record_free(a);
        tls_record_free(b);
        evbuffer_free(src);
        evbuffer_free(wire);
}

Test(tls_records, partial_record_waits_and_replay_or_flip_fails)
{
        struct tls_record *a, *b;
        struct evbuffer *wire = evbuffer_new(), *copy = evbuffer_new();
        static uint8_t out[TLS_RECORD_PLAIN_MAX];
        unsigned char *p;
        uint8_t type;
        size_t len;

        record_pair(&a, &b);
        cr_assert_eq(tls_record_seal_buf(a, TLS_RECORD_TYPE_DATA, "one", 3, wire), 0);
        cr_assert_eq(tls_record_seal_buf(a, TLS_RECORD_TYPE_DATA, "two", 3, wire), 0);
        /* a record and a half: the first opens, the half waits */
        cr_assert_eq(evbuffer_add(copy, evbuffer_pullup(wire, -1), 24 + 10), 0);
        cr_assert_eq(tls_record_open(b, copy, out, &type, &len), 1);
        cr_assert(len == 3 && memcmp(out, "one", 3) == 0);
        cr_assert_eq(tls_record_open(b, copy, out, &type, &len), 0, "half a record: wait for more");
        evbuffer_drain(copy, evbuffer_get_length(copy));
        /* the first record again (a replay): it was sealed under sequence number 1, b expects 2 */
        cr_assert_eq(evbuffer_add(copy, evbuffer_pullup(wire, -1), 24), 0);
        cr_assert_eq(tls_record_open(b, copy, out, &type, &len), -EBADMSG);
        tls_record_free(b);
        tls_record_free(a);

        /* one bit flipped in the ciphertext, the tag or the header */
        for (size_t at = 0; at < 24; at++) {
                if (at >= 1 && at <= 4)
                        continue; /* version and length: refused as malformed or waiting, not forged */
                record_pair(&a, &b);
                evbuffer_drain(wire, evbuffer_get_length(wire));
                cr_assert_eq(tls_record_seal_buf(a, TLS_RECORD_TYPE_DATA, "one", 3, wire), 0);
                p = evbuffer_pullup(wire, -1);
                p[at] ^= at == 0 ? 0x02 : 0x01; /* 0x17 → 0x15: an alert that is not one */
                cr_assert_eq(tls_record_open(b, wire, out, &type, &len), -EBADMSG, "bit flipped at %zu", at);
                tls_record_free(a);
                tls_record_free(b);
        }
        evbuffer_free(wire);
        evbuffer_free(copy);
}
