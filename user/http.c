// SPDX-License-Identifier: GPL-2.0
/* Metrics and proxy health HTTP servers on libmicrohttpd; see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSON_TYPE "application/json"
#define NFAMILIES 2

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

/* ---- proxy health state ------------------------------------------------ */

struct health {
	pthread_mutex_t lock;
	double timeout;
	double last_updated[NFAMILIES];	/* 0: never synced */
	double oldest_queued[NFAMILIES];	/* 0: nothing pending */
	bool node_eligible;
};

struct health_report {
	bool healthy;
	double last_updated;	/* latest over the families */
	struct {
		bool known;	/* synced or queued at least once */
		bool healthy;
		double last_updated;
	} family[NFAMILIES];
};

struct health *health_new(double timeout_s)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->timeout = timeout_s;
	h->node_eligible = true;
	return h;
}

void health_free(struct health *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

double health_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void health_updated(struct health *h, unsigned families, double now)
{
	pthread_mutex_lock(&h->lock);
	for (int f = 0; f < NFAMILIES; f++) {
		if (!(families & (1U << f)))
			continue;
		h->last_updated[f] = now;
		h->oldest_queued[f] = 0;
	}
	pthread_mutex_unlock(&h->lock);
}

void health_queued(struct health *h, unsigned families, double now)
{
	pthread_mutex_lock(&h->lock);
	for (int f = 0; f < NFAMILIES; f++)
		if ((families & (1U << f)) && !h->oldest_queued[f])
			h->oldest_queued[f] = now;
	pthread_mutex_unlock(&h->lock);
}

void health_set_node_eligible(struct health *h, bool eligible)
{
	pthread_mutex_lock(&h->lock);
	h->node_eligible = eligible;
	pthread_mutex_unlock(&h->lock);
}

bool health_node_eligible(bool deleting, const char *const *taint_keys,
			  size_t ntaints)
{
	if (deleting)
		return false;
	for (size_t i = 0; i < ntaints; i++)
		if (taint_keys[i] && !strcmp(taint_keys[i], TO_BE_DELETED_TAINT))
			return false;
	return true;
}

/* Unlike kube-proxy, a family that never completed a sync is judged too:
 * an agent whose first sync never finishes must not look healthy. */
static bool health_eval(struct health *h, double now, struct health_report *r,
			bool *node_eligible)
{
	memset(r, 0, sizeof(*r));
	r->healthy = true;
	pthread_mutex_lock(&h->lock);
	for (int f = 0; f < NFAMILIES; f++) {
		double queued = h->oldest_queued[f];

		r->family[f].known = h->last_updated[f] || queued;
		r->family[f].last_updated = h->last_updated[f];
		r->family[f].healthy = !queued || now - queued < h->timeout;
		r->healthy &= r->family[f].healthy;
		if (h->last_updated[f] > r->last_updated)
			r->last_updated = h->last_updated[f];
	}
	if (node_eligible)
		*node_eligible = h->node_eligible;
	pthread_mutex_unlock(&h->lock);
	return r->healthy;
}

bool health_proxy_healthy(struct health *h, double now)
{
	struct health_report r;

	return health_eval(h, now, &r, NULL);
}

/* Go's time.Time JSON form (RFC 3339, UTC, trailing zeros of the fraction
 * dropped); 0 is Go's zero time, which kube-proxy prints for "never". */
static void fmt_time(char *out, size_t n, double t)
{
	time_t sec = (time_t)t;
	long usec = (long)((t - (double)sec) * 1e6 + 0.5);
	struct tm tm;
	size_t len;

	if (t <= 0) {
		snprintf(out, n, "0001-01-01T00:00:00Z");
		return;
	}
	if (usec >= 1000000)
		sec++, usec -= 1000000;
	gmtime_r(&sec, &tm);
	len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (usec) {
		len += (size_t)snprintf(out + len, n - len, ".%06ld", usec);
		while (out[len - 1] == '0')
			out[--len] = '\0';
	}
	snprintf(out + len, n - len, "Z");
}

static void json_time(cJSON *obj, const char *key, double t)
{
	char buf[64];

	fmt_time(buf, sizeof(buf), t);
	cJSON_AddStringToObject(obj, key, buf);
}

static cJSON *status_json(const struct health_report *r)
{
	cJSON *status = cJSON_CreateObject();

	for (int f = 0; status && f < NFAMILIES; f++) {
		cJSON *fam;

		if (!r->family[f].known)
			continue;
		fam = cJSON_AddObjectToObject(status, ip_family_name(1U << f));
		if (!fam)
			continue;
		json_time(fam, "lastUpdated", r->family[f].last_updated);
		cJSON_AddBoolToObject(fam, "healthy", r->family[f].healthy);
	}
	return status;
}

char *health_json(struct health *h, bool healthz, double now, int *code)
{
	struct health_report r;
	bool eligible, healthy;
	cJSON *root, *status;
	char *out;

	healthy = health_eval(h, now, &r, &eligible);
	if (healthz)
		healthy &= eligible;
	*code = healthy ? 200 : 503;
	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	/* kube-proxy compatibility: a healthy answer is "just updated" */
	json_time(root, "lastUpdated", healthy ? now : r.last_updated);
	json_time(root, "currentTime", now);
	if (healthz)
		cJSON_AddBoolToObject(root, "nodeEligible", eligible);
	/* "healthy" is the proxy's own health, as in kube-proxy */
	cJSON_AddBoolToObject(root, "healthy", r.healthy);
	status = status_json(&r);
	if (status && status->child)
		cJSON_AddItemToObject(root, "status", status);
	else
		cJSON_Delete(status);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* ---- addresses and sockets --------------------------------------------- */

static int parse_port(const char *s, int *port)
{
	long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

/* Splits "[v6]:port", "v4:port" or a bare IP into host and port text. */
static int split_host_port(const char *addr, char *host, size_t hostlen,
			   const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t len;

	*port = NULL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		len = (size_t)(end - addr - 1);
		if (len >= hostlen)
			return -EINVAL;
		memcpy(host, addr + 1, len);
		host[len] = '\0';
		*port = end[1] ? end + 2 : NULL;
		return 0;
	}
	/* a bare IPv6 literal has several colons and no port */
	if (colon && strchr(addr, ':') == colon) {
		len = (size_t)(colon - addr);
		*port = colon + 1;
	} else {
		len = strlen(addr);
	}
	if (len >= hostlen)
		return -EINVAL;
	memcpy(host, addr, len);
	host[len] = '\0';
	return 0;
}

int http_parse_addr(const char *addr, int default_port,
		    struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		    size_t errlen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text;
	int port = default_port;

	if (!addr || split_host_port(addr, host, sizeof(host), &port_text) ||
	    (port_text && parse_port(port_text, &port)))
		return fail(err, errlen, EINVAL,
			    "address %s: want IP:port or [IPv6]:port",
			    addr ? addr : "(null)");
	memset(ss, 0, sizeof(*ss));
	/* brackets are for IPv6 only */
	if (addr[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return fail(err, errlen, EINVAL, "address %s: %s is not an IP address",
		    addr, host);
}

static void fmt_sockaddr(char *out, size_t n, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

int http_listen(const struct sockaddr *sa, socklen_t salen, char *err,
		size_t errlen)
{
	char where[INET6_ADDRSTRLEN + 16];
	int fd, one = 1, e;

	fmt_sockaddr(where, sizeof(where), sa);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, errlen, errno, "listen %s: socket: %s", where,
			    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(fd, sa, salen) || listen(fd, 64))
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return fail(err, errlen, e, "listen %s: %s", where, strerror(e));
}

/* ---- generic server ---------------------------------------------------- */

struct http_server {
	struct MHD_Daemon *daemon;
	http_handler_fn fn;
	void *arg;
	void *owned;	/* freed by http_server_stop() */
	int port;
};

static enum MHD_Result send_reply(struct MHD_Connection *conn,
				  struct http_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : "",
					       r->body ? MHD_RESPMEM_MUST_FREE :
							 MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	if (r->content_type)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (r->nosniff)
		MHD_add_response_header(resp, "X-Content-Type-Options",
					"nosniff");
	if (r->header_name)
		MHD_add_response_header(resp, r->header_name, r->header_value);
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers as soon as the headers are in: no endpoint reads a body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_reply r = { .status = 500 };

	if (*con_cls) {
		*upload_data_size = 0;	/* an ignored body */
		return MHD_YES;
	}
	*con_cls = s;
	s->fn(s->arg, url, &r);
	if (!r.body && r.status == 500)
		return MHD_NO;
	return send_reply(conn, &r);
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct http_server *http_serve(int fd, http_handler_fn fn, void *arg,
			       char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		fail(err, errlen, ENOMEM, "http server: out of memory");
		close(fd);
		return NULL;
	}
	s->fn = fn;
	s->arg = arg;
	s->port = bound_port(fd);
	s->daemon = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
		MHD_OPTION_END);
	if (!s->daemon) {
		fail(err, errlen, EIO, "http server on port %d: cannot start",
		     s->port);
		close(fd);
		free(s);
		return NULL;
	}
	return s;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);	/* also closes the listening socket */
	free(s->owned);
	free(s);
}

static void set_text(struct http_reply *r, int status, const char *type,
		     const char *text)
{
	r->status = status;
	r->content_type = type;
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
}

static int start(struct http_server **out, const char *bind, int default_port,
		 http_handler_fn fn, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret;

	*out = NULL;
	if (!bind || !*bind || !strcmp(bind, "0"))
		return 0;
	ret = http_parse_addr(bind, default_port, &ss, &len, err, errlen);
	if (ret)
		return ret;
	fd = http_listen((struct sockaddr *)&ss, len, err, errlen);
	if (fd < 0)
		return fd;
	*out = http_serve(fd, fn, arg, err, errlen);
	return *out ? 0 : -EIO;
}

/* ---- metrics server ---------------------------------------------------- */

static void metrics_handler(void *arg, const char *url, struct http_reply *r)
{
	struct metrics *reg = arg;

	if (!strcmp(url, "/metrics")) {
		r->body = metrics_render(reg, &r->len);
		r->status = r->body ? 200 : 500;
		r->content_type = METRICS_CONTENT_TYPE;
	} else if (!strcmp(url, "/healthz")) {
		/* kube-proxy's metrics server answers a plain liveness ping */
		set_text(r, 200, "text/plain; charset=utf-8", "ok");
		r->nosniff = true;
	} else {
		set_text(r, 404, "text/plain; charset=utf-8",
			 "404 page not found\n");
	}
}

int metrics_server_start(struct http_server **out, const char *bind,
			 struct metrics *reg, char *err, size_t errlen)
{
	return start(out, bind, 10249, metrics_handler, reg, err, errlen);
}

/* ---- proxy health server ----------------------------------------------- */

struct health_server_ctx {
	struct health *h;
	struct xlb_metrics *xm;
};

static void health_handler(void *arg, const char *url, struct http_reply *r)
{
	struct health_server_ctx *ctx = arg;
	bool healthz = !strcmp(url, "/healthz");

	if (!healthz && strcmp(url, "/livez")) {
		set_text(r, 404, "text/plain; charset=utf-8",
			 "404 page not found\n");
		return;
	}
	r->body = health_json(ctx->h, healthz, health_now(), &r->status);
	if (!r->body) {
		r->status = 500;
		return;
	}
	r->len = strlen(r->body);
	r->content_type = JSON_TYPE;
	r->nosniff = true;
	if (ctx->xm)
		xlb_metrics_health_answer(ctx->xm, !healthz, r->status);
}

int health_server_start(struct http_server **out, const char *bind,
			struct health *h, struct xlb_metrics *xm, char *err,
			size_t errlen)
{
	struct health_server_ctx *ctx = calloc(1, sizeof(*ctx));
	int ret;

	if (!ctx)
		return fail(err, errlen, ENOMEM, "health server: out of memory");
	ctx->h = h;
	ctx->xm = xm;
	ret = start(out, bind, 10256, health_handler, ctx, err, errlen);
	if (*out)
		(*out)->owned = ctx;
	else
		free(ctx);
	return ret;
}
