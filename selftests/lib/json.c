#include <stdlib.h>
#include <string.h>

#include "json.h"

cJSON *parse_quoted(const char *s)
{
	char *d = strdup(s), *p;
	cJSON *j;

	if (!d)
		return NULL;
	for (p = d; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	j = cJSON_Parse(d);
	free(d);
	return j;
}

struct kube_service *service_from_json(const char *s)
{
	struct kube_service *svc = NULL;
	struct decode_err err;
	cJSON *j = parse_quoted(s);

	if (j)
		decode_service(j, &svc, &err);
	cJSON_Delete(j);
	return svc;
}

struct kube_slice *slice_from_json(const char *s)
{
	struct kube_slice *slice = NULL;
	struct decode_err err;
	cJSON *j = parse_quoted(s);

	if (j)
		decode_slice(j, &slice, &err);
	cJSON_Delete(j);
	return slice;
}
