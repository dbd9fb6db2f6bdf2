/* SPDX-License-Identifier: MIT */
/* chutectl id (this node's id, grouped base32) and key export / key import
 * (the recovery code of the master secret). The code is a secret: every
 * copy this process makes of it (arguments, buffers, messages) is wiped
 * after use; `key import -` reads it from stdin, out of sight of ps. */
#include "verb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"

/* Ask for the node id; *ret grouped base32 (new string). Exit status. */
static int fetch_id(struct verb_context *c, char **ret, char **ret_name)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        const uint8_t *id;
        size_t len;
        int ex = verb_call(c, verb_request(c, CTL_TYPE_ID), NULL, &reply);

        if (ex != EXIT_OK)
                return ex;
        if (ctl_msg_get_bytes(reply, CTL_KEY_ID, &id, &len) < 0 || len != IDENTITY_ID_SIZE)
                return verb_fail("malformed reply from chuted: no %d-byte node id", IDENTITY_ID_SIZE);
        if (identity_format_id(id, ret) < 0)
                return verb_fail("out of memory");
        if (ret_name) {
                struct msg_map body = msg_body(reply);
                *ret_name = verb_dup_bytes(&body, CTL_KEY_NAME);
        }
        return EXIT_OK;
}

int verb_id(struct verb_context *c, int argc, char **argv)
{
        _cleanup_free_ char *id = NULL, *name = NULL;
        int ex = verb_no_args(argc, argv);

        if (ex == EXIT_OK)
                ex = verb_connect(c, false);
        if (ex == EXIT_OK)
                ex = fetch_id(c, &id, &name);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) {
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "id", json_string(id));
                        json_object_set_new(o, "name", name && *name ? output_json_bytes(name, strlen(name))
                                                                     : json_null());
                }
                return verb_json(o);
        }
        printf("%s\n", id);
        return verb_flush();
}

static int key_export(struct verb_context *c)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_free_ char *code = NULL;
        struct msg_map body;
        int ex = verb_connect(c, false);

        if (ex == EXIT_OK)
                ex = verb_call(c, verb_request(c, CTL_TYPE_KEY_EXPORT), NULL, &reply);
        if (ex != EXIT_OK)
                return ex;
        msg_set_secret(reply);
        body = msg_body(reply);
        if (msg_map_get_text_dup(&body, CTL_KEY_CODE, &code) < 0 || !*code)
                return verb_fail("malformed reply from chuted: no recovery code");
        /* Written with write(2) from a buffer wiped after: stdio's buffer,
         * or a JSON library's copy, would keep the code until exit. A code
         * is grouped base32 (A-Z, 2-7, '-'): nothing in it needs a JSON
         * escape, which is checked. */
        size_t len = strlen(code);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)code[i] < 0x20 || code[i] == '"' || code[i] == '\\' || code[i] == 0x7f) {
                        explicit_bzero(code, len);
                        return verb_fail("malformed reply from chuted: the recovery code holds %s",
                                         "a character it cannot hold");
                }
        _cleanup_free_ char *out = malloc(len + 16);
        if (!out) {
                explicit_bzero(code, len);
                return verb_fail("out of memory");
        }
        int n = c->json ? snprintf(out, len + 16, "{\"code\": \"%s\"}\n", code) : snprintf(out, len + 16, "%s\n", code);
        explicit_bzero(code, len);
        fflush(stdout);
        int w = n > 0 ? output_write_all(STDOUT_FILENO, out, (size_t)n) : 0;
        ex = w < 0 && w != -EPIPE ? verb_fail("cannot write the output: %s", strerror(-w)) : EXIT_OK;
        explicit_bzero(out, len + 16);
        if (c->json)
                return ex;
        if (isatty(STDOUT_FILENO))
                fputs("Keep this code secret and safe: it restores every backup of this node.\n",
                      stderr);
        return ex;
}

/* Free a string holding a secret, wiped first. */
static void key_free_secret(char **p)
{
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

/* The code from stdin (`key import -`): the first line, at most 256 bytes. */
static int key_read_stdin(char **ret)
{
        char *line = calloc(1, 258);
        if (!line)
                return verb_fail("out of memory");
        /* read(2) byte by byte into the wiped buffer: stdio's buffer of
         * stdin would keep a copy of the code */
        size_t n = 0;
        bool eol = false;
        while (n < 257) {
                ssize_t k = read(STDIN_FILENO, line + n, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                if (line[n] == '\n') {
                        eol = true;
                        break;
                }
                n++;
        }
        if (n == 0 && !eol) {
                key_free_secret(&line);
                return verb_usage("key import -: no recovery code on stdin");
        }
        if (!eol && n == 257) {
                key_free_secret(&line);
                return verb_fail("key import -: the line on stdin is too long for a recovery code");
        }
        line[n] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        *ret = line;
        return EXIT_OK;
}

/* The code may arrive as one argument, as its groups in several, or on
 * stdin ("-"). The arguments are overwritten once copied. */
static int key_import(struct verb_context *c, int argc, char **argv, int first)
{
        _cleanup_(msg_freep) struct msg *reply = NULL;
        _cleanup_(key_free_secret) char *code = NULL;
        _cleanup_free_ char *id = NULL;
        size_t len = 0;
        bool force = false;
        int ex;

        if (first < argc && !strcmp(argv[first], "--force")) {
                force = true; /* the code cannot be checked against the data: accept it */
                first++;
        }
        if (first >= argc)
                return verb_usage("key import needs the recovery CODE (or - to read it from stdin)");
        if (argc - first == 1 && !strcmp(argv[first], "-")) {
                ex = key_read_stdin(&code);
                if (ex != EXIT_OK)
                        return ex;
        } else {
                for (int i = first; i < argc; i++) {
                        if (argv[i][0] == '-' && argv[i][1])
                                return verb_usage("key import: unknown option %s", argv[i]);
                        len += strlen(argv[i]) + 1;
                }
                code = calloc(1, len);
                if (!code)
                        return verb_fail("out of memory");
                for (int i = first; i < argc; i++) {
                        if (i > first)
                                strcat(code, " ");
                        strcat(code, argv[i]);
                        explicit_bzero(argv[i], strlen(argv[i]));
                }
        }
        ex = verb_connect(c, false);
        if (ex != EXIT_OK)
                return ex;
        struct msg *m = verb_request(c, CTL_TYPE_KEY_IMPORT);
        if (m)
                msg_set_secret(m);
        if (m && (ctl_msg_set_text(m, CTL_KEY_CODE, code) < 0 ||
                  (force && ctl_msg_set_bool(m, CTL_KEY_FORCE, true) < 0))) {
                msg_free(m);
                return verb_fail("cannot build the request");
        }
        ex = verb_call(c, m, NULL, &reply);
        if (ex == EXIT_OK)
                ex = fetch_id(c, &id, NULL);
        if (ex != EXIT_OK)
                return ex;
        if (c->json) {
                json_t *o = json_object();
                if (o)
                        json_object_set_new(o, "id", json_string(id));
                return verb_json(o);
        }
        printf("Imported the master secret; this node's id is now %s\n", id);
        return verb_flush();
}

int verb_key(struct verb_context *c, int argc, char **argv)
{
        if (argc < 2)
                return verb_usage("key needs a sub-verb: key export, or key import [--force] CODE");
        if (!strcmp(argv[1], "export")) {
                if (argc > 2)
                        return verb_usage("key export takes no arguments");
                return key_export(c);
        }
        if (!strcmp(argv[1], "import"))
                return key_import(c, argc, argv, 2);
        return verb_usage("unknown sub-verb \"key %s\" (export, import)", argv[1]);
}
