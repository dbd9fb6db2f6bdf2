/* SPDX-License-Identifier: MIT */
/* The pure parts of the S3 store: config text round trip and checks, SigV4
 * query encoding, ListObjectsV2 and error parsing (hostile documents
 * included), and which outcomes are retried. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-s3-wire.h"

static const char good_config[] = "endpoint=http://127.0.0.1:7480\nbucket=chute-b\nprefix=node/\n"
                                  "access_key_file=/k/a\nsecret_key_file=/k/s\n";

Test(store_s3_wire, config_round_trip)
{
        struct store_s3_config c, d;
        char *text = NULL;

        cr_assert_eq(store_s3_wire_config_parse(good_config, &c), 0);
        cr_assert_str_eq(c.region, "us-east-1");
        cr_assert_str_eq(c.prefix, "node/");
        cr_assert_eq(store_s3_wire_config_check(&c, NULL), 0);
        c.object_lock_days = 7;
        cr_assert_eq(store_s3_wire_config_format(&c, &text), 0);
        cr_assert_eq(store_s3_wire_config_parse(text, &d), 0);
        cr_assert_eq(d.object_lock_days, 7);
        cr_assert_str_eq(d.endpoint, c.endpoint);
        cr_assert_str_eq(d.secret_key_file, "/k/s");
        free(text);
        store_s3_wire_config_done(&c);
        store_s3_wire_config_done(&d);
}

Test(store_s3_wire, config_refuses)
{
        struct store_s3_config c;
        const char *why = NULL;

        cr_assert_eq(store_s3_wire_config_parse("bucket=b\n", &c), -EINVAL); /* no endpoint */
        cr_assert_eq(store_s3_wire_config_parse("what=1\n", &c), -EINVAL);
        cr_assert_eq(store_s3_wire_config_parse("object_lock_days=-1\n", &c), -EINVAL);
        cr_assert_eq(store_s3_wire_config_parse(good_config, &c), 0);
        free(c.bucket);
        c.bucket = strdup("Upper_Case");
        cr_assert_eq(store_s3_wire_config_check(&c, &why), -EINVAL);
        cr_assert_not_null(why);
        free(c.bucket);
        c.bucket = strdup("ok-bucket");
        free(c.prefix);
        c.prefix = strdup("a b?");
        cr_assert_eq(store_s3_wire_config_check(&c, &why), -EINVAL);
        const char *dots[] = { "a/./", "../x/", "a/..", ".", "a/../b/" };
        for (size_t i = 0; i < sizeof(dots) / sizeof(dots[0]); i++) {
                free(c.prefix);
                c.prefix = strdup(dots[i]);
                cr_assert_eq(store_s3_wire_config_check(&c, &why), -EINVAL, "prefix %s", dots[i]);
        }
        const char *fine[] = { "a.b/", "..a/", "a/.b/c", "node/" };
        for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
                free(c.prefix);
                c.prefix = strdup(fine[i]);
                cr_assert_eq(store_s3_wire_config_check(&c, &why), 0, "prefix %s", fine[i]);
        }
        free(c.prefix);
        c.prefix = strdup("");
        free(c.endpoint);
        c.endpoint = strdup("ftp://x");
        cr_assert_eq(store_s3_wire_config_check(&c, &why), -EINVAL);
        store_s3_wire_config_done(&c);
}

Test(store_s3_wire, query_sorted_and_encoded)
{
        const char *pairs[] = {"prefix",      "a b/ü", "list-type",          "2",
                               "start-after", NULL,    "continuation-token", "1+/=x~"};
        char *q = NULL;

        cr_assert_eq(store_s3_wire_query(pairs, 4, &q), 0);
        cr_assert_str_eq(q, "continuation-token=1%2B%2F%3Dx~&list-type=2&prefix=a%20b%2F%C3%BC");
        free(q);
        cr_assert_eq(store_s3_wire_query(pairs, 0, &q), 0);
        cr_assert_str_eq(q, "");
        free(q);
}

struct seen {
        char keys[8][128];
        unsigned long long sizes[8];
        int n;
};

static int collect(void *userdata, const char *key, uint64_t size)
{
        struct seen *s = userdata;

        if (s->n >= 8)
                return -E2BIG;
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
        s->sizes[s->n++] = size;
        return 0;
}

#define LIST_HEAD                                                                                           \
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"                                                        \
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"

Test(store_s3_wire, list_parses)
{
        static const char xml[] =
                LIST_HEAD "<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
                          "<NextContinuationToken>tok+en</NextContinuationToken>"
                          "<Contents><Key>p/aa</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents>"
                          "<Contents><Size>18446744073709551615</Size><Key>p/a&amp;b</Key></Contents>"
                          "</ListBucketResult>";
        struct seen s = {0};
        bool truncated = false;
        char *token = NULL;

        cr_assert_eq(store_s3_wire_parse_list(xml, strlen(xml), collect, &s, &truncated, &token, NULL), 0);
        cr_assert_eq(s.n, 2);
        cr_assert_str_eq(s.keys[0], "p/aa");
        cr_assert_eq(s.sizes[0], 12);
        cr_assert_str_eq(s.keys[1], "p/a&b");
        cr_assert_eq(s.sizes[1], UINT64_MAX);
        cr_assert(truncated);
        cr_assert_str_eq(token, "tok+en");
        free(token);
}

Test(store_s3_wire, list_refuses_hostile)
{
        static const char *const bad[] = {
                /* entity expansion through a DTD */
                "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
                "<ListBucketResult><Contents><Key>&b;</Key><Size>1</Size></Contents></ListBucketResult>",
                /* sizes that are not numbers, or overflow */
                LIST_HEAD "<Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
                LIST_HEAD
                "<Contents><Key>k</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>",
                LIST_HEAD "<Contents><Key>k</Key><Size></Size></Contents></ListBucketResult>",
                /* a Contents with no key */
                LIST_HEAD "<Contents><Size>1</Size></Contents></ListBucketResult>",
                /* truncated yet no token */
                LIST_HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>",
                /* neither true nor false: a listing never ends by a misreading */
                LIST_HEAD "<IsTruncated>True</IsTruncated><NextContinuationToken>t</NextContinuationToken>"
                "</ListBucketResult>",
                LIST_HEAD "<IsTruncated> true </IsTruncated></ListBucketResult>",
                /* no word on whether more follows */
                LIST_HEAD "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>",
                /* another document: an error with a 200, a page of something else */
                "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><IsTruncated>false</IsTruncated></Error>",
                "<ListAllMyBucketsResult><IsTruncated>false</IsTruncated></ListAllMyBucketsResult>",
                /* not XML, cut short */
                "{\"json\": 1}",
                LIST_HEAD "<Contents><Key>k</Key>",
                "",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct seen s = {0};
                bool truncated = false;
                char *token = NULL;
                cr_assert_eq(
                        store_s3_wire_parse_list(bad[i], strlen(bad[i]), collect, &s, &truncated, &token, NULL),
                        -EBADMSG, "document %zu", i);
                cr_assert_null(token);
        }
}

Test(store_s3_wire, list_caps_text_and_depth)
{
        size_t n = 3 * STORE_S3_TEXT_MAX;
        char *xml = malloc(n + 256), *p = xml;
        struct seen s = {0};
        bool truncated;
        char *token = NULL;

        p += sprintf(p, "<ListBucketResult><Contents><Key>");
        memset(p, 'k', n);
        p += n;
        sprintf(p, "</Key><Size>1</Size></Contents></ListBucketResult>");
        cr_assert_eq(store_s3_wire_parse_list(xml, strlen(xml), collect, &s, &truncated, &token, NULL), -EBADMSG);
        p = xml;
        for (int i = 0; i < 40; i++)
                p += sprintf(p, "<a>");
        cr_assert_eq(store_s3_wire_parse_list(xml, strlen(xml), collect, &s, &truncated, &token, NULL), -EBADMSG);
        cr_assert_eq(s.n, 0);
        free(xml);
}

Test(store_s3_wire, error_code)
{
        static const char xml[] = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                                  "<Message>no</Message></Error>";
        static const char evil[] = "<Error><Code>a\nb</Code></Error>";
        char code[64];

        store_s3_wire_parse_error(xml, strlen(xml), false, code, sizeof(code));
        cr_assert_str_eq(code, "SignatureDoesNotMatch");
        store_s3_wire_parse_error(evil, strlen(evil), false, code, sizeof(code));
        cr_assert_str_eq(code, "a?b");
        store_s3_wire_parse_error("garbage", 7, false, code, sizeof(code));
        cr_assert_str_eq(code, "");
        /* the first bytes of a body that goes on (cut at 16 KiB): the Code
         * counts once closed, not before, and not after malformed XML */
        static const char cut[] = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Padding>xxxx";
        store_s3_wire_parse_error(cut, strlen(cut), true, code, sizeof(code));
        cr_assert_str_eq(code, "AccessDenied");
        store_s3_wire_parse_error(cut, strlen("<?xml version=\"1.0\"?><Error><Code>Access"), true, code, sizeof(code));
        cr_assert_str_eq(code, "");
        static const char bad[] = "<Error><Code>AccessDenied</Code></Oops>";
        store_s3_wire_parse_error(bad, strlen(bad), true, code, sizeof(code));
        cr_assert_str_eq(code, "");
        /* a whole body (not cut) must be a whole document */
        store_s3_wire_parse_error(cut, strlen(cut), false, code, sizeof(code));
        cr_assert_str_eq(code, "");
        static const char junk[] = "<Error><Code>AccessDenied</Code></Error>junk";
        store_s3_wire_parse_error(junk, strlen(junk), false, code, sizeof(code));
        cr_assert_str_eq(code, "");
}

Test(store_s3_wire, retry_rules)
{
        cr_assert(store_s3_wire_retry_status(500));
        cr_assert(store_s3_wire_retry_status(503));
        cr_assert(store_s3_wire_retry_status(429));
        cr_assert_not(store_s3_wire_retry_status(403));
        cr_assert_not(store_s3_wire_retry_status(404));
        cr_assert_not(store_s3_wire_retry_status(400));
        cr_assert(store_s3_wire_retry_curl(CURLE_COULDNT_CONNECT));
        cr_assert(store_s3_wire_retry_curl(CURLE_OPERATION_TIMEDOUT));
        cr_assert_not(store_s3_wire_retry_curl(CURLE_WRITE_ERROR));
        cr_assert_not(store_s3_wire_retry_curl(CURLE_URL_MALFORMAT));
        cr_assert_eq(store_s3_wire_status_errno(403, "SignatureDoesNotMatch"), -EACCES);
        cr_assert_eq(store_s3_wire_status_errno(403, "RequestTimeTooSkewed"), -ETIME, "a clock, not a refusal");
        cr_assert_eq(store_s3_wire_status_errno(404, "NoSuchBucket"), -ENXIO);
        cr_assert_eq(store_s3_wire_status_errno(404, "NoSuchKey"), -ENOENT);
        cr_assert_eq(store_s3_wire_status_errno(404, ""), -ENOENT);
        cr_assert_eq(store_s3_wire_status_errno(400, "BadDigest"), -EBADMSG);
        cr_assert_eq(store_s3_wire_status_errno(416, ""), -ERANGE);
        cr_assert_eq(store_s3_wire_status_errno(503, "SlowDown"), -EAGAIN);
        cr_assert_eq(store_s3_wire_status_errno(409, ""), -EPROTO);
        cr_assert_eq(store_s3_wire_curl_errno(CURLE_COULDNT_CONNECT), -ECONNREFUSED);
        for (unsigned a = 1; a < 10; a++) {
                unsigned lo = store_s3_wire_backoff_ms(a, 4000, 0),
                         hi = store_s3_wire_backoff_ms(a, 4000, UINT32_MAX);
                cr_assert(lo <= hi && hi <= 4000 && lo >= 125, "attempt %u: %u..%u", a, lo, hi);
        }
        cr_assert_eq(store_s3_wire_backoff_ms(1, 4000, UINT32_MAX), 250);
        cr_assert_eq(store_s3_wire_backoff_ms(2, 4000, UINT32_MAX), 500);
        cr_assert_eq(store_s3_wire_backoff_ms(9, 4000, UINT32_MAX), 4000);
}
