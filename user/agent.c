/* The agent: options -> data path (load or adopt, attach) -> watches feed the
 * store -> the sync loop models changed Services and applies them -> health,
 * metrics and healthCheckNodePorts report it. Watch threads only decode and
 * update the store under the lock; the main thread does all map writes. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>

#include "agent.h"
#include "decode.h"
#include "healthcheck.h"
#include "http.h"
#include "kube_client.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "netdev.h"
#include "options.h"
#include "store.h"
#include "strmap.h"
#include "sync.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define MAX_HOST_ADDRS 256

struct agent;

/* A list of owned strings (Service keys "ns/name"). */
struct keys {
	char **v;
	size_t n, cap;
};

static int keys_add(struct keys *k, const char *key)
{
	char **grown;

	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		grown = realloc(k->v, k->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		k->v = grown;
	}
	k->v[k->n] = strdup(key);
	return k->v[k->n] ? (k->n++, 0) : -ENOMEM;
}

static void keys_free(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

/* One watched resource: how to decode and store its objects. */
struct resource {
	struct agent *a;
	const char *kind;
	int (*decode)(const cJSON *obj, void **out, struct decode_err *err);
	void (*free_obj)(void *obj);
	int (*upsert)(struct agent *a, void *obj);
	void (*remove)(struct agent *a, const char *ns, const char *name);
	void (*replace)(struct agent *a, void **items, size_t n, const struct keys *rejected);
	void **items;	/* the LIST being collected (watch thread only) */
	size_t n, cap;
	struct keys rejected;	/* keys of the objects of that LIST rejected */
	bool listed;
	struct kube_watch *watch;
};

struct agent {
	struct xlb_options opt;
	struct dp dp;
	struct sync *sync;
	struct store *store;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_changes pending;	/* Services to recompute */
	bool node_changed;
	unsigned int svc_events, slice_events;
	struct resource services, slices, node;
	struct kube_conn *conn;
	struct model_config mcfg;
	struct xlb_ip host_addrs[MAX_HOST_ADDRS];
	size_t n_host_addrs;
	struct strmap counts;	/* svc_key -> its last build's model_counts, if not all 0 */
	struct model_counts totals;
	struct strmap hc;	/* svc_key -> struct hc_entry */
	struct strmap pod_devs;	/* "ifindex:name" of pod devices with tc attached */
	bool hc_dirty;
	struct xlb_metrics *xm;
	struct metric *map_writes;	/* xlb_sync_map_writes_total */
	struct health *health;
	struct http_server *metrics_srv, *health_srv;
	struct hc_server *hc_srv;
	bool synced_once;
	double last_list_end;	/* wall clock, for the first sync's log line */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- watch callbacks (watch threads) ------------------------------------ */

static void meta_of(const cJSON *obj, const char **ns, const char **name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "namespace");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");

	*ns = cJSON_IsString(n) ? n->valuestring : "";
	*name = cJSON_IsString(nm) ? nm->valuestring : "?";
}

static void *decode_checked(struct resource *r, const cJSON *obj)
{
	struct decode_err err = {};
	const char *ns, *name;
	void *out = NULL;

	if (!r->decode(obj, &out, &err)) {
		if (err.skipped)
			xlb_log(LOG_WARNING, "%s: skipped %u invalid value(s): %s", r->kind, err.skipped,
				err.skip_msg);
		return out;
	}
	meta_of(obj, &ns, &name);
	xlb_log(LOG_WARNING, "%s %s/%s rejected (%s): %s", r->kind, ns, name,
		err.reason ? err.reason : "invalid", err.msg);
	xlb_metrics_object_rejected(r->a->xm, r->kind, err.reason ? err.reason : "invalid");
	return NULL;
}

static void on_list_begin(void *user)
{
	struct resource *r = user;

	for (size_t i = 0; i < r->n; i++)
		r->free_obj(r->items[i]);
	r->n = 0;
	keys_free(&r->rejected);
}

static void on_object(void *user, cJSON *obj)
{
	struct resource *r = user;
	void *o = decode_checked(r, obj), **grown;
	char key[STORE_KEY_MAX];
	const char *ns, *name;

	if (!o) {
		/* The relist must not drop its last good version. */
		meta_of(obj, &ns, &name);
		keys_add(&r->rejected, store_key(ns, name, key, sizeof(key)));
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		grown = realloc(r->items, r->cap * sizeof(*grown));
		if (!grown) {
			r->free_obj(o);
			return;
		}
		r->items = grown;
	}
	r->items[r->n++] = o;
}

/* Under the lock, after the store changed: an update is queued (health and
 * kube-proxy's queued/pending metrics). */
static void note_queued(struct agent *a)
{
	double now = now_s();

	if (!a->pending.n && !a->node_changed)
		return;
	health_queued(a->health, IPF_ALL, now);
	xlb_metrics_sync_queued(a->xm, IPF_ALL, now);
	xlb_metrics_changes(a->xm, CHANGE_SERVICE, 0, a->svc_events);
	xlb_metrics_changes(a->xm, CHANGE_ENDPOINT, 0, a->slice_events);
}

static void on_list_end(void *user, const char *rv)
{
	struct resource *r = user;
	struct agent *a = r->a;

	pthread_mutex_lock(&a->lock);
	r->replace(a, r->items, r->n, &r->rejected);	/* takes the objects */
	r->n = 0;
	keys_free(&r->rejected);
	r->listed = true;
	a->last_list_end = now_s();
	note_queued(a);
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void on_event(void *user, enum kube_event type, cJSON *obj)
{
	struct resource *r = user;
	struct agent *a = r->a;
	const char *ns, *name;
	void *o = NULL;

	if (type != KUBE_DELETED && !(o = decode_checked(r, obj)))
		return;	/* a bad update keeps the last good version */
	meta_of(obj, &ns, &name);
	pthread_mutex_lock(&a->lock);
	if (type == KUBE_DELETED)
		r->remove(a, ns, name);
	else
		r->upsert(a, o);
	note_queued(a);
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

/* ---- store adapters (under the lock) ------------------------------------ */

static int dec_service(const cJSON *o, void **out, struct decode_err *e)
{
	return decode_service(o, (struct kube_service **)out, e);
}

static int dec_slice(const cJSON *o, void **out, struct decode_err *e)
{
	return decode_slice(o, (struct kube_slice **)out, e);
}

static int dec_node(const cJSON *o, void **out, struct decode_err *e)
{
	return decode_node(o, (struct kube_node **)out, e);
}

static void free_service(void *o)
{
	kube_service_free(o);
}

static void free_slice(void *o)
{
	kube_slice_free(o);
}

static void free_node(void *o)
{
	kube_node_free(o);
}

static int upsert_service(struct agent *a, void *o)
{
	a->svc_events++;
	return store_upsert_service(a->store, o, &a->pending);
}

static int upsert_slice(struct agent *a, void *o)
{
	a->slice_events++;
	return store_upsert_slice(a->store, o, &a->pending);
}

static void remove_service(struct agent *a, const char *ns, const char *name)
{
	a->svc_events++;
	store_delete_service(a->store, ns, name, &a->pending);
}

static void remove_slice(struct agent *a, const char *ns, const char *name)
{
	a->slice_events++;
	store_delete_slice(a->store, ns, name, &a->pending);
}

static void replace_services(struct agent *a, void **items, size_t n, const struct keys *rej)
{
	store_replace_services(a->store, (struct kube_service **)items, n, rej->v, rej->n,
			       &a->pending);
}

static void replace_slices(struct agent *a, void **items, size_t n, const struct keys *rej)
{
	store_replace_slices(a->store, (struct kube_slice **)items, n, rej->v, rej->n,
			     &a->pending);
}

static int upsert_node(struct agent *a, void *o)
{
	store_set_node(a->store, o);
	a->node_changed = true;
	return 1;
}

static void remove_node(struct agent *a, const char *ns, const char *name)
{
	store_set_node(a->store, NULL);
	a->node_changed = true;
}

static void replace_node(struct agent *a, void **items, size_t n, const struct keys *rej)
{
	if (!n && rej->n)
		return;	/* this Node is there, invalid: its last good version stays */
	store_set_node(a->store, n ? items[0] : NULL);
	for (size_t i = 1; i < n; i++)
		kube_node_free(items[i]);
	a->node_changed = true;
}

/* ---- the sync loop (main thread) ---------------------------------------- */

static int add_service_key(const struct kube_service *svc, void *ctx)
{
	char key[STORE_KEY_MAX];

	return keys_add(ctx, store_key(svc->meta.ns, svc->meta.name, key, sizeof(key)));
}

/* Under the lock: which Services to recompute (all of them when the Node
 * changed), their models, and the node-wide model. */
/* Under the lock: which Services to recompute (all of them when the Node
 * changed) and the node-wide model. */
static int take_work(struct agent *a, struct keys *k, struct model_state *node,
		     bool *node_changed)
{
	const struct kube_node *n = store_node(a->store);
	int rc = 0;

	*node_changed = a->node_changed;
	if (a->node_changed)
		rc = store_for_each_service(a->store, add_service_key, k);
	for (size_t i = 0; !rc && a->node_changed && i < a->pending.n; i++)
		if (!store_get_service(a->store, a->pending.keys[i]))
			rc = keys_add(k, a->pending.keys[i]);
	if (!a->node_changed) {
		/* The pending keys themselves: no second copy of 100k keys. */
		*k = (struct keys){ a->pending.keys, a->pending.n, a->pending.cap };
		a->pending.keys = NULL;
		a->pending.n = a->pending.cap = 0;
	}
	xlb_metrics_changes(a->xm, CHANGE_SERVICE, a->svc_events, 0);
	xlb_metrics_changes(a->xm, CHANGE_ENDPOINT, a->slice_events, 0);
	a->svc_events = a->slice_events = 0;
	store_changes_free(&a->pending);
	store_changes_init(&a->pending);
	a->node_changed = false;
	health_set_node_eligible(a->health, !n || (!n->deleting && !n->to_be_deleted));
	return rc ? rc : model_build_service(a->store, &a->mcfg, "", node);
}

static void apply_node(struct agent *a, const struct model_state *node)
{
	struct sync_node sn = {
		.pod_cidrs = a->opt.cluster_cidrs, .n_pod_cidrs = a->opt.n_cluster_cidrs,
		.svc_cidrs = a->opt.service_cidrs, .n_svc_cidrs = a->opt.n_service_cidrs,
		.node_addrs = a->host_addrs, .n_node_addrs = a->n_host_addrs,
		.nodeport_addrs = node->nodeport_addrs, .n_nodeport_addrs = node->n_nodeport_addrs,
	};
	struct xlb_config *c = &sn.cfg;
	socklen_t len = sizeof(c->netns_cookie);
	char err[256];
	int fd;

	memcpy(&c->snat_v4, node->node_ips[0].bytes, 16);
	memcpy(&c->snat_v6, node->node_ips[1].bytes, 16);
	c->snat_port_min = a->opt.snat_port_min;
	c->snat_port_max = a->opt.snat_port_max;
	c->flags = (a->opt.n_cluster_cidrs ? XLB_CFG_POD_DETECT : 0) |
		   (a->opt.masquerade_all ? XLB_CFG_MASQ_ALL : 0);
	c->tcp_timeout = a->opt.tcp_timeout_s;
	c->tcp_syn_timeout = a->opt.tcp_syn_timeout_s;
	c->tcp_close_timeout = a->opt.tcp_close_timeout_s;
	c->udp_timeout = a->opt.udp_timeout_s;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd >= 0) {
		getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c->netns_cookie, &len);
		close(fd);
	}
	if (!node->node_ips[0].family && !node->node_ips[1].family)
		xlb_log(LOG_WARNING, "node %s: no address known yet: no masquerade, no NodePorts",
			a->opt.hostname);
	if (sync_apply_node(a->sync, &sn, err, sizeof(err)))
		xlb_log(LOG_ERR, "%s", err);
}

/* A healthCheckNodePort Service: the entry owns its namespace and name. */
struct hc_entry {
	struct hc_service svc;
	char names[];	/* "ns\0name\0" */
};

static struct hc_entry *hc_entry_new(const char *key, const struct model_svc_port *p)
{
	struct hc_entry *e = calloc(1, sizeof(*e) + strlen(key) + 1);
	char *slash;

	if (!e)
		return NULL;
	strcpy(e->names, key);
	slash = strchr(e->names, '/');
	if (!slash) {
		free(e);
		return NULL;
	}
	*slash = 0;
	e->svc.namespace = e->names;
	e->svc.name = slash + 1;
	e->svc.port = p->health_check_node_port;
	e->svc.local_endpoints = p->local_ready;
	return e;
}

static void add_counts(struct model_counts *t, const struct model_counts *c, int sign)
{
	t->ext_ips_skipped += sign * (int)c->ext_ips_skipped;
	t->ext_ip_services += sign * (int)c->ext_ip_services;
	t->no_local_internal += sign * (int)c->no_local_internal;
	t->no_local_external += sign * (int)c->no_local_external;
}

static bool counts_zero(const struct model_counts *c)
{
	return !c->ext_ips_skipped && !c->ext_ip_services && !c->no_local_internal &&
	       !c->no_local_external;
}

/* Per-Service bookkeeping after an apply: gauges, latency, health checks. */
static void account_service(struct agent *a, const char *key, const struct model_state *ms)
{
	struct model_counts *old = strmap_del(&a->counts, key), *c;
	struct hc_entry *hc = strmap_del(&a->hc, key);

	if (old)
		add_counts(&a->totals, old, -1);
	if (ms->counts.ext_ip_services && !(old && old->ext_ip_services))
		xlb_log(LOG_WARNING, "Service %s: %u externalIP(s) not programmed: "
			"AllowServiceExternalIPs is off", key, ms->counts.ext_ips_skipped);
	free(old);
	/* Most Services count nothing: no entry (a large cluster has 100k). */
	if (!counts_zero(&ms->counts) && (c = malloc(sizeof(*c)))) {
		*c = ms->counts;
		add_counts(&a->totals, c, 1);
		if (strmap_put(&a->counts, key, c))
			free(c);
	}
	a->hc_dirty |= hc != NULL;
	free(hc);
	for (size_t i = 0; i < ms->n_ports; i++) {
		const struct model_svc_port *p = &ms->ports[i];

		if (p->trigger_time_ns > 0)
			xlb_metrics_network_programming(a->xm, IPF_ALL,
							now_s() - p->trigger_time_ns / 1e9);
		if (!p->health_check_node_port || strmap_get(&a->hc, key))
			continue;
		hc = hc_entry_new(key, p);
		if (hc && strmap_put(&a->hc, key, hc))
			free(hc);
		a->hc_dirty = true;
	}
}

static void reconcile_health_checks(struct agent *a)
{
	struct hc_service *svcs = calloc(a->hc.len + 1, sizeof(*svcs));
	struct strmap_entry *e;
	char err[1024] = "";
	size_t i = 0, n = 0;

	if (!svcs || !a->hc_srv)
		goto out;
	while (strmap_next(&a->hc, &i, &e))
		svcs[n++] = ((struct hc_entry *)e->value)->svc;
	if (hc_server_reconcile(a->hc_srv, svcs, n, err, sizeof(err)) > 0)
		xlb_log(LOG_WARNING, "health check node ports: %s", err);
	a->hc_dirty = false;
out:
	free(svcs);
}

/* Models are built and applied a chunk of Services at a time, so a full
 * sync of a large cluster never holds every model at once. The chunk's keys
 * are freed once applied: the sync state grows into their memory. */
#define SYNC_CHUNK 256

static void apply_chunk(struct agent *a, char **keys, size_t n)
{
	struct model_state ms[SYNC_CHUNK];
	char err[512];
	size_t built = 0;
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	for (; built < n && !rc; built++)
		rc = model_build_service(a->store, &a->mcfg, keys[built], &ms[built]);
	pthread_mutex_unlock(&a->lock);
	if (rc) {
		built--;
		xlb_log(LOG_ERR, "sync %s: model: %s", keys[built], strerror(-rc));
	}
	for (size_t i = 0; i < built; i++) {
		rc = sync_apply_service(a->sync, keys[i], &ms[i], err, sizeof(err));
		if (rc) {
			xlb_log(LOG_ERR, "sync %s: %s", keys[i], err);
			xlb_metrics_object_rejected(a->xm, "Service",
						    rc == -E2BIG ? "map_full" : "apply_failed");
		}
		account_service(a, keys[i], &ms[i]);
		model_state_free(&ms[i]);
	}
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
		keys[i] = NULL;
	}
}

static void run_sync(struct agent *a)
{
	struct model_state node;
	struct keys k = {};
	bool node_changed;
	double t0, list_end;
	int rc;

	model_state_init(&node);
	pthread_mutex_lock(&a->lock);
	rc = take_work(a, &k, &node, &node_changed);
	list_end = a->last_list_end;
	pthread_mutex_unlock(&a->lock);
	t0 = now_s();
	if (rc) {
		xlb_log(LOG_ERR, "sync: model: %s", strerror(-rc));
		goto out;
	}
	/* The LISTs' garbage (JSON pages, their cJSON trees) is free but
	 * resident: back to the kernel before the sync state grows. */
	if (!a->synced_once)
		malloc_trim(0);
	if (node_changed || !a->synced_once)
		apply_node(a, &node);
	for (size_t i = 0; i < k.n; i += SYNC_CHUNK)
		apply_chunk(a, k.v + i, k.n - i < SYNC_CHUNK ? k.n - i : SYNC_CHUNK);
	if (!a->synced_once) {
		struct sync_stats st;

		sync_collect_garbage(a->sync);
		sync_get_stats(a->sync, &st);
		a->synced_once = true;
		xlb_log(LOG_INFO, "first sync done: %zu services, %llu map writes in %.3f s, "
			"%.3f s after the last LIST ended", k.n,
			(unsigned long long)st.map_writes, now_s() - t0, now_s() - list_end);
	}
	if (a->hc_dirty)
		reconcile_health_checks(a);
	xlb_metrics_external_ips_skipped(a->xm, a->totals.ext_ips_skipped,
					 a->totals.ext_ip_services);
	xlb_metrics_no_local_endpoints(a->xm, IPF_V4, POLICY_INTERNAL, a->totals.no_local_internal);
	xlb_metrics_no_local_endpoints(a->xm, IPF_V4, POLICY_EXTERNAL, a->totals.no_local_external);
	xlb_metrics_sync_done(a->xm, IPF_ALL, now_s() - t0, now_s());
	health_updated(a->health, IPF_ALL, now_s());
out:
	model_state_free(&node);
	keys_free(&k);
}

/* ---- set-up ------------------------------------------------------------- */

static void attach_pod_dev(int ifindex, const char *name, void *arg)
{
	struct agent *a = arg;
	char key[64], err[256];

	snprintf(key, sizeof(key), "%d:%s", ifindex, name);
	if (strmap_get(&a->pod_devs, key))
		return;
	if (dp_attach_tc(&a->dp, ifindex, err, sizeof(err))) {
		xlb_log(LOG_WARNING, "pod device: %s", err);
		return;
	}
	strmap_put(&a->pod_devs, key, a);
	xlb_log(LOG_INFO, "attached tc to pod device %s", name);
}

static int attach_devices(struct agent *a)
{
	char names[16][IF_NAMESIZE], err[256], *copy, *save, *tok;
	int n = 0, ifindex;

	if (a->opt.devices) {
		copy = strdup(a->opt.devices);
		for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && n < 16;
		     tok = strtok_r(NULL, ",", &save))
			snprintf(names[n++], IF_NAMESIZE, "%s", tok);
		free(copy);
	} else {
		n = netdev_default_route(names, 16);
	}
	if (!n)
		xlb_log(LOG_WARNING, "no external device (none given, no default route): "
			"only pod devices are served");
	for (int i = 0; i < n; i++) {
		ifindex = if_nametoindex(names[i]);
		if (!ifindex) {
			xlb_log(LOG_ERR, "--devices: no interface '%s'", names[i]);
			return -1;
		}
		if (dp_attach_xdp(&a->dp, ifindex, a->opt.xdp_mode, err, sizeof(err)) ||
		    dp_attach_tc(&a->dp, ifindex, err, sizeof(err))) {
			xlb_log(LOG_ERR, "%s", err);
			return -1;
		}
		xlb_log(LOG_INFO, "attached to external device %s (xdp %s)", names[i],
			a->opt.xdp_mode == XDP_MODE_OFF ? "off" :
			a->opt.xdp_mode == XDP_MODE_GENERIC ? "generic" : "native");
	}
	if (dp_attach_cgroup(&a->dp, a->opt.cgroup_root, err, sizeof(err))) {
		xlb_log(LOG_ERR, "socket hooks: %s", err);
		return -1;
	}
	return 0;
}

/* Scrape time: the data path's counters and the maps' occupancy. */
static void collect(struct metrics *reg, void *arg)
{
	struct agent *a = arg;
	__u64 drops[XLB_DROP_MAX], skips[XLB_SKIP_MAX], pk[XLB_PACKETS_MAX];
	struct sync_stats st;

	maps_read_counters(&a->dp.maps, XLB_MAP_DROPS, drops, XLB_DROP_MAX);
	maps_read_counters(&a->dp.maps, XLB_MAP_SKIPS, skips, XLB_SKIP_MAX);
	maps_read_counters(&a->dp.maps, XLB_MAP_PACKETS, pk, XLB_PACKETS_MAX);
	for (int i = 0; i < XLB_DROP_MAX; i++)
		metric_set(a->xm->drops, METRIC_LV(xlb_drop_names[i]), drops[i]);
	for (int i = 0; i < XLB_SKIP_MAX; i++)
		metric_set(a->xm->skips, METRIC_LV(xlb_skip_names[i]), skips[i]);
	for (int h = 0; h < XLB_HOOK_MAX; h++)
		for (int v = 0; v < XLB_VERDICT_MAX; v++)
			metric_set(a->xm->packets, METRIC_LV(xlb_hook_names[h], xlb_verdict_names[v]),
				   pk[XLB_PACKETS_INDEX(h, v)]);
	pthread_mutex_lock(&a->lock);
	sync_get_stats(a->sync, &st);
	pthread_mutex_unlock(&a->lock);
	metric_set(a->xm->map_entries, METRIC_LV("services"), st.svc_ports);
	metric_set(a->xm->map_entries, METRIC_LV("backends"), st.backends);
	metric_set(a->map_writes, METRIC_LV(), st.map_writes);
	for (int i = 0; i < XLB_MAP_N; i++)
		metric_set(a->xm->map_max_entries, METRIC_LV(maps_pin_name(i)),
			   maps_capacity(&a->dp.maps, i));
}

static void log_kube(void *ctx, int level, const char *msg)
{
	xlb_log(level, "%s", msg);
}

static int start_watch(struct agent *a, struct resource *r, const char *name, const char *path,
		       const char *labels, const char *fields)
{
	struct kube_watch_spec spec = {
		.name = name, .path = path, .label_selector = labels, .field_selector = fields,
		.on_list_begin = on_list_begin, .on_object = on_object,
		.on_list_end = on_list_end, .on_event = on_event, .user = r,
	};
	char err[512];

	r->watch = kube_watch_start(a->conn, &spec, err, sizeof(err));
	if (!r->watch)
		xlb_log(LOG_ERR, "watch %s: %s", name, err);
	return r->watch ? 0 : -1;
}

static int start_kube(struct agent *a)
{
	static const char *const proxy_labels =
		"!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
	struct kube_conn_opts ko = { .kubeconfig = a->opt.kubeconfig, .master = a->opt.master,
				     .log = log_kube };
	char err[512], fields[512];

	a->conn = kube_conn_new(&ko, err, sizeof(err));
	if (!a->conn) {
		xlb_log(LOG_ERR, "kubernetes client: %s", err);
		return -1;
	}
	xlb_log(LOG_INFO, "API server %s, node %s", kube_conn_server(a->conn), a->opt.hostname);
	snprintf(fields, sizeof(fields), "metadata.name=%s", a->opt.hostname);
	return start_watch(a, &a->node, "nodes", "/api/v1/nodes", NULL, fields) ||
	       start_watch(a, &a->services, "services", "/api/v1/services", proxy_labels, NULL) ||
	       start_watch(a, &a->slices, "endpointslices",
			   "/apis/discovery.k8s.io/v1/endpointslices", proxy_labels, NULL);
}

static int start_http(struct agent *a)
{
	char err[512];

	a->xm = xlb_metrics_new();
	a->health = health_new(2.0 * a->opt.sync_period_s);
	if (!a->xm || !a->health)
		return -1;
	a->map_writes = metrics_register(a->xm->reg, METRIC_COUNTER, "xlb_sync_map_writes_total",
					 "BPF map updates and deletes issued by the sync", NULL,
					 NULL, 0);
	if (!a->map_writes)
		return -1;
	metrics_add_collector(a->xm->reg, collect, a);
	if (metrics_server_start(&a->metrics_srv, a->opt.metrics_bind, a->xm->reg, err,
				 sizeof(err)) ||
	    health_server_start(&a->health_srv, a->opt.healthz_bind, a->health, a->xm, err,
				sizeof(err))) {
		xlb_log(LOG_ERR, "%s", err);
		return -1;
	}
	a->hc_srv = hc_server_new(a->health, NULL, 0, err, sizeof(err));
	if (!a->hc_srv)
		xlb_log(LOG_WARNING, "health check node ports disabled: %s", err);
	return 0;
}

static void init_resources(struct agent *a)
{
	a->services = (struct resource){ .a = a, .kind = "Service", .decode = dec_service,
		.free_obj = free_service, .upsert = upsert_service, .remove = remove_service,
		.replace = replace_services };
	a->slices = (struct resource){ .a = a, .kind = "EndpointSlice", .decode = dec_slice,
		.free_obj = free_slice, .upsert = upsert_slice, .remove = remove_slice,
		.replace = replace_slices };
	a->node = (struct resource){ .a = a, .kind = "Node", .decode = dec_node,
		.free_obj = free_node, .upsert = upsert_node, .remove = remove_node,
		.replace = replace_node };
}

static int start(struct agent *a)
{
	char err[512];

	if (dp_load(&a->dp, a->opt.bpffs, &a->opt.sizes, err, sizeof(err))) {
		xlb_log(LOG_ERR, "data path: %s", err);
		return -1;
	}
	xlb_log(LOG_INFO, "data path loaded, pinned at %s%s", a->opt.bpffs,
		a->dp.adopted ? " (adopted the pinned maps: flows continue)" : "");
	a->sync = sync_new(&a->dp.maps, a->opt.maglev);
	if (!a->sync || sync_adopt(a->sync, err, sizeof(err))) {
		xlb_log(LOG_ERR, "%s", a->sync ? err : "out of memory");
		return -1;
	}
	a->n_host_addrs = netdev_host_addrs(a->host_addrs, MAX_HOST_ADDRS);
	a->mcfg = (struct model_config){
		.node_name = a->opt.hostname, .nodeport_primary = a->opt.nodeport_primary,
		.nodeport_cidrs = a->opt.nodeport_cidrs, .n_nodeport_cidrs = a->opt.n_nodeport_cidrs,
		.host_addrs = a->host_addrs, .n_host_addrs = a->n_host_addrs,
		.allow_external_ips = a->opt.allow_external_ips,
		.cluster_cidrs = a->opt.cluster_cidrs, .n_cluster_cidrs = a->opt.n_cluster_cidrs,
		.service_cidrs = a->opt.service_cidrs, .n_service_cidrs = a->opt.n_service_cidrs,
	};
	if (attach_devices(a) || start_http(a))
		return -1;
	init_resources(a);
	return start_kube(a);
}

/* Waits up to a second for something to sync; true when there is. */
static bool wait_for_work(struct agent *a)
{
	struct timespec ts;
	bool work;

	pthread_mutex_lock(&a->lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	/* Nothing is programmed before Services, EndpointSlices and this Node
	 * are listed: a first sync without the Node would reprogram adopted
	 * state (NodePort addresses, tables) without the node's addresses. */
	for (;;) {
		work = a->services.listed && a->slices.listed && a->node.listed &&
		       (a->pending.n || a->node_changed || !a->synced_once);
		if (work || stopping ||
		    pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return work && !stopping;
}

static void stop(struct agent *a)
{
	struct resource *rs[] = { &a->services, &a->slices, &a->node };
	struct strmap_entry *e;
	size_t i = 0;

	for (size_t r = 0; r < 3; r++) {
		kube_watch_stop(rs[r]->watch);
		on_list_begin(rs[r]);
		free(rs[r]->items);
	}
	kube_conn_free(a->conn);
	hc_server_free(a->hc_srv);
	http_server_stop(a->metrics_srv);
	http_server_stop(a->health_srv);
	while (strmap_next(&a->counts, &i, &e))
		free(e->value);
	i = 0;
	while (strmap_next(&a->hc, &i, &e))
		free(e->value);
	strmap_free(&a->counts);
	strmap_free(&a->hc);
	strmap_free(&a->pod_devs);
	health_free(a->health);
	xlb_metrics_free(a->xm);
	sync_free(a->sync);
	dp_close(&a->dp);	/* programs and maps stay pinned and attached */
	store_free(a->store);
	store_changes_free(&a->pending);
	options_free(&a->opt);
}

int cmd_agent(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct agent *a = calloc(1, sizeof(*a));
	char err[512];
	int rc;

	if (!a)
		return 1;
	rc = options_parse(&a->opt, argc, argv, err, sizeof(err));
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "xlb agent: %s\n", err);
		options_free(&a->opt);
		free(a);
		return rc < 0 ? 2 : 0;
	}
	/* One arena per watch thread would keep each thread's freed LIST
	 * garbage as resident memory; objects outlive their thread anyway. */
	mallopt(M_ARENA_MAX, 1);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	store_changes_init(&a->pending);
	strmap_init(&a->counts);
	strmap_init(&a->hc);
	strmap_init(&a->pod_devs);
	a->store = store_new();
	xlb_log(LOG_INFO, "starting: node %s, AllowServiceExternalIPs=%s, pins %s",
		a->opt.hostname, a->opt.allow_external_ips ? "true" : "false", a->opt.bpffs);
	rc = a->store && !start(a) ? 0 : 1;
	while (!rc && !stopping) {
		bool work = wait_for_work(a);

		if (a->opt.pod_devices)
			netdev_for_each_match(a->opt.pod_devices, attach_pod_dev, a);
		if (work)
			run_sync(a);
	}
	xlb_log(LOG_INFO, "stopping: the data path stays attached and pinned");
	stop(a);
	free(a);
	return rc;
}
