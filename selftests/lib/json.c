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
