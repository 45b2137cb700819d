// SPDX-License-Identifier: GPL-2.0
/* kube_client against selftests/lib/fake_apiserver.py: pagination, watch
 * events however they are chunked, bookmarks, 410 relists, backoff, auth
 * errors, cut and oversized streams, prompt stop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "kube_client.h"
#include "test.h"

#define FAKE_REL "selftests/lib/fake_apiserver.py"
#define WAIT_MS 5000

static char fake_path[4096];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

__attribute__((format(printf, 2, 3)))
static void sb_add(char **s, const char *fmt, ...)
{
	char *add = NULL, *joined = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&add, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&joined, "%s%s", *s ? *s : "", add) < 0)
		abort();
	free(add);
	free(*s);
	*s = joined;
}

/* ---- the fake API server ---- */

struct fake {
	pid_t pid;
	const char *tls_dir;	/* holds cert.pem and key.pem: serve HTTPS */
	char dir[64];
	char url[64];
	cJSON *script, *lists, *watches;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->script = cJSON_CreateObject();
	f->lists = cJSON_AddArrayToObject(f->script, "list");
	f->watches = cJSON_AddArrayToObject(f->script, "watch");
}

static void add_resp(cJSON *queue, int status, const char *body, int split,
		     const char *end)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "status", status);
	cJSON_AddStringToObject(r, "body", body ? body : "");
	cJSON_AddNumberToObject(r, "split", split);
	cJSON_AddStringToObject(r, "end", end ? end : "ok");
	cJSON_AddItemToArray(queue, r);
}

static const char *fpath(const struct fake *f, const char *name)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", f->dir, name);
	return buf[i];
}

static int fake_start(struct fake *f)
{
	char *text = cJSON_PrintUnformatted(f->script);
	uint64_t deadline = now_ms() + WAIT_MS;
	FILE *fp;
	int port = 0;

	snprintf(f->dir, sizeof(f->dir), "/tmp/xlb-fake-XXXXXX");
	if (!mkdtemp(f->dir) || !(fp = fopen(fpath(f, "script.json"), "w"))) {
		free(text);
		return -1;
	}
	fputs(text, fp);
	fclose(fp);
	free(text);
	f->pid = fork();
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		char cert[128], key[128];

		snprintf(cert, sizeof(cert), "%s/cert.pem", f->tls_dir ? f->tls_dir : "");
		snprintf(key, sizeof(key), "%s/key.pem", f->tls_dir ? f->tls_dir : "");
		execlp("python3", "python3", fake_path, "--script", fpath(f, "script.json"),
		       "--port-file", fpath(f, "port"), "--log", fpath(f, "log"),
		       f->tls_dir ? "--tls-cert" : NULL, cert, "--tls-key", key, (char *)NULL);
		_exit(127);
	}
	while (f->pid > 0 && now_ms() < deadline) {
		fp = fopen(fpath(f, "port"), "r");
		if (fp && fscanf(fp, "%d", &port) == 1) {
			fclose(fp);
			snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d",
				 f->tls_dir ? "https" : "http", port);
			return 0;
		}
		if (fp)
			fclose(fp);
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			f->pid = 0;
			break;
		}
		msleep(10);
	}
	fprintf(stderr, "  fake API server did not start\n");
	return -1;
}

static void fake_stop(struct fake *f)
{
	const char *names[] = { "script.json", "port", "log" };

	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(fpath(f, names[i]));
	if (f->dir[0])
		rmdir(f->dir);
	cJSON_Delete(f->script);
	memset(f, 0, sizeof(*f));
}

/* The requests of one kind ("list", "watch") the fake has logged, in order. */
static cJSON *fake_requests(struct fake *f, const char *kind)
{
	cJSON *all = cJSON_CreateArray();
	char *line = NULL;
	size_t cap = 0;
	FILE *fp = fopen(fpath(f, "log"), "r");

	while (fp && getline(&line, &cap, fp) > 0) {
		cJSON *r = cJSON_Parse(line);
		cJSON *k = cJSON_GetObjectItem(r, "kind");

		if (cJSON_IsString(k) && !strcmp(k->valuestring, kind))
			cJSON_AddItemToArray(all, r);
		else
			cJSON_Delete(r);
	}
	free(line);
	if (fp)
		fclose(fp);
	return all;
}

static int fake_count(struct fake *f, const char *kind)
{
	cJSON *r = fake_requests(f, kind);
	int n = cJSON_GetArraySize(r);

	cJSON_Delete(r);
	return n;
}

/* Query parameter key of request i of kind, copied into out ("" if absent,
 * "<none>" if there is no such request). */
static const char *req_param(struct fake *f, const char *kind, int i, const char *key)
{
	static char out[256];
	cJSON *r = fake_requests(f, kind);
	cJSON *req = cJSON_GetArrayItem(r, i);
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(req, "query"), key);

	snprintf(out, sizeof(out), "%s", !req ? "<none>" :
		 cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(r);
	return out;
}

/* ---- the consumer ---- */

struct rec {
	pthread_mutex_t lock;
	int list_begins, list_ends, objects, events;
	char list_rv[64];
	char *trace;	/* "L a;" per list item, "ADDED a 101;" per event */
	char *logs;	/* log lines, each ending in '\n' */
};

static struct rec rec;

static void on_list_begin(void *user)
{
	pthread_mutex_lock(&rec.lock);
	rec.list_begins++;
	sb_add(&rec.trace, "BEGIN;");
	pthread_mutex_unlock(&rec.lock);
}

static const char *obj_name(cJSON *obj)
{
	cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name");

	return cJSON_IsString(n) ? n->valuestring : "?";
}

static void on_object(void *user, cJSON *obj)
{
	pthread_mutex_lock(&rec.lock);
	rec.objects++;
	sb_add(&rec.trace, "L %s;", obj_name(obj));
	pthread_mutex_unlock(&rec.lock);
}

static void on_list_end(void *user, const char *rv)
{
	pthread_mutex_lock(&rec.lock);
	rec.list_ends++;
	snprintf(rec.list_rv, sizeof(rec.list_rv), "%s", rv);
	sb_add(&rec.trace, "END %s;", rv);
	pthread_mutex_unlock(&rec.lock);
}

static void on_event(void *user, enum kube_event type, cJSON *obj)
{
	cJSON *rv = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"),
					"resourceVersion");

	pthread_mutex_lock(&rec.lock);
	rec.events++;
	sb_add(&rec.trace, "%s %s %s;", kube_event_name(type), obj_name(obj),
	       cJSON_IsString(rv) ? rv->valuestring : "-");
	pthread_mutex_unlock(&rec.lock);
}

static void on_log(void *ctx, int level, const char *msg)
{
	pthread_mutex_lock(&rec.lock);
	sb_add(&rec.logs, "%s\n", msg);
	pthread_mutex_unlock(&rec.lock);
}

static void rec_reset(void)
{
	free(rec.trace);
	free(rec.logs);
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.lock, NULL);
	rec.trace = strdup("");
	rec.logs = strdup("");
}

/* ---- one case: a fake, a connection, a watch ---- */

struct tcase {
	struct fake fake;
	struct kube_conn_opts opts;
	struct kube_watch_spec spec;
	struct kube_conn *conn;
	struct kube_watch *watch;
};

static void tc_init(struct tcase *t)
{
	rec_reset();
	memset(t, 0, sizeof(*t));
	fake_init(&t->fake);
	t->opts.backoff_initial_ms = 50;
	t->opts.backoff_max_ms = 400;
	t->opts.log = on_log;
	t->spec = (struct kube_watch_spec){
		.name = "services", .path = "/api/v1/services",
		.on_list_begin = on_list_begin, .on_object = on_object,
		.on_list_end = on_list_end, .on_event = on_event,
	};
}

static int tc_start(struct tcase *t)
{
	char err[256];

	if (!CHECK(!fake_start(&t->fake), "fake server"))
		return -1;
	t->opts.master = t->fake.url;
	t->conn = kube_conn_new(&t->opts, err, sizeof(err));
	if (!CHECK(t->conn, "conn: %s", err))
		return -1;
	t->watch = kube_watch_start(t->conn, &t->spec, err, sizeof(err));
	return CHECK(t->watch, "watch: %s", err) ? 0 : -1;
}

static void tc_end(struct tcase *t)
{
	kube_watch_stop(t->watch);
	kube_conn_free(t->conn);
	fake_stop(&t->fake);
	if (test_case_failed)
		fprintf(stderr, "  trace: %s\n  logs:\n%s", rec.trace, rec.logs);
	test_end();
}

static struct kube_watch_stats tc_stats(struct tcase *t)
{
	struct kube_watch_stats s;

	kube_watch_get_stats(t->watch, &s);
	return s;
}

/* What to wait for; zero fields are not waited for. */
struct want {
	int list_ends, list_begins, events, watch_reqs, list_reqs;
	const char *trace_has, *log_has;
};

static bool reached(struct tcase *t, const struct want *w)
{
	bool ok;

	pthread_mutex_lock(&rec.lock);
	ok = rec.list_ends >= w->list_ends && rec.events >= w->events &&
	     rec.list_begins >= w->list_begins &&
	     (!w->trace_has || strstr(rec.trace, w->trace_has)) &&
	     (!w->log_has || strstr(rec.logs, w->log_has));
	pthread_mutex_unlock(&rec.lock);
	return ok && (!w->watch_reqs || fake_count(&t->fake, "watch") >= w->watch_reqs) &&
	       (!w->list_reqs || fake_count(&t->fake, "list") >= w->list_reqs);
}

static bool wait_for(struct tcase *t, struct want w)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (now_ms() < deadline) {
		if (reached(t, &w))
			return true;
		msleep(5);
	}
	return reached(t, &w);
}

static bool trace_is(const char *want)
{
	bool ok;

	pthread_mutex_lock(&rec.lock);
	ok = !strcmp(rec.trace, want);
	if (!ok)
		fprintf(stderr, "  trace \"%s\"\n   want \"%s\"\n", rec.trace, want);
	pthread_mutex_unlock(&rec.lock);
	return ok;
}

/* ---- bodies ---- */

static char *list_body(const char *rv, const char *cont, const char *names)
{
	char *s = NULL, *copy = strdup(names), *save = NULL, *n;
	bool first = true;

	sb_add(&s, "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":"
	       "{\"resourceVersion\":\"%s\"%s%s%s},\"items\":[", rv,
	       cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "");
	for (n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		sb_add(&s, "%s{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\","
		       "\"resourceVersion\":\"%s\"},\"spec\":{\"clusterIP\":\"198.19.0.1\"}}",
		       first ? "" : ",", n, rv);
		first = false;
	}
	sb_add(&s, "]}");
	free(copy);
	return s;
}

static void ev(char **s, const char *type, const char *name, const char *rv)
{
	sb_add(s, "{\"type\":\"%s\",\"object\":{\"kind\":\"Service\",\"apiVersion\":\"v1\","
	       "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\","
	       "\"resourceVersion\":\"%s\"}}}\n", type, name, rv);
}

static void add_list(struct tcase *t, const char *rv, const char *cont, const char *names)
{
	char *b = list_body(rv, cont, names);

	add_resp(t->fake.lists, 200, b, 0, "ok");
	free(b);
}

static const char *status_body(int code, const char *reason, const char *msg)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		 "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
		 msg, reason, code);
	return buf;
}

/* ---- cases ---- */

static void test_paginated_list(void)
{
	struct tcase t;

	test_begin("kube_client_paginated_list_3_pages");
	tc_init(&t);
	t.spec.label_selector = "!service.kubernetes.io/service-proxy-name";
	t.spec.field_selector = "spec.clusterIP!=None";
	add_list(&t, "100", "tok/2", "a b");
	add_list(&t, "200", "tok 3", "c");
	add_list(&t, "300", NULL, "d e");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .list_ends = 1, .watch_reqs = 1 }), "no watch");
		CHECK(trace_is("BEGIN;L a;L b;L c;L d;L e;END 100;"), "trace");
		CHECK(fake_count(&t.fake, "list") == 3, "list requests %d",
		      fake_count(&t.fake, "list"));
		CHECK(!strcmp(req_param(&t.fake, "list", 0, "limit"), "500"), "limit");
		CHECK(!strcmp(req_param(&t.fake, "list", 0, "resourceVersion"), "0"), "first rv");
		CHECK(!strcmp(req_param(&t.fake, "list", 0, "labelSelector"),
			      "!service.kubernetes.io/service-proxy-name"), "label selector");
		CHECK(!strcmp(req_param(&t.fake, "list", 0, "fieldSelector"),
			      "spec.clusterIP!=None"), "field selector");
		CHECK(!strcmp(req_param(&t.fake, "list", 1, "continue"), "tok/2"), "continue 2");
		CHECK(!strcmp(req_param(&t.fake, "list", 1, "resourceVersion"), ""),
		      "rv with continue");
		CHECK(!strcmp(req_param(&t.fake, "list", 2, "continue"), "tok 3"), "continue 3");
		CHECK(!strcmp(req_param(&t.fake, "watch", 0, "resourceVersion"), "100"),
		      "watch from the first page's rv");
		CHECK(!strcmp(req_param(&t.fake, "watch", 0, "allowWatchBookmarks"), "true"),
		      "bookmarks");
		CHECK(!strcmp(req_param(&t.fake, "watch", 0, "fieldSelector"),
			      "spec.clusterIP!=None"), "watch field selector");
		int to = atoi(req_param(&t.fake, "watch", 0, "timeoutSeconds"));
		CHECK(to >= 300 && to <= 600, "timeoutSeconds %d", to);
		CHECK(tc_stats(&t).lists == 1 && tc_stats(&t).list_pages == 3 &&
		      tc_stats(&t).synced, "stats");
	}
	tc_end(&t);
}

/* Events delivered in order, however the stream is chunked. */
static void watch_events_case(const char *name, int split)
{
	struct tcase t;
	char *w = NULL, *want = NULL;

	test_begin(name);
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	for (int i = 0; i < 40; i++) {
		char n[16], rv[16];

		snprintf(n, sizeof(n), "s%d", i);
		snprintf(rv, sizeof(rv), "%d", 101 + i);
		ev(&w, i % 3 == 0 ? "ADDED" : i % 3 == 1 ? "MODIFIED" : "DELETED", n, rv);
		sb_add(&want, "%s %s %s;", i % 3 == 0 ? "ADDED" : i % 3 == 1 ?
		       "MODIFIED" : "DELETED", n, rv);
	}
	add_resp(t.fake.watches, 200, w, split, "hang");
	if (!tc_start(&t)) {
		char *full = NULL;

		sb_add(&full, "BEGIN;L a;END 100;%s", want);
		CHECK(wait_for(&t, (struct want){ .events = 40 }), "events %d", rec.events);
		CHECK(trace_is(full), "trace");
		CHECK(tc_stats(&t).events == 40 && tc_stats(&t).watches == 1, "stats");
		free(full);
	}
	tc_end(&t);
	free(w);
	free(want);
}

static void test_bookmark(void)
{
	struct tcase t;
	char *w = NULL;

	test_begin("kube_client_bookmark_moves_rv");
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	ev(&w, "ADDED", "b", "101");
	ev(&w, "BOOKMARK", "", "150");
	add_resp(t.fake.watches, 200, w, 0, "ok");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .watch_reqs = 2 }), "no second watch");
		CHECK(!strcmp(req_param(&t.fake, "watch", 1, "resourceVersion"), "150"),
		      "second watch rv %s", req_param(&t.fake, "watch", 1, "resourceVersion"));
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 101;"), "bookmark is no event");
		CHECK(tc_stats(&t).bookmarks == 1 && tc_stats(&t).watch_restarts >= 1,
		      "stats");
		CHECK(fake_count(&t.fake, "list") == 1, "no relist");
	}
	tc_end(&t);
	free(w);
}

static void test_normal_end_rewatch(void)
{
	struct tcase t;
	char *w1 = NULL, *w2 = NULL;

	test_begin("kube_client_watch_timeout_rewatches_from_last_rv");
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	ev(&w1, "ADDED", "b", "105");
	ev(&w2, "MODIFIED", "b", "107");
	add_resp(t.fake.watches, 200, w1, 0, "ok");
	add_resp(t.fake.watches, 200, w2, 0, "ok");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .watch_reqs = 3 }), "watches");
		CHECK(!strcmp(req_param(&t.fake, "watch", 1, "resourceVersion"), "105"), "2nd rv");
		CHECK(!strcmp(req_param(&t.fake, "watch", 2, "resourceVersion"), "107"), "3rd rv");
		CHECK(fake_count(&t.fake, "list") == 1, "no relist");
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 105;MODIFIED b 107;"), "trace");
		CHECK(!strstr(rec.logs, "retry"), "a normal end is no error");
	}
	tc_end(&t);
	free(w1);
	free(w2);
}

static void relist_case(const char *name, bool in_stream)
{
	struct tcase t;
	char *w = NULL;

	test_begin(name);
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	add_list(&t, "500", NULL, "a c");
	ev(&w, "ADDED", "b", "101");
	if (in_stream) {
		sb_add(&w, "{\"type\":\"ERROR\",\"object\":%s}\n",
		       status_body(410, "Expired", "too old resource version: 101 (450)"));
		add_resp(t.fake.watches, 200, w, 0, "hang");
	} else {
		add_resp(t.fake.watches, 200, w, 0, "ok");
		add_resp(t.fake.watches, 410, status_body(410, "Gone", "gone away"), 0, "ok");
	}
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .list_ends = 2, .watch_reqs = in_stream ? 2 : 3 }),
		      "no relist");
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 101;BEGIN;L a;L c;END 500;"), "trace");
		CHECK(!strcmp(req_param(&t.fake, "list", 1, "resourceVersion"), ""),
		      "relist is a consistent read");
		CHECK(!strcmp(req_param(&t.fake, "watch", in_stream ? 1 : 2, "resourceVersion"),
			      "500"), "watch from the relist's rv");
		CHECK(tc_stats(&t).relists == 1 && tc_stats(&t).errors[KUBE_ERR_EXPIRED] == 1,
		      "stats");
		CHECK(strstr(rec.logs, in_stream ?
			     "watch services: ERROR event: 410 Expired: too old resource version" :
			     "watch services: HTTP 410: gone away (watch, relist in 0 ms)"),
		      "log");
	}
	tc_end(&t);
	free(w);
}

/* The delays logged as "retry in N ms" for lines containing what. */
static int logged_delays(const char *what, unsigned int *out, int max)
{
	const char *p = rec.logs;
	int n = 0;

	while (n < max && (p = strstr(p, what))) {
		const char *r = strstr(p, "retry in ");

		if (!r)
			break;
		out[n++] = atoi(r + 9);
		p = r;
	}
	return n;
}

static void test_5xx_backoff(void)
{
	struct tcase t;
	char *w = NULL;

	test_begin("kube_client_500_x3_backoff_grows_under_cap");
	tc_init(&t);
	t.opts.backoff_initial_ms = 80;
	t.opts.backoff_max_ms = 250;
	add_list(&t, "100", NULL, "a");
	for (int i = 0; i < 3; i++)
		add_resp(t.fake.watches, 500, status_body(500, "InternalError", "etcd is sad"),
			 0, "ok");
	ev(&w, "ADDED", "b", "101");
	add_resp(t.fake.watches, 200, w, 0, "hang");
	if (!tc_start(&t)) {
		unsigned int d[3] = { 0 };
		cJSON *reqs;
		double gap[3];

		CHECK(wait_for(&t, (struct want){ .events = 1 }), "no recovery");
		CHECK(logged_delays("watch services: HTTP 500: etcd is sad (watch, ", d, 3) == 3,
		      "three logged retries:\n%s", rec.logs);
		CHECK(d[0] >= 40 && d[0] <= 80, "1st delay %u", d[0]);
		/* Windows [cur/2, cur] for cur 80, 160, then the cap 250. */
		CHECK(d[1] >= d[0] && d[1] >= 80 && d[1] <= 160, "2nd delay %u", d[1]);
		CHECK(d[2] > d[0] && d[2] >= 125 && d[2] <= 250, "3rd delay %u under cap", d[2]);
		reqs = fake_requests(&t.fake, "watch");
		for (int i = 0; i < 3 && cJSON_GetArraySize(reqs) == 4; i++) {
			gap[i] = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, i + 1), "t")->valuedouble -
				 cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, i), "t")->valuedouble;
			CHECK(gap[i] * 1000 >= d[i] - 5, "request gap %.0f ms < delay %u",
			      gap[i] * 1000, d[i]);
		}
		CHECK(cJSON_GetArraySize(reqs) == 4, "watch requests %d", cJSON_GetArraySize(reqs));
		cJSON_Delete(reqs);
		CHECK(!strcmp(req_param(&t.fake, "watch", 3, "resourceVersion"), "100"), "rv kept");
		CHECK(tc_stats(&t).errors[KUBE_ERR_HTTP_5XX] == 3, "5xx count");
		CHECK(fake_count(&t.fake, "list") == 1, "no relist below the threshold");
	}
	tc_end(&t);
	free(w);
}

static void test_forbidden(void)
{
	struct tcase t;

	test_begin("kube_client_403_logged_with_message_slow_retry");
	tc_init(&t);
	t.opts.backoff_max_ms = 300;
	add_resp(t.fake.lists, 403, status_body(403, "Forbidden",
		 "services is forbidden: User \\\"system:anonymous\\\" cannot list"), 0, "ok");
	add_list(&t, "100", NULL, "a");
	if (!tc_start(&t)) {
		unsigned int d = 0;

		CHECK(wait_for(&t, (struct want){ .list_ends = 1 }), "no recovery");
		CHECK(strstr(rec.logs, "watch services: HTTP 403: services is forbidden: "
			     "User \"system:anonymous\" cannot list (list, retry in "),
		      "log line");
		CHECK(logged_delays("HTTP 403", &d, 1) == 1 && d >= 150 && d <= 300,
		      "slow retry %u", d);
		CHECK(tc_stats(&t).errors[KUBE_ERR_HTTP_AUTH] == 1, "auth count");
	}
	tc_end(&t);
}

static void test_cut_mid_event(void)
{
	struct tcase t;
	char *w1 = NULL, *w2 = NULL;

	test_begin("kube_client_closed_mid_event_discards_partial");
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	ev(&w1, "ADDED", "b", "101");
	sb_add(&w1, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"cut");
	ev(&w2, "ADDED", "c", "102");
	sb_add(&w2, "{\"type\":\"MODIFIED\",\"obj");
	add_resp(t.fake.watches, 200, w1, 7, "close");	/* connection dropped */
	add_resp(t.fake.watches, 200, w2, 0, "ok");	/* clean end, partial line */
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .watch_reqs = 3 }), "no re-watch");
		CHECK(!strcmp(req_param(&t.fake, "watch", 1, "resourceVersion"), "101"), "rv 2");
		CHECK(!strcmp(req_param(&t.fake, "watch", 2, "resourceVersion"), "102"), "rv 3");
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 101;ADDED c 102;"), "trace");
		CHECK(strstr(rec.logs, "bytes of a partial event discarded (watch, retry in"),
		      "cut logged");
		CHECK(strstr(rec.logs, "watch services: stream ended mid-event; 23 bytes"),
		      "partial end logged");
		CHECK(tc_stats(&t).errors[KUBE_ERR_NETWORK] == 2, "network errors %llu",
		      (unsigned long long)tc_stats(&t).errors[KUBE_ERR_NETWORK]);
	}
	tc_end(&t);
	free(w1);
	free(w2);
}

static void test_oversize(void)
{
	struct tcase t;
	char *w1 = NULL, *w2 = NULL;

	test_begin("kube_client_oversized_event_drops_stream_and_recovers");
	tc_init(&t);
	t.opts.max_event_bytes = 1024;
	add_list(&t, "100", NULL, "a");
	ev(&w1, "ADDED", "b", "101");
	sb_add(&w1, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"");
	for (int i = 0; i < 300; i++)
		sb_add(&w1, "huge");
	sb_add(&w1, "\"}}}\n");
	ev(&w1, "ADDED", "never", "103");
	ev(&w2, "ADDED", "c", "102");
	add_resp(t.fake.watches, 200, w1, 100, "hang");
	add_resp(t.fake.watches, 200, w2, 0, "hang");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .events = 2 }), "no recovery");
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 101;ADDED c 102;"), "trace");
		CHECK(!strcmp(req_param(&t.fake, "watch", 1, "resourceVersion"), "101"), "rv");
		CHECK(strstr(rec.logs, "watch services: event larger than 1024 bytes, "
			     "dropping the stream (watch, retry in"), "log");
		CHECK(tc_stats(&t).errors[KUBE_ERR_OVERSIZE] == 1, "count");
	}
	tc_end(&t);
	free(w1);
	free(w2);
}

static void test_bad_event(void)
{
	struct tcase t;
	char *w1 = NULL, *w2 = NULL;

	test_begin("kube_client_bad_json_event_rewatches");
	tc_init(&t);
	add_list(&t, "100", NULL, "a");
	ev(&w1, "ADDED", "b", "101");
	sb_add(&w1, "this is not json\n");
	ev(&w1, "ADDED", "never", "103");
	ev(&w2, "ADDED", "c", "102");
	add_resp(t.fake.watches, 200, w1, 0, "hang");
	add_resp(t.fake.watches, 200, w2, 0, "hang");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .events = 2 }), "no recovery");
		CHECK(trace_is("BEGIN;L a;END 100;ADDED b 101;ADDED c 102;"), "trace");
		CHECK(strstr(rec.logs, "watch services: bad watch event (not JSON): this is not json"),
		      "log");
		CHECK(tc_stats(&t).errors[KUBE_ERR_DECODE] == 1, "count");
	}
	tc_end(&t);
	free(w1);
	free(w2);
}

static void test_relist_after_failures(void)
{
	struct tcase t;

	test_begin("kube_client_repeated_failures_relist");
	tc_init(&t);
	t.opts.relist_after_failures = 2;
	add_list(&t, "100", NULL, "a");
	add_list(&t, "200", NULL, "a b");
	add_resp(t.fake.watches, 503, "upstream down", 0, "ok");
	add_resp(t.fake.watches, 503, "upstream down", 0, "ok");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .list_ends = 2, .watch_reqs = 3 }), "no relist");
		CHECK(strstr(rec.logs, "watch services: HTTP 503: upstream down "
			     "(watch, 2 failures in a row, relist in"), "log");
		CHECK(!strcmp(req_param(&t.fake, "watch", 2, "resourceVersion"), "200"), "rv");
		CHECK(tc_stats(&t).relists == 1, "relists");
	}
	tc_end(&t);
}

static void test_list_page_fails(void)
{
	struct tcase t;

	test_begin("kube_client_list_failing_midway_restarts");
	tc_init(&t);
	add_list(&t, "100", "p2", "a");
	add_resp(t.fake.lists, 500, status_body(500, "InternalError", "boom"), 0, "ok");
	add_list(&t, "110", "p2", "a");
	add_list(&t, "120", NULL, "b");
	if (!tc_start(&t)) {
		CHECK(wait_for(&t, (struct want){ .list_ends = 1 }), "no list");
		CHECK(trace_is("BEGIN;L a;BEGIN;L a;L b;END 110;"), "trace");
		CHECK(!strcmp(req_param(&t.fake, "list", 2, "resourceVersion"), ""),
		      "retried list is a consistent read");
		CHECK(strstr(rec.logs, "watch services: HTTP 500: boom (list, retry in"), "log");
	}
	tc_end(&t);
}

static void stop_case(const char *name, bool in_backoff)
{
	struct tcase t;
	uint64_t t0;

	test_begin(name);
	tc_init(&t);
	t.opts.backoff_initial_ms = t.opts.backoff_max_ms = 20000;
	if (in_backoff)
		add_resp(t.fake.lists, 401, status_body(401, "Unauthorized", "Unauthorized"),
			 0, "ok");
	else
		add_list(&t, "100", NULL, "a");
	if (!tc_start(&t)) {
		if (in_backoff)
			CHECK(wait_for(&t, (struct want){ .log_has = "HTTP 401: Unauthorized" }),
			      "no 401");
		else
			CHECK(wait_for(&t, (struct want){ .watch_reqs = 1 }), "no watch");
		msleep(50);
		t0 = now_ms();
		kube_watch_stop(t.watch);
		t.watch = NULL;
		CHECK(now_ms() - t0 < 1000, "stop took %llu ms",
		      (unsigned long long)(now_ms() - t0));
	}
	tc_end(&t);
}

static void test_refused(void)
{
	struct tcase t;
	char err[256];

	test_begin("kube_client_connection_refused_retries");
	tc_init(&t);
	/* Find a free port, then close it so nothing listens there. */
	if (!fake_start(&t.fake)) {
		t.opts.master = strdupa(t.fake.url);
		fake_stop(&t.fake);
		t.conn = kube_conn_new(&t.opts, err, sizeof(err));
		t.watch = t.conn ? kube_watch_start(t.conn, &t.spec, err, sizeof(err)) : NULL;
		if (CHECK(t.watch, "start: %s", err)) {
			CHECK(wait_for(&t, (struct want){ .log_has = "(list, retry in" }), "no log");
			CHECK(strstr(rec.logs, "watch services: ") &&
			      strstr(rec.logs, "onnect"), "log names the failure:\n%s", rec.logs);
			CHECK(tc_stats(&t).errors[KUBE_ERR_NETWORK] >= 1, "count");
			CHECK(!tc_stats(&t).synced, "not synced");
		}
	}
	tc_end(&t);
}

static void test_get_and_token(void)
{
	char kc[64] = "/tmp/xlb-kc-XXXXXX", path[128], err[256];
	struct kube_conn *c = NULL;
	struct fake f;
	cJSON *out = NULL, *reqs;
	long status = 0;
	FILE *fp;

	test_begin("kube_client_get_helper_and_token_rotation");
	rec_reset();
	fake_init(&f);
	add_resp(f.lists, 200, "{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}", 0, "ok");
	add_resp(f.lists, 404, status_body(404, "NotFound", "nodes \\\"x\\\" not found"), 0, "ok");
	if (!CHECK(mkdtemp(kc) && !fake_start(&f), "setup"))
		goto out;
	snprintf(path, sizeof(path), "%s/token", kc);
	fp = fopen(path, "w");
	fputs("tok-1\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/config", kc);
	fp = fopen(path, "w");
	fprintf(fp, "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
		"clusters:\n- name: k\n  cluster: {server: '%s'}\n"
		"users:\n- name: u\n  user: {tokenFile: token}\n", f.url);
	fclose(fp);
	c = kube_conn_new(&(struct kube_conn_opts){ .kubeconfig = path, .log = on_log },
			  err, sizeof(err));
	if (!CHECK(c, "conn: %s", err))
		goto out;
	CHECK(!kube_get(c, "/api/v1/nodes/n1", &out, &status, err, sizeof(err)) &&
	      status == 200 && !strcmp(obj_name(out), "n1"), "get: %s", err);
	cJSON_Delete(out);
	snprintf(path, sizeof(path), "%s/token.new", kc);
	fp = fopen(path, "w");
	fputs("tok-2-rotated\n", fp);
	fclose(fp);
	snprintf(err, sizeof(err), "%s/token", kc);
	rename(path, err);
	CHECK(kube_get(c, "/api/v1/nodes/x", &out, &status, err, sizeof(err)) == -1 &&
	      status == 404 && !out, "404 status %ld", status);
	CHECK(!strcmp(err, "GET /api/v1/nodes/x: HTTP 404: nodes \"x\" not found"), "err: %s", err);
	reqs = fake_requests(&f, "list");
	CHECK(cJSON_GetArraySize(reqs) == 2 &&
	      !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "auth")->valuestring,
		      "Bearer tok-1") &&
	      !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 1), "auth")->valuestring,
		      "Bearer tok-2-rotated"), "auth headers");
	cJSON_Delete(reqs);
out:
	kube_conn_free(c);
	fake_stop(&f);
	snprintf(path, sizeof(path), "%s/token", kc);
	unlink(path);
	snprintf(path, sizeof(path), "%s/config", kc);
	unlink(path);
	rmdir(kc);
	test_end();
}

static char *b64_file(const char *path)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char in[8192];
	char *out;
	size_t n, o = 0;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return NULL;
	n = fread(in, 1, sizeof(in), fp);
	fclose(fp);
	out = malloc(n / 3 * 4 + 5);
	for (size_t i = 0; i < n; i += 3) {
		unsigned int v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
				 (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tbl[v >> 18];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* GET through a connection made from kubeconfig text (or --master alone when
 * text is NULL); returns kube_get's result, err filled. */
static int tls_get(const char *dir, const char *url, const char *text, char *err)
{
	struct kube_conn_opts o = { .master = text ? NULL : url, .log = on_log };
	char path[128];
	struct kube_conn *c;
	cJSON *out = NULL;
	FILE *fp;
	int ret;

	snprintf(path, sizeof(path), "%s/config", dir);
	if (text) {
		fp = fopen(path, "w");
		fputs(text, fp);
		fclose(fp);
		o.kubeconfig = path;
	}
	c = kube_conn_new(&o, err, 256);
	ret = c ? kube_get(c, "/api/v1/namespaces/default", &out, NULL, err, 256) : -1;
	cJSON_Delete(out);
	kube_conn_free(c);
	unlink(path);
	return ret;
}

static const char *last_client_cn(struct fake *f)
{
	static char cn[64];
	cJSON *r = fake_requests(f, "list");
	cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(r, cJSON_GetArraySize(r) - 1),
				       "client_cn");

	snprintf(cn, sizeof(cn), "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(r);
	return cn;
}

static void test_tls(void)
{
	char dir[64] = "/tmp/xlb-tls-XXXXXX", cmd[512], err[256], cert[128] = "";
	char *ca64 = NULL, *key64 = NULL, *kc = NULL;
	struct fake f;

	test_begin("kube_client_tls_verify_ca_data_client_cert_insecure");
	rec_reset();
	fake_init(&f);
	add_resp(f.lists, 200, "{\"kind\":\"Namespace\"}", 0, "ok");
	if (!mkdtemp(dir))
		goto out;
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -keyout %s/key.pem -out %s/cert.pem "
		 "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 ">/dev/null 2>&1", dir, dir);
	if (system(cmd)) {
		test_skip(test_case_name, "openssl cannot make a test certificate");
		goto cleanup;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	ca64 = b64_file(cert);
	snprintf(cmd, sizeof(cmd), "%s/key.pem", dir);
	key64 = b64_file(cmd);
	f.tls_dir = dir;
	if (!CHECK(ca64 && key64 && !fake_start(&f), "setup"))
		goto out;
	/* No CA given: the self-signed server must be refused. */
	CHECK(tls_get(dir, f.url, NULL, err) == -1 && strstr(err, "GET /api/v1/namespaces/default: ") &&
	      strstr(err, "certificate"), "unverified server accepted: %s", err);
	/* CA and client certificate inline: verified both ways. */
	sb_add(&kc, "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	       "clusters:\n- name: k\n  cluster:\n    server: %s\n"
	       "    certificate-authority-data: %s\n"
	       "users:\n- name: u\n  user:\n    client-certificate-data: %s\n"
	       "    client-key-data: %s\n", f.url, ca64, ca64, key64);
	CHECK(!tls_get(dir, f.url, kc, err), "CA data: %s", err);
	CHECK(!strcmp(last_client_cn(&f), "127.0.0.1"), "client cert not presented");
	free(kc);
	kc = NULL;
	/* CA as a file, no client certificate. */
	sb_add(&kc, "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
	       "clusters:\n- name: k\n  cluster: {server: '%s', certificate-authority: '%s'}\n",
	       f.url, cert);
	CHECK(!tls_get(dir, f.url, kc, err), "CA file: %s", err);
	CHECK(!strcmp(last_client_cn(&f), ""), "no client cert expected");
	free(kc);
	kc = NULL;
	/* insecure-skip-tls-verify only because the file says so. */
	sb_add(&kc, "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
	       "clusters:\n- name: k\n  cluster: {server: '%s', insecure-skip-tls-verify: true}\n",
	       f.url);
	CHECK(!tls_get(dir, f.url, kc, err), "insecure: %s", err);
	CHECK(fake_count(&f, "list") == 3, "requests %d", fake_count(&f, "list"));
out:
	test_end();
cleanup:
	fake_stop(&f);
	free(kc);
	free(ca64);
	free(key64);
	snprintf(cmd, sizeof(cmd), "%s/key.pem", dir);
	unlink(cmd);
	unlink(cert);
	rmdir(dir);
}

static void test_bad_spec(void)
{
	struct kube_conn *c;
	struct kube_watch_spec s = { .name = "x", .path = "api/v1/x" };
	char err[256];

	test_begin("kube_client_rejects_bad_spec");
	c = kube_conn_new(&(struct kube_conn_opts){ .master = "http://127.0.0.1:9" },
			  err, sizeof(err));
	if (CHECK(c, "conn: %s", err)) {
		CHECK(!kube_watch_start(c, &s, err, sizeof(err)) && strstr(err, "watch x: "),
		      "bad path: %s", err);
		kube_conn_free(c);
	}
	CHECK(!kube_conn_new(&(struct kube_conn_opts){ .master = "127.0.0.1" }, err,
			     sizeof(err)) && strstr(err, "must start with"), "bad master: %s", err);
	test_end();
}

static int find_fake(const char *argv0)
{
	char exe[4096];
	ssize_t n;

	if (!access(FAKE_REL, R_OK)) {
		snprintf(fake_path, sizeof(fake_path), "%s", FAKE_REL);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* build/selftests/unit/NAME -> the source tree root */
	snprintf(fake_path, sizeof(fake_path), "%s/../../../%s", dirname(exe), FAKE_REL);
	return access(fake_path, R_OK);
}

int main(int argc, char **argv)
{
	if (find_fake(argv[0])) {
		test_skip("kube_client", "selftests/lib/fake_apiserver.py not found");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	test_paginated_list();
	watch_events_case("kube_client_watch_events", 0);
	watch_events_case("kube_client_events_split_in_1_byte_chunks", 1);
	watch_events_case("kube_client_events_split_in_7_byte_chunks", 7);
	test_bookmark();
	test_normal_end_rewatch();
	relist_case("kube_client_error_event_410_relists", true);
	relist_case("kube_client_http_410_relists", false);
	test_5xx_backoff();
	test_forbidden();
	test_cut_mid_event();
	test_oversize();
	test_bad_event();
	test_relist_after_failures();
	test_list_page_fails();
	stop_case("kube_client_stop_is_prompt_during_watch", false);
	stop_case("kube_client_stop_is_prompt_during_backoff", true);
	test_refused();
	test_get_and_token();
	test_tls();
	test_bad_spec();
	rec_reset();
	free(rec.trace);
	free(rec.logs);
	return test_exit_status();
}
