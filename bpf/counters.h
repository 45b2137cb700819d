/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters. Every packet ends in exactly one of: a drop reason, a skip
 * reason, or a translation; and in exactly one (hook, verdict) cell. */
#ifndef XLB_COUNTERS_H
#define XLB_COUNTERS_H

#include "maps.h"

static __always_inline void count_in(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count_verdict(__u32 verdict)
{
	count_in(&xlb_packets, XLB_PACKETS_INDEX(XLB_HOOK, verdict));
}

static __always_inline int verdict_drop(__u32 reason)
{
	count_in(&xlb_drops, reason);
	count_verdict(XLB_VERDICT_DROP);
	return XLB_RET_DROP;
}

static __always_inline int verdict_skip(__u32 reason)
{
	count_in(&xlb_skips, reason);
	count_verdict(XLB_VERDICT_PASS);
	return XLB_RET_PASS;
}

#endif
