/* HTTP endpoints of the agent (libmicrohttpd): the metrics server
 * (--metrics-bind-address: /metrics, /healthz) and the proxy health server
 * (--healthz-bind-address: /healthz, /livez), plus the proxy health state
 * both /healthz and the healthCheckNodePorts answer from.
 *
 * Functions returning int return 0 or a negative errno and, where they take
 * err/errlen, leave a message with context there. */
#ifndef XLB_HTTP_H
#define XLB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"

/* ---- proxy health state ------------------------------------------------ */

#define TO_BE_DELETED_TAINT "ToBeDeletedByClusterAutoscaler"

/* Thread-safe. Times are wall-clock seconds since the epoch (health_now()),
 * 0 meaning never. */
struct health;

/* timeout_s: how long a queued update may wait for a sync (2 x the sync
 * period) before the proxy counts as unhealthy. The Node counts as eligible
 * until health_set_node_eligible() says otherwise. */
struct health *health_new(double timeout_s);
void health_free(struct health *h);
double health_now(void);

/* A sync of these IPF_* families finished: nothing is pending for them. */
void health_updated(struct health *h, unsigned families, double now);
/* A change for these families awaits a sync; the oldest pending one counts. */
void health_queued(struct health *h, unsigned families, double now);
void health_set_node_eligible(struct health *h, bool eligible);
/* kube-proxy's rule: a Node is eligible unless it is being deleted or
 * carries the ToBeDeletedByClusterAutoscaler taint. */
bool health_node_eligible(bool deleting, const char *const *taint_keys,
			  size_t ntaints);

/* The proxy's own health (ignoring the Node): false once a queued update
 * of any family has waited timeout_s or more at time now. */
bool health_proxy_healthy(struct health *h, double now);

/* The /healthz (healthz true) or /livez answer at time now: sets *code to
 * 200 or 503 and returns the JSON body (malloc'd), or NULL on ENOMEM:
 * {"lastUpdated":..,"currentTime":..,"nodeEligible":..(healthz only),
 *  "healthy":..,"status":{"IPv4":{"lastUpdated":..,"healthy":..},..}}
 * with RFC 3339 UTC times; a healthy answer reports lastUpdated = now, as
 * kube-proxy does. */
char *health_json(struct health *h, bool healthz, double now, int *code);

/* ---- servers ----------------------------------------------------------- */

/* Parses an IP literal with an optional port: "127.0.0.1:10249",
 * "[::1]:10256", "0.0.0.0" (default_port then). Port 0 asks the kernel for
 * one. Returns -EINVAL with a message for anything else. */
int http_parse_addr(const char *addr, int default_port,
		    struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		    size_t errlen);

/* A listening TCP socket on sa (IPv6 sockets are v6-only so 0.0.0.0 and ::
 * can share a port). Returns the fd or -errno. */
int http_listen(const struct sockaddr *sa, socklen_t salen, char *err,
		size_t errlen);

/* What a handler answers; the server frees body. */
struct http_reply {
	int status;
	const char *content_type;
	char *body;		/* malloc'd, may be NULL for an empty body */
	size_t len;
	bool nosniff;		/* X-Content-Type-Options: nosniff */
	const char *header_name;	/* one extra header, optional */
	char header_value[32];
};
typedef void (*http_handler_fn)(void *arg, const char *url,
				struct http_reply *reply);

struct http_server;

/* Serves fd (a listening socket, owned by the server from now on, even on
 * failure) with fn on a thread of its own. */
struct http_server *http_serve(int fd, http_handler_fn fn, void *arg,
			       char *err, size_t errlen);
/* The port actually bound (useful after asking for port 0). */
int http_server_port(const struct http_server *s);
/* Stops serving, waits for handlers in flight, closes the socket. */
void http_server_stop(struct http_server *s);

/* Both starters set *out to NULL and return 0 when bind is "" or "0"
 * (disabled); otherwise the server, or -errno with err set. */
/* --metrics-bind-address: /metrics (reg), and /healthz answering "ok". */
int metrics_server_start(struct http_server **out, const char *bind,
			 struct metrics *reg, char *err, size_t errlen);
/* --healthz-bind-address: /healthz and /livez from h; each answer is counted
 * in xm (may be NULL). */
int health_server_start(struct http_server **out, const char *bind,
			struct health *h, struct xlb_metrics *xm, char *err,
			size_t errlen);

#endif
