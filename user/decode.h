/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cJSON -> kube_types.h. Each object is validated on its own: a fatally bad
 * one is rejected with a short machine reason (a Prometheus label value) and
 * a message naming the object and the field; invalid entries of lists that
 * kube-proxy itself skips (externalIPs, ingress IPs, source ranges,
 * endpoint addresses, node addresses) are skipped and counted instead. */
#ifndef XLB_DECODE_H
#define XLB_DECODE_H

#include <cjson/cJSON.h>

#include "kube_types.h"

/* Rejection reasons (the strings are stable: metric label values). */
#define DECODE_INVALID_IP	"invalid_ip"
#define DECODE_INVALID_PORT	"invalid_port"
#define DECODE_INVALID_PROTO	"invalid_protocol"
#define DECODE_INVALID_VALUE	"invalid_value"	/* unknown enum value */
#define DECODE_DUPLICATE_PORT	"duplicate_port"
#define DECODE_MISSING_FIELD	"missing_field"
#define DECODE_WRONG_TYPE	"wrong_type"
#define DECODE_WRONG_KIND	"wrong_kind"	/* "kind" names another type */
#define DECODE_TOO_LARGE	"too_large"
#define DECODE_NO_MEMORY	"no_memory"

struct decode_err {
	const char *reason;	/* NULL when the object was accepted */
	char msg[256];		/* "Service ns/name: spec.ports[0].port: ..." */
	unsigned int skipped;	/* invalid list entries skipped (accepted objects too) */
	char skip_msg[256];	/* the first skipped entry, for a log line */
};

/* Each returns 0 and sets *out (free it with the matching kube_*_free), or
 * -EINVAL / -ENOMEM with *out NULL and err->reason set. err is always
 * filled in; obj may be any JSON value (or NULL). */
int decode_service(const cJSON *obj, struct kube_service **out, struct decode_err *err);
int decode_slice(const cJSON *obj, struct kube_slice **out, struct decode_err *err);
int decode_node(const cJSON *obj, struct kube_node **out, struct decode_err *err);

void kube_service_free(struct kube_service *svc);
void kube_slice_free(struct kube_slice *slice);
void kube_node_free(struct kube_node *node);

/* Endpoint i (< slice->n_endpoints) of the slice. */
void kube_slice_endpoint(const struct kube_slice *slice, size_t i, struct kube_endpoint *out);

/* RFC 3339 time ("2022-09-12T22:10:24Z", optional fraction and offset) to
 * Unix nanoseconds; -EINVAL when malformed. */
int decode_rfc3339(const char *s, int64_t *ns);

#endif
