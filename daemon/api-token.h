/* SPDX-License-Identifier: MIT */
/* The HTTP API's bearer token: 32 random bytes as 64 hex digits in the
 * file api-token of the state dir (mode 0640), made at first start and
 * replaced by rotation (write to a temporary name, fsync, rename). Owns the
 * file only; http-api.c keeps the token it compares against. */
#pragma once

#define API_TOKEN_LEN 64

/* Read state_dir/api-token into ret (NUL-terminated), making it first when
 * there is none; -EBADMSG when the file holds no token. */
int api_token_load(const char *state_dir, char ret[API_TOKEN_LEN + 1]);
/* Make a new token, replace the file with it and put it in ret. */
int api_token_rotate(const char *state_dir, char ret[API_TOKEN_LEN + 1]);
