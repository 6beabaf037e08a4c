/*
 * http_resolve.c - host name resolution with a deadline, for the push
 * thread: getaddrinfo() has no timeout of its own (a resolver that never
 * answers holds it for timeout x attempts of resolv.conf, or longer), and
 * a push thread stuck in it would hold up stillprof_controls_stop().
 *
 * Numeric hosts are converted at once (AI_NUMERICHOST, no lookup).  Names
 * go through glibc's getaddrinfo_a(GAI_NOWAIT), which resolves on a
 * helper thread of its own (all signals blocked), and gai_suspend() waits
 * at most until the deadline.  A lookup still running at the deadline is
 * cancelled if it can be; if not, its request block must stay valid
 * until glibc finishes with it, so it is parked and freed by a later
 * call once done (a small, bounded leak per stuck lookup at exit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "internal.h"

struct lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char host[256], port[8];
	struct lookup *next;      /* parked list */
};

static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *parked;

/* Free the parked lookups glibc has finished with. */
static void reap_parked(void)
{
	struct lookup **pp, *l;

	pthread_mutex_lock(&parked_mu);
	for (pp = &parked; (l = *pp);) {
		if (gai_error(&l->cb) == EAI_INPROGRESS) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		if (l->cb.ar_result)
			freeaddrinfo(l->cb.ar_result);
		sp_free(l);
	}
	pthread_mutex_unlock(&parked_mu);
}

static int gai_errno(int r)
{
	switch (r) {
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SYSTEM:
		return errno ? -errno : -EHOSTUNREACH;
	default:
		return -EHOSTUNREACH;
	}
}

int sp_http_resolve(const char *host, const char *port, uint64_t deadline,
                    struct addrinfo **out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM};
	struct gaicb *list[1];
	struct lookup *l;
	int r;

	*out = NULL;
	reap_parked();
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, out);
	if (r == 0)
		return *out ? 0 : -EHOSTUNREACH;
	if (r != EAI_NONAME)
		return gai_errno(r);
	/* A name: look it up on glibc's helper thread, wait until the
	 * deadline. */
	l = sp_calloc(1, sizeof(*l));
	if (!l)
		return SP_ERR(-ENOMEM);
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->hints.ai_family = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->cb.ar_name = l->host;
	l->cb.ar_service = l->port;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (r) {
		sp_free(l);
		return gai_errno(r);
	}
	for (;;) {
		uint64_t now = sp_now_ns();
		struct timespec ts;

		r = gai_error(&l->cb);
		if (r != EAI_INPROGRESS || now >= deadline)
			break;
		ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline - now) % 1000000000u);
		/* Returns on completion, timeout or a signal: re-check. */
		gai_suspend((const struct gaicb *const *)list, 1, &ts);
	}
	if (r == 0) {
		*out = l->cb.ar_result;
		sp_free(l);
		return *out ? 0 : -EHOSTUNREACH;
	}
	if (r != EAI_INPROGRESS) {
		sp_free(l);
		return gai_errno(r);
	}
	/* Past the deadline. */
	r = gai_cancel(&l->cb);
	if (r == EAI_CANCELED) {
		sp_free(l);
	} else if (r == EAI_ALLDONE) {
		if (l->cb.ar_result)
			freeaddrinfo(l->cb.ar_result);
		sp_free(l);
	} else {
		pthread_mutex_lock(&parked_mu);
		l->next = parked;
		parked = l;
		pthread_mutex_unlock(&parked_mu);
	}
	return -ETIMEDOUT;
}
