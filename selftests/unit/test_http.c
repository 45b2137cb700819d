// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the HTTP endpoints (user/http.c, user/healthcheck.c) over
 * loopback with libcurl: metrics server, /healthz and /livez, and the
 * healthCheckNodePort listeners. Every server binds port 0 and the test
 * reads the bound port back. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "healthcheck.h"
#include "http.h"
#include "metrics.h"
#include "test.h"

struct resp {
	long status;
	CURLcode rc;
	char body[8192];
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n, room = sizeof(r->headers) - 1 - r->hlen;

	memcpy(r->headers + r->hlen, p, len < room ? len : room);
	r->hlen += len < room ? len : room;
	r->headers[r->hlen] = '\0';
	return len;
}

static void get(const char *host, int port, const char *path, struct resp *r)
{
	char url[256];
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
}

/* The value of header name in r ("" when absent). */
static const char *header(const struct resp *r, const char *name)
{
	static char value[256];
	size_t n = strlen(name);

	value[0] = '\0';
	for (const char *p = r->headers; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			sscanf(p + n + 1, " %255[^\r\n]", value);
			break;
		}
	}
	return value;
}

static const char *json_str(cJSON *obj, const char *key)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : "";
}

/* 1 true, 0 false, -1 absent */
static int json_bool(cJSON *obj, const char *key)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsBool(it) ? cJSON_IsTrue(it) : -1;
}

static bool ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa));

	if (fd >= 0)
		close(fd);
	return ok;
}

/* ---- addresses and servers --------------------------------------------- */

static void test_parse_addr(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	static const char *const bad[] = {
		"localhost:10249", "1.2.3.4:65536", "1.2.3.4:", "[::1",
		"[::1]x", "1.2.3.4:12a", "300.1.1.1:1", "[1.2.3.4]:1", "",
	};
	char err[128] = "";
	socklen_t len;

	test_begin("parse_bind_addresses");
	CHECK(!http_parse_addr("127.0.0.1:10249", 1, &ss, &len, err, sizeof(err)) &&
	      ss.ss_family == AF_INET && ntohs(s4->sin_port) == 10249 &&
	      s4->sin_addr.s_addr == htonl(INADDR_LOOPBACK), "IPv4:port");
	CHECK(!http_parse_addr("[::1]:10256", 1, &ss, &len, err, sizeof(err)) &&
	      ss.ss_family == AF_INET6 && ntohs(s6->sin6_port) == 10256 &&
	      IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) && len == sizeof(*s6),
	      "[IPv6]:port");
	CHECK(!http_parse_addr("0.0.0.0", 10256, &ss, &len, err, sizeof(err)) &&
	      ntohs(s4->sin_port) == 10256, "bare IPv4 takes the default port");
	CHECK(!http_parse_addr("::", 10256, &ss, &len, err, sizeof(err)) &&
	      ss.ss_family == AF_INET6 && ntohs(s6->sin6_port) == 10256,
	      "bare IPv6 takes the default port");
	CHECK(!http_parse_addr("[::]:0", 1, &ss, &len, err, sizeof(err)) &&
	      ntohs(s6->sin6_port) == 0, "port 0");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(http_parse_addr(bad[i], 1, &ss, &len, err, sizeof(err)) ==
			      -EINVAL && strstr(err, "address"),
		      "'%s' accepted or no message (%s)", bad[i], err);
	}
	test_end();
}

static void test_disabled(void)
{
	struct http_server *s = (void *)1;
	char err[128];

	test_begin("empty_or_zero_bind_disables");
	CHECK(!metrics_server_start(&s, "", NULL, err, sizeof(err)) && !s,
	      "empty metrics address");
	s = (void *)1;
	CHECK(!health_server_start(&s, "0", NULL, NULL, err, sizeof(err)) && !s,
	      "\"0\" healthz address");
	s = (void *)1;
	CHECK(!metrics_server_start(&s, NULL, NULL, err, sizeof(err)) && !s,
	      "NULL address");
	test_end();
}

static int scrapes;

static void count_scrape(struct metrics *reg, void *arg)
{
	scrapes++;
}

static void test_metrics_server(struct xlb_metrics *xm)
{
	struct http_server *s = NULL;
	struct resp r;
	char err[256];
	int port;

	test_begin("metrics_server_endpoints");
	metrics_add_collector(xm->reg, count_scrape, NULL);
	if (!CHECK(!metrics_server_start(&s, "127.0.0.1:0", xm->reg, err,
					 sizeof(err)) && s,
		   "start: %s", err))
		goto out;
	port = http_server_port(s);
	CHECK(port > 0, "bound port %d", port);
	get("127.0.0.1", port, "/metrics", &r);
	CHECK(r.rc == CURLE_OK && r.status == 200, "GET /metrics: %s %ld",
	      curl_easy_strerror(r.rc), r.status);
	CHECK(!strcmp(header(&r, "Content-Type"), METRICS_CONTENT_TYPE),
	      "content type '%s'", header(&r, "Content-Type"));
	CHECK(strstr(r.body, "# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_total counter\n"),
	      "body:\n%.400s", r.body);
	CHECK(scrapes == 1, "collector ran %d times", scrapes);
	get("127.0.0.1", port, "/healthz", &r);
	CHECK(r.status == 200 && !strcmp(r.body, "ok"), "/healthz: %ld '%s'",
	      r.status, r.body);
	get("127.0.0.1", port, "/nope", &r);
	CHECK(r.status == 404, "/nope: %ld", r.status);
out:
	http_server_stop(s);
	test_end();
}

static void test_ipv6_server(struct xlb_metrics *xm)
{
	struct http_server *s = NULL;
	struct resp r;
	char err[256];

	if (!ipv6_loopback()) {
		test_skip("metrics_server_ipv6", "no IPv6 loopback");
		return;
	}
	test_begin("metrics_server_ipv6");
	if (CHECK(!metrics_server_start(&s, "[::1]:0", xm->reg, err,
					sizeof(err)) && s,
		  "start: %s", err)) {
		get("[::1]", http_server_port(s), "/metrics", &r);
		CHECK(r.rc == CURLE_OK && r.status == 200, "GET: %s %ld",
		      curl_easy_strerror(r.rc), r.status);
	}
	http_server_stop(s);
	test_end();
}

static void test_port_in_use(struct health *h)
{
	struct http_server *a = NULL, *b = NULL;
	char bind[64], err[256] = "";
	int ret;

	test_begin("bind_port_in_use_errors");
	if (!CHECK(!health_server_start(&a, "127.0.0.1:0", h, NULL, err,
					sizeof(err)) && a, "start: %s", err))
		goto out;
	snprintf(bind, sizeof(bind), "127.0.0.1:%d", http_server_port(a));
	ret = health_server_start(&b, bind, h, NULL, err, sizeof(err));
	CHECK(ret == -EADDRINUSE && !b, "second bind: %d", ret);
	CHECK(strstr(err, bind) && strstr(err, "in use"), "message '%s'", err);
out:
	http_server_stop(a);
	http_server_stop(b);
	test_end();
}

/* ---- /healthz and /livez ----------------------------------------------- */

/* GETs path from a fresh health server over h and parses the JSON body. */
static cJSON *health_get(struct health *h, struct xlb_metrics *xm,
			 const char *path, struct resp *r)
{
	struct http_server *s = NULL;
	char err[256];

	memset(r, 0, sizeof(*r));
	if (health_server_start(&s, "127.0.0.1:0", h, xm, err, sizeof(err))) {
		fprintf(stderr, "  health server: %s\n", err);
		return NULL;
	}
	get("127.0.0.1", http_server_port(s), path, r);
	http_server_stop(s);
	return cJSON_Parse(r->body);
}

static void test_healthz_fresh(struct xlb_metrics *xm)
{
	struct health *h = health_new(60);
	double now = health_now();
	cJSON *j, *st;
	struct resp r;

	test_begin("healthz_200_when_synced");
	health_updated(h, IPF_V4, now - 1);
	health_queued(h, IPF_V4, now - 1);	/* pending, but not late */
	j = health_get(h, xm, "/healthz", &r);
	CHECK(r.status == 200, "status %ld", r.status);
	CHECK(!strcmp(header(&r, "Content-Type"), "application/json") &&
	      !strcmp(header(&r, "X-Content-Type-Options"), "nosniff"),
	      "headers:\n%s", r.headers);
	CHECK(j, "body is not JSON: %s", r.body);
	CHECK(strlen(json_str(j, "lastUpdated")) >= 20 &&
	      !strcmp(json_str(j, "lastUpdated"), json_str(j, "currentTime")),
	      "healthy answer has lastUpdated = currentTime: %s", r.body);
	CHECK(json_bool(j, "nodeEligible") == 1 && json_bool(j, "healthy") == 1,
	      "flags: %s", r.body);
	st = cJSON_GetObjectItemCaseSensitive(j, "status");
	CHECK(json_bool(cJSON_GetObjectItemCaseSensitive(st, "IPv4"),
			"healthy") == 1 &&
	      !cJSON_GetObjectItemCaseSensitive(st, "IPv6"),
	      "per-family status: %s", r.body);
	CHECK(!strncmp(r.body, "{\"lastUpdated\":", 15), "field order: %s",
	      r.body);
	cJSON_Delete(j);
	health_free(h);
	test_end();
}

static void test_healthz_stale(struct xlb_metrics *xm)
{
	struct health *h = health_new(1);
	double now = health_now();
	cJSON *j, *v4, *v6;
	struct resp r;

	test_begin("healthz_503_after_stale_queued_update");
	health_updated(h, IPF_ALL, now - 100);
	health_queued(h, IPF_V6, now - 5);	/* older than the 1s timeout */
	health_queued(h, IPF_V6, now);		/* the oldest one counts */
	j = health_get(h, xm, "/healthz", &r);
	CHECK(r.status == 503, "healthz status %ld", r.status);
	CHECK(json_bool(j, "healthy") == 0 && json_bool(j, "nodeEligible") == 1,
	      "flags: %s", r.body);
	v4 = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "status"), "IPv4");
	v6 = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "status"), "IPv6");
	CHECK(json_bool(v4, "healthy") == 1 && json_bool(v6, "healthy") == 0,
	      "per family: %s", r.body);
	CHECK(strcmp(json_str(j, "lastUpdated"), json_str(j, "currentTime")),
	      "unhealthy answer reports the real lastUpdated: %s", r.body);
	cJSON_Delete(j);
	j = health_get(h, xm, "/livez", &r);
	CHECK(r.status == 503, "livez status %ld", r.status);
	cJSON_Delete(j);
	CHECK(!health_proxy_healthy(h, now), "health_proxy_healthy");

	health_updated(h, IPF_V6, now);
	j = health_get(h, xm, "/healthz", &r);
	CHECK(r.status == 200 && json_bool(j, "healthy") == 1,
	      "recovered after sync: %ld %s", r.status, r.body);
	cJSON_Delete(j);
	health_free(h);
	test_end();
}

static void test_first_sync_late(void)
{
	struct health *h = health_new(1);
	double now = health_now();

	test_begin("unhealthy_when_first_sync_never_finishes");
	CHECK(health_proxy_healthy(h, now), "healthy before anything is queued");
	health_queued(h, IPF_V4, now - 2);
	CHECK(!health_proxy_healthy(h, now), "queued 2s ago, never synced");
	health_free(h);
	test_end();
}

static void test_node_ineligible(struct xlb_metrics *xm)
{
	struct health *h = health_new(60);
	struct resp r;
	cJSON *j;

	test_begin("node_deletion_fails_healthz_not_livez");
	health_updated(h, IPF_V4, health_now());
	health_set_node_eligible(h, false);
	j = health_get(h, xm, "/healthz", &r);
	CHECK(r.status == 503 && json_bool(j, "nodeEligible") == 0 &&
	      json_bool(j, "healthy") == 1, "healthz: %ld %s", r.status,
	      r.body);
	cJSON_Delete(j);
	j = health_get(h, xm, "/livez", &r);
	CHECK(r.status == 200 && json_bool(j, "nodeEligible") == -1 &&
	      json_bool(j, "healthy") == 1, "livez: %ld %s", r.status, r.body);
	cJSON_Delete(j);
	j = health_get(h, xm, "/other", &r);
	CHECK(r.status == 404, "unknown path: %ld", r.status);
	cJSON_Delete(j);
	health_set_node_eligible(h, true);
	j = health_get(h, xm, "/healthz", &r);
	CHECK(r.status == 200, "eligible again: %ld", r.status);
	cJSON_Delete(j);
	health_free(h);
	test_end();
}

static void test_eligibility_rule(void)
{
	static const char *const taints[] = {
		"node.kubernetes.io/unschedulable", TO_BE_DELETED_TAINT
	};

	test_begin("node_eligibility_rule");
	CHECK(health_node_eligible(false, NULL, 0), "plain node");
	CHECK(!health_node_eligible(true, NULL, 0), "being deleted");
	CHECK(health_node_eligible(false, taints, 1), "other taint");
	CHECK(!health_node_eligible(false, taints, 2), "autoscaler taint");
	test_end();
}

static void test_health_counters(struct xlb_metrics *xm)
{
	double before200, before503, after200, after503, live503;
	struct health *h = health_new(1);
	struct resp r;

	test_begin("healthz_total_counted_by_code");
	before200 = metric_value(xm->healthz_total, METRIC_LV("200"));
	before503 = metric_value(xm->healthz_total, METRIC_LV("503"));
	before200 = isnan(before200) ? 0 : before200;
	before503 = isnan(before503) ? 0 : before503;
	live503 = metric_value(xm->livez_total, METRIC_LV("503"));
	cJSON_Delete(health_get(h, xm, "/healthz", &r));
	cJSON_Delete(health_get(h, xm, "/healthz", &r));
	health_queued(h, IPF_V4, health_now() - 10);
	cJSON_Delete(health_get(h, xm, "/healthz", &r));
	cJSON_Delete(health_get(h, xm, "/livez", &r));
	after200 = metric_value(xm->healthz_total, METRIC_LV("200"));
	after503 = metric_value(xm->healthz_total, METRIC_LV("503"));
	CHECK(after200 - before200 == 2 && after503 - before503 == 1,
	      "healthz 200 +%.0f, 503 +%.0f", after200 - before200,
	      after503 - before503);
	CHECK(metric_value(xm->livez_total, METRIC_LV("503")) -
			      (isnan(live503) ? 0 : live503) == 1,
	      "livez 503 counted");
	health_free(h);
	test_end();
}

static void test_health_json(void)
{
	struct health *h = health_new(30);
	char *body;
	int code;

	test_begin("health_json_times");
	health_queued(h, IPF_V4, 1700000000.5 - 60);
	body = health_json(h, true, 1700000000.5, &code);
	CHECK(body && code == 503, "code %d", code);
	CHECK(body && !strcmp(body,
			      "{\"lastUpdated\":\"0001-01-01T00:00:00Z\","
			      "\"currentTime\":\"2023-11-14T22:13:20.5Z\","
			      "\"nodeEligible\":true,\"healthy\":false,"
			      "\"status\":{\"IPv4\":{\"lastUpdated\":"
			      "\"0001-01-01T00:00:00Z\",\"healthy\":false}}}"),
	      "body %s", body);
	free(body);
	health_updated(h, IPF_V4, 1700000000.25);
	body = health_json(h, false, 1700000001, &code);
	CHECK(body && code == 200 &&
	      !strcmp(body, "{\"lastUpdated\":\"2023-11-14T22:13:21Z\","
			    "\"currentTime\":\"2023-11-14T22:13:21Z\","
			    "\"healthy\":true,\"status\":{\"IPv4\":{"
			    "\"lastUpdated\":\"2023-11-14T22:13:20.25Z\","
			    "\"healthy\":true}}}"),
	      "livez body %s", body);
	free(body);
	health_free(h);
	test_end();
}

/* ---- healthCheckNodePort ----------------------------------------------- */

static const char *const loopback[] = { "127.0.0.1" };

static void expect_hc(struct hc_server *s, const char *ns, const char *name,
		      long status, int count, bool healthy)
{
	char body[512];
	struct resp r;
	char weight[16];

	snprintf(body, sizeof(body),
		 "{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n"
		 "\t\t\"name\": \"%s\"\n\t},\n\t\"localEndpoints\": %d,\n"
		 "\t\"serviceProxyHealthy\": %s\n}",
		 ns, name, count, healthy ? "true" : "false");
	snprintf(weight, sizeof(weight), "%d", count);
	get("127.0.0.1", hc_server_port(s, ns, name), "/any/path?x=1", &r);
	CHECK(r.rc == CURLE_OK && r.status == status,
	      "%s/%s: %s, status %ld want %ld", ns, name,
	      curl_easy_strerror(r.rc), r.status, status);
	CHECK(!strcmp(r.body, body), "%s/%s body:\n%s\nwant:\n%s", ns, name,
	      r.body, body);
	CHECK(!strcmp(header(&r, "Content-Type"), "application/json") &&
	      !strcmp(header(&r, "X-Content-Type-Options"), "nosniff") &&
	      !strcmp(header(&r, "X-Load-Balancing-Endpoint-Weight"), weight),
	      "%s/%s headers:\n%s", ns, name, r.headers);
}

static void test_hc_answers(void)
{
	struct health *h = health_new(1);
	struct hc_server *s;
	struct hc_service svcs[] = {
		{ "default", "web", 0, 2 },
		{ "kube-system", "empty", 0, 0 },
	};
	char err[512];
	int failed;

	test_begin("healthcheck_nodeport_200_503");
	s = hc_server_new(h, loopback, 1, err, sizeof(err));
	if (!CHECK(s, "new: %s", err))
		goto out;
	failed = hc_server_reconcile(s, svcs, 2, err, sizeof(err));
	CHECK(failed == 0 && !err[0], "reconcile: %d %s", failed, err);
	expect_hc(s, "default", "web", 200, 2, true);
	expect_hc(s, "kube-system", "empty", 503, 0, true);

	/* the proxy itself unhealthy: 503 even with local endpoints */
	health_queued(h, IPF_V4, health_now() - 10);
	expect_hc(s, "default", "web", 503, 2, false);
	health_updated(h, IPF_V4, health_now());
	expect_hc(s, "default", "web", 200, 2, true);
out:
	hc_server_free(s);
	health_free(h);
	test_end();
}

static bool refused(int port)
{
	struct resp r;

	get("127.0.0.1", port, "/", &r);
	return r.rc == CURLE_COULDNT_CONNECT;
}

static void test_hc_reconcile(void)
{
	struct health *h = health_new(60);
	struct hc_service svcs[] = {
		{ "ns", "a", 0, 1 },
		{ "ns", "b", 0, 3 },
	};
	struct hc_server *s;
	char err[512];
	int pa, pb;

	test_begin("healthcheck_reconcile_add_update_remove");
	s = hc_server_new(h, loopback, 1, err, sizeof(err));
	if (!CHECK(s, "new: %s", err))
		goto out;
	CHECK(hc_server_reconcile(s, svcs, 1, err, sizeof(err)) == 0,
	      "first: %s", err);
	pa = hc_server_port(s, "ns", "a");
	CHECK(pa > 0 && hc_server_port(s, "ns", "b") == -ENOENT, "only a");
	expect_hc(s, "ns", "a", 200, 1, true);

	/* add b, update a's count in place (same listener) */
	svcs[0].local_endpoints = 0;
	CHECK(hc_server_reconcile(s, svcs, 2, err, sizeof(err)) == 0,
	      "second: %s", err);
	CHECK(hc_server_port(s, "ns", "a") == pa, "a kept its listener");
	pb = hc_server_port(s, "ns", "b");
	CHECK(pb > 0, "b added");
	expect_hc(s, "ns", "a", 503, 0, true);
	expect_hc(s, "ns", "b", 200, 3, true);

	/* drop a */
	CHECK(hc_server_reconcile(s, &svcs[1], 1, err, sizeof(err)) == 0,
	      "third: %s", err);
	CHECK(hc_server_port(s, "ns", "a") == -ENOENT && refused(pa),
	      "a closed");
	expect_hc(s, "ns", "b", 200, 3, true);

	/* empty set closes everything */
	CHECK(hc_server_reconcile(s, NULL, 0, err, sizeof(err)) == 0, "empty");
	CHECK(hc_server_port(s, "ns", "b") == -ENOENT && refused(pb),
	      "b closed");
out:
	hc_server_free(s);
	health_free(h);
	test_end();
}

/* A listening socket on a kernel-chosen loopback port; returns the fd. */
static int occupy(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_hc_port_in_use(void)
{
	struct health *h = health_new(60);
	struct hc_service svcs[] = {
		{ "ns", "busy", 0, 1 },
		{ "ns", "fine", 0, 1 },
	};
	struct hc_server *s;
	char err[512], want[64];
	int fd, port;

	test_begin("healthcheck_port_in_use_isolated");
	fd = occupy(&port);
	s = hc_server_new(h, loopback, 1, err, sizeof(err));
	if (!CHECK(fd >= 0 && s, "setup: %s", err))
		goto out;
	svcs[0].port = port;
	CHECK(hc_server_reconcile(s, svcs, 2, err, sizeof(err)) == 1,
	      "one failure expected: %s", err);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	CHECK(strstr(err, "healthcheck ns/busy") && strstr(err, want) &&
	      strstr(err, "Address already in use") && !strstr(err, "fine"),
	      "message '%s'", err);
	CHECK(hc_server_port(s, "ns", "busy") == -ENOENT, "busy not served");
	expect_hc(s, "ns", "fine", 200, 1, true);

	/* the next reconcile retries once the port is free */
	close(fd);
	fd = -1;
	CHECK(hc_server_reconcile(s, svcs, 2, err, sizeof(err)) == 0,
	      "retry: %s", err);
	CHECK(hc_server_port(s, "ns", "busy") == port, "busy now served");
	expect_hc(s, "ns", "busy", 200, 1, true);
out:
	if (fd >= 0)
		close(fd);
	hc_server_free(s);
	health_free(h);
	test_end();
}

/* The default listen set, 0.0.0.0 and ::, shares one port (the IPv6
 * socket is v6-only). Only loopback is contacted. */
static void test_hc_default_addresses(void)
{
	struct health *h = health_new(60);
	struct hc_service svc = { "ns", "dual", 0, 1 };
	struct hc_server *s = NULL;
	char err[512];
	struct resp r;
	int fd;

	test_begin("healthcheck_default_addresses_share_port");
	fd = occupy(&svc.port);	/* a free port, released right away */
	if (fd >= 0)
		close(fd);
	s = hc_server_new(h, NULL, 0, err, sizeof(err));
	if (!CHECK(fd >= 0 && s, "setup: %s", err))
		goto out;
	CHECK(hc_server_reconcile(s, &svc, 1, err, sizeof(err)) == 0,
	      "reconcile: %s", err);
	expect_hc(s, "ns", "dual", 200, 1, true);
	if (ipv6_loopback()) {
		get("[::1]", svc.port, "/", &r);
		CHECK(r.rc == CURLE_OK && r.status == 200, "over IPv6: %s %ld",
		      curl_easy_strerror(r.rc), r.status);
	}
out:
	hc_server_free(s);
	health_free(h);
	test_end();
}

static void test_hc_bad_entries(void)
{
	struct health *h = health_new(60);
	struct hc_service svcs[] = {
		{ "ns", "ok", 0, 1 },
		{ "ns", "ok", 0, 2 },		/* duplicate */
		{ NULL, "x", 0, 1 },		/* no namespace */
		{ "ns", "neg", 0, -1 },		/* bad count */
		{ "ns", "port", 70000, 1 },	/* bad port */
	};
	static const char *const bad_addr[] = { "not-an-ip" };
	struct hc_server *s;
	char err[1024];
	int failed;

	test_begin("healthcheck_bad_input");
	CHECK(!hc_server_new(h, bad_addr, 1, err, sizeof(err)) &&
	      strstr(err, "not-an-ip"), "bad listen address: %s", err);
	s = hc_server_new(h, loopback, 1, err, sizeof(err));
	if (!CHECK(s, "new: %s", err))
		goto out;
	failed = hc_server_reconcile(s, svcs, 5, err, sizeof(err));
	CHECK(failed == 4, "failures %d: %s", failed, err);
	CHECK(strstr(err, "ns/ok: listed twice") &&
	      strstr(err, "entry 2: no namespace/name") &&
	      strstr(err, "ns/neg: bad") && strstr(err, "ns/port: bad port"),
	      "messages: %s", err);
	expect_hc(s, "ns", "ok", 200, 1, true);
out:
	hc_server_free(s);
	health_free(h);
	test_end();
}

int main(void)
{
	struct xlb_metrics *xm;
	struct health *h;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	xm = xlb_metrics_new();
	h = health_new(60);
	if (!xm || !h) {
		fprintf(stderr, "setup: out of memory\n");
		return 1;
	}
	test_parse_addr();
	test_disabled();
	test_metrics_server(xm);
	test_ipv6_server(xm);
	test_port_in_use(h);
	test_healthz_fresh(xm);
	test_healthz_stale(xm);
	test_first_sync_late();
	test_node_ineligible(xm);
	test_eligibility_rule();
	test_health_counters(xm);
	test_health_json();
	test_hc_answers();
	test_hc_reconcile();
	test_hc_port_in_use();
	test_hc_default_addresses();
	test_hc_bad_entries();
	health_free(h);
	xlb_metrics_free(xm);
	curl_global_cleanup();
	return test_exit_status();
}
