/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The contract between xlb's BPF programs and its userspace: every map key and
 * value, every flag and every counter reason. Included by bpf/ and user/ alike;
 * no layout is written down anywhere else. bpf/README.md explains each map. */
#ifndef XLB_ABI_H
#define XLB_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Address families as stored in keys (not AF_* so BPF needs no libc). */
#define XLB_FAM_V4 4
#define XLB_FAM_V6 6

/* An IPv4 address lives in v4 (network order) with the other 12 bytes zero. */
union xlb_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 b[16];
};

/* ---- frontends: (address, port, protocol) -> service port ---------------- */
enum xlb_fe_kind {
	XLB_FE_CLUSTER_IP = 1,
	XLB_FE_NODE_PORT = 2,	/* key addr is zero: any NodePort address */
	XLB_FE_LOAD_BALANCER = 3,
	XLB_FE_EXTERNAL_IP = 4,
	XLB_FE_VIP = 5,		/* port 0, proto 0: a known ClusterIP; other ports REJECT */
};

/* Frontend flags. */
#define XLB_FE_GATED (1U << 0)	/* externalIP left alone: AllowServiceExternalIPs off */

struct xlb_frontend_key {
	union xlb_addr addr;
	__be16 port;
	__u8 proto;	/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	__u8 family;	/* XLB_FAM_V4 or XLB_FAM_V6 */
};

struct xlb_frontend {
	__u32 svc_id;	/* key of xlb_services */
	__u8 kind;	/* enum xlb_fe_kind */
	__u8 flags;	/* XLB_FE_* */
	__u16 pad;
};

/* ---- services: one per (Service port, address family) ------------------- */
#define XLB_SVC_ETP_LOCAL     (1U << 0)	/* externalTrafficPolicy: Local */
#define XLB_SVC_ITP_LOCAL     (1U << 1)	/* internalTrafficPolicy: Local */
#define XLB_SVC_AFFINITY      (1U << 2)	/* sessionAffinity: ClientIP */
#define XLB_SVC_SOURCE_RANGES (1U << 3)	/* loadBalancerSourceRanges set */
#define XLB_SVC_MAGLEV        (1U << 4)	/* slots are a Maglev table: hash, not random */

/* Replaced whole by one map update (hash map: readers see old or new value,
 * never a mix); that update is the atomic switch to a new selection table. */
struct xlb_service {
	__u32 flags;		/* XLB_SVC_* */
	__u16 gen;		/* generation of this service's slots in xlb_slots */
	__u16 pad0;
	__u32 n_cluster;	/* slots of the cluster set; 0 = no usable endpoint */
	__u32 n_local;		/* slots of the local set */
	__u32 affinity_timeout;	/* seconds, with XLB_SVC_AFFINITY */
	__u32 pad;
};

/* ---- selection tables: slot -> backend ----------------------------------- */
enum xlb_set {
	XLB_SET_CLUSTER = 0,
	XLB_SET_LOCAL = 1,
};

struct xlb_slot_key {
	__u32 svc_id;
	__u16 gen;
	__u8 set;	/* enum xlb_set */
	__u8 pad;
	__u32 index;
};

/* ---- backends: id -> endpoint address ------------------------------------ */
#define XLB_BE_LOCAL (1U << 0)	/* endpoint on this node */

/* Immutable while any slot refers to it: a changed address gets a new id. */
struct xlb_backend {
	union xlb_addr addr;
	__be16 port;
	__u8 family;
	__u8 flags;	/* XLB_BE_* */
};

/* ---- connection tracking ------------------------------------------------- */
/* One entry per direction, keyed by the tuple as it arrives; the value says
 * what to rewrite that tuple to. */
struct xlb_ct_key {
	union xlb_addr saddr;
	union xlb_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

#define XLB_CT_REPLY  (1U << 0)	/* the backend -> client direction */
#define XLB_CT_SNAT   (1U << 1)	/* the flow is masqueraded */

enum xlb_ct_state {
	XLB_CT_NEW = 0,		/* TCP SYN seen / first UDP datagram */
	XLB_CT_ESTABLISHED = 1,
	XLB_CT_CLOSING = 2,	/* TCP FIN or RST seen */
};

/* XDP_TX next hop from the FIB, kept with a flow for a second or two so an
 * established flow skips the lookup. */
struct xlb_next_hop {
	__u32 ifindex;	/* 0 = none */
	__u32 stamp;	/* xlb_now() >> 30 at the lookup */
	__u8 dmac[6];	/* then smac: the order of an Ethernet header */
	__u8 smac[6];
};

struct xlb_ct_entry {
	union xlb_addr nat_saddr;
	union xlb_addr nat_daddr;
	__be16 nat_sport;
	__be16 nat_dport;
	__u8 flags;	/* XLB_CT_* */
	__u8 state;	/* enum xlb_ct_state */
	__u16 pad;
	__u32 svc_id;
	__u32 backend_id;
	__u64 last_seen;	/* xlb_now() (bpf/conntrack.h), refreshed at most once a second */
	struct xlb_next_hop nh;
};

/* ---- ClientIP session affinity ------------------------------------------- */
struct xlb_affinity_key {
	__u32 svc_id;
	__u32 pad;
	union xlb_addr client;
};

struct xlb_affinity {
	__u32 backend_id;
	__u32 pad;
	__u64 last_used;	/* xlb_now() */
};

/* ---- prefixes: pod CIDRs, service CIDRs, loadBalancerSourceRanges -------- */
/* LPM trie key: prefixlen counts the 32 bits of id plus the address prefix.
 * id is the family for the CIDR maps and the svc_id for source ranges. */
struct xlb_lpm_key {
	__u32 prefixlen;
	__u32 id;
	union xlb_addr addr;
};

/* ---- this node's addresses ----------------------------------------------- */
#define XLB_ADDR_NODE     (1U << 0)	/* one of the node's addresses */
#define XLB_ADDR_NODEPORT (1U << 1)	/* serves NodePorts (--nodeport-addresses) */

struct xlb_addr_key {
	union xlb_addr addr;
	__u32 family;
};

/* ---- fragments: later fragments follow the first one's ports ------------- */
struct xlb_frag_key {
	union xlb_addr saddr;
	union xlb_addr daddr;
	__u32 id;	/* IPv4 id or IPv6 fragment identification */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct xlb_frag_ports {
	__be16 sport;
	__be16 dport;
	__u32 pad;
};

/* ---- socket-level translation of node-originated traffic ---------------- */
/* connect()/sendmsg() to a frontend is rewritten to the backend; this map
 * gives recvmsg()/getpeername() the frontend back. */
struct xlb_sock_key {
	__u64 cookie;		/* socket cookie */
	union xlb_addr addr;	/* the backend */
	__be16 port;
	__u8 family;
	__u8 pad[5];
};

struct xlb_sock_rev {
	union xlb_addr addr;	/* the frontend */
	__be16 port;
	__u16 pad;
};

/* ---- global configuration: xlb_config[0] -------------------------------- */
#define XLB_CFG_POD_DETECT (1U << 0)	/* --cluster-cidr given: pods are known */
#define XLB_CFG_MASQ_ALL   (1U << 1)	/* --masquerade-all */
#define XLB_CFG_NO_FLOW_CACHE (1U << 2)	/* every packet looks up conntrack (benchmarks) */

struct xlb_config {
	union xlb_addr snat_v4;	/* masquerade address per family (node address) */
	union xlb_addr snat_v6;
	__u16 snat_port_min;	/* masquerade source ports, host order */
	__u16 snat_port_max;
	__u32 flags;		/* XLB_CFG_* */
	__u64 netns_cookie;	/* the node's network namespace: socket hooks act only there */
	__u32 tcp_timeout;	/* seconds: established TCP/SCTP */
	__u32 tcp_syn_timeout;	/* seconds: TCP/SCTP before the reply */
	__u32 tcp_close_timeout;	/* seconds: after FIN/RST */
	__u32 udp_timeout;	/* seconds: UDP */
	/* Bumped by userspace after it deletes conntrack entries: the
	 * per-CPU flow caches then drop what they copied (maps_set_config()
	 * keeps it). */
	__u32 ct_gen;
	__u32 pad;
};

/* ---- counters: per-CPU arrays indexed by these enums --------------------- */
/* xlb_drops: packets the data path dropped (or answered with REJECT). */
enum xlb_drop_reason {
	XLB_DROP_NO_ENDPOINTS,		/* REJECT: no usable endpoint */
	XLB_DROP_UNKNOWN_PORT,		/* REJECT: known ClusterIP, undefined port */
	XLB_DROP_POLICY_LOCAL,		/* Local policy, no local endpoint */
	XLB_DROP_SOURCE_RANGE,		/* outside loadBalancerSourceRanges */
	XLB_DROP_UNALLOCATED,		/* unallocated address in the service CIDR */
	XLB_DROP_MALFORMED,		/* truncated or inconsistent headers */
	XLB_DROP_CT_FULL,		/* no conntrack entry or SNAT port could be made */
	XLB_DROP_NO_BACKEND,		/* selection table names a missing backend */
	XLB_DROP_REWRITE,		/* a packet rewrite helper failed */
	XLB_DROP_MAX,
};

/* xlb_skips: packets deliberately passed on untouched. */
enum xlb_skip_reason {
	XLB_SKIP_NOT_SERVICE,		/* no frontend or flow of ours */
	XLB_SKIP_EXTERNAL_IP_GATED,	/* externalIP with the gate off */
	XLB_SKIP_FRAGMENT,		/* a fragment whose flow is unknown */
	XLB_SKIP_UNSUPPORTED_PROTO,	/* not IPv4/IPv6, or an L4 we do not balance */
	XLB_SKIP_LOCAL_DELIVERY,	/* XDP leaves it to tc (the target is local) */
	XLB_SKIP_MAX,
};

/* xlb_packets: every packet once, by hook and verdict. */
enum xlb_hook {
	XLB_HOOK_XDP,
	XLB_HOOK_TC,
	XLB_HOOK_SOCK,		/* cgroup connect/sendmsg of node processes */
	XLB_HOOK_MAX,
};

enum xlb_verdict {
	XLB_VERDICT_PASS,	/* passed on untouched: one skip reason each */
	XLB_VERDICT_DROP,	/* dropped: one drop reason each */
	XLB_VERDICT_REJECT,	/* answered with ICMP unreachable: one drop reason each */
	XLB_VERDICT_TX,		/* translated, XDP_TX out of the same device */
	XLB_VERDICT_REDIRECT,	/* translated, redirected to the next hop's device */
	XLB_VERDICT_STACK,	/* translated, handed to the kernel stack */
	XLB_VERDICT_MAX,
};

#define XLB_PACKETS_INDEX(hook, verdict) ((hook) * XLB_VERDICT_MAX + (verdict))
#define XLB_PACKETS_MAX (XLB_HOOK_MAX * XLB_VERDICT_MAX)

#endif /* XLB_ABI_H */
