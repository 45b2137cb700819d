#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

static const char *const bpf_names[XLB_MAP_N] = {
	[XLB_MAP_FRONTENDS] = "xlb_frontends",
	[XLB_MAP_SERVICES] = "xlb_services",
	[XLB_MAP_SLOTS] = "xlb_slots",
	[XLB_MAP_BACKENDS] = "xlb_backends",
	[XLB_MAP_CONNTRACK] = "xlb_conntrack",
	[XLB_MAP_AFFINITY] = "xlb_affinity",
	[XLB_MAP_SRC_RANGES] = "xlb_src_ranges",
	[XLB_MAP_POD_CIDRS] = "xlb_pod_cidrs",
	[XLB_MAP_SVC_CIDRS] = "xlb_svc_cidrs",
	[XLB_MAP_LOCAL_ADDRS] = "xlb_local_addrs",
	[XLB_MAP_FRAGS] = "xlb_frags",
	[XLB_MAP_CONFIG] = "xlb_config",
	[XLB_MAP_DROPS] = "xlb_drops",
	[XLB_MAP_SKIPS] = "xlb_skips",
	[XLB_MAP_PACKETS] = "xlb_packets",
};

const char *const xlb_drop_names[XLB_DROP_MAX] = {
	[XLB_DROP_NO_ENDPOINTS] = "no_endpoints",
	[XLB_DROP_UNKNOWN_PORT] = "unknown_port",
	[XLB_DROP_POLICY_LOCAL] = "policy_local_no_endpoint",
	[XLB_DROP_SOURCE_RANGE] = "source_range",
	[XLB_DROP_UNALLOCATED] = "unallocated_cluster_ip",
	[XLB_DROP_MALFORMED] = "malformed",
	[XLB_DROP_CT_FULL] = "ct_full",
	[XLB_DROP_NO_BACKEND] = "no_backend",
	[XLB_DROP_REWRITE] = "rewrite_failed",
};

const char *const xlb_skip_names[XLB_SKIP_MAX] = {
	[XLB_SKIP_NOT_SERVICE] = "not_service",
	[XLB_SKIP_EXTERNAL_IP_GATED] = "external_ip_gated",
	[XLB_SKIP_FRAGMENT] = "fragment",
	[XLB_SKIP_UNSUPPORTED_PROTO] = "unsupported_proto",
	[XLB_SKIP_LOCAL_DELIVERY] = "local_delivery",
};

const char *const xlb_hook_names[XLB_HOOK_MAX] = {
	[XLB_HOOK_XDP] = "xdp",
	[XLB_HOOK_TC] = "tc",
	[XLB_HOOK_SOCK] = "sock",
};

const char *const xlb_verdict_names[XLB_VERDICT_MAX] = {
	[XLB_VERDICT_PASS] = "pass",
	[XLB_VERDICT_DROP] = "drop",
	[XLB_VERDICT_REJECT] = "reject",
	[XLB_VERDICT_TX] = "tx",
	[XLB_VERDICT_REDIRECT] = "redirect",
	[XLB_VERDICT_STACK] = "stack",
};

const char *maps_bpf_name(enum xlb_map_id id)
{
	return bpf_names[id];
}

const char *maps_pin_name(enum xlb_map_id id)
{
	return bpf_names[id] + strlen("xlb_");
}

void maps_init(struct xlb_maps *m)
{
	for (int i = 0; i < XLB_MAP_N; i++)
		m->fd[i] = -1;
}

int maps_from_object(struct xlb_maps *m, struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map *map;

	maps_init(m);
	for (int i = 0; i < XLB_MAP_N; i++) {
		map = bpf_object__find_map_by_name(obj, bpf_names[i]);
		if (!map || bpf_map__fd(map) < 0) {
			snprintf(err, errlen, "map %s: not in the loaded object", bpf_names[i]);
			return -ENOENT;
		}
		m->fd[i] = dup(bpf_map__fd(map));
		if (m->fd[i] < 0) {
			snprintf(err, errlen, "map %s: dup: %s", bpf_names[i], strerror(errno));
			maps_close(m);
			return -errno;
		}
	}
	return 0;
}

int maps_open_pinned(struct xlb_maps *m, const char *dir, char *err, size_t errlen)
{
	char path[4096];

	maps_init(m);
	for (int i = 0; i < XLB_MAP_N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps_pin_name(i));
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "open pinned map %s: %s (is the agent loaded with --bpffs %s?)",
				 path, strerror(e), dir);
			maps_close(m);
			return -e;
		}
	}
	return 0;
}

void maps_close(struct xlb_maps *m)
{
	for (int i = 0; i < XLB_MAP_N; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

__u32 maps_capacity(const struct xlb_maps *m, enum xlb_map_id id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(m->fd[id], &info, &len))
		return 0;
	return info.max_entries;
}

static int ret_errno(int rc)
{
	return rc < 0 ? -errno : rc;
}

/* ct_gen belongs to maps_conntrack_changed(): a config write keeps it. */
int maps_set_config(struct xlb_maps *m, const struct xlb_config *cfg)
{
	struct xlb_config cur, next = *cfg;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(m->fd[XLB_MAP_CONFIG], &zero, &cur))
		next.ct_gen = cur.ct_gen;
	return ret_errno(bpf_map_update_elem(m->fd[XLB_MAP_CONFIG], &zero, &next, BPF_ANY));
}

int maps_conntrack_changed(struct xlb_maps *m)
{
	struct xlb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(m->fd[XLB_MAP_CONFIG], &zero, &cfg))
		return -errno;
	cfg.ct_gen++;
	return ret_errno(bpf_map_update_elem(m->fd[XLB_MAP_CONFIG], &zero, &cfg, BPF_ANY));
}

int maps_get_config(struct xlb_maps *m, struct xlb_config *cfg)
{
	__u32 zero = 0;

	return ret_errno(bpf_map_lookup_elem(m->fd[XLB_MAP_CONFIG], &zero, cfg));
}

int maps_set_frontend(struct xlb_maps *m, const struct xlb_frontend_key *k,
		      const struct xlb_frontend *v)
{
	return ret_errno(bpf_map_update_elem(m->fd[XLB_MAP_FRONTENDS], k, v, BPF_ANY));
}

int maps_del_frontend(struct xlb_maps *m, const struct xlb_frontend_key *k)
{
	return ret_errno(bpf_map_delete_elem(m->fd[XLB_MAP_FRONTENDS], k));
}

int maps_set_backend(struct xlb_maps *m, __u32 id, const struct xlb_backend *b)
{
	return ret_errno(bpf_map_update_elem(m->fd[XLB_MAP_BACKENDS], &id, b, BPF_ANY));
}

int maps_del_backend(struct xlb_maps *m, __u32 id)
{
	return ret_errno(bpf_map_delete_elem(m->fd[XLB_MAP_BACKENDS], &id));
}

int maps_get_service(struct xlb_maps *m, __u32 svc_id, struct xlb_service *out)
{
	return ret_errno(bpf_map_lookup_elem(m->fd[XLB_MAP_SERVICES], &svc_id, out));
}

/* Write (or delete, when ids is NULL) n slots of one table generation, in
 * one batch where the kernel takes it, else one by one. */
static int slots_apply(struct xlb_maps *m, __u32 svc_id, __u16 gen, __u8 set,
		       const __u32 *ids, __u32 n)
{
	struct xlb_slot_key *keys = n ? calloc(n, sizeof(*keys)) : NULL;
	int fd = m->fd[XLB_MAP_SLOTS], err = 0;
	__u32 count = n;

	if (!n)
		return 0;
	if (!keys)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++)
		keys[i] = (struct xlb_slot_key){ .svc_id = svc_id, .gen = gen, .set = set,
						 .index = i };
	if (ids ? !bpf_map_update_batch(fd, keys, ids, &count, NULL) :
		  !bpf_map_delete_batch(fd, keys, &count, NULL))
		goto out;
	for (__u32 i = 0; i < n; i++) {
		if (ids && bpf_map_update_elem(fd, &keys[i], &ids[i], BPF_ANY)) {
			err = -errno;
			break;
		}
		if (!ids)
			bpf_map_delete_elem(fd, &keys[i]);
	}
out:
	free(keys);
	return err;
}

int maps_publish_service(struct xlb_maps *m, __u32 svc_id, const struct xlb_service *tmpl,
			 const __u32 *cluster, __u32 n_cluster,
			 const __u32 *local, __u32 n_local)
{
	struct xlb_service old, svc = *tmpl;
	int have_old = !maps_get_service(m, svc_id, &old);
	int err;

	svc.gen = have_old ? old.gen + 1 : 0;
	svc.n_cluster = n_cluster;
	svc.n_local = n_local;
	err = slots_apply(m, svc_id, svc.gen, XLB_SET_CLUSTER, cluster, n_cluster);
	if (!err)
		err = slots_apply(m, svc_id, svc.gen, XLB_SET_LOCAL, local, n_local);
	if (err) {
		/* Nothing refers to the half-written generation: remove it. */
		slots_apply(m, svc_id, svc.gen, XLB_SET_CLUSTER, NULL, n_cluster);
		slots_apply(m, svc_id, svc.gen, XLB_SET_LOCAL, NULL, n_local);
		return err;
	}
	if (bpf_map_update_elem(m->fd[XLB_MAP_SERVICES], &svc_id, &svc, BPF_ANY)) {
		err = -errno;
		slots_apply(m, svc_id, svc.gen, XLB_SET_CLUSTER, NULL, n_cluster);
		slots_apply(m, svc_id, svc.gen, XLB_SET_LOCAL, NULL, n_local);
		return err;
	}
	if (have_old) {
		slots_apply(m, svc_id, old.gen, XLB_SET_CLUSTER, NULL, old.n_cluster);
		slots_apply(m, svc_id, old.gen, XLB_SET_LOCAL, NULL, old.n_local);
	}
	return 0;
}

int maps_del_service(struct xlb_maps *m, __u32 svc_id)
{
	struct xlb_service old;

	if (maps_get_service(m, svc_id, &old))
		return 0;
	if (bpf_map_delete_elem(m->fd[XLB_MAP_SERVICES], &svc_id))
		return -errno;
	slots_apply(m, svc_id, old.gen, XLB_SET_CLUSTER, NULL, old.n_cluster);
	slots_apply(m, svc_id, old.gen, XLB_SET_LOCAL, NULL, old.n_local);
	return 0;
}

static void lpm_key(struct xlb_lpm_key *k, __u32 id, const union xlb_addr *addr,
		    __u8 prefix_len)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + prefix_len;
	k->id = id;
	k->addr = *addr;
}

int maps_set_prefix(struct xlb_maps *m, enum xlb_map_id map, __u32 id,
		    const union xlb_addr *addr, __u8 prefix_len)
{
	struct xlb_lpm_key k;
	__u8 one = 1;

	lpm_key(&k, id, addr, prefix_len);
	return ret_errno(bpf_map_update_elem(m->fd[map], &k, &one, BPF_ANY));
}

int maps_del_prefix(struct xlb_maps *m, enum xlb_map_id map, __u32 id,
		    const union xlb_addr *addr, __u8 prefix_len)
{
	struct xlb_lpm_key k;

	lpm_key(&k, id, addr, prefix_len);
	return ret_errno(bpf_map_delete_elem(m->fd[map], &k));
}

int maps_set_local_addr(struct xlb_maps *m, const union xlb_addr *addr, __u8 family,
			__u32 flags)
{
	struct xlb_addr_key k = { .addr = *addr, .family = family };

	if (!flags)
		return ret_errno(bpf_map_delete_elem(m->fd[XLB_MAP_LOCAL_ADDRS], &k));
	return ret_errno(bpf_map_update_elem(m->fd[XLB_MAP_LOCAL_ADDRS], &k, &flags, BPF_ANY));
}

int maps_read_counters(struct xlb_maps *m, enum xlb_map_id map, __u64 *out, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(m->fd[map], &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

int maps_walk(struct xlb_maps *m, enum xlb_map_id map, maps_walk_fn fn, void *arg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *key = NULL, *next = NULL, *val = NULL;
	int fd = m->fd[map], err = 0, rc;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	key = calloc(1, info.key_size);
	next = calloc(1, info.key_size);
	val = calloc(1, info.value_size);
	if (!key || !next || !val) {
		err = -ENOMEM;
		goto out;
	}
	for (rc = bpf_map_get_next_key(fd, NULL, next); !rc;
	     rc = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, info.key_size);
		if (bpf_map_lookup_elem(fd, key, val))
			continue;	/* deleted meanwhile */
		err = fn(key, val, arg);
		if (err)
			break;
	}
out:
	free(key);
	free(next);
	free(val);
	return err;
}

static int count_one(const void *key, const void *value, void *arg)
{
	(*(__u32 *)arg)++;
	return 0;
}

__u32 maps_count(const struct xlb_maps *m, enum xlb_map_id id)
{
	__u32 n = 0;

	maps_walk((struct xlb_maps *)m, id, count_one, &n);
	return n;
}

struct flush_ctx {
	const __u32 *ids;
	size_t n_ids;
	struct xlb_ct_key *keys;
	size_t n, cap;
};

static int collect_flow(const void *key, const void *value, void *arg)
{
	const struct xlb_ct_entry *e = value;
	struct flush_ctx *f = arg;
	struct xlb_ct_key *grown;
	size_t i;

	for (i = 0; i < f->n_ids && f->ids[i] != e->backend_id; i++)
		;
	if (i == f->n_ids)
		return 0;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		grown = realloc(f->keys, f->cap * sizeof(*f->keys));
		if (!grown)
			return -ENOMEM;
		f->keys = grown;
	}
	memcpy(&f->keys[f->n++], key, sizeof(*f->keys));
	return 0;
}

int maps_flush_backend_flows(struct xlb_maps *m, const __u32 *ids, size_t n)
{
	struct flush_ctx f = { .ids = ids, .n_ids = n };
	int err;

	/* Collect first: deleting while walking would skip keys. */
	err = maps_walk(m, XLB_MAP_CONNTRACK, collect_flow, &f);
	for (size_t i = 0; !err && i < f.n; i++)
		bpf_map_delete_elem(m->fd[XLB_MAP_CONNTRACK], &f.keys[i]);
	free(f.keys);
	if (!err && f.n)
		err = maps_conntrack_changed(m);
	return err ? err : (int)f.n;
}
