// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the Prometheus registry (user/metrics.c): rendering,
 * escaping, validation, collectors, thread safety, and promtool's verdict
 * on the full xlb metric set. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "test.h"

#define PROMTOOL "/usr/bin/promtool"

static char *render(struct metrics *reg)
{
	char *text = metrics_render(reg, NULL);

	return text ? text : strdup("");
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static size_t count_prefix(const char *text, const char *prefix)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, prefix)); p++)
		if (p == text || p[-1] == '\n')
			n++;
	return n;
}

/* Runs promtool check metrics on text; returns its exit status and leaves
 * its output in out. */
static int promtool_check(const char *text, char *out, size_t outlen)
{
	char path[] = "/tmp/xlb-metrics-XXXXXX", cmd[256];
	size_t n = 0;
	FILE *p;
	int fd, status;

	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	if (p) {
		n = fread(out, 1, outlen - 1, p);
		status = pclose(p);
	} else {
		status = -1;
	}
	out[n] = '\0';
	unlink(path);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Gives every labelled xlb family at least one series. */
static void fill_xlb(struct xlb_metrics *xm)
{
	xlb_metrics_sync_done(xm, IPF_ALL, 0.0123, 1700000000.5);
	xlb_metrics_sync_queued(xm, IPF_V4, 1700000000.25);
	xlb_metrics_network_programming(xm, IPF_V6, 1.5);
	xlb_metrics_changes(xm, CHANGE_SERVICE, 3, 1);
	xlb_metrics_changes(xm, CHANGE_ENDPOINT, 7, 0);
	xlb_metrics_no_local_endpoints(xm, IPF_V4, POLICY_EXTERNAL, 2);
	xlb_metrics_no_local_endpoints(xm, IPF_V6, POLICY_INTERNAL, 0);
	xlb_metrics_external_ips_skipped(xm, 4, 2);
	xlb_metrics_object_rejected(xm, "Service", "bad \"port\"\n\\x");
	xlb_metrics_health_answer(xm, false, 200);
	xlb_metrics_health_answer(xm, true, 503);
	metric_set(xm->drops, METRIC_LV("no_endpoints"), 5);
	metric_set(xm->skips, METRIC_LV("external_ip_gated"), 6);
	metric_set(xm->packets, METRIC_LV("xdp", "pass"), 1e12);
	metric_set(xm->map_entries, METRIC_LV("services"), 12);
	metric_set(xm->map_max_entries, METRIC_LV("services"), 65536);
}

static void test_promtool(void)
{
	struct xlb_metrics *xm;
	char out[4096];
	char *text;
	int rc;

	if (access(PROMTOOL, X_OK)) {
		test_skip("promtool_accepts_xlb_metrics", PROMTOOL " not installed");
		return;
	}
	test_begin("promtool_accepts_xlb_metrics");
	xm = xlb_metrics_new();
	if (CHECK(xm, "xlb_metrics_new: %s", strerror(errno))) {
		fill_xlb(xm);
		metric_set(xm->map_entries, METRIC_LV("odd"), NAN);
		text = render(xm->reg);
		rc = promtool_check(text, out, sizeof(out));
		CHECK(rc == 0 && !out[0], "promtool exit %d: %s", rc, out);
		free(text);
	}
	xlb_metrics_free(xm);
	test_end();
}

static void test_kubeproxy_names(void)
{
	static const char *const types[] = {
		"kubeproxy_sync_proxy_rules_duration_seconds histogram",
		"kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
		"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge",
		"kubeproxy_network_programming_duration_seconds histogram",
		"kubeproxy_sync_proxy_rules_endpoint_changes_total counter",
		"kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge",
		"kubeproxy_sync_proxy_rules_service_changes_total counter",
		"kubeproxy_sync_proxy_rules_service_changes_pending gauge",
		"kubeproxy_sync_proxy_rules_no_local_endpoints_total untyped",
		"kubeproxy_proxy_healthz_total counter",
		"kubeproxy_proxy_livez_total counter",
		"xlb_external_ips_skipped gauge",
		"xlb_external_ip_services_skipped gauge",
		"xlb_objects_rejected_total counter",
		"xlb_drops_total counter",
		"xlb_skips_total counter",
		"xlb_packets_total counter",
		"xlb_map_entries gauge",
		"xlb_map_max_entries gauge",
	};
	struct xlb_metrics *xm = xlb_metrics_new();
	char line[160], *text;

	test_begin("kubeproxy_names_types_and_values");
	if (!CHECK(xm, "xlb_metrics_new failed"))
		goto out;
	fill_xlb(xm);
	text = render(xm->reg);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s", types[i]);
		CHECK(has_line(text, line), "missing '%s'", line);
	}
	CHECK(has_line(text, "kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv6\"} 1700000000.5"),
	      "last sync timestamp");
	CHECK(has_line(text, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family=\"IPv4\"} 1700000000.25"),
	      "last queued timestamp");
	CHECK(has_line(text, "kubeproxy_sync_proxy_rules_service_changes_total 3") &&
	      has_line(text, "kubeproxy_sync_proxy_rules_service_changes_pending 1") &&
	      has_line(text, "kubeproxy_sync_proxy_rules_endpoint_changes_total 7"),
	      "change counters");
	CHECK(has_line(text, "kubeproxy_sync_proxy_rules_no_local_endpoints_total{ip_family=\"IPv4\",traffic_policy=\"external\"} 2"),
	      "no_local_endpoints");
	CHECK(has_line(text, "kubeproxy_proxy_livez_total{code=\"503\"} 1"),
	      "livez counter");
	CHECK(has_line(text, "xlb_external_ips_skipped 4") &&
	      has_line(text, "xlb_external_ip_services_skipped 2"),
	      "externalIP gauges");
	CHECK(has_line(text, "xlb_packets_total{hook=\"xdp\",verdict=\"pass\"} 1000000000000"),
	      "large counter printed in full");
	free(text);
out:
	xlb_metrics_free(xm);
	test_end();
}

static void test_kubeproxy_buckets(void)
{
	struct xlb_metrics *xm = xlb_metrics_new();
	char *text;

	test_begin("kubeproxy_histogram_buckets");
	if (!CHECK(xm, "xlb_metrics_new failed"))
		goto out;
	xlb_metrics_sync_done(xm, IPF_V4, 0.003, 1);
	xlb_metrics_network_programming(xm, IPF_V4, 61);
	xlb_metrics_network_programming(xm, IPF_V4, -1); /* skew: dropped */
	text = render(xm->reg);
	/* 0.001 * 2^i, i < 15, then +Inf */
	CHECK(count_prefix(text, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{") == 16,
	      "sync bucket count");
	CHECK(has_line(text, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.002\"} 0") &&
	      has_line(text, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"0.004\"} 1") &&
	      has_line(text, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{ip_family=\"IPv4\",le=\"16.384\"} 1"),
	      "sync buckets 0.002/0.004/16.384");
	/* 0, 0.25, 0.5, 1..59, 60..115 by 5, 120..300 by 30, +Inf */
	CHECK(count_prefix(text, "kubeproxy_network_programming_duration_seconds_bucket{") == 82,
	      "network programming bucket count");
	CHECK(has_line(text, "kubeproxy_network_programming_duration_seconds_bucket{ip_family=\"IPv4\",le=\"60\"} 0") &&
	      has_line(text, "kubeproxy_network_programming_duration_seconds_bucket{ip_family=\"IPv4\",le=\"65\"} 1") &&
	      has_line(text, "kubeproxy_network_programming_duration_seconds_bucket{ip_family=\"IPv4\",le=\"300\"} 1") &&
	      has_line(text, "kubeproxy_network_programming_duration_seconds_count{ip_family=\"IPv4\"} 1"),
	      "network programming buckets");
	free(text);
out:
	xlb_metrics_free(xm);
	test_end();
}

static void test_counter(void)
{
	struct metrics *reg = metrics_new();
	struct metric *c, *plain;
	char *text;

	test_begin("counter_render");
	c = metrics_register(reg, METRIC_COUNTER, "t_requests_total",
			     "Requests.", "code,method", NULL, 0);
	plain = metrics_register(reg, METRIC_COUNTER, "t_plain_total",
				 "Plain.", NULL, NULL, 0);
	CHECK(c && plain, "register: %s", strerror(errno));
	CHECK(!metric_add(c, METRIC_LV("200", "GET"), 1), "add");
	CHECK(!metric_add(c, METRIC_LV("200", "GET"), 2.5), "add");
	CHECK(!metric_add(c, METRIC_LV("503", "GET"), 1), "add");
	text = render(reg);
	CHECK(has_line(text, "# HELP t_requests_total Requests.") &&
	      has_line(text, "# TYPE t_requests_total counter"), "HELP/TYPE");
	CHECK(has_line(text, "t_requests_total{code=\"200\",method=\"GET\"} 3.5"),
	      "summed series:\n%s", text);
	CHECK(has_line(text, "t_requests_total{code=\"503\",method=\"GET\"} 1"),
	      "second series");
	CHECK(has_line(text, "t_plain_total 0"), "unlabelled starts at 0");
	CHECK(metric_value(c, METRIC_LV("200", "GET")) == 3.5, "metric_value");
	CHECK(isnan(metric_value(c, METRIC_LV("404", "GET"))), "absent is NaN");
	free(text);
	metrics_free(reg);
	test_end();
}

static void test_bad_updates(void)
{
	struct metrics *reg = metrics_new();
	struct metric *c, *h;
	char *text;

	test_begin("bad_updates_rejected");
	c = metrics_register(reg, METRIC_COUNTER, "t_c_total", "C.", "a",
			     NULL, 0);
	h = metrics_register(reg, METRIC_HISTOGRAM, "t_h", "H.", NULL,
			     (const double[]){ 1 }, 1);
	CHECK(metric_add(c, METRIC_LV("x"), -1) == -EINVAL, "negative add");
	CHECK(metric_add(c, METRIC_LV(), 1) == -EINVAL, "too few labels");
	CHECK(metric_add(c, METRIC_LV("x", "y"), 1) == -EINVAL,
	      "too many labels");
	CHECK(metric_add(c, METRIC_LV("\xff\xfe"), 1) == -EINVAL,
	      "invalid UTF-8 value");
	CHECK(metric_add(c, METRIC_LV("\xc0\xaf"), 1) == -EINVAL,
	      "overlong UTF-8 value");
	CHECK(metric_add(c, METRIC_LV(NULL), 1) == -EINVAL, "NULL value");
	CHECK(metric_observe(c, METRIC_LV("x"), 1) == -EINVAL,
	      "observe on a counter");
	CHECK(metric_add(h, METRIC_LV(), 1) == -EINVAL, "add on a histogram");
	CHECK(metric_observe(h, METRIC_LV(), NAN) == -EINVAL, "NaN observe");
	CHECK(metric_add(NULL, METRIC_LV(), 1) == -EINVAL, "NULL metric");
	CHECK(!metric_add(c, METRIC_LV("h\xc3\xa9"), 1), "valid UTF-8 value");
	text = render(reg);
	CHECK(count_prefix(text, "t_c_total{") == 1, "only the valid series:\n%s",
	      text);
	free(text);
	metrics_free(reg);
	test_end();
}

static void test_register_validation(void)
{
	static const double one[] = { 1 }, descending[] = { 2, 1 },
			    inf[] = { INFINITY };
	struct metrics *reg = metrics_new();

	test_begin("register_validation");
#define REG_FAILS(type, name, labels, b, nb, err)                             \
	CHECK(!metrics_register(reg, type, name, "h", labels, b, nb) &&       \
		      errno == err,                                           \
	      "%s {%s} should fail with %s", name, labels ? labels : "",     \
	      strerror(err))
	REG_FAILS(METRIC_GAUGE, "1bad", NULL, NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "bad-name", NULL, NULL, 0, EINVAL);
	REG_FAILS(METRIC_COUNTER, "t_no_suffix", NULL, NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_gauge_total", NULL, NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_g", "a,a", NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_g", "__x", NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_g", "a,,b", NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_g", "a-b", NULL, 0, EINVAL);
	REG_FAILS(METRIC_HISTOGRAM, "t_h", "le", one, 1, EINVAL);
	REG_FAILS(METRIC_HISTOGRAM, "t_h", NULL, descending, 2, EINVAL);
	REG_FAILS(METRIC_HISTOGRAM, "t_h", NULL, inf, 1, EINVAL);
	REG_FAILS(METRIC_HISTOGRAM, "t_h", NULL, NULL, 0, EINVAL);
	REG_FAILS(METRIC_GAUGE, "t_g", NULL, one, 1, EINVAL);
	CHECK(metrics_register(reg, METRIC_GAUGE, "t_ok:sub", "h", "a,b_2",
			       NULL, 0),
	      "valid gauge");
	REG_FAILS(METRIC_GAUGE, "t_ok:sub", NULL, NULL, 0, EEXIST);
	CHECK(metrics_find(reg, "t_ok:sub") && !metrics_find(reg, "t_nope"),
	      "metrics_find");
#undef REG_FAILS
	metrics_free(reg);
	test_end();
}

static void test_histogram(void)
{
	struct metrics *reg = metrics_new();
	struct metric *h;
	char *text;

	test_begin("histogram_render");
	h = metrics_register(reg, METRIC_HISTOGRAM, "t_latency_seconds", "L.",
			     "op", (const double[]){ 1, 2, 5 }, 3);
	CHECK(h, "register: %s", strerror(errno));
	metric_observe(h, METRIC_LV("get"), 0.5);
	metric_observe(h, METRIC_LV("get"), 1);	/* le is inclusive */
	metric_observe(h, METRIC_LV("get"), 3);
	metric_observe(h, METRIC_LV("get"), 10);
	text = render(reg);
	CHECK(has_line(text, "# TYPE t_latency_seconds histogram"), "TYPE");
	CHECK(has_line(text, "t_latency_seconds_bucket{op=\"get\",le=\"1\"} 2") &&
	      has_line(text, "t_latency_seconds_bucket{op=\"get\",le=\"2\"} 2") &&
	      has_line(text, "t_latency_seconds_bucket{op=\"get\",le=\"5\"} 3") &&
	      has_line(text, "t_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 4"),
	      "cumulative buckets:\n%s", text);
	CHECK(has_line(text, "t_latency_seconds_sum{op=\"get\"} 14.5") &&
	      has_line(text, "t_latency_seconds_count{op=\"get\"} 4"),
	      "sum and count");
	CHECK(metric_value(h, METRIC_LV("get")) == 4, "value is the count");
	free(text);
	metrics_free(reg);
	test_end();
}

static void test_escaping(void)
{
	struct metrics *reg = metrics_new();
	struct metric *g;
	char *text;

	test_begin("label_and_help_escaping");
	g = metrics_register(reg, METRIC_GAUGE, "t_esc",
			     "Help with \\ backslash\nand \"quotes\".", "v",
			     NULL, 0);
	CHECK(g, "register");
	metric_set(g, METRIC_LV("a\"b\\c\nd"), 1);
	metric_set(g, METRIC_LV(""), 2);
	metric_set(g, METRIC_LV("x"), INFINITY);
	metric_set(g, METRIC_LV("y"), NAN);
	metric_set(g, METRIC_LV("z"), 0.1);
	text = render(reg);
	CHECK(has_line(text, "# HELP t_esc Help with \\\\ backslash\\nand \"quotes\"."),
	      "HELP escaping:\n%s", text);
	CHECK(has_line(text, "t_esc{v=\"a\\\"b\\\\c\\nd\"} 1"),
	      "label value escaping:\n%s", text);
	CHECK(has_line(text, "t_esc{v=\"\"} 2"), "empty value");
	CHECK(has_line(text, "t_esc{v=\"x\"} +Inf") &&
	      has_line(text, "t_esc{v=\"y\"} NaN") &&
	      has_line(text, "t_esc{v=\"z\"} 0.1"), "special and short values");
	free(text);
	metrics_free(reg);
	test_end();
}

struct collect_state {
	struct metric *m;
	int calls;
};

static void collect(struct metrics *reg, void *arg)
{
	struct collect_state *st = arg;

	st->calls++;
	metric_set(st->m, METRIC_LV("no_endpoints"), st->calls * 10);
}

static void test_collector(void)
{
	struct metrics *reg = metrics_new();
	struct collect_state st = { 0 };
	char *text;

	test_begin("collector_runs_at_scrape");
	st.m = metrics_register(reg, METRIC_COUNTER, "t_drops_total", "D.",
				"reason", NULL, 0);
	CHECK(!metrics_add_collector(reg, collect, &st), "add collector");
	CHECK(metrics_add_collector(reg, NULL, NULL) == -EINVAL, "NULL fn");
	CHECK(st.calls == 0, "not called before a scrape");
	text = render(reg);
	CHECK(st.calls == 1 &&
	      has_line(text, "t_drops_total{reason=\"no_endpoints\"} 10"),
	      "first scrape: calls %d\n%s", st.calls, text);
	free(text);
	text = render(reg);
	CHECK(st.calls == 2 &&
	      has_line(text, "t_drops_total{reason=\"no_endpoints\"} 20"),
	      "second scrape: calls %d", st.calls);
	free(text);
	metrics_free(reg);
	test_end();
}

static void test_clear(void)
{
	struct metrics *reg = metrics_new();
	struct metric *g, *u;
	char *text;

	test_begin("clear_drops_series");
	g = metrics_register(reg, METRIC_GAUGE, "t_map_entries", "M.", "map",
			     NULL, 0);
	u = metrics_register(reg, METRIC_GAUGE, "t_single", "S.", NULL, NULL,
			     0);
	metric_set(g, METRIC_LV("a"), 1);
	metric_set(g, METRIC_LV("b"), 2);
	metric_set(u, METRIC_LV(), 7);
	metric_clear(g);
	metric_clear(u);
	metric_set(g, METRIC_LV("b"), 3);
	text = render(reg);
	CHECK(!strstr(text, "map=\"a\"") &&
	      has_line(text, "t_map_entries{map=\"b\"} 3"),
	      "labelled family cleared:\n%s", text);
	CHECK(has_line(text, "t_single 0"), "unlabelled reset to 0");
	metric_clear(g);
	free(text);
	text = render(reg);
	CHECK(!strstr(text, "t_map_entries"), "empty family not rendered");
	free(text);
	metrics_free(reg);
	test_end();
}

#define THREADS 4
#define ROUNDS 20000

static void *hammer(void *arg)
{
	struct metric *c = arg;
	char label[8];

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(label, sizeof(label), "%d", i % 3);
		metric_add(c, METRIC_LV(label), 1);
	}
	return NULL;
}

static void *scrape(void *arg)
{
	for (int i = 0; i < 200; i++)
		free(metrics_render(arg, NULL));
	return NULL;
}

static void test_threads(void)
{
	struct metrics *reg = metrics_new();
	pthread_t t[THREADS + 1];
	struct metric *c;
	double sum = 0;

	test_begin("concurrent_updates_and_scrapes");
	c = metrics_register(reg, METRIC_COUNTER, "t_hits_total", "H.", "k",
			     NULL, 0);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, c);
	pthread_create(&t[THREADS], NULL, scrape, reg);
	for (int i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	sum = metric_value(c, METRIC_LV("0")) + metric_value(c, METRIC_LV("1")) +
	      metric_value(c, METRIC_LV("2"));
	CHECK(sum == THREADS * ROUNDS, "total %.0f, want %d", sum,
	      THREADS * ROUNDS);
	metrics_free(reg);
	test_end();
}

int main(void)
{
	test_counter();
	test_bad_updates();
	test_register_validation();
	test_histogram();
	test_escaping();
	test_collector();
	test_clear();
	test_threads();
	test_kubeproxy_names();
	test_kubeproxy_buckets();
	test_promtool();
	return test_exit_status();
}
