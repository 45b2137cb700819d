/* The data path's clock without a kernel config (XLB_KERNEL_CONFIG names a
 * file that is not there): the loader leaves the jiffies constant at 0 and
 * the programs read bpf_ktime_get_coarse_ns() instead. Flows still start,
 * are tracked and age on that clock. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "dptest.h"
#include "maps.h"
#include "test.h"

static uint64_t coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void test_helper_clock(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct xlb_ct_key k = { .sport = htons(40000), .dport = htons(80),
				.proto = IPPROTO_TCP, .family = a->family };
	struct pkt_spec in = {
		.eth_src = pkt_mac(DPT_MAC_CLIENT), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(a->pod), .dst = pkt_addr(a->cip), .proto = IPPROTO_TCP,
		.sport = 40000, .dport = 80, .payload_len = 8, .tcp_flags = PKT_TCP_SYN,
	};
	uint8_t out[PKT_BUF_LEN];
	struct xlb_ct_entry e;
	uint64_t before, after;
	uint32_t id, out_len;

	test_begin(f ? "clock_helper_without_kernel_config_v6" :
		       "clock_helper_without_kernel_config_v4");
	dpt_reset();
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, a->cip, 80, IPPROTO_TCP, XLB_FE_CLUSTER_IP, 0);
	memcpy(&k.saddr, in.src.b, 16);
	memcpy(&k.daddr, in.dst.b, 16);
	before = coarse_now();
	CHECK(dpt_run_spec(DPT_TC, &in, out, &out_len) == TC_ACT_REDIRECT, "SYN not translated");
	in.tcp_flags = PKT_TCP_ACK;
	CHECK(dpt_run_spec(DPT_TC, &in, out, &out_len) == TC_ACT_REDIRECT, "ACK not translated");
	after = coarse_now();
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k, &e), "no entry");
	CHECK(e.state == XLB_CT_ESTABLISHED, "state %u", e.state);
	/* CLOCK_MONOTONIC_COARSE is what the helper reads; jiffies times the
	 * tick length would be months away from it. */
	CHECK(e.last_seen >= before && e.last_seen <= after, "last_seen %llu not in [%llu, %llu]",
	      (unsigned long long)e.last_seen, (unsigned long long)before,
	      (unsigned long long)after);
	test_end();
}

int main(void)
{
	setenv("XLB_KERNEL_CONFIG", "/nonexistent/xlb-kernel-config", 1);
	dpt_init();
	test_helper_clock(0);
	test_helper_clock(1);
	return test_exit_status();
}
