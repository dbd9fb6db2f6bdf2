/* SPDX-License-Identifier: MIT */
/* chutectl cat: one file of a snapshot to stdout, raw bytes, written as
 * the DATA messages arrive (their offsets must follow on). A reader that
 * goes away (EPIPE) ends it quietly. --json has no effect: the output is
 * the file itself. */
#include "verb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cat_state {
        uint64_t written;
        bool reader_gone;
        char error[160];
};

static int cat_data(struct msg *m, void *userdata)
{
        struct cat_state *s = userdata;
        const uint8_t *p;
        size_t len;
        uint64_t offset;

        if (ctl_msg_get_uint(m, CTL_KEY_OFFSET, &offset) < 0 ||
            ctl_msg_get_bytes(m, CTL_KEY_DATA, &p, &len) < 0) {
                snprintf(s->error, sizeof(s->error),
                         "malformed reply from chuted: a data message without offset and data");
                return -ECANCELED;
        }
        if (offset != s->written) {
                snprintf(s->error, sizeof(s->error),
                         "malformed reply from chuted: data at offset %" PRIu64 ", expected %" PRIu64,
                         offset, s->written);
                return -ECANCELED;
        }
        int r = output_write_all(STDOUT_FILENO, p, len);
        if (r == -EPIPE) {
                s->reader_gone = true;
                return -ECANCELED;
        }
        if (r < 0) {
                snprintf(s->error, sizeof(s->error), "cannot write to stdout: %s", strerror(-r));
                return -ECANCELED;
        }
        s->written += len;
        return 0;
}

int verb_cat(struct verb_context *c, int argc, char **argv)
{
        static const struct args_option opts[] = { { 0 } };
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *snap = NULL, *rel = NULL, *path = NULL;
        const char *arg = NULL;
        struct cat_state s = { 0 };
        struct args a;
        int k, ex;

        args_init(&a, argc, argv, 1);
        while ((k = args_next(&a, opts)) != ARGS_END) {
                if (k == ARGS_ERROR)
                        return verb_usage("cat: %s", a.error);
                if (arg)
                        return verb_usage("cat takes one SNAP:PATH");
                arg = a.value;
        }
        if (!arg)
                return verb_usage("cat needs SNAP:PATH, the file to print");
        if (args_split_snap(arg, &snap, &rel) < 0)
                return verb_usage("cat: \"%s\" is not SNAP:PATH (SNAP: a hex id prefix or \"latest\")", arg);
        if (!rel)
                return verb_usage("cat needs the file's path after the snapshot: SNAP:PATH");
        ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = verb_snap_path(c, snap, rel, &path);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_CAT);
        if (!m)
                return EXIT_FAILED;
        if (ctl_msg_set_text(m, CTL_KEY_SNAPSHOT, snap) < 0 ||
            ctl_msg_set_bytes(m, CTL_KEY_PATH, path, strlen(path)) < 0) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        struct client_handlers h = { .data = cat_data, .userdata = &s };
        ex = verb_call(c, m, &h, &reply);
        if (s.reader_gone)
                return EXIT_OK;
        if (*s.error)
                return verb_fail("%s", s.error);
        if (ex != EXIT_OK)
                return ex;
        uint64_t size;
        if (ctl_msg_get_uint(reply, CTL_KEY_SIZE, &size) >= 0 && size != s.written)
                return verb_fail("chuted announced %" PRIu64 " bytes but sent %" PRIu64, size,
                                 s.written);
        return EXIT_OK;
}
