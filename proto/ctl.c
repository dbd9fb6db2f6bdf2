/* SPDX-License-Identifier: MIT */
/* The control schema tables, generated from proto/ctl.def, and the name
 * look-ups. The codec itself is proto/msg.c; request handling lives in
 * daemon/ and ctl/. */
#include "ctl.h"

#include <errno.h>

#include "cleanup.h"

static const struct msg_type_def ctl_types[] = {
#define CTL_TYPE(symbol, n, k, nm) { .number = n, .kind = MSG_KIND_##k, .name = nm },
#include "ctl.def"
};

static const struct msg_key_def ctl_keys[] = {
#define CTL_KEY(symbol, n, t, e, nm) \
        { .number = n, .type = MSG_VALUE_##t, .element = MSG_VALUE_##e, .name = nm },
#include "ctl.def"
};

static const struct msg_field_def ctl_fields[] = {
#define CTL_FIELD(t, k, p) \
        { .type = CTL_TYPE_##t, .key = CTL_KEY_##k, .presence = MSG_PRESENCE_##p },
#include "ctl.def"
};

static const struct msg_status_def ctl_statuses[] = {
#define CTL_STATUS(symbol, n, i, nm) { .number = n, .id = i, .name = nm },
#include "ctl.def"
};

/* Never called: a number used twice in ctl.def is a duplicate case label. */
__attribute__((unused)) static void ctl_def_numbers_unique(int t, int k, int s)
{
        switch (t) {
#define CTL_TYPE(symbol, n, kind, name) case n:
#include "ctl.def"
                break;
        }
        switch (k) {
#define CTL_KEY(symbol, n, type, element, name) case n:
#include "ctl.def"
                break;
        }
        switch (s) {
#define CTL_STATUS(symbol, n, id, name) case n:
#include "ctl.def"
                break;
        }
}

const struct msg_schema ctl_schema = {
        .name = "control",
        .version = CTL_PROTOCOL_VERSION,
        .min_version = CTL_PROTOCOL_VERSION_MIN,
        .max_body = CTL_MAX_BODY,
        .limits = {
                /* envelope > body > array > map > array: 5; room to grow */
                .max_depth = 8,
                .max_items = 65536,
                .max_string = CTL_MAX_BODY,
                .max_total = 262144,
                .allow_tags = false,
                .allow_floats = false,
        },
        .types = ctl_types,
        .n_types = ELEMENTSOF(ctl_types),
        .keys = ctl_keys,
        .n_keys = ELEMENTSOF(ctl_keys),
        .fields = ctl_fields,
        .n_fields = ELEMENTSOF(ctl_fields),
        .statuses = ctl_statuses,
        .n_statuses = ELEMENTSOF(ctl_statuses),
        .type_error = CTL_TYPE_ERROR,
        .key_status = CTL_KEY_STATUS,
        .key_message = CTL_KEY_MESSAGE,
        .key_protocol = CTL_KEY_PROTOCOL,
        .status_bad_request = CTL_STATUS_BAD_REQUEST,
        .status_unsupported_version = CTL_STATUS_UNSUPPORTED_VERSION,
        .status_too_large = CTL_STATUS_TOO_LARGE,
        .status_unsupported = CTL_STATUS_UNSUPPORTED,
        .status_internal = CTL_STATUS_INTERNAL,
};

const char *ctl_type_name(uint32_t type)
{
        return msg_type_name(&ctl_schema, type);
}

int ctl_type_from_name(const char *name)
{
        const struct msg_type_def *t = msg_schema_type_by_name(&ctl_schema, name);

        return t ? (int)t->number : -ENOENT;
}

const char *ctl_status_name(uint32_t status)
{
        return msg_status_name(&ctl_schema, status);
}

const char *ctl_status_id(uint32_t status)
{
        const struct msg_status_def *s = msg_schema_status(&ctl_schema, status);

        return s ? s->id : NULL;
}
