// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Decoding: every fixture in $XLB_FIXTURES (default ../shared/fixtures) has
 * an expected outcome here, the placeholder fixtures are repaired field by
 * field to walk through every rejection reason in order, and a table of
 * hand-made bad objects checks each reason and the field it names. */
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "json.h"
#include "test.h"

enum dec { SVC, SLICE, NODE, LIST };

static const char *decode_any(enum dec d, const cJSON *j, struct decode_err *err, void **obj)
{
	int ret;

	switch (d) {
	case SVC:
		ret = decode_service(j, (struct kube_service **)obj, err);
		break;
	case SLICE:
		ret = decode_slice(j, (struct kube_slice **)obj, err);
		break;
	default:
		ret = decode_node(j, (struct kube_node **)obj, err);
		break;
	}
	CHECK((ret == 0) == (err->reason == NULL) && (ret == 0) == (*obj != NULL),
	      "return value, reason and object disagree");
	return err->reason;
}

static void free_any(enum dec d, void *obj)
{
	if (d == SVC)
		kube_service_free(obj);
	else if (d == SLICE)
		kube_slice_free(obj);
	else
		kube_node_free(obj);
}

/* ---- fixtures ---- */

static bool ip_is(const struct xlb_ip *ip, const char *text)
{
	struct xlb_ip want;

	return !xlb_ip_parse(text, &want) && xlb_ip_equal(ip, &want);
}

static void chk_dual_svc(void *o)
{
	struct kube_service *s = o;

	CHECK(s->n_cluster_ips == 2 && ip_is(&s->cluster_ips[0], "10.96.207.99") &&
	      ip_is(&s->cluster_ips[1], "fd00:10:96::b050"), "both families");
	CHECK(s->n_ports == 2 && s->ports[1].proto == IPPROTO_UDP && s->ports[1].node_port == 32757 &&
	      !strcmp(s->ports[1].name, "tftp"), "ports");
	CHECK(s->type == KUBE_SVC_NODE_PORT && !s->etp_local && !s->affinity, "type and policies");
}

static void chk_dual_v6_slice(void *o)
{
	struct kube_slice *s = o;
	struct kube_endpoint e0 = {}, e1 = {};

	if (s->n_endpoints == 2) {
		kube_slice_endpoint(s, 0, &e0);
		kube_slice_endpoint(s, 1, &e1);
	}
	CHECK(s->addr_type == KUBE_ADDR_IPV6 && s->n_endpoints == 2 &&
	      ip_is(&e0.ip, "fd00:10:244:2::a314"), "IPv6 endpoints");
	CHECK(s->n_ports == 2 && !strcmp(s->service_key, "default/echo-dualstack"),
	      "label and ports");
	CHECK(s->trigger_time_ns == 1663020624LL * 1000000000, "trigger time %lld",
	      (long long)s->trigger_time_ns);
	CHECK(e0.ready && e0.serving && !e0.terminating && !e0.hints &&
	      !strcmp(e0.node_name, "dual-stack-worker2"), "conditions and node");
	CHECK(e1.node_name && !strcmp(e1.node_name, "dual-stack-worker"), "second endpoint");
}

static void chk_eip_svc(void *o)
{
	struct kube_service *s = o;

	CHECK(s->n_external_ips == 1 && ip_is(&s->external_ips[0], "10.0.0.3"), "externalIPs");
	CHECK(s->n_ingress == 1 && s->ingress[0].vip && ip_is(&s->ingress[0].ip, "10.0.0.2"), "ingress");
	CHECK(s->n_source_ranges == 1 && s->source_ranges[0].len == 8, "source ranges");
	CHECK(s->type == KUBE_SVC_LOAD_BALANCER, "type");
}

static void chk_topo_slice(void *o)
{
	struct kube_slice *s = o;
	struct kube_endpoint e = {};

	if (s->n_endpoints == 1)
		kube_slice_endpoint(s, 0, &e);
	CHECK(s->n_endpoints == 1 && e.hints && e.hints->n_for_zones == 2 &&
	      !strcmp(e.hints->for_zones[1], "bar"), "zone hints");
	CHECK(!s->meta.resource_version[0] && !strcmp(s->meta.key, "test/echo-eps1") &&
	      !strcmp(s->meta.ns, "test") && !strcmp(s->meta.name, "echo-eps1"),
	      "key, namespace, name; absent resourceVersion is \"\"");
}

static void chk_tp_local(void *o)
{
	struct kube_service *s = o;

	CHECK(s->etp_local && s->itp_local, "both policies Local");
}

static void chk_tp_mixed(void *o)
{
	struct kube_service *s = o;

	CHECK(!s->etp_local && s->itp_local, "ETP Cluster, ITP Local");
}

static void chk_client_ip(void *o)
{
	struct kube_service *s = o;

	CHECK(s->affinity && s->affinity_timeout == 10800, "ClientIP without config defaults to 10800");
	CHECK(s->n_cluster_ips == 1 && ip_is(&s->cluster_ips[0], "10.0.0.1"), "pre-dual-stack clusterIP");
}

static void chk_head_node(void *o)
{
	struct kube_node *n = o;

	CHECK(n->deleting && !n->to_be_deleted && !n->zone && n->n_addrs == 0 &&
	      !strcmp(n->meta.name, "nameValue"), "placeholder Node");
}

static void chk_list(void *o)
{
	struct kube_service *s = o;

	CHECK(!strcmp(s->meta.name, "svc1") && s->n_ports == 1 && s->ports[0].port == 82 &&
	      !strcmp(s->ports[0].name, "80"), "list item");
}

struct fixture {
	const char *file;
	enum dec dec;
	const char *reason;	/* NULL: accepted */
	unsigned int skipped;
	const char *field;	/* in the message, for rejections */
	void (*check)(void *obj);
};

static const struct fixture fixtures[] = {
	{ "cilium.lbtest.dualstack.endpointslice-ipv4.derived.json", SLICE, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.dualstack.endpointslice-ipv6.derived.json", SLICE, NULL, 0, NULL, chk_dual_v6_slice },
	{ "cilium.lbtest.dualstack.service.derived.json", SVC, NULL, 0, NULL, chk_dual_svc },
	{ "cilium.lbtest.external-ips.endpointslice.derived.json", SLICE, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.external-ips.service.derived.json", SVC, NULL, 0, NULL, chk_eip_svc },
	{ "cilium.lbtest.headless.endpointslice.derived.json", SLICE, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.headless.service.derived.json", SVC, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.topology-aware.endpointslice.derived.json", SLICE, NULL, 0, NULL, chk_topo_slice },
	{ "cilium.lbtest.topology-aware.endpointslice2.derived.json", SLICE, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.topology-aware.service.derived.json", SVC, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.trafficpolicy.endpointslice.derived.json", SLICE, NULL, 0, NULL, NULL },
	{ "cilium.lbtest.trafficpolicy.service_tp_local.derived.json", SVC, NULL, 0, NULL, chk_tp_local },
	{ "cilium.lbtest.trafficpolicy.service_tp_mixed.derived.json", SVC, NULL, 0, NULL, chk_tp_mixed },
	/* Not an object at all: no metadata. */
	{ "client-go.openapi-v3.apis__discovery.k8s.io__v1.json", SLICE, DECODE_MISSING_FIELD, 0,
	  "metadata", NULL },
	/* The list itself is the wrong kind; its items decode (LIST). */
	{ "kubectl-edit.list-errors.GET-servicelist.200.json", LIST, NULL, 0, NULL, chk_list },
	{ "kubectl-edit.list-errors.PATCH.422-Status.json", SVC, DECODE_WRONG_KIND, 0, "kind", NULL },
	{ "kubectl-edit.missing-service.GET.404-Status.json", SVC, DECODE_WRONG_KIND, 0, "kind", NULL },
	{ "kubectl-edit.repeat-error.GET-default-kubernetes-service-ClientIP.200.json", SVC, NULL, 0, NULL,
	  chk_client_ip },
	{ "kubectl-edit.single-service.GET-service.200.json", SVC, NULL, 0, NULL, NULL },
	{ "testdata-HEAD.core.v1.Endpoints.json", SLICE, DECODE_WRONG_KIND, 0, "kind", NULL },
	{ "testdata-HEAD.core.v1.ListOptions.json", SVC, DECODE_WRONG_KIND, 0, "kind", NULL },
	{ "testdata-HEAD.core.v1.Node.json", NODE, NULL, 1, NULL, chk_head_node },
	{ "testdata-HEAD.core.v1.Service.json", SVC, DECODE_INVALID_VALUE, 0, "spec.type", NULL },
	{ "testdata-HEAD.core.v1.Status.json", NODE, DECODE_WRONG_KIND, 0, "kind", NULL },
	/* A watch event is not an object; its "object" is a CustomType. */
	{ "testdata-HEAD.core.v1.WatchEvent.json", SVC, DECODE_MISSING_FIELD, 0, "metadata", NULL },
	{ "testdata-HEAD.discovery.k8s.io.v1.EndpointSlice.json", SLICE, DECODE_MISSING_FIELD, 0,
	  "kubernetes.io/service-name", NULL },
	{ "testdata-fuzzed-legacy.core.v1.Service.json", SVC, DECODE_INVALID_VALUE, 0, "spec.type", NULL },
};

static cJSON *read_json(const char *dir, const char *file)
{
	char path[1024];
	cJSON *j = NULL;
	char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		j = cJSON_Parse(buf);
	}
	free(buf);
out:
	fclose(f);
	return j;
}

/* Every item decodes; the list object itself is the wrong kind. */
static void run_list(const struct fixture *fx, const cJSON *j)
{
	struct decode_err err;
	const cJSON *item;
	void *obj;
	const char *reason = decode_any(SVC, j, &err, &obj);

	CHECK(reason && !strcmp(reason, DECODE_WRONG_KIND), "list decoded as a Service");
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(j, "items")) {
		if (CHECK(!decode_any(SVC, item, &err, &obj), "item: %s", err.msg)) {
			fx->check(obj);
			free_any(SVC, obj);
		}
	}
}

static void run_fixture(const char *dir, const char *file)
{
	const struct fixture *fx = NULL;
	struct decode_err err;
	const char *reason;
	void *obj = NULL;
	char name[300];
	cJSON *j;
	size_t i;

	snprintf(name, sizeof(name), "fixture_%s", file);
	test_begin(name);
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		if (!strcmp(fixtures[i].file, file))
			fx = &fixtures[i];
	}
	j = read_json(dir, file);
	if (!CHECK(fx, "no expectation for this fixture: add one") || !CHECK(j, "unreadable JSON"))
		goto out;
	if (fx->dec == LIST) {
		run_list(fx, j);
		goto out;
	}
	reason = decode_any(fx->dec, j, &err, &obj);
	if (fx->reason) {
		CHECK(reason && !strcmp(reason, fx->reason), "reason %s, want %s (%s)", reason, fx->reason,
		      err.msg);
		CHECK(strstr(err.msg, fx->field), "message \"%s\" does not name %s", err.msg, fx->field);
	} else if (CHECK(!reason, "rejected: %s", err.msg)) {
		CHECK(err.skipped == fx->skipped, "skipped %u, want %u (%s)", err.skipped, fx->skipped,
		      err.skip_msg);
		if (fx->check)
			fx->check(obj);
	}
	free_any(fx->dec, obj);
out:
	cJSON_Delete(j);
	test_end();
}

static const char *fixture_dir(void)
{
	const char *d = getenv("XLB_FIXTURES");

	return d && *d ? d : "../shared/fixtures";
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_fixtures(void)
{
	const char *dir = fixture_dir();
	char *names[256];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		test_skip("fixtures", "fixture directory not found (set XLB_FIXTURES)");
		return;
	}
	while ((de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);

		if (len > 5 && !strcmp(de->d_name + len - 5, ".json"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	test_begin("fixtures_all_present");
	CHECK(n == sizeof(fixtures) / sizeof(fixtures[0]), "%zu .json files, %zu expectations", n,
	      sizeof(fixtures) / sizeof(fixtures[0]));
	test_end();
	for (i = 0; i < n; i++) {
		run_fixture(dir, names[i]);
		free(names[i]);
	}
}

/* ---- placeholder fixtures repaired one field at a time ---- */

struct repair {
	const char *reason;	/* expected before this repair; NULL = accepted */
	const char *field;	/* named in the message */
	const char *path[6];	/* object path to the field to replace */
	const char *json;	/* its new value */
};

static cJSON *walk(cJSON *j, const char *const *path, const char **last)
{
	size_t i;

	for (i = 0; path[i + 1]; i++) {
		if (cJSON_IsArray(j))
			j = cJSON_GetArrayItem(j, atoi(path[i]));
		else
			j = cJSON_GetObjectItem(j, path[i]);
	}
	*last = path[i];
	return j;
}

static void apply(cJSON *root, const struct repair *r)
{
	const char *last;
	cJSON *parent = walk(root, r->path, &last);
	cJSON *v = cJSON_Parse(r->json);

	if (cJSON_GetObjectItem(parent, last))
		cJSON_ReplaceItemInObject(parent, last, v);
	else
		cJSON_AddItemToObject(parent, last, v);
}

static void run_repairs(const char *name, const char *file, enum dec d, const struct repair *r,
			unsigned int final_skipped)
{
	cJSON *j = read_json(fixture_dir(), file);
	struct decode_err err;
	void *obj;

	if (!j) {
		test_skip(name, "fixture not found");
		return;
	}
	test_begin(name);
	for (;; r++) {
		const char *reason = decode_any(d, j, &err, &obj);

		if (!r->reason) {
			CHECK(!reason, "still rejected: %s", err.msg);
			CHECK(err.skipped == final_skipped, "skipped %u, want %u", err.skipped,
			      final_skipped);
			free_any(d, obj);
			break;
		}
		if (!CHECK(reason && !strcmp(reason, r->reason) && strstr(err.msg, r->field),
			   "got %s \"%s\", want %s at %s", reason, err.msg, r->reason, r->field)) {
			free_any(d, obj);
			break;
		}
		apply(j, r);
	}
	cJSON_Delete(j);
	test_end();
}

static const struct repair service_repairs[] = {
	{ DECODE_INVALID_VALUE, "spec.type", { "spec", "type" }, "\"LoadBalancer\"" },
	{ DECODE_INVALID_VALUE, "spec.ipFamilies", { "spec", "ipFamilies" }, "[\"IPv4\"]" },
	{ DECODE_INVALID_IP, "spec.clusterIPs[0]", { "spec", "clusterIPs" }, "[\"198.19.0.10\"]" },
	{ DECODE_INVALID_PROTO, "spec.ports[0].protocol", { "spec", "ports", "0", "protocol" }, "\"TCP\"" },
	{ DECODE_INVALID_VALUE, "spec.externalTrafficPolicy", { "spec", "externalTrafficPolicy" },
	  "\"Local\"" },
	{ DECODE_INVALID_VALUE, "spec.internalTrafficPolicy", { "spec", "internalTrafficPolicy" },
	  "\"Cluster\"" },
	{ DECODE_INVALID_VALUE, "spec.sessionAffinity", { "spec", "sessionAffinity" }, "\"ClientIP\"" },
	{ NULL, NULL, { NULL }, NULL },
};

static const struct repair slice_repairs[] = {
	{ DECODE_MISSING_FIELD, "kubernetes.io/service-name", { "metadata", "labels" },
	  "{\"kubernetes.io/service-name\":\"svc\"}" },
	{ DECODE_INVALID_VALUE, "addressType", { "addressType" }, "\"IPv4\"" },
	{ DECODE_INVALID_PROTO, "ports[0].protocol", { "ports", "0", "protocol" }, "\"UDP\"" },
	{ NULL, NULL, { NULL }, NULL },
};

static const struct repair fuzzed_repairs[] = {
	{ DECODE_INVALID_VALUE, "spec.type", { "spec", "type" }, "\"NodePort\"" },
	{ DECODE_INVALID_VALUE, "spec.ipFamilies", { "spec", "ipFamilies" }, "[]" },
	{ DECODE_INVALID_IP, "spec.clusterIPs[0]", { "spec", "clusterIPs" }, "[\"198.19.0.11\"]" },
	{ DECODE_INVALID_PROTO, "spec.ports[0].protocol", { "spec", "ports", "0", "protocol" }, "\"SCTP\"" },
	{ DECODE_INVALID_PORT, "spec.ports[0].port", { "spec", "ports", "0", "port" }, "8080" },
	{ DECODE_INVALID_PORT, "spec.ports[0].nodePort", { "spec", "ports", "0", "nodePort" }, "30001" },
	{ DECODE_INVALID_VALUE, "spec.externalTrafficPolicy", { "spec", "externalTrafficPolicy" }, "null" },
	{ DECODE_INVALID_PORT, "spec.healthCheckNodePort", { "spec", "healthCheckNodePort" }, "0" },
	{ DECODE_INVALID_VALUE, "spec.sessionAffinity", { "spec", "sessionAffinity" }, "\"ClientIP\"" },
	{ DECODE_INVALID_VALUE, "timeoutSeconds",
	  { "spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds" }, "3600" },
	{ NULL, NULL, { NULL }, NULL },
};

/* ---- hand-made bad objects ---- */

struct bad {
	const char *name;
	enum dec dec;
	const char *json;	/* ' stands for " */
	const char *reason;
	const char *field;
};

#define M "'metadata':{'namespace':'ns','name':'s'}"
#define SM "'metadata':{'namespace':'ns','name':'e','labels':{'kubernetes.io/service-name':'s'}}"
#define P80 "'ports':[{'name':'a','port':80}]"

static const struct bad bads[] = {
	{ "not_an_object", SVC, "[1,2]", DECODE_WRONG_TYPE, "(object)" },
	{ "no_metadata", SVC, "{'spec':{}}", DECODE_MISSING_FIELD, "metadata" },
	{ "no_name", SVC, "{'metadata':{'namespace':'ns'},'spec':{}}", DECODE_MISSING_FIELD, "metadata.name" },
	{ "empty_namespace", SVC, "{'metadata':{'namespace':'','name':'s'},'spec':{}}", DECODE_MISSING_FIELD,
	  "metadata.namespace" },
	{ "name_not_string", SVC, "{'metadata':{'namespace':'ns','name':7},'spec':{}}", DECODE_WRONG_TYPE,
	  "metadata.name" },
	{ "labels_not_object", SVC, "{'metadata':{'namespace':'ns','name':'s','labels':[]},'spec':{}}",
	  DECODE_WRONG_TYPE, "metadata.labels" },
	{ "no_spec", SVC, "{" M "}", DECODE_MISSING_FIELD, "spec" },
	{ "spec_not_object", SVC, "{" M ",'spec':'x'}", DECODE_WRONG_TYPE, "spec" },
	{ "cluster_ip_garbage", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.300'," P80 "}}", DECODE_INVALID_IP,
	  "spec.clusterIP" },
	{ "cluster_ip_octal_looking_too_big", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.0256'," P80 "}}",
	  DECODE_INVALID_IP, "spec.clusterIP" },
	{ "cluster_ips_family_mismatch", SVC,
	  "{" M ",'spec':{'clusterIPs':['10.0.0.1'],'ipFamilies':['IPv6']," P80 "}}", DECODE_INVALID_IP,
	  "spec.clusterIPs[0]" },
	{ "cluster_ips_same_family_twice", SVC,
	  "{" M ",'spec':{'clusterIPs':['10.0.0.1','10.0.0.2']," P80 "}}", DECODE_INVALID_IP,
	  "spec.clusterIPs[1]" },
	{ "cluster_ips_three", SVC, "{" M ",'spec':{'clusterIPs':['10.0.0.1','::1','::2']}}",
	  DECODE_TOO_LARGE, "spec.clusterIPs" },
	{ "port_zero", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':0}]}}",
	  DECODE_INVALID_PORT, "spec.ports[0].port" },
	{ "port_negative", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':-80}]}}",
	  DECODE_INVALID_PORT, "spec.ports[0].port" },
	{ "port_too_big", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':65536}]}}",
	  DECODE_INVALID_PORT, "spec.ports[0].port" },
	{ "port_fraction", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':80.5}]}}",
	  DECODE_WRONG_TYPE, "spec.ports[0].port" },
	{ "port_string", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':'80'}]}}",
	  DECODE_WRONG_TYPE, "spec.ports[0].port" },
	{ "port_missing", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'name':'a'}]}}",
	  DECODE_MISSING_FIELD, "spec.ports[0].port" },
	{ "node_port_too_big", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':80,'nodePort':70000}]}}",
	  DECODE_INVALID_PORT, "spec.ports[0].nodePort" },
	{ "protocol_unknown", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':80,'protocol':'VHF'}]}}",
	  DECODE_INVALID_PROTO, "spec.ports[0].protocol" },
	{ "protocol_lowercase", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'port':80,'protocol':'tcp'}]}}",
	  DECODE_INVALID_PROTO, "spec.ports[0].protocol" },
	{ "duplicate_port_name", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'name':'a','port':80},{'name':'a','port':81}]}}",
	  DECODE_DUPLICATE_PORT, "spec.ports[1]" },
	{ "duplicate_port_number", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':[{'name':'a','port':80},{'name':'b','port':80}]}}",
	  DECODE_DUPLICATE_PORT, "spec.ports[1]" },
	{ "ports_not_array", SVC, "{" M ",'spec':{'clusterIP':'10.0.0.1','ports':{}}}", DECODE_WRONG_TYPE,
	  "spec.ports" },
	{ "external_ips_not_strings", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1'," P80 ",'externalIPs':[1]}}", DECODE_WRONG_TYPE,
	  "spec.externalIPs" },
	{ "type_unknown", SVC, "{" M ",'spec':{'type':'Magic'}}", DECODE_INVALID_VALUE, "spec.type" },
	{ "affinity_timeout_zero", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1'," P80 ",'sessionAffinity':'ClientIP',"
	  "'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':0}}}}", DECODE_INVALID_VALUE,
	  "timeoutSeconds" },
	{ "allocate_lb_node_ports_not_bool", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1'," P80 ",'allocateLoadBalancerNodePorts':'yes'}}",
	  DECODE_WRONG_TYPE, "allocateLoadBalancerNodePorts" },
	{ "ingress_not_object", SVC,
	  "{" M ",'spec':{'clusterIP':'10.0.0.1'," P80 "},'status':{'loadBalancer':{'ingress':['1.2.3.4']}}}",
	  DECODE_WRONG_TYPE, "status.loadBalancer.ingress[0]" },
	{ "service_kind_is_pod", SVC, "{'kind':'Pod'," M ",'spec':{}}", DECODE_WRONG_KIND, "kind" },
	{ "slice_no_service_label", SLICE,
	  "{'metadata':{'namespace':'ns','name':'e'},'addressType':'IPv4'}", DECODE_MISSING_FIELD,
	  "kubernetes.io/service-name" },
	{ "slice_no_address_type", SLICE, "{" SM "}", DECODE_MISSING_FIELD, "addressType" },
	{ "slice_address_type_unknown", SLICE, "{" SM ",'addressType':'IPv5'}", DECODE_INVALID_VALUE,
	  "addressType" },
	{ "slice_port_too_big", SLICE, "{" SM ",'addressType':'IPv4','ports':[{'name':'a','port':65536}]}",
	  DECODE_INVALID_PORT, "ports[0].port" },
	{ "slice_duplicate_port", SLICE,
	  "{" SM ",'addressType':'IPv4','ports':[{'name':'a','port':1},{'name':'a','port':2}]}",
	  DECODE_DUPLICATE_PORT, "ports[1]" },
	{ "slice_ready_not_bool", SLICE,
	  "{" SM ",'addressType':'IPv4','endpoints':[{'addresses':['10.0.0.1'],'conditions':{'ready':1}}]}",
	  DECODE_WRONG_TYPE, "endpoints[0]" },
	{ "slice_hint_without_name", SLICE,
	  "{" SM ",'addressType':'IPv4','endpoints':[{'addresses':['10.0.0.1'],'hints':{'forZones':[{}]}}]}",
	  DECODE_MISSING_FIELD, "endpoints[0]" },
	{ "slice_addresses_not_strings", SLICE,
	  "{" SM ",'addressType':'IPv4','endpoints':[{'addresses':[{}]}]}", DECODE_WRONG_TYPE, "endpoints[0]" },
	{ "node_no_name", NODE, "{'metadata':{}}", DECODE_MISSING_FIELD, "metadata.name" },
	{ "node_addresses_not_array", NODE, "{'metadata':{'name':'n'},'status':{'addresses':{}}}",
	  DECODE_WRONG_TYPE, "status.addresses" },
	{ "node_taints_not_objects", NODE, "{'metadata':{'name':'n'},'spec':{'taints':['x']}}",
	  DECODE_WRONG_TYPE, "spec.taints" },
};

static void run_bad(const struct bad *b)
{
	cJSON *j = parse_quoted(b->json);
	struct decode_err err;
	const char *reason;
	char name[128];
	void *obj;

	snprintf(name, sizeof(name), "bad_%s", b->name);
	test_begin(name);
	if (CHECK(j, "test JSON does not parse")) {
		reason = decode_any(b->dec, j, &err, &obj);
		CHECK(reason && !strcmp(reason, b->reason), "reason %s, want %s (%s)", reason, b->reason,
		      err.msg);
		CHECK(strstr(err.msg, b->field), "message \"%s\" does not name %s", err.msg, b->field);
		free_any(b->dec, obj);
	}
	cJSON_Delete(j);
	test_end();
}

/* Arrays one past each cap are refused as too_large. */
static void test_too_large(void)
{
	cJSON *svc = parse_quoted("{" M ",'spec':{'clusterIP':'10.0.0.1'}}");
	cJSON *ips = cJSON_AddArrayToObject(cJSON_GetObjectItem(svc, "spec"), "externalIPs");
	struct decode_err err;
	void *obj;
	int i;

	test_begin("bad_external_ips_over_cap");
	for (i = 0; i <= KUBE_MAX_IPS; i++)
		cJSON_AddItemToArray(ips, cJSON_CreateString("198.51.100.1"));
	CHECK(decode_any(SVC, svc, &err, &obj) && !strcmp(err.reason, DECODE_TOO_LARGE) &&
	      strstr(err.msg, "spec.externalIPs"), "got %s", err.msg);
	free_any(SVC, obj);
	cJSON_Delete(svc);
	test_end();
}

/* Invalid list entries are skipped and counted, the object kept. */
static void test_skips(void)
{
	cJSON *j = parse_quoted("{" M ",'spec':{'clusterIP':'10.0.0.1'," P80 ","
				"'externalIPs':['198.51.100.1','nope','2001:db8:4::1%eth0'],"
				"'loadBalancerSourceRanges':['10.0.0.0/33',' 10.0.0.0/8']},"
				"'status':{'loadBalancer':{'ingress':[{'ip':'x'},{'hostname':'h'}]}}}");
	cJSON *e = parse_quoted("{" SM ",'addressType':'IPv4','endpoints':[{'addresses':['2001:db8::1']},"
				"{'addresses':[]},{'addresses':['10.0.0.1']},{'conditions':{}}]}");
	struct kube_service *svc;
	struct kube_slice *sl;
	struct decode_err err;

	test_begin("invalid_list_entries_skipped_and_counted");
	if (CHECK(!decode_service(j, &svc, &err), "%s", err.msg)) {
		CHECK(err.skipped == 4 && strstr(err.skip_msg, "spec.externalIPs[1]"), "skipped %u: %s",
		      err.skipped, err.skip_msg);
		CHECK(svc->n_external_ips == 1 && svc->n_source_ranges == 1 && svc->n_ingress == 0,
		      "kept entries");
		kube_service_free(svc);
	}
	if (CHECK(!decode_slice(e, &sl, &err), "%s", err.msg)) {
		CHECK(err.skipped == 3 && sl->n_endpoints == 1, "skipped %u, kept %u", err.skipped,
		      sl->n_endpoints);
		kube_slice_free(sl);
	}
	cJSON_Delete(j);
	cJSON_Delete(e);
	test_end();
}

/* Node and port names repeat across slices: one shared copy, which
 * outlives the first slice freed. */
static void test_shared_names(void)
{
	cJSON *j = parse_quoted("{" SM ",'addressType':'IPv4','ports':[{'name':'http','port':80}],"
				"'endpoints':[{'addresses':['10.0.0.1'],'nodeName':'n1'},"
				"{'addresses':['10.0.0.2'],'nodeName':'n1'}]}");
	struct kube_slice *a = NULL, *b = NULL;
	struct kube_endpoint ea, eb, eb1;
	struct decode_err err;

	test_begin("node_and_port_names_shared");
	if (CHECK(!decode_slice(j, &a, &err) && !decode_slice(j, &b, &err), "%s", err.msg) &&
	    CHECK(a->n_endpoints == 2 && b->n_endpoints == 2, "endpoints kept")) {
		kube_slice_endpoint(a, 0, &ea);
		kube_slice_endpoint(b, 0, &eb);
		CHECK(ea.node_name == eb.node_name && a->ports[0].name == b->ports[0].name,
		      "one copy");
		kube_slice_free(a);
		a = NULL;
		kube_slice_endpoint(b, 1, &eb1);
		CHECK(!strcmp(eb1.node_name, "n1") && !strcmp(b->ports[0].name, "http") &&
		      ip_is(&eb1.ip, "10.0.0.2") && eb1.ready && !eb1.terminating,
		      "still valid after the other slice is freed");
	}
	kube_slice_free(a);
	kube_slice_free(b);
	cJSON_Delete(j);
	test_end();
}

static struct kube_slice *slice_on_node(const char *node)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"s-%s\",\"labels\":"
		 "{\"kubernetes.io/service-name\":\"a\"}},\"addressType\":\"IPv4\","
		 "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"%s\"}]}",
		 node, node);
	return slice_from_json(buf);
}

static bool node_is(const struct kube_slice *s, const char *node)
{
	struct kube_endpoint ep;

	if (!s || s->n_endpoints != 1)
		return false;
	kube_slice_endpoint(s, 0, &ep);
	return ep.node_name && !strcmp(ep.node_name, node);
}

/* Packed endpoints name their node by the shared name's id: ids of freed
 * names are reused without confusing the names still held. */
static void test_node_ids_reused(void)
{
	struct kube_slice *s[200] = {};
	char name[32];
	int bad = 0;

	test_begin("node_name_ids_reused");
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		s[i] = slice_on_node(name);
	}
	for (int i = 0; i < 200; i += 2) {
		kube_slice_free(s[i]);
		snprintf(name, sizeof(name), "other-%d", i);
		s[i] = slice_on_node(name);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), i % 2 ? "node-%d" : "other-%d", i);
		bad += !node_is(s[i], name);
	}
	CHECK(!bad, "%d endpoints name the wrong node", bad);
	for (int i = 0; i < 200; i++)
		kube_slice_free(s[i]);
	test_end();
}

static void test_ipaddr(void)
{
	static const struct {
		const char *in;
		const char *out;	/* NULL: invalid */
	} t[] = {
		{ "172.30.0.041", "172.30.0.41" }, { "010.001.000.009", "10.1.0.9" },
		{ "0000000255.0.0.1", "255.0.0.1" }, { "1.2.3", NULL }, { "1.2.3.4.5", NULL },
		{ "256.0.0.1", NULL }, { " 1.2.3.4", NULL }, { "1.2.3.4 ", NULL }, { "", NULL },
		{ "1..2.3", NULL }, { "2001:DB8::1", "2001:db8::1" }, { "::ffff:1.2.3.4", "1.2.3.4" },
		{ "fe80::1%eth0", NULL }, { "2001:db8:::1", NULL }, { "-1.2.3.4", NULL },
	};
	static const struct {
		const char *in;
		const char *out;
	} p[] = {
		{ "10.0.0.1/8", "10.0.0.0/8" }, { "10.000.0.0/16", "10.0.0.0/16" },
		{ "2001:db8::1/32", "2001:db8::/32" }, { "0.0.0.0/0", "0.0.0.0/0" }, { "10.0.0.0/33", NULL },
		{ "10.0.0.0/", NULL }, { "10.0.0.0", NULL }, { "::/129", NULL }, { "10.0.0.0/8x", NULL },
	};
	char buf[XLB_IP_STRLEN];
	struct xlb_prefix pr;
	struct xlb_ip ip;
	size_t i;

	test_begin("ipaddr_parse_format_contains");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret = xlb_ip_parse(t[i].in, &ip);

		if (!t[i].out)
			CHECK(ret, "\"%s\" accepted", t[i].in);
		else if (CHECK(!ret, "\"%s\" rejected", t[i].in))
			CHECK(!strcmp(xlb_ip_format(&ip, buf, sizeof(buf)), t[i].out), "%s -> %s", t[i].in, buf);
	}
	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		int ret = xlb_prefix_parse(p[i].in, &pr);

		if (!p[i].out)
			CHECK(ret, "\"%s\" accepted", p[i].in);
		else if (CHECK(!ret, "\"%s\" rejected", p[i].in))
			CHECK(!strcmp(xlb_prefix_format(&pr, buf, sizeof(buf)), p[i].out), "%s -> %s",
			      p[i].in, buf);
	}
	xlb_prefix_parse("198.18.0.0/15", &pr);
	xlb_ip_parse("198.19.255.255", &ip);
	CHECK(xlb_prefix_contains(&pr, &ip), "198.18.0.0/15 holds 198.19.255.255");
	xlb_ip_parse("198.20.0.0", &ip);
	CHECK(!xlb_prefix_contains(&pr, &ip), "198.18.0.0/15 does not hold 198.20.0.0");
	xlb_ip_parse("::ffff:198.18.0.1", &ip);
	CHECK(xlb_prefix_contains(&pr, &ip), "IPv4-mapped address is IPv4");
	xlb_prefix_parse("2001:db8:1::/48", &pr);
	xlb_ip_parse("2001:db8:1:ffff::1", &ip);
	CHECK(xlb_prefix_contains(&pr, &ip), "v6 prefix");
	xlb_ip_parse("198.18.0.1", &ip);
	CHECK(!xlb_prefix_contains(&pr, &ip), "family mismatch");
	test_end();
}

static void test_rfc3339(void)
{
	int64_t ns;

	test_begin("rfc3339_trigger_time");
	CHECK(!decode_rfc3339("1970-01-01T00:00:01.25Z", &ns) && ns == 1250000000, "fraction");
	CHECK(!decode_rfc3339("1970-01-01T01:00:00+01:00", &ns) && ns == 0, "offset");
	CHECK(decode_rfc3339("1970-01-01 00:00:00Z", &ns), "space separator");
	CHECK(decode_rfc3339("2022-13-01T00:00:00Z", &ns), "month 13");
	CHECK(decode_rfc3339("2022-01-01T00:00:00", &ns), "no zone");
	test_end();
}

int main(void)
{
	size_t i;

	test_fixtures();
	run_repairs("placeholder_service_reasons_in_order", "testdata-HEAD.core.v1.Service.json", SVC,
		    service_repairs, 3);
	run_repairs("placeholder_slice_reasons_in_order", "testdata-HEAD.discovery.k8s.io.v1.EndpointSlice.json",
		    SLICE, slice_repairs, 1);
	run_repairs("fuzzed_service_reasons_in_order", "testdata-fuzzed-legacy.core.v1.Service.json", SVC,
		    fuzzed_repairs, 3);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		run_bad(&bads[i]);
	test_too_large();
	test_skips();
	test_shared_names();
	test_node_ids_reused();
	test_ipaddr();
	test_rfc3339();
	return test_exit_status();
}
