// SPDX-License-Identifier: GPL-2.0
/* kubeconfig / --master / in-cluster resolution, with temp files. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "test.h"

static char tmpdir[] = "/tmp/xlb-kubeconfig-XXXXXX";
static char path_buf[512];

static const char *tpath(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", tmpdir, name);
	return path_buf;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(tpath(name), "w");

	if (!f) {
		perror(name);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

/* A kubeconfig with one context "ctx" -> cluster "c", user "u", with the given
 * cluster and user bodies (already indented by 4). */
static const char *kubeconfig(const char *cluster, const char *user)
{
	static char text[4096];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
		 "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"
		 "- name: ctx\n  context:\n    cluster: c\n    user: u\n"
		 "clusters:\n- name: c\n  cluster:\n%s"
		 "users:\n- name: u\n  user:\n%s", cluster, user);
	write_file("config", text);
	return tpath("config");
}

static int load(struct kube_config *cfg, const char *kc, const char *master,
		const char *sa, char *err)
{
	err[0] = '\0';
	return kube_config_load(cfg, kc, master, sa, err, 256);
}

static void test_token_and_ca_file(void)
{
	struct kube_config cfg;
	char err[256], *tok = NULL, want[512];
	const char *kc;

	test_begin("kubeconfig_token_and_relative_ca_file");
	write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
	kc = kubeconfig("    server: https://192.0.2.1:6443/\n    certificate-authority: ca.pem\n",
			"    token: abc.def\n");
	if (CHECK(!load(&cfg, kc, NULL, NULL, err), "load: %s", err)) {
		snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
		CHECK(!strcmp(cfg.server, "https://192.0.2.1:6443"), "server %s", cfg.server);
		CHECK(cfg.ca_file && !strcmp(cfg.ca_file, want), "ca %s", cfg.ca_file);
		CHECK(!cfg.insecure, "insecure by default");
		CHECK(!kube_config_token(&cfg, &tok, err, sizeof(err)) && tok &&
		      !strcmp(tok, "abc.def"), "token %s", tok);
		CHECK(!cfg.cert_file && !cfg.cert_data.data, "no client cert");
		free(tok);
		kube_config_free(&cfg);
	}
	test_end();
}

static void test_inline_data(void)
{
	struct kube_config cfg;
	char err[256];
	const char *kc;

	test_begin("kubeconfig_inline_base64_data");
	/* "CA PEM\n", "CERT\n", "KEY\n" in base64, the CA one wrapped. */
	kc = kubeconfig("    server: https://192.0.2.1\n"
			"    certificate-authority-data: Q0Eg\n      UEVNCg==\n"
			"    certificate-authority: /nonexistent/ignored-when-data\n",
			"    client-certificate-data: Q0VSVAo=\n"
			"    client-key-data: S0VZCg==\n");
	if (CHECK(!load(&cfg, kc, NULL, NULL, err), "load: %s", err)) {
		CHECK(cfg.ca_data.len == 7 && !memcmp(cfg.ca_data.data, "CA PEM\n", 7),
		      "ca data len %zu", cfg.ca_data.len);
		CHECK(!cfg.ca_file, "file ignored when data is given");
		CHECK(cfg.cert_data.len == 5 && !memcmp(cfg.cert_data.data, "CERT\n", 5),
		      "cert data");
		CHECK(cfg.key_data.len == 4 && !memcmp(cfg.key_data.data, "KEY\n", 4),
		      "key data");
		kube_config_free(&cfg);
	}
	kc = kubeconfig("    server: https://192.0.2.1\n"
			"    certificate-authority-data: 'not*base64'\n", "    token: t\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) &&
	      strstr(err, "cluster \"c\": certificate-authority-data is not valid base64"),
	      "bad base64: %s", err);
	kc = kubeconfig("    server: https://192.0.2.1\n",
			"    client-certificate-data: Q0VSVAo=\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "client key"),
	      "cert without key: %s", err);
	test_end();
}

static void test_base64(void)
{
	unsigned char out[16];

	test_begin("kubeconfig_base64_decode");
	CHECK(kube_base64_decode("aGVsbG8=", out, sizeof(out)) == 5 &&
	      !memcmp(out, "hello", 5), "hello");
	CHECK(kube_base64_decode("aGVs\nbG8h", out, sizeof(out)) == 6, "no padding, newline");
	CHECK(kube_base64_decode("aGVsbG8", out, sizeof(out)) == 5, "missing padding");
	CHECK(kube_base64_decode("a", out, sizeof(out)) == -1, "one char");
	CHECK(kube_base64_decode("aG=VsbG8", out, sizeof(out)) == -1, "data after pad");
	CHECK(kube_base64_decode("aGVsbG8=", out, 3) == -1, "output bound");
	test_end();
}

static void test_missing(void)
{
	struct kube_config cfg;
	char err[256], want[600];
	const char *kc;

	test_begin("kubeconfig_missing_context_cluster_user");
	write_file("config", "current-context: nope\ncontexts: []\n");
	snprintf(want, sizeof(want), "kubeconfig %s: context \"nope\" not found", tpath("config"));
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) && !strcmp(err, want),
	      "got \"%s\"", err);
	write_file("config", "current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\n");
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) &&
	      strstr(err, "cluster \"gone\" (of context \"x\") not found"), "cluster: %s", err);
	write_file("config", "current-context: x\ncontexts:\n- name: x\n"
		   "  context: {cluster: c, user: who}\n"
		   "clusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1'}\n");
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) &&
	      strstr(err, "user \"who\" (of context \"x\") not found"), "user: %s", err);
	write_file("config", "apiVersion: v1\n");
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) && strstr(err, "no current-context"),
	      "no current: %s", err);
	CHECK(load(&cfg, tpath("absent"), NULL, NULL, err) && strstr(err, "No such file"),
	      "absent file: %s", err);
	write_file("config", "current-context: [unclosed\n");
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) && strstr(err, "line "),
	      "yaml error: %s", err);
	write_file("config", "");
	CHECK(load(&cfg, tpath("config"), NULL, NULL, err) && strstr(err, "empty"),
	      "empty: %s", err);
	kc = kubeconfig("    certificate-authority-data: Q0Eg\n", "    token: t\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "no server"), "no server: %s", err);
	kc = kubeconfig("    server: ftp://192.0.2.1\n", "    token: t\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "must start with https://"),
	      "bad scheme: %s", err);
	kc = kubeconfig("    server: https://192.0.2.1\n", "    exec: {command: x}\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "user \"u\": exec is not supported"),
	      "exec: %s", err);
	kc = kubeconfig("    server: https://192.0.2.1\n", "    client-certificate: nofile.pem\n"
			"    client-key: nofile.key\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "client-certificate") &&
	      strstr(err, "nofile.pem: No such file"), "missing cert file: %s", err);
	test_end();
}

static void test_insecure(void)
{
	struct kube_config cfg;
	char err[256];
	const char *kc;

	test_begin("kubeconfig_insecure_only_when_file_says_so");
	kc = kubeconfig("    server: https://192.0.2.1\n    insecure-skip-tls-verify: true\n",
			"    token: t\n");
	if (CHECK(!load(&cfg, kc, NULL, NULL, err), "load: %s", err)) {
		CHECK(cfg.insecure, "insecure not set");
		kube_config_free(&cfg);
	}
	kc = kubeconfig("    server: https://192.0.2.1\n    insecure-skip-tls-verify: false\n",
			"    token: t\n");
	if (CHECK(!load(&cfg, kc, NULL, NULL, err), "load: %s", err)) {
		CHECK(!cfg.insecure, "insecure set by false");
		kube_config_free(&cfg);
	}
	kc = kubeconfig("    server: https://192.0.2.1\n    insecure-skip-tls-verify: maybe\n",
			"    token: t\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "expected true or false"),
	      "bad bool: %s", err);
	kc = kubeconfig("    server: https://192.0.2.1\n    insecure-skip-tls-verify: true\n"
			"    certificate-authority-data: Q0Eg\n", "    token: t\n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "mutually exclusive"),
	      "insecure with CA: %s", err);
	test_end();
}

static void test_master(void)
{
	struct kube_config cfg;
	char err[256], *tok = NULL;
	const char *kc;

	test_begin("kubeconfig_master_override_and_alone");
	kc = kubeconfig("    server: https://192.0.2.1\n", "    token: t\n");
	if (CHECK(!load(&cfg, kc, "https://192.0.2.9:443", NULL, err), "load: %s", err)) {
		CHECK(!strcmp(cfg.server, "https://192.0.2.9:443"), "server %s", cfg.server);
		CHECK(!kube_config_token(&cfg, &tok, err, sizeof(err)) && tok && !strcmp(tok, "t"),
		      "token kept");
		free(tok);
		kube_config_free(&cfg);
	}
	/* --master alone works with no SA directory and no env. */
	unsetenv("KUBERNETES_SERVICE_HOST");
	if (CHECK(!load(&cfg, NULL, "http://127.0.0.1:8080", "/nonexistent", err),
		  "master alone: %s", err)) {
		CHECK(!strcmp(cfg.server, "http://127.0.0.1:8080"), "server %s", cfg.server);
		CHECK(!kube_config_token(&cfg, &tok, err, sizeof(err)) && !tok, "no token");
		CHECK(!cfg.insecure && !cfg.ca_file, "no TLS shortcuts");
		kube_config_free(&cfg);
	}
	test_end();
}

static void set_mtime(const char *path, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	utimensat(AT_FDCWD, path, ts, 0);
}

static int token_is(struct kube_config *cfg, const char *want)
{
	char err[256], *tok = NULL;
	int ok;

	ok = !kube_config_token(cfg, &tok, err, sizeof(err)) && tok && !strcmp(tok, want);
	if (!ok)
		fprintf(stderr, "  token \"%s\", want \"%s\" (%s)\n", tok, want, err);
	free(tok);
	return ok;
}

static void test_token_file_rotation(void)
{
	struct kube_config cfg;
	char err[256], tmp[512], *tok = NULL;
	const char *kc;

	test_begin("kubeconfig_token_file_rotation");
	write_file("token", "first-token\n");
	kc = kubeconfig("    server: https://192.0.2.1\n",
			"    token: static-loses\n    tokenFile: token\n");
	if (!CHECK(!load(&cfg, kc, NULL, NULL, err), "load: %s", err))
		goto out;
	CHECK(token_is(&cfg, "first-token"), "first");
	/* kubelet style: a new file renamed over the old one. */
	write_file("token.new", "second-token");
	snprintf(tmp, sizeof(tmp), "%s", tpath("token.new"));
	rename(tmp, tpath("token"));
	CHECK(token_is(&cfg, "second-token"), "after rename");
	/* In place, same size, only the mtime differs. */
	write_file("token", "third--token");
	set_mtime(tpath("token"), 1000000);
	CHECK(token_is(&cfg, "third--token"), "after in-place rewrite");
	/* Unreadable now: error, but the last good token is still offered. */
	unlink(tpath("token"));
	CHECK(kube_config_token(&cfg, &tok, err, sizeof(err)) == -1 && tok &&
	      !strcmp(tok, "third--token") && strstr(err, "token"), "after unlink: %s", err);
	free(tok);
	kube_config_free(&cfg);
	write_file("token", "   \n");
	CHECK(load(&cfg, kc, NULL, NULL, err) && strstr(err, "empty"), "empty token: %s", err);
out:
	test_end();
}

static void test_in_cluster(void)
{
	struct kube_config cfg;
	char err[256], sa[512], want[600];

	test_begin("kubeconfig_in_cluster");
	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	mkdir(sa, 0700);
	write_file("sa/token", "sa-token-1\n");
	write_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n");
	setenv("KUBERNETES_SERVICE_HOST", "198.19.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (CHECK(!load(&cfg, NULL, NULL, sa, err), "load: %s", err)) {
		snprintf(want, sizeof(want), "%s/ca.crt", sa);
		CHECK(!strcmp(cfg.server, "https://198.19.0.1:443"), "server %s", cfg.server);
		CHECK(!strcmp(cfg.ca_file, want), "ca %s", cfg.ca_file);
		CHECK(!cfg.insecure, "in-cluster is never insecure");
		CHECK(token_is(&cfg, "sa-token-1"), "token");
		write_file("sa/token.tmp", "sa-token-2-rotated\n");
		snprintf(want, sizeof(want), "%s/token.tmp", sa);
		rename(want, tpath("sa/token"));
		CHECK(token_is(&cfg, "sa-token-2-rotated"), "rotated token");
		kube_config_free(&cfg);
	}
	setenv("KUBERNETES_SERVICE_HOST", "2001:db8:2::1", 1);
	if (CHECK(!load(&cfg, NULL, NULL, sa, err), "load v6: %s", err)) {
		CHECK(!strcmp(cfg.server, "https://[2001:db8:2::1]:443"), "server %s", cfg.server);
		kube_config_free(&cfg);
	}
	unlink(tpath("sa/ca.crt"));
	CHECK(load(&cfg, NULL, NULL, sa, err) && strstr(err, "in-cluster config: ") &&
	      strstr(err, "ca.crt: No such file"), "no ca: %s", err);
	unsetenv("KUBERNETES_SERVICE_PORT");
	CHECK(load(&cfg, NULL, NULL, sa, err) && strstr(err, "KUBERNETES_SERVICE_HOST and "
	      "KUBERNETES_SERVICE_PORT must be defined"), "no env: %s", err);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unlink(tpath("sa/token"));
	rmdir(sa);
	test_end();
}

int main(void)
{
	const char *names[] = { "config", "ca.pem", "token", "token.new" };

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_token_and_ca_file();
	test_inline_data();
	test_base64();
	test_missing();
	test_insecure();
	test_master();
	test_token_file_rotation();
	test_in_cluster();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tpath(names[i]));
	rmdir(tmpdir);
	return test_exit_status();
}
