/* The agent's flags: kube-proxy's names where the meaning is the same, xlb's
 * own otherwise; from the command line and from --config (YAML or JSON with
 * the flag names as keys; the command line wins). */
#ifndef XLB_OPTIONS_H
#define XLB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include "ipaddr.h"
#include "loader.h"

#define XLB_MAX_CIDRS 32

struct xlb_options {
	char *kubeconfig;
	char *master;
	char *hostname;			/* --hostname-override, NODE_NAME, hostname */
	bool allow_external_ips;	/* --feature-gates AllowServiceExternalIPs */
	bool nodeport_primary;		/* --nodeport-addresses primary (default) */
	struct xlb_prefix nodeport_cidrs[XLB_MAX_CIDRS];
	size_t n_nodeport_cidrs;
	struct xlb_prefix cluster_cidrs[XLB_MAX_CIDRS];
	size_t n_cluster_cidrs;
	struct xlb_prefix service_cidrs[XLB_MAX_CIDRS];
	size_t n_service_cidrs;
	bool masquerade_all;
	char *healthz_bind;
	char *metrics_bind;
	char *devices;			/* comma-separated interface names */
	char *pod_devices;		/* comma-separated globs */
	char *bpffs;
	char *cgroup_root;		/* socket hooks; NULL: the cgroup v2 root */
	enum xdp_mode xdp_mode;
	bool maglev;			/* --lb-algorithm maglev */
	struct dp_sizes sizes;
	unsigned int snat_port_min, snat_port_max;
	unsigned int sync_period_s;	/* health: unhealthy after 2 x this */
	unsigned int tcp_timeout_s, tcp_syn_timeout_s, tcp_close_timeout_s, udp_timeout_s;
	char *config_file;
};

/* Defaults, then --config, then the command line. 0 on success; 1 when
 * --help was printed; -1 with err set on a bad flag or value. */
int options_parse(struct xlb_options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(struct xlb_options *o);
void options_usage(FILE *f);

/* "Name=bool,..." into o; unknown gate or bad value: -1 with err naming it. */
int options_feature_gates(struct xlb_options *o, const char *value, char *err, size_t errlen);

#endif
