/* SPDX-License-Identifier: MIT */
/* A listener whose accept() fails (out of file descriptors, out of memory)
 * stops accepting for a second instead of spinning: the listening socket
 * stays readable, so a level-triggered event would call accept() again at
 * once, forever, at full CPU. One per listener, on the loop's thread. */
#pragma once

struct event_base;
struct evconnlistener;
struct listener_pause;

/* Watch l's accept errors; what names it in the log ("peer", "HTTP API").
 * Replaces l's error callback. -ENOMEM. */
int listener_pause_new(struct event_base *base, struct evconnlistener *l, const char *what,
                       struct listener_pause **ret);
/* Before l is freed. NULL is fine. */
void listener_pause_free(struct listener_pause *p);
