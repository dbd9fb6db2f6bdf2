/* SPDX-License-Identifier: MIT */
/* Pausing a listener after an accept error (see listener-pause.h). The
 * error callback gets the listener's own argument (evhttp's, for the API),
 * not ours, so the pauses are found by their listener in a short list. */

#include "listener-pause.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log.h"

struct listener_pause {
        struct evconnlistener *listener;
        struct event *resume;
        char what[32];
        struct listener_pause *next;
};

static struct listener_pause *pauses; /* the loop's thread only */

static void on_resume(evutil_socket_t fd, short what, void *userdata)
{
        struct listener_pause *p = userdata;

        (void)fd, (void)what;
        evconnlistener_enable(p->listener);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
        struct timeval second = { 1, 0 };
        int err = EVUTIL_SOCKET_ERROR();

        (void)arg;
        for (struct listener_pause *p = pauses; p; p = p->next)
                if (p->listener == l) {
                        log_warning_errno(-err, "Cannot accept %s connections, pausing a second", p->what);
                        evconnlistener_disable(l);
                        evtimer_add(p->resume, &second);
                        return;
                }
}

int listener_pause_new(struct event_base *base, struct evconnlistener *l, const char *what,
                       struct listener_pause **ret)
{
        struct listener_pause *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->resume = evtimer_new(base, on_resume, p);
        if (!p->resume) {
                free(p);
                return -ENOMEM;
        }
        p->listener = l;
        snprintf(p->what, sizeof(p->what), "%s", what);
        p->next = pauses;
        pauses = p;
        evconnlistener_set_error_cb(l, on_accept_error);
        *ret = p;
        return 0;
}

void listener_pause_free(struct listener_pause *p)
{
        if (!p)
                return;
        for (struct listener_pause **q = &pauses; *q; q = &(*q)->next)
                if (*q == p) {
                        *q = p->next;
                        break;
                }
        evconnlistener_set_error_cb(p->listener, NULL);
        event_free(p->resume);
        free(p);
}
