// SPDX-License-Identifier: GPL-2.0
/* healthCheckNodePort listeners; see healthcheck.h. */
#define _GNU_SOURCE	/* asprintf */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HC_MAX_ADDRS 8

struct hc_instance {
	struct hc_instance *next;
	struct hc_server *owner;
	char *namespace;
	char *name;
	int port;		/* as requested */
	int bound_port;
	int endpoints;		/* atomic: read by the HTTP threads */
	size_t nservers;
	struct http_server *servers[HC_MAX_ADDRS];
};

struct hc_server {
	pthread_mutex_t lock;	/* serialises reconcile and lookups */
	struct health *health;
	size_t naddrs;
	struct sockaddr_storage addrs[HC_MAX_ADDRS];
	socklen_t addrlens[HC_MAX_ADDRS];
	bool optional[HC_MAX_ADDRS];	/* skipped when the family is missing */
	struct hc_instance *instances;
};

/* Appends "; msg" (or msg) to err. */
__attribute__((format(printf, 3, 4)))
static void err_append(char *err, size_t errlen, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!err || !errlen)
		return;
	len = strnlen(err, errlen);
	if (len && len + 2 < errlen)
		len += (size_t)snprintf(err + len, errlen - len, "; ");
	if (len + 1 >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + len, errlen - len, fmt, ap);
	va_end(ap);
}

/* ---- the handler ------------------------------------------------------- */

static char *json_string(const char *s)
{
	cJSON *str = cJSON_CreateString(s);
	char *out = str ? cJSON_PrintUnformatted(str) : NULL;

	cJSON_Delete(str);
	return out;
}

/* kube-proxy's body, byte for byte: tab-indented, no trailing newline. */
static char *hc_body(const struct hc_instance *inst, int count, bool healthy)
{
	char *ns = json_string(inst->namespace);
	char *name = json_string(inst->name);
	char *body = NULL;

	if (ns && name &&
	    asprintf(&body,
		     "{\n\t\"service\": {\n\t\t\"namespace\": %s,\n"
		     "\t\t\"name\": %s\n\t},\n\t\"localEndpoints\": %d,\n"
		     "\t\"serviceProxyHealthy\": %s\n}",
		     ns, name, count, healthy ? "true" : "false") < 0)
		body = NULL;
	free(ns);
	free(name);
	return body;
}

static void hc_handler(void *arg, const char *url, struct http_reply *r)
{
	struct hc_instance *inst = arg;
	int count = __atomic_load_n(&inst->endpoints, __ATOMIC_RELAXED);
	bool healthy = health_proxy_healthy(inst->owner->health, health_now());

	r->body = hc_body(inst, count, healthy);
	if (!r->body)
		return;	/* status 500 without a body: connection closed */
	r->len = strlen(r->body);
	r->status = count > 0 && healthy ? 200 : 503;
	r->content_type = "application/json";
	r->nosniff = true;
	r->header_name = "X-Load-Balancing-Endpoint-Weight";
	snprintf(r->header_value, sizeof(r->header_value), "%d", count);
}

/* ---- listeners --------------------------------------------------------- */

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static void instance_close(struct hc_instance *inst)
{
	for (size_t i = 0; i < inst->nservers; i++)
		http_server_stop(inst->servers[i]);
	inst->nservers = 0;
}

static void instance_free(struct hc_instance *inst)
{
	instance_close(inst);
	free(inst->namespace);
	free(inst->name);
	free(inst);
}

/* Listens on every configured address; all or nothing. */
static int instance_open(struct hc_server *s, struct hc_instance *inst,
			 char *msg, size_t msglen)
{
	for (size_t i = 0; i < s->naddrs; i++) {
		struct sockaddr_storage ss = s->addrs[i];
		struct http_server *srv;
		int fd;

		set_port(&ss, inst->port);
		fd = http_listen((struct sockaddr *)&ss, s->addrlens[i], msg,
				 msglen);
		if (fd == -EAFNOSUPPORT && s->optional[i])
			continue;
		if (fd < 0)
			goto fail;
		srv = http_serve(fd, hc_handler, inst, msg, msglen);
		if (!srv)
			goto fail;
		inst->servers[inst->nservers++] = srv;
		if (!inst->bound_port)
			inst->bound_port = http_server_port(srv);
	}
	if (inst->nservers)
		return 0;
	snprintf(msg, msglen, "no address to listen on");
	return -EADDRNOTAVAIL;
fail:
	instance_close(inst);
	return -EIO;
}

static struct hc_instance *instance_new(struct hc_server *s,
					const struct hc_service *svc)
{
	struct hc_instance *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return NULL;
	inst->owner = s;
	inst->port = svc->port;
	inst->endpoints = svc->local_endpoints;
	inst->namespace = strdup(svc->namespace);
	inst->name = strdup(svc->name);
	if (!inst->namespace || !inst->name) {
		instance_free(inst);
		return NULL;
	}
	return inst;
}

/* ---- server ------------------------------------------------------------ */

struct hc_server *hc_server_new(struct health *h, const char *const *addrs,
				size_t naddrs, char *err, size_t errlen)
{
	static const char *const all[] = { "0.0.0.0", "::" };
	struct hc_server *s;

	if (err && errlen)
		err[0] = '\0';
	if (!addrs) {
		addrs = all;
		naddrs = 2;
	}
	if (!h || !naddrs || naddrs > HC_MAX_ADDRS) {
		err_append(err, errlen, "healthcheck: need 1 to %d addresses",
			   HC_MAX_ADDRS);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		err_append(err, errlen, "healthcheck: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->health = h;
	for (size_t i = 0; i < naddrs; i++) {
		if (http_parse_addr(addrs[i], 0, &s->addrs[i], &s->addrlens[i],
				    err, errlen)) {
			hc_server_free(s);
			return NULL;
		}
		s->optional[i] = addrs == all && i == 1;
	}
	s->naddrs = naddrs;
	return s;
}

void hc_server_free(struct hc_server *s)
{
	struct hc_instance *inst, *next;

	if (!s)
		return;
	for (inst = s->instances; inst; inst = next) {
		next = inst->next;
		instance_free(inst);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool same_service(const struct hc_service *a, const char *ns,
			 const char *name)
{
	return !strcmp(a->namespace, ns) && !strcmp(a->name, name);
}

/* Checks entry i; an invalid or repeated entry is reported and ignored. */
static bool entry_ok(const struct hc_service *svcs, size_t i, char *err,
		     size_t errlen)
{
	const struct hc_service *svc = &svcs[i];

	if (!svc->namespace || !*svc->namespace || !svc->name || !*svc->name) {
		err_append(err, errlen, "healthcheck entry %zu: no namespace/name",
			   i);
		return false;
	}
	if (svc->port < 0 || svc->port > 65535 || svc->local_endpoints < 0) {
		err_append(err, errlen,
			   "healthcheck %s/%s: bad port %d or endpoint count %d",
			   svc->namespace, svc->name, svc->port,
			   svc->local_endpoints);
		return false;
	}
	for (size_t j = 0; j < i; j++) {
		if (svcs[j].namespace && svcs[j].name &&
		    same_service(&svcs[j], svc->namespace, svc->name)) {
			err_append(err, errlen, "healthcheck %s/%s: listed twice",
				   svc->namespace, svc->name);
			return false;
		}
	}
	return true;
}

/* The valid entry for inst, or NULL. */
static const struct hc_service *wanted(const struct hc_service *svcs,
				       const bool *valid, size_t n,
				       const struct hc_instance *inst)
{
	for (size_t i = 0; i < n; i++)
		if (valid[i] && same_service(&svcs[i], inst->namespace,
					     inst->name))
			return &svcs[i];
	return NULL;
}

/* Closes listeners no longer wanted; updates the counts of the rest. */
static void prune(struct hc_server *s, const struct hc_service *svcs,
		  const bool *valid, size_t n)
{
	struct hc_instance **pp = &s->instances;

	while (*pp) {
		struct hc_instance *inst = *pp;
		const struct hc_service *svc = wanted(svcs, valid, n, inst);

		if (svc && svc->port == inst->port) {
			__atomic_store_n(&inst->endpoints, svc->local_endpoints,
					 __ATOMIC_RELAXED);
			pp = &inst->next;
			continue;
		}
		*pp = inst->next;
		instance_free(inst);
	}
}

static struct hc_instance *find(struct hc_server *s, const char *ns,
				const char *name)
{
	for (struct hc_instance *inst = s->instances; inst; inst = inst->next)
		if (!strcmp(inst->namespace, ns) && !strcmp(inst->name, name))
			return inst;
	return NULL;
}

/* Opens the listeners of one new Service; returns false on failure. */
static bool add(struct hc_server *s, const struct hc_service *svc, char *err,
		size_t errlen)
{
	struct hc_instance *inst = instance_new(s, svc);
	char msg[256] = "out of memory";

	if (!inst || instance_open(s, inst, msg, sizeof(msg))) {
		err_append(err, errlen, "healthcheck %s/%s: %s", svc->namespace,
			   svc->name, msg);
		if (inst)
			instance_free(inst);
		return false;
	}
	inst->next = s->instances;
	s->instances = inst;
	return true;
}

int hc_server_reconcile(struct hc_server *s, const struct hc_service *svcs,
			size_t n, char *err, size_t errlen)
{
	bool *valid;
	int failed = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!svcs)
		n = 0;
	valid = calloc(n ? n : 1, sizeof(*valid));
	if (!valid) {
		err_append(err, errlen, "healthcheck: out of memory");
		return (int)n;
	}
	for (size_t i = 0; i < n; i++) {
		valid[i] = entry_ok(svcs, i, err, errlen);
		failed += !valid[i];
	}
	pthread_mutex_lock(&s->lock);
	prune(s, svcs, valid, n);
	for (size_t i = 0; i < n; i++)
		if (valid[i] && !find(s, svcs[i].namespace, svcs[i].name))
			failed += !add(s, &svcs[i], err, errlen);
	pthread_mutex_unlock(&s->lock);
	free(valid);
	return failed;
}

int hc_server_port(struct hc_server *s, const char *namespace,
		   const char *name)
{
	struct hc_instance *inst;
	int port;

	pthread_mutex_lock(&s->lock);
	inst = find(s, namespace, name);
	port = inst ? inst->bound_port : -ENOENT;
	pthread_mutex_unlock(&s->lock);
	return port;
}
