// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Service model; see model.h and README-model.md. Mirrors kube-proxy's
 * pkg/proxy/serviceport.go, endpointslicecache.go and topology.go. */
#define _GNU_SOURCE	/* asprintf */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "model.h"

/* What the Node and the flags say about this node, computed once per build. */
struct node_info {
	const char *name;
	const char *zone;
	struct xlb_ip primary[2];	/* [0] IPv4, [1] IPv6; family 0 = none */
	struct xlb_ip *np_addrs;
	size_t n_np_addrs;
};

/* An endpoint of one Service port before the sets are chosen. */
struct candidate {
	struct model_endpoint ep;
	const struct kube_hints *hints;	/* NULL = none */
};

static int fam_index(__u8 family)
{
	return family == XLB_FAM_V6;
}

static const char *proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	default:
		return "TCP";
	}
}

/* ---- node --------------------------------------------------------------- */

/* kube-proxy's GetNodeHostIPs: InternalIPs first, then ExternalIPs; the first
 * of each family. */
static void node_primary_ips(const struct kube_node *node, struct xlb_ip primary[2])
{
	static const enum kube_node_addr_type order[] = {
		KUBE_NODE_INTERNAL_IP, KUBE_NODE_EXTERNAL_IP,
	};
	size_t i, t;

	memset(primary, 0, 2 * sizeof(*primary));
	for (t = 0; node && t < 2; t++) {
		for (i = 0; i < node->n_addrs; i++) {
			const struct kube_node_addr *a = &node->addrs[i];
			struct xlb_ip *p = &primary[fam_index(a->ip.family)];

			if (a->type == order[t] && !p->family)
				*p = a->ip;
		}
	}
}

static bool in_prefixes(const struct xlb_prefix *p, size_t n, const struct xlb_ip *ip)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (xlb_prefix_contains(&p[i], ip))
			return true;
	}
	return false;
}

/* Adds ip to the NodePort addresses unless loopback (never serves
 * NodePorts), outside the CIDRs, or already there. */
static void np_addr_add(struct node_info *ni, const struct model_config *cfg,
			const struct xlb_ip *ip)
{
	size_t i;

	if (!ip->family || xlb_ip_is_loopback(ip))
		return;
	if (!cfg->nodeport_primary &&
	    !in_prefixes(cfg->nodeport_cidrs, cfg->n_nodeport_cidrs, ip))
		return;
	for (i = 0; i < ni->n_np_addrs; i++) {
		if (xlb_ip_equal(&ni->np_addrs[i], ip))
			return;
	}
	ni->np_addrs[ni->n_np_addrs++] = *ip;
}

static int node_info_init(struct node_info *ni, const struct store *st,
			  const struct model_config *cfg)
{
	const struct kube_node *node = store_node(st);
	size_t i, max = 2 + cfg->n_host_addrs + (node ? node->n_addrs : 0);

	memset(ni, 0, sizeof(*ni));
	ni->name = cfg->node_name ? cfg->node_name : "";
	ni->zone = node ? node->zone : NULL;
	node_primary_ips(node, ni->primary);
	ni->np_addrs = calloc(max, sizeof(*ni->np_addrs));
	if (!ni->np_addrs)
		return -ENOMEM;
	if (cfg->nodeport_primary) {
		np_addr_add(ni, cfg, &ni->primary[0]);
		np_addr_add(ni, cfg, &ni->primary[1]);
		return 0;
	}
	for (i = 0; node && i < node->n_addrs; i++)
		np_addr_add(ni, cfg, &node->addrs[i].ip);
	for (i = 0; i < cfg->n_host_addrs; i++)
		np_addr_add(ni, cfg, &cfg->host_addrs[i]);
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

static bool has_name(char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++) {
		if (!strcmp(names[i], name))
			return true;
	}
	return false;
}

static bool is_local(const struct kube_endpoint *e, const struct node_info *ni)
{
	return *ni->name && e->node_name && !strcmp(e->node_name, ni->name);
}

static int cand_cmp(const void *a, const void *b)
{
	const struct model_endpoint *x = &((const struct candidate *)a)->ep;
	const struct model_endpoint *y = &((const struct candidate *)b)->ep;
	int c = xlb_ip_cmp(&x->ip, &y->ip);

	return c ? c : (int)x->port - (int)y->port;
}

/* Of two copies of one IP:port, the non-terminating one wins; then the
 * local one (endpointslicecache.go). */
static bool better_copy(const struct candidate *a, const struct candidate *b)
{
	if (a->ep.terminating != b->ep.terminating)
		return !a->ep.terminating;
	return a->ep.is_local && !b->ep.is_local;
}

/* Sorts by IP:port and keeps one copy of each; returns the new count. */
static size_t dedup(struct candidate *c, size_t n)
{
	size_t i, out = 0;

	qsort(c, n, sizeof(*c), cand_cmp);
	for (i = 0; i < n; i++) {
		if (out && !cand_cmp(&c[out - 1], &c[i])) {
			if (better_copy(&c[i], &c[out - 1]))
				c[out - 1] = c[i];
			continue;
		}
		c[out++] = c[i];
	}
	return out;
}

/* The slice port of a Service port: same name and protocol, non-zero port. */
static const struct kube_slice_port *slice_port(const struct kube_slice *s,
						const struct kube_svc_port *sp)
{
	size_t i;

	for (i = 0; i < s->n_ports; i++) {
		const struct kube_slice_port *p = &s->ports[i];

		if (p->name && p->port && p->proto == sp->proto && !strcmp(p->name, sp->name))
			return p;
	}
	return NULL;
}

static bool slice_of_family(const struct kube_slice *s, __u8 family)
{
	return s->addr_type == (family == XLB_FAM_V4 ? KUBE_ADDR_IPV4 : KUBE_ADDR_IPV6);
}

/* Every endpoint of the Service port across its slices of the family. */
static int gather(const struct kube_slice *slices, __u8 family, const struct kube_svc_port *sp,
		  const struct node_info *ni, struct candidate **out, size_t *n_out)
{
	const struct kube_slice *s;
	struct candidate *c;
	size_t j, n = 0;

	for (s = slices; s; s = s->next_of_service) {
		if (slice_of_family(s, family) && slice_port(s, sp))
			n += s->n_endpoints;
	}
	*out = NULL;
	*n_out = 0;
	if (!n)
		return 0;
	c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	n = 0;
	for (s = slices; s; s = s->next_of_service) {
		const struct kube_slice_port *p;

		if (!slice_of_family(s, family) || !(p = slice_port(s, sp)))
			continue;
		for (j = 0; j < s->n_endpoints; j++) {
			struct kube_endpoint e;

			kube_slice_endpoint(s, j, &e);
			c[n].hints = e.hints;
			c[n].ep = (struct model_endpoint){
				.ip = e.ip,
				.port = p->port,
				.is_local = is_local(&e, ni),
				.ready = e.ready,
				.serving = e.serving,
				.terminating = e.terminating,
			};
			n++;
		}
	}
	*out = c;
	*n_out = dedup(c, n);
	return 0;
}

enum topo_mode {
	TOPO_NONE,
	TOPO_SAME_NODE,
	TOPO_SAME_ZONE,
};

/* topology.go topologyModeFromHints: only ready endpoints count. Node hints
 * win when every ready endpoint has one and one names this node; else zone
 * hints likewise with the node's zone label. */
static enum topo_mode topology_mode(const struct candidate *c, size_t n, const struct node_info *ni)
{
	bool any_ready = false, all_nodes = true, all_zones = true;
	bool for_node = false, for_zone = false;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct kube_hints *h = c[i].hints;

		if (!c[i].ep.ready)
			continue;
		any_ready = true;
		if (!h || !h->n_for_nodes)
			all_nodes = false;
		else if (has_name(h->for_nodes, h->n_for_nodes, ni->name))
			for_node = true;
		if (!h || !h->n_for_zones)
			all_zones = false;
		else if (has_name(h->for_zones, h->n_for_zones, ni->zone))
			for_zone = true;
	}
	if (!any_ready)
		return TOPO_NONE;
	if (all_nodes && for_node)
		return TOPO_SAME_NODE;
	if (all_zones && for_zone)
		return TOPO_SAME_ZONE;
	return TOPO_NONE;
}

static bool topo_allows(const struct candidate *c, enum topo_mode mode, const struct node_info *ni)
{
	const struct kube_hints *h = c->hints;

	switch (mode) {
	case TOPO_SAME_NODE:
		return h && has_name(h->for_nodes, h->n_for_nodes, ni->name);
	case TOPO_SAME_ZONE:
		return h && has_name(h->for_zones, h->n_for_zones, ni->zone);
	default:
		return true;
	}
}

static bool serving_terminating(const struct model_endpoint *e)
{
	return e->serving && e->terminating;
}

/* Copies the candidates passing keep() into a fresh array. */
static int select_eps(const struct candidate *c, size_t n,
		      bool (*keep)(const struct candidate *, const void *), const void *arg,
		      struct model_endpoint **out, size_t *n_out)
{
	size_t i;

	*out = NULL;
	*n_out = 0;
	for (i = 0; i < n; i++) {
		if (!keep(&c[i], arg))
			continue;
		if (!*out && !(*out = calloc(n, sizeof(**out))))
			return -ENOMEM;
		(*out)[(*n_out)++] = c[i].ep;
	}
	return 0;
}

struct topo_arg {
	enum topo_mode mode;
	const struct node_info *ni;
};

static bool keep_ready_topo(const struct candidate *c, const void *arg)
{
	const struct topo_arg *t = arg;

	return c->ep.ready && topo_allows(c, t->mode, t->ni);
}

static bool keep_serving_terminating(const struct candidate *c, const void *arg)
{
	return serving_terminating(&c->ep);
}

static bool keep_local_ready(const struct candidate *c, const void *arg)
{
	return c->ep.is_local && c->ep.ready;
}

static bool keep_local_serving_terminating(const struct candidate *c, const void *arg)
{
	return c->ep.is_local && serving_terminating(&c->ep);
}

/* topology.go CategorizeEndpoints, computing both sets always (ETP Local
 * still sends pod and node traffic to the Cluster set). */
static int categorize(const struct candidate *c, size_t n, const struct node_info *ni,
		      struct model_svc_port *mp)
{
	struct topo_arg t = { topology_mode(c, n, ni), ni };
	size_t i;
	int err;

	err = select_eps(c, n, keep_ready_topo, &t, &mp->cluster, &mp->n_cluster);
	if (!err && !mp->n_cluster)
		err = select_eps(c, n, keep_serving_terminating, NULL, &mp->cluster,
				 &mp->n_cluster);
	if (!err)
		err = select_eps(c, n, keep_local_ready, NULL, &mp->local, &mp->n_local);
	if (!err && !mp->n_local)
		err = select_eps(c, n, keep_local_serving_terminating, NULL, &mp->local,
				 &mp->n_local);
	for (i = 0; i < n; i++) {
		if (c[i].ep.ready || serving_terminating(&c[i].ep))
			mp->has_endpoints = true;
	}
	return err;
}

/* kube-proxy's LocalReadyEndpoints: distinct local ready IPs over every
 * usable slice port of the Service (per family). */
static int count_local_ready(const struct kube_slice *slices, __u8 family,
			     const struct node_info *ni, __u32 *count)
{
	const struct kube_slice *s;
	struct candidate *c = NULL;
	size_t j, n = 0, max = 0;

	for (s = slices; s; s = s->next_of_service)
		max += s->n_endpoints;
	*count = 0;
	if (!max)
		return 0;
	c = calloc(max, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (s = slices; s; s = s->next_of_service) {
		bool usable = false;

		for (j = 0; j < s->n_ports; j++)
			usable |= s->ports[j].name && s->ports[j].port;
		if (!usable || !slice_of_family(s, family))
			continue;
		for (j = 0; j < s->n_endpoints; j++) {
			struct kube_endpoint e;

			kube_slice_endpoint(s, j, &e);
			if (e.ready && is_local(&e, ni))
				c[n++].ep.ip = e.ip;
		}
	}
	*count = (__u32)dedup(c, n);
	free(c);
	return 0;
}

/* ---- frontends ---------------------------------------------------------- */

static struct model_frontend *fe_add(struct model_svc_port *mp, __u8 kind,
				     const struct xlb_ip *addr, __u16 port)
{
	struct model_frontend *fe = &mp->fes[mp->n_fes++];

	fe->kind = kind;
	fe->addr = *addr;
	fe->port = port;
	fe->proto = mp->proto;
	return fe;
}

static int build_frontends(const struct kube_service *svc, const struct kube_svc_port *sp,
			   const struct xlb_ip *cip, const struct node_info *ni,
			   const struct model_config *cfg, struct model_svc_port *mp)
{
	size_t i, max = 1 + ni->n_np_addrs + svc->n_ingress + svc->n_external_ips;

	mp->fes = calloc(max, sizeof(*mp->fes));
	if (!mp->fes)
		return -ENOMEM;
	fe_add(mp, XLB_FE_CLUSTER_IP, cip, sp->port);
	for (i = 0; sp->node_port && i < ni->n_np_addrs; i++) {
		if (ni->np_addrs[i].family == mp->family)
			fe_add(mp, XLB_FE_NODE_PORT, &ni->np_addrs[i], sp->node_port);
	}
	for (i = 0; i < svc->n_ingress; i++) {
		if (svc->ingress[i].vip && svc->ingress[i].ip.family == mp->family)
			fe_add(mp, XLB_FE_LOAD_BALANCER, &svc->ingress[i].ip, sp->port);
	}
	for (i = 0; i < svc->n_external_ips; i++) {
		if (svc->external_ips[i].family == mp->family)
			fe_add(mp, XLB_FE_EXTERNAL_IP, &svc->external_ips[i], sp->port)->gated =
				!cfg->allow_external_ips;
	}
	return 0;
}

/* serviceport.go ExternallyAccessible, for this family; gated externalIPs
 * do not exist as far as traffic is concerned. */
static bool externally_accessible(const struct model_svc_port *mp)
{
	size_t i;

	for (i = 0; i < mp->n_fes; i++) {
		if (mp->fes[i].kind != XLB_FE_CLUSTER_IP && !mp->fes[i].gated)
			return true;
	}
	return false;
}

/* Ranges of the family; when one holds the node's address, the LB IPs are
 * allowed as sources too (a node reaching its own VIP loops back with the
 * VIP as source). */
static int build_source_ranges(const struct kube_service *svc, const struct node_info *ni,
			       struct model_svc_port *mp)
{
	const struct xlb_ip *node_ip = &ni->primary[fam_index(mp->family)];
	size_t i, max = svc->n_source_ranges + svc->n_ingress;
	bool from_node = false;

	for (i = 0; i < svc->n_source_ranges; i++) {
		const struct xlb_prefix *p = &svc->source_ranges[i];

		if (p->ip.family != mp->family)
			continue;
		if (!mp->source_ranges && !(mp->source_ranges = calloc(max, sizeof(*p))))
			return -ENOMEM;
		mp->source_ranges[mp->n_source_ranges++] = *p;
		from_node |= node_ip->family && xlb_prefix_contains(p, node_ip);
	}
	for (i = 0; from_node && i < mp->n_fes; i++) {
		struct xlb_prefix *p = &mp->source_ranges[mp->n_source_ranges];

		if (mp->fes[i].kind != XLB_FE_LOAD_BALANCER)
			continue;
		p->ip = mp->fes[i].addr;
		p->len = mp->family == XLB_FAM_V4 ? 32 : 128;
		mp->n_source_ranges++;
	}
	return 0;
}

/* ---- one Service port ----------------------------------------------------- */

static void svc_port_free(struct model_svc_port *mp)
{
	free(mp->key);
	free(mp->svc_key);
	free(mp->port_name);
	free(mp->cluster);
	free(mp->local);
	free(mp->fes);
	free(mp->source_ranges);
	memset(mp, 0, sizeof(*mp));
}

static struct model_svc_port *state_new_port(struct model_state *out)
{
	if (out->n_ports == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 64;
		struct model_svc_port *p = realloc(out->ports, cap * sizeof(*p));

		if (!p)
			return NULL;
		out->ports = p;
		out->cap = cap;
	}
	memset(&out->ports[out->n_ports], 0, sizeof(out->ports[0]));
	return &out->ports[out->n_ports++];
}

/* Everything about one Service, one family, that does not depend on the
 * port: shared by the ports. */
struct svc_family {
	const struct kube_service *svc;
	const char *svc_key;
	__u8 family;
	const struct xlb_ip *cip;
	const struct kube_slice *slices;	/* chained by next_of_service */
	__u32 local_ready;
	int64_t trigger_time_ns;
};

static int svc_port_flags(const struct svc_family *f, const struct node_info *ni,
			  struct model_svc_port *mp)
{
	const struct kube_service *svc = f->svc;
	bool etp_local = svc->etp_local && externally_accessible(mp);
	int err;

	err = build_source_ranges(svc, ni, mp);
	if (err)
		return err;
	if (etp_local)
		mp->flags |= XLB_SVC_ETP_LOCAL;
	if (svc->itp_local)
		mp->flags |= XLB_SVC_ITP_LOCAL;
	if (svc->affinity) {
		mp->flags |= XLB_SVC_AFFINITY;
		mp->affinity_timeout = svc->affinity_timeout;
	}
	if (mp->n_source_ranges)
		mp->flags |= XLB_SVC_SOURCE_RANGES;
	if (svc->type == KUBE_SVC_LOAD_BALANCER && svc->etp_local)
		mp->health_check_node_port = svc->health_check_node_port;
	return 0;
}

static void count_no_local(const struct model_svc_port *mp, struct model_counts *counts)
{
	if (!mp->has_endpoints || mp->n_local)
		return;
	if (mp->flags & XLB_SVC_ITP_LOCAL)
		counts->no_local_internal++;
	if (mp->flags & XLB_SVC_ETP_LOCAL)
		counts->no_local_external++;
}

static int fill_svc_port(const struct svc_family *f, const struct kube_svc_port *sp,
			 const struct node_info *ni, const struct model_config *cfg,
			 struct model_svc_port *mp)
{
	struct candidate *c;
	size_t n;
	int err;

	mp->family = f->family;
	mp->proto = sp->proto;
	mp->port = sp->port;
	mp->local_ready = f->local_ready;
	mp->trigger_time_ns = f->trigger_time_ns;
	mp->svc_key = strdup(f->svc_key);
	mp->port_name = strdup(sp->name);
	if (asprintf(&mp->key, "%s:%s:%s:v%d", f->svc_key, sp->name, proto_name(sp->proto),
		     f->family) < 0)
		mp->key = NULL;
	if (!mp->svc_key || !mp->port_name || !mp->key)
		return -ENOMEM;
	err = build_frontends(f->svc, sp, f->cip, ni, cfg, mp);
	if (!err)
		err = svc_port_flags(f, ni, mp);
	if (!err)
		err = gather(f->slices, f->family, sp, ni, &c, &n);
	if (err)
		return err;
	err = categorize(c, n, ni, mp);
	free(c);
	return err;
}

static int build_family(const struct svc_family *f, const struct node_info *ni,
			const struct model_config *cfg, struct model_state *out)
{
	size_t i;
	int err;

	for (i = 0; i < f->svc->n_ports; i++) {
		struct model_svc_port *mp = state_new_port(out);

		if (!mp)
			return -ENOMEM;
		err = fill_svc_port(f, &f->svc->ports[i], ni, cfg, mp);
		if (err)
			return err;
		count_no_local(mp, &out->counts);
	}
	return 0;
}

static int64_t latest_trigger(const struct kube_slice *slices, __u8 family)
{
	const struct kube_slice *s;
	int64_t t = 0;

	for (s = slices; s; s = s->next_of_service) {
		if (slice_of_family(s, family) && s->trigger_time_ns > t)
			t = s->trigger_time_ns;
	}
	return t;
}

/* kube-proxy's ShouldSkipService, plus the label selector of the watch. */
static bool skip_service(const struct kube_service *svc)
{
	return svc->headless || svc->type == KUBE_SVC_EXTERNAL_NAME || svc->proxy_excluded;
}

static int build_one(const struct store *st, const struct model_config *cfg,
		     const struct node_info *ni, const struct kube_service *svc,
		     struct model_state *out)
{
	struct svc_family f = { .svc = svc };
	char key[STORE_KEY_MAX];
	size_t i;
	int err;

	if (skip_service(svc))
		return 0;
	f.svc_key = store_key(svc->meta.ns, svc->meta.name, key, sizeof(key));
	f.slices = store_slices_of(st, f.svc_key);
	if (!cfg->allow_external_ips && svc->n_external_ips) {
		out->counts.ext_ips_skipped += (unsigned int)svc->n_external_ips;
		out->counts.ext_ip_services++;
	}
	for (i = 0; i < svc->n_cluster_ips; i++) {
		f.cip = &svc->cluster_ips[i];
		f.family = f.cip->family;
		f.trigger_time_ns = latest_trigger(f.slices, f.family);
		err = count_local_ready(f.slices, f.family, ni, &f.local_ready);
		if (!err)
			err = build_family(&f, ni, cfg, out);
		if (err)
			return err;
	}
	return 0;
}

/* ---- entry points --------------------------------------------------------- */

void model_state_init(struct model_state *out)
{
	memset(out, 0, sizeof(*out));
}

void model_state_free(struct model_state *out)
{
	size_t i;

	for (i = 0; i < out->n_ports; i++)
		svc_port_free(&out->ports[i]);
	free(out->ports);
	free(out->nodeport_addrs);
	model_state_init(out);
}

/* Hands the node's addresses to the state. */
static void state_set_node(struct model_state *out, struct node_info *ni)
{
	out->node_ips[0] = ni->primary[0];
	out->node_ips[1] = ni->primary[1];
	out->nodeport_addrs = ni->np_addrs;
	out->n_nodeport_addrs = ni->n_np_addrs;
}

struct build_ctx {
	const struct store *st;
	const struct model_config *cfg;
	const struct node_info *ni;
	struct model_state *out;
};

static int build_cb(const struct kube_service *svc, void *arg)
{
	struct build_ctx *b = arg;

	return build_one(b->st, b->cfg, b->ni, svc, b->out);
}

static int port_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct model_svc_port *)a)->key,
		      ((const struct model_svc_port *)b)->key);
}

int model_build(const struct store *st, const struct model_config *cfg, struct model_state *out)
{
	struct node_info ni;
	struct build_ctx b = { st, cfg, &ni, out };
	int err;

	model_state_init(out);
	err = node_info_init(&ni, st, cfg);
	if (err)
		return err;
	state_set_node(out, &ni);
	err = store_for_each_service(st, build_cb, &b);
	if (err) {
		model_state_free(out);
		return err;
	}
	if (out->n_ports)
		qsort(out->ports, out->n_ports, sizeof(*out->ports), port_key_cmp);
	return 0;
}

int model_build_service(const struct store *st, const struct model_config *cfg,
			const char *svc_key, struct model_state *out)
{
	const struct kube_service *svc = store_get_service(st, svc_key);
	struct node_info ni;
	int err;

	model_state_init(out);
	err = node_info_init(&ni, st, cfg);
	if (err)
		return err;
	state_set_node(out, &ni);
	err = svc ? build_one(st, cfg, &ni, svc, out) : 0;
	if (err)
		model_state_free(out);
	return err;
}

const struct model_svc_port *model_find(const struct model_state *s, const char *key)
{
	struct model_svc_port k = { .key = (char *)key };

	if (!s->n_ports)
		return NULL;
	return bsearch(&k, s->ports, s->n_ports, sizeof(k), port_key_cmp);
}
