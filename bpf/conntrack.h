/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Connection tracking: a forward and a reply entry per translated flow in an
 * LRU hash. Entries age by protocol state; a dead entry counts as a miss. */
#ifndef XLB_CONNTRACK_H
#define XLB_CONNTRACK_H

#include "parse.h"
#include "maps.h"

#define NSEC_PER_SEC 1000000000ULL

/* Nanoseconds per jiffy of this kernel; the loader sets it from the kernel
 * config (0: HZ unknown). */
const volatile __u32 xlb_ns_per_jiffy;

/* The data path's clock in nanoseconds; only differences mean anything.
 * jiffies when HZ is known: the verifier inlines that read, while a clock
 * helper's call and return cost more than the rest of an established flow's
 * lookup on mitigated CPUs. Conntrack and affinity age in seconds, so a tick
 * (1-10 ms) is plenty. */
static __always_inline __u64 xlb_now(void)
{
	if (xlb_ns_per_jiffy)
		return bpf_jiffies64() * xlb_ns_per_jiffy;
	return bpf_ktime_get_coarse_ns();
}

static __always_inline __u64 ct_timeout(const struct xlb_config *cfg, __u8 proto, __u8 state)
{
	if (proto == XLB_IPPROTO_UDP)
		return cfg->udp_timeout * NSEC_PER_SEC;
	if (state == XLB_CT_NEW)
		return cfg->tcp_syn_timeout * NSEC_PER_SEC;
	if (state == XLB_CT_CLOSING)
		return cfg->tcp_close_timeout * NSEC_PER_SEC;
	return cfg->tcp_timeout * NSEC_PER_SEC;
}

static __always_inline int ct_alive(const struct xlb_config *cfg, const struct xlb_ct_entry *e,
				    __u8 proto, __u64 now)
{
	return now - e->last_seen < ct_timeout(cfg, proto, e->state);
}

/* A TCP SYN without ACK starts a connection. */
static __always_inline int tcp_syn(const struct xlb_pkt *p)
{
	return p->proto == XLB_IPPROTO_TCP &&
	       (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
}

/* Advance the entry's state from this packet; the timestamp is written at
 * most once a second so busy flows do not bounce the cache line. */
static __always_inline void ct_touch(struct xlb_ct_entry *e, const struct xlb_pkt *p, __u64 now)
{
	__u8 state = e->state;
	int changed;

	if (p->proto == XLB_IPPROTO_TCP) {
		if (p->tcp_flags & (TCPF_FIN | TCPF_RST))
			state = XLB_CT_CLOSING;
		else if (state == XLB_CT_NEW && !tcp_syn(p))
			state = XLB_CT_ESTABLISHED;
	} else {
		/* UDP and SCTP: a second packet of the flow, either way, means it lives. */
		state = XLB_CT_ESTABLISHED;
	}
	changed = state != e->state;
	if (changed)
		e->state = state;
	if (changed || now - e->last_seen > NSEC_PER_SEC)
		e->last_seen = now;
}

#endif
