// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One case per rule of SERVICES.md: each decodes a small Service, its
 * slices and the Node from JSON (written with ' for "), builds the model
 * and checks the outcome. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "model.h"
#include "store.h"
#include "json.h"
#include "test.h"

#define META "'metadata':{'namespace':'ns','name':'s'}"
#define PORT_HTTP "{'name':'http','port':80,'protocol':'TCP'}"
#define CIP4 "'clusterIP':'10.96.0.1'"
#define SVC(spec) "{" META ",'spec':{" spec "}}"
#define SVC_ST(spec, status) "{" META ",'spec':{" spec "},'status':" status "}"
#define BASIC SVC(CIP4 ",'ports':[" PORT_HTTP "]")
#define SLICE_N(name, type, ports, eps)                                          \
	"{'metadata':{'namespace':'ns','name':'" name "','labels':"                  \
	"{'kubernetes.io/service-name':'s'}},'addressType':'" type "',"           \
	"'ports':" ports ",'endpoints':[" eps "]}"
#define SLICE(eps) SLICE_N("s-1", "IPv4", "[{'name':'http','port':8080}]", eps)
#define EP(ip, node) "{'addresses':['" ip "'],'nodeName':'" node "'}"
#define EPC(ip, node, cond) "{'addresses':['" ip "'],'nodeName':'" node "','conditions':{" cond "}}"
#define EPH(ip, node, hints) "{'addresses':['" ip "'],'nodeName':'" node "','hints':{" hints "}}"
#define NOT_READY "'ready':false"
#define TERMINATING "'ready':false,'serving':true,'terminating':true"
#define NODE_DEFAULT                                                                  \
	"{'metadata':{'name':'n1','labels':{'topology.kubernetes.io/zone':'z1'}},"    \
	"'status':{'addresses':[{'type':'Hostname','address':'n1'},"                  \
	"{'type':'ExternalIP','address':'203.0.113.9'},"                             \
	"{'type':'InternalIP','address':'192.0.2.10'},"                              \
	"{'type':'InternalIP','address':'2001:db8:0:1::10'}]}}"

#define K4 "ns/s:http:TCP:v4"
#define K6 "ns/s:http:TCP:v6"

struct mcase {
	const char *name;
	const char *svc;
	const char *slices[4];
	void (*tweak)(struct model_config *cfg);
	void (*check)(const struct model_state *ms);
};

static bool load(struct store *st, const char *json, char kind)
{
	cJSON *j = parse_quoted(json);
	struct decode_err err;
	struct kube_service *svc;
	struct kube_slice *sl;
	struct kube_node *node;
	int ret = -1;

	if (!CHECK(j, "bad test JSON: %s", json))
		return false;
	if (kind == 's' && !(ret = decode_service(j, &svc, &err)))
		ret = store_upsert_service(st, svc, NULL) < 0;
	if (kind == 'e' && !(ret = decode_slice(j, &sl, &err)))
		ret = store_upsert_slice(st, sl, NULL) < 0;
	if (kind == 'n' && !(ret = decode_node(j, &node, &err)))
		store_set_node(st, node);
	cJSON_Delete(j);
	return CHECK(!ret, "decode: %s", err.msg);
}

static void default_cfg(struct model_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->node_name = "n1";
	cfg->nodeport_primary = true;
}

/* ---- check helpers ---- */

static const struct model_svc_port *port(const struct model_state *ms, const char *key)
{
	const struct model_svc_port *mp = model_find(ms, key);

	CHECK(mp, "no service port %s (have %zu)", key, ms->n_ports);
	return mp;
}

static bool ip_is(const struct xlb_ip *ip, const char *text)
{
	struct xlb_ip want;

	return !xlb_ip_parse(text, &want) && xlb_ip_equal(ip, &want);
}

static bool has_ep(const struct model_endpoint *eps, size_t n, const char *ip, int p)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ip_is(&eps[i].ip, ip) && eps[i].port == p)
			return true;
	}
	return false;
}

static size_t n_fe(const struct model_svc_port *mp, __u8 kind)
{
	size_t i, n = 0;

	for (i = 0; i < mp->n_fes; i++)
		n += mp->fes[i].kind == kind;
	return n;
}

static const struct model_frontend *fe(const struct model_svc_port *mp, __u8 kind, const char *ip)
{
	size_t i;

	for (i = 0; i < mp->n_fes; i++) {
		if (mp->fes[i].kind == kind && ip_is(&mp->fes[i].addr, ip))
			return &mp->fes[i];
	}
	return NULL;
}

#define CLUSTER_IS(mp, n) CHECK((mp)->n_cluster == (n), "cluster set %zu, want %d", (mp)->n_cluster, n)
#define LOCAL_IS(mp, n) CHECK((mp)->n_local == (n), "local set %zu, want %d", (mp)->n_local, n)
#define IN_CLUSTER(mp, ip, p) CHECK(has_ep((mp)->cluster, (mp)->n_cluster, ip, p), "%s:%d not in cluster set", ip, p)
#define IN_LOCAL(mp, ip, p) CHECK(has_ep((mp)->local, (mp)->n_local, ip, p), "%s:%d not in local set", ip, p)
#define NO_PORTS(ms) CHECK((ms)->n_ports == 0, "%zu service ports, want none", (ms)->n_ports)

/* ---- cases ---- */

static void chk_basic(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(ms->n_ports == 1, "%zu ports", ms->n_ports);
	CHECK(mp->family == XLB_FAM_V4 && mp->proto == IPPROTO_TCP && mp->port == 80, "identity");
	CHECK(mp->n_fes == 1 && fe(mp, XLB_FE_CLUSTER_IP, "10.96.0.1") && mp->fes[0].port == 80,
	      "ClusterIP frontend");
	CLUSTER_IS(mp, 2);
	IN_CLUSTER(mp, "10.0.0.1", 8080);
	IN_CLUSTER(mp, "10.0.0.2", 8080);
	CHECK(mp->has_endpoints && mp->flags == 0, "flags %#x", mp->flags);
}

static void chk_none(const struct model_state *ms)
{
	NO_PORTS(ms);
}

static void chk_metrics_port(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 1);
	IN_CLUSTER(mp, "10.0.0.1", 8080);
}

static void chk_no_eps(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 0);
	LOCAL_IS(mp, 0);
	CHECK(!mp->has_endpoints, "has_endpoints set");
	CHECK(n_fe(mp, XLB_FE_CLUSTER_IP) == 1, "frontend must stay (to REJECT)");
}

static void chk_udp_no_eps(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, "ns/s:dns:UDP:v4");

	if (mp)
		CHECK(!mp->has_endpoints && !mp->n_cluster, "UDP joined a TCP slice port");
}

static void chk_addr0(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 1);
	IN_CLUSTER(mp, "10.0.0.1", 8080);
}

static void chk_dup(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 1);
	CHECK(mp->n_cluster == 1 && mp->cluster[0].ready && !mp->cluster[0].terminating,
	      "duplicate kept the terminating copy");
}

static void chk_merge(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 3);
	IN_CLUSTER(mp, "10.0.0.3", 8080);
}

/* The cluster set is exactly ip:8080; returns the port (NULL: none). */
static const struct model_svc_port *cluster_only(const struct model_state *ms, const char *ip)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return NULL;
	CLUSTER_IS(mp, 1);
	IN_CLUSTER(mp, ip, 8080);
	return mp;
}

static void chk_only_first(const struct model_state *ms)
{
	cluster_only(ms, "10.0.0.1");
}

static void chk_only_second(const struct model_state *ms)
{
	cluster_only(ms, "10.0.0.2");
}

static void chk_fallback_term(const struct model_state *ms)
{
	const struct model_svc_port *mp = cluster_only(ms, "10.0.0.2");

	if (mp)
		CHECK(mp->has_endpoints, "serving terminating endpoint is usable");
}

static void chk_local_ready(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 3);
	LOCAL_IS(mp, 1);
	IN_LOCAL(mp, "10.0.0.1", 8080);
	CHECK(mp->local[0].is_local, "is_local");
}

static void chk_local_fallback(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 1);
	IN_CLUSTER(mp, "10.0.0.2", 8080);
	LOCAL_IS(mp, 1);
	IN_LOCAL(mp, "10.0.0.1", 8080);
}

static void chk_unfiltered2(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CLUSTER_IS(mp, 2);
}

static void chk_hint_local(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CLUSTER_IS(mp, 1);
	IN_CLUSTER(mp, "10.0.0.2", 8080);
	LOCAL_IS(mp, 1);
	IN_LOCAL(mp, "10.0.0.1", 8080);
}

static void chk_itp(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->flags == XLB_SVC_ITP_LOCAL, "flags %#x", mp->flags);
}

static void chk_etp_np(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->flags == XLB_SVC_ETP_LOCAL, "flags %#x", mp->flags);
}

static void chk_flags_zero(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->flags == 0, "flags %#x", mp->flags);
}

static void chk_aff_default(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->flags == XLB_SVC_AFFINITY && mp->affinity_timeout == 10800,
		      "flags %#x timeout %u", mp->flags, mp->affinity_timeout);
}

static void chk_aff_60(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->flags == XLB_SVC_AFFINITY && mp->affinity_timeout == 60, "timeout %u",
		      mp->affinity_timeout);
}

static void chk_np_primary(const struct model_state *ms)
{
	const struct model_svc_port *m4 = port(ms, K4), *m6 = port(ms, K6);

	if (!m4 || !m6)
		return;
	CHECK(n_fe(m4, XLB_FE_NODE_PORT) == 1 && fe(m4, XLB_FE_NODE_PORT, "192.0.2.10") &&
	      fe(m4, XLB_FE_NODE_PORT, "192.0.2.10")->port == 30080, "v4 NodePort on primary");
	CHECK(n_fe(m6, XLB_FE_NODE_PORT) == 1 && fe(m6, XLB_FE_NODE_PORT, "2001:db8:0:1::10"),
	      "v6 NodePort on primary");
	CHECK(ms->n_nodeport_addrs == 2, "%zu nodeport addresses", ms->n_nodeport_addrs);
	CHECK(ip_is(&ms->node_ips[0], "192.0.2.10") && ip_is(&ms->node_ips[1], "2001:db8:0:1::10"),
	      "InternalIP before ExternalIP");
}

static void chk_np_none(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(n_fe(mp, XLB_FE_NODE_PORT) == 0, "nodePort 0 must give no NodePort");
	CHECK(n_fe(mp, XLB_FE_LOAD_BALANCER) == 1, "LB frontend");
}

static void cfg_np_cidrs(struct model_config *cfg)
{
	static struct xlb_prefix p[2];
	static struct xlb_ip host[3];

	xlb_prefix_parse("192.0.2.0/24", &p[0]);
	xlb_prefix_parse("127.0.0.0/8", &p[1]);
	xlb_ip_parse("192.0.2.77", &host[0]);
	xlb_ip_parse("127.0.0.1", &host[1]);
	xlb_ip_parse("198.51.100.7", &host[2]);
	cfg->nodeport_primary = false;
	cfg->nodeport_cidrs = p;
	cfg->n_nodeport_cidrs = 2;
	cfg->host_addrs = host;
	cfg->n_host_addrs = 3;
}

static void chk_np_cidrs(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(n_fe(mp, XLB_FE_NODE_PORT) == 2, "%zu NodePort frontends", n_fe(mp, XLB_FE_NODE_PORT));
	CHECK(fe(mp, XLB_FE_NODE_PORT, "192.0.2.10") && fe(mp, XLB_FE_NODE_PORT, "192.0.2.77"),
	      "addresses inside the CIDR");
	CHECK(!fe(mp, XLB_FE_NODE_PORT, "127.0.0.1"), "loopback must never serve NodePorts");
	CHECK(!fe(mp, XLB_FE_NODE_PORT, "198.51.100.7"), "address outside the CIDRs");
}

static void chk_lb_vip(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(n_fe(mp, XLB_FE_LOAD_BALANCER) == 2, "%zu LB frontends", n_fe(mp, XLB_FE_LOAD_BALANCER));
	CHECK(fe(mp, XLB_FE_LOAD_BALANCER, "198.51.100.1") && fe(mp, XLB_FE_LOAD_BALANCER, "198.51.100.2"),
	      "ipMode absent and VIP");
	CHECK(!fe(mp, XLB_FE_LOAD_BALANCER, "198.51.100.3"), "ipMode Proxy is left alone");
	CHECK(!fe(mp, XLB_FE_LOAD_BALANCER, "2001:db8:4::1"), "IPv6 ingress on the IPv4 port");
}

static void chk_eip_gated(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);
	const struct model_frontend *f;

	if (!mp)
		return;
	f = fe(mp, XLB_FE_EXTERNAL_IP, "198.51.100.9");
	CHECK(f && f->gated, "externalIP listed and gated");
	CHECK(ms->counts.ext_ips_skipped == 2 && ms->counts.ext_ip_services == 1,
	      "skipped %u services %u", ms->counts.ext_ips_skipped, ms->counts.ext_ip_services);
	CHECK(mp->flags == 0, "gated externalIP made ETP apply: %#x", mp->flags);
}

static void cfg_gate_on(struct model_config *cfg)
{
	cfg->allow_external_ips = true;
}

static void chk_eip_on(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);
	const struct model_frontend *f;

	if (!mp)
		return;
	f = fe(mp, XLB_FE_EXTERNAL_IP, "198.51.100.9");
	CHECK(f && !f->gated && f->port == 80, "externalIP programmed");
	CHECK(ms->counts.ext_ips_skipped == 0 && ms->counts.ext_ip_services == 0, "counts");
	CHECK(mp->flags == XLB_SVC_ETP_LOCAL, "ETP applies to externalIPs: %#x", mp->flags);
}

static void chk_ranges_family(const struct model_state *ms)
{
	const struct model_svc_port *m4 = port(ms, K4), *m6 = port(ms, K6);

	if (!m4 || !m6)
		return;
	CHECK(m4->n_source_ranges == 1 && m4->source_ranges[0].ip.family == XLB_FAM_V4, "v4 ranges");
	CHECK(m6->n_source_ranges == 1 && m6->source_ranges[0].len == 48, "v6 ranges");
	CHECK(m4->flags & XLB_SVC_SOURCE_RANGES, "flag");
}

static void chk_ranges_node(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(mp->n_source_ranges == 2, "%zu ranges", mp->n_source_ranges);
	CHECK(mp->n_source_ranges == 2 && ip_is(&mp->source_ranges[1].ip, "198.51.100.1") &&
	      mp->source_ranges[1].len == 32, "LB IP allowed as source");
}

static void chk_ranges_trim(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);
	char buf[XLB_IP_STRLEN];

	if (!mp)
		return;
	CHECK(mp->n_source_ranges == 1, "%zu ranges", mp->n_source_ranges);
	if (mp->n_source_ranges == 1)
		CHECK(!strcmp(xlb_prefix_format(&mp->source_ranges[0], buf, sizeof(buf)), "203.0.113.0/24"),
		      "got %s", buf);
}

static void chk_no_ranges_flag(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(!(mp->flags & XLB_SVC_SOURCE_RANGES) && !mp->n_source_ranges,
		      "a v6-only range list must not filter IPv4");
}

static void chk_dual(const struct model_state *ms)
{
	const struct model_svc_port *m4 = port(ms, K4), *m6 = port(ms, K6);

	if (!m4 || !m6)
		return;
	CHECK(fe(m4, XLB_FE_CLUSTER_IP, "10.96.0.1") && fe(m6, XLB_FE_CLUSTER_IP, "2001:db8:2::1"),
	      "one ClusterIP per family");
	CLUSTER_IS(m4, 1);
	IN_CLUSTER(m4, "10.0.0.1", 8080);
	CLUSTER_IS(m6, 1);
	IN_CLUSTER(m6, "2001:db8:1::1", 8080);
}

static void chk_v6_only(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K6);

	CHECK(ms->n_ports == 1 && !model_find(ms, K4), "IPv6-only Service has a v4 port");
	if (mp)
		CHECK(fe(mp, XLB_FE_CLUSTER_IP, "2001:db8:2::1") != NULL, "ClusterIP");
}

static void chk_leading_zero(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(fe(mp, XLB_FE_CLUSTER_IP, "172.30.0.41") != NULL, "172.30.0.041 is decimal");
	IN_CLUSTER(mp, "10.0.0.8", 8080);
}

static void chk_hc(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (!mp)
		return;
	CHECK(mp->health_check_node_port == 32000, "hc port %u", mp->health_check_node_port);
	CHECK(mp->local_ready == 2, "local ready IPs %u", mp->local_ready);
}

static void chk_hc_none(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);

	if (mp)
		CHECK(mp->health_check_node_port == 0, "NodePort Service has no health check");
}

static void chk_no_local(const struct model_state *ms)
{
	CHECK(ms->counts.no_local_internal == 1 && ms->counts.no_local_external == 1,
	      "internal %u external %u", ms->counts.no_local_internal, ms->counts.no_local_external);
}

static void chk_no_local_zero(const struct model_state *ms)
{
	CHECK(ms->counts.no_local_internal == 0 && ms->counts.no_local_external == 0,
	      "no endpoints at all is not 'no local endpoints'");
}

static void chk_trigger(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, K4);
	int64_t want = 1662928800LL * 1000000000 + 500000000;	/* 2022-09-11T20:40:00.5Z */

	if (mp)
		CHECK(mp->trigger_time_ns == want, "trigger %lld", (long long)mp->trigger_time_ns);
}

static void chk_protocols(const struct model_state *ms)
{
	const struct model_svc_port *t = port(ms, "ns/s:a:TCP:v4"), *s = port(ms, "ns/s:b:SCTP:v4");

	CHECK(ms->n_ports == 2, "%zu ports", ms->n_ports);
	if (t && s)
		CHECK(t->port == 80 && s->port == 80 && s->proto == IPPROTO_SCTP && s->n_cluster == 1 &&
		      s->cluster[0].port == 9000, "SCTP is its own frontend");
}

static void chk_unnamed(const struct model_state *ms)
{
	const struct model_svc_port *mp = port(ms, "ns/s::TCP:v4");

	if (mp)
		CLUSTER_IS(mp, 1);
}

static const struct mcase cases[] = {
	{ "basic_cluster_ip", BASIC,
	  { SLICE(EP("10.0.0.1", "n2") "," EP("10.0.0.2", "n3")) }, NULL, chk_basic },
	{ "skip_headless_none", SVC("'clusterIP':'None','ports':[" PORT_HTTP "]"),
	  { SLICE(EP("10.0.0.1", "n2")) }, NULL, chk_none },
	{ "skip_headless_empty", SVC("'clusterIP':'','ports':[" PORT_HTTP "]"), { 0 }, NULL, chk_none },
	{ "skip_external_name", SVC("'type':'ExternalName','externalName':'x.example',"
				    "'ports':[" PORT_HTTP "]"), { 0 }, NULL, chk_none },
	{ "skip_service_proxy_name_label",
	  "{'metadata':{'namespace':'ns','name':'s','labels':{'service.kubernetes.io/service-proxy-name':"
	  "'other'}},'spec':{" CIP4 ",'ports':[" PORT_HTTP "]}}", { 0 }, NULL, chk_none },
	{ "skip_headless_label",
	  "{'metadata':{'namespace':'ns','name':'s','labels':{'service.kubernetes.io/headless':''}},"
	  "'spec':{" CIP4 ",'ports':[" PORT_HTTP "]}}", { 0 }, NULL, chk_none },
	{ "port_joined_by_name_dnat_from_slice", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'name':'metrics','port':9090},{'name':'http','port':8080}]",
		    EP("10.0.0.1", "n2")) }, NULL, chk_metrics_port },
	{ "port_join_includes_protocol",
	  SVC(CIP4 ",'ports':[{'name':'dns','port':53,'protocol':'UDP'}]"),
	  { SLICE_N("s-1", "IPv4", "[{'name':'dns','port':53,'protocol':'TCP'}]", EP("10.0.0.1", "n2")) },
	  NULL, chk_udp_no_eps },
	{ "slice_port_zero_ignored", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'name':'http','port':0}]", EP("10.0.0.1", "n2")) }, NULL, chk_no_eps },
	{ "slice_port_absent_ignored", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'name':'http'}]", EP("10.0.0.1", "n2")) }, NULL, chk_no_eps },
	{ "slice_port_without_name_ignored", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'port':8080}]", EP("10.0.0.1", "n2")) }, NULL, chk_no_eps },
	{ "unnamed_port_matches_empty_name",
	  SVC(CIP4 ",'ports':[{'port':80}]"),
	  { SLICE_N("s-1", "IPv4", "[{'name':'','port':8080}]", EP("10.0.0.1", "n2")) }, NULL,
	  chk_unnamed },
	{ "fqdn_slice_ignored", BASIC,
	  { SLICE_N("s-1", "FQDN", "[{'name':'http','port':8080}]", EP("db.example", "n2")) }, NULL,
	  chk_no_eps },
	{ "addresses0_only", BASIC,
	  { SLICE("{'addresses':['10.0.0.1','10.0.0.2'],'nodeName':'n2'}") }, NULL, chk_addr0 },
	{ "duplicate_keeps_non_terminating", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'name':'http','port':8080}]", EPC("10.0.0.1", "n2", TERMINATING)),
	    SLICE_N("s-2", "IPv4", "[{'name':'http','port':8080}]", EP("10.0.0.1", "n2")) }, NULL, chk_dup },
	{ "slices_of_one_service_merge", BASIC,
	  { SLICE_N("s-1", "IPv4", "[{'name':'http','port':8080}]", EP("10.0.0.1", "n2") "," EP("10.0.0.2", "n2")),
	    SLICE_N("s-2", "IPv4", "[{'name':'http','port':8080}]", EP("10.0.0.3", "n3")) }, NULL, chk_merge },
	{ "ready_absent_means_ready", BASIC,
	  { SLICE("{'addresses':['10.0.0.1'],'conditions':{}}") }, NULL, chk_only_first },
	{ "not_ready_excluded", BASIC,
	  { SLICE(EP("10.0.0.1", "n2") "," EPC("10.0.0.2", "n2", NOT_READY)) }, NULL, chk_only_first },
	{ "fallback_serving_terminating", BASIC,
	  { SLICE(EPC("10.0.0.1", "n2", NOT_READY) "," EPC("10.0.0.2", "n2", TERMINATING)) }, NULL,
	  chk_fallback_term },
	{ "terminating_not_serving_unusable", BASIC,
	  { SLICE(EPC("10.0.0.1", "n2", "'ready':false,'serving':false,'terminating':true")) }, NULL,
	  chk_no_eps },
	{ "local_set_is_local_ready", BASIC,
	  { SLICE(EP("10.0.0.1", "n1") "," EP("10.0.0.2", "n2") "," EP("10.0.0.3", "n3") ","
		  EPC("10.0.0.4", "n1", NOT_READY)) }, NULL, chk_local_ready },
	{ "local_fallback_serving_terminating", BASIC,
	  { SLICE(EPC("10.0.0.1", "n1", TERMINATING) "," EP("10.0.0.2", "n2")) }, NULL, chk_local_fallback },
	{ "hints_zone_filter", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forZones':[{'name':'z1'}]") ","
		  EPH("10.0.0.2", "n3", "'forZones':[{'name':'z2'}]")) }, NULL, chk_only_first },
	{ "hints_zone_none_for_us_no_filter", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forZones':[{'name':'z3'}]") ","
		  EPH("10.0.0.2", "n3", "'forZones':[{'name':'z2'}]")) }, NULL, chk_unfiltered2 },
	{ "hints_zone_partial_no_filter", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forZones':[{'name':'z1'}]") "," EP("10.0.0.2", "n3")) }, NULL,
	  chk_unfiltered2 },
	{ "hints_node_filter", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forNodes':[{'name':'n2'}]") ","
		  EPH("10.0.0.2", "n3", "'forNodes':[{'name':'n1'}]")) }, NULL, chk_only_second },
	{ "hints_node_before_zone", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forNodes':[{'name':'n2'}],'forZones':[{'name':'z1'}]") ","
		  EPH("10.0.0.2", "n3", "'forNodes':[{'name':'n1'}],'forZones':[{'name':'z1'}]")) }, NULL,
	  chk_only_second },
	{ "hints_not_ready_endpoints_ignored", BASIC,
	  { SLICE(EPH("10.0.0.1", "n2", "'forZones':[{'name':'z1'}]") ","
		  EPH("10.0.0.2", "n3", "'forZones':[{'name':'z2'}]") ","
		  EPC("10.0.0.3", "n3", NOT_READY)) }, NULL, chk_only_first },
	{ "hints_never_filter_local", SVC(CIP4 ",'internalTrafficPolicy':'Local','ports':[" PORT_HTTP "]"),
	  { SLICE(EPH("10.0.0.1", "n1", "'forZones':[{'name':'z2'}]") ","
		  EPH("10.0.0.2", "n3", "'forZones':[{'name':'z1'}]")) }, NULL, chk_hint_local },
	{ "hints_ignored_in_terminating_fallback", BASIC,
	  { SLICE("{'addresses':['10.0.0.2'],'hints':{'forZones':[{'name':'z9'}]},'conditions':{"
		  TERMINATING "}}") }, NULL, chk_fallback_term },
	{ "itp_local_flag", SVC(CIP4 ",'internalTrafficPolicy':'Local','ports':[" PORT_HTTP "]"),
	  { 0 }, NULL, chk_itp },
	{ "etp_local_flag_with_nodeport",
	  SVC(CIP4 ",'type':'NodePort','externalTrafficPolicy':'Local',"
	      "'ports':[{'name':'http','port':80,'nodePort':30080}]"), { 0 }, NULL, chk_etp_np },
	{ "etp_local_needs_external_frontend",
	  SVC(CIP4 ",'externalTrafficPolicy':'Local','ports':[" PORT_HTTP "]"), { 0 }, NULL,
	  chk_flags_zero },
	{ "affinity_default_timeout",
	  SVC(CIP4 ",'sessionAffinity':'ClientIP','ports':[" PORT_HTTP "]"), { 0 }, NULL,
	  chk_aff_default },
	{ "affinity_custom_timeout",
	  SVC(CIP4 ",'sessionAffinity':'ClientIP','sessionAffinityConfig':{'clientIP':"
	      "{'timeoutSeconds':60}},'ports':[" PORT_HTTP "]"), { 0 }, NULL, chk_aff_60 },
	{ "nodeport_on_primary_addresses",
	  SVC("'clusterIPs':['10.96.0.1','2001:db8:2::1'],'ipFamilies':['IPv4','IPv6'],"
	      "'type':'NodePort','ports':[{'name':'http','port':80,'nodePort':30080}]"), { 0 }, NULL,
	  chk_np_primary },
	{ "nodeport_zero_means_none",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','allocateLoadBalancerNodePorts':false,"
		 "'ports':[{'name':'http','port':80,'nodePort':0}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"), { 0 }, NULL, chk_np_none },
	{ "nodeport_cidrs_and_never_loopback",
	  SVC(CIP4 ",'type':'NodePort','ports':[{'name':'http','port':80,'nodePort':30080}]"), { 0 },
	  cfg_np_cidrs, chk_np_cidrs },
	{ "lb_ingress_vip_family_and_proxy_mode",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'},{'ip':'198.51.100.2','ipMode':'VIP'},"
		 "{'ip':'198.51.100.3','ipMode':'Proxy'},{'ip':'2001:db8:4::1'},{'hostname':'lb.example'}]}}"),
	  { 0 }, NULL, chk_lb_vip },
	{ "external_ips_gated_by_default",
	  SVC(CIP4 ",'externalTrafficPolicy':'Local','externalIPs':['198.51.100.9','2001:db8:4::9'],"
	      "'ports':[" PORT_HTTP "]"), { 0 }, NULL, chk_eip_gated },
	{ "external_ips_with_gate",
	  SVC(CIP4 ",'externalTrafficPolicy':'Local','externalIPs':['198.51.100.9','2001:db8:4::9'],"
	      "'ports':[" PORT_HTTP "]"), { 0 }, cfg_gate_on, chk_eip_on },
	{ "source_ranges_per_family",
	  SVC_ST("'clusterIPs':['10.96.0.1','2001:db8:2::1'],'ipFamilies':['IPv4','IPv6'],"
		 "'type':'LoadBalancer','loadBalancerSourceRanges':['203.0.113.0/24','2001:db8:3::/48'],"
		 "'ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"), { 0 }, NULL, chk_ranges_family },
	{ "source_range_with_node_allows_lb_ip",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','loadBalancerSourceRanges':['192.0.2.0/24'],"
		 "'ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"), { 0 }, NULL, chk_ranges_node },
	{ "source_ranges_trimmed_invalid_skipped",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','loadBalancerSourceRanges':[' 203.0.113.7/24 ','bogus'],"
		 "'ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"), { 0 }, NULL, chk_ranges_trim },
	{ "source_ranges_other_family_only",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','loadBalancerSourceRanges':['2001:db8:3::/48'],"
		 "'ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"), { 0 }, NULL, chk_no_ranges_flag },
	{ "dual_stack_families_apart",
	  SVC("'clusterIP':'10.96.0.1','clusterIPs':['10.96.0.1','2001:db8:2::1'],"
	      "'ipFamilies':['IPv4','IPv6'],'ports':[" PORT_HTTP "]"),
	  { SLICE(EP("10.0.0.1", "n2")),
	    SLICE_N("s-6", "IPv6", "[{'name':'http','port':8080}]", EP("2001:db8:1::1", "n2")) }, NULL,
	  chk_dual },
	{ "ipv6_only_cluster_ip",
	  SVC("'clusterIP':'2001:db8:2::1','clusterIPs':['2001:db8:2::1'],'ipFamilies':['IPv6'],"
	      "'ports':[" PORT_HTTP "]"), { SLICE(EP("10.0.0.1", "n2")) }, NULL, chk_v6_only },
	{ "leading_zeros_are_decimal",
	  SVC("'clusterIP':'172.30.0.041','ports':[" PORT_HTTP "]"), { SLICE(EP("10.0.0.08", "n2")) },
	  NULL, chk_leading_zero },
	{ "health_check_node_port_and_local_ready",
	  SVC_ST(CIP4 ",'type':'LoadBalancer','externalTrafficPolicy':'Local','healthCheckNodePort':32000,"
		 "'ports':[{'name':'http','port':80,'nodePort':30080}]",
		 "{'loadBalancer':{'ingress':[{'ip':'198.51.100.1'}]}}"),
	  { SLICE(EP("10.0.0.1", "n1") "," EP("10.0.0.2", "n1") "," EP("10.0.0.3", "n2") ","
		  EPC("10.0.0.4", "n1", TERMINATING)) }, NULL, chk_hc },
	{ "health_check_only_for_load_balancer",
	  SVC(CIP4 ",'type':'NodePort','externalTrafficPolicy':'Local','healthCheckNodePort':32000,"
	      "'ports':[{'name':'http','port':80,'nodePort':30080}]"), { 0 }, NULL, chk_hc_none },
	{ "no_local_endpoints_counted",
	  SVC(CIP4 ",'type':'NodePort','externalTrafficPolicy':'Local','internalTrafficPolicy':'Local',"
	      "'ports':[{'name':'http','port':80,'nodePort':30080}]"),
	  { SLICE(EP("10.0.0.2", "n2")) }, NULL, chk_no_local },
	{ "no_endpoints_is_not_no_local",
	  SVC(CIP4 ",'type':'NodePort','externalTrafficPolicy':'Local','internalTrafficPolicy':'Local',"
	      "'ports':[{'name':'http','port':80,'nodePort':30080}]"), { 0 }, NULL, chk_no_local_zero },
	{ "no_endpoints_reject", BASIC, { 0 }, NULL, chk_no_eps },
	{ "trigger_time_latest_slice", BASIC,
	  { "{'metadata':{'namespace':'ns','name':'s-1','labels':{'kubernetes.io/service-name':'s'},"
	    "'annotations':{'endpoints.kubernetes.io/last-change-trigger-time':'2022-09-11T20:40:00.5Z'}},"
	    "'addressType':'IPv4','ports':[{'name':'http','port':8080}],'endpoints':[]}",
	    "{'metadata':{'namespace':'ns','name':'s-2','labels':{'kubernetes.io/service-name':'s'},"
	    "'annotations':{'endpoints.kubernetes.io/last-change-trigger-time':'2022-09-11T21:40:00+02:00'}},"
	    "'addressType':'IPv4','ports':[{'name':'http','port':8080}],'endpoints':[]}" }, NULL,
	  chk_trigger },
	{ "protocols_are_distinct",
	  SVC(CIP4 ",'ports':[{'name':'a','port':80,'protocol':'TCP'},{'name':'b','port':80,'protocol':'SCTP'}]"),
	  { SLICE_N("s-1", "IPv4", "[{'name':'b','port':9000,'protocol':'SCTP'}]", EP("10.0.0.1", "n2")) },
	  NULL, chk_protocols },
	{ "slice_of_other_family_ignored", BASIC,
	  { SLICE_N("s-6", "IPv6", "[{'name':'http','port':8080}]", EP("2001:db8:1::1", "n2")) }, NULL,
	  chk_no_eps },
	{ "legacy_cluster_ip_without_families",
	  "{'metadata':{'namespace':'ns','name':'s'},'spec':{'clusterIP':'10.96.0.1','ports':[" PORT_HTTP
	  "],'sessionAffinity':'None','type':'ClusterIP'}}",
	  { SLICE(EP("10.0.0.1", "n2") "," EP("10.0.0.2", "n2")) }, NULL, chk_basic },
};

static void run_case(const struct mcase *c)
{
	struct model_config cfg;
	struct model_state ms, one;
	struct store *st = store_new();
	size_t i;

	test_begin(c->name);
	default_cfg(&cfg);
	if (c->tweak)
		c->tweak(&cfg);
	if (!CHECK(st, "store_new") || !load(st, NODE_DEFAULT, 'n') || !load(st, c->svc, 's'))
		goto out;
	for (i = 0; i < 4 && c->slices[i]; i++) {
		if (!load(st, c->slices[i], 'e'))
			goto out;
	}
	if (!CHECK(!model_build(st, &cfg, &ms), "model_build"))
		goto out;
	c->check(&ms);
	/* The per-Service build must agree with the full one. */
	if (CHECK(!model_build_service(st, &cfg, "ns/s", &one), "model_build_service")) {
		CHECK(one.n_ports == ms.n_ports, "per-service build: %zu ports, full %zu", one.n_ports,
		      ms.n_ports);
		CHECK(!memcmp(&one.counts, &ms.counts, sizeof(ms.counts)), "per-service counts differ");
		model_state_free(&one);
	}
	model_state_free(&ms);
out:
	store_free(st);
	test_end();
}

/* A slice moving between Services, and the no-Node case. */
static void test_no_node(void)
{
	struct model_config cfg;
	struct model_state ms;
	struct store *st = store_new();

	test_begin("no_node_no_nodeport_addresses");
	default_cfg(&cfg);
	if (load(st, SVC(CIP4 ",'type':'NodePort','ports':[{'name':'http','port':80,'nodePort':30080}]"), 's') &&
	    CHECK(!model_build(st, &cfg, &ms), "model_build")) {
		const struct model_svc_port *mp = port(&ms, K4);

		CHECK(mp && n_fe(mp, XLB_FE_NODE_PORT) == 0 && ms.n_nodeport_addrs == 0,
		      "NodePorts without a Node");
		model_state_free(&ms);
	}
	store_free(st);
	test_end();
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_no_node();
	return test_exit_status();
}
