#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "options.h"

enum opt_kind {
	OPT_STR,
	OPT_BOOL,
	OPT_UINT,
	OPT_CIDRS,
	OPT_NODEPORT,
	OPT_GATES,
	OPT_XDP_MODE,
	OPT_ALGORITHM,
};

struct opt_def {
	const char *name;
	enum opt_kind kind;
	size_t off;		/* field in struct xlb_options */
	size_t count_off;	/* OPT_CIDRS: the count field */
	const char *help;
};

#define F(field) offsetof(struct xlb_options, field)

static const struct opt_def defs[] = {
	{ "kubeconfig", OPT_STR, F(kubeconfig), 0, "kubeconfig file (default: in-cluster config)" },
	{ "master", OPT_STR, F(master), 0, "API server URL (overrides the kubeconfig's)" },
	{ "hostname-override", OPT_STR, F(hostname), 0,
	  "this node's name (default: $NODE_NAME, then the hostname)" },
	{ "feature-gates", OPT_GATES, 0, 0, "Name=bool,... (AllowServiceExternalIPs, default false)" },
	{ "nodeport-addresses", OPT_NODEPORT, 0, 0,
	  "'primary' (default) or CIDRs whose node addresses serve NodePorts" },
	{ "cluster-cidr", OPT_CIDRS, F(cluster_cidrs), F(n_cluster_cidrs),
	  "pod CIDRs (IPv4 and/or IPv6); none: no pod detection" },
	{ "service-cidr", OPT_CIDRS, F(service_cidrs), F(n_service_cidrs),
	  "service CIDRs: unallocated addresses in them are dropped" },
	{ "masquerade-all", OPT_BOOL, F(masquerade_all), 0, "SNAT all ClusterIP traffic" },
	{ "healthz-bind-address", OPT_STR, F(healthz_bind), 0, "default 0.0.0.0:10256; '' disables" },
	{ "metrics-bind-address", OPT_STR, F(metrics_bind), 0, "default 127.0.0.1:10249; '' disables" },
	{ "config", OPT_STR, F(config_file), 0, "YAML/JSON file with these flags as keys" },
	{ "devices", OPT_STR, F(devices), 0,
	  "external interfaces for XDP and tc (default: those with a default route)" },
	{ "pod-devices", OPT_STR, F(pod_devices), 0,
	  "globs of pod-facing interfaces; tc is attached to each as it appears" },
	{ "bpffs", OPT_STR, F(bpffs), 0, "pin directory (default /sys/fs/bpf/xlb)" },
	{ "cgroup-root", OPT_STR, F(cgroup_root), 0,
	  "cgroup v2 directory for the node-traffic socket hooks (default: the root)" },
	{ "xdp-mode", OPT_XDP_MODE, 0, 0, "native (default), generic or off" },
	{ "lb-algorithm", OPT_ALGORITHM, 0, 0, "random (default, as kube-proxy) or maglev" },
	{ "conntrack-max", OPT_UINT, F(sizes.conntrack), 0, "conntrack entries (default 262144)" },
	{ "max-services", OPT_UINT, F(sizes.services), 0, "service ports (default 65536)" },
	{ "max-frontends", OPT_UINT, F(sizes.frontends), 0, "frontends (default 65536)" },
	{ "max-backends", OPT_UINT, F(sizes.backends), 0, "backends (default 262144)" },
	{ "max-slots", OPT_UINT, F(sizes.slots), 0, "selection-table slots (default 1048576)" },
	{ "snat-port-min", OPT_UINT, F(snat_port_min), 0, "masquerade source ports (default 61000)" },
	{ "snat-port-max", OPT_UINT, F(snat_port_max), 0, "(default 65535)" },
	{ "sync-period", OPT_UINT, F(sync_period_s), 0,
	  "seconds; /healthz fails when an update waits 2x this (default 30)" },
	{ "conntrack-tcp-timeout-established", OPT_UINT, F(tcp_timeout_s), 0, "seconds (86400)" },
	{ "conntrack-tcp-timeout-syn", OPT_UINT, F(tcp_syn_timeout_s), 0, "seconds (60)" },
	{ "conntrack-tcp-timeout-close", OPT_UINT, F(tcp_close_timeout_s), 0, "seconds (120)" },
	{ "conntrack-udp-timeout", OPT_UINT, F(udp_timeout_s), 0, "seconds (30)" },
};

#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

void options_usage(FILE *f)
{
	fprintf(f, "usage: xlb agent [flags]\n\n"
		   "Runs on each node in place of kube-proxy: loads and attaches the data path,\n"
		   "lists and watches Services, EndpointSlices and this Node, and keeps the maps\n"
		   "in sync. On SIGTERM it exits and leaves the data path in place.\n"
		   "Flags take '--flag value' or '--flag=value'; booleans '--flag[=true|false]'.\n\n");
	for (size_t i = 0; i < N_DEFS; i++)
		fprintf(f, "  --%-34s %s\n", defs[i].name, defs[i].help);
}

static int set_str(char **field, const char *v)
{
	char *dup = strdup(v);

	if (!dup)
		return -1;
	free(*field);
	*field = dup;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	return -1;
}

/* Comma-separated CIDRs, whitespace around each trimmed. */
static int parse_cidrs(const char *v, struct xlb_prefix *out, size_t *n, const char *name,
		       char *err, size_t errlen)
{
	char *copy = strdup(v), *save = NULL, *tok;

	*n = 0;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		tok[strcspn(tok, " \t")] = 0;
		if (!*tok)
			continue;
		if (*n == XLB_MAX_CIDRS || xlb_prefix_parse(tok, &out[*n])) {
			snprintf(err, errlen, "--%s: %s '%s'", name,
				 *n == XLB_MAX_CIDRS ? "too many CIDRs at" : "invalid CIDR", tok);
			free(copy);
			return -1;
		}
		(*n)++;
	}
	free(copy);
	return 0;
}

int options_feature_gates(struct xlb_options *o, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value), *save = NULL, *tok, *eq;
	bool b;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		eq = strchr(tok, '=');
		if (!eq || parse_bool(eq + 1, &b)) {
			snprintf(err, errlen, "--feature-gates: '%s': want Name=true|false", tok);
			goto fail;
		}
		*eq = 0;
		if (strcmp(tok, "AllowServiceExternalIPs")) {
			snprintf(err, errlen, "--feature-gates: unknown feature gate '%s'", tok);
			goto fail;
		}
		o->allow_external_ips = b;
	}
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

static int apply(struct xlb_options *o, const struct opt_def *d, const char *v, char *err,
		 size_t errlen)
{
	char *field = (char *)o + d->off, *end;
	unsigned long n;

	switch (d->kind) {
	case OPT_STR:
		return set_str((char **)field, v);
	case OPT_BOOL:
		if (parse_bool(v, (bool *)field))
			goto bad;
		return 0;
	case OPT_UINT:
		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || *end || !*v || n == 0 || n > UINT_MAX || *v == '-')
			goto bad;
		*(unsigned int *)field = n;
		return 0;
	case OPT_CIDRS:
		return parse_cidrs(v, (struct xlb_prefix *)field, (size_t *)((char *)o + d->count_off),
				   d->name, err, errlen);
	case OPT_NODEPORT:
		o->nodeport_primary = !strcmp(v, "primary");
		if (o->nodeport_primary) {
			o->n_nodeport_cidrs = 0;
			return 0;
		}
		return parse_cidrs(v, o->nodeport_cidrs, &o->n_nodeport_cidrs, d->name, err, errlen);
	case OPT_GATES:
		return options_feature_gates(o, v, err, errlen);
	case OPT_XDP_MODE:
		if (!strcmp(v, "native"))
			o->xdp_mode = XDP_MODE_NATIVE;
		else if (!strcmp(v, "generic"))
			o->xdp_mode = XDP_MODE_GENERIC;
		else if (!strcmp(v, "off"))
			o->xdp_mode = XDP_MODE_OFF;
		else
			goto bad;
		return 0;
	case OPT_ALGORITHM:
		if (strcmp(v, "random") && strcmp(v, "maglev"))
			goto bad;
		o->maglev = !strcmp(v, "maglev");
		return 0;
	}
bad:
	snprintf(err, errlen, "--%s: invalid value '%s'", d->name, v);
	return -1;
}

static const struct opt_def *find_def(const char *name, size_t len)
{
	for (size_t i = 0; i < N_DEFS; i++)
		if (strlen(defs[i].name) == len && !strncmp(defs[i].name, name, len))
			return &defs[i];
	return NULL;
}

static void set_defaults(struct xlb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->nodeport_primary = true;
	o->healthz_bind = strdup("0.0.0.0:10256");
	o->metrics_bind = strdup("127.0.0.1:10249");
	o->bpffs = strdup(XLB_DEFAULT_BPFFS);
	o->snat_port_min = 61000;
	o->snat_port_max = 65535;
	o->sync_period_s = 30;
	o->tcp_timeout_s = 86400;
	o->tcp_syn_timeout_s = 60;
	o->tcp_close_timeout_s = 120;
	o->udp_timeout_s = 30;
}

/* --config: a mapping of flag names to scalars (sequences are joined with
 * commas), read with libyaml so YAML and JSON both work. */
static int load_config_file(struct xlb_options *o, const char *path, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	FILE *f = fopen(path, "r");
	char key[128] = "", val[4096] = "";
	int depth = 0, in_seq = 0, rc = -1, done = 0;
	const struct opt_def *d;

	if (!f) {
		snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "--config %s: line %zu: %s", path,
				 p.problem_mark.line + 1, p.problem ? p.problem : "parse error");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_MAPPING_START_EVENT:
			if (++depth > 1) {
				snprintf(err, errlen, "--config %s: nested mapping under '%s'", path, key);
				goto fail_ev;
			}
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			in_seq = 1;
			val[0] = 0;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_SCALAR_EVENT:
			if (ev.type == YAML_SCALAR_EVENT && !key[0]) {
				snprintf(key, sizeof(key), "%s", (char *)ev.data.scalar.value);
				break;
			}
			if (ev.type == YAML_SCALAR_EVENT && in_seq) {
				size_t l = strlen(val);

				snprintf(val + l, sizeof(val) - l, "%s%s", l ? "," : "",
					 (char *)ev.data.scalar.value);
				break;
			}
			if (ev.type == YAML_SCALAR_EVENT)
				snprintf(val, sizeof(val), "%s", (char *)ev.data.scalar.value);
			in_seq = 0;
			d = find_def(key, strlen(key));
			if (!d || !strcmp(key, "config")) {
				snprintf(err, errlen, "--config %s: unknown key '%s'", path, key);
				goto fail_ev;
			}
			if (apply(o, d, val, err, errlen))
				goto fail_ev;
			key[0] = 0;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
	goto out;
fail_ev:
	yaml_event_delete(&ev);
out:
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

/* The --config value, found before the other flags are applied. */
static const char *config_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
	}
	return NULL;
}

static int parse_args(struct xlb_options *o, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *v;
		const struct opt_def *d;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			options_usage(stdout);
			return 1;
		}
		if (strncmp(a, "--", 2)) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		d = find_def(a, eq ? (size_t)(eq - a) : strlen(a));
		if (!d) {
			snprintf(err, errlen, "unknown flag '%s'", argv[i]);
			return -1;
		}
		if (eq)
			v = eq + 1;
		else if (d->kind == OPT_BOOL)
			v = "true";
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			snprintf(err, errlen, "--%s needs a value", d->name);
			return -1;
		}
		if (apply(o, d, v, err, errlen))
			return -1;
	}
	return 0;
}

static int default_hostname(struct xlb_options *o)
{
	char host[256];
	const char *env = getenv("NODE_NAME");

	if (o->hostname && *o->hostname)
		return 0;
	if (env && *env)
		return set_str(&o->hostname, env);
	if (gethostname(host, sizeof(host)))
		return -1;
	host[sizeof(host) - 1] = 0;
	return set_str(&o->hostname, host);
}

int options_parse(struct xlb_options *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *cfg = config_arg(argc, argv);
	int rc;

	set_defaults(o);
	if (cfg && load_config_file(o, cfg, err, errlen))
		return -1;
	rc = parse_args(o, argc, argv, err, errlen);
	if (rc)
		return rc;
	if (o->snat_port_min > 65535 || o->snat_port_max > 65535 ||
	    o->snat_port_min > o->snat_port_max) {
		snprintf(err, errlen, "--snat-port-min/max: want 1 <= min <= max <= 65535");
		return -1;
	}
	if (default_hostname(o)) {
		snprintf(err, errlen, "node name: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void options_free(struct xlb_options *o)
{
	free(o->kubeconfig);
	free(o->master);
	free(o->hostname);
	free(o->healthz_bind);
	free(o->metrics_bind);
	free(o->devices);
	free(o->pod_devices);
	free(o->bpffs);
	free(o->cgroup_root);
	free(o->config_file);
	memset(o, 0, sizeof(*o));
}
