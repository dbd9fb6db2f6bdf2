/* SPDX-License-Identifier: MIT */
/* GET /metrics of the HTTP API: a status RESULT rendered as Prometheus
 * text (docs/http-api.md lists the families). */
#pragma once

#include <stddef.h>

#include "msg.h"

/* The Prometheus text of a status RESULT, malloc'ed; -ENOMEM. */
int http_metrics_render(struct msg *status, char **ret, size_t *ret_len);
