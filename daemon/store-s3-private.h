/* SPDX-License-Identifier: MIT */
/* What store-s3.c (the store_ops, opening) and store-s3-http.c (one signed
 * request with its retries, the pool of curl handles) share: the store and
 * a request. Not for other files. */
#pragma once

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store-s3-wire.h"
#include "store-s3.h"

#define POOL_MAX 8
#define ERROR_BODY_MAX (16u << 10)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct store_s3 {
        struct store base;
        char *name;
        struct store_s3_config cfg;
        char *bucket_url; /* "http://host:port/bucket" or "http://bucket.host:port" */
        char *userpwd;    /* "access:secret" */
        char *sigv4;      /* "aws:amz:REGION:s3" */
        pthread_mutex_t lock;
        pthread_cond_t cond; /* shutdown wakes backoff sleeps */
        CURL *idle[POOL_MAX];
        unsigned n_idle;
        bool stopping;
        size_t max_keys; /* per ListObjectsV2 page: 1000, fewer for tests */
        uint64_t foreign_max; /* foreign keys in a row a listing takes (S3_LIST_FOREIGN_MAX) */
        struct store_s3_status status;
};

/* One request: what to send, where the answer goes, what came back. */
struct store_s3_call {
        const char *method; /* GET PUT HEAD DELETE */
        const char *what;   /* for messages: "pack 1a2b..." or "the bucket" */
        char url[1024 + 512];
        const char *payload_sha256; /* hex; empty body's when NULL */
        struct curl_slist *headers; /* extra headers (Range, lock, Content-MD5) */
        /* upload */
        int fd;
        uint64_t size, pos;
        int read_error;
        /* download: into buf[cap] (fixed), or a growing body of at most cap bytes */
        char *buf;
        size_t cap, got;
        bool grow;
        char *err_body;
        size_t err_len;
        bool err_cut;     /* the error body went past what we keep: the transfer was stopped */
        bool url_too_long; /* the URL did not fit: not sent */
        uint64_t discarded;  /* bytes of a success's body nothing asked for (PUT, DELETE) */
        bool body_cut;       /* more of them than ERROR_BODY_MAX: the transfer was stopped */
        /* optional: asked before each retry; true when what the call does
         * is done already (a PUT the server took, its answer lost) */
        bool (*done_already)(void *arg);
        void *done_already_arg;
        /* answer */
        long status;
        uint64_t length;
        bool have_length; /* the answer said its Content-Length */
        char retain_until[64];
        char etag[80];    /* without its quotes */
        char code[64];
};

/* Set s's error (the one status shows); any thread. */
void store_s3_http_set_error(struct store_s3 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A request of method on pack's object (pack NULL: on the bucket, with the canonical query). */
void store_s3_http_init(struct store_s3 *s, struct store_s3_call *c, const char *method,
                        const struct oid *pack, const char *query);
/* Append a header line to *list: 0, or -ENOMEM with the whole list freed
 * and *list NULL (curl_slist_append returns NULL and keeps the old list). */
int store_s3_http_header(struct curl_slist **list, const char *line);
/* Run c, retrying transport errors, 5xx and 429 (STORE_S3_ATTEMPTS in all).
 * 0 on 2xx; -errno otherwise (store_s3_wire_status_errno), the store's error set for refusals. */
int store_s3_http_call(struct store_s3 *s, struct store_s3_call *c);
