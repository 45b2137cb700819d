#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>

#include "addr.h"
#include "cli.h"
#include "loader.h"
#include "maps.h"

struct cli_opts {
	const char *bpffs;
	int json;
};

static const char *const fe_kind_names[] = {
	[XLB_FE_CLUSTER_IP] = "ClusterIP",
	[XLB_FE_NODE_PORT] = "NodePort",
	[XLB_FE_LOAD_BALANCER] = "LoadBalancer",
	[XLB_FE_EXTERNAL_IP] = "ExternalIP",
	[XLB_FE_VIP] = "ClusterIP-any-port",
};

static const char *fe_kind_str(__u8 kind)
{
	return kind < sizeof(fe_kind_names) / sizeof(fe_kind_names[0]) && fe_kind_names[kind] ?
		       fe_kind_names[kind] : "?";
}

static int parse_cli(int argc, char **argv, struct cli_opts *o)
{
	static const struct option longopts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	o->bpffs = XLB_DEFAULT_BPFFS;
	o->json = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->bpffs = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "table")) {
				fprintf(stderr, "%s: -o takes json or table, not '%s'\n", argv[0], optarg);
				return -1;
			}
			o->json = !strcmp(optarg, "json");
			break;
		case 'h':
			printf("usage: xlb %s [--bpffs DIR] [-o table|json]\n", argv[0]);
			exit(0);
		default:
			return -1;
		}
	}
	return 0;
}

static int open_maps(int argc, char **argv, struct cli_opts *o, struct xlb_maps *m)
{
	char err[512];

	if (parse_cli(argc, argv, o))
		return 2;
	if (maps_open_pinned(m, o->bpffs, err, sizeof(err))) {
		fprintf(stderr, "xlb %s: %s\n", argv[0], err);
		return 1;
	}
	return 0;
}

static void print_json(cJSON *root)
{
	char *s = cJSON_Print(root);

	if (s)
		puts(s);
	free(s);
	cJSON_Delete(root);
}

/* The backends a service's table lists, as "ip:port" strings, in slot order. */
static cJSON *slot_list(struct xlb_maps *m, __u32 svc_id, const struct xlb_service *s, __u8 set)
{
	__u32 n = set == XLB_SET_LOCAL ? s->n_local : s->n_cluster, bid;
	struct xlb_slot_key k = { .svc_id = svc_id, .gen = s->gen, .set = set };
	cJSON *arr = cJSON_CreateArray();
	char buf[XLB_ADDR_STRLEN + 8];
	struct xlb_backend b;

	for (__u32 i = 0; i < n; i++) {
		k.index = i;
		if (bpf_map_lookup_elem(m->fd[XLB_MAP_SLOTS], &k, &bid) ||
		    bpf_map_lookup_elem(m->fd[XLB_MAP_BACKENDS], &bid, &b)) {
			cJSON_AddItemToArray(arr, cJSON_CreateString("missing"));
			continue;
		}
		cJSON_AddItemToArray(arr, cJSON_CreateString(
			addr_port_str(&b.addr, b.family, b.port, buf, sizeof(buf))));
	}
	return arr;
}

struct svc_walk {
	struct xlb_maps *m;
	cJSON *arr;
	int json;
};

static int print_frontend(const void *key, const void *value, void *arg)
{
	const struct xlb_frontend_key *k = key;
	const struct xlb_frontend *fe = value;
	struct svc_walk *w = arg;
	char addr[XLB_ADDR_STRLEN];
	struct xlb_service s = {};
	int have = !maps_get_service(w->m, fe->svc_id, &s);
	cJSON *o;

	addr_str(&k->addr, k->family, addr, sizeof(addr));
	if (k->family == XLB_FAM_V4 && !k->addr.v4)
		snprintf(addr, sizeof(addr), "*");
	if (k->family == XLB_FAM_V6 && !k->addr.v6[0] && !k->addr.v6[1] && !k->addr.v6[2] &&
	    !k->addr.v6[3])
		snprintf(addr, sizeof(addr), "*");
	if (!w->json) {
		printf("%-12s %-28s %5u/%-4s svc %-6u %s%s cluster %u local %u%s\n",
		       fe_kind_str(fe->kind), addr, ntohs(k->port), proto_str(k->proto), fe->svc_id,
		       k->family == XLB_FAM_V4 ? "v4" : "v6",
		       fe->flags & XLB_FE_GATED ? " GATED" : "", s.n_cluster, s.n_local,
		       have ? "" : " (no service entry)");
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", fe_kind_str(fe->kind));
	cJSON_AddStringToObject(o, "address", addr);
	cJSON_AddNumberToObject(o, "port", ntohs(k->port));
	cJSON_AddStringToObject(o, "protocol", proto_str(k->proto));
	cJSON_AddNumberToObject(o, "family", k->family);
	cJSON_AddNumberToObject(o, "svc_id", fe->svc_id);
	cJSON_AddBoolToObject(o, "gated", fe->flags & XLB_FE_GATED);
	if (have) {
		cJSON_AddNumberToObject(o, "flags", s.flags);
		cJSON_AddBoolToObject(o, "etp_local", s.flags & XLB_SVC_ETP_LOCAL);
		cJSON_AddBoolToObject(o, "itp_local", s.flags & XLB_SVC_ITP_LOCAL);
		cJSON_AddBoolToObject(o, "affinity", s.flags & XLB_SVC_AFFINITY);
		cJSON_AddBoolToObject(o, "maglev", s.flags & XLB_SVC_MAGLEV);
		cJSON_AddNumberToObject(o, "generation", s.gen);
		cJSON_AddItemToObject(o, "cluster", slot_list(w->m, fe->svc_id, &s, XLB_SET_CLUSTER));
		cJSON_AddItemToObject(o, "local", slot_list(w->m, fe->svc_id, &s, XLB_SET_LOCAL));
	}
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

/* Open the pinned maps, walk one, print a table or a JSON array. */
static int list_map(int argc, char **argv, enum xlb_map_id map, maps_walk_fn print)
{
	struct cli_opts o;
	struct xlb_maps m;
	struct svc_walk w = { .m = &m };
	int rc = open_maps(argc, argv, &o, &m);

	if (rc)
		return rc;
	w.json = o.json;
	w.arr = o.json ? cJSON_CreateArray() : NULL;
	rc = maps_walk(&m, map, print, &w);
	if (o.json)
		print_json(w.arr);
	maps_close(&m);
	if (rc)
		fprintf(stderr, "xlb %s: reading %s: %s\n", argv[0], maps_pin_name(map),
			strerror(-rc));
	return rc ? 1 : 0;
}

int cmd_services(int argc, char **argv)
{
	return list_map(argc, argv, XLB_MAP_FRONTENDS, print_frontend);
}

static int print_backend(const void *key, const void *value, void *arg)
{
	const struct xlb_backend *b = value;
	struct svc_walk *w = arg;
	char buf[XLB_ADDR_STRLEN + 8];
	cJSON *o;

	addr_port_str(&b->addr, b->family, b->port, buf, sizeof(buf));
	if (!w->json) {
		printf("%-8u %-32s %s\n", *(const __u32 *)key, buf,
		       b->flags & XLB_BE_LOCAL ? "local" : "remote");
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", *(const __u32 *)key);
	cJSON_AddStringToObject(o, "address", buf);
	cJSON_AddBoolToObject(o, "local", b->flags & XLB_BE_LOCAL);
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

int cmd_backends(int argc, char **argv)
{
	return list_map(argc, argv, XLB_MAP_BACKENDS, print_backend);
}

static int print_flow(const void *key, const void *value, void *arg)
{
	const struct xlb_ct_key *k = key;
	const struct xlb_ct_entry *e = value;
	char s[80], d[80], ns[80], nd[80];
	struct svc_walk *w = arg;
	cJSON *o;

	addr_port_str(&k->saddr, k->family, k->sport, s, sizeof(s));
	addr_port_str(&k->daddr, k->family, k->dport, d, sizeof(d));
	addr_port_str(&e->nat_saddr, k->family, e->nat_sport, ns, sizeof(ns));
	addr_port_str(&e->nat_daddr, k->family, e->nat_dport, nd, sizeof(nd));
	if (!w->json) {
		printf("%-4s %s -> %s  =>  %s -> %s  %s%s backend %u\n", proto_str(k->proto), s, d,
		       ns, nd, e->flags & XLB_CT_REPLY ? "reply" : "orig",
		       e->flags & XLB_CT_SNAT ? " snat" : "", e->backend_id);
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "protocol", proto_str(k->proto));
	cJSON_AddStringToObject(o, "source", s);
	cJSON_AddStringToObject(o, "destination", d);
	cJSON_AddStringToObject(o, "nat_source", ns);
	cJSON_AddStringToObject(o, "nat_destination", nd);
	cJSON_AddBoolToObject(o, "reply", e->flags & XLB_CT_REPLY);
	cJSON_AddBoolToObject(o, "snat", e->flags & XLB_CT_SNAT);
	cJSON_AddNumberToObject(o, "state", e->state);
	cJSON_AddNumberToObject(o, "svc_id", e->svc_id);
	cJSON_AddNumberToObject(o, "backend_id", e->backend_id);
	cJSON_AddItemToArray(w->arr, o);
	return 0;
}

int cmd_conntrack(int argc, char **argv)
{
	return list_map(argc, argv, XLB_MAP_CONNTRACK, print_flow);
}

static void add_counters(cJSON *parent, const char *name, const char *const *names,
			 const __u64 *v, __u32 n, int json)
{
	cJSON *o = json ? cJSON_AddObjectToObject(parent, name) : NULL;

	for (__u32 i = 0; i < n; i++) {
		if (json)
			cJSON_AddNumberToObject(o, names[i], (double)v[i]);
		else
			printf("%-6s %-28s %llu\n", name, names[i], (unsigned long long)v[i]);
	}
}

int cmd_stats(int argc, char **argv)
{
	__u64 drops[XLB_DROP_MAX], skips[XLB_SKIP_MAX], pk[XLB_PACKETS_MAX];
	char names[XLB_PACKETS_MAX][32];
	const char *pnames[XLB_PACKETS_MAX];
	cJSON *root = NULL, *maps = NULL;
	struct cli_opts o;
	struct xlb_maps m;
	int rc = open_maps(argc, argv, &o, &m);

	if (rc)
		return rc;
	maps_read_counters(&m, XLB_MAP_DROPS, drops, XLB_DROP_MAX);
	maps_read_counters(&m, XLB_MAP_SKIPS, skips, XLB_SKIP_MAX);
	maps_read_counters(&m, XLB_MAP_PACKETS, pk, XLB_PACKETS_MAX);
	for (int h = 0; h < XLB_HOOK_MAX; h++)
		for (int v = 0; v < XLB_VERDICT_MAX; v++) {
			int i = XLB_PACKETS_INDEX(h, v);

			snprintf(names[i], sizeof(names[i]), "%s/%s", xlb_hook_names[h],
				 xlb_verdict_names[v]);
			pnames[i] = names[i];
		}
	if (o.json)
		root = cJSON_CreateObject();
	add_counters(root, "drops", xlb_drop_names, drops, XLB_DROP_MAX, o.json);
	add_counters(root, "skips", xlb_skip_names, skips, XLB_SKIP_MAX, o.json);
	add_counters(root, "packets", pnames, pk, XLB_PACKETS_MAX, o.json);
	if (o.json)
		maps = cJSON_AddObjectToObject(root, "maps");
	for (int i = 0; i < XLB_MAP_N; i++) {
		__u32 used = i == XLB_MAP_CONFIG || i >= XLB_MAP_DROPS ? 0 : maps_count(&m, i);

		if (o.json)
			cJSON_AddNumberToObject(maps, maps_pin_name(i), used);
		else if (i != XLB_MAP_CONFIG && i < XLB_MAP_DROPS)
			printf("map    %-28s %u/%u\n", maps_pin_name(i), used, maps_capacity(&m, i));
	}
	if (o.json)
		print_json(root);
	maps_close(&m);
	return 0;
}

int cmd_cleanup(int argc, char **argv)
{
	struct cli_opts o;
	char err[512];

	if (parse_cli(argc, argv, &o))
		return 2;
	if (dp_cleanup(o.bpffs, err, sizeof(err))) {
		fprintf(stderr, "xlb cleanup: %s\n", err);
		return 1;
	}
	return 0;
}
