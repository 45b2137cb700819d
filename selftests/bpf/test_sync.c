/* The sync against real maps: apply, re-apply (no write, also Maglev), a
 * VIP marker shared by two Services, endpoint changes
 * (tables swapped, stale backends removed, UDP flows flushed), deletion,
 * adoption by a second instance (no write, same ids, garbage collected), a
 * full map (the old version stays), and the node-wide entries. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "addr.h"
#include "dptest.h"
#include "maps.h"
#include "model.h"
#include "sync.h"
#include "test.h"

static struct xlb_ip ip(const char *s)
{
	struct xlb_ip a = {};

	a.family = addr_parse(s, (union xlb_addr *)a.bytes);
	return a;
}

/* A model with one port of Service ns/name: a ClusterIP frontend and the
 * given ready endpoints (all in the cluster set, none local). */
static void model_one(struct model_state *ms, const char *name, __u8 proto, const char *cip,
		      const char *const *eps, size_t n)
{
	struct model_svc_port *p;
	char key[128];

	model_state_init(ms);
	ms->ports = calloc(1, sizeof(*ms->ports));
	ms->n_ports = ms->cap = 1;
	p = &ms->ports[0];
	snprintf(key, sizeof(key), "ns/%s:p:%s:v4", name, proto == IPPROTO_UDP ? "UDP" : "TCP");
	p->key = strdup(key);
	snprintf(key, sizeof(key), "ns/%s", name);
	p->svc_key = strdup(key);
	p->port_name = strdup("p");
	p->family = XLB_FAM_V4;
	p->proto = proto;
	p->port = 80;
	p->cluster = calloc(n + 1, sizeof(*p->cluster));
	for (size_t i = 0; i < n; i++)
		p->cluster[i] = (struct model_endpoint){ .ip = ip(eps[i]), .port = 8080,
							 .ready = true, .serving = true };
	p->n_cluster = n;
	p->has_endpoints = n > 0;
	p->fes = calloc(1, sizeof(*p->fes));
	p->fes[0] = (struct model_frontend){ .kind = XLB_FE_CLUSTER_IP, .addr = ip(cip),
					     .port = 80, .proto = proto };
	p->n_fes = 1;
}

static uint64_t writes(struct sync *s)
{
	struct sync_stats st;

	sync_get_stats(s, &st);
	return st.map_writes;
}

static int fe_svc(const char *cip, __u16 port, __u8 proto, __u32 *svc_id)
{
	struct xlb_frontend_key k = { .port = htons(port), .proto = proto, .family = XLB_FAM_V4 };
	struct xlb_frontend v;

	addr_parse(cip, &k.addr);
	if (bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_FRONTENDS], &k, &v))
		return -1;
	*svc_id = v.svc_id;
	return v.kind;
}

static __u32 table_ids(__u32 svc_id, __u32 *ids, __u32 max)
{
	struct xlb_service svc;
	struct xlb_slot_key k = { .svc_id = svc_id, .set = XLB_SET_CLUSTER };

	if (maps_get_service(&dpt_dp.maps, svc_id, &svc))
		return 0;
	k.gen = svc.gen;
	for (__u32 i = 0; i < svc.n_cluster && i < max; i++) {
		k.index = i;
		bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_SLOTS], &k, &ids[i]);
	}
	return svc.n_cluster;
}

static const char *const eps_ab[] = { "198.18.1.10", "198.18.2.10" };
static const char *const eps_bc[] = { "198.18.2.10", "198.18.2.11" };

static void test_apply_and_reapply(void)
{
	struct sync *s = sync_new(&dpt_dp.maps, false);
	struct model_state ms;
	char err[256];
	__u32 svc_id, ids[4];
	uint64_t w;

	test_begin("sync_apply_then_reapply_writes_nothing");
	dpt_reset();
	model_one(&ms, "a", IPPROTO_TCP, "198.19.0.10", eps_ab, 2);
	CHECK(!sync_apply_service(s, "ns/a", &ms, err, sizeof(err)), "apply: %s", err);
	CHECK(fe_svc("198.19.0.10", 80, IPPROTO_TCP, &svc_id) == XLB_FE_CLUSTER_IP,
	      "no ClusterIP frontend");
	CHECK(fe_svc("198.19.0.10", 0, 0, &svc_id) == XLB_FE_VIP, "no VIP marker");
	fe_svc("198.19.0.10", 80, IPPROTO_TCP, &svc_id);
	CHECK(table_ids(svc_id, ids, 4) == 2, "table has %u slots", table_ids(svc_id, ids, 4));
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS) == 2, "backends: %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS));
	w = writes(s);
	CHECK(!sync_apply_service(s, "ns/a", &ms, err, sizeof(err)), "re-apply: %s", err);
	CHECK(writes(s) == w, "re-applying the same model wrote %llu entries",
	      (unsigned long long)(writes(s) - w));
	model_state_free(&ms);
	sync_free(s);
	test_end();
}

/* Tables are not kept in memory but read back from xlb_slots: a Maglev
 * re-apply still writes nothing, and a change keeps the table size. */
static void test_maglev_reapply(void)
{
	struct sync *s = sync_new(&dpt_dp.maps, true);
	struct model_state ms;
	char err[256];
	__u32 svc_id, n;
	uint64_t w;

	test_begin("sync_maglev_reapply_writes_nothing");
	dpt_reset();
	model_one(&ms, "m", IPPROTO_TCP, "198.19.0.12", eps_ab, 2);
	CHECK(!sync_apply_service(s, "ns/m", &ms, err, sizeof(err)), "apply: %s", err);
	w = writes(s);
	CHECK(!sync_apply_service(s, "ns/m", &ms, err, sizeof(err)), "re-apply: %s", err);
	CHECK(writes(s) == w, "re-applying the same model wrote %llu entries",
	      (unsigned long long)(writes(s) - w));
	fe_svc("198.19.0.12", 80, IPPROTO_TCP, &svc_id);
	n = table_ids(svc_id, NULL, 0);
	model_state_free(&ms);
	model_one(&ms, "m", IPPROTO_TCP, "198.19.0.12", eps_bc, 2);
	CHECK(!sync_apply_service(s, "ns/m", &ms, err, sizeof(err)), "change: %s", err);
	CHECK(n && table_ids(svc_id, NULL, 0) == n, "table size %u, was %u",
	      table_ids(svc_id, NULL, 0), n);
	model_state_free(&ms);
	sync_free(s);
	test_end();
}

/* One VIP marker serves every ClusterIP frontend of its address: it goes
 * with the last of them. */
static void test_shared_vip(void)
{
	struct sync *s = sync_new(&dpt_dp.maps, false);
	struct model_state a, b, none;
	char err[256];
	__u32 svc_id;

	test_begin("sync_vip_marker_goes_with_its_last_frontend");
	dpt_reset();
	model_state_init(&none);
	model_one(&a, "a", IPPROTO_TCP, "198.19.0.13", eps_ab, 2);
	model_one(&b, "b", IPPROTO_UDP, "198.19.0.13", eps_bc, 2);
	CHECK(!sync_apply_service(s, "ns/a", &a, err, sizeof(err)), "apply a: %s", err);
	CHECK(!sync_apply_service(s, "ns/b", &b, err, sizeof(err)), "apply b: %s", err);
	CHECK(!sync_apply_service(s, "ns/a", &none, err, sizeof(err)), "delete a: %s", err);
	CHECK(fe_svc("198.19.0.13", 0, 0, &svc_id) == XLB_FE_VIP, "VIP marker gone with a");
	CHECK(fe_svc("198.19.0.13", 80, IPPROTO_UDP, &svc_id) == XLB_FE_CLUSTER_IP,
	      "b's frontend gone");
	CHECK(!sync_apply_service(s, "ns/b", &none, err, sizeof(err)), "delete b: %s", err);
	CHECK(fe_svc("198.19.0.13", 0, 0, &svc_id) < 0, "VIP marker left behind");
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS) == 0, "backends left: %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS));
	model_state_free(&a);
	model_state_free(&b);
	sync_free(s);
	test_end();
}

static void test_endpoint_change_and_udp_flush(void)
{
	struct sync *s = sync_new(&dpt_dp.maps, false);
	struct xlb_ct_entry e = { .last_seen = 1 };
	struct xlb_ct_key k1 = { .sport = 1, .proto = IPPROTO_UDP, .family = 4 };
	struct xlb_ct_key k2 = { .sport = 2, .proto = IPPROTO_UDP, .family = 4 };
	struct xlb_service before, after;
	struct xlb_config cfg0, cfg1;
	struct model_state ms;
	__u32 svc_id, ids[4], old_ids[4];
	char err[256];

	test_begin("sync_endpoint_change_swaps_table_and_flushes_udp");
	dpt_reset();
	model_one(&ms, "u", IPPROTO_UDP, "198.19.0.11", eps_ab, 2);
	sync_apply_service(s, "ns/u", &ms, err, sizeof(err));
	model_state_free(&ms);
	fe_svc("198.19.0.11", 80, IPPROTO_UDP, &svc_id);
	table_ids(svc_id, old_ids, 4);
	maps_get_service(&dpt_dp.maps, svc_id, &before);
	/* a flow to the backend that will leave (198.18.1.10), one to a stayer */
	e.backend_id = old_ids[0];
	bpf_map_update_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k1, &e, BPF_ANY);
	e.backend_id = old_ids[1];
	bpf_map_update_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k2, &e, BPF_ANY);
	model_one(&ms, "u", IPPROTO_UDP, "198.19.0.11", eps_bc, 2);
	maps_get_config(&dpt_dp.maps, &cfg0);
	CHECK(!sync_apply_service(s, "ns/u", &ms, err, sizeof(err)), "apply: %s", err);
	maps_get_config(&dpt_dp.maps, &cfg1);
	CHECK(cfg1.ct_gen == cfg0.ct_gen + 1, "flush did not bump ct_gen (%u -> %u)",
	      cfg0.ct_gen, cfg1.ct_gen);
	cfg0.ct_gen = 0;
	maps_set_config(&dpt_dp.maps, &cfg0);
	maps_get_config(&dpt_dp.maps, &cfg0);
	CHECK(cfg0.ct_gen == cfg1.ct_gen, "a config write reset ct_gen");
	maps_get_service(&dpt_dp.maps, svc_id, &after);
	CHECK(after.gen == (__u16)(before.gen + 1), "generation %u -> %u", before.gen, after.gen);
	table_ids(svc_id, ids, 4);
	CHECK(ids[0] == old_ids[1] && ids[1] != old_ids[0] && ids[1] != old_ids[1],
	      "the stayer must keep its id, the newcomer get a new one");
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS) == 2, "stale backend not removed");
	CHECK(bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k1, &e) && errno == ENOENT,
	      "UDP flow to the removed backend not flushed");
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k2, &e),
	      "UDP flow to a remaining backend flushed");
	model_state_free(&ms);
	model_state_init(&ms);
	CHECK(!sync_apply_service(s, "ns/u", &ms, err, sizeof(err)), "delete: %s", err);
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_FRONTENDS) == 0 &&
	      maps_count(&dpt_dp.maps, XLB_MAP_SERVICES) == 0 &&
	      maps_count(&dpt_dp.maps, XLB_MAP_BACKENDS) == 0 &&
	      maps_count(&dpt_dp.maps, XLB_MAP_SLOTS) == 0, "deleted service left entries");
	sync_free(s);
	test_end();
}

static void test_adoption(void)
{
	struct sync *a = sync_new(&dpt_dp.maps, false), *b;
	struct model_state ms1, ms2, gone;
	__u32 id_before, id_after, ids_before[4], ids_after[4];
	char err[256];

	test_begin("sync_restart_adopts_without_writes_and_collects_garbage");
	dpt_reset();
	model_one(&ms1, "a", IPPROTO_TCP, "198.19.0.10", eps_ab, 2);
	model_one(&ms2, "b", IPPROTO_TCP, "198.19.0.12", eps_bc, 2);
	model_one(&gone, "c", IPPROTO_TCP, "198.19.0.13", eps_bc, 1);
	sync_apply_service(a, "ns/a", &ms1, err, sizeof(err));
	sync_apply_service(a, "ns/b", &ms2, err, sizeof(err));
	sync_apply_service(a, "ns/c", &gone, err, sizeof(err));
	fe_svc("198.19.0.12", 80, IPPROTO_TCP, &id_before);
	table_ids(id_before, ids_before, 4);
	sync_free(a);	/* the agent stops; the maps stay */

	b = sync_new(&dpt_dp.maps, false);
	CHECK(!sync_adopt(b, err, sizeof(err)), "adopt: %s", err);
	CHECK(!sync_apply_service(b, "ns/a", &ms1, err, sizeof(err)) &&
	      !sync_apply_service(b, "ns/b", &ms2, err, sizeof(err)), "apply: %s", err);
	CHECK(writes(b) == 0, "adopting unchanged services wrote %llu entries",
	      (unsigned long long)writes(b));
	fe_svc("198.19.0.12", 80, IPPROTO_TCP, &id_after);
	table_ids(id_after, ids_after, 4);
	CHECK(id_after == id_before && !memcmp(ids_before, ids_after, 2 * sizeof(__u32)),
	      "ids changed across the restart");
	sync_collect_garbage(b);
	CHECK(fe_svc("198.19.0.13", 80, IPPROTO_TCP, &id_after) < 0 &&
	      fe_svc("198.19.0.13", 0, 0, &id_after) < 0, "the gone service's frontends remain");
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_SERVICES) == 2, "services: %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_SERVICES));
	CHECK(fe_svc("198.19.0.10", 0, 0, &id_after) == XLB_FE_VIP, "a live VIP marker removed");
	model_state_free(&ms1);
	model_state_free(&ms2);
	model_state_free(&gone);
	sync_free(b);
	test_end();
}

/* A map too small for the new version: an error, and the old one serves. */
static void test_map_full(void)
{
	static const char *const many[] = { "198.18.1.1", "198.18.1.2", "198.18.1.3",
					    "198.18.1.4", "198.18.1.5", "198.18.1.6" };
	struct dp_sizes sz = { .backends = 4 };
	struct model_state ms;
	struct dp small;
	struct sync *s;
	char err[256];
	__u32 svc_id, ids[8];
	int rc;

	test_begin("sync_map_full_keeps_previous_version");
	if (dp_load(&small, NULL, &sz, err, sizeof(err))) {
		CHECK(0, "load: %s", err);
		test_end();
		return;
	}
	s = sync_new(&small.maps, false);
	model_one(&ms, "f", IPPROTO_TCP, "198.19.0.14", many, 2);
	CHECK(!sync_apply_service(s, "ns/f", &ms, err, sizeof(err)), "first version: %s", err);
	model_state_free(&ms);
	model_one(&ms, "f", IPPROTO_TCP, "198.19.0.14", many + 2, 4);
	rc = sync_apply_service(s, "ns/f", &ms, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, "ns/f"), "want an error naming the service, got %d '%s'", rc,
	      err);
	CHECK(maps_count(&small.maps, XLB_MAP_BACKENDS) == 2, "half-written backends remain: %u",
	      maps_count(&small.maps, XLB_MAP_BACKENDS));
	{
		struct xlb_frontend_key k = { .port = htons(80), .proto = IPPROTO_TCP, .family = 4 };
		struct xlb_frontend v;
		struct xlb_service svc;
		struct xlb_slot_key sk = { .set = XLB_SET_CLUSTER };

		addr_parse("198.19.0.14", &k.addr);
		CHECK(!bpf_map_lookup_elem(small.maps.fd[XLB_MAP_FRONTENDS], &k, &v), "frontend gone");
		svc_id = v.svc_id;
		CHECK(!maps_get_service(&small.maps, svc_id, &svc) && svc.n_cluster == 2,
		      "the old table is not in place");
		sk.svc_id = svc_id;
		sk.gen = svc.gen;
		for (__u32 i = 0; i < 2; i++) {
			sk.index = i;
			CHECK(!bpf_map_lookup_elem(small.maps.fd[XLB_MAP_SLOTS], &sk, &ids[i]) &&
			      !bpf_map_lookup_elem(small.maps.fd[XLB_MAP_BACKENDS], &ids[i],
						   &(struct xlb_backend){}),
			      "slot %u of the old table is broken", i);
		}
	}
	model_state_free(&ms);
	sync_free(s);
	dp_close(&small);
	test_end();
}

static void test_node(void)
{
	struct sync *s = sync_new(&dpt_dp.maps, false);
	struct xlb_prefix pods[1];
	struct xlb_ip addrs[2] = { ip("192.0.2.1"), ip("192.0.2.11") }, np[1] = { ip("192.0.2.1") };
	struct sync_node node = { .cfg = { .flags = XLB_CFG_POD_DETECT, .udp_timeout = 30 },
				  .pod_cidrs = pods, .n_pod_cidrs = 1,
				  .node_addrs = addrs, .n_node_addrs = 2,
				  .nodeport_addrs = np, .n_nodeport_addrs = 1 };
	struct xlb_addr_key k = { .family = 4 };
	struct xlb_config cfg;
	char err[256];
	__u32 flags;

	test_begin("sync_node_addresses_cidrs_config");
	dpt_reset();
	xlb_prefix_parse("198.18.0.0/16", &pods[0]);
	CHECK(!sync_adopt(s, err, sizeof(err)), "adopt: %s", err);
	CHECK(!sync_apply_node(s, &node, err, sizeof(err)), "apply: %s", err);
	addr_parse("192.0.2.1", &k.addr);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_LOCAL_ADDRS], &k, &flags) &&
	      flags == (XLB_ADDR_NODE | XLB_ADDR_NODEPORT), "node address flags %u", flags);
	addr_parse("192.0.2.11", &k.addr);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_LOCAL_ADDRS], &k, &flags) &&
	      flags == XLB_ADDR_NODE, "second address flags %u", flags);
	CHECK(!maps_get_config(&dpt_dp.maps, &cfg) && cfg.udp_timeout == 30, "config not written");
	/* the world's IPv6 node address (from dpt_reset) was adopted and is gone now */
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_LOCAL_ADDRS) == 2, "local addresses: %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_LOCAL_ADDRS));
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_POD_CIDRS) == 1, "pod CIDRs: %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_POD_CIDRS));
	node.n_node_addrs = 1;
	sync_apply_node(s, &node, err, sizeof(err));
	CHECK(bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_LOCAL_ADDRS], &k, &flags),
	      "a removed node address is still there");
	sync_free(s);
	test_end();
}

int main(void)
{
	dpt_init();
	test_apply_and_reapply();
	test_maglev_reapply();
	test_shared_vip();
	test_endpoint_change_and_udp_flush();
	test_adoption();
	test_map_full();
	test_node();
	return test_exit_status();
}
