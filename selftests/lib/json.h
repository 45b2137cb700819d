/* JSON for tests written with ' for " (readable inside C strings). */
#ifndef XLB_TEST_JSON_H
#define XLB_TEST_JSON_H

#include <cjson/cJSON.h>

/* Parse s with every ' taken as "; NULL when it is not JSON. */
cJSON *parse_quoted(const char *s);

#endif
