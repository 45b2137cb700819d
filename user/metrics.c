// SPDX-License-Identifier: GPL-2.0
/* Prometheus text exposition registry and xlb's metric set; see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	struct series *next;
	char **values;		/* one per label name */
	double value;		/* counter, gauge, untyped */
	double sum;		/* histogram */
	uint64_t count;		/* histogram */
	uint64_t bucket[];	/* histogram: observations per bucket, not cumulative */
};

struct metric {
	struct metric *next;
	struct metrics *reg;
	enum metric_type type;
	char *name;
	char *help;
	size_t nlabels;
	char **labels;
	size_t nbuckets;
	double *buckets;
	struct series *series;
	struct series **series_tail;
};

struct collector {
	metrics_collector_fn fn;
	void *arg;
};

struct metrics {
	pthread_mutex_t lock;	/* guards every family and series */
	struct metric *head;
	struct metric **tail;
	struct collector *collectors;
	size_t ncollectors;
};

/* ---- validation ------------------------------------------------------- */

static bool name_char_ok(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (colon && c == ':')
		return true;
	return !first && c >= '0' && c <= '9';
}

static bool name_ok(const char *s, size_t len, bool colon)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(s[i], i == 0, colon))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Prometheus rejects label values and help text that are not UTF-8. */
static bool utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t extra;
		uint32_t cp;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			extra = 1, cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			extra = 2, cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			extra = 3, cp = *p & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += extra + 1;
	}
	return true;
}

static int type_name_ok(enum metric_type type, const char *name)
{
	/* promtool's lint: counters end in _total, nothing else does */
	bool total = ends_with(name, "_total");

	switch (type) {
	case METRIC_COUNTER:
		return total;
	case METRIC_GAUGE:
	case METRIC_HISTOGRAM:
		return !total;
	case METRIC_UNTYPED:
		return true;
	}
	return false;
}

/* ---- families --------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void series_free(struct metric *m, struct series *s)
{
	free_strv(s->values, m->nlabels);
	free(s);
}

static void metric_free(struct metric *m)
{
	struct series *s, *next;

	for (s = m->series; s; s = next) {
		next = s->next;
		series_free(m, s);
	}
	free_strv(m->labels, m->nlabels);
	free(m->buckets);
	free(m->name);
	free(m->help);
	free(m);
}

/* Splits "a,b" into m->labels, refusing bad, reserved or repeated names. */
static int parse_labels(struct metric *m, const char *labels)
{
	const char *p = labels;

	if (!labels || !*labels)
		return 0;
	m->labels = calloc(strlen(labels) / 2 + 1, sizeof(*m->labels));
	if (!m->labels)
		return -ENOMEM;
	while (p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (!name_ok(p, len, false) || !strncmp(p, "__", 2) ||
		    (m->type == METRIC_HISTOGRAM && len == 2 &&
		     !strncmp(p, "le", 2)))
			return -EINVAL;
		for (size_t i = 0; i < m->nlabels; i++)
			if (strlen(m->labels[i]) == len &&
			    !strncmp(m->labels[i], p, len))
				return -EINVAL;
		m->labels[m->nlabels] = strndup(p, len);
		if (!m->labels[m->nlabels])
			return -ENOMEM;
		m->nlabels++;
		p = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int copy_buckets(struct metric *m, const double *buckets, size_t n)
{
	if (m->type != METRIC_HISTOGRAM)
		return buckets || n ? -EINVAL : 0;
	if (!buckets || !n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
			return -EINVAL;
	m->buckets = malloc(n * sizeof(*buckets));
	if (!m->buckets)
		return -ENOMEM;
	memcpy(m->buckets, buckets, n * sizeof(*buckets));
	m->nbuckets = n;
	return 0;
}

static struct metric *find_locked(struct metrics *reg, const char *name)
{
	for (struct metric *m = reg->head; m; m = m->next)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

static struct series *series_new(struct metric *m, const char *const *values)
{
	struct series *s;

	s = calloc(1, sizeof(*s) + m->nbuckets * sizeof(s->bucket[0]));
	if (!s)
		return NULL;
	if (m->nlabels) {
		s->values = calloc(m->nlabels, sizeof(*s->values));
		if (!s->values)
			goto fail;
		for (size_t i = 0; i < m->nlabels; i++) {
			s->values[i] = strdup(values[i]);
			if (!s->values[i])
				goto fail;
		}
	}
	*m->series_tail = s;
	m->series_tail = &s->next;
	return s;
fail:
	series_free(m, s);
	return NULL;
}

static struct metric *metric_new(enum metric_type type, const char *name,
				 const char *help, const char *labels,
				 const double *buckets, size_t nbuckets, int *err)
{
	struct metric *m = calloc(1, sizeof(*m));

	*err = -ENOMEM;
	if (!m)
		return NULL;
	m->type = type;
	m->series_tail = &m->series;
	m->name = strdup(name);
	m->help = strdup(help);
	if (!m->name || !m->help)
		goto fail;
	*err = parse_labels(m, labels);
	if (!*err)
		*err = copy_buckets(m, buckets, nbuckets);
	/* Unlabelled families always render, as in Go's client library. */
	if (!*err && !m->nlabels && !series_new(m, NULL))
		*err = -ENOMEM;
	if (*err)
		goto fail;
	return m;
fail:
	metric_free(m);
	return NULL;
}

struct metric *metrics_register(struct metrics *reg, enum metric_type type,
				const char *name, const char *help,
				const char *labels, const double *buckets,
				size_t nbuckets)
{
	struct metric *m;
	int err;

	if (!reg || !name || !help || !name_ok(name, strlen(name), true) ||
	    !type_name_ok(type, name) || !utf8_ok(help)) {
		errno = EINVAL;
		return NULL;
	}
	m = metric_new(type, name, help, labels, buckets, nbuckets, &err);
	if (!m) {
		errno = -err;
		return NULL;
	}
	m->reg = reg;
	pthread_mutex_lock(&reg->lock);
	if (find_locked(reg, name)) {
		pthread_mutex_unlock(&reg->lock);
		metric_free(m);
		errno = EEXIST;
		return NULL;
	}
	*reg->tail = m;
	reg->tail = &m->next;
	pthread_mutex_unlock(&reg->lock);
	return m;
}

struct metric *metrics_find(struct metrics *reg, const char *name)
{
	struct metric *m;

	pthread_mutex_lock(&reg->lock);
	m = find_locked(reg, name);
	pthread_mutex_unlock(&reg->lock);
	return m;
}

/* ---- series updates --------------------------------------------------- */

static struct series *series_find(struct metric *m, const char *const *values)
{
	struct series *s;

	for (s = m->series; s; s = s->next) {
		size_t i;

		for (i = 0; i < m->nlabels; i++)
			if (strcmp(s->values[i], values[i]))
				break;
		if (i == m->nlabels)
			return s;
	}
	return NULL;
}

static int check_values(struct metric *m, const char *const *values,
			size_t nvalues)
{
	if (nvalues != m->nlabels)
		return -EINVAL;
	for (size_t i = 0; i < nvalues; i++)
		if (!values[i] || !utf8_ok(values[i]))
			return -EINVAL;
	return 0;
}

enum update_op { OP_ADD, OP_SET, OP_OBSERVE };

static void apply_locked(struct metric *m, struct series *s, enum update_op op,
			 double v)
{
	size_t i;

	switch (op) {
	case OP_ADD:
		s->value += v;
		break;
	case OP_SET:
		s->value = v;
		break;
	case OP_OBSERVE:
		for (i = 0; i < m->nbuckets && v > m->buckets[i]; i++)
			;
		if (i < m->nbuckets)
			s->bucket[i]++;
		s->sum += v;
		s->count++;
		break;
	}
}

static bool op_allowed(enum metric_type type, enum update_op op, double v)
{
	if (isnan(v) && type != METRIC_GAUGE && type != METRIC_UNTYPED)
		return false;
	switch (op) {
	case OP_ADD:
	case OP_SET:
		return type != METRIC_HISTOGRAM &&
		       (type != METRIC_COUNTER || v >= 0);
	case OP_OBSERVE:
		return type == METRIC_HISTOGRAM;
	}
	return false;
}

static int update(struct metric *m, const char *const *values, size_t nvalues,
		  enum update_op op, double v)
{
	struct series *s;
	int err;

	if (!m)
		return -EINVAL;
	err = check_values(m, values, nvalues);
	if (err)
		return err;
	if (!op_allowed(m->type, op, v))
		return -EINVAL;
	pthread_mutex_lock(&m->reg->lock);
	s = series_find(m, values);
	if (!s)
		s = series_new(m, values);
	if (s)
		apply_locked(m, s, op, v);
	pthread_mutex_unlock(&m->reg->lock);
	return s ? 0 : -ENOMEM;
}

int metric_add(struct metric *m, const char *const *values, size_t nvalues,
	       double v)
{
	return update(m, values, nvalues, OP_ADD, v);
}

int metric_set(struct metric *m, const char *const *values, size_t nvalues,
	       double v)
{
	return update(m, values, nvalues, OP_SET, v);
}

int metric_observe(struct metric *m, const char *const *values,
		   size_t nvalues, double v)
{
	return update(m, values, nvalues, OP_OBSERVE, v);
}

void metric_clear(struct metric *m)
{
	struct series *s, *next;

	pthread_mutex_lock(&m->reg->lock);
	if (!m->nlabels) {
		s = m->series;
		memset(s->bucket, 0, m->nbuckets * sizeof(s->bucket[0]));
		s->value = s->sum = 0;
		s->count = 0;
	} else {
		for (s = m->series; s; s = next) {
			next = s->next;
			series_free(m, s);
		}
		m->series = NULL;
		m->series_tail = &m->series;
	}
	pthread_mutex_unlock(&m->reg->lock);
}

double metric_value(struct metric *m, const char *const *values,
		    size_t nvalues)
{
	struct series *s;
	double v = NAN;

	if (!m || check_values(m, values, nvalues))
		return NAN;
	pthread_mutex_lock(&m->reg->lock);
	s = series_find(m, values);
	if (s)
		v = m->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
	pthread_mutex_unlock(&m->reg->lock);
	return v;
}

/* ---- registry --------------------------------------------------------- */

struct metrics *metrics_new(void)
{
	struct metrics *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	pthread_mutex_init(&reg->lock, NULL);
	reg->tail = &reg->head;
	return reg;
}

void metrics_free(struct metrics *reg)
{
	struct metric *m, *next;

	if (!reg)
		return;
	for (m = reg->head; m; m = next) {
		next = m->next;
		metric_free(m);
	}
	free(reg->collectors);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

int metrics_add_collector(struct metrics *reg, metrics_collector_fn fn,
			  void *arg)
{
	struct collector *c;
	int err = 0;

	if (!reg || !fn)
		return -EINVAL;
	pthread_mutex_lock(&reg->lock);
	c = realloc(reg->collectors, (reg->ncollectors + 1) * sizeof(*c));
	if (c) {
		c[reg->ncollectors++] = (struct collector){ fn, arg };
		reg->collectors = c;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&reg->lock);
	return err;
}

size_t metrics_exponential_buckets(double *out, double start, double factor,
				   size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = start * pow(factor, (double)i);
	return n;
}

/* ---- rendering -------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_grow(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom || b->len + need + 1 <= b->cap)
		return;
	while (cap < b->len + need + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_grow(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Escapes backslash and newline, plus the double quote in label values. */
static void buf_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_printf(b, "\\\\");
		else if (*s == '\n')
			buf_printf(b, "\\n");
		else if (quote && *s == '"')
			buf_printf(b, "\\\"");
		else
			buf_printf(b, "%c", *s);
	}
}

/* Shortest of %.15g / %.17g that reads back exactly. */
static void fmt_double(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
	} else if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, n, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, n, "%.17g", v);
	}
}

static void buf_labels(struct buf *b, const struct metric *m,
		       const struct series *s, const char *le)
{
	if (!m->nlabels && !le)
		return;
	buf_printf(b, "{");
	for (size_t i = 0; i < m->nlabels; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		buf_escaped(b, s->values[i], true);
		buf_printf(b, "\"");
	}
	if (le)
		buf_printf(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
	buf_printf(b, "}");
}

static void render_histogram(struct buf *b, const struct metric *m,
			     const struct series *s)
{
	uint64_t cumulative = 0;
	char num[32];

	for (size_t i = 0; i < m->nbuckets; i++) {
		cumulative += s->bucket[i];
		fmt_double(num, sizeof(num), m->buckets[i]);
		buf_printf(b, "%s_bucket", m->name);
		buf_labels(b, m, s, num);
		buf_printf(b, " %llu\n", (unsigned long long)cumulative);
	}
	buf_printf(b, "%s_bucket", m->name);
	buf_labels(b, m, s, "+Inf");
	buf_printf(b, " %llu\n", (unsigned long long)s->count);
	fmt_double(num, sizeof(num), s->sum);
	buf_printf(b, "%s_sum", m->name);
	buf_labels(b, m, s, NULL);
	buf_printf(b, " %s\n%s_count", num, m->name);
	buf_labels(b, m, s, NULL);
	buf_printf(b, " %llu\n", (unsigned long long)s->count);
}

static const char *type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	case METRIC_UNTYPED:
		break;
	}
	return "untyped";
}

static void render_family(struct buf *b, const struct metric *m)
{
	char num[32];

	/* As Go's client: a labelled family with no series is left out. */
	if (!m->series)
		return;
	buf_printf(b, "# HELP %s ", m->name);
	buf_escaped(b, m->help, false);
	buf_printf(b, "\n# TYPE %s %s\n", m->name, type_name(m->type));
	for (const struct series *s = m->series; s; s = s->next) {
		if (m->type == METRIC_HISTOGRAM) {
			render_histogram(b, m, s);
			continue;
		}
		fmt_double(num, sizeof(num), s->value);
		buf_printf(b, "%s", m->name);
		buf_labels(b, m, s, NULL);
		buf_printf(b, " %s\n", num);
	}
}

static void run_collectors(struct metrics *reg)
{
	struct collector *copy = NULL;
	size_t n;

	/* A copy, so collectors run unlocked and may update metrics. */
	pthread_mutex_lock(&reg->lock);
	n = reg->ncollectors;
	if (n)
		copy = malloc(n * sizeof(*copy));
	if (copy)
		memcpy(copy, reg->collectors, n * sizeof(*copy));
	pthread_mutex_unlock(&reg->lock);
	for (size_t i = 0; copy && i < n; i++)
		copy[i].fn(reg, copy[i].arg);
	free(copy);
}

char *metrics_render(struct metrics *reg, size_t *len)
{
	struct buf b = { 0 };

	run_collectors(reg);
	pthread_mutex_lock(&reg->lock);
	buf_grow(&b, 0);
	for (const struct metric *m = reg->head; m && !b.oom; m = m->next)
		render_family(&b, m);
	pthread_mutex_unlock(&reg->lock);
	if (b.oom) {
		free(b.p);
		errno = ENOMEM;
		return NULL;
	}
	b.p[b.len] = '\0';
	if (len)
		*len = b.len;
	return b.p;
}

/* ---- xlb's metric set ------------------------------------------------- */

const char *ip_family_name(unsigned family_bit)
{
	return family_bit == IPF_V6 ? "IPv6" : "IPv4";
}

/* kube-proxy's sync buckets: 1ms doubling 15 times (up to ~16s). */
static size_t sync_buckets(double *out)
{
	return metrics_exponential_buckets(out, 0.001, 2, 15);
}

/* kube-proxy's: 0, 0.25s, 0.5s, 1..59s, 60..115s by 5s, 2..5min by 30s. */
static size_t netprog_buckets(double *out)
{
	size_t n = 0;

	out[n++] = 0;
	for (int i = 1; i <= 2; i++)
		out[n++] = 0.25 * i;
	for (int i = 1; i <= 59; i++)
		out[n++] = i;
	for (int i = 0; i < 12; i++)
		out[n++] = 60 + 5 * i;
	for (int i = 0; i < 7; i++)
		out[n++] = 120 + 30 * i;
	return n;
}

struct family_decl {
	size_t offset;	/* of the struct metric pointer in xlb_metrics */
	enum metric_type type;
	const char *name;
	const char *labels;
	const char *help;
	size_t (*buckets)(double *out);	/* histograms: fills <= 128 bounds */
};

#define XM(field) offsetof(struct xlb_metrics, field)

static const struct family_decl xlb_families[] = {
	{ XM(sync_duration), METRIC_HISTOGRAM,
	  "kubeproxy_sync_proxy_rules_duration_seconds", "ip_family",
	  "SyncProxyRules latency in seconds", sync_buckets },
	{ XM(sync_last), METRIC_GAUGE,
	  "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "ip_family",
	  "The last time proxy rules were successfully synced", NULL },
	{ XM(sync_last_queued), METRIC_GAUGE,
	  "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
	  "ip_family", "The last time a sync of proxy rules was queued", NULL },
	{ XM(netprog_duration), METRIC_HISTOGRAM,
	  "kubeproxy_network_programming_duration_seconds", "ip_family",
	  "In Cluster Network Programming Latency in seconds", netprog_buckets },
	{ XM(endpoint_changes_pending), METRIC_GAUGE,
	  "kubeproxy_sync_proxy_rules_endpoint_changes_pending", NULL,
	  "Pending proxy rules Endpoint changes", NULL },
	{ XM(endpoint_changes_total), METRIC_COUNTER,
	  "kubeproxy_sync_proxy_rules_endpoint_changes_total", NULL,
	  "Cumulative proxy rules Endpoint changes", NULL },
	{ XM(service_changes_pending), METRIC_GAUGE,
	  "kubeproxy_sync_proxy_rules_service_changes_pending", NULL,
	  "Pending proxy rules Service changes", NULL },
	{ XM(service_changes_total), METRIC_COUNTER,
	  "kubeproxy_sync_proxy_rules_service_changes_total", NULL,
	  "Cumulative proxy rules Service changes", NULL },
	/* A gauge in kube-proxy despite its name; typed "gauge" it fails
	 * promtool's lint, so it is exposed untyped (same name and labels). */
	{ XM(no_local_endpoints), METRIC_UNTYPED,
	  "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	  "ip_family,traffic_policy",
	  "Number of services with a Local traffic policy and no endpoints", NULL },
	{ XM(healthz_total), METRIC_COUNTER, "kubeproxy_proxy_healthz_total",
	  "code", "Cumulative proxy healthz HTTP status", NULL },
	{ XM(livez_total), METRIC_COUNTER, "kubeproxy_proxy_livez_total",
	  "code", "Cumulative proxy livez HTTP status", NULL },
	{ XM(external_ips_skipped), METRIC_GAUGE, "xlb_external_ips_skipped",
	  NULL,
	  "Service externalIPs not programmed because the AllowServiceExternalIPs gate is off", NULL },
	{ XM(external_ip_services_skipped), METRIC_GAUGE,
	  "xlb_external_ip_services_skipped", NULL,
	  "Services with externalIPs not programmed because the AllowServiceExternalIPs gate is off", NULL },
	{ XM(objects_rejected), METRIC_COUNTER, "xlb_objects_rejected_total",
	  "kind,reason", "API objects rejected as invalid, by kind and reason", NULL },
	{ XM(drops), METRIC_COUNTER, "xlb_drops_total", "reason",
	  "Packets the data path dropped, by reason", NULL },
	{ XM(skips), METRIC_COUNTER, "xlb_skips_total", "reason",
	  "Packets the data path deliberately left alone, by reason", NULL },
	{ XM(packets), METRIC_COUNTER, "xlb_packets_total", "hook,verdict",
	  "Packets seen by the data path, by hook and verdict", NULL },
	{ XM(map_entries), METRIC_GAUGE, "xlb_map_entries", "map",
	  "Entries in use in a pinned BPF map", NULL },
	{ XM(map_max_entries), METRIC_GAUGE, "xlb_map_max_entries", "map",
	  "Capacity of a pinned BPF map", NULL },
};

static struct metric *declare(struct metrics *reg, const struct family_decl *d)
{
	double buckets[128];
	size_t n = d->buckets ? d->buckets(buckets) : 0;

	return metrics_register(reg, d->type, d->name, d->help, d->labels,
				n ? buckets : NULL, n);
}

struct xlb_metrics *xlb_metrics_new(void)
{
	struct xlb_metrics *xm = calloc(1, sizeof(*xm));
	size_t i;

	if (!xm)
		return NULL;
	xm->reg = metrics_new();
	if (!xm->reg)
		goto fail;
	for (i = 0; i < sizeof(xlb_families) / sizeof(xlb_families[0]); i++) {
		const struct family_decl *d = &xlb_families[i];
		struct metric **slot = (struct metric **)((char *)xm + d->offset);

		*slot = declare(xm->reg, d);
		if (!*slot)
			goto fail;
	}
	return xm;
fail:
	xlb_metrics_free(xm);
	return NULL;
}

void xlb_metrics_free(struct xlb_metrics *xm)
{
	if (!xm)
		return;
	metrics_free(xm->reg);
	free(xm);
}

/* Iterates over the IPF_* bits set in families. */
#define for_each_family(bit, families)                                       \
	for (unsigned bit = IPF_V4; bit <= IPF_V6; bit <<= 1)                 \
		if ((families) & bit)

void xlb_metrics_sync_done(struct xlb_metrics *xm, unsigned families,
			   double duration_s, double now)
{
	for_each_family(bit, families) {
		metric_observe(xm->sync_duration,
			       METRIC_LV(ip_family_name(bit)), duration_s);
		metric_set(xm->sync_last, METRIC_LV(ip_family_name(bit)), now);
	}
}

void xlb_metrics_sync_queued(struct xlb_metrics *xm, unsigned families,
			     double now)
{
	for_each_family(bit, families)
		metric_set(xm->sync_last_queued,
			   METRIC_LV(ip_family_name(bit)), now);
}

void xlb_metrics_network_programming(struct xlb_metrics *xm,
				     unsigned families, double latency_s)
{
	if (!(latency_s >= 0))
		return;
	for_each_family(bit, families)
		metric_observe(xm->netprog_duration,
			       METRIC_LV(ip_family_name(bit)), latency_s);
}

void xlb_metrics_changes(struct xlb_metrics *xm, enum change_kind kind,
			 unsigned n, unsigned pending)
{
	bool svc = kind == CHANGE_SERVICE;

	metric_add(svc ? xm->service_changes_total : xm->endpoint_changes_total,
		   METRIC_LV(), n);
	metric_set(svc ? xm->service_changes_pending :
			 xm->endpoint_changes_pending,
		   METRIC_LV(), pending);
}

void xlb_metrics_no_local_endpoints(struct xlb_metrics *xm,
				    unsigned family_bit,
				    enum traffic_policy policy,
				    unsigned services)
{
	metric_set(xm->no_local_endpoints,
		   METRIC_LV(ip_family_name(family_bit),
			     policy == POLICY_INTERNAL ? "internal" : "external"),
		   services);
}

void xlb_metrics_external_ips_skipped(struct xlb_metrics *xm, unsigned ips,
				      unsigned services)
{
	metric_set(xm->external_ips_skipped, METRIC_LV(), ips);
	metric_set(xm->external_ip_services_skipped, METRIC_LV(), services);
}

void xlb_metrics_object_rejected(struct xlb_metrics *xm, const char *kind,
				 const char *reason)
{
	metric_add(xm->objects_rejected, METRIC_LV(kind, reason), 1);
}

void xlb_metrics_health_answer(struct xlb_metrics *xm, bool livez, int code)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", code);
	metric_add(livez ? xm->livez_total : xm->healthz_total, METRIC_LV(num),
		   1);
}
