/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the JSON side of the control protocol (the HTTP
 * API's request bodies): the first byte picks a request type, the rest is a
 * JSON text for ctl_json_to_msg. A refusal must say why; an accepted body
 * must encode, and its JSON form must convert back to a message that
 * encodes to the same bytes after one more round. Built by `make fuzz`. */
#include <stdlib.h>
#include <string.h>

#include "ctl-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* m -> JSON -> message of type -> its encoding; aborts when any step fails. */
static struct msg *again(struct msg *m, uint32_t type)
{
        json_t *doc = ctl_json_from_msg(m);
        struct msg *back = NULL;
        char err[256];

        if (!doc || ctl_json_to_msg(doc, type, 1, &back, err, sizeof(err)) < 0)
                abort();
        json_decref(doc);
        return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct msg_type_def *requests[64];
        size_t n = 0;
        char err[256] = "";
        json_error_t e;
        struct msg *m = NULL;

        if (size < 1)
                return 0;
        for (size_t i = 0; i < ctl_schema.n_types && n < 64; i++)
                if (ctl_schema.types[i].kind == MSG_KIND_REQUEST)
                        requests[n++] = &ctl_schema.types[i];
        uint32_t type = requests[data[0] % n]->number;
        json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
        if (!doc)
                return 0;
        int k = ctl_json_to_msg(doc, type, 1, &m, err, sizeof(err));
        json_decref(doc);
        if (k < 0) {
                if (err[0] == '\0')
                        abort();
                return 0;
        }
        uint8_t *first = NULL, *second = NULL;
        size_t first_len, second_len;
        struct msg *a = again(m, type), *b = again(a, type);
        if (ctl_msg_encode(a, &first, &first_len) < 0 || ctl_msg_encode(b, &second, &second_len) < 0)
                abort();
        if (first_len != second_len || memcmp(first, second, first_len) != 0)
                abort();
        free(first);
        free(second);
        msg_free(a);
        msg_free(b);
        msg_free(m);
        return 0;
}
