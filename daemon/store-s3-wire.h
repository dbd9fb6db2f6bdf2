/* SPDX-License-Identifier: MIT */
/* The pure parts of the S3 store (no curl handles, no logging, no I/O): its
 * configuration text (a stores row's config), SigV4-canonical query strings,
 * ListObjectsV2 and error bodies (expat), and which outcomes are retried.
 * store-s3.c does the requests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a ListObjectsV2 or error body we read at most. */
#define STORE_S3_XML_MAX (4u << 20)
/* Longest key, continuation token, error code we accept from a server. */
#define STORE_S3_TEXT_MAX 1024

struct store_s3_config {
        char *endpoint; /* http[s]://host[:port], no path */
        char *bucket;
        char *prefix;          /* "" or ending in '/' is the user's choice; [A-Za-z0-9._/-] */
        char *region;          /* default "us-east-1" */
        char *access_key_file; /* absolute paths, 0600 */
        char *secret_key_file;
        bool virtual_host; /* bucket.host instead of host/bucket */
        unsigned object_lock_days;
};

/* Parse a config text ("key=value" lines) into ret (freed with store_s3_config_done);
 * -EINVAL on an unknown key, a missing or invalid value. */
int store_s3_wire_config_parse(const char *text, struct store_s3_config *ret);
/* Check every field (endpoint scheme, bucket and prefix characters, absolute key paths);
 * -EINVAL with a one-sentence reason in *ret_why. */
int store_s3_wire_config_check(const struct store_s3_config *c, const char **ret_why);
/* The config text of c (malloc'd). */
int store_s3_wire_config_format(const struct store_s3_config *c, char **ret);
/* Free the strings of c. */
void store_s3_wire_config_done(struct store_s3_config *c);

/* Percent-encode s as SigV4 wants (unreserved A-Z a-z 0-9 - _ . ~ kept, the
 * rest %XX upper case) into a malloc'd string. */
int store_s3_wire_encode(const char *s, char **ret);
/* A canonical query string from n name/value pairs (pairs[2i], pairs[2i+1];
 * a NULL value is left out): encoded, sorted by name, joined with '&'. */
int store_s3_wire_query(const char *const *pairs, size_t n, char **ret);

/* Called for each Contents of a listing, in document order. */
typedef int (*store_s3_wire_list_fn)(void *userdata, const char *key, uint64_t size);
/* Parse a ListObjectsV2 result: fn per object; *ret_truncated; *ret_token the
 * NextContinuationToken (malloc'd, NULL when none); *ret_keys (may be NULL)
 * the objects on the page. -EBADMSG on anything that is not such a document
 * (another root than ListBucketResult, no IsTruncated, a DTD, a size that is
 * not a number, text over STORE_S3_TEXT_MAX), fn's negative return otherwise. */
int store_s3_wire_parse_list(const char *xml, size_t len, store_s3_wire_list_fn fn, void *userdata,
                             bool *ret_truncated, char **ret_token, size_t *ret_keys);
/* The Code of an S3 error body into code[size] ("" when there is none, or
 * the XML is malformed). cut: xml is only the first bytes of a longer body,
 * and a Code element closed within them counts. */
void store_s3_wire_parse_error(const char *xml, size_t len, bool cut, char *code, size_t size);

/* Whether an HTTP status is worth trying again (5xx, 429, 408). */
bool store_s3_wire_retry_status(long status);
/* Whether a curl result (CURLcode) is a transport failure worth trying again. */
bool store_s3_wire_retry_curl(int curl_code);
/* The -errno for a curl failure. */
int store_s3_wire_curl_errno(int curl_code);
/* The -errno for an HTTP error status and its S3 code: 403 -EACCES, 404
 * -ENOENT (NoSuchBucket -ENXIO), 416 -ERANGE, digest mismatches -EBADMSG,
 * 5xx/429 -EAGAIN, others -EPROTO. */
int store_s3_wire_status_errno(long status, const char *code);
/* Backoff before attempt (1-based) of a retried request, in ms: 250 ms
 * doubling, at most max_ms, jittered to between half and all of it by rnd. */
unsigned store_s3_wire_backoff_ms(unsigned attempt, unsigned max_ms, uint32_t rnd);
