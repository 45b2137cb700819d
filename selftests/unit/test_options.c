/* The agent's flags: kube-proxy's syntax, the feature gate, --config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "test.h"

static int parse(struct xlb_options *o, char *err, const char *a1, const char *a2,
		 const char *a3)
{
	char *argv[] = { "agent", (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1 + !!a1 + !!a2 + !!a3;

	return options_parse(o, argc, argv, err, 256);
}

static void test_defaults_and_syntax(void)
{
	struct xlb_options o;
	char err[256];

	test_begin("options_defaults");
	CHECK(!parse(&o, err, NULL, NULL, NULL), "%s", err);
	CHECK(!o.allow_external_ips && o.nodeport_primary && !o.maglev &&
	      !strcmp(o.healthz_bind, "0.0.0.0:10256") && !strcmp(o.metrics_bind, "127.0.0.1:10249") &&
	      !strcmp(o.bpffs, "/sys/fs/bpf/xlb") && o.xdp_mode == XDP_MODE_NATIVE,
	      "defaults wrong");
	options_free(&o);
	test_end();

	test_begin("options_flag_value_forms");
	CHECK(!parse(&o, err, "--cluster-cidr", "198.18.0.0/15, 2001:db8:1::/48",
		     "--masquerade-all"), "%s", err);
	CHECK(o.n_cluster_cidrs == 2 && o.cluster_cidrs[1].ip.family == 6 && o.masquerade_all,
	      "space form / mixed families / bare boolean");
	options_free(&o);
	CHECK(!parse(&o, err, "--masquerade-all=false", "--lb-algorithm=maglev",
		     "--nodeport-addresses=192.0.2.0/24"), "%s", err);
	CHECK(!o.masquerade_all && o.maglev && !o.nodeport_primary && o.n_nodeport_cidrs == 1,
	      "= form");
	options_free(&o);
	test_end();

	test_begin("options_bad_values_are_errors");
	CHECK(parse(&o, err, "--cluster-cidr", "198.18.0.0/33", NULL) < 0 &&
	      strstr(err, "--cluster-cidr"), "bad CIDR: %s", err);
	options_free(&o);
	CHECK(parse(&o, err, "--masquerade-all=maybe", NULL, NULL) < 0, "bad boolean accepted");
	options_free(&o);
	CHECK(parse(&o, err, "--conntrack-max", "-5", NULL) < 0, "negative size accepted");
	options_free(&o);
	CHECK(parse(&o, err, "--no-such-flag", NULL, NULL) < 0 && strstr(err, "--no-such-flag"),
	      "unknown flag: %s", err);
	options_free(&o);
	CHECK(parse(&o, err, "--xdp-mode", "turbo", NULL) < 0, "bad mode accepted");
	options_free(&o);
	CHECK(parse(&o, err, "--snat-port-min", "65000", "--snat-port-max=64000") < 0,
	      "inverted port range accepted");
	options_free(&o);
	test_end();
}

static void test_gates(void)
{
	struct xlb_options o;
	char err[256];

	test_begin("feature_gate_external_ips");
	CHECK(!parse(&o, err, "--feature-gates", "AllowServiceExternalIPs=true", NULL) &&
	      o.allow_external_ips, "gate on: %s", err);
	options_free(&o);
	CHECK(!parse(&o, err, "--feature-gates=AllowServiceExternalIPs=false", NULL, NULL) &&
	      !o.allow_external_ips, "gate off: %s", err);
	options_free(&o);
	CHECK(parse(&o, err, "--feature-gates=Bogus=true", NULL, NULL) < 0 && strstr(err, "Bogus"),
	      "unknown gate: %s", err);
	options_free(&o);
	CHECK(parse(&o, err, "--feature-gates=AllowServiceExternalIPs=yes", NULL, NULL) < 0 &&
	      strstr(err, "AllowServiceExternalIPs"), "bad value: %s", err);
	options_free(&o);
	test_end();
}

static void test_config_file(void)
{
	char path[] = "/tmp/xlb-options-XXXXXX", arg[64], err[256];
	struct xlb_options o;
	FILE *f;
	int fd = mkstemp(path);

	test_begin("config_file_yaml_and_flag_precedence");
	f = fdopen(fd, "w");
	fputs("cluster-cidr:\n  - 198.18.0.0/16\n  - 2001:db8:1::/48\nmasquerade-all: true\n"
	      "feature-gates: AllowServiceExternalIPs=true\nmetrics-bind-address: 127.0.0.1:9999\n",
	      f);
	fclose(f);
	snprintf(arg, sizeof(arg), "--config=%s", path);
	CHECK(!parse(&o, err, arg, "--metrics-bind-address", "127.0.0.1:1234"), "%s", err);
	CHECK(o.n_cluster_cidrs == 2 && o.masquerade_all && o.allow_external_ips,
	      "file values not applied");
	CHECK(!strcmp(o.metrics_bind, "127.0.0.1:1234"), "the command line must win");
	options_free(&o);
	f = fopen(path, "w");
	fputs("{\"cluster-cidr\": \"198.18.0.0/16\", \"bogus-key\": 1}\n", f);
	fclose(f);
	CHECK(parse(&o, err, arg, NULL, NULL) < 0 && strstr(err, "bogus-key"),
	      "unknown key in JSON config: %s", err);
	options_free(&o);
	unlink(path);
	test_end();
}

int main(void)
{
	test_defaults_and_syntax();
	test_gates();
	test_config_file();
	return test_exit_status();
}
