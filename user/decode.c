// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Decoding of Services, EndpointSlices and Nodes; see decode.h. Every field
 * access goes through one of the get_* helpers, which turn an absent or null
 * field into "absent", a field of the wrong JSON type into "wrong_type" and
 * an oversized string or array into "too_large", so no input can crash. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xlb_abi.h"
#include "decode.h"

#define LABEL_SERVICE_NAME	"kubernetes.io/service-name"
#define LABEL_PROXY_NAME	"service.kubernetes.io/service-proxy-name"
#define LABEL_HEADLESS		"service.kubernetes.io/headless"
#define LABEL_ZONE		"topology.kubernetes.io/zone"
#define ANNOT_TRIGGER_TIME	"endpoints.kubernetes.io/last-change-trigger-time"
#define TAINT_TO_BE_DELETED	"ToBeDeletedByClusterAutoscaler"

#define PATH_MAX_LEN 96

/* Decoding context: where error messages come from. */
struct dctx {
	struct decode_err *err;
	const char *kind;
	const char *ns;
	const char *name;
};

static void vformat(struct dctx *c, char *buf, size_t len, const char *path,
		    const char *fmt, va_list ap)
{
	int n;

	n = snprintf(buf, len, "%s %s%s%s: %s: ", c->kind, c->ns ? c->ns : "",
		     c->ns && *c->ns ? "/" : "", c->name ? c->name : "?", path);
	if (n < 0 || (size_t)n >= len)
		return;
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
}

static int fail(struct dctx *c, const char *reason, const char *path,
		const char *fmt, ...)
{
	va_list ap;

	c->err->reason = reason;
	va_start(ap, fmt);
	vformat(c, c->err->msg, sizeof(c->err->msg), path, fmt, ap);
	va_end(ap);
	return strcmp(reason, DECODE_NO_MEMORY) ? -EINVAL : -ENOMEM;
}

static void skip(struct dctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!c->err->skipped++) {
		va_start(ap, fmt);
		vformat(c, c->err->skip_msg, sizeof(c->err->skip_msg), path, fmt, ap);
		va_end(ap);
	}
}

static int no_memory(struct dctx *c, const char *path)
{
	return fail(c, DECODE_NO_MEMORY, path, "out of memory");
}

/* Field lookup: absent and JSON null both give NULL. Keys are matched
 * case-sensitively, as the API server does. */
static const cJSON *field(const cJSON *obj, const char *key)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(f) ? NULL : f;
}

static int get_object(struct dctx *c, const cJSON *obj, const char *key,
		      const char *path, bool required, const cJSON **out)
{
	const cJSON *f = field(obj, key);

	*out = NULL;
	if (!f)
		return required ? fail(c, DECODE_MISSING_FIELD, path, "required") : 0;
	if (!cJSON_IsObject(f))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	*out = f;
	return 0;
}

/* A string borrowed from the JSON tree; *out NULL when absent. */
static int get_string(struct dctx *c, const cJSON *obj, const char *key,
		      const char *path, bool required, const char **out)
{
	const cJSON *f = field(obj, key);

	*out = NULL;
	if (!f)
		return required ? fail(c, DECODE_MISSING_FIELD, path, "required") : 0;
	if (!cJSON_IsString(f))
		return fail(c, DECODE_WRONG_TYPE, path, "not a string");
	if (strlen(f->valuestring) > KUBE_MAX_STRLEN)
		return fail(c, DECODE_TOO_LARGE, path, "string longer than %d",
			    KUBE_MAX_STRLEN);
	*out = f->valuestring;
	return 0;
}

/* ---- shared strings ----------------------------------------------------
 * Node names repeat in every endpoint and port names in every object: each
 * distinct string is kept once, with a reference count. Watch threads
 * decode concurrently, hence the lock.
 *
 * Each also has an id, by which packed endpoints name their node (4 bytes
 * instead of a pointer's 8, for a million endpoints). Ids index pages that
 * never move, so shared_by_id() reads without the lock: an id reaches a
 * reader through an object published under the store's lock, after its
 * page and entry were written. */

struct shared_str {
	struct shared_str *next;
	uint64_t hash;
	size_t refs;
	__u32 id;
	char s[];
};

#define SHARED_PAGE	1024
#define SHARED_MAX_IDS	(1u << 20)	/* distinct node and port names */

static struct {
	pthread_mutex_t lock;
	struct shared_str **buckets;
	size_t n_buckets;	/* 0 or a power of two */
	size_t n;
	struct shared_str **pages[SHARED_MAX_IDS / SHARED_PAGE];	/* by id */
	__u32 next_id;		/* ids below are in use or in free_ids */
	__u32 *free_ids;
	size_t n_free, cap_free;
} shared = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1 };

static const char *shared_by_id(__u32 id)
{
	return id ? shared.pages[id / SHARED_PAGE][id % SHARED_PAGE]->s : NULL;
}

static __u32 shared_id(const char *s)
{
	return s ? ((const struct shared_str *)(s - offsetof(struct shared_str, s)))->id : 0;
}

/* Under the lock: a new id, with its page, and room to free it later
 * (a release never fails); 0 when out of ids or memory. */
static __u32 shared_new_id(void)
{
	size_t cap = shared.cap_free ? 2 * shared.cap_free : 64;
	struct shared_str ***page;
	__u32 *grown;

	if (shared.next_id == SHARED_MAX_IDS)
		return 0;
	page = &shared.pages[shared.next_id / SHARED_PAGE];
	if (shared.next_id > shared.cap_free) {
		grown = realloc(shared.free_ids, cap * sizeof(*grown));
		if (!grown)
			return 0;
		shared.free_ids = grown;
		shared.cap_free = cap;
	}
	if (!*page && !(*page = calloc(SHARED_PAGE, sizeof(**page))))
		return 0;
	return shared.next_id++;
}

/* Under the lock: e's id and its entry; false when out of ids or memory. */
static bool shared_assign_id(struct shared_str *e)
{
	__u32 id = shared.n_free ? shared.free_ids[--shared.n_free] : shared_new_id();

	if (!id)
		return false;
	e->id = id;
	shared.pages[id / SHARED_PAGE][id % SHARED_PAGE] = e;
	return true;
}

/* Under the lock: e's id back to the free ones (shared_new_id made room). */
static void shared_release_id(const struct shared_str *e)
{
	shared.pages[e->id / SHARED_PAGE][e->id % SHARED_PAGE] = NULL;
	shared.free_ids[shared.n_free++] = e->id;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* Doubling keeps chains short; a failed grow just leaves them longer. */
static void shared_grow(void)
{
	size_t i, nb = shared.n_buckets ? 2 * shared.n_buckets : 64;
	struct shared_str **b = calloc(nb, sizeof(*b)), *e, *next;

	if (!b)
		return;
	for (i = 0; i < shared.n_buckets; i++) {
		for (e = shared.buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(shared.buckets);
	shared.buckets = b;
	shared.n_buckets = nb;
}

static struct shared_str **shared_slot(const char *s, uint64_t h)
{
	struct shared_str **pp = &shared.buckets[h & (shared.n_buckets - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->s, s)))
		pp = &(*pp)->next;
	return pp;
}

/* The shared copy of s (one more reference), or NULL when out of memory. */
static const char *shared_get(const char *s)
{
	uint64_t h = hash_str(s);
	struct shared_str **pp, *e = NULL;
	size_t len = strlen(s);

	pthread_mutex_lock(&shared.lock);
	if (shared.n >= shared.n_buckets)
		shared_grow();
	if (shared.n_buckets) {
		pp = shared_slot(s, h);
		e = *pp;
		if (!e && (e = malloc(sizeof(*e) + len + 1))) {
			memcpy(e->s, s, len + 1);
			e->hash = h;
			e->refs = 0;
			e->next = NULL;
			if (shared_assign_id(e)) {
				*pp = e;
				shared.n++;
			} else {
				free(e);
				e = NULL;
			}
		}
		if (e)
			e->refs++;
	}
	pthread_mutex_unlock(&shared.lock);
	return e ? e->s : NULL;
}

/* Drops a reference taken by shared_get; NULL is ignored. */
static void shared_put(const char *s)
{
	struct shared_str *e, **pp;

	if (!s)
		return;
	e = (struct shared_str *)(s - offsetof(struct shared_str, s));
	pthread_mutex_lock(&shared.lock);
	if (!--e->refs) {
		pp = shared_slot(s, e->hash);
		*pp = e->next;
		shared.n--;
		shared_release_id(e);
		free(e);
	}
	pthread_mutex_unlock(&shared.lock);
}

/* A string field as a shared copy; *out NULL when absent. */
static int get_shared(struct dctx *c, const cJSON *obj, const char *key,
		      const char *path, bool required, const char **out)
{
	const char *s;
	int err;

	*out = NULL;
	err = get_string(c, obj, key, path, required, &s);
	if (err || !s)
		return err;
	*out = shared_get(s);
	return *out ? 0 : no_memory(c, path);
}

/* An integer; *present false when absent. cJSON keeps numbers as doubles,
 * so a fraction or a value beyond int64 is a wrong type, not a wrap. */
static int get_int(struct dctx *c, const cJSON *obj, const char *key,
		   const char *path, bool *present, long long *out)
{
	const cJSON *f = field(obj, key);
	double v;

	*present = false;
	*out = 0;
	if (!f)
		return 0;
	v = cJSON_GetNumberValue(f);
	/* Range first: converting an out-of-range double is undefined. */
	if (!cJSON_IsNumber(f) || !(v >= -9.0e18 && v <= 9.0e18) || v != (double)(long long)v)
		return fail(c, DECODE_WRONG_TYPE, path, "not an integer");
	*present = true;
	*out = (long long)v;
	return 0;
}

static int get_bool(struct dctx *c, const cJSON *obj, const char *key,
		    const char *path, bool dflt, bool *out)
{
	const cJSON *f = field(obj, key);

	*out = dflt;
	if (!f)
		return 0;
	if (!cJSON_IsBool(f))
		return fail(c, DECODE_WRONG_TYPE, path, "not a boolean");
	*out = cJSON_IsTrue(f);
	return 0;
}

/* An array of at most max elements; *n 0 when absent. */
static int get_array(struct dctx *c, const cJSON *obj, const char *key,
		     const char *path, int max, const cJSON **out, int *n)
{
	const cJSON *f = field(obj, key);

	*out = NULL;
	*n = 0;
	if (!f)
		return 0;
	if (!cJSON_IsArray(f))
		return fail(c, DECODE_WRONG_TYPE, path, "not an array");
	*n = cJSON_GetArraySize(f);
	if (*n > max)
		return fail(c, DECODE_TOO_LARGE, path, "%d entries, at most %d", *n, max);
	*out = f;
	return 0;
}

/* An array whose elements must all be strings. */
static int get_string_array(struct dctx *c, const cJSON *obj, const char *key,
			    const char *path, int max, const cJSON **out, int *n)
{
	const cJSON *e;
	int err, i = 0;

	err = get_array(c, obj, key, path, max, out, n);
	if (err || !*out)
		return err;
	cJSON_ArrayForEach(e, *out) {
		if (!cJSON_IsString(e))
			return fail(c, DECODE_WRONG_TYPE, path, "entry %d is not a string", i);
		if (strlen(e->valuestring) > KUBE_MAX_STRLEN)
			return fail(c, DECODE_TOO_LARGE, path, "entry %d too long", i);
		i++;
	}
	return 0;
}

static int check_kind(struct dctx *c, const cJSON *obj)
{
	const char *kind;
	int err;

	if (!cJSON_IsObject(obj))
		return fail(c, DECODE_WRONG_TYPE, "(object)", "not a JSON object");
	err = get_string(c, obj, "kind", "kind", false, &kind);
	if (err)
		return err;
	/* List items carry no kind; a kind that names another type is an
	 * object fed to the wrong decoder (e.g. a Status in a watch stream). */
	if (kind && strcmp(kind, c->kind))
		return fail(c, DECODE_WRONG_KIND, "kind", "is \"%.64s\"", kind);
	return 0;
}

/* "ns/name" then "ns" and "rv" in one allocation (see struct kube_meta). */
static int meta_pack(struct dctx *c, struct kube_meta *m, const char *ns, const char *name,
		     const char *rv)
{
	size_t ln = strlen(ns), lm = strlen(name), lr = strlen(rv);
	char *b = malloc(2 * ln + lm + lr + 4);

	if (!b)
		return no_memory(c, "metadata");
	sprintf(b, "%s/%s", ns, name);
	memcpy(b + ln + lm + 2, ns, ln + 1);
	memcpy(b + 2 * ln + lm + 3, rv, lr + 1);
	m->key = b;
	m->name = b + ln + 1;
	m->ns = b + ln + lm + 2;
	m->resource_version = b + 2 * ln + lm + 3;
	return 0;
}

/* metadata.{namespace,name,resourceVersion}; returns the metadata. */
static int decode_meta(struct dctx *c, const cJSON *obj, bool namespaced,
		       struct kube_meta *m, const cJSON **meta)
{
	const char *ns = "", *name, *rv;
	int err;

	err = get_object(c, obj, "metadata", "metadata", true, meta);
	if (!err)
		err = get_string(c, *meta, "name", "metadata.name", true, &name);
	if (!err && !*name)
		err = fail(c, DECODE_MISSING_FIELD, "metadata.name", "empty");
	if (!err && strlen(name) > KUBE_MAX_NAME)
		err = fail(c, DECODE_TOO_LARGE, "metadata.name", "longer than %d", KUBE_MAX_NAME);
	if (err)
		return err;
	c->name = name;
	if (namespaced) {
		err = get_string(c, *meta, "namespace", "metadata.namespace", true, &ns);
		if (!err && !*ns)
			err = fail(c, DECODE_MISSING_FIELD, "metadata.namespace", "empty");
		if (!err && strlen(ns) > KUBE_MAX_NAMESPACE)
			err = fail(c, DECODE_TOO_LARGE, "metadata.namespace", "longer than %d",
				   KUBE_MAX_NAMESPACE);
		if (err)
			return err;
		c->ns = ns;
	}
	err = get_string(c, *meta, "resourceVersion", "metadata.resourceVersion", false, &rv);
	return err ? err : meta_pack(c, m, ns, name, rv ? rv : "");
}

/* metadata.labels / annotations: a map of strings. *out NULL when absent. */
static int get_string_map(struct dctx *c, const cJSON *meta, const char *key,
			  const char *path, const cJSON **out)
{
	const cJSON *e;
	int err;

	err = get_object(c, meta, key, path, false, out);
	if (err || !*out)
		return err;
	cJSON_ArrayForEach(e, *out) {
		if (!cJSON_IsString(e))
			return fail(c, DECODE_WRONG_TYPE, path, "value of \"%.64s\" is not a string",
				    e->string);
	}
	return 0;
}

static void kube_meta_free(struct kube_meta *m)
{
	free(m->key);
}

/* A decoded Service or slice moves into one block: the struct, then its
 * arrays and strings (a large cluster holds a few hundred thousand of them
 * and every separate allocation costs its malloc overhead). Arrays with
 * pointers go first, so they stay aligned after the struct. */
static size_t meta_len(const struct kube_meta *m)
{
	return m->resource_version + strlen(m->resource_version) + 1 - m->key;
}

/* Copies len bytes of src to *at (NULL when empty) and advances *at. */
static void *pack(char **at, const void *src, size_t len)
{
	void *dst = len ? *at : NULL;

	if (len)
		memcpy(dst, src, len);
	*at += len;
	return dst;
}

static void meta_pack_into(struct kube_meta *dst, const struct kube_meta *src, char **at)
{
	char *key = pack(at, src->key, meta_len(src));

	dst->key = key;
	dst->ns = key + (src->ns - src->key);
	dst->name = key + (src->name - src->key);
	dst->resource_version = key + (src->resource_version - src->key);
}

static int parse_protocol(struct dctx *c, const cJSON *obj, const char *path, __u8 *proto)
{
	const char *s;
	int err;

	err = get_string(c, obj, "protocol", path, false, &s);
	if (err)
		return err;
	if (!s || !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return fail(c, DECODE_INVALID_PROTO, path, "\"%.32s\" is not TCP, UDP or SCTP", s);
	return 0;
}

/* A port number field: absent -> 0 (unless required), 1..65535, or 0 when
 * zero_ok. */
static int parse_port(struct dctx *c, const cJSON *obj, const char *key,
		      const char *path, bool required, bool zero_ok, __u16 *port)
{
	bool present;
	long long v;
	int err;

	*port = 0;
	err = get_int(c, obj, key, path, &present, &v);
	if (err)
		return err;
	if (!present)
		return required ? fail(c, DECODE_MISSING_FIELD, path, "required") : 0;
	if (v < 0 || v > 65535 || (v == 0 && !zero_ok))
		return fail(c, DECODE_INVALID_PORT, path, "%lld out of range", v);
	*port = (__u16)v;
	return 0;
}

/* Choose one of several enum strings: index into names, or dflt when the
 * field is absent or "". */
static int parse_enum(struct dctx *c, const cJSON *obj, const char *key,
		      const char *path, const char *const *names, int n, int dflt,
		      int *out)
{
	const char *s;
	int err, i;

	*out = dflt;
	err = get_string(c, obj, key, path, false, &s);
	if (err || !s || !*s)
		return err;
	for (i = 0; i < n; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	return fail(c, DECODE_INVALID_VALUE, path, "unknown value \"%.32s\"", s);
}

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- Service ---------------------------------------------------------- */

static int decode_svc_type(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	static const char *const names[] = {
		[KUBE_SVC_CLUSTER_IP] = "ClusterIP",
		[KUBE_SVC_NODE_PORT] = "NodePort",
		[KUBE_SVC_LOAD_BALANCER] = "LoadBalancer",
		[KUBE_SVC_EXTERNAL_NAME] = "ExternalName",
	};
	int v, err;

	err = parse_enum(c, spec, "type", "spec.type", names, ARRAY_LEN(names),
			 KUBE_SVC_CLUSTER_IP, &v);
	svc->type = (enum kube_svc_type)v;
	return err;
}

static int family_of(const char *s)
{
	if (!strcmp(s, "IPv4"))
		return XLB_FAM_V4;
	if (!strcmp(s, "IPv6"))
		return XLB_FAM_V6;
	return 0;
}

/* clusterIP, clusterIPs[] and ipFamilies[]: clusterIPs[i] belongs to
 * ipFamilies[i]; without clusterIPs, clusterIP stands alone. A bad address
 * here is fatal: it is the Service's identity, and the API server never
 * stores one. */
static int decode_cluster_ips(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	const cJSON *ips, *fams;
	const char *cip, *first;
	int n_ips, n_fams, i, err;
	char path[PATH_MAX_LEN];

	err = get_string(c, spec, "clusterIP", "spec.clusterIP", false, &cip);
	if (!err)
		err = get_string_array(c, spec, "clusterIPs", "spec.clusterIPs", 2, &ips, &n_ips);
	if (!err)
		err = get_string_array(c, spec, "ipFamilies", "spec.ipFamilies", 2, &fams, &n_fams);
	if (err)
		return err;
	for (i = 0; i < n_fams; i++) {
		const char *f = cJSON_GetArrayItem(fams, i)->valuestring;

		if (!family_of(f))
			return fail(c, DECODE_INVALID_VALUE, "spec.ipFamilies",
				    "unknown family \"%.32s\"", f);
	}
	first = n_ips ? cJSON_GetArrayItem(ips, 0)->valuestring : cip;
	if (!first || !*first || !strcmp(first, "None")) {
		svc->headless = true;
		return 0;
	}
	for (i = 0; i < (n_ips ? n_ips : 1); i++) {
		const char *s = n_ips ? cJSON_GetArrayItem(ips, i)->valuestring : cip;
		struct xlb_ip *ip = &svc->cluster_ips[svc->n_cluster_ips];
		size_t j;

		snprintf(path, sizeof(path), n_ips ? "spec.clusterIPs[%d]" : "spec.clusterIP", i);
		if (xlb_ip_parse(s, ip))
			return fail(c, DECODE_INVALID_IP, path, "\"%.64s\" is not an IP address", s);
		if (i < n_fams && family_of(cJSON_GetArrayItem(fams, i)->valuestring) != ip->family)
			return fail(c, DECODE_INVALID_IP, path, "\"%.64s\" does not match ipFamilies[%d]",
				    s, i);
		for (j = 0; j < svc->n_cluster_ips; j++) {
			if (svc->cluster_ips[j].family == ip->family)
				return fail(c, DECODE_INVALID_IP, path, "second IPv%d address", ip->family);
		}
		svc->n_cluster_ips++;
	}
	return 0;
}

static int decode_svc_port(struct dctx *c, const cJSON *p, int i, struct kube_svc_port *out)
{
	char path[PATH_MAX_LEN];
	int err;

	snprintf(path, sizeof(path), "spec.ports[%d]", i);
	if (!cJSON_IsObject(p))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	snprintf(path, sizeof(path), "spec.ports[%d].protocol", i);
	err = parse_protocol(c, p, path, &out->proto);
	if (err)
		return err;
	snprintf(path, sizeof(path), "spec.ports[%d].port", i);
	err = parse_port(c, p, "port", path, true, false, &out->port);
	if (err)
		return err;
	snprintf(path, sizeof(path), "spec.ports[%d].nodePort", i);
	err = parse_port(c, p, "nodePort", path, false, true, &out->node_port);
	if (err)
		return err;
	snprintf(path, sizeof(path), "spec.ports[%d].name", i);
	err = get_shared(c, p, "name", path, false, &out->name);
	if (!err && !out->name && !(out->name = shared_get("")))
		err = no_memory(c, path);
	return err;
}

/* The API server refuses two ports with one name, or one port number and
 * protocol twice; either would make the (name, protocol) key ambiguous. */
static int check_svc_port_unique(struct dctx *c, const struct kube_service *svc, size_t i)
{
	const struct kube_svc_port *p = &svc->ports[i];
	char path[PATH_MAX_LEN];
	size_t j;

	for (j = 0; j < i; j++) {
		const struct kube_svc_port *q = &svc->ports[j];

		if (strcmp(p->name, q->name) && (p->port != q->port || p->proto != q->proto))
			continue;
		snprintf(path, sizeof(path), "spec.ports[%zu]", i);
		return fail(c, DECODE_DUPLICATE_PORT, path, "same name or port as spec.ports[%zu]", j);
	}
	return 0;
}

static int decode_svc_ports(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	const cJSON *ports, *p;
	int n, err;

	err = get_array(c, spec, "ports", "spec.ports", KUBE_MAX_PORTS, &ports, &n);
	if (err || !n)
		return err;
	svc->ports = calloc((size_t)n, sizeof(*svc->ports));
	if (!svc->ports)
		return no_memory(c, "spec.ports");
	cJSON_ArrayForEach(p, ports) {
		err = decode_svc_port(c, p, (int)svc->n_ports, &svc->ports[svc->n_ports]);
		svc->n_ports++;	/* counted even on error, so free sees its name */
		if (!err)
			err = check_svc_port_unique(c, svc, svc->n_ports - 1);
		if (err)
			return err;
	}
	return 0;
}

static int decode_external_ips(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	const cJSON *arr, *e;
	char path[PATH_MAX_LEN];
	int n, i = 0, err;

	err = get_string_array(c, spec, "externalIPs", "spec.externalIPs", KUBE_MAX_IPS, &arr, &n);
	if (err || !n)
		return err;
	svc->external_ips = calloc((size_t)n, sizeof(*svc->external_ips));
	if (!svc->external_ips)
		return no_memory(c, "spec.externalIPs");
	cJSON_ArrayForEach(e, arr) {
		snprintf(path, sizeof(path), "spec.externalIPs[%d]", i++);
		if (xlb_ip_parse(e->valuestring, &svc->external_ips[svc->n_external_ips]))
			skip(c, path, "\"%.64s\" is not an IP address, skipped", e->valuestring);
		else
			svc->n_external_ips++;
	}
	return 0;
}

static int decode_ingress_entry(struct dctx *c, const cJSON *e, int i, struct kube_service *svc)
{
	struct kube_lb_ingress *ing = &svc->ingress[svc->n_ingress];
	char path[PATH_MAX_LEN];
	const char *ip, *mode;
	int err;

	snprintf(path, sizeof(path), "status.loadBalancer.ingress[%d]", i);
	if (!cJSON_IsObject(e))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	err = get_string(c, e, "ip", path, false, &ip);
	if (!err)
		err = get_string(c, e, "ipMode", path, false, &mode);
	if (err || !ip || !*ip)
		return err;	/* hostname-only entries are not ours */
	if (xlb_ip_parse(ip, &ing->ip)) {
		skip(c, path, "ip \"%.64s\" is not an IP address, skipped", ip);
		return 0;
	}
	ing->vip = !mode || !strcmp(mode, "VIP");
	svc->n_ingress++;
	return 0;
}

static int decode_ingress(struct dctx *c, const cJSON *obj, struct kube_service *svc)
{
	const cJSON *status, *lb, *arr, *e;
	int n, i = 0, err;

	err = get_object(c, obj, "status", "status", false, &status);
	if (!err && status)
		err = get_object(c, status, "loadBalancer", "status.loadBalancer", false, &lb);
	if (err || !status || !lb)
		return err;
	err = get_array(c, lb, "ingress", "status.loadBalancer.ingress", KUBE_MAX_IPS, &arr, &n);
	if (err || !n)
		return err;
	svc->ingress = calloc((size_t)n, sizeof(*svc->ingress));
	if (!svc->ingress)
		return no_memory(c, "status.loadBalancer.ingress");
	cJSON_ArrayForEach(e, arr) {
		err = decode_ingress_entry(c, e, i++, svc);
		if (err)
			return err;
	}
	return 0;
}

/* Copy s without surrounding whitespace into buf; false when too long. */
static bool trim_copy(const char *s, char *buf, size_t len)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static int decode_source_ranges(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	const char *key = "loadBalancerSourceRanges";
	char path[PATH_MAX_LEN], buf[XLB_IP_STRLEN + 8];
	const cJSON *arr, *e;
	int n, i = 0, err;

	err = get_string_array(c, spec, key, "spec.loadBalancerSourceRanges", KUBE_MAX_IPS, &arr, &n);
	if (err || !n)
		return err;
	svc->source_ranges = calloc((size_t)n, sizeof(*svc->source_ranges));
	if (!svc->source_ranges)
		return no_memory(c, "spec.loadBalancerSourceRanges");
	cJSON_ArrayForEach(e, arr) {
		struct xlb_prefix *p = &svc->source_ranges[svc->n_source_ranges];

		snprintf(path, sizeof(path), "spec.loadBalancerSourceRanges[%d]", i++);
		if (!trim_copy(e->valuestring, buf, sizeof(buf)) || xlb_prefix_parse(buf, p))
			skip(c, path, "\"%.64s\" is not a CIDR, skipped", e->valuestring);
		else
			svc->n_source_ranges++;
	}
	return 0;
}

static int decode_affinity(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	static const char *const names[] = { "None", "ClientIP" };
	const char *path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
	const cJSON *cfg, *cip;
	bool present;
	long long t;
	int v, err;

	svc->affinity_timeout = KUBE_AFFINITY_DEFAULT_TIMEOUT;
	err = parse_enum(c, spec, "sessionAffinity", "spec.sessionAffinity", names,
			 ARRAY_LEN(names), 0, &v);
	if (err)
		return err;
	svc->affinity = v == 1;
	err = get_object(c, spec, "sessionAffinityConfig", "spec.sessionAffinityConfig", false, &cfg);
	if (!err && cfg)
		err = get_object(c, cfg, "clientIP", "spec.sessionAffinityConfig.clientIP", false, &cip);
	if (err || !cfg || !cip)
		return err;
	err = get_int(c, cip, "timeoutSeconds", path, &present, &t);
	if (err || !present)
		return err;
	if (t < 1 || t > 86400)
		return fail(c, DECODE_INVALID_VALUE, path, "%lld not in 1..86400", t);
	svc->affinity_timeout = (__u32)t;
	return 0;
}

static int decode_policies(struct dctx *c, const cJSON *spec, struct kube_service *svc)
{
	static const char *const names[] = { "Cluster", "Local" };
	int v, err;

	err = parse_enum(c, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy",
			 names, ARRAY_LEN(names), 0, &v);
	if (err)
		return err;
	svc->etp_local = v == 1;
	err = parse_enum(c, spec, "internalTrafficPolicy", "spec.internalTrafficPolicy",
			 names, ARRAY_LEN(names), 0, &v);
	if (err)
		return err;
	svc->itp_local = v == 1;
	err = parse_port(c, spec, "healthCheckNodePort", "spec.healthCheckNodePort", false, true,
			 &svc->health_check_node_port);
	if (!err)
		err = get_bool(c, spec, "allocateLoadBalancerNodePorts",
			       "spec.allocateLoadBalancerNodePorts", true, &svc->allocate_lb_node_ports);
	return err;
}

static int decode_service_fields(struct dctx *c, const cJSON *obj, struct kube_service *svc)
{
	const cJSON *meta, *labels, *spec;
	int err;

	err = check_kind(c, obj);
	if (!err)
		err = decode_meta(c, obj, true, &svc->meta, &meta);
	if (!err)
		err = get_string_map(c, meta, "labels", "metadata.labels", &labels);
	if (err)
		return err;
	svc->proxy_excluded = field(labels, LABEL_PROXY_NAME) || field(labels, LABEL_HEADLESS);
	err = get_object(c, obj, "spec", "spec", true, &spec);
	if (!err)
		err = decode_svc_type(c, spec, svc);
	if (!err)
		err = decode_cluster_ips(c, spec, svc);
	if (!err)
		err = decode_svc_ports(c, spec, svc);
	if (!err)
		err = decode_external_ips(c, spec, svc);
	if (!err)
		err = decode_ingress(c, obj, svc);
	if (!err)
		err = decode_source_ranges(c, spec, svc);
	if (!err)
		err = decode_policies(c, spec, svc);
	if (!err)
		err = decode_affinity(c, spec, svc);
	return err;
}

static void init_ctx(struct dctx *c, struct decode_err *err, const char *kind)
{
	memset(err, 0, sizeof(*err));
	c->err = err;
	c->kind = kind;
	c->ns = NULL;
	c->name = NULL;
}

/* The separate allocations of a Service being decoded; the shared port
 * names too unless the packed copy took them. */
static void service_parts_free(struct kube_service *t, bool names)
{
	for (size_t i = 0; names && i < t->n_ports; i++)
		shared_put(t->ports[i].name);
	kube_meta_free(&t->meta);
	free(t->ports);
	free(t->external_ips);
	free(t->ingress);
	free(t->source_ranges);
}

static struct kube_service *service_pack(const struct kube_service *t)
{
	size_t ports = t->n_ports * sizeof(*t->ports);
	size_t ext = t->n_external_ips * sizeof(*t->external_ips);
	size_t ing = t->n_ingress * sizeof(*t->ingress);
	size_t ranges = t->n_source_ranges * sizeof(*t->source_ranges);
	struct kube_service *svc = malloc(sizeof(*svc) + ports + ext + ing + ranges +
					  meta_len(&t->meta));
	char *at = (char *)(svc + 1);

	if (!svc)
		return NULL;
	*svc = *t;
	svc->ports = pack(&at, t->ports, ports);
	svc->external_ips = pack(&at, t->external_ips, ext);
	svc->ingress = pack(&at, t->ingress, ing);
	svc->source_ranges = pack(&at, t->source_ranges, ranges);
	meta_pack_into(&svc->meta, &t->meta, &at);
	return svc;
}

int decode_service(const cJSON *obj, struct kube_service **out, struct decode_err *err)
{
	struct kube_service t = {};
	struct dctx c;
	int ret;

	init_ctx(&c, err, "Service");
	ret = decode_service_fields(&c, obj, &t);
	*out = ret ? NULL : service_pack(&t);
	if (!ret && !*out)
		ret = no_memory(&c, "(object)");
	service_parts_free(&t, !*out);
	return ret;
}

void kube_service_free(struct kube_service *svc)
{
	if (!svc)
		return;
	for (size_t i = 0; i < svc->n_ports; i++)
		shared_put(svc->ports[i].name);
	free(svc);
}

/* ---- EndpointSlice ---------------------------------------------------- */

static int decode_slice_port(struct dctx *c, const cJSON *p, int i, struct kube_slice_port *out)
{
	char path[PATH_MAX_LEN];
	int err;

	snprintf(path, sizeof(path), "ports[%d]", i);
	if (!cJSON_IsObject(p))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	snprintf(path, sizeof(path), "ports[%d].protocol", i);
	err = parse_protocol(c, p, path, &out->proto);
	if (err)
		return err;
	snprintf(path, sizeof(path), "ports[%d].port", i);
	err = parse_port(c, p, "port", path, false, true, &out->port);
	if (err)
		return err;
	snprintf(path, sizeof(path), "ports[%d].name", i);
	return get_shared(c, p, "name", path, false, &out->name);
}

static int check_slice_port_unique(struct dctx *c, const struct kube_slice *s, size_t i)
{
	const struct kube_slice_port *p = &s->ports[i];
	char path[PATH_MAX_LEN];
	size_t j;

	if (!p->name)
		return 0;
	for (j = 0; j < i; j++) {
		const struct kube_slice_port *q = &s->ports[j];

		if (!q->name || strcmp(p->name, q->name) || p->proto != q->proto)
			continue;
		snprintf(path, sizeof(path), "ports[%zu]", i);
		return fail(c, DECODE_DUPLICATE_PORT, path, "same name and protocol as ports[%zu]", j);
	}
	return 0;
}

static int decode_slice_ports(struct dctx *c, const cJSON *obj, struct kube_slice *s)
{
	const cJSON *ports, *p;
	int n, err;

	err = get_array(c, obj, "ports", "ports", KUBE_MAX_PORTS, &ports, &n);
	if (err || !n)
		return err;
	s->ports = calloc((size_t)n, sizeof(*s->ports));
	if (!s->ports)
		return no_memory(c, "ports");
	cJSON_ArrayForEach(p, ports) {
		err = decode_slice_port(c, p, (int)s->n_ports, &s->ports[s->n_ports]);
		s->n_ports++;
		if (!err)
			err = check_slice_port_unique(c, s, s->n_ports - 1);
		if (err)
			return err;
	}
	return 0;
}

/* hints.forZones / hints.forNodes: [{"name": ...}] -> strings. */
static int decode_hints(struct dctx *c, const cJSON *hints, const char *key,
			const char *path, char ***out, size_t *n_out)
{
	const cJSON *arr, *h;
	const char *name;
	int n, err;

	err = get_array(c, hints, key, path, KUBE_MAX_HINTS, &arr, &n);
	if (err || !n)
		return err;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return no_memory(c, path);
	cJSON_ArrayForEach(h, arr) {
		if (!cJSON_IsObject(h))
			return fail(c, DECODE_WRONG_TYPE, path, "entry is not an object");
		err = get_string(c, h, "name", path, true, &name);
		if (err)
			return err;
		(*out)[*n_out] = strdup(name);
		if (!(*out)[*n_out])
			return no_memory(c, path);
		(*n_out)++;
	}
	return 0;
}

static void hints_free(struct kube_hints *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n_for_zones; i++)
		free(h->for_zones[i]);
	free(h->for_zones);
	for (i = 0; i < h->n_for_nodes; i++)
		free(h->for_nodes[i]);
	free(h->for_nodes);
	free(h);
}

/* The endpoint's hints; *out NULL when it has none. */
static int decode_endpoint_hints(struct dctx *c, const cJSON *e, const char *path,
				 struct kube_hints **out)
{
	const cJSON *hints;
	struct kube_hints *h;
	int err;

	*out = NULL;
	err = get_object(c, e, "hints", path, false, &hints);
	if (err || !hints)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h)
		return no_memory(c, path);
	err = decode_hints(c, hints, "forZones", path, &h->for_zones, &h->n_for_zones);
	if (!err)
		err = decode_hints(c, hints, "forNodes", path, &h->for_nodes, &h->n_for_nodes);
	if (err || (!h->n_for_zones && !h->n_for_nodes)) {
		hints_free(h);
		return err;
	}
	*out = h;
	return 0;
}

static int decode_conditions(struct dctx *c, const cJSON *e, const char *path,
			     struct kube_endpoint *ep)
{
	const cJSON *cond;
	int err;

	err = get_object(c, e, "conditions", path, false, &cond);
	if (!err)
		err = get_bool(c, cond, "ready", path, true, &ep->ready);
	if (!err)
		err = get_bool(c, cond, "serving", path, true, &ep->serving);
	if (!err)
		err = get_bool(c, cond, "terminating", path, false, &ep->terminating);
	return err;
}

/* An endpoint as stored: the address takes 4 or 16 bytes by the slice's
 * address type, so an IPv4 endpoint is 12 bytes (24 for IPv6). */
struct packed_ep {
	__u32 node;		/* shared_by_id(); 0 = absent */
	__u8 flags;		/* EP_* */
	__u8 addr[];
};

#define EP_READY	(1U << 0)
#define EP_SERVING	(1U << 1)
#define EP_TERMINATING	(1U << 2)

static size_t addr_len(const struct kube_slice *s)
{
	return s->addr_type == KUBE_ADDR_IPV6 ? 16 : 4;
}

static size_t ep_stride(const struct kube_slice *s)
{
	return (offsetof(struct packed_ep, addr) + addr_len(s) + 3) & ~(size_t)3;
}

static struct packed_ep *packed_ep(const struct kube_slice *s, size_t i)
{
	return (struct packed_ep *)((char *)s->endpoints + i * ep_stride(s));
}

void kube_slice_endpoint(const struct kube_slice *s, size_t i, struct kube_endpoint *out)
{
	const struct packed_ep *p = packed_ep(s, i);

	memset(out, 0, sizeof(*out));
	out->ip.family = s->addr_type == KUBE_ADDR_IPV6 ? XLB_FAM_V6 : XLB_FAM_V4;
	memcpy(out->ip.bytes, p->addr, addr_len(s));
	out->ready = p->flags & EP_READY;
	out->serving = p->flags & EP_SERVING;
	out->terminating = p->flags & EP_TERMINATING;
	out->node_name = shared_by_id(p->node);
	out->hints = s->hints ? s->hints[i] : NULL;
}

/* Appends ep to the slice's packed endpoints (room for n_max). */
static int add_endpoint(struct dctx *c, struct kube_slice *s, size_t n_max,
			const struct kube_endpoint *ep, struct kube_hints *hints)
{
	struct packed_ep *p = packed_ep(s, s->n_endpoints);

	if (hints && !s->hints && !(s->hints = calloc(n_max, sizeof(*s->hints))))
		return no_memory(c, "endpoints");
	if (hints)
		s->hints[s->n_endpoints] = hints;
	p->node = shared_id(ep->node_name);
	p->flags = (ep->ready ? EP_READY : 0) | (ep->serving ? EP_SERVING : 0) |
		   (ep->terminating ? EP_TERMINATING : 0);
	memcpy(p->addr, ep->ip.bytes, addr_len(s));
	s->n_endpoints++;
	return 0;
}

/* The address check of one endpoint: kept only when addresses[0] is an IP
 * of the slice's type, as kube-proxy reads addresses[0] alone. */
static bool endpoint_ip(struct dctx *c, const cJSON *addrs, int n, const char *path,
			const struct kube_slice *s, struct xlb_ip *ip)
{
	__u8 fam = s->addr_type == KUBE_ADDR_IPV4 ? XLB_FAM_V4 : XLB_FAM_V6;
	const char *a0 = n ? cJSON_GetArrayItem(addrs, 0)->valuestring : NULL;

	if (!a0) {
		skip(c, path, "no addresses, skipped");
		return false;
	}
	if (xlb_ip_parse(a0, ip) || ip->family != fam) {
		skip(c, path, "address \"%.64s\" is not an IPv%d address, skipped", a0, fam);
		return false;
	}
	return true;
}

static int decode_endpoint(struct dctx *c, const cJSON *e, int i, struct kube_slice *s,
			   size_t n_max)
{
	struct kube_endpoint ep = {};
	struct kube_hints *hints = NULL;
	char path[PATH_MAX_LEN];
	const cJSON *addrs;
	const char *zone;
	int n, err;

	snprintf(path, sizeof(path), "endpoints[%d]", i);
	if (!cJSON_IsObject(e))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	err = decode_conditions(c, e, path, &ep);
	/* The zone is not kept, but one of the wrong type still rejects. */
	if (!err)
		err = get_string(c, e, "zone", path, false, &zone);
	if (!err)
		err = get_shared(c, e, "nodeName", path, false, &ep.node_name);
	if (!err)
		err = decode_endpoint_hints(c, e, path, &hints);
	if (!err)
		err = get_string_array(c, e, "addresses", path, KUBE_MAX_ADDRESSES, &addrs, &n);
	if (!err && s->addr_type != KUBE_ADDR_FQDN && endpoint_ip(c, addrs, n, path, s, &ep.ip)) {
		err = add_endpoint(c, s, n_max, &ep, hints);
		if (!err)
			return 0;
	}
	shared_put(ep.node_name);
	hints_free(hints);
	return err;
}

static int decode_endpoints(struct dctx *c, const cJSON *obj, struct kube_slice *s)
{
	const cJSON *arr, *e;
	int n, i = 0, err;

	err = get_array(c, obj, "endpoints", "endpoints", KUBE_MAX_ENDPOINTS, &arr, &n);
	if (err || !n)
		return err;
	s->endpoints = malloc((size_t)n * ep_stride(s));
	if (!s->endpoints)
		return no_memory(c, "endpoints");
	cJSON_ArrayForEach(e, arr) {
		err = decode_endpoint(c, e, i++, s, (size_t)n);
		if (err)
			return err;
	}
	return 0;
}

static int decode_slice_meta(struct dctx *c, const cJSON *obj, struct kube_slice *s)
{
	const char *path = "metadata.labels[" LABEL_SERVICE_NAME "]";
	const cJSON *meta, *labels, *annots, *svc, *t;
	int err;

	err = decode_meta(c, obj, true, &s->meta, &meta);
	if (!err)
		err = get_string_map(c, meta, "labels", "metadata.labels", &labels);
	if (!err)
		err = get_string_map(c, meta, "annotations", "metadata.annotations", &annots);
	if (err)
		return err;
	svc = field(labels, LABEL_SERVICE_NAME);
	if (!svc || !*svc->valuestring)
		return fail(c, DECODE_MISSING_FIELD, path, "required");
	if (strlen(svc->valuestring) > KUBE_MAX_NAME)
		return fail(c, DECODE_TOO_LARGE, path, "longer than %d", KUBE_MAX_NAME);
	s->service_key = malloc(strlen(s->meta.ns) + strlen(svc->valuestring) + 2);
	if (!s->service_key)
		return no_memory(c, path);
	sprintf(s->service_key, "%s/%s", s->meta.ns, svc->valuestring);
	/* A malformed trigger time only costs a latency sample. */
	t = field(annots, ANNOT_TRIGGER_TIME);
	if (t && decode_rfc3339(t->valuestring, &s->trigger_time_ns))
		s->trigger_time_ns = 0;
	return 0;
}

static int decode_slice_fields(struct dctx *c, const cJSON *obj, struct kube_slice *s)
{
	static const char *const names[] = {
		[KUBE_ADDR_IPV4] = "IPv4",
		[KUBE_ADDR_IPV6] = "IPv6",
		[KUBE_ADDR_FQDN] = "FQDN",
	};
	const char *type;
	int v, err;

	err = check_kind(c, obj);
	if (!err)
		err = decode_slice_meta(c, obj, s);
	if (!err)
		err = get_string(c, obj, "addressType", "addressType", true, &type);
	if (!err)
		err = parse_enum(c, obj, "addressType", "addressType", names, ARRAY_LEN(names),
				 -1, &v);
	if (!err && v < 0)
		err = fail(c, DECODE_MISSING_FIELD, "addressType", "empty");
	if (err)
		return err;
	s->addr_type = (enum kube_addr_type)v;
	err = decode_slice_ports(c, obj, s);
	if (!err)
		err = decode_endpoints(c, obj, s);
	return err;
}

/* The shared names and the hints (separate allocations: rare) of a slice. */
static void slice_refs_free(struct kube_slice *s)
{
	size_t i;

	for (i = 0; i < s->n_ports; i++)
		shared_put(s->ports[i].name);
	for (i = 0; i < s->n_endpoints; i++) {
		shared_put(shared_by_id(packed_ep(s, i)->node));
		hints_free(s->hints ? s->hints[i] : NULL);
	}
	free(s->hints);
}

/* The separate allocations of a slice being decoded; its names and hints
 * too unless the packed copy took them. */
static void slice_parts_free(struct kube_slice *t, bool refs)
{
	if (refs)
		slice_refs_free(t);
	kube_meta_free(&t->meta);
	free(t->service_key);
	free(t->ports);
	free(t->endpoints);
}

static struct kube_slice *slice_pack(const struct kube_slice *t)
{
	size_t ports = t->n_ports * sizeof(*t->ports);
	size_t eps = t->n_endpoints * ep_stride(t);
	size_t key = strlen(t->service_key) + 1;
	struct kube_slice *s = malloc(sizeof(*s) + ports + eps + meta_len(&t->meta) + key);
	char *at = (char *)(s + 1);

	if (!s)
		return NULL;
	*s = *t;
	s->ports = pack(&at, t->ports, ports);
	s->endpoints = pack(&at, t->endpoints, eps);
	meta_pack_into(&s->meta, &t->meta, &at);
	s->service_key = pack(&at, t->service_key, key);
	return s;
}

int decode_slice(const cJSON *obj, struct kube_slice **out, struct decode_err *err)
{
	struct kube_slice t = {};
	struct dctx c;
	int ret;

	init_ctx(&c, err, "EndpointSlice");
	ret = decode_slice_fields(&c, obj, &t);
	*out = ret ? NULL : slice_pack(&t);
	if (!ret && !*out)
		ret = no_memory(&c, "(object)");
	slice_parts_free(&t, !*out);
	return ret;
}

void kube_slice_free(struct kube_slice *s)
{
	if (!s)
		return;
	slice_refs_free(s);
	free(s);
}

/* ---- Node ------------------------------------------------------------- */

static int decode_node_addr(struct dctx *c, const cJSON *e, int i, struct kube_node *node)
{
	struct kube_node_addr *a = &node->addrs[node->n_addrs];
	const char *type, *addr;
	char path[PATH_MAX_LEN];
	int err;

	snprintf(path, sizeof(path), "status.addresses[%d]", i);
	if (!cJSON_IsObject(e))
		return fail(c, DECODE_WRONG_TYPE, path, "not an object");
	err = get_string(c, e, "type", path, false, &type);
	if (!err)
		err = get_string(c, e, "address", path, false, &addr);
	if (err || !addr)
		return err;
	if (type && (!strcmp(type, "Hostname") || strstr(type, "DNS")))
		return 0;	/* names, not addresses */
	if (xlb_ip_parse(addr, &a->ip)) {
		skip(c, path, "\"%.64s\" is not an IP address, skipped", addr);
		return 0;
	}
	if (type && !strcmp(type, "InternalIP"))
		a->type = KUBE_NODE_INTERNAL_IP;
	else if (type && !strcmp(type, "ExternalIP"))
		a->type = KUBE_NODE_EXTERNAL_IP;
	else
		a->type = KUBE_NODE_OTHER;
	node->n_addrs++;
	return 0;
}

static int decode_node_status(struct dctx *c, const cJSON *obj, struct kube_node *node)
{
	const cJSON *status, *arr, *e;
	int n, i = 0, err;

	err = get_object(c, obj, "status", "status", false, &status);
	if (!err)
		err = get_array(c, status, "addresses", "status.addresses", KUBE_MAX_NODE_ADDRS,
				&arr, &n);
	if (err || !n)
		return err;
	node->addrs = calloc((size_t)n, sizeof(*node->addrs));
	if (!node->addrs)
		return no_memory(c, "status.addresses");
	cJSON_ArrayForEach(e, arr) {
		err = decode_node_addr(c, e, i++, node);
		if (err)
			return err;
	}
	return 0;
}

static int decode_taints(struct dctx *c, const cJSON *obj, struct kube_node *node)
{
	const cJSON *spec, *arr, *t;
	const char *key;
	int n, err;

	err = get_object(c, obj, "spec", "spec", false, &spec);
	if (!err)
		err = get_array(c, spec, "taints", "spec.taints", KUBE_MAX_TAINTS, &arr, &n);
	if (err)
		return err;
	cJSON_ArrayForEach(t, arr) {
		if (!cJSON_IsObject(t))
			return fail(c, DECODE_WRONG_TYPE, "spec.taints", "entry is not an object");
		err = get_string(c, t, "key", "spec.taints[].key", false, &key);
		if (err)
			return err;
		if (key && !strcmp(key, TAINT_TO_BE_DELETED))
			node->to_be_deleted = true;
	}
	return 0;
}

static int decode_node_fields(struct dctx *c, const cJSON *obj, struct kube_node *node)
{
	const cJSON *meta, *labels;
	const char *del;
	int err;

	err = check_kind(c, obj);
	if (!err)
		err = decode_meta(c, obj, false, &node->meta, &meta);
	if (!err)
		err = get_string_map(c, meta, "labels", "metadata.labels", &labels);
	if (!err)
		err = get_string(c, meta, "deletionTimestamp", "metadata.deletionTimestamp", false,
				 &del);
	if (err)
		return err;
	node->deleting = del != NULL;
	if (field(labels, LABEL_ZONE)) {
		node->zone = strdup(field(labels, LABEL_ZONE)->valuestring);
		if (!node->zone)
			return no_memory(c, "metadata.labels");
	}
	err = decode_taints(c, obj, node);
	if (!err)
		err = decode_node_status(c, obj, node);
	return err;
}

int decode_node(const cJSON *obj, struct kube_node **out, struct decode_err *err)
{
	struct kube_node *node;
	struct dctx c;
	int ret;

	init_ctx(&c, err, "Node");
	*out = NULL;
	node = calloc(1, sizeof(*node));
	if (!node)
		return no_memory(&c, "(object)");
	ret = decode_node_fields(&c, obj, node);
	if (ret) {
		kube_node_free(node);
		return ret;
	}
	*out = node;
	return 0;
}

void kube_node_free(struct kube_node *node)
{
	if (!node)
		return;
	kube_meta_free(&node->meta);
	free(node->zone);
	free(node->addrs);
	free(node);
}

/* ---- time ------------------------------------------------------------- */

static int parse_digits(const char **s, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (**s < '0' || **s > '9')
			return -EINVAL;
		v = v * 10 + (*(*s)++ - '0');
	}
	*out = v;
	return 0;
}

/* "+hh:mm", "-hh:mm" or "Z" -> seconds east of UTC. */
static int parse_offset(const char *s, long *off)
{
	int h, m, sign;

	if (!strcmp(s, "Z") || !strcmp(s, "z")) {
		*off = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -EINVAL;
	sign = *s++ == '-' ? -1 : 1;
	if (parse_digits(&s, 2, &h) || *s++ != ':' || parse_digits(&s, 2, &m) || *s)
		return -EINVAL;
	*off = sign * (h * 3600L + m * 60L);
	return 0;
}

int decode_rfc3339(const char *s, int64_t *ns)
{
	struct tm tm = { 0 };
	int64_t frac = 0, scale = 1000000000;
	long off;
	time_t t;

	if (!s || parse_digits(&s, 4, &tm.tm_year) || *s++ != '-' ||
	    parse_digits(&s, 2, &tm.tm_mon) || *s++ != '-' ||
	    parse_digits(&s, 2, &tm.tm_mday) || (*s != 'T' && *s != 't') || !*s++ ||
	    parse_digits(&s, 2, &tm.tm_hour) || *s++ != ':' ||
	    parse_digits(&s, 2, &tm.tm_min) || *s++ != ':' ||
	    parse_digits(&s, 2, &tm.tm_sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
		}
	}
	if (parse_offset(s, &off) || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	*ns = ((int64_t)t - off) * 1000000000 + frac;
	return 0;
}
