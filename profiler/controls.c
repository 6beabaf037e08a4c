/*
 * controls.c - stillprof_controls_start/stop and the environment
 * variables of the production controls: checks the options, attaches the
 * control signal and starts the writer, push and pull threads
 * (controls.h); stop takes them down in the order that loses nothing
 * (pull endpoint, then the writer's last period, then the push queue).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controls.h"
#include "http.h"
#include "internal.h"
#include "session.h"
#include "snapshot.h"

struct stillprof_controls {
	stillprof_session *s;
	struct sp_writer *writer;
	struct sp_push *push;
	struct sp_httpd *httpd;
	int signal;
};

void stillprof_control_options_init(struct stillprof_control_options *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->signal_action = STILLPROF_SIGNAL_DUMP;
	o->format = STILLPROF_FORMAT_STACKPROF;
	o->push_period_s = 10;
}

static int bad(char *errbuf, size_t errlen, const char *var,
               const char *val, const char *expect)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s=\"%s\": invalid (expected %s)",
		         var, val, expect);
	return STILLPROF_EBADOPTION;
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int stillprof_control_options_from_env(struct stillprof_control_options *opts,
                                       char *errbuf, size_t errlen)
{
	struct stillprof_control_options o = *opts;
	const char *v;

	/* Not STILLPROF_SIGNAL: that is the signal back-end's sampling
	 * signal (config.c), which must never be blocked. */
	if ((v = getenv("STILLPROF_CONTROL_SIGNAL")) && *v &&
	    sp_ctlsig_parse(v, &o.signal))
		return bad(errbuf, errlen, "STILLPROF_CONTROL_SIGNAL", v,
		           "SIGUSR1, SIGUSR2 or SIGRTMIN+N");
	if ((v = getenv("STILLPROF_SIGNAL_ACTION")) && *v) {
		if (!strcmp(v, "dump"))
			o.signal_action = STILLPROF_SIGNAL_DUMP;
		else if (!strcmp(v, "toggle"))
			o.signal_action = STILLPROF_SIGNAL_TOGGLE;
		else
			return bad(errbuf, errlen, "STILLPROF_SIGNAL_ACTION",
			           v, "dump or toggle");
	}
	if ((v = getenv("STILLPROF_PERIOD")) && *v &&
	    (parse_uint(v, 86400, &o.period_s)))
		return bad(errbuf, errlen, "STILLPROF_PERIOD", v,
		           "seconds, 0..86400");
	if ((v = getenv("STILLPROF_KEEP")) && *v &&
	    parse_uint(v, 100000, &o.keep))
		return bad(errbuf, errlen, "STILLPROF_KEEP", v,
		           "a file count, 0 (all)..100000");
	if ((v = getenv("STILLPROF_OUT")) && *v)
		o.out = v;
	if ((v = getenv("STILLPROF_FORMAT")) && *v) {
		char first[32];
		size_t n = strcspn(v, ",");
		snprintf(first, sizeof(first), "%.*s", (int)n, v);
		if (stillprof_parse_format(first, &o.format))
			return bad(errbuf, errlen, "STILLPROF_FORMAT", v,
			           "stackprof, json, pprof, collapsed or "
			           "speedscope");
	} else if (o.out) {
		o.format = stillprof_format_for_path(o.out);
	}
	if ((v = getenv("STILLPROF_PUSH_URL")) && *v) {
		struct sp_url u;
		if (sp_http_parse_url(v, &u))
			return bad(errbuf, errlen, "STILLPROF_PUSH_URL", v,
			           "http://HOST:PORT/ingest (no TLS: use a "
			           "local agent)");
		o.push_url = v;
	}
	if ((v = getenv("STILLPROF_APP")) && *v)
		o.app = v;
	if ((v = getenv("STILLPROF_LABELS")) && *v) {
		if (strpbrk(v, "{}\"") )
			return bad(errbuf, errlen, "STILLPROF_LABELS", v,
			           "k=v,k=v");
		o.labels = v;
	}
	if ((v = getenv("STILLPROF_HTTP")) && *v)
		o.http = v;
	if ((v = getenv("STILLPROF_HTTP_ANY_ADDR")) && *v)
		o.http_any_addr = !strcmp(v, "1") || !strcmp(v, "yes") ||
		                  !strcmp(v, "true");
	*opts = o;
	return 0;
}

static int fail(char *errbuf, size_t errlen, int err, const char *what)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s: %s", what,
		         err == -EPERM ? "not a loopback address (set "
		                         "STILLPROF_HTTP_ANY_ADDR=1 to allow)"
		                       : stillprof_strerror(err));
	return err;
}

int stillprof_controls_start(stillprof_session *s,
                             const struct stillprof_control_options *opts,
                             stillprof_controls **out, char *errbuf,
                             size_t errlen)
{
	struct stillprof_control_options o;
	struct stillprof_controls *c;
	int err = 0;

	if (!s || !opts || !out)
		return -EINVAL;
	stillprof_control_options_init(&o);
	memcpy(&o, opts, opts->sz && opts->sz < sizeof(o) ? opts->sz
	                                                    : sizeof(o));
	o.sz = sizeof(o);
	if (o.format < 0 || o.format >= STILLPROF_FORMAT_COUNT)
		return fail(errbuf, errlen, STILLPROF_EBADFORMAT, "format");
	if (o.signal_action != STILLPROF_SIGNAL_DUMP &&
	    o.signal_action != STILLPROF_SIGNAL_TOGGLE)
		return fail(errbuf, errlen, STILLPROF_EBADOPTION,
		            "signal action");
	if (o.push_url && !o.period_s && !o.push_period_s)
		o.push_period_s = 10;
	c = sp_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->s = s;
	if (o.signal) {
		err = sp_ctlsig_attach(s, o.signal,
		                       o.signal_action == STILLPROF_SIGNAL_TOGGLE
		                           ? SP_SIG_TOGGLE
		                           : SP_SIG_DUMP);
		if (err) {
			fail(errbuf, errlen, err, "control signal");
			goto out;
		}
		c->signal = o.signal;
	}
	/* A continuous run keeps only what the periods still need. */
	if (o.period_s)
		sp_snap_set_cumulative(s, 0);
	if (o.push_url) {
		const char *app = o.app ? o.app : program_invocation_short_name;
		err = sp_push_new(o.push_url, app, o.labels, &c->push);
		if (err) {
			fail(errbuf, errlen, err, "STILLPROF_PUSH_URL");
			goto out;
		}
	}
	if (o.period_s || o.push_url ||
	    (o.signal && o.signal_action == STILLPROF_SIGNAL_DUMP)) {
		err = sp_writer_start(s, &o, c->push, &c->writer);
		if (err) {
			fail(errbuf, errlen, err, "writer thread");
			goto out;
		}
	}
	if (o.http) {
		err = sp_httpd_start(s, o.http, o.http_any_addr, &c->httpd);
		if (err) {
			fail(errbuf, errlen, err, o.http);
			goto out;
		}
	}
out:
	if (err) {
		stillprof_controls_stop(c);
		return err;
	}
	*out = c;
	return 0;
}

void stillprof_controls_stop(stillprof_controls *c)
{
	struct sp_push_stats st = {0};

	if (!c)
		return;
	sp_httpd_stop(c->httpd);
	sp_writer_stop(c->writer);
	if (c->push) {
		sp_push_free(c->push, &st);
		if (st.failed || st.dropped)
			sp_warn("push: %llu sent, %llu failed, %llu dropped",
			        (unsigned long long)st.sent,
			        (unsigned long long)st.failed,
			        (unsigned long long)st.dropped);
	}
	if (c->signal)
		sp_ctlsig_detach(c->s);
	sp_free(c);
}
