/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb's BPF maps. Both programs include this file; the loader makes them share
 * one instance of each map (pinned under --bpffs). Sizes here are defaults the
 * loader overrides from its flags. bpf/README.md describes every map. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xlb_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	/* Not preallocated: a replaced element is freed after an RCU grace
	 * period, so a reader sees the old value or the new, never a mix. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_frontend_key);
	__type(value, struct xlb_frontend);
} xlb_frontends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* see xlb_frontends */
	__type(key, __u32);
	__type(value, struct xlb_service);
} xlb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_slot_key);
	__type(value, __u32);
} xlb_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} xlb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct xlb_ct_key);
	__type(value, struct xlb_ct_entry);
} xlb_conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct xlb_affinity_key);
	__type(value, struct xlb_affinity);
} xlb_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_lpm_key);
	__type(value, __u8);
} xlb_src_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_lpm_key);
	__type(value, __u8);
} xlb_pod_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_lpm_key);
	__type(value, __u8);
} xlb_svc_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct xlb_addr_key);
	__type(value, __u32);
} xlb_local_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct xlb_frag_key);
	__type(value, struct xlb_frag_ports);
} xlb_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct xlb_sock_key);
	__type(value, struct xlb_sock_rev);
} xlb_sock_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
} xlb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_SKIP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_skips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_PACKETS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_packets SEC(".maps");

#endif
