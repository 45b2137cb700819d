/* A throw-away world for BPF_PROG_TEST_RUN tests of the data path: a private
 * network namespace with a node uplink, a pod device, routes and static
 * neighbours (so FIB lookups resolve), both programs loaded unpinned, and
 * helpers to program services and to run packets and read counters. */
#ifndef XLB_DPTEST_H
#define XLB_DPTEST_H

#include <stdbool.h>
#include <stdint.h>
#include "pkt.h"
#include "loader.h"

enum dpt_prog { DPT_XDP, DPT_TC };

/* Addresses of the test world, per family (index 0: IPv4, 1: IPv6). */
struct dpt_fam {
	uint8_t family;
	const char *node;	/* the node's address (NodePorts, SNAT) */
	const char *gw_node2;	/* next hop to node2's pods */
	const char *gw_ext;	/* next hop to external clients */
	const char *client;	/* an external client */
	const char *client2;	/* another one */
	const char *pod;	/* a local pod (client) */
	const char *pod_be;	/* a local pod (backend) */
	const char *remote_be;	/* a pod on node2 (backend) */
	const char *remote_be2;
	const char *cip;	/* a ClusterIP */
	const char *unalloc;	/* unallocated, inside the service CIDR */
	const char *lbip;
	const char *eip;
};

extern const struct dpt_fam dpt_fams[2];
extern struct dp dpt_dp;

#define DPT_MAC_NODE "02:00:00:00:00:01"
#define DPT_MAC_NODE2 "02:00:00:00:00:02"
#define DPT_MAC_EXT "02:00:00:00:00:fe"
#define DPT_MAC_POD "02:00:00:00:01:05"
#define DPT_MAC_CLIENT "02:00:00:00:03:07"
#define DPT_SNAT_MIN 61000
#define DPT_SNAT_MAX 65535

/* Create the namespace and load the programs; exits the process on failure. */
void dpt_init(void);
/* Empty every map and program the base world again (config, CIDRs, node
 * addresses); the next service id and backend id start over. */
void dpt_reset(void);

/* A backend: address text, port, local to this node. */
struct dpt_be {
	const char *addr;
	uint16_t port;
	bool local;
};

/* Create backends and a service port (family from the first backend or fam);
 * cluster set = all backends, local set = the local ones. Returns svc_id. */
uint32_t dpt_service(int fam, uint32_t flags, const struct dpt_be *bes, int n);
/* Backend ids of the last dpt_service call, in order. */
extern uint32_t dpt_be_ids[64];
/* Republish svc_id's tables with the given backend ids. */
void dpt_publish(uint32_t svc_id, uint32_t flags, const uint32_t *cluster, int nc,
		 const uint32_t *local, int nl);
/* A frontend; addr NULL means the NodePort entry (any NodePort address). */
void dpt_frontend(uint32_t svc_id, int fam, const char *addr, uint16_t port, uint8_t proto,
		  uint8_t kind, uint8_t flags);
void dpt_frontend_del(int fam, const char *addr, uint16_t port, uint8_t proto);
void dpt_source_range(uint32_t svc_id, const char *addr, uint8_t prefix);
void dpt_config_flags(uint32_t set, uint32_t clear);

/* Run one packet. Returns the program's return code; out gets the frame. */
int dpt_run(enum dpt_prog prog, const uint8_t *in, int in_len, uint8_t *out, uint32_t *out_len);
/* Build spec into a frame and run it. */
int dpt_run_spec(enum dpt_prog prog, const struct pkt_spec *s, uint8_t *out, uint32_t *out_len);

struct dpt_counters {
	__u64 drops[16];
	__u64 skips[16];
	__u64 packets[32];
};
void dpt_counters(struct dpt_counters *c);
/* After - before: which single drop (or skip) reason rose, -1 if none,
 * -2 if more than one or by more than one. */
int dpt_drop_delta(const struct dpt_counters *before, const struct dpt_counters *after);
int dpt_skip_delta(const struct dpt_counters *before, const struct dpt_counters *after);
uint64_t dpt_verdict_delta(const struct dpt_counters *before, const struct dpt_counters *after,
			   enum dpt_prog prog, int verdict);

const char *dpt_prog_name(enum dpt_prog prog);
int dpt_ifindex_uplink(void);
int dpt_ret_pass(enum dpt_prog prog);
int dpt_ret_drop(enum dpt_prog prog);

#endif
