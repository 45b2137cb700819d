// SPDX-License-Identifier: GPL-2.0
/* LIST + WATCH client, one thread per resource; see kube_client.h. */
#define _GNU_SOURCE
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "kube_client.h"
#include "kubeconfig.h"
#include "watch_buf.h"

#define MAX_LIST_PAGES 100000
/* A watch that ends this fast with no event is a failure, not a timeout. */
#define SHORT_WATCH_MS 1000
/* The server ends a watch at timeoutSeconds; the client gives up a bit later
 * so that a silently dead connection is noticed. */
#define WATCH_TIMEOUT_SLACK_S 30
#define MAX_RV_LEN 1024
#define MSG_MAX 600

struct kube_conn {
	struct kube_config cfg;
	struct kube_conn_opts o;	/* defaults filled in; no strings kept */
	char *user_agent;
};

/* A response body collected in memory, up to max bytes. */
struct body {
	char *data;
	size_t len, cap, max;
	bool truncated;
};

enum step {
	STEP_OK,
	STEP_STOP,
	STEP_RELIST,
	STEP_RETRY,
	STEP_RETRY_SLOW,
};

struct kube_watch {
	struct kube_conn *conn;
	struct kube_watch_spec spec;	/* name/path point to copies below */
	char *name, *path;
	char *selectors;	/* "labelSelector=..&fieldSelector=..&" or "" */
	pthread_t thread;
	CURLM *multi;

	pthread_mutex_t lock;	/* stop and stats */
	pthread_cond_t cond;	/* signalled on stop */
	bool stop;
	struct kube_watch_stats stats;

	/* Below: used by the resource's thread only. */
	struct watch_buf wb;
	struct body body;
	CURL *easy;		/* the transfer in progress */
	long status;		/* its HTTP status, 0 before headers */
	char curl_err[CURL_ERROR_SIZE];
	enum step abort_step;	/* set when a write callback ends the transfer */
	unsigned int stream_events;
	bool stream_open;	/* the watch got 200 and counted */
	char *rv;		/* last resourceVersion seen */
	const char *op;		/* "list" or "watch", for logs */
	char msg[MSG_MAX];	/* why the last step failed */
	uint64_t rng;
	unsigned int backoff_ms, failures, expired_streak, list_attempts;
	uint64_t last_fail_ms;
};

static const char *const err_kind_names[KUBE_ERR__COUNT] = {
	[KUBE_ERR_NETWORK] = "network",
	[KUBE_ERR_HTTP_5XX] = "http_5xx",
	[KUBE_ERR_HTTP_AUTH] = "http_auth",
	[KUBE_ERR_HTTP_OTHER] = "http_other",
	[KUBE_ERR_EXPIRED] = "expired",
	[KUBE_ERR_WATCH_EVENT] = "watch_error",
	[KUBE_ERR_DECODE] = "decode",
	[KUBE_ERR_OVERSIZE] = "oversize",
};

static const char *const event_names[] = {
	[KUBE_ADDED] = "ADDED",
	[KUBE_MODIFIED] = "MODIFIED",
	[KUBE_DELETED] = "DELETED",
};

const char *kube_err_kind_name(enum kube_err_kind kind)
{
	return kind < KUBE_ERR__COUNT ? err_kind_names[kind] : "unknown";
}

const char *kube_event_name(enum kube_event type)
{
	return type <= KUBE_DELETED ? event_names[type] : "UNKNOWN";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4)))
static void klog(struct kube_conn *c, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->o.log)
		c->o.log(c->o.log_ctx, level, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

/* Server text goes into one log line: no control characters. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = ' ';
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- bodies ---- */

static int body_append(struct body *b, const char *p, size_t n)
{
	size_t cap = b->cap ? b->cap : 16384;
	char *d;

	if (n > b->max - b->len) {
		b->truncated = true;
		return -1;
	}
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap != b->cap) {
		d = realloc(b->data, cap);
		if (!d) {
			b->truncated = true;
			return -1;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void body_reset(struct body *b)
{
	b->len = 0;
	b->truncated = false;
	if (b->data)
		b->data[0] = '\0';
}

static size_t on_body_data(char *p, size_t size, size_t n, void *ud)
{
	return body_append(ud, p, size * n) ? 0 : size * n;
}

/* The message of a Status body, or the start of whatever else came. */
static void status_message(const struct body *b, char *out, size_t len)
{
	cJSON *st = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
	const char *m = json_str(st, "message");

	if (m && *m)
		snprintf(out, len, "%s", m);
	else if (b->len)
		snprintf(out, len, "%.200s", b->data);
	else
		snprintf(out, len, "(empty body)");
	sanitize(out);
	cJSON_Delete(st);
}

/* ---- connection ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

#define OPT_DEFAULT(field, value) \
	do { if (!c->o.field) c->o.field = (value); } while (0)

struct kube_conn *kube_conn_new(const struct kube_conn_opts *opts,
				char *err, size_t errlen)
{
	struct kube_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "kube client: out of memory");
		return NULL;
	}
	pthread_once(&curl_once, curl_init_once);
	if (kube_config_load(&c->cfg, opts->kubeconfig, opts->master, opts->sa_dir,
			     err, errlen)) {
		free(c);
		return NULL;
	}
	c->o = *opts;
	c->o.kubeconfig = c->o.master = c->o.sa_dir = c->o.user_agent = NULL;
	c->user_agent = strdup(opts->user_agent ? opts->user_agent : "xlb");
	OPT_DEFAULT(max_event_bytes, WATCH_BUF_DEFAULT_MAX);
	OPT_DEFAULT(max_body_bytes, 256u << 20);
	OPT_DEFAULT(page_size, 500);
	OPT_DEFAULT(watch_timeout_min_s, 300);
	OPT_DEFAULT(watch_timeout_max_s, 2 * c->o.watch_timeout_min_s);
	OPT_DEFAULT(backoff_initial_ms, 200);
	OPT_DEFAULT(backoff_max_ms, 30000);
	OPT_DEFAULT(backoff_reset_ms, 60000);
	OPT_DEFAULT(relist_after_failures, 5);
	OPT_DEFAULT(connect_timeout_ms, 10000);
	OPT_DEFAULT(request_timeout_s, 60);
	if (c->o.watch_timeout_max_s < c->o.watch_timeout_min_s)
		c->o.watch_timeout_max_s = c->o.watch_timeout_min_s;
	if (c->o.backoff_max_ms < c->o.backoff_initial_ms)
		c->o.backoff_max_ms = c->o.backoff_initial_ms;
	if (!c->user_agent) {
		kube_conn_free(c);
		snprintf(err, errlen, "kube client: out of memory");
		return NULL;
	}
	return c;
}

void kube_conn_free(struct kube_conn *c)
{
	if (!c)
		return;
	kube_config_free(&c->cfg);
	free(c->user_agent);
	free(c);
}

const char *kube_conn_server(const struct kube_conn *c)
{
	return c->cfg.server;
}

static CURLcode set_blob(CURL *e, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob = {
		.data = b->data, .len = b->len, .flags = CURL_BLOB_COPY,
	};

	return curl_easy_setopt(e, opt, &blob);
}

/* Server verification and client certificate, blobs taking precedence. */
static CURLcode set_tls(struct kube_conn *c, CURL *e)
{
	const struct kube_config *k = &c->cfg;
	CURLcode r = CURLE_OK;

	if (k->ca_data.data)
		r = set_blob(e, CURLOPT_CAINFO_BLOB, &k->ca_data);
	else if (k->ca_file)
		r = curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
	if (!r && k->insecure) {
		r = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		r = r ?: curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!r && k->cert_data.data)
		r = set_blob(e, CURLOPT_SSLCERT_BLOB, &k->cert_data);
	else if (!r && k->cert_file)
		r = curl_easy_setopt(e, CURLOPT_SSLCERT, k->cert_file);
	if (!r && k->key_data.data)
		r = set_blob(e, CURLOPT_SSLKEY_BLOB, &k->key_data);
	else if (!r && k->key_file)
		r = curl_easy_setopt(e, CURLOPT_SSLKEY, k->key_file);
	return r;
}

/* An easy handle for GET url with auth, TLS and timeouts set; *hdrs must be
 * freed after the transfer. The token file is re-read here if it changed. */
static CURL *new_easy(struct kube_conn *c, const char *url, long timeout_s,
		      struct curl_slist **hdrs, char *errbuf)
{
	char terr[300], *token = NULL, *auth = NULL;
	struct curl_slist *h, *more = NULL;
	CURL *e;

	if (kube_config_token(&c->cfg, &token, terr, sizeof(terr)))
		klog(c, LOG_WARNING, "%s: %s%s", c->cfg.source, terr,
		     token ? " (using the previous token)" : "");
	h = curl_slist_append(NULL, "Accept: application/json");
	if (h && token) {
		if (asprintf(&auth, "Authorization: Bearer %s", token) >= 0)
			more = curl_slist_append(h, auth);
		else
			auth = NULL;
		if (!more)
			curl_slist_free_all(h);
		h = more;
		free(auth);
	}
	free(token);
	*hdrs = h;
	e = h ? curl_easy_init() : NULL;
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	if (set_tls(c, e)) {
		klog(c, LOG_ERR, "%s: libcurl rejected the TLS settings", c->cfg.source);
		curl_easy_cleanup(e);
		return NULL;
	}
	return e;
}

int kube_get(struct kube_conn *c, const char *path, cJSON **out, long *status,
	     char *err, size_t errlen)
{
	struct body b = { .max = c->o.max_body_bytes };
	char errbuf[CURL_ERROR_SIZE], msg[300], *url = NULL;
	struct curl_slist *hdrs = NULL;
	long code = 0;
	CURLcode res = CURLE_OUT_OF_MEMORY;
	CURL *e = NULL;
	int ret = -1;

	*out = NULL;
	if (asprintf(&url, "%s%s", c->cfg.server, path) >= 0)
		e = new_easy(c, url, c->o.request_timeout_s, &hdrs, errbuf);
	if (e) {
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body_data);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
		res = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	}
	if (res != CURLE_OK) {
		snprintf(err, errlen, "GET %s: %s", path,
			 e && errbuf[0] ? errbuf : curl_easy_strerror(res));
	} else if (code < 200 || code > 299) {
		status_message(&b, msg, sizeof(msg));
		snprintf(err, errlen, "GET %s: HTTP %ld: %s", path, code, msg);
	} else if (!(*out = cJSON_ParseWithLength(b.data ? b.data : "", b.len))) {
		snprintf(err, errlen, "GET %s: response is not JSON", path);
	} else {
		ret = 0;
	}
	if (status)
		*status = code;
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	free(url);
	free(b.data);
	return ret;
}

/* ---- per-resource state ---- */

static bool stopping(struct kube_watch *w)
{
	bool stop;

	pthread_mutex_lock(&w->lock);
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static void stat_inc(struct kube_watch *w, uint64_t *field)
{
	pthread_mutex_lock(&w->lock);
	(*field)++;
	pthread_mutex_unlock(&w->lock);
}

void kube_watch_get_stats(struct kube_watch *w, struct kube_watch_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}

/* Records why a step failed (logged by the main loop with what happens next)
 * and counts it. Returns step. */
__attribute__((format(printf, 4, 5)))
static enum step failed(struct kube_watch *w, enum kube_err_kind kind,
			enum step step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	sanitize(w->msg);
	stat_inc(w, &w->stats.errors[kind]);
	return step;
}

static uint32_t rnd(struct kube_watch *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return (x * 0x2545F4914F6CDD1DULL) >> 32;
}

/* Exponential backoff with "equal jitter": the delay is in [cur/2, cur], so
 * it never shrinks while cur doubles, and it never exceeds the cap. A slow
 * retry (auth errors) waits about the cap. */
static unsigned int next_delay(struct kube_watch *w, bool slow)
{
	const struct kube_conn_opts *o = &w->conn->o;
	uint64_t now = now_ms();
	unsigned int base;

	if (w->backoff_ms && now - w->last_fail_ms >= o->backoff_reset_ms)
		w->backoff_ms = 0;
	w->last_fail_ms = now;
	if (!w->backoff_ms)
		w->backoff_ms = o->backoff_initial_ms;
	else if (w->backoff_ms < o->backoff_max_ms / 2)
		w->backoff_ms *= 2;
	else
		w->backoff_ms = o->backoff_max_ms;
	base = slow ? o->backoff_max_ms : w->backoff_ms;
	return base - rnd(w) % (base / 2 + 1);
}

static void sleep_interruptible(struct kube_watch *w, unsigned int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&w->lock);
}

static void set_rv(struct kube_watch *w, const char *rv)
{
	char *copy;

	if (!rv || !*rv || strlen(rv) > MAX_RV_LEN)
		return;
	copy = strdup(rv);
	if (!copy)
		return;
	free(w->rv);
	w->rv = copy;
}

/* ---- transfers ---- */

/* Runs the easy handle on the watch's multi handle until it is done or the
 * watch is stopped (kube_watch_stop wakes the poll). */
static CURLcode run_transfer(struct kube_watch *w, CURL *e)
{
	CURLcode res = CURLE_ABORTED_BY_CALLBACK;
	CURLMcode mc;
	int running = 1, left;
	CURLMsg *m;

	if (curl_multi_add_handle(w->multi, e))
		return CURLE_FAILED_INIT;
	do {
		mc = curl_multi_perform(w->multi, &running);
		if (!mc && running)
			mc = curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	} while (!mc && running && !stopping(w));
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == e)
			res = m->data.result;
	if (mc) {
		snprintf(w->curl_err, sizeof(w->curl_err), "%s", curl_multi_strerror(mc));
		res = CURLE_FAILED_INIT;
	}
	curl_multi_remove_handle(w->multi, e);
	return res;
}

static CURLcode fetch(struct kube_watch *w, const char *url,
		      curl_write_callback cb, long timeout_s)
{
	struct curl_slist *hdrs = NULL;
	CURLcode res;

	w->status = 0;
	w->abort_step = STEP_OK;
	body_reset(&w->body);
	w->easy = new_easy(w->conn, url, timeout_s, &hdrs, w->curl_err);
	if (!w->easy) {
		curl_slist_free_all(hdrs);
		snprintf(w->curl_err, sizeof(w->curl_err), "cannot set up the request");
		return CURLE_FAILED_INIT;
	}
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, cb);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	res = run_transfer(w, w->easy);
	if (!w->status)
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
	if (res != CURLE_OK && !w->curl_err[0])
		snprintf(w->curl_err, sizeof(w->curl_err), "%s", curl_easy_strerror(res));
	curl_easy_cleanup(w->easy);
	curl_slist_free_all(hdrs);
	w->easy = NULL;
	return res;
}

static enum step http_failure(struct kube_watch *w)
{
	char msg[300];
	long s = w->status;

	status_message(&w->body, msg, sizeof(msg));
	if (s == 410)
		return failed(w, KUBE_ERR_EXPIRED, STEP_RELIST, "HTTP 410: %s", msg);
	if (s == 401 || s == 403)
		return failed(w, KUBE_ERR_HTTP_AUTH, STEP_RETRY_SLOW, "HTTP %ld: %s", s, msg);
	if (s >= 500)
		return failed(w, KUBE_ERR_HTTP_5XX, STEP_RETRY, "HTTP %ld: %s", s, msg);
	/* 429 is transient; other 4xx (404: API not served) need a slow retry. */
	return failed(w, KUBE_ERR_HTTP_OTHER, s == 429 ? STEP_RETRY : STEP_RETRY_SLOW,
		      "HTTP %ld: %s", s, msg);
}

/* What a finished transfer means when it did not plainly succeed. */
static enum step classify(struct kube_watch *w, CURLcode res)
{
	size_t pending = watch_buf_pending(&w->wb);

	if (w->abort_step != STEP_OK)
		return w->abort_step;
	if (w->status && w->status != 200)
		return http_failure(w);
	if (res == CURLE_OK)
		return STEP_OK;
	if (pending)
		return failed(w, KUBE_ERR_NETWORK, STEP_RETRY,
			      "%s; %zu bytes of a partial event discarded",
			      w->curl_err, pending);
	return failed(w, KUBE_ERR_NETWORK, STEP_RETRY, "%s", w->curl_err);
}

/* ---- LIST ---- */

static char *list_url(struct kube_watch *w, const char *cont)
{
	char *url = NULL, *esc = cont ? curl_easy_escape(NULL, cont, 0) : NULL;
	/* The first LIST may come from the watch cache (resourceVersion=0), as
	 * client-go does; later ones are consistent reads. A continue token
	 * carries its own version. */
	const char *rv = !cont && !w->list_attempts ? "&resourceVersion=0" : "";

	if (cont && !esc)
		return NULL;
	if (asprintf(&url, "%s%s?%slimit=%u%s%s%s", w->conn->cfg.server, w->path,
		     w->selectors, w->conn->o.page_size, cont ? "&continue=" : "",
		     cont ? esc : "", rv) < 0)
		url = NULL;
	curl_free(esc);
	return url;
}

struct list_state {
	char *cont;		/* continue token for the next page */
	char *rv;		/* resourceVersion of the first page */
	unsigned int objects;
};

static enum step deliver_page(struct kube_watch *w, struct list_state *ls)
{
	cJSON *root = cJSON_ParseWithLength(w->body.data, w->body.len);
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
	const char *rv = json_str(meta, "resourceVersion");
	const char *cont = json_str(meta, "continue");
	enum step step = STEP_OK;
	cJSON *item;

	if (!cJSON_IsObject(meta) || !(cJSON_IsArray(items) || cJSON_IsNull(items) || !items) ||
	    (!ls->rv && (!rv || !*rv))) {
		step = failed(w, KUBE_ERR_DECODE, STEP_RETRY,
			      "response is not a list with metadata.resourceVersion: %.100s",
			      w->body.data);
		goto out;
	}
	if (!ls->rv) {
		ls->rv = strdup(rv);
		w->spec.on_list_begin(w->spec.user);
	}
	cJSON_ArrayForEach(item, items) {
		if (stopping(w)) {
			step = STEP_STOP;
			goto out;
		}
		w->spec.on_object(w->spec.user, item);
		ls->objects++;
	}
	free(ls->cont);
	ls->cont = cont && *cont ? strdup(cont) : NULL;
	stat_inc(w, &w->stats.list_pages);
out:
	cJSON_Delete(root);
	return step;
}

static size_t on_list_data(char *p, size_t size, size_t n, void *ud)
{
	struct kube_watch *w = ud;

	return on_body_data(p, size, n, &w->body);
}

static enum step list_page(struct kube_watch *w, struct list_state *ls)
{
	char *url = list_url(w, ls->cont);
	CURLcode res;
	enum step step;

	if (!url)
		return failed(w, KUBE_ERR_NETWORK, STEP_RETRY, "out of memory");
	res = fetch(w, url, on_list_data, w->conn->o.request_timeout_s);
	free(url);
	if (stopping(w))
		return STEP_STOP;
	if (w->status == 200 && w->body.truncated)
		return failed(w, KUBE_ERR_OVERSIZE, STEP_RETRY_SLOW,
			      "list page larger than %zu bytes", w->body.max);
	step = classify(w, res);
	return step == STEP_OK ? deliver_page(w, ls) : step;
}

static enum step list_all(struct kube_watch *w)
{
	struct list_state ls = { 0 };
	enum step step = STEP_OK;
	unsigned int page;

	w->op = "list";
	for (page = 0; page < MAX_LIST_PAGES && step == STEP_OK; page++) {
		step = list_page(w, &ls);
		if (!ls.cont)
			break;
	}
	w->list_attempts++;
	if (step == STEP_OK && ls.cont)
		step = failed(w, KUBE_ERR_DECODE, STEP_RETRY_SLOW,
			      "list did not end after %u pages", MAX_LIST_PAGES);
	if (step == STEP_OK && !ls.rv)
		step = failed(w, KUBE_ERR_NETWORK, STEP_RETRY, "out of memory");
	if (step == STEP_OK) {
		w->spec.on_list_end(w->spec.user, ls.rv);
		free(w->rv);
		w->rv = ls.rv;
		ls.rv = NULL;
		pthread_mutex_lock(&w->lock);
		w->stats.lists++;
		w->stats.relists += w->stats.synced;
		w->stats.synced = true;
		pthread_mutex_unlock(&w->lock);
		klog(w->conn, LOG_INFO, "watch %s: listed %u objects at resourceVersion %s",
		     w->name, ls.objects, w->rv);
	}
	free(ls.cont);
	free(ls.rv);
	return step;
}

/* ---- WATCH ---- */

static int error_event(struct kube_watch *w, cJSON *status)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
	const char *reason = json_str(status, "reason");
	const char *msg = json_str(status, "message");
	long c = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
	bool expired = c == 410 || (reason && (!strcmp(reason, "Expired") ||
					       !strcmp(reason, "Gone")));

	w->abort_step = failed(w, expired ? KUBE_ERR_EXPIRED : KUBE_ERR_WATCH_EVENT,
			       expired ? STEP_RELIST : STEP_RETRY,
			       "ERROR event: %ld %s: %s", c, reason ? reason : "",
			       msg ? msg : "(no message)");
	return -ECANCELED;
}

static int handle_event(struct kube_watch *w, const char *type, cJSON *obj)
{
	const char *rv = json_str(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
				  "resourceVersion");
	enum kube_event t;

	if (!strcmp(type, "ERROR"))
		return error_event(w, obj);
	w->stream_events++;
	/* Progress: expiry or failures before this were not a streak. */
	w->expired_streak = 0;
	w->failures = 0;
	if (!strcmp(type, "BOOKMARK")) {
		set_rv(w, rv);
		stat_inc(w, &w->stats.bookmarks);
		return 0;
	}
	for (t = KUBE_ADDED; t <= KUBE_DELETED; t++) {
		if (strcmp(type, event_names[t]))
			continue;
		w->spec.on_event(w->spec.user, t, obj);
		set_rv(w, rv);
		stat_inc(w, &w->stats.events);
		return 0;
	}
	klog(w->conn, LOG_WARNING, "watch %s: ignoring event of unknown type \"%.40s\"",
	     w->name, type);
	stat_inc(w, &w->stats.errors[KUBE_ERR_DECODE]);
	return 0;
}

static int on_event_line(void *ctx, char *line, size_t len)
{
	struct kube_watch *w = ctx;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	const char *type = json_str(ev, "type");
	int ret;

	if (!type || !cJSON_IsObject(obj)) {
		w->abort_step = failed(w, KUBE_ERR_DECODE, STEP_RETRY,
				       "bad watch event (%s): %.100s",
				       ev ? "no type or object" : "not JSON", line);
		ret = -EPROTO;
	} else {
		ret = handle_event(w, type, obj);
	}
	cJSON_Delete(ev);
	return ret;
}

static size_t on_watch_data(char *p, size_t size, size_t n, void *ud)
{
	struct kube_watch *w = ud;
	size_t len = size * n;
	int err;

	if (!w->status) {
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
		w->stream_open = w->status == 200;
		if (w->stream_open)
			stat_inc(w, &w->stats.watches);
	}
	if (w->status != 200) {
		/* Keep the start of an error body for its message. */
		body_append(&w->body, p, len);
		return len;
	}
	if (stopping(w))
		return 0;
	err = watch_buf_feed(&w->wb, p, len, on_event_line, w);
	if (err == -EMSGSIZE)
		w->abort_step = failed(w, KUBE_ERR_OVERSIZE, STEP_RETRY,
				       "event larger than %zu bytes, dropping the stream",
				       w->wb.max);
	else if (err && w->abort_step == STEP_OK)
		w->abort_step = failed(w, KUBE_ERR_NETWORK, STEP_RETRY,
				       "out of memory reading the stream");
	return err ? 0 : len;
}

static char *watch_url(struct kube_watch *w)
{
	const struct kube_conn_opts *o = &w->conn->o;
	unsigned int timeout = o->watch_timeout_min_s +
		rnd(w) % (o->watch_timeout_max_s - o->watch_timeout_min_s + 1);
	char *url = NULL, *esc = curl_easy_escape(NULL, w->rv, 0);

	if (esc && asprintf(&url, "%s%s?%sallowWatchBookmarks=true&resourceVersion=%s"
			    "&timeoutSeconds=%u&watch=true", w->conn->cfg.server,
			    w->path, w->selectors, esc, timeout) < 0)
		url = NULL;
	curl_free(esc);
	return url;
}

static enum step watch_once(struct kube_watch *w)
{
	const struct kube_conn_opts *o = &w->conn->o;
	uint64_t start = now_ms();
	char *url = watch_url(w);
	enum step step;
	CURLcode res;

	w->op = "watch";
	if (!url)
		return failed(w, KUBE_ERR_NETWORK, STEP_RETRY, "out of memory");
	watch_buf_reset(&w->wb);
	w->stream_events = 0;
	w->stream_open = false;
	res = fetch(w, url, on_watch_data,
		    o->watch_timeout_max_s + WATCH_TIMEOUT_SLACK_S);
	free(url);
	if (stopping(w))
		return STEP_STOP;
	if (w->status == 200 && !w->stream_open)
		stat_inc(w, &w->stats.watches);	/* a stream with no data at all */
	step = classify(w, res);
	if (step != STEP_OK)
		return step;
	if (watch_buf_pending(&w->wb))
		return failed(w, KUBE_ERR_NETWORK, STEP_RETRY,
			      "stream ended mid-event; %zu bytes of a partial event discarded",
			      watch_buf_pending(&w->wb));
	if (!w->stream_events && now_ms() - start < SHORT_WATCH_MS)
		return failed(w, KUBE_ERR_NETWORK, STEP_RETRY,
			      "watch ended at once with no events");
	return STEP_OK;
}

/* ---- the resource's thread ---- */

/* Decides and logs what follows a failed step, then waits for it. */
static void recover(struct kube_watch *w, enum step step, bool *need_list)
{
	const struct kube_conn_opts *o = &w->conn->o;
	bool was_listing = *need_list;
	unsigned int delay = 0;
	char why[64] = "";

	if (step == STEP_RELIST) {
		/* Relist at once, unless expiry repeats with no progress between. */
		if (w->expired_streak++)
			delay = next_delay(w, false);
		*need_list = true;
	} else {
		delay = next_delay(w, step == STEP_RETRY_SLOW);
		if (!*need_list && ++w->failures >= o->relist_after_failures) {
			snprintf(why, sizeof(why), "%u failures in a row, ", w->failures);
			w->failures = 0;
			*need_list = true;
		}
	}
	pthread_mutex_lock(&w->lock);
	w->stats.last_retry_ms = delay;
	pthread_mutex_unlock(&w->lock);
	klog(w->conn, LOG_WARNING, "watch %s: %s (%s, %s%s in %u ms)", w->name, w->msg,
	     w->op, why, was_listing || !*need_list ? "retry" : "relist", delay);
	sleep_interruptible(w, delay);
}

static void *watch_main(void *arg)
{
	struct kube_watch *w = arg;
	bool need_list = true, fresh = false;
	enum step step;

	while (!stopping(w)) {
		if (need_list) {
			step = list_all(w);
			need_list = step != STEP_OK;
			fresh = true;
		} else {
			if (!fresh)
				stat_inc(w, &w->stats.watch_restarts);
			fresh = false;
			step = watch_once(w);
		}
		if (step == STEP_OK)
			continue;
		if (step == STEP_STOP)
			break;
		recover(w, step, &need_list);
	}
	return NULL;
}

/* "labelSelector=<esc>&fieldSelector=<esc>&", or "" when there are none. */
static char *build_selectors(const struct kube_watch_spec *s)
{
	char *l = s->label_selector ? curl_easy_escape(NULL, s->label_selector, 0) : NULL;
	char *f = s->field_selector ? curl_easy_escape(NULL, s->field_selector, 0) : NULL;
	char *out = NULL;

	if ((!s->label_selector || l) && (!s->field_selector || f) &&
	    asprintf(&out, "%s%s%s%s%s%s", l ? "labelSelector=" : "", l ? l : "",
		     l ? "&" : "", f ? "fieldSelector=" : "", f ? f : "",
		     f ? "&" : "") < 0)
		out = NULL;
	curl_free(l);
	curl_free(f);
	return out;
}

static void watch_free(struct kube_watch *w)
{
	if (w->multi)
		curl_multi_cleanup(w->multi);
	watch_buf_free(&w->wb);
	free(w->body.data);
	free(w->name);
	free(w->path);
	free(w->selectors);
	free(w->rv);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

struct kube_watch *kube_watch_start(struct kube_conn *c,
				    const struct kube_watch_spec *spec,
				    char *err, size_t errlen)
{
	const char *name = spec->name ? spec->name : "?";
	pthread_condattr_t ca;
	struct kube_watch *w;
	struct timespec ts;
	int rc;

	if (!spec->name || !spec->path || spec->path[0] != '/' || strchr(spec->path, '?') ||
	    !spec->on_list_begin || !spec->on_object || !spec->on_list_end ||
	    !spec->on_event) {
		snprintf(err, errlen, "watch %s: needs a name, a path starting with '/' "
			 "without a query, and all four callbacks", name);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "watch %s: out of memory", name);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->conn = c;
	w->spec = *spec;
	w->name = strdup(spec->name);
	w->path = strdup(spec->path);
	w->selectors = build_selectors(spec);
	w->multi = curl_multi_init();
	w->spec.name = w->name;
	w->spec.path = w->path;
	w->spec.label_selector = w->spec.field_selector = NULL;
	w->body.max = c->o.max_body_bytes;
	watch_buf_init(&w->wb, c->o.max_event_bytes);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uintptr_t)w ^ (uint64_t)ts.tv_sec;
	w->rng |= 1;
	if (!w->name || !w->path || !w->selectors || !w->multi) {
		snprintf(err, errlen, "watch %s: out of memory", name);
		goto fail;
	}
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	if (rc) {
		snprintf(err, errlen, "watch %s: cannot start a thread: %s", name,
			 strerror(rc));
		goto fail;
	}
	return w;
fail:
	watch_free(w);
	return NULL;
}

void kube_watch_stop(struct kube_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	watch_free(w);
}
