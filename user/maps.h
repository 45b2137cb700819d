/* Access to xlb's BPF maps, shared by the agent's sync, the inspection CLI and
 * the tests: open them (from a loaded object or the pin directory), write the
 * typed entries of bpf/xlb_abi.h, and read counters. No policy lives here. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <stddef.h>
#include <linux/types.h>
#include "xlb_abi.h"

struct bpf_object;

enum xlb_map_id {
	XLB_MAP_FRONTENDS,
	XLB_MAP_SERVICES,
	XLB_MAP_SLOTS,
	XLB_MAP_BACKENDS,
	XLB_MAP_CONNTRACK,
	XLB_MAP_AFFINITY,
	XLB_MAP_SRC_RANGES,
	XLB_MAP_POD_CIDRS,
	XLB_MAP_SVC_CIDRS,
	XLB_MAP_LOCAL_ADDRS,
	XLB_MAP_FRAGS,
	XLB_MAP_CONFIG,
	XLB_MAP_DROPS,
	XLB_MAP_SKIPS,
	XLB_MAP_PACKETS,
	XLB_MAP_N,
};

struct xlb_maps {
	int fd[XLB_MAP_N];
};

/* The map's name in BPF ("xlb_services") and its pin file ("services"). */
const char *maps_bpf_name(enum xlb_map_id id);
const char *maps_pin_name(enum xlb_map_id id);

void maps_init(struct xlb_maps *m);
int maps_from_object(struct xlb_maps *m, struct bpf_object *obj, char *err, size_t errlen);
int maps_open_pinned(struct xlb_maps *m, const char *dir, char *err, size_t errlen);
void maps_close(struct xlb_maps *m);
/* Current max_entries of a map (0 when unknown). */
__u32 maps_capacity(const struct xlb_maps *m, enum xlb_map_id id);
/* Entries in a hash/LRU/LPM map (walks the keys). */
__u32 maps_count(const struct xlb_maps *m, enum xlb_map_id id);

/* Writes cfg but keeps the map's ct_gen. */
int maps_set_config(struct xlb_maps *m, const struct xlb_config *cfg);
/* After deleting conntrack entries: bump ct_gen, so no per-CPU flow cache
 * (bpf/flowcache.h) serves a deleted flow. */
int maps_conntrack_changed(struct xlb_maps *m);
int maps_get_config(struct xlb_maps *m, struct xlb_config *cfg);
int maps_set_frontend(struct xlb_maps *m, const struct xlb_frontend_key *k,
		      const struct xlb_frontend *v);
int maps_del_frontend(struct xlb_maps *m, const struct xlb_frontend_key *k);
int maps_set_backend(struct xlb_maps *m, __u32 id, const struct xlb_backend *b);
int maps_del_backend(struct xlb_maps *m, __u32 id);

/* Publish a service's selection tables: write generation gen+1 of both
 * tables, switch the service to it in one update, then delete the old
 * generation. tmpl gives flags and affinity; gen and counts are set here. */
int maps_publish_service(struct xlb_maps *m, __u32 svc_id, const struct xlb_service *tmpl,
			 const __u32 *cluster, __u32 n_cluster,
			 const __u32 *local, __u32 n_local);
int maps_get_service(struct xlb_maps *m, __u32 svc_id, struct xlb_service *out);
int maps_del_service(struct xlb_maps *m, __u32 svc_id);

/* prefix entries of the LPM maps; id = family (CIDR maps) or svc_id. */
int maps_set_prefix(struct xlb_maps *m, enum xlb_map_id map, __u32 id,
		    const union xlb_addr *addr, __u8 prefix_len);
int maps_del_prefix(struct xlb_maps *m, enum xlb_map_id map, __u32 id,
		    const union xlb_addr *addr, __u8 prefix_len);
int maps_set_local_addr(struct xlb_maps *m, const union xlb_addr *addr, __u8 family,
			__u32 flags);

/* Sum a per-CPU counter map into out[0..n). */
int maps_read_counters(struct xlb_maps *m, enum xlb_map_id map, __u64 *out, __u32 n);

/* Walk a map: fn gets each key and value; a non-zero return stops. */
typedef int (*maps_walk_fn)(const void *key, const void *value, void *arg);
int maps_walk(struct xlb_maps *m, enum xlb_map_id map, maps_walk_fn fn, void *arg);

/* Delete every conntrack entry (both directions) whose backend_id is one of
 * ids[0..n) (one walk of the map); returns the number deleted. */
int maps_flush_backend_flows(struct xlb_maps *m, const __u32 *ids, size_t n);

/* Counter reason names as exported in metrics and `xlb stats`. */
extern const char *const xlb_drop_names[XLB_DROP_MAX];
extern const char *const xlb_skip_names[XLB_SKIP_MAX];
extern const char *const xlb_hook_names[XLB_HOOK_MAX];
extern const char *const xlb_verdict_names[XLB_VERDICT_MAX];

#endif
