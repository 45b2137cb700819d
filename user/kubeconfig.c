// SPDX-License-Identifier: GPL-2.0
/* kubeconfig, --master and in-cluster configuration; see kubeconfig.h. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "kubeconfig.h"

#define TOKEN_MAX_BYTES (64u << 10)

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

ssize_t kube_base64_decode(const char *in, unsigned char *out, size_t outlen)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned int acc = 0, bits = 0, pad = 0;
	size_t n = 0;

	for (; *in; in++) {
		const char *pos;

		if (isspace((unsigned char)*in))
			continue;
		if (*in == '=') {
			pad++;
			continue;
		}
		pos = strchr(alphabet, *in);
		if (!pos || pad)
			return -1;
		acc = (acc << 6) | (unsigned int)(pos - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outlen)
				return -1;
			out[n++] = (acc >> bits) & 0xff;
		}
	}
	/* Leftover bits must be padding zeros, and at most two '='. */
	if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)))
		return -1;
	return n;
}

/* Reads a whole small file (bounded) with whitespace trimmed at both ends. */
static int read_trimmed(const char *path, char **out, char *err, size_t errlen)
{
	char *buf, *start, *end;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	buf = malloc(TOKEN_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		return fail(err, errlen, "%s: out of memory", path);
	}
	n = read(fd, buf, TOKEN_MAX_BYTES + 1);
	close(fd);
	if (n < 0 || n > TOKEN_MAX_BYTES) {
		free(buf);
		return fail(err, errlen, "%s: %s", path,
			    n < 0 ? strerror(errno) : "larger than 64 KiB");
	}
	buf[n] = '\0';
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	for (end = start + strlen(start); end > start && isspace((unsigned char)end[-1]); end--)
		;
	*end = '\0';
	if (!*start) {
		free(buf);
		return fail(err, errlen, "%s: empty", path);
	}
	memmove(buf, start, end - start + 1);
	*out = buf;
	return 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static int token_file_locked(struct kube_config *cfg, char *err, size_t errlen)
{
	char *fresh = NULL;
	struct stat st;

	if (stat(cfg->token_file, &st))
		return fail(err, errlen, "token file %s: %s", cfg->token_file,
			    strerror(errno));
	if (!cfg->file_token || st.st_dev != cfg->tok_dev ||
	    st.st_ino != cfg->tok_ino || st.st_size != cfg->tok_size ||
	    !same_time(&st.st_mtim, &cfg->tok_mtime) ||
	    !same_time(&st.st_ctim, &cfg->tok_ctime)) {
		if (read_trimmed(cfg->token_file, &fresh, err, errlen))
			return -1;
		free(cfg->file_token);
		cfg->file_token = fresh;
		cfg->tok_dev = st.st_dev;
		cfg->tok_ino = st.st_ino;
		cfg->tok_size = st.st_size;
		cfg->tok_mtime = st.st_mtim;
		cfg->tok_ctime = st.st_ctim;
	}
	return 0;
}

int kube_config_token(struct kube_config *cfg, char **token,
		      char *err, size_t errlen)
{
	int ret;

	*token = NULL;
	if (!cfg->token_file) {
		if (cfg->token)
			*token = strdup(cfg->token);
		return 0;
	}
	pthread_mutex_lock(&cfg->token_lock);
	ret = token_file_locked(cfg, err, errlen);
	if (cfg->file_token)
		*token = strdup(cfg->file_token);
	pthread_mutex_unlock(&cfg->token_lock);
	return ret;
}

/* ---- YAML document walking ---- */

struct ydoc {
	yaml_document_t doc;
	const char *src;	/* "kubeconfig /path" for messages */
	char *err;
	size_t errlen;
};

static yaml_node_t *ymap_get(struct ydoc *y, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(&y->doc, p->value);
	}
	return NULL;
}

static bool yaml_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return !*v || ((!strcmp(v, "null") || !strcmp(v, "~")) &&
		       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

/* *out = the string under key, or NULL when absent/null. what names the
 * enclosing object in the error ("cluster \"c\""). */
static int ystr(struct ydoc *y, yaml_node_t *map, const char *key,
		const char *what, const char **out)
{
	yaml_node_t *n = ymap_get(y, map, key);

	*out = NULL;
	if (!n)
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return fail(y->err, y->errlen, "%s: %s%s%s is not a string",
			    y->src, what, *what ? ": " : "", key);
	if (!yaml_is_null(n))
		*out = (const char *)n->data.scalar.value;
	return 0;
}

/* The inner map of the entry of list `list` whose name is `name` (e.g. the
 * "cluster" map of clusters[] with name: c). */
static int ynamed(struct ydoc *y, yaml_node_t *root, const char *list,
		  const char *name, const char *inner, yaml_node_t **out)
{
	yaml_node_t *seq = ymap_get(y, root, list);
	yaml_node_item_t *it;

	*out = NULL;
	if (seq && seq->type != YAML_SEQUENCE_NODE)
		return fail(y->err, y->errlen, "%s: %s is not a list", y->src, list);
	for (it = seq ? seq->data.sequence.items.start : NULL;
	     seq && it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(&y->doc, *it);
		const char *n;

		if (ystr(y, e, "name", list, &n))
			return -1;
		if (n && !strcmp(n, name)) {
			*out = ymap_get(y, e, inner);
			if (!*out || (*out)->type != YAML_MAPPING_NODE)
				return fail(y->err, y->errlen, "%s: %s \"%s\" has no %s map",
					    y->src, inner, name, inner);
			return 0;
		}
	}
	return 0;
}

/* ---- building the config ---- */

/* A copy of path, made relative to the kubeconfig's directory if relative. */
static char *resolve_path(const char *base_dir, const char *path)
{
	char *out;

	if (path[0] == '/' || !base_dir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", base_dir, path) < 0)
		return NULL;
	return out;
}

/* Sets *dst to the resolved path of key, checking it is readable. */
static int take_file(struct ydoc *y, yaml_node_t *map, const char *key,
		     const char *what, const char *dir, char **dst)
{
	const char *v;

	if (ystr(y, map, key, what, &v))
		return -1;
	if (!v)
		return 0;
	*dst = resolve_path(dir, v);
	if (!*dst)
		return fail(y->err, y->errlen, "%s: out of memory", y->src);
	if (access(*dst, R_OK))
		return fail(y->err, y->errlen, "%s: %s: %s %s: %s", y->src, what,
			    key, *dst, strerror(errno));
	return 0;
}

static int take_blob(struct ydoc *y, yaml_node_t *map, const char *key,
		     const char *what, struct kube_blob *dst)
{
	const char *v;
	ssize_t n;

	if (ystr(y, map, key, what, &v))
		return -1;
	if (!v)
		return 0;
	dst->data = malloc(strlen(v) / 4 * 3 + 3);
	if (!dst->data)
		return fail(y->err, y->errlen, "%s: out of memory", y->src);
	n = kube_base64_decode(v, dst->data, strlen(v) / 4 * 3 + 3);
	if (n <= 0)
		return fail(y->err, y->errlen, "%s: %s: %s is not valid base64",
			    y->src, what, key);
	dst->len = n;
	return 0;
}

static int take_str(struct ydoc *y, yaml_node_t *map, const char *key,
		    const char *what, char **dst)
{
	const char *v;

	if (ystr(y, map, key, what, &v))
		return -1;
	if (v && !(*dst = strdup(v)))
		return fail(y->err, y->errlen, "%s: out of memory", y->src);
	return 0;
}

static int take_bool(struct ydoc *y, yaml_node_t *map, const char *key,
		     const char *what, bool *dst)
{
	const char *v;

	if (ystr(y, map, key, what, &v))
		return -1;
	if (!v)
		return 0;
	if (!strcasecmp(v, "true") || !strcasecmp(v, "false")) {
		*dst = !strcasecmp(v, "true");
		return 0;
	}
	return fail(y->err, y->errlen, "%s: %s: %s: expected true or false, got \"%s\"",
		    y->src, what, key, v);
}

static int load_cluster(struct ydoc *y, struct kube_config *cfg,
			yaml_node_t *cluster, const char *what, const char *dir)
{
	if (take_str(y, cluster, "server", what, &cfg->server) ||
	    take_blob(y, cluster, "certificate-authority-data", what, &cfg->ca_data) ||
	    take_bool(y, cluster, "insecure-skip-tls-verify", what, &cfg->insecure))
		return -1;
	/* Inline data overrides the file, as in client-go. */
	if (!cfg->ca_data.data &&
	    take_file(y, cluster, "certificate-authority", what, dir, &cfg->ca_file))
		return -1;
	if (cfg->insecure && (cfg->ca_file || cfg->ca_data.data))
		return fail(y->err, y->errlen,
			    "%s: %s: a certificate authority and insecure-skip-tls-verify "
			    "are mutually exclusive", y->src, what);
	return 0;
}

static int load_user(struct ydoc *y, struct kube_config *cfg, yaml_node_t *user,
		     const char *what, const char *dir)
{
	static const char *const unsupported[] = {
		"exec", "auth-provider", "username", "password", "as",
	};

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (ymap_get(y, user, unsupported[i]))
			return fail(y->err, y->errlen, "%s: %s: %s is not supported "
				    "(use a token, tokenFile or client certificate)",
				    y->src, what, unsupported[i]);
	if (take_str(y, user, "token", what, &cfg->token) ||
	    take_file(y, user, "tokenFile", what, dir, &cfg->token_file) ||
	    take_blob(y, user, "client-certificate-data", what, &cfg->cert_data) ||
	    take_blob(y, user, "client-key-data", what, &cfg->key_data))
		return -1;
	if (!cfg->cert_data.data &&
	    take_file(y, user, "client-certificate", what, dir, &cfg->cert_file))
		return -1;
	if (!cfg->key_data.data &&
	    take_file(y, user, "client-key", what, dir, &cfg->key_file))
		return -1;
	if (!(cfg->cert_file || cfg->cert_data.data) != !(cfg->key_file || cfg->key_data.data))
		return fail(y->err, y->errlen,
			    "%s: %s: a client certificate needs a client key and vice versa",
			    y->src, what);
	return 0;
}

static int load_doc(struct ydoc *y, struct kube_config *cfg, const char *dir)
{
	yaml_node_t *root = yaml_document_get_root_node(&y->doc);
	yaml_node_t *ctx, *cluster, *user = NULL;
	const char *cur, *cname, *uname;
	char what[300];

	if (!root)
		return fail(y->err, y->errlen, "%s: empty file", y->src);
	if (root->type != YAML_MAPPING_NODE)
		return fail(y->err, y->errlen, "%s: not a kubeconfig (top level is not a map)",
			    y->src);
	if (ystr(y, root, "current-context", "", &cur))
		return -1;
	if (!cur)
		return fail(y->err, y->errlen, "%s: no current-context", y->src);
	if (ynamed(y, root, "contexts", cur, "context", &ctx))
		return -1;
	if (!ctx)
		return fail(y->err, y->errlen, "%s: context \"%s\" not found", y->src, cur);
	snprintf(what, sizeof(what), "context \"%s\"", cur);
	if (ystr(y, ctx, "cluster", what, &cname) || ystr(y, ctx, "user", what, &uname))
		return -1;
	if (!cname)
		return fail(y->err, y->errlen, "%s: context \"%s\" names no cluster", y->src, cur);
	if (ynamed(y, root, "clusters", cname, "cluster", &cluster))
		return -1;
	if (!cluster)
		return fail(y->err, y->errlen, "%s: cluster \"%s\" (of context \"%s\") not found",
			    y->src, cname, cur);
	snprintf(what, sizeof(what), "cluster \"%s\"", cname);
	if (load_cluster(y, cfg, cluster, what, dir))
		return -1;
	if (!uname)
		return 0;
	if (ynamed(y, root, "users", uname, "user", &user))
		return -1;
	if (!user)
		return fail(y->err, y->errlen, "%s: user \"%s\" (of context \"%s\") not found",
			    y->src, uname, cur);
	snprintf(what, sizeof(what), "user \"%s\"", uname);
	return load_user(y, cfg, user, what, dir);
}

static int load_kubeconfig(struct kube_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	struct ydoc y = { .src = cfg->source, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	char *dir, *slash;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f)
		return fail(err, errlen, "%s: %s", cfg->source, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return fail(err, errlen, "%s: out of memory", cfg->source);
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &y.doc)) {
		ret = fail(err, errlen, "%s: line %zu column %zu: %s", cfg->source,
			   parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			   parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		fclose(f);
		return ret;
	}
	dir = strdup(path);
	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = '\0';
	ret = load_doc(&y, cfg, slash ? dir : ".");
	free(dir);
	yaml_document_delete(&y.doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return ret;
}

static int load_in_cluster(struct kube_config *cfg, const char *sa_dir,
			   char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6 = host && strchr(host, ':');

	if (!host || !*host || !port || !*port)
		return fail(err, errlen, "%s: KUBERNETES_SERVICE_HOST and "
			    "KUBERNETES_SERVICE_PORT must be defined (or pass "
			    "--kubeconfig or --master)", cfg->source);
	if (asprintf(&cfg->server, "https://%s%s%s:%s", v6 ? "[" : "", host,
		     v6 ? "]" : "", port) < 0 ||
	    asprintf(&cfg->token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&cfg->ca_file, "%s/ca.crt", sa_dir) < 0) {
		cfg->server = cfg->token_file = cfg->ca_file = NULL;
		return fail(err, errlen, "%s: out of memory", cfg->source);
	}
	if (access(cfg->ca_file, R_OK))
		return fail(err, errlen, "%s: %s: %s", cfg->source, cfg->ca_file,
			    strerror(errno));
	return 0;
}

static int check_server(struct kube_config *cfg, char *err, size_t errlen)
{
	size_t n;

	if (!cfg->server)
		return fail(err, errlen, "%s: no server given", cfg->source);
	if (strncmp(cfg->server, "https://", 8) && strncmp(cfg->server, "http://", 7))
		return fail(err, errlen, "%s: server \"%s\" must start with https:// or http://",
			    cfg->source, cfg->server);
	n = strlen(cfg->server);
	while (n > 8 && cfg->server[n - 1] == '/')
		cfg->server[--n] = '\0';
	return 0;
}

static int set_source(struct kube_config *cfg, const char *kubeconfig,
		      const char *master)
{
	if (kubeconfig)
		return asprintf(&cfg->source, "kubeconfig %s", kubeconfig);
	if (master)
		return asprintf(&cfg->source, "--master %s", master);
	cfg->source = strdup("in-cluster config");
	return cfg->source ? 0 : -1;
}

int kube_config_load(struct kube_config *cfg, const char *kubeconfig,
		     const char *master, const char *sa_dir,
		     char *err, size_t errlen)
{
	char terr[256], *token = NULL;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&cfg->token_lock, NULL);
	if (set_source(cfg, kubeconfig, master) < 0) {
		cfg->source = NULL;
		return fail(err, errlen, "kubeconfig: out of memory");
	}
	if (kubeconfig)
		ret = load_kubeconfig(cfg, kubeconfig, err, errlen);
	else if (!master)
		ret = load_in_cluster(cfg, sa_dir ? sa_dir : KUBE_SA_DIR, err, errlen);
	else
		ret = 0;
	if (!ret && master) {
		free(cfg->server);
		cfg->server = strdup(master);
	}
	if (!ret)
		ret = check_server(cfg, err, errlen);
	/* Fail now rather than at the first request if the token is unreadable. */
	if (!ret && kube_config_token(cfg, &token, terr, sizeof(terr)))
		ret = fail(err, errlen, "%s: %s", cfg->source, terr);
	free(token);
	if (ret)
		kube_config_free(cfg);
	return ret;
}

void kube_config_free(struct kube_config *cfg)
{
	free(cfg->source);
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data.data);
	free(cfg->cert_file);
	free(cfg->cert_data.data);
	free(cfg->key_file);
	free(cfg->key_data.data);
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->file_token);
	pthread_mutex_destroy(&cfg->token_lock);
	memset(cfg, 0, sizeof(*cfg));
}
