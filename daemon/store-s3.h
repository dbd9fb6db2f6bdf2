/* SPDX-License-Identifier: MIT */
/* The S3 store (kind "s3"): any S3-compatible service (AWS, MinIO, Ceph
 * RGW, Garage) reached with libcurl and SigV4; one object per pack, named
 * PREFIX + hex id. Blocking calls on the store's threads, a small pool of
 * curl handles for connection reuse, retries with backoff on 5xx, 429 and
 * transport errors. Not the choice of what to upload (replicate.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_s3_config;

/* Attempts per request (the first and the retries) before the error goes to the caller. */
#define STORE_S3_ATTEMPTS 4
/* Longest wait between two attempts, in ms. */
#define STORE_S3_BACKOFF_MAX_MS 4000
/* Bytes per GET while proving a pack. */
#define STORE_S3_PROVE_RANGE (8u << 20)

/* The S3 store named name with the configuration text config (a stores
 * row's); reads its key files (which must be 0600). Logs why it cannot. */
int store_s3_new(const char *name, const char *config, struct store **ret);
/* True when s is an S3 store. */
bool store_is_s3(const struct store *s);
/* Check a configuration before it is stored: its fields and its key files
 * (present, regular, 0600, one non-empty line). -errno and a sentence in why. */
int store_s3_check(const struct store_s3_config *c, char *why, size_t why_size);

struct store_s3_status {
        uint64_t requests;       /* HTTP requests made, retries included */
        uint64_t retries;        /* requests that were attempts after a failure */
        uint64_t uploaded_bytes; /* pack bytes PUT successfully */
        uint64_t found_bytes;    /* bytes of packs a put found there already (not sent) */
        char error[256];         /* the last error, one sentence; "" after a success */
};
/* What s has done since it was opened (any thread). */
void store_s3_get_status(struct store *s, struct store_s3_status *ret);
/* Make calls in flight or waiting to retry give up now (-ECANCELED); any thread. */
void store_s3_shutdown(struct store *s);
