/* SPDX-License-Identifier: MIT */
/* gitignore(5) patterns, compiled into segments with literal fast paths, and
 * the layered matcher. fnmatch(3) is not used: it knows no "**", its result
 * for an unterminated '[' differs from git's, and glibc's depends on the
 * locale for multibyte names; here every name is matched as raw bytes, and
 * classes such as [:alpha:] are ASCII, as in git's wildmatch. */
#include "exclude.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

enum segment_kind {
        SEGMENT_LITERAL,    /* exact bytes */
        SEGMENT_SUFFIX,     /* "*lit" */
        SEGMENT_PREFIX,     /* "lit*" */
        SEGMENT_CONTAINS,   /* "*lit*" */
        SEGMENT_ANY,        /* "*": any name */
        SEGMENT_GLOB,       /* anything else: tokens */
        SEGMENT_DOUBLESTAR, /* "**" not last: zero or more names */
        SEGMENT_TAIL,       /* "**" last: one or more names */
};

enum token_op {
        TOKEN_BYTE,
        TOKEN_ONE,  /* '?' */
        TOKEN_STAR, /* '*' (runs collapsed) */
        TOKEN_SET,  /* '[...]' */
};

struct token {
        uint8_t op;
        uint8_t byte;  /* TOKEN_BYTE */
        uint16_t set;  /* TOKEN_SET: index in segment.sets */
};

struct segment {
        enum segment_kind kind;
        uint8_t *literal; /* LITERAL, SUFFIX, PREFIX, CONTAINS: unescaped */
        size_t literal_len;
        struct token *tokens; /* GLOB */
        size_t n_tokens;
        uint8_t (*sets)[32]; /* GLOB: bit per byte value, one per '[...]' */
};

struct pattern {
        bool negate;
        bool dir_only;
        bool basename; /* no '/': one segment matched against the last name */
        struct segment *segments;
        size_t n_segments;
};

struct exclude {
        unsigned refs;
        struct exclude *parent;
        char *base; /* "" for the root */
        size_t base_len;
        struct pattern *patterns;
        size_t n_patterns;
        size_t n_total; /* patterns here and in every parent */
};

/* ---- compiling ---------------------------------------------------------- */

static const char *const classes[] = {
        "alnum", "alpha", "blank", "cntrl", "digit", "graph",
        "lower", "print", "punct", "space", "upper", "xdigit",
};

/* Index of the [:name:] class, -1 when unknown. */
static int class_lookup(const uint8_t *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(classes); i++)
                if (strlen(classes[i]) == len && memcmp(classes[i], name, len) == 0)
                        return (int)i;
        return -1;
}

/* ASCII only, whatever the locale, as git's wildmatch. */
static bool class_has(int class, unsigned c)
{
        bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
        bool digit = c >= '0' && c <= '9', alpha = upper || lower;
        bool graph = c >= 0x21 && c <= 0x7e;

        switch (class) {
        case 0: return alpha || digit;
        case 1: return alpha;
        case 2: return c == ' ' || c == '\t';
        case 3: return c < 0x20 || c == 0x7f;
        case 4: return digit;
        case 5: return graph;
        case 6: return lower;
        case 7: return graph || c == ' ';
        case 8: return graph && !alpha && !digit;
        case 9: return c == ' ' || (c >= '\t' && c <= '\r');
        case 10: return upper;
        case 11: return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        }
        return false;
}

static void set_add(uint8_t set[static 32], unsigned c)
{
        set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool set_has(const uint8_t set[static 32], unsigned c)
{
        return set[c >> 3] & (1u << (c & 7));
}

/* Parse the bracket expression at p[*i] == '[' as git's wildmatch does; on
 * success *i is past the closing ']'. Returns NULL or a reason. */
static const char *bracket_compile(const uint8_t *p, size_t n, size_t *i, uint8_t set[static 32])
{
        size_t k = *i + 1;
        unsigned prev = 0;
        bool negated = false;

        memset(set, 0, 32);
        if (k < n && (p[k] == '!' || p[k] == '^')) {
                negated = true;
                k++;
        }
        /* The first byte is taken literally even when it is ']'. */
        for (bool first = true;; first = false, k++) {
                unsigned c;

                if (k >= n)
                        return "unterminated '['";
                c = p[k];
                if (c == ']' && !first)
                        break;
                if (c == '\\') {
                        if (++k >= n)
                                return "unterminated '['";
                        c = p[k];
                        set_add(set, c);
                } else if (c == '-' && prev && k + 1 < n && p[k + 1] != ']') {
                        unsigned end = p[++k];
                        if (end == '\\') {
                                if (++k >= n)
                                        return "unterminated '['";
                                end = p[k];
                        }
                        for (unsigned x = prev; x <= end; x++)
                                set_add(set, x);
                        c = 0; /* no range may start right after a range */
                } else if (c == '[' && k + 1 < n && p[k + 1] == ':') {
                        size_t s = k + 2, e = s;
                        int class;

                        while (e < n && p[e] != ']')
                                e++;
                        if (e >= n)
                                return "unterminated '['";
                        if (e < s + 1 || p[e - 1] != ':') {
                                /* no ":]": a plain '[' in the set */
                                set_add(set, '[');
                        } else {
                                class = class_lookup(p + s, e - 1 - s);
                                if (class < 0)
                                        return "unknown character class";
                                for (unsigned x = 0; x < 256; x++)
                                        if (class_has(class, x))
                                                set_add(set, x);
                                k = e;
                                c = 0;
                        }
                } else
                        set_add(set, c);
                prev = c;
        }
        if (negated)
                for (size_t b = 0; b < 32; b++)
                        set[b] = (uint8_t)~set[b];
        *i = k + 1;
        return NULL;
}

static void segment_done(struct segment *s)
{
        free(s->literal);
        free(s->tokens);
        free(s->sets);
}

/* Compile one '/'-free piece of a pattern. Returns NULL or a reason. */
static const char *segment_compile(const uint8_t *p, size_t n, struct segment *ret, int *ret_errno)
{
        _cleanup_free_ struct token *tokens = NULL;
        _cleanup_free_ uint8_t(*sets)[32] = NULL;
        size_t n_tokens = 0, n_stars = 0, n_other = 0, n_sets = 0, max_sets = 0;
        const char *reason;

        *ret_errno = 0;
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < n && p[i] == '*'; i++)
                if (i + 1 == n && n >= 2) {
                        ret->kind = SEGMENT_DOUBLESTAR; /* "**", "***", ...: a whole name */
                        return NULL;
                }
        for (size_t i = 0; i < n; i++)
                max_sets += p[i] == '[';
        tokens = calloc(n ? n : 1, sizeof(*tokens));
        sets = max_sets ? calloc(max_sets, sizeof(*sets)) : NULL;
        if (!tokens || (max_sets && !sets)) {
                *ret_errno = -ENOMEM;
                return NULL;
        }
        for (size_t i = 0; i < n;) {
                struct token *t = &tokens[n_tokens];

                switch (p[i]) {
                case '*':
                        i++;
                        if (n_tokens > 0 && t[-1].op == TOKEN_STAR)
                                continue; /* "**" inside a name is '*' */
                        t->op = TOKEN_STAR;
                        n_stars++;
                        break;
                case '?':
                        t->op = TOKEN_ONE;
                        n_other++;
                        i++;
                        break;
                case '[':
                        t->op = TOKEN_SET;
                        t->set = (uint16_t)n_sets;
                        reason = bracket_compile(p, n, &i, sets[n_sets++]);
                        if (reason)
                                return reason;
                        n_other++;
                        break;
                case '\\':
                        if (i + 1 >= n)
                                return "trailing backslash";
                        i++;
                        /* fall through */
                default:
                        t->op = TOKEN_BYTE;
                        t->byte = p[i++];
                        break;
                }
                n_tokens++;
        }

        /* Fast paths: only bytes, and '*' at most at either end. */
        if (n_other == 0) {
                bool lead = n_tokens > 0 && tokens[0].op == TOKEN_STAR;
                bool trail = n_tokens > 1 && tokens[n_tokens - 1].op == TOKEN_STAR;
                size_t from = lead ? 1 : 0, to = trail ? n_tokens - 1 : n_tokens;

                if (lead && n_tokens == 1) {
                        ret->kind = SEGMENT_ANY;
                        return NULL;
                }
                if (n_stars == from + (n_tokens - to)) {
                        ret->literal = malloc(to - from + 1);
                        if (!ret->literal) {
                                *ret_errno = -ENOMEM;
                                return NULL;
                        }
                        for (size_t k = from; k < to; k++)
                                ret->literal[k - from] = tokens[k].byte;
                        ret->literal_len = to - from;
                        ret->kind = lead && trail ? SEGMENT_CONTAINS
                                    : lead        ? SEGMENT_SUFFIX
                                    : trail       ? SEGMENT_PREFIX
                                                  : SEGMENT_LITERAL;
                        return NULL;
                }
        }
        ret->kind = SEGMENT_GLOB;
        ret->tokens = TAKE_PTR(tokens);
        ret->n_tokens = n_tokens;
        ret->sets = TAKE_PTR(sets);
        return NULL;
}

static void pattern_done(struct pattern *p)
{
        for (size_t i = 0; i < p->n_segments; i++)
                segment_done(&p->segments[i]);
        free(p->segments);
}

/* Compile one line (comment, blank and trailing-space handling already done).
 * Returns 0 or -ENOMEM, with *ret_reason set when the line is bad. */
static int pattern_compile(const uint8_t *p, size_t n, struct pattern *ret, const char **ret_reason)
{
        struct pattern pat = {};
        size_t n_pieces = 1, start;
        bool anchored = false;
        int r = 0;

        *ret_reason = NULL;
        if (n > EXCLUDE_PATTERN_MAX) {
                *ret_reason = "pattern too long";
                return 0;
        }
        if (memchr(p, '\0', n)) {
                *ret_reason = "NUL byte in pattern";
                return 0;
        }
        if (n > 0 && p[0] == '!') {
                pat.negate = true;
                p++, n--;
                if (n == 0) {
                        *ret_reason = "nothing after '!'";
                        return 0;
                }
        }
        if (n > 0 && p[n - 1] == '/') {
                pat.dir_only = true;
                n--;
        }
        if (memchr(p, '/', n))
                anchored = true;
        if (n > 0 && p[0] == '/')
                p++, n--;
        if (n == 0) {
                *ret_reason = "empty pattern";
                return 0;
        }

        for (size_t i = 0; i < n; i++)
                if (p[i] == '/')
                        n_pieces++;
        pat.segments = calloc(n_pieces, sizeof(*pat.segments));
        if (!pat.segments)
                return -ENOMEM;

        /* Split at every '/', except inside a bracket expression (as git does;
         * there it never matches). */
        start = 0;
        for (size_t i = 0;; i++) {
                size_t end = i;

                if (i < n && p[i] == '[') {
                        uint8_t scratch[32];
                        size_t k = i;

                        if (!bracket_compile(p, n, &k, scratch))
                                i = k - 1;
                        continue;
                }
                if (i < n && p[i] == '\\') {
                        if (i + 1 < n && p[i + 1] == '/') {
                                /* git takes it for '/', except right after
                                 * "**" where it differs: refuse it */
                                *ret_reason = "escaped '/'";
                                goto fail;
                        }
                        if (i + 1 < n)
                                i++; /* skip the escaped byte */
                        continue;    /* a trailing one: segment_compile says so */
                }
                if (i < n && p[i] != '/')
                        continue;
                *ret_reason = segment_compile(p + start, end - start, &pat.segments[pat.n_segments], &r);
                if (r < 0 || *ret_reason)
                        goto fail;
                /* "**" after "**" adds nothing */
                if (pat.segments[pat.n_segments].kind != SEGMENT_DOUBLESTAR || pat.n_segments == 0 ||
                    pat.segments[pat.n_segments - 1].kind != SEGMENT_DOUBLESTAR)
                        pat.n_segments++;
                if (i >= n)
                        break;
                start = i + 1;
        }
        if (pat.segments[pat.n_segments - 1].kind == SEGMENT_DOUBLESTAR)
                pat.segments[pat.n_segments - 1].kind = anchored ? SEGMENT_TAIL : SEGMENT_ANY;

        /* "**" followed by one name matches that name at any depth. */
        if (pat.n_segments == 2 && pat.segments[0].kind == SEGMENT_DOUBLESTAR &&
            pat.segments[1].kind != SEGMENT_TAIL) {
                pat.segments[0] = pat.segments[1];
                pat.n_segments = 1;
                anchored = false;
        }
        pat.basename = !anchored;
        *ret = pat;
        return 0;
fail:
        pattern_done(&pat);
        return r;
}

static void layer_free(struct exclude *ex)
{
        for (size_t i = 0; i < ex->n_patterns; i++)
                pattern_done(&ex->patterns[i]);
        free(ex->patterns);
        free(ex->base);
        free(ex);
}

/* Parse text into patterns. Strict: -EINVAL on the first bad line. Otherwise
 * bad lines are skipped and counted. error gets the first bad line. */
static int layer_parse(struct exclude *ex, const char *text, size_t len, bool strict,
                       struct exclude_error *error)
{
        const uint8_t *t = (const uint8_t *)text;
        size_t allocated = 0, n_bad = 0;
        unsigned line = 0;
        int r;

        if (len > EXCLUDE_TEXT_MAX)
                return -EFBIG;
        if (len >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0)
                t += 3, len -= 3; /* UTF-8 byte order mark, as git */
        for (size_t pos = 0; pos < len;) {
                const uint8_t *nl = memchr(t + pos, '\n', len - pos);
                size_t end = nl ? (size_t)(nl - t) : len, n = end - pos, keep;
                const uint8_t *p = t + pos;
                const char *reason;

                line++;
                pos = end + 1;
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                if (n == 0 || p[0] == '#')
                        continue;
                /* Drop trailing spaces unless escaped (git's trim_trailing_spaces). */
                keep = n;
                for (size_t k = 0; k < n; k++) {
                        if (p[k] == ' ') {
                                if (keep == n)
                                        keep = k;
                                continue;
                        }
                        if (p[k] == '\\')
                                k++;
                        keep = n;
                }
                n = keep;
                if (n == 0)
                        continue;

                if (ex->n_patterns == allocated) {
                        size_t want = allocated ? 2 * allocated : 16;
                        struct pattern *grown = realloc(ex->patterns, want * sizeof(*grown));

                        if (!grown)
                                return -ENOMEM;
                        ex->patterns = grown;
                        allocated = want;
                }
                r = pattern_compile(p, n, &ex->patterns[ex->n_patterns], &reason);
                if (r < 0)
                        return r;
                if (reason) {
                        if (error && n_bad == 0)
                                *error = (struct exclude_error){ .line = line, .reason = reason };
                        if (strict)
                                return -EINVAL;
                        n_bad++;
                        continue;
                }
                ex->n_patterns++;
        }
        return (int)MIN(n_bad, (size_t)INT_MAX);
}

static bool relpath_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0)
                return true;
        if (s[0] == '/' || s[n - 1] == '/' || strstr(s, "//"))
                return false;
        return true;
}

int exclude_new(const char *root_patterns, struct exclude_error *error, struct exclude **ret)
{
        struct exclude *ex;
        int r;

        ex = calloc(1, sizeof(*ex));
        if (!ex)
                return -ENOMEM;
        ex->refs = 1;
        ex->base = strdup("");
        if (!ex->base) {
                layer_free(ex);
                return -ENOMEM;
        }
        if (root_patterns) {
                r = layer_parse(ex, root_patterns, strlen(root_patterns), true, error);
                if (r < 0) {
                        layer_free(ex);
                        return r;
                }
        }
        ex->n_total = ex->n_patterns;
        *ret = ex;
        return 0;
}

int exclude_child(const struct exclude *parent, const char *dir_relpath, const char *text, size_t len,
                  struct exclude_error *error, struct exclude **ret)
{
        struct exclude *ex;
        int n_bad;

        if (!parent || !dir_relpath || !relpath_valid(dir_relpath))
                return -EINVAL;
        ex = calloc(1, sizeof(*ex));
        if (!ex)
                return -ENOMEM;
        ex->refs = 1;
        n_bad = text ? layer_parse(ex, text, len, false, error) : 0;
        if (n_bad < 0) {
                layer_free(ex);
                return n_bad;
        }
        if (ex->n_patterns == 0) {
                /* Nothing to add: share the parent. */
                layer_free(ex);
                *ret = exclude_ref(parent);
                return n_bad;
        }
        ex->base = strdup(dir_relpath);
        if (!ex->base) {
                layer_free(ex);
                return -ENOMEM;
        }
        ex->base_len = strlen(dir_relpath);
        ex->parent = exclude_ref(parent);
        ex->n_total = ex->n_patterns + parent->n_total;
        *ret = ex;
        return n_bad;
}

struct exclude *exclude_ref(const struct exclude *ex)
{
        struct exclude *e = (struct exclude *)ex;

        if (e)
                __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
        return e;
}

void exclude_free(struct exclude *ex)
{
        /* A loop, not recursion: a deep tree makes a long chain. */
        while (ex && __atomic_sub_fetch(&ex->refs, 1, __ATOMIC_ACQ_REL) == 0) {
                struct exclude *parent = ex->parent;

                layer_free(ex);
                ex = parent;
        }
}

bool exclude_is_empty(const struct exclude *ex)
{
        return !ex || ex->n_total == 0;
}

/* ---- matching ----------------------------------------------------------- */

static bool glob_match(const struct segment *g, const uint8_t *s, size_t n)
{
        const struct token *t = g->tokens;
        size_t nt = g->n_tokens;
        size_t ti = 0, si = 0, star_ti = SIZE_MAX, star_si = 0;

        while (si < n) {
                if (ti < nt) {
                        const struct token *k = &t[ti];

                        if (k->op == TOKEN_STAR) {
                                star_ti = ti++;
                                star_si = si;
                                continue;
                        }
                        if (k->op == TOKEN_ONE || (k->op == TOKEN_BYTE && k->byte == s[si]) ||
                            (k->op == TOKEN_SET && set_has(g->sets[k->set], s[si]))) {
                                ti++;
                                si++;
                                continue;
                        }
                }
                if (star_ti == SIZE_MAX)
                        return false;
                ti = star_ti + 1;
                si = ++star_si;
        }
        while (ti < nt && t[ti].op == TOKEN_STAR)
                ti++;
        return ti == nt;
}

static bool segment_match(const struct segment *g, const uint8_t *s, size_t n)
{
        switch (g->kind) {
        case SEGMENT_LITERAL:
                return n == g->literal_len && memcmp(s, g->literal, n) == 0;
        case SEGMENT_SUFFIX:
                return n >= g->literal_len && memcmp(s + n - g->literal_len, g->literal, g->literal_len) == 0;
        case SEGMENT_PREFIX:
                return n >= g->literal_len && memcmp(s, g->literal, g->literal_len) == 0;
        case SEGMENT_CONTAINS:
                return memmem(s, n, g->literal, g->literal_len) != NULL;
        case SEGMENT_ANY:
                return true;
        case SEGMENT_GLOB:
                return glob_match(g, s, n);
        case SEGMENT_DOUBLESTAR:
        case SEGMENT_TAIL:
                break;
        }
        return false;
}

static size_t name_end(const uint8_t *s, size_t from, size_t n)
{
        const uint8_t *slash = memchr(s + from, '/', n - from);
        return slash ? (size_t)(slash - s) : n;
}

/* Match the segments against the names of s[0..n), "**" taking any run of
 * names: the single-backtrack glob algorithm, with names for characters. */
static bool segments_match(const struct pattern *p, const uint8_t *s, size_t n)
{
        size_t pi = 0, si = 0, star_pi = SIZE_MAX, star_si = 0;

        for (;;) {
                if (pi < p->n_segments) {
                        const struct segment *g = &p->segments[pi];

                        if (g->kind == SEGMENT_DOUBLESTAR) {
                                star_pi = pi++;
                                star_si = si;
                                continue;
                        }
                        if (g->kind == SEGMENT_TAIL) {
                                if (si < n)
                                        return true;
                        } else if (si < n) {
                                size_t end = name_end(s, si, n);
                                if (segment_match(g, s + si, end - si)) {
                                        pi++;
                                        si = end < n ? end + 1 : n;
                                        continue;
                                }
                        }
                } else if (si >= n)
                        return true;
                /* Mismatch: let the last "**" take one more name. */
                if (star_pi == SIZE_MAX || star_si >= n)
                        return false;
                star_si = name_end(s, star_si, n);
                star_si = star_si < n ? star_si + 1 : n;
                si = star_si;
                pi = star_pi + 1;
        }
}

static bool match_len(const struct exclude *ex, const char *path, size_t len, bool is_dir)
{
        const uint8_t *s = (const uint8_t *)path, *name;
        size_t name_len;

        if (len == 0)
                return false; /* the root itself */
        name = memrchr(s, '/', len);
        name = name ? name + 1 : s;
        name_len = len - (size_t)(name - s);

        for (const struct exclude *l = ex; l; l = l->parent) {
                const uint8_t *rel = s;
                size_t rel_len = len;

                if (l->n_patterns == 0)
                        continue;
                if (l->base_len > 0) {
                        if (len <= l->base_len + 1 || memcmp(s, l->base, l->base_len) != 0 ||
                            s[l->base_len] != '/')
                                continue; /* not below this layer's directory */
                        rel += l->base_len + 1;
                        rel_len -= l->base_len + 1;
                }
                for (size_t i = l->n_patterns; i-- > 0;) {
                        const struct pattern *p = &l->patterns[i];
                        bool m;

                        if (p->dir_only && !is_dir)
                                continue;
                        m = p->basename ? segment_match(&p->segments[0], name, name_len)
                                        : segments_match(p, rel, rel_len);
                        if (m)
                                return !p->negate;
                }
        }
        return false;
}

bool exclude_match(const struct exclude *ex, const char *relpath, bool is_dir)
{
        if (exclude_is_empty(ex) || !relpath)
                return false;
        return match_len(ex, relpath, strlen(relpath), is_dir);
}

bool exclude_match_path(const struct exclude *ex, const char *relpath, bool is_dir)
{
        size_t len;

        if (exclude_is_empty(ex) || !relpath)
                return false;
        len = strlen(relpath);
        for (size_t i = 0; i < len; i++)
                if (relpath[i] == '/' && match_len(ex, relpath, i, true))
                        return true;
        return match_len(ex, relpath, len, is_dir);
}

bool exclude_cachedir_tag_valid(const void *buf, size_t len)
{
        return buf && len >= EXCLUDE_CACHEDIR_SIGNATURE_LEN &&
               memcmp(buf, EXCLUDE_CACHEDIR_SIGNATURE, EXCLUDE_CACHEDIR_SIGNATURE_LEN) == 0;
}
