/* Kubernetes API client: LIST + WATCH of one resource per thread.
 *
 * For each resource (a collection path such as /api/v1/services, with optional
 * label and field selectors) a thread does a paginated LIST, hands every item
 * to the consumer, then WATCHes from the list's resourceVersion and hands over
 * each ADDED/MODIFIED/DELETED object. It never decodes objects itself: the
 * consumer gets each object's cJSON.
 *
 * Recovery, all inside the thread:
 *  - a watch that ends normally (server timeout) is re-opened from the last
 *    resourceVersion seen (events and BOOKMARKs move it);
 *  - 410 Gone/Expired (HTTP status or ERROR event) -> relist;
 *  - network errors, a cut stream, 5xx, 429, bad JSON, an oversized event ->
 *    reconnect after a jittered exponential backoff; after
 *    relist_after_failures consecutive failures, relist;
 *  - 401/403 and other 4xx -> retry at the backoff cap (slowly).
 * Each error is logged once, naming the resource and carrying the server's
 * message: "watch services: HTTP 403: <Status.message> (list, retry in N ms)".
 *
 * THREADING: callbacks run on the resource's own thread; a consumer that
 * shares state between resources (or with other threads) must lock.
 */
#ifndef XLB_KUBE_CLIENT_H
#define XLB_KUBE_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kube_event {
	KUBE_ADDED,
	KUBE_MODIFIED,
	KUBE_DELETED,
};

/* Error kinds counted per resource (metric label values: kube_err_kind_name). */
enum kube_err_kind {
	KUBE_ERR_NETWORK,	/* connect/transfer error, stream cut mid-event */
	KUBE_ERR_HTTP_5XX,
	KUBE_ERR_HTTP_AUTH,	/* 401, 403 */
	KUBE_ERR_HTTP_OTHER,	/* any other unexpected status (404, 429, ...) */
	KUBE_ERR_EXPIRED,	/* 410: resourceVersion too old, relisted */
	KUBE_ERR_WATCH_EVENT,	/* an ERROR event other than expiry */
	KUBE_ERR_DECODE,	/* a body or event that is not the JSON expected */
	KUBE_ERR_OVERSIZE,	/* an event longer than max_event_bytes */
	KUBE_ERR__COUNT
};

struct kube_watch_stats {
	uint64_t lists;		/* complete LISTs (all pages) */
	uint64_t relists;	/* complete LISTs after the first */
	uint64_t list_pages;
	uint64_t watches;	/* WATCH requests answered with 200 */
	uint64_t watch_restarts; /* WATCHes re-opened without a relist */
	uint64_t events;	/* ADDED/MODIFIED/DELETED handed over */
	uint64_t bookmarks;
	uint64_t errors[KUBE_ERR__COUNT];
	uint64_t last_retry_ms;	/* the last backoff delay chosen */
	bool synced;		/* a LIST has completed */
};

/* Zero means the default for every number. */
struct kube_conn_opts {
	const char *kubeconfig;		/* --kubeconfig */
	const char *master;		/* --master */
	const char *sa_dir;		/* in-cluster secrets; NULL: KUBE_SA_DIR */
	const char *user_agent;		/* NULL: "xlb" */
	size_t max_event_bytes;		/* longest watch event; 16 MiB */
	size_t max_body_bytes;		/* largest LIST page / GET body; 256 MiB */
	unsigned int page_size;		/* LIST limit; 500 */
	unsigned int watch_timeout_min_s; /* timeoutSeconds drawn from [min, max]; */
	unsigned int watch_timeout_max_s; /* 300..600 */
	unsigned int backoff_initial_ms; /* 200 */
	unsigned int backoff_max_ms;	/* 30000 */
	unsigned int backoff_reset_ms;	/* no failure for this long: start over; 60000 */
	unsigned int relist_after_failures; /* consecutive watch failures; 5 */
	unsigned int connect_timeout_ms; /* 10000 */
	unsigned int request_timeout_s;	/* a LIST page or GET; 60 */
	/* level is a syslog LOG_* value; NULL logs to stderr. */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

struct kube_watch_spec {
	const char *name;		/* for logs and metrics: "services" */
	const char *path;		/* collection path, "/api/v1/services" */
	const char *label_selector;	/* NULL or unescaped selector */
	const char *field_selector;	/* NULL or unescaped selector */
	/* A LIST starts. The consumer builds a new cache until on_list_end and
	 * then replaces the old one. A LIST that fails midway is restarted with
	 * another on_list_begin and no on_list_end: drop what was collected. */
	void (*on_list_begin)(void *user);
	void (*on_object)(void *user, cJSON *obj);	/* one LIST item */
	void (*on_list_end)(void *user, const char *resource_version);
	void (*on_event)(void *user, enum kube_event type, cJSON *obj);
	void *user;
};
/* Objects passed to callbacks are borrowed: valid only during the call (use
 * cJSON_Duplicate to keep one). LIST items carry no kind/apiVersion. */

struct kube_conn;
struct kube_watch;

/* Resolves the configuration (see kubeconfig.h). NULL with err on failure. */
struct kube_conn *kube_conn_new(const struct kube_conn_opts *opts,
				char *err, size_t errlen);
/* Only after every watch on it has been stopped. */
void kube_conn_free(struct kube_conn *c);
/* The API server base URL in use. */
const char *kube_conn_server(const struct kube_conn *c);

/* Starts the resource's thread. spec is copied. NULL with err on failure. */
struct kube_watch *kube_watch_start(struct kube_conn *c,
				    const struct kube_watch_spec *spec,
				    char *err, size_t errlen);
/* Interrupts any request or backoff wait at once, joins the thread, frees. */
void kube_watch_stop(struct kube_watch *w);
/* A consistent snapshot of the counters; callable from any thread. */
void kube_watch_get_stats(struct kube_watch *w, struct kube_watch_stats *out);

const char *kube_err_kind_name(enum kube_err_kind kind);
const char *kube_event_name(enum kube_event type);

/* One synchronous GET of path (which may carry a query). On 2xx returns 0 and
 * the parsed body in *out (caller frees). Otherwise returns -1 with err like
 * "GET /api/v1/nodes/x: HTTP 404: nodes \"x\" not found"; *out is NULL. status
 * may be NULL; it gets the HTTP status, 0 when there was none. */
int kube_get(struct kube_conn *c, const char *path, cJSON **out, long *status,
	     char *err, size_t errlen);

#endif
