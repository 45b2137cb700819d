/* healthCheckNodePort servers: one HTTP listener per LoadBalancer Service
 * with externalTrafficPolicy: Local, telling cloud load balancers whether
 * this node has a local ready endpoint (kube-proxy's service health
 * server). */
#ifndef XLB_HEALTHCHECK_H
#define XLB_HEALTHCHECK_H

#include <stddef.h>

#include "http.h"

struct hc_service {
	const char *namespace;
	const char *name;
	int port;		/* healthCheckNodePort; 0 lets the kernel pick */
	int local_endpoints;	/* ready endpoints on this node */
};

struct hc_server;

/* addrs: IP literals to listen on, for each Service; NULL means all node
 * addresses ("0.0.0.0" and "::", the latter skipped on a kernel without
 * IPv6). h gives serviceProxyHealthy and must outlive the server. Returns
 * NULL with err set on a bad address or ENOMEM. */
struct hc_server *hc_server_new(struct health *h, const char *const *addrs,
				size_t naddrs, char *err, size_t errlen);
/* Closes every listener. */
void hc_server_free(struct hc_server *s);

/* Makes svcs the served set: listeners of Services no longer listed (or
 * whose port changed) are closed, new ones opened, and counts of the others
 * updated in place. A Service that cannot be served (port in use, bad or
 * duplicate entry) gets an error in err ("healthcheck ns/name: listen
 * 0.0.0.0:30000: Address already in use", several joined by "; ") and is
 * retried by the next call; the others are not affected. Returns the
 * number of such Services (0: all served). */
int hc_server_reconcile(struct hc_server *s, const struct hc_service *svcs,
			size_t n, char *err, size_t errlen);

/* The port the Service's listener is bound to, or -ENOENT if not served. */
int hc_server_port(struct hc_server *s, const char *namespace,
		   const char *name);

#endif
